"""The promotion gate: the champion as registered vs the challenger, on evidence neither was chosen on.

Real models are trained on the embedded data as of 2025-09-01 (the "old champion") and as of today.
Deliberately worse or better versions are built here from them and are clearly synthetic: a challenger
whose served method is Naive, a champion whose stored forecasts were halved.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import polars as pl
import pytest
from mlflow import MlflowClient

from forecasting.artifact import Forecaster
from forecasting.evaluation import evaluate_target
from forecasting.result import Member
from forecasting.targets import TARGETS
from forecasting.tracking import TrackingSettings, load_model, log_training, promote
from forecasting.tracking.gate import method_config
from forecasting.train import TrainResult, train
from forecasting.zoo import COMBINATION, ModelSpec
from pipelines.panel import as_of, load_panel
from tests.conftest import REAL_DATA_DIR
from tests.forecasting.conftest import SMALL

OLD = date(2025, 9, 1)


@pytest.fixture(scope="module")
def vintage_panel() -> pl.DataFrame:
    return load_panel(data_dir=REAL_DATA_DIR, vintages=True)


@pytest.fixture(scope="module")
def old_train() -> TrainResult:
    """Real models as they would have been trained on 2025-09-01 (capex through 2025Q2, memory through 2024)."""
    return train(SMALL, data_dir=REAL_DATA_DIR, when=OLD)


def naive_version(fc: Forecaster) -> Forecaster:
    """Synthetic (test-only): every series serves Naive (the last published value, flat)."""
    models = {}
    for sid, sm in fc.models.items():
        last = float(sm.history["y"][-1])
        point = np.full(sm.max_h, last)
        method = replace(sm.method, members=(Member("Naive", 1.0, {}),), description="synthetic: Naive only")
        models[sid] = replace(sm, point=point, paths=sm.paths / sm.point[None, :] * last, method=method,
                              specs={"Naive": ModelSpec("Naive", {})})
    return Forecaster(models, replace(fc.meta, extra={}), fc.hbm)


def scaled_version(fc: Forecaster, k: float) -> Forecaster:
    """Synthetic (test-only): every stored point and sample path multiplied by ``k``."""
    models = {sid: replace(sm, point=sm.point * k, paths=sm.paths * k) for sid, sm in fc.models.items()}
    return Forecaster(models, replace(fc.meta, extra={}), fc.hbm)


def _settings(tmp_path: Path) -> TrackingSettings:
    return TrackingSettings(state_dir=tmp_path / "state", models_dir=tmp_path / "models")


def _register(fc: Forecaster, like: TrainResult, settings: TrackingSettings) -> str:
    return log_training(TrainResult(fc, {}, {}, like.panel, like.when), settings).version


def _promotion_record(settings: TrackingSettings, run_id: str) -> dict:
    client = MlflowClient(settings.tracking_uri)
    path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="promotion.json",
                                               dst_path=str(settings.state_dir / "check"),
                                               tracking_uri=settings.tracking_uri)
    record = json.loads(Path(path).read_text())
    record["metrics"] = client.get_run(run_id).data.metrics
    return record


@pytest.mark.slow
def test_worse_challenger_is_refused_on_newly_published_actuals(
    old_train: TrainResult, small_train: TrainResult, vintage_panel: pl.DataFrame, tmp_path: Path
) -> None:
    s = _settings(tmp_path)
    assert _register(old_train.forecaster, old_train, s) == "1"
    assert promote(settings=s, panel=vintage_panel).promoted  # the first champion
    challenger = naive_version(small_train.forecaster)
    _register(challenger, small_train, s)
    res = promote(settings=s, panel=vintage_panel)
    assert not res.promoted and res.champion_before == "1"
    assert load_model("champion", s).version == "1"
    ev = {e.series_id: e for e in res.evidence.series}  # type: ignore[union-attr]
    assert {e.kind for e in ev.values()} == {"new_actuals"}
    cap = ev["capex_meta"]
    # four quarters (2025Q3..2026Q2) were published after the champion's as-of date
    assert cap.origin == OLD and cap.periods == 4
    assert [p["ds"] for p in cap.points] == ["2025-07-01", "2025-10-01", "2026-01-01", "2026-04-01"]
    # the champion is scored on what it stored; the challenger on its own forecast made at the champion's
    # origin with data known then (Naive: the last value published by 2025-09-01, not today's)
    stored = old_train.forecaster.models["capex_meta"].point[:4]
    assert [p["champion"] for p in cap.points] == pytest.approx(stored.tolist())
    known_then = as_of(vintage_panel, OLD).filter(pl.col("unique_id") == "capex_meta").sort("ds")["y"][-1]
    assert [p["challenger"] for p in cap.points] == pytest.approx([known_then] * 4)
    assert cap.relative is not None and cap.relative > 1.5
    assert res.mase_ratio is not None and res.mase_ratio > 1
    assert "> 1" in res.reason
    # the decision is logged with its evidence
    record = _promotion_record(s, res.run_id or "")
    assert record["promoted"] is False and record["evidence"]["geomean_relative_mase"] == pytest.approx(res.mase_ratio)
    assert record["metrics"]["rel_mase.capex_meta"] == pytest.approx(cap.relative)
    assert "rel_mase.wsts_memory_sales_annual" in record["metrics"]
    run = MlflowClient(s.tracking_uri).get_run(res.run_id or "")
    assert run.info.run_name == "promote v2 over v1: refused"

    # forcing is possible and logged as such
    forced = promote(force=True, settings=s, panel=vintage_panel)
    assert forced.promoted and "(forced)" in forced.reason


@pytest.mark.slow
def test_better_challenger_is_promoted(
    old_train: TrainResult, small_train: TrainResult, vintage_panel: pl.DataFrame, tmp_path: Path
) -> None:
    s = _settings(tmp_path)
    _register(scaled_version(old_train.forecaster, 0.5), old_train, s)  # a champion that halved everything
    promote(settings=s, panel=vintage_panel)
    _register(small_train.forecaster, small_train, s)
    res = promote(settings=s, panel=vintage_panel)
    assert res.promoted, res.reason
    assert all(e.relative is not None and e.relative < 1 for e in res.evidence.compared)  # type: ignore[union-attr]
    assert res.mase_ratio is not None and res.mase_ratio < 0.5
    assert load_model("champion", s).version == "2"


@pytest.mark.slow
def test_challenger_forecast_at_the_champions_origin_is_its_own_as_of_evaluation(
    old_train: TrainResult, small_train: TrainResult, vintage_panel: pl.DataFrame, tmp_path: Path
) -> None:
    """Same code, more data: the challenger's method at the champion's origin reproduces the champion."""
    s = _settings(tmp_path)
    _register(scaled_version(old_train.forecaster, 1.0), old_train, s)
    promote(settings=s, panel=vintage_panel)
    _register(small_train.forecaster, small_train, s)
    res = promote(settings=s, panel=vintage_panel)
    mem = next(e for e in res.evidence.series if e.series_id == "wsts_memory_sales_annual")  # type: ignore[union-attr]
    assert mem.kind == "new_actuals" and [p["ds"] for p in mem.points] == ["2025-01-01"]
    sm = small_train.forecaster.models["wsts_memory_sales_annual"]
    ev = evaluate_target(vintage_panel, method_config(TARGETS["wsts_memory_sales_annual"], sm), small_train.when,
                         extra_origins=[OLD])
    oid = int(ev.origins.filter(pl.col("kind") == "extra")["origin_id"][0])
    expected = ev.unwork(ev.point(oid, COMBINATION))[0]
    assert mem.points[0]["challenger"] == pytest.approx(expected)
    assert mem.points[0]["champion"] == pytest.approx(old_train.forecaster.models["wsts_memory_sales_annual"].point[0])
    assert mem.relative == pytest.approx(1.0)  # nested weights: nothing published after 2025-09-01 leaks in
    assert res.promoted


@pytest.mark.slow
def test_without_new_actuals_both_methods_are_rerun_on_held_back_origins(
    small_train: TrainResult, vintage_panel: pl.DataFrame, tmp_path: Path
) -> None:
    s = _settings(tmp_path)
    _register(small_train.forecaster, small_train, s)
    promote(settings=s, panel=vintage_panel)
    _register(naive_version(small_train.forecaster), small_train, s)
    worse = promote(settings=s, panel=vintage_panel)
    assert not worse.promoted
    ev = {e.series_id: e for e in worse.evidence.series}  # type: ignore[union-attr]
    assert {e.kind for e in ev.values()} == {"held_back"}
    cap = ev["capex_meta"]
    # capex is quarterly: the 4 most recent rolling origins with a published outcome, steps 1..4
    origins = sorted({p["origin"] for p in cap.points})
    assert len(origins) == 4 and all(1 <= p["h"] <= 4 for p in cap.points)
    assert cap.relative is not None and cap.relative > 1
    # an identical retrain is exactly as good: promoted
    _register(small_train.forecaster, small_train, s)
    same = promote(settings=s, panel=vintage_panel)
    assert same.promoted and same.mase_ratio == pytest.approx(1.0)
