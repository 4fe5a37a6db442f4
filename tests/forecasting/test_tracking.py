"""MLflow: log, register, promote by alias, load back; runs follow MLflow's conventions; a real server."""

from __future__ import annotations

import json
import os
import time
from datetime import date
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from forecasting.result import to_dict
from forecasting.tracking import (
    TrackingSettings,
    get_tracking_settings,
    list_models,
    load_model,
    load_pyfunc,
    log_training,
    promote,
)
from forecasting.tracking.flavor import predict_requests
from forecasting.train import TrainResult, panel_hash
from forecasting.zoo import COMBINATION
from pipelines.catalog import CATALOG
from pipelines.panel import as_of
from service.cli import app
from tests.service.e2e_helpers import mlflow_server


def _settings(tmp_path: Path, uri: str | None = None) -> TrackingSettings:
    return TrackingSettings(state_dir=tmp_path / "state", models_dir=tmp_path / "models", mlflow_tracking_uri=uri)


def _same_results(a: TrainResult, b_fc: object) -> None:
    for sid in a.forecaster.models:
        for h in (1, 2, None):
            assert to_dict(a.forecaster.result(sid, h)) == to_dict(b_fc.result(sid, h))  # type: ignore[attr-defined]


def test_train_register_promote_and_load_back_identically(small_train: TrainResult, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    run = log_training(small_train, settings)
    assert run.version == "1" and run.carried == {} and run.trained == sorted(small_train.forecaster.models)
    assert (tmp_path / "state" / "mlflow.db").exists()
    assert any((tmp_path / "models").iterdir())  # artifacts in the local model store
    res = promote(settings=settings)
    assert res.promoted and res.challenger == "1" and res.reason == "no champion yet"
    versions = list_models(settings)
    assert versions[0]["aliases"] == ["challenger", "champion"]
    assert versions[0]["as_of"] == small_train.when.isoformat()
    assert any(k.endswith(".h4.mase") for k in versions[0]["metrics"])

    t0 = time.perf_counter()
    loaded = load_model("champion", settings)
    assert time.perf_counter() - t0 < 5  # parquet + JSON, nothing fitted
    assert loaded.version == "1" and loaded.source == "registry"
    _same_results(small_train, loaded.forecaster)

    pyfunc = load_pyfunc("champion", settings)
    req = pd.DataFrame({"unique_id": ["capex_meta"], "h": [3], "level": ["80,95"]})
    out = pyfunc.predict(req)
    assert out.to_dict("records") == predict_requests(small_train.forecaster, req).to_dict("records")
    with pytest.raises(Exception, match="unique_id"):
        pyfunc.predict(pd.DataFrame({"series": ["capex_meta"]}))


def test_loading_never_fits(small_train: TrainResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(tmp_path)
    log_training(small_train, settings)
    promote(settings=settings)
    from statsforecast import StatsForecast

    def refuse(*a: object, **k: object) -> None:
        raise AssertionError("a model was fitted while loading")

    for name in ("fit", "forecast", "predict", "cross_validation"):
        monkeypatch.setattr(StatsForecast, name, refuse)
    _same_results(small_train, load_model("champion", settings).forecaster)
    assert len(load_pyfunc("champion", settings).predict(pd.DataFrame({"unique_id": ["capex_meta"]}))) == 8


def test_train_run_follows_mlflow_conventions(small_train: TrainResult, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    run = log_training(small_train, settings)
    client = MlflowClient(settings.tracking_uri)
    parent = client.get_run(run.run_id)
    assert parent.info.run_name == f"train {small_train.when.isoformat()} 2 series"
    # the panel actually used, as an mlflow.data input whose digest is its data hash
    assert parent.inputs is not None
    (inp,) = parent.inputs.dataset_inputs
    known = as_of(small_train.panel, small_train.when)
    assert inp.dataset.digest == panel_hash(known) == small_train.forecaster.meta.data_hash
    assert parent.data.params["data_hash"] == inp.dataset.digest
    assert [t.value for t in inp.tags if t.key == "mlflow.data.context"] == ["training"]
    # one nested child run per target, with every model's scores (not only the served one)
    children = client.search_runs([run.experiment_id], f"tags.mlflow.parentRunId = '{run.run_id}'")
    assert sorted(c.info.run_name for c in children) == sorted(small_train.evaluations)
    for child in children:
        sid = child.info.run_name
        board = small_train.forecaster.models[sid].leaderboard
        assert child.data.tags["chipcast.kind"] == "target" and child.data.params["series_id"] == sid
        if sid == "wsts_memory_sales_annual":
            assert board.height == 0  # too few annual origins for a leaderboard: nothing to log
            continue
        models = set(board["model"].to_list())
        assert {"Naive", "SeasonalNaive", "AutoETS", COMBINATION} <= models
        for m in models:
            for h in board.filter(pl.col("model") == m)["horizon"].to_list():
                assert f"{m}.h{h}.mase" in child.data.metrics
    # version tags and description
    mv = client.get_model_version(settings.registered_model, run.version)
    assert mv.tags["targets"] == "capex_meta,wsts_memory_sales_annual"
    assert mv.tags["data_hash"] == inp.dataset.digest and mv.tags["as_of"] == small_train.when.isoformat()
    assert mv.tags["method.capex_meta"] == COMBINATION
    assert mv.tags["provenance.capex_meta"].startswith(f"v1 run {run.run_id}")
    assert "AutoTheta" in (mv.description or "") and inp.dataset.digest in (mv.description or "")


def test_second_identical_training_is_promoted_as_equal_and_champion_moves(
    small_train: TrainResult, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    log_training(small_train, settings)
    promote(settings=settings)
    log_training(small_train, settings)
    res = promote(settings=settings, panel=small_train.panel)
    assert res.promoted and res.champion_before == "1" and res.challenger == "2"
    assert res.mase_ratio == pytest.approx(1.0)  # the same method on the same data
    assert load_model("champion", settings).version == "2"


@pytest.mark.slow
def test_cli_train_promote_and_backtest_are_logged(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["train", "--series", "nvidia_revenue"])  # in no coherent group: trained alone
    assert r.exit_code == 0, r.output
    assert "challenger" in r.output
    r = CliRunner().invoke(app, ["promote"])
    assert r.exit_code == 0, r.output
    assert "promoted" in r.output
    r = CliRunner().invoke(app, ["train", "--series", "nope"])
    assert r.exit_code == 2 and "unknown series 'nope'" in r.output
    r = CliRunner().invoke(app, ["backtest", "nvidia_revenue"])
    assert r.exit_code == 0, r.output
    s = get_tracking_settings()
    client = MlflowClient(s.tracking_uri)
    exp = client.get_experiment_by_name(s.experiment)
    assert exp is not None
    names = {x.info.run_name for x in client.search_runs([exp.experiment_id])}
    today = date.today().isoformat()
    assert {f"train {today} 1 series", f"backtest {today} 1 series", "promote v1 over v-: promoted"} <= names


@pytest.mark.slow
def test_real_mlflow_server_on_loopback(small_train: TrainResult, tmp_path: Path) -> None:
    with mlflow_server(tmp_path) as uri:
        settings = _settings(tmp_path, uri)
        run = log_training(small_train, settings)
        assert promote(settings=settings).promoted
        loaded = load_model("champion", settings)
        assert loaded.version == run.version and loaded.source == "registry"
        _same_results(small_train, loaded.forecaster)
        # artifacts went through the server, not to the local store
        assert any((tmp_path / "server-artifacts").rglob("manifest.json"))
        assert not (tmp_path / "models").exists()


@pytest.mark.slow
def test_forecast_as_of_uses_only_data_published_by_then_and_is_logged(
    tmp_path: Path, data_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`chipcast forecast ... --as-of 2019-11-30`: same output when everything published later is scrambled."""
    args = ["forecast", "capex_meta", "--horizon", "6", "--as-of", "2019-11-30", "--format", "json"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    first = json.loads(r.stdout[r.stdout.index("{"):])
    assert first["data"]["last_published"] <= "2019-11-30" and first["data"]["as_of"] == "2019-11-30"
    assert first["data"]["last_observation"] == "2019-07-01"
    assert len(first["points"]) == 6 and first["points"][0]["ds"] == "2019-10-01"

    # scramble every capex_meta figure after 2019Q3 in a copy of the snapshot, then run again on it
    for rel in CATALOG["capex_meta"].files:
        p = data_copy / rel
        df = pl.read_csv(p, infer_schema=False)
        df.with_columns(pl.when(pl.col("date") > "2019-07-01").then(pl.lit("12345.0")).otherwise(pl.col("value"))
                        .alias("value")).write_csv(p)
    monkeypatch.setenv("CHIPCAST_DATA_DIR", str(data_copy))
    from pipelines.config import get_data_settings

    get_data_settings.cache_clear()
    get_tracking_settings.cache_clear()
    r2 = CliRunner().invoke(app, args)
    assert r2.exit_code == 0, r2.output
    second = json.loads(r2.stdout[r2.stdout.index("{"):])
    assert second["points"] == first["points"] and second["outlook"] == first["outlook"]
    s = get_tracking_settings()
    client = MlflowClient(s.tracking_uri)
    exp = client.get_experiment_by_name(s.experiment)
    assert exp is not None
    runs = client.search_runs([exp.experiment_id], "attributes.run_name = 'forecast capex_meta as of 2019-11-30'")
    assert len(runs) == 2 and runs[0].data.params["horizon"] == "6"


def test_importing_tracking_changes_no_environment_variable() -> None:
    """Settings, flavor and registry import without touching os.environ (MLflow's client defaults are applied
    only when a client is created)."""
    import subprocess
    import sys

    # the libraries set their own variables when imported (mlflow's telemetry id, OpenMP, jemalloc): import them
    # first, then check that chipcast's modules add nothing on top
    code = ("import os, json, mlflow, mlflow.pyfunc, polars, statsforecast, pandas, sklearn; "
            "before = dict(os.environ); "
            "import forecasting.tracking, forecasting.tracking.flavor, "
            "forecasting.tracking.registry, forecasting.tracking.settings; "
            "print(json.dumps(sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k))))")
    # a minimal environment, so nothing this process already set can hide a change
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_thread_reading_another_store_never_redirects_a_registration(
        small_train: TrainResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server's housekeeping or reload thread reads its store while a run is logged into another one (tests,
    a retrain pointed elsewhere): mlflow's fluent calls read one process-wide URI, which reading must not move.
    The thread runs in the middle of the run, between two fluent calls, and must also finish while it is open."""
    import threading

    from forecasting.tracking import registry

    other, target = _settings(tmp_path / "other"), _settings(tmp_path / "target")
    log_training(small_train, other)
    promote(settings=other)
    real = registry._log_panel
    seen: dict[str, object] = {}

    def read_other_midway(result: TrainResult, settings: TrackingSettings) -> str:
        def read() -> None:
            registry.recover(other)
            seen["version"] = load_model("champion", other).version
            seen["listed"] = len(list_models(other))

        t = threading.Thread(target=read)
        t.start()
        t.join(timeout=60)
        seen["finished"] = not t.is_alive()
        return real(result, settings)

    monkeypatch.setattr(registry, "_log_panel", read_other_midway)
    env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    run = log_training(small_train, target)
    # nor do the URIs mlflow exports leak into the environment that settings and child processes read
    assert {k: os.environ.get(k) for k in env} == env
    assert seen == {"version": "1", "listed": 1, "finished": True}
    assert run.version == "1"
    client = MlflowClient(target.tracking_uri, registry_uri=target.tracking_uri)
    assert client.get_run(run.run_id).data.params["data_hash"]  # the params went to this store's run
    assert len(list_models(other)) == 1 and len(list_models(target)) == 1
