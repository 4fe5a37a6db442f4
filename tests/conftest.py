"""Shared fixtures. Anything synthetic is generated here and named as such."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import polars as pl
import pytest

from pipelines.config import PROJECT_ROOT, get_data_settings
from pipelines.panel import load_panel

REAL_DATA_DIR = PROJECT_ROOT / "data"


def digest_tree(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (lock files excluded: taking a lock is not a change)."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


@pytest.fixture(autouse=True)
def _isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own state dir, so nothing reads or writes the developer's .state/."""
    monkeypatch.setenv("CHIPCAST_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CHIPCAST_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("CHIPCAST_MLFLOW_TRACKING_URI", raising=False)
    get_data_settings.cache_clear()
    from forecasting.tracking import get_tracking_settings

    get_tracking_settings.cache_clear()


@pytest.fixture(scope="session")
def real_panel() -> pl.DataFrame:
    """The full panel built from the shipped real snapshot."""
    return load_panel(data_dir=REAL_DATA_DIR)


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of the real snapshot, for tests that corrupt a raw file."""
    dst = tmp_path / "data"
    shutil.copytree(REAL_DATA_DIR, dst)
    return dst
