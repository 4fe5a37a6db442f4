"""Forecasts, intervals, outlooks and the save -> load round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from forecasting.forecaster import Forecaster, ForecastRequestError, simulate_paths
from forecasting.train import TrainResult, train
from tests.conftest import REAL_DATA_DIR


@pytest.fixture(scope="module")
def small_train() -> TrainResult:
    """Real data, two quick targets (quarterly capex, annual memory sales)."""
    return train(["capex_meta", "wsts_memory_sales_annual"], data_dir=REAL_DATA_DIR)


def test_forecast_columns_and_interval_order(small_train: TrainResult) -> None:
    fc = small_train.forecaster
    sm = fc.models["capex_meta"]
    f = fc.forecast("capex_meta", 8, (80, 95))
    c = sm.champion
    assert f.columns[:3] == ["unique_id", "ds", c]
    assert f.height == 8
    assert (f[f"{c}-lo-95"] <= f[f"{c}-lo-80"]).all() and (f[f"{c}-lo-80"] <= f[c]).all()
    assert (f[c] <= f[f"{c}-hi-80"]).all() and (f[f"{c}-hi-80"] <= f[f"{c}-hi-95"]).all()
    last = small_train.panel.filter(pl.col("unique_id") == "capex_meta")["ds"].max()
    assert f["ds"].min() > last  # type: ignore[operator]


@pytest.mark.parametrize(("h", "levels", "msg"), [(0, (80,), "between 1 and 12"), (13, (80,), "between 1 and 12"),
                                                   (4, (100,), "between 50 and 99")])
def test_out_of_range_requests_are_refused(small_train: TrainResult, h: int, levels: tuple[int, ...],
                                           msg: str) -> None:
    with pytest.raises(ForecastRequestError, match=msg):
        small_train.forecaster.forecast("capex_meta", h, levels)


def test_outlook_combines_published_and_forecast_periods(small_train: TrainResult) -> None:
    fc = small_train.forecaster
    out = fc.outlook("capex_meta")
    # capex_meta ends 2026Q1: 2026 = 1 published quarter + 3 forecast; 2027 fully forecast
    row = out.filter(pl.col("year") == 2026).row(0, named=True)
    assert (row["published_periods"], row["forecast_periods"]) == (1, 3)
    assert row["lo-95"] <= row["lo-80"] <= row["value"] <= row["hi-80"] <= row["hi-95"]
    published_2025 = small_train.panel.filter(
        (pl.col("unique_id") == "capex_meta") & (pl.col("ds").dt.year() == 2025)
    )["y"].sum()
    assert row["prior_year_value"] == pytest.approx(published_2025)
    assert row["growth_pct"] == pytest.approx(100 * (row["value"] / published_2025 - 1))


def test_outlook_intervals_come_from_paths_not_summed_bounds(small_train: TrainResult) -> None:
    fc = small_train.forecaster
    sm = fc.models["capex_meta"]
    f = fc.forecast("capex_meta", 8)
    out = fc.outlook("capex_meta").filter(pl.col("year") == 2027).row(0, named=True)
    year = f.filter(pl.col("ds").dt.year() == 2027)
    summed_width = (year[f"{sm.champion}-hi-95"] - year[f"{sm.champion}-lo-95"]).sum()
    assert out["hi-95"] - out["lo-95"] < summed_width  # adding bounds overstates the spread
    paths = simulate_paths(sm, 8, n=500)
    assert paths.shape == (500, 8)
    assert np.isfinite(paths).all()


def test_save_load_round_trip_predicts_identically(small_train: TrainResult, tmp_path: Path) -> None:
    fc = small_train.forecaster
    fc.precompute()
    fc.save(tmp_path / "fc")
    loaded = Forecaster.load(tmp_path / "fc")
    for sid in fc.models:
        for h in (1, 2, fc.default_horizon(sid)):
            assert_frame_equal(fc.forecast(sid, h), loaded.forecast(sid, h))
        assert_frame_equal(fc.outlook(sid), loaded.outlook(sid))
    # the default forecast was restored from disk, not refit
    assert (("capex_meta", 8, (80, 95))) in loaded._cache


def test_unknown_and_unforecast_series(small_train: TrainResult) -> None:
    from pipelines.catalog import UnknownSeriesError

    with pytest.raises(UnknownSeriesError):
        small_train.forecaster.forecast("nope", 4)
    with pytest.raises(ForecastRequestError, match="not forecast"):
        small_train.forecaster.forecast("wsts_japan_sales", 4)
