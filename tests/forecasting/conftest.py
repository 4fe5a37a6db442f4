"""Forecasting fixtures: real trained targets (once per session) and a clearly synthetic panel."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from forecasting.train import TrainResult, train
from tests.conftest import REAL_DATA_DIR

#: one quarterly and one annual target: quick to evaluate at every origin
SMALL = ["capex_meta", "wsts_memory_sales_annual"]


@pytest.fixture(scope="session")
def small_train() -> TrainResult:
    return train(SMALL, data_dir=REAL_DATA_DIR)


def synthetic_panel(series_id: str, n: int, *, seed: int = 7, start: date = date(2005, 1, 1),
                    lag_days: int = 35, explode_after: int | None = None) -> pl.DataFrame:
    """A seeded synthetic quarterly panel under a real catalog id (tests only; never real data)."""
    rng = np.random.default_rng(seed)
    growth = 0.02 + 0.05 * rng.standard_normal(n)
    if explode_after is not None:
        growth[explode_after:] = 0.9
    y = 1000 * np.exp(np.cumsum(growth))
    ds = [date(start.year + (start.month - 1 + 3 * i) // 12, (start.month - 1 + 3 * i) % 12 + 1, 1) for i in range(n)]
    period_end = [date(d.year + (d.month + 2) // 12, (d.month + 2) % 12 + 1, 1) - timedelta(days=1) for d in ds]
    return pl.DataFrame({
        "unique_id": [series_id] * n, "ds": ds, "y": y, "period_end": period_end,
        "published": [p + timedelta(days=lag_days) for p in period_end],
    })
