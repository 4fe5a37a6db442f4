"""Shared fixtures. Anything synthetic is generated here and named as such."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


#: session fixtures that train the service champions on the shipped data (tests/service/conftest.py)
CHAMPION_FIXTURES = frozenset({"trained", "hbm_trained", "wsts_loaded"})
#: test files that share those champions' training, or train the same targets (the coherence run): under
#: ``make test`` (``pytest -n 2 --dist loadscope``) they run on one worker, so each target is evaluated once
#: per run (``_one_evaluation_per_target`` is per process). Any other file runs whole on one worker.
SHARED_TRAINING = ("tests/service/", "tests/forecasting/test_hbm.py", "tests/forecasting/test_coherence.py")


def shares_training(nodeid: str) -> bool:
    return nodeid.split("::", 1)[0].startswith(SHARED_TRAINING)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keep ``SHARED_TRAINING`` true: a test elsewhere that asks for a champion would train it again."""
    stray = [i.nodeid for i in items
             if CHAMPION_FIXTURES.intersection(getattr(i, "fixturenames", ())) and not shares_training(i.nodeid)]
    if stray:
        raise pytest.UsageError(f"add their files to SHARED_TRAINING in tests/conftest.py: {stray[:3]}")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadscope`` with the shared-training files as one scope (xdist's ``loadgroup`` cannot do this
    under pytest 9.2: the group suffix it writes into node ids is lost, pytest-xdist issue #1386)."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedTraining(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return "shared training" if shares_training(nodeid) else nodeid.split("::", 1)[0]

    return SharedTraining(config, log)


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


@pytest.fixture(scope="session", autouse=True)
def _one_evaluation_per_target() -> Iterator[dict[tuple[Any, ...], Any]]:
    """Evaluate each target once per session on the same data, however many fixtures train it.

    A dozen fixtures train overlapping groups on the shipped data (the coherence run, the dashboard's WSTS,
    the service's champions, the small fault-test run...). Each evaluation is deterministic in its inputs,
    so a repeat only costs minutes of suite time: the key holds everything the evaluation reads (the panel's
    exact rows, the target config, the origin date and the extra origins; it reads no setting or clock).
    Every ``train`` call still assembles, reconciles and serializes its own run. Runs on an engine (Dask,
    Spark) always evaluate; a test that patches ``evaluate_target`` wraps this function, so what it injects
    still happens on every call. Direct ``evaluate_target`` calls (engine parity, the bench) bypass it.
    """
    import forecasting.train as train_module

    real = train_module.evaluate_target
    seen: dict[tuple[Any, ...], Any] = {}

    def once(panel: pl.DataFrame, cfg: Any, when: Any, **kw: Any) -> Any:
        if kw.get("engine") is not None:
            return real(panel, cfg, when, **kw)
        rows = panel.hash_rows(seed=0).to_numpy().tobytes()
        key = (hashlib.sha256(rows).hexdigest(), tuple(panel.columns), cfg, when,
               tuple(kw.get("extra_origins", ())))
        if key not in seen:
            seen[key] = real(panel, cfg, when, **kw)
        return seen[key]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train_module, "evaluate_target", once)
        yield seen


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
