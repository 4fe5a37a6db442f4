"""Engines: the Dask engine (statsforecast's fugue backend) gives the local engine's results on the real data.

statsforecast's fugue backend declares model columns float32, so Dask forecasts equal the local ones to
float32 precision (relative error <= 2**-24 ~ 6e-8 on the working scale), hence ``rel_tol=1e-6``.
Combination weights and the served paths derive from those forecasts, so they agree to the same precision.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import date

import dask
import distributed  # noqa: F401 - registers its config defaults before a test overrides one with dask.config.set
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from statsforecast import StatsForecast
from statsforecast.models import AutoETS, Naive, SeasonalNaive
from typer.testing import CliRunner

from forecasting.data import training_series
from forecasting.engine import (
    DaskEngine,
    EngineError,
    LocalEngine,
    bulk_forecast,
    make_engine,
    pandas_freq,
)
from forecasting.evaluation import Evaluation, evaluate_target
from forecasting.targets import TARGETS
from pipelines.panel import load_panel
from service.cli import app
from tests.conftest import REAL_DATA_DIR

#: one target per frequency: annual, quarterly, monthly
PARITY_TARGETS = ["wsts_memory_sales_annual", "capex_meta", "fred_pcu33443344"]
WHEN = date(2026, 12, 1)


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
    df = training_series(real_panel, cfg).df
    models = [Naive(), AutoETS()]
    out = bulk_forecast(LocalEngine(), df, models, cfg.spec.interval, h=2, level=(95, 80))
    direct = StatsForecast(models=models, freq=cfg.spec.interval).forecast(df=df, h=2, level=[80, 95])
    assert out.columns[:4] == ["unique_id", "ds", "Naive", "Naive-lo-80"]
    assert out.columns[4:7] == ["Naive-hi-80", "Naive-lo-95", "Naive-hi-95"]
    assert_frame_equal(out, direct.select(out.columns))


# ---------------------------------------------------------------- Dask LocalCluster (worker processes)


@pytest.fixture(scope="module")
def dask_engine() -> Iterator[DaskEngine]:
    """The default engine `chipcast train --engine dask` builds: 2 worker processes x 1 thread."""
    with DaskEngine() as engine:
        yield engine


@pytest.fixture(scope="module")
def vintage_panel() -> pl.DataFrame:
    return load_panel(data_dir=REAL_DATA_DIR, vintages=True)


@pytest.fixture(scope="module")
def local_evals(vintage_panel: pl.DataFrame) -> dict[str, Evaluation]:
    return {sid: evaluate_target(vintage_panel, TARGETS[sid], WHEN) for sid in PARITY_TARGETS}


@pytest.mark.slow
@pytest.mark.parametrize("series_id", PARITY_TARGETS)
def test_dask_evaluation_matches_local(series_id: str, dask_engine: DaskEngine, local_evals: dict[str, Evaluation],
                                       vintage_panel: pl.DataFrame) -> None:
    local = local_evals[series_id]
    remote = evaluate_target(vintage_panel, TARGETS[series_id], WHEN, engine=dask_engine)
    assert remote.specs == local.specs
    assert_frame_equal(remote.origins, local.origins)
    keys = ["origin_id", "model", "h"]
    a, b = local.forecasts.sort(keys), remote.forecasts.sort(keys)
    assert_frame_equal(a.drop("yhat"), b.drop("yhat"))
    assert_frame_equal(a.select("yhat"), b.select("yhat"), rel_tol=1e-6, abs_tol=1e-9)
    assert_frame_equal(local.weights.sort("origin_id", "model"), remote.weights.sort("origin_id", "model"),
                       rel_tol=1e-4)
    pl_point, pl_paths, n_l, _ = local.sample_paths(local.serving_id)
    pr_point, pr_paths, n_r, _ = remote.sample_paths(remote.serving_id)
    assert n_l == n_r
    np.testing.assert_allclose(pr_point, pl_point, rtol=1e-5)
    np.testing.assert_allclose(np.median(pr_paths, axis=0), np.median(pl_paths, axis=0), rtol=1e-4)


@pytest.mark.slow
def test_bulk_forecast_matches_local(dask_engine: DaskEngine, real_panel: pl.DataFrame) -> None:
    """Many quarterly series sharing one config: the case the cluster is for."""
    ids = [s for s in TARGETS if s.startswith("capex_")]
    df = pl.concat([training_series(real_panel, TARGETS[s]).df for s in ids])
    models = [AutoETS(season_length=4), SeasonalNaive(season_length=4), Naive()]
    local = bulk_forecast(LocalEngine(), df, models, "1q", h=4, level=(80, 95))
    dask = bulk_forecast(dask_engine, df, models, "1q", h=4, level=(80, 95))
    assert local["unique_id"].unique().sort().to_list() == sorted(ids)
    assert dask.schema == local.schema
    assert_frame_equal(dask, local, rel_tol=1e-6, abs_tol=0)


@pytest.mark.slow
def test_cli_train_on_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHIPCAST_DASK_ADDRESS", raising=False)
    args = ["train", "--series", "wsts_memory_sales_annual", "--engine", "dask"]
    r = CliRunner().invoke(app, args)  # starts and stops its own LocalCluster
    assert r.exit_code == 0, r.output
    assert "challenger" in r.output and "Combination" in r.output



@pytest.mark.slow
def test_engine_connects_to_a_running_scheduler(dask_engine: DaskEngine, real_panel: pl.DataFrame) -> None:
    df = training_series(real_panel, TARGETS["capex_meta"]).df
    models = [Naive()]
    with DaskEngine(dask_engine.client.scheduler.address) as remote:
        assert remote.total_threads == 2
        out = bulk_forecast(remote, df, models, "1q", h=2)
    assert_frame_equal(out, bulk_forecast(LocalEngine(), df, models, "1q", h=2), rel_tol=1e-6, abs_tol=0)


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
