"""The HBM structural series and capex scenarios: calibration honesty, one shape, monotonicity, bounds."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from forecasting.artifact import Forecaster
from forecasting.hbm import (
    BOUNDS,
    HBM_ID,
    MEMORY_TARGETS,
    ScenarioError,
    ScenarioSpec,
    assumptions_of,
    capex_annual,
    hbm_estimates,
    period_multipliers,
    published_capex,
)
from forecasting.result import to_dict
from forecasting.scenarios import run_scenario
from forecasting.train import TrainResult, train
from tests.conftest import REAL_DATA_DIR
from tests.helpers import num

TARGETS = ["capex_hyperscalers_total", "micron_revenue", "skhynix_revenue", "wsts_memory_sales_annual"]


@pytest.fixture(scope="module")
def trained() -> TrainResult:
    return train(TARGETS, data_dir=REAL_DATA_DIR)


def test_calibration_uses_only_estimates_of_past_years(trained: TrainResult) -> None:
    est = hbm_estimates(REAL_DATA_DIR)
    raw = (REAL_DATA_DIR / "raw/memory/hbm_market_figures.csv").read_text()
    assert "forecast" in raw  # the file has forecasts by others...
    assert est.height == 3 and set(est["year"].to_list()) == {2024, 2025}  # ...and none is used as data
    a = assumptions_of(trained.forecaster)
    content = a.hbm_content
    assert [p["year"] for p in content.calibration] == [2024, 2024, 2025]
    assert content.low < content.value < content.high
    assert all(e.n >= 5 and e.se > 0 for e in a.elasticities.values())


def test_calibration_as_of_a_date_uses_only_statements_public_by_then() -> None:
    mid_2025 = hbm_estimates(REAL_DATA_DIR, as_of=date(2025, 6, 1))
    assert mid_2025.select("entity", "year").rows() == [("Micron", 2024)]  # stated 2024-12-18
    # the undated TrendForce estimate of 2024 counts as public only from the end of 2025
    assert hbm_estimates(REAL_DATA_DIR, as_of=date(2025, 12, 30)).select("entity", "year").rows() == [
        ("Micron", 2024), ("Micron", 2025)]
    assert hbm_estimates(REAL_DATA_DIR, as_of=date(2025, 12, 31)).height == 3
    assert hbm_estimates(REAL_DATA_DIR, as_of=date(2024, 12, 17)).height == 0


def test_hbm_is_a_series_with_the_shape_of_every_other(trained: TrainResult) -> None:
    fc = trained.forecaster
    hbm, capex = to_dict(fc.result(HBM_ID)), to_dict(fc.result("capex_hyperscalers_total"))
    assert hbm.keys() == capex.keys()
    assert hbm["frequency"] == "annual" and hbm["method"]["name"] == "structural"
    years = [p["ds"][:4] for p in hbm["points"]]
    assert years == sorted(years) and all(p["ds"].endswith("-01-01") for p in hbm["points"])
    for p in hbm["points"]:
        b = {i["level"]: i for i in p["intervals"]}
        assert 0 < b[95]["lo"] <= b[80]["lo"] <= p["value"] <= b[80]["hi"] <= b[95]["hi"]


def test_higher_capex_never_lowers_hbm_or_memory(trained: TrainResult) -> None:
    fc = trained.forecaster
    medians: dict[str, list[list[float]]] = {t: [] for t in [*MEMORY_TARGETS, HBM_ID]}
    for shift in (-50, -30, 0, 20, 50, 100, 200):  # 2026 below about -56% takes back published capex
        r = run_scenario(fc, ScenarioSpec(values={2026: shift, 2027: shift, 2028: shift}), trained.panel)
        for t, (_, scen) in r.targets.items():
            medians[t].append([num(y.value) for y in scen.outlook])
    for t, rows in medians.items():
        m = np.array(rows)
        assert (np.diff(m, axis=0) >= 0).all(), t
        assert (np.diff(m, axis=0)[:, -1] > 0).all(), t


def test_the_baseline_is_always_the_stored_forecast(trained: TrainResult) -> None:
    fc = trained.forecaster
    stored = to_dict(fc.result(HBM_ID, outlook_years=3))
    r = run_scenario(fc, ScenarioSpec.named("base", [HBM_ID], capex_annual(fc)[0]), trained.panel)
    fixed = run_scenario(fc, ScenarioSpec(name="content", values={}, targets=[HBM_ID], hbm_content=0.25),
                         trained.panel)
    for res in (r, fixed):
        base, _ = res.targets[HBM_ID]
        assert to_dict(base)["outlook"] == stored["outlook"]
    base, scen = fixed.targets[HBM_ID]
    # a fixed HBM content of 0.25 is above the calibrated one
    assert all(num(s.value) > num(b.value) for b, s in zip(base.outlook, scen.outlook, strict=True))


def test_annual_multipliers_spread_smoothly_over_quarters() -> None:
    dates = [date(y, m, 1) for y in (2026, 2027, 2028) for m in (1, 4, 7, 10)]
    annual = {2026: 1.15, 2027: 1.30, 2028: 1.40}
    m = period_multipliers(dates, annual)
    for i, year in enumerate((2026, 2027, 2028)):
        assert m[4 * i: 4 * i + 4].mean() == pytest.approx(annual[year])
    steps = np.abs(np.diff(m))
    year_ends = steps[[3, 7]]
    assert year_ends.max() < 0.08  # no jump from the multiplier alone at 31 December
    assert (m > 1).all()


def test_each_years_total_moves_by_exactly_its_multiplier_when_values_grow() -> None:
    """Weighted by the baseline's values and raised to the elasticity, each year's total scales by exactly
    its multiplier (to that power): a year kept at the baseline stays at the baseline."""
    dates = [date(y, m, 1) for y in (2026, 2027, 2028) for m in (1, 4, 7, 10)]
    values = np.geomspace(10.0, 80.0, len(dates))  # synthetic, growing 20% a quarter
    annual = {2026: 0.5, 2027: 0.25, 2028: 1.0}
    for power in (0.0, 0.7, 1.0, 2.2):
        m = period_multipliers(dates, annual, weights=values, power=power)
        for i, year in enumerate((2026, 2027, 2028)):
            part = slice(4 * i, 4 * i + 4)
            moved = (values[part] * m[part] ** power).sum()
            assert moved == pytest.approx(annual[year] ** power * values[part].sum(), rel=1e-12), (power, year)


def test_a_year_left_out_of_a_scenario_keeps_its_baseline(trained: TrainResult) -> None:
    """2028 not stated (relative mode: the baseline) between cut years: its memory totals are the baseline's
    (Micron's came out 7% above it when the spreading ignored that its quarters grow)."""
    fc = trained.forecaster
    res = run_scenario(fc, ScenarioSpec(values={2026: -50, 2027: -75}), trained.panel)
    for t in MEMORY_TARGETS:
        base, scen = res.targets[t]
        b = {o.year: num(o.value) for o in base.outlook}
        s = {o.year: num(o.value) for o in scen.outlook}
        assert s[2028] == pytest.approx(b[2028], rel=1e-5), t
        assert s[2027] < b[2027] and s[2026] < b[2026], t


@pytest.mark.parametrize(
    ("spec", "msg"),
    [
        (ScenarioSpec(values={2031: 10}), "outside the forecast years"),
        (ScenarioSpec(mode="yoy_growth_pct", values={2026: -90}), "between -50 and 150"),
        (ScenarioSpec(values={2026: 900}), "between -75 and 200"),
        (ScenarioSpec(targets=["tsmc_revenue"]), "no capex-conditional model for tsmc_revenue"),
        (ScenarioSpec(hbm_content=0.9), "between 0.02 and 0.5"),
        (ScenarioSpec(mode="absolute_usd_m", values={2027: 1.0}), r"between 0.25x and 4.0x .*2027=1 \(allowed "),
        # 2026's first two quarters already add up to more than these full-year totals
        (ScenarioSpec(values={2026: -75}), r"below what the year's published quarters .*2026: .* published"),
        (ScenarioSpec(mode="yoy_growth_pct", values={2026: -50}), "below what the year's published quarters"),
    ],
)
def test_bad_scenarios_are_refused_with_the_bounds(trained: TrainResult, spec: ScenarioSpec, msg: str) -> None:
    with pytest.raises(ScenarioError, match=msg):
        run_scenario(trained.forecaster, spec, trained.panel)
    assert set(BOUNDS) == {"relative_to_baseline_pct", "yoy_growth_pct", "absolute_usd_m"}


def test_a_scenario_keeps_the_capex_already_published(trained: TrainResult) -> None:
    """A partly published year's scenario total can go down to what its published quarters add up to, not
    below (the rest of the year would need negative capex)."""
    fc = trained.forecaster
    floor = published_capex(fc)
    years = capex_annual(fc)[0]
    assert set(floor) == {years[0]} and floor[years[0]] > 0  # only the first forecast year is partly published
    at = ScenarioSpec(mode="absolute_usd_m", values={years[0]: floor[years[0]]})
    assert run_scenario(fc, at, trained.panel).capex.scenario[years[0]] == floor[years[0]]
    with pytest.raises(ScenarioError, match="published quarters"):
        run_scenario(fc, ScenarioSpec(mode="absolute_usd_m", values={years[0]: floor[years[0]] - 1}), trained.panel)


def test_named_scenarios_and_a_saved_model(trained: TrainResult, tmp_path: Path) -> None:
    fc = trained.forecaster
    years = capex_annual(fc)[0]
    bear = run_scenario(fc, ScenarioSpec.named("bear", None, years), trained.panel).targets[HBM_ID][1].outlook
    bull = run_scenario(fc, ScenarioSpec.named("bull", None, years), trained.panel).targets[HBM_ID][1].outlook
    assert all(num(b.value) < num(u.value) for b, u in zip(bear, bull, strict=True))
    with pytest.raises(ScenarioError, match="named scenarios: bear, base, bull"):
        ScenarioSpec.named("moon", None, years)
    fc.save(tmp_path / "fc")
    again = Forecaster.load(tmp_path / "fc")
    assert again.hbm == fc.hbm
    assert to_dict(again.result(HBM_ID)) == to_dict(fc.result(HBM_ID))
    assert to_dict(run_scenario(again, ScenarioSpec.named("bull", None, years), trained.panel).targets[HBM_ID][1]) == \
        to_dict(run_scenario(fc, ScenarioSpec.named("bull", None, years), trained.panel).targets[HBM_ID][1])


def test_named_scenarios_follow_the_capex_forecasts_years() -> None:
    """Once a year is fully published it leaves the forecast; a named scenario moves on with it instead of
    naming a year the model can no longer condition (bear and bull hard-coded 2026-2028 before)."""
    now = ScenarioSpec.named("bear", None, [2026, 2027, 2028])
    assert now.values == {2026: -15.0, 2027: -30.0, 2028: -40.0}
    assert now.description == "AI capex undershoots the baseline forecast: -15% in 2026, -30% in 2027, -40% in 2028"
    later = ScenarioSpec.named("bull", None, [2027, 2028, 2029, 2030])
    assert later.values == {2027: 15.0, 2028: 30.0, 2029: 40.0}
    assert "+15% in 2027" in later.description
    assert ScenarioSpec.named("bear", None, [2027]).values == {2027: -15.0}  # a shorter forecast: what it has
    assert ScenarioSpec.named("base", None, [2027, 2028]).values == {}


def test_cli_scenarios_answer_like_the_library_and_refuse_guidance_without_the_companies(
        trained: TrainResult, monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    from datetime import UTC, datetime

    from typer.testing import CliRunner

    import forecasting.tracking
    from forecasting.serving import LoadedModel
    from service.cli import app

    loaded = LoadedModel(trained.forecaster, "3", "run-3", "champion", datetime.now(UTC).isoformat())
    monkeypatch.setattr(forecasting.tracking, "load_model", lambda alias="champion": loaded)
    r = CliRunner().invoke(app, ["scenario", "bull", "--json"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.stdout)
    direct = run_scenario(trained.forecaster, ScenarioSpec.named("bull", None, capex_annual(trained.forecaster)[0]),
                          trained.panel)
    for t, (base, scen) in direct.targets.items():
        assert body["targets"][t]["scenario"]["outlook"] == to_dict(scen)["outlook"]
        assert body["targets"][t]["baseline"]["outlook"] == to_dict(base)["outlook"]
    # guidance keeps the forecast of companies without usable guidance: a model without them cannot answer
    r = CliRunner().invoke(app, ["scenario", "guidance"])
    assert r.exit_code == 2 and "train it with the capex companies" in r.output
    r = CliRunner().invoke(app, ["scenario"])
    assert r.exit_code == 2 and "bear, base, bull, guidance" in r.output
