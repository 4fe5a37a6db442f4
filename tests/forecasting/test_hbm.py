"""The HBM structural model and capex scenarios: calibration honesty, monotonicity, propagation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from forecasting.hbm import (
    HBM_ID,
    MEMORY_TARGETS,
    HbmAssumptions,
    ScenarioError,
    ScenarioSpec,
    attach_baseline_outlook,
    hbm_estimates,
    run_scenario,
)
from forecasting.train import TrainResult, train
from tests.conftest import REAL_DATA_DIR

TARGETS = ["capex_hyperscalers_total", "micron_revenue", "skhynix_revenue", "wsts_memory_sales_annual"]


@pytest.fixture(scope="module")
def trained() -> TrainResult:
    return train(TARGETS, data_dir=REAL_DATA_DIR)


def test_calibration_uses_only_estimates_of_past_years(trained: TrainResult) -> None:
    est = hbm_estimates(REAL_DATA_DIR)
    raw = (REAL_DATA_DIR / "raw/memory/hbm_market_figures.csv").read_text()
    assert "forecast" in raw  # the file has forecasts by others...
    assert est.height == 3 and set(est["year"].to_list()) == {2024, 2025}  # ...and none is used as data
    a = HbmAssumptions.from_dict(trained.forecaster.hbm or {})
    content = a.hbm_content
    assert [p["year"] for p in content.calibration] == [2024, 2024, 2025]
    assert content.low < content.value < content.high
    # 2024 TrendForce estimate 18.2 bn over NVIDIA data-center revenue of calendar 2024 (quarters dated 2024)
    assert any(p["ratio"] == pytest.approx(18.2e3 / 115186.0) for p in content.calibration)
    assert all(e.n >= 5 and e.se > 0 for e in a.elasticities.values())


def test_higher_capex_never_lowers_hbm(trained: TrainResult) -> None:
    fc = trained.forecaster
    medians = []
    for shift in (-60, -30, 0, 20, 50, 100, 200):
        r = run_scenario(fc, ScenarioSpec(values={2026: shift, 2027: shift, 2028: shift}, targets=[HBM_ID]))
        rows = r["targets"][HBM_ID]["scenario"]
        medians.append([row["value"] for row in rows])
    m = np.array(medians)
    assert (np.diff(m, axis=0) > 0).all()  # strictly increasing in capex, every year


def test_plus_50pct_capex_raises_memory_and_hbm(trained: TrainResult) -> None:
    fc = trained.forecaster
    r = run_scenario(fc, ScenarioSpec(name="+50%", values={2026: 50, 2027: 50, 2028: 50}))
    hbm = r["targets"][HBM_ID]
    for b, s in zip(hbm["baseline"], hbm["scenario"], strict=True):
        assert s["value"] > b["value"] and s["lo-95"] > b["lo-95"]
    for t in MEMORY_TARGETS:
        pts = r["targets"][t]["points"]
        later = [p for p in pts if p["capex_multiplier"] > 1]
        assert later, t
        assert all(p["value"] > p["baseline"] for p in later)
    assert r["assumptions"]["formula"].startswith("hbm_revenue")
    assert r["scenario"]["values"] == {"2026": 50, "2027": 50, "2028": 50}


def test_yoy_growth_mode_and_hbm_intervals_cover_parameter_uncertainty(trained: TrainResult) -> None:
    fc = trained.forecaster
    r = run_scenario(fc, ScenarioSpec(mode="yoy_growth_pct", values={2026: 40}, targets=[HBM_ID]))
    cap = {c["year"]: c for c in r["capex"]}
    published_2025 = 411528.0
    assert cap[2026]["scenario_usd_m"] == pytest.approx(published_2025 * 1.4)
    # fixing hbm_content removes one source of uncertainty, so the 95% band narrows
    wide = run_scenario(fc, ScenarioSpec(targets=[HBM_ID]))["targets"][HBM_ID]["baseline"][0]
    fixed = run_scenario(fc, ScenarioSpec(targets=[HBM_ID], hbm_content=0.16))["targets"][HBM_ID]["baseline"][0]
    assert fixed["hi-95"] - fixed["lo-95"] < wide["hi-95"] - wide["lo-95"]


@pytest.mark.parametrize(
    ("spec", "msg"),
    [
        (ScenarioSpec(values={2031: 10}), "outside the forecast years"),
        (ScenarioSpec(values={2026: -100}), "must stay positive"),
        (ScenarioSpec(targets=["tsmc_revenue"]), "no capex-conditional model for tsmc_revenue"),
        (ScenarioSpec(hbm_content=2.0), "between 0 and 1"),
    ],
)
def test_bad_scenarios_are_refused(trained: TrainResult, spec: ScenarioSpec, msg: str) -> None:
    with pytest.raises(ScenarioError, match=msg):
        run_scenario(trained.forecaster, spec)


def test_named_scenarios_and_baseline_persisted(trained: TrainResult, tmp_path: Path) -> None:
    from forecasting.forecaster import Forecaster

    fc = trained.forecaster
    bear = run_scenario(fc, ScenarioSpec.named("bear"))["targets"][HBM_ID]["scenario"]
    bull = run_scenario(fc, ScenarioSpec.named("bull"))["targets"][HBM_ID]["scenario"]
    assert all(b["value"] < u["value"] for b, u in zip(bear, bull, strict=True))
    with pytest.raises(ScenarioError, match="named scenarios: bear, base, bull"):
        ScenarioSpec.named("moon")
    attach_baseline_outlook(fc)
    fc.save(tmp_path / "fc")
    again = Forecaster.load(tmp_path / "fc")
    assert again.hbm == fc.hbm
    assert [r["year"] for r in again.hbm["baseline_outlook"]] == [2026, 2027, 2028]  # type: ignore[index]
