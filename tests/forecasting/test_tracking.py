"""MLflow: log, register, promote by alias, load back; embedded store and a real tracking server."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from forecasting.serving import LoadedModel
from forecasting.tracking import (
    TrackingSettings,
    compare_on_same_windows,
    list_models,
    load_model,
    load_pyfunc,
    log_training,
    promote,
)
from forecasting.train import TrainResult, train
from service.cli import app
from tests.conftest import REAL_DATA_DIR
from tests.service.e2e_helpers import mlflow_server

TARGETS_SMALL = ["capex_meta", "wsts_memory_sales_annual"]


@pytest.fixture(scope="module")
def trained() -> TrainResult:
    return train(TARGETS_SMALL, data_dir=REAL_DATA_DIR)


def _settings(tmp_path: Path, uri: str | None = None) -> TrackingSettings:
    return TrackingSettings(state_dir=tmp_path / "state", models_dir=tmp_path / "models", mlflow_tracking_uri=uri)


def test_train_register_promote_and_load_back_identically(trained: TrainResult, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    run = log_training(trained, settings)
    assert run.version == "1"
    assert (tmp_path / "state" / "mlflow.db").exists()
    assert any((tmp_path / "models").iterdir())  # artifacts in the local model store
    res = promote(settings=settings)
    assert res.promoted and res.challenger == "1"
    versions = list_models(settings)
    assert versions[0]["aliases"] == ["challenger", "champion"]
    assert any(k.endswith(".h4.mase") for k in versions[0]["metrics"])

    loaded = load_model("champion", settings)
    assert loaded.version == "1" and loaded.source == "registry"
    assert set(loaded.leaderboards) == set(TARGETS_SMALL)
    for sid in TARGETS_SMALL:
        for h in (1, 2):
            assert_frame_equal(trained.forecaster.forecast(sid, h), loaded.forecaster.forecast(sid, h))

    pyfunc = load_pyfunc("champion", settings)
    out = pyfunc.predict(pd.DataFrame({"unique_id": ["capex_meta"], "h": [3], "level": ["80,95"]}))
    mem = trained.forecaster.forecast("capex_meta", 3)
    champ = trained.forecaster.models["capex_meta"].champion
    assert out["forecast"].tolist() == mem[champ].to_list()
    assert out["forecast-lo-95"].tolist() == mem[f"{champ}-lo-95"].to_list()
    with pytest.raises(Exception, match="missing inputs"):
        pyfunc.predict(pd.DataFrame({"series": ["capex_meta"]}))


def test_second_identical_training_is_promoted_as_equal_and_champion_moves(
    trained: TrainResult, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    log_training(trained, settings)
    promote(settings=settings)
    log_training(trained, settings)
    res = promote(settings=settings)
    assert res.promoted and res.champion_before == "1" and res.challenger == "2"
    assert res.challenger_mase == pytest.approx(res.champion_mase)  # same windows, same choices
    assert load_model("champion", settings).version == "2"


def test_worse_challenger_is_not_promoted_unless_forced(trained: TrainResult) -> None:
    """Same windows: the old champion's choice is scored on the challenger's leaderboard."""
    fc = trained.forecaster
    boards = {sid: bt.leaderboard for sid, bt in trained.backtests.items()}
    challenger = LoadedModel(fc, "2", "r2", "challenger", boards)
    # an 'old champion' that chose Naive for every series
    import copy

    old_fc = copy.copy(fc)
    old_fc.models = {sid: copy.copy(sm) for sid, sm in fc.models.items()}
    for sm in old_fc.models.values():
        sm.champion = "Naive"
    old = LoadedModel(old_fc, "1", "r1", "champion", boards)
    a, b, n = compare_on_same_windows(challenger, old)
    assert n == 2 and a < b  # the challenger's champions beat Naive on these windows
    a2, b2, _ = compare_on_same_windows(old, challenger)
    assert a2 > b2


def test_cli_train_then_promote(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["train", "--series", "wsts_memory_sales_annual"])
    assert r.exit_code == 0, r.output
    assert "challenger" in r.output
    r = CliRunner().invoke(app, ["promote"])
    assert r.exit_code == 0, r.output
    assert "promoted" in r.output
    r = CliRunner().invoke(app, ["train", "--series", "nope"])
    assert r.exit_code == 2 and "unknown series 'nope'" in r.output


@pytest.mark.slow
def test_real_mlflow_server_on_loopback(trained: TrainResult, tmp_path: Path) -> None:
    with mlflow_server(tmp_path) as uri:
        settings = _settings(tmp_path, uri)
        run = log_training(trained, settings)
        assert promote(settings=settings).promoted
        loaded = load_model("champion", settings)
        assert loaded.version == run.version and loaded.source == "registry"
        assert_frame_equal(trained.forecaster.forecast("capex_meta", 2), loaded.forecaster.forecast("capex_meta", 2))
        # artifacts went through the server, not to the local store
        assert any((tmp_path / "server-artifacts").rglob("manifest.json"))
        assert not (tmp_path / "models").exists()


@pytest.mark.slow
def test_forecast_as_of_uses_only_data_published_by_then(
    tmp_path: Path, data_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`chipcast forecast ... --as-of 2019-11-30`: same output when everything published later is scrambled."""
    args = ["forecast", "wsts_worldwide_sales", "--horizon", "18", "--as-of", "2019-11-30", "--format", "json"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    first = json.loads(r.stdout[r.stdout.index("{"):])
    assert first["last_published"] <= "2019-11-30"
    assert first["last_observation"] == "2019-09-01"
    assert len(first["forecast"]) == 18 and first["forecast"][0]["ds"] == "2019-10-01"
    years = {o["year"]: o for o in first["outlook"]}
    assert 2020 in years and years[2020]["forecast_periods"] == 4 and years[2020]["lo-95"] < years[2020]["hi-95"]

    # scramble every WSTS value after Sep-2019 in a copy of the snapshot, then run again on it
    p = data_copy / "raw/market/wsts_monthly_sales_worldwide.csv"
    df = pl.read_csv(p, infer_schema=False)
    df = df.with_columns(
        pl.when(pl.col("date") > "2019-09-01").then(pl.lit("99.99")).otherwise(pl.col("value")).alias("value")
    )
    df.write_csv(p)
    monkeypatch.setenv("CHIPCAST_DATA_DIR", str(data_copy))
    from forecasting.tracking import get_tracking_settings
    from pipelines.config import get_data_settings

    get_data_settings.cache_clear()
    get_tracking_settings.cache_clear()
    r2 = CliRunner().invoke(app, args)
    assert r2.exit_code == 0, r2.output
    second = json.loads(r2.stdout[r2.stdout.index("{"):])
    assert second["forecast"] == first["forecast"]
    assert second["outlook"] == first["outlook"]
    assert date.fromisoformat(second["data_vintage"]) <= date(2019, 11, 30)
