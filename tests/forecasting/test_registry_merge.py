"""Partial retrains merge into the champion and never drop a served series (issue 12, item 1)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from typer.testing import CliRunner

from forecasting.artifact import Forecaster
from forecasting.data import NotEnoughDataError
from forecasting.hbm import CAPEX_DRIVER, HBM_ID
from forecasting.result import to_dict
from forecasting.tracking import TrackingSettings, load_model, log_training, promote, set_alias
from forecasting.tracking.gate import gather
from forecasting.tracking.merge import merge_into_champion, retired
from forecasting.train import TrainResult, train
from service.cli import app
from service.config import Settings
from service.main import create_app
from tests.conftest import REAL_DATA_DIR

ADMIN = "admin-key-0123456789abcdef"
#: capex (with the derived HBM series) and one annual target
SERIES = [CAPEX_DRIVER, "wsts_memory_sales_annual"]


@pytest.fixture(scope="module")
def full() -> TrainResult:
    result = train(SERIES, data_dir=REAL_DATA_DIR)
    assert HBM_ID in result.forecaster.models
    return result


@pytest.fixture(scope="module")
def partial() -> TrainResult:
    return train(["wsts_memory_sales_annual"], data_dir=REAL_DATA_DIR)


def _settings(tmp_path: Path) -> TrackingSettings:
    return TrackingSettings(state_dir=tmp_path / "state", models_dir=tmp_path / "models")


def _fc(models: dict, hbm: dict | None, like: Forecaster) -> Forecaster:
    return Forecaster(models, replace(like.meta, extra={}), hbm)


def test_merge_rules_for_the_derived_hbm_series(full: TrainResult) -> None:
    """Pure merge logic on stored series models (no fitting): HBM follows capex."""
    m = full.forecaster.models
    x = "wsts_memory_sales_annual"
    champion = _fc({CAPEX_DRIVER: m[CAPEX_DRIVER], HBM_ID: m[HBM_ID], x: m[x]}, {"calibration": "old"},
                   full.forecaster)
    # capex not retrained: HBM and its calibration are carried with it
    got = merge_into_champion(_fc({x: m[x]}, None, full.forecaster), "r2", champion, "r1", "1")
    assert got.forecaster.models[HBM_ID] is m[HBM_ID] and got.forecaster.hbm == {"calibration": "old"}
    assert got.carried == {CAPEX_DRIVER: "1", HBM_ID: "1"} and got.trained == [x]
    prov = got.forecaster.meta.extra["provenance"]
    assert prov[CAPEX_DRIVER]["run_id"] == "r1" and prov[x]["run_id"] == "r2"
    # capex retrained with HBM: both from this run
    new_hbm = replace(m[HBM_ID], notes=["recomputed"])
    got = merge_into_champion(_fc({CAPEX_DRIVER: m[CAPEX_DRIVER], HBM_ID: new_hbm}, {"calibration": "new"},
                                  full.forecaster), "r2", champion, "r1", "1")
    assert got.forecaster.models[HBM_ID] is new_hbm and got.forecaster.hbm == {"calibration": "new"}
    assert got.carried == {x: "1"}
    # capex retrained but HBM could not be built: the old HBM is not carried beside the new capex
    got = merge_into_champion(_fc({CAPEX_DRIVER: m[CAPEX_DRIVER]}, None, full.forecaster), "r2", champion, "r1", "1")
    assert HBM_ID not in got.forecaster.models and got.carried == {x: "1"}


def test_a_series_that_is_no_longer_a_target_is_retired_not_carried_nor_lost(full: TrainResult) -> None:
    """wsts_logic_sales_annual left the targets on 2026-12-02; a champion serving it would have carried its last
    model into every later version (and refused to promote one without it). It is retired instead."""
    m = full.forecaster.models
    gone = "wsts_logic_sales_annual"
    assert retired(gone) and not retired(HBM_ID) and not retired(CAPEX_DRIVER)
    champion = _fc({CAPEX_DRIVER: m[CAPEX_DRIVER], HBM_ID: m[HBM_ID], gone: m["wsts_memory_sales_annual"]},
                   {"calibration": "old"}, full.forecaster)
    got = merge_into_champion(_fc({}, None, full.forecaster), "r2", champion, "r1", "1")
    assert gone not in got.forecaster.models and got.retired == [gone]
    assert got.carried == {CAPEX_DRIVER: "1", HBM_ID: "1"}
    report = gather(got.forecaster, champion, full.panel, challenger_run=("r2", "2"), champion_run=("r1", "1"))
    assert report.lost == []
    assert {e.series_id: e.kind for e in report.series} == {CAPEX_DRIVER: "carried", HBM_ID: "carried"}


@pytest.mark.slow
def test_partial_retrain_carries_the_other_series_through_promote_and_reload(
    full: TrainResult, partial: TrainResult, tmp_path: Path
) -> None:
    s = _settings(tmp_path)
    v1 = log_training(full, s)
    assert promote(settings=s).promoted
    app = create_app(settings=Settings(api_keys_admin=[ADMIN], rate_limit_per_minute=100_000),
                     model_loader=lambda: load_model("champion", s))
    with TestClient(app) as client:
        before = {sid: client.get(f"/v1/forecasts/{sid}").json() for sid in (CAPEX_DRIVER, HBM_ID)}
        assert all(b["model"]["version"] == "1" for b in before.values())

        v2 = log_training(partial, s)  # `chipcast train --series wsts_memory_sales_annual`
        assert v2.trained == ["wsts_memory_sales_annual"]
        assert v2.carried == {CAPEX_DRIVER: "1", HBM_ID: "1"}
        res = promote(settings=s)
        assert res.promoted, res.reason
        kinds = {e.series_id: e.kind for e in res.evidence.series}  # type: ignore[union-attr]
        assert kinds[CAPEX_DRIVER] == "carried" and kinds[HBM_ID] == "carried"

        r = client.post("/v1/admin/reload", headers={"X-API-Key": ADMIN})
        assert r.status_code == 200, r.text
        assert r.json()["model"]["version"] == "2"
        for sid in (CAPEX_DRIVER, HBM_ID):
            after = client.get(f"/v1/forecasts/{sid}")
            assert after.status_code == 200, after.text
            body = after.json()
            assert body["model"]["version"] == "2"
            # the same stored series model: identical numbers, method and data status
            for key in ("points", "outlook", "method", "data"):
                assert body[key] == before[sid][key]
        assert client.get("/v1/forecasts/wsts_memory_sales_annual").json()["model"]["version"] == "2"

    served = load_model("champion", s).forecaster
    assert set(served.models) == set(full.forecaster.models)
    assert served.hbm == full.forecaster.hbm
    assert to_dict(served.result(CAPEX_DRIVER)) == to_dict(full.forecaster.result(CAPEX_DRIVER))
    # provenance: in the manifest and in model-version tags and description
    prov = served.meta.extra["provenance"]
    assert prov[CAPEX_DRIVER]["run_id"] == v1.run_id and prov["wsts_memory_sales_annual"]["run_id"] == v2.run_id
    mv = MlflowClient(s.tracking_uri).get_model_version(s.registered_model, "2")
    assert mv.tags[f"provenance.{CAPEX_DRIVER}"].startswith(f"v1 run {v1.run_id}")
    assert mv.tags["provenance.wsts_memory_sales_annual"].startswith(f"v2 run {v2.run_id}")
    assert mv.tags["carried"] == f"{CAPEX_DRIVER},{HBM_ID}"
    assert "Carried unchanged" in (mv.description or "")
    run = MlflowClient(s.tracking_uri).get_run(v2.run_id)
    assert run.info.run_name == f"train {partial.when.isoformat()} 1 series (+2 carried)"


@pytest.mark.slow
def test_promote_never_promotes_a_version_that_lost_a_served_series(
    full: TrainResult, partial: TrainResult, tmp_path: Path
) -> None:
    s = _settings(tmp_path)
    log_training(partial, s)  # no champion yet: v1 serves only the memory series
    log_training(full, s)  # v2 serves all
    set_alias("champion", "2", s)
    set_alias("challenger", "1", s)
    for force in (False, True):
        res = promote(force=force, settings=s)
        assert not res.promoted and "lost served series" in res.reason
        assert CAPEX_DRIVER in res.reason and HBM_ID in res.reason
    assert load_model("champion", s).version == "2"


@pytest.mark.slow
def test_cli_train_reports_a_skipped_series_and_exits_non_zero(
    full: TrainResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A series `train` had to skip is named, the exit code is 1 and the champion's model of it is carried."""
    from forecasting import train as train_module
    from forecasting.tracking import get_tracking_settings

    s = get_tracking_settings()  # the isolated per-test state dir (tests/conftest.py)
    log_training(full, s)
    promote(settings=s)
    real = train_module.evaluate_target

    def flaky(panel, cfg, when, **kw):  # type: ignore[no-untyped-def]
        if cfg.series_id == "nvidia_revenue":
            raise NotEnoughDataError("nvidia_revenue: injected failure (test)")
        return real(panel, cfg, when, **kw)

    monkeypatch.setattr(train_module, "evaluate_target", flaky)
    r = CliRunner().invoke(app, ["train", "--series", "nvidia_revenue"])  # in no coherent group: trained alone
    assert r.exit_code == 1, r.output
    assert "skipped" in r.output and "injected failure" in r.output
    assert "carried unchanged from the champion: " in r.output and "wsts_memory_sales_annual (v1)" in r.output
    challenger = load_model("challenger", s)
    assert challenger.version == "2" and set(challenger.forecaster.models) == set(full.forecaster.models)
