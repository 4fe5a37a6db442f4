"""Engines: the Dask engine (statsforecast's fugue backend) gives the local engine's results on the real data.

statsforecast's fugue backend declares model columns float32, so Dask CV values equal the local ones to
float32 precision (relative error <= 2**-24 ~ 6e-8), hence ``rel_tol=1e-6`` on CV frames. Leaderboard
metrics are means of errors; bias and MAE of a good model are small differences of large numbers, which
amplifies that noise, hence ``rel_tol=1e-5`` plus an absolute tolerance of 1e-6 of the series' level.
Champions, ensemble members and the final forecasts (fitted locally from the champion) must be identical.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import date

import dask
import distributed  # noqa: F401 - registers its config defaults before a test overrides one with dask.config.set
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from statsforecast import StatsForecast
from statsforecast.models import AutoETS, Naive, SeasonalNaive
from typer.testing import CliRunner

from forecasting.backtest import BacktestResult
from forecasting.data import prepare_target
from forecasting.engine import (
    DaskEngine,
    EngineError,
    LocalEngine,
    bulk_forecast,
    make_engine,
    pandas_freq,
    stat_cross_validation,
)
from forecasting.forecaster import SeriesModel, forecast_series
from forecasting.models import TARGETS
from service.cli import app

#: one target per frequency: annual, quarterly, monthly
PARITY_TARGETS = ["wsts_memory_sales_annual", "capex_meta", "fred_pcu33443344"]
EXACT = ["model", "horizon", "windows", "champion", "uses_drivers"]
IN_UNITS = ["mae", "rmse", "bias"]


def test_unknown_engine_names_the_available_ones() -> None:
    with pytest.raises(EngineError, match="available engines: local, dask"):
        make_engine("spark")
    assert isinstance(make_engine("local"), LocalEngine)
    assert isinstance(make_engine("dask", address="tcp://10.0.0.5:8786"), DaskEngine)


def test_cli_rejects_an_unknown_engine() -> None:
    r = CliRunner().invoke(app, ["train", "--series", "wsts_memory_sales_annual", "--engine", "spark"])
    assert r.exit_code == 2, r.output
    assert "engine 'spark' is not available" in r.output and "local, dask" in r.output


def test_dask_engine_refuses_misuse_before_touching_a_cluster() -> None:
    with pytest.raises(EngineError, match="not started"):
        _ = DaskEngine().client
    with pytest.raises(EngineError, match="tcp://host:8786"):
        DaskEngine("10.0.0.5:8786")
    with pytest.raises(EngineError, match="n_jobs"):
        LocalEngine(n_jobs=0)


@pytest.mark.parametrize(
    ("interval", "first", "expected"),
    [("1mo", date(2020, 3, 1), "MS"), ("3mo", date(2020, 1, 1), "QS-JAN"), ("3mo", date(2020, 2, 1), "QS-FEB"),
     ("1y", date(2020, 1, 1), "YS-JAN"), ("1y", date(2020, 7, 1), "YS-JUL")],
)
def test_pandas_freq_is_anchored_on_the_data(interval: str, first: date, expected: str) -> None:
    ds = pl.date_range(first, date(2030, 12, 1), interval, eager=True)
    assert pandas_freq(interval, ds) == expected


def test_pandas_freq_refuses_what_it_cannot_map() -> None:
    with pytest.raises(EngineError, match="period-start"):
        pandas_freq("1mo", pl.Series([date(2020, 1, 15)]))
    with pytest.raises(EngineError, match="same months"):
        pandas_freq("3mo", pl.Series([date(2020, 1, 1), date(2020, 2, 1)]))
    with pytest.raises(EngineError, match="supported"):
        pandas_freq("1w", pl.Series([date(2020, 1, 1)]))


def test_local_engine_is_plain_statsforecast(real_panel: pl.DataFrame) -> None:
    """The local path only reorders columns (point, then lo/hi per level) of statsforecast's own output."""
    cfg = TARGETS["wsts_total_sales_annual"]
    df = prepare_target(real_panel, cfg).df
    models = [Naive(), AutoETS()]
    out = stat_cross_validation(LocalEngine(), models, cfg.spec.interval, df, h=2, n_windows=3, step_size=1,
                                level=(95, 80))
    direct = StatsForecast(models=models, freq=cfg.spec.interval).cross_validation(
        df=df, h=2, n_windows=3, step_size=1, level=[80, 95])
    assert out.columns[:6] == ["unique_id", "ds", "cutoff", "y", "Naive", "Naive-lo-80"]
    assert out.columns[6:9] == ["Naive-hi-80", "Naive-lo-95", "Naive-hi-95"]
    assert_frame_equal(out, direct.select(out.columns))


# ---------------------------------------------------------------- Dask LocalCluster (worker processes)


@pytest.fixture(scope="module")
def dask_engine() -> Iterator[DaskEngine]:
    """The default engine `chipcast train --engine dask` builds: 2 worker processes x 1 thread."""
    with DaskEngine() as engine:
        yield engine


@pytest.fixture(scope="module")
def local_fits(real_panel: pl.DataFrame) -> dict[str, tuple[SeriesModel, BacktestResult]]:
    from forecasting.train import fit_series

    return {sid: fit_series(real_panel, sid) for sid in PARITY_TARGETS}


def _assert_same_leaderboard(a: pl.DataFrame, b: pl.DataFrame, level: float) -> None:
    a, b = a.sort("horizon", "model"), b.sort("horizon", "model")
    assert_frame_equal(a.select(EXACT), b.select(EXACT))
    rest = [c for c in a.columns if c not in EXACT and c not in IN_UNITS]
    assert_frame_equal(a.select(rest), b.select(rest), rel_tol=1e-5, abs_tol=1e-9)
    assert_frame_equal(a.select(IN_UNITS), b.select(IN_UNITS), rel_tol=1e-5, abs_tol=1e-6 * level)


@pytest.mark.slow
@pytest.mark.parametrize("series_id", PARITY_TARGETS)
def test_dask_backtest_and_forecast_match_local(
    series_id: str, dask_engine: DaskEngine, local_fits: dict[str, tuple[SeriesModel, BacktestResult]],
    real_panel: pl.DataFrame,
) -> None:
    from forecasting.train import fit_series

    sm_local, bt_local = local_fits[series_id]
    sm_dask, bt_dask = fit_series(real_panel, series_id, dask_engine)

    assert (sm_dask.champion, bt_dask.ensemble_members) == (sm_local.champion, bt_local.ensemble_members)
    assert bt_dask.cv.schema == bt_local.cv.schema  # same columns, dtypes and order
    assert_frame_equal(bt_dask.cv, bt_local.cv, rel_tol=1e-6, abs_tol=0)
    level = float(sm_local.training.df["y"].abs().mean())  # type: ignore[arg-type]
    _assert_same_leaderboard(bt_dask.leaderboard, bt_local.leaderboard, level)
    h = sm_local.cfg.max_h
    assert_frame_equal(forecast_series(sm_dask, h), forecast_series(sm_local, h))  # exact


@pytest.mark.slow
def test_bulk_forecast_matches_local(dask_engine: DaskEngine, real_panel: pl.DataFrame) -> None:
    """Many quarterly series sharing one config: the case the cluster is for."""
    ids = [s for s in TARGETS if s.startswith("capex_")]
    df = pl.concat([prepare_target(real_panel, TARGETS[s]).df for s in ids])
    models = [AutoETS(season_length=4), SeasonalNaive(season_length=4), Naive()]
    local = bulk_forecast(LocalEngine(), df, models, "3mo", h=4, level=(80, 95))
    dask = bulk_forecast(dask_engine, df, models, "3mo", h=4, level=(80, 95))
    assert local["unique_id"].unique().sort().to_list() == sorted(ids)
    assert dask.schema == local.schema
    assert_frame_equal(dask, local, rel_tol=1e-6, abs_tol=0)


@pytest.mark.slow
def test_cli_train_on_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHIPCAST_DASK_ADDRESS", raising=False)
    args = ["train", "--series", "wsts_memory_sales_annual", "--engine", "dask"]
    r = CliRunner().invoke(app, args)  # starts and stops its own LocalCluster
    assert r.exit_code == 0, r.output
    assert "challenger" in r.output and "AutoTheta" in r.output



@pytest.mark.slow
def test_engine_connects_to_a_running_scheduler(dask_engine: DaskEngine, real_panel: pl.DataFrame) -> None:
    df = prepare_target(real_panel, TARGETS["capex_meta"]).df
    models = [Naive()]
    with DaskEngine(dask_engine.client.scheduler.address) as remote:
        assert remote.total_threads == 2
        out = bulk_forecast(remote, df, models, "3mo", h=2)
    assert_frame_equal(out, bulk_forecast(LocalEngine(), df, models, "3mo", h=2), rel_tol=1e-6, abs_tol=0)


@pytest.mark.parametrize("via_env", [False, True])
def test_cli_reports_an_unreachable_scheduler(via_env: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    args = ["train", "--engine", "dask"]
    if via_env:
        monkeypatch.setenv("CHIPCAST_DASK_ADDRESS", address)
    else:
        args += ["--dask-address", address]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        r = CliRunner().invoke(app, args)
    assert r.exit_code == 2, r.output
    assert f"cannot reach the Dask scheduler at {address}" in r.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
