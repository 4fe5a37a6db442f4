"""Fixtures of the pipelines tests (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

import polars as pl
import pytest

from pipelines.panel import load_panel
from tests.conftest import REAL_DATA_DIR


@pytest.fixture(scope="session")
def real_vintages() -> pl.DataFrame:
    """The vintage frame (one row per print) of the shipped real snapshot, with flags and ranges."""
    return load_panel(data_dir=REAL_DATA_DIR, vintages=True, detail=True)
