"""HBM revenue and capex scenarios as plain functions of the serving model: testable without HTTP.

Serving rules kept here:

* HBM revenue is a structural model (``forecasting.hbm``): capex x accelerator_share x hbm_content. Its
  GETs (forecast, outlook, chart, assumptions) read the baseline stored with the model at train time
  (``forecaster.hbm["baseline_outlook"]``) and never run the Monte Carlo; a model without that baseline
  answers 503 rather than simulating inside a poll.
* Scenario POSTs do simulate (memory and HBM paths under a capex path). They are validated first, so a bad
  year, target or scenario name answers 422 with the allowed values before any work starts, and the route
  caches results per (model version, canonical scenario).
"""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

from forecasting import hbm as hbm_model
from forecasting.backtest import LEVELS
from forecasting.hbm import CAPEX_DRIVER, HBM_ID, MEMORY_TARGETS, ScenarioError, ScenarioSpec
from forecasting.plots import yearly_fan_png
from forecasting.serving import LoadedModel
from pipelines.catalog import get_spec
from service.errors import ApiError
from service.logic import _band, _num, forecast_ids, serving_model
from service.schemas import (
    CapexElasticity,
    CapexYear,
    HbmAssumptions,
    HbmAssumptionsResponse,
    HbmForecastPoint,
    HbmForecastResponse,
    HbmOutlookResponse,
    HbmScenarioResult,
    HbmYear,
    MemoryScenarioPoint,
    MemoryScenarioResult,
    ModelledSeriesResponse,
    ScenarioEcho,
    ScenarioRequest,
    ScenarioResponse,
)

HBM_NAME = "HBM market revenue, calendar year (modelled)"
HBM_UNIT = "US$ bn"
STRUCTURAL = "structural"
HBM_ESTIMATES_FILE = f"data/{hbm_model.HBM_FILE}"
HBM_INPUTS = [CAPEX_DRIVER, hbm_model.ACCELERATOR, HBM_ESTIMATES_FILE]
HBM_ENDPOINTS = {
    "forecast": f"/v1/forecasts/{HBM_ID}",
    "outlook": f"/v1/forecasts/{HBM_ID}/outlook",
    "chart": f"/v1/forecasts/{HBM_ID}.png",
    "assumptions": "/v1/models/hbm/assumptions",
    "scenarios": "/v1/scenarios",
}

ScenarioKey = tuple[str, str, str]


def _finite(obj: Any) -> Any:
    """The same structure with every non-finite float replaced by None (JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


# ------------------------------------------------------------------------------------------ lookups


def has_hbm(loaded: LoadedModel | None) -> bool:
    return loaded is not None and loaded.forecaster.hbm is not None


def require_hbm(loaded: LoadedModel) -> dict[str, Any]:
    """The model's HBM calibration, or a 404 saying what the champion would need to include."""
    hbm = loaded.forecaster.hbm
    if hbm is None:
        valid = forecast_ids(loaded)
        raise ApiError(404, "series_not_forecast",
                       f"{HBM_ID} is not modelled by model version {loaded.version}: the HBM model needs "
                       f"{CAPEX_DRIVER} in the champion; forecast series: {', '.join(valid)}",
                       {"valid_ids": valid, "needs": CAPEX_DRIVER})
    return hbm


def baseline_rows(loaded: LoadedModel) -> list[dict[str, Any]]:
    """The precomputed baseline (yearly rows); never simulated here."""
    rows = require_hbm(loaded).get("baseline_outlook")
    if rows is None:
        raise ApiError(503, "hbm_not_precomputed",
                       f"model version {loaded.version} has no precomputed HBM baseline; retrain to store it "
                       "(serving never simulates on a read)")
    return list(rows)


def assumptions(loaded: LoadedModel) -> HbmAssumptions:
    require_hbm(loaded)
    return HbmAssumptions.model_validate(_finite(hbm_model.assumptions_of(loaded.forecaster).to_dict()))


def _hbm_year(row: dict[str, Any]) -> HbmYear:
    return HbmYear(year=int(row["year"]), value=_num(row.get("value")), mean=_num(row.get("mean")),
                   intervals=_band(row, ""), growth_pct=_num(row.get("growth_pct")))


def sources(a: HbmAssumptions) -> list[str]:
    found = {*a.accelerator_share.sources, *a.hbm_content.sources}
    for p in (*a.accelerator_share.calibration, *a.hbm_content.calibration):
        found.add(p.source)
    return sorted(found | {HBM_ESTIMATES_FILE})


# ------------------------------------------------------------------------------------------ reads


def modelled_series(loaded: LoadedModel | None) -> list[ModelledSeriesResponse]:
    """Catalog entries for series the serving model derives (HBM revenue), empty if it has none."""
    if loaded is None or loaded.forecaster.hbm is None:
        return []
    hbm = loaded.forecaster.hbm
    return [
        ModelledSeriesResponse(
            id=HBM_ID,
            name=HBM_NAME,
            unit=HBM_UNIT,
            frequency="annual",
            model_name=STRUCTURAL,
            formula=str(hbm.get("formula", "")),
            inputs=list(HBM_INPUTS),
            years=[int(r["year"]) for r in hbm.get("baseline_outlook", [])],
            endpoints=dict(HBM_ENDPOINTS),
        )
    ]


def forecast_response(loaded: LoadedModel) -> HbmForecastResponse:
    rows = baseline_rows(loaded)
    return HbmForecastResponse(
        name=HBM_NAME,
        unit=HBM_UNIT,
        frequency="annual",
        levels=list(LEVELS),
        formula=str(require_hbm(loaded)["formula"]),
        model=serving_model(loaded),
        points=[
            HbmForecastPoint(year=int(r["year"]), ds=date(int(r["year"]), 1, 1), value=_num(r.get("value")),
                             mean=_num(r.get("mean")), intervals=_band(r, ""))
            for r in rows
        ],
    )


def outlook_response(loaded: LoadedModel) -> HbmOutlookResponse:
    rows = baseline_rows(loaded)
    a = assumptions(loaded)
    return HbmOutlookResponse(
        name=HBM_NAME,
        unit=HBM_UNIT,
        formula=a.formula,
        model=serving_model(loaded),
        years=[_hbm_year(r) for r in rows],
        assumptions=a,
        sources=sources(a),
    )


def assumptions_response(loaded: LoadedModel) -> HbmAssumptionsResponse:
    return HbmAssumptionsResponse(**assumptions(loaded).model_dump(), model=serving_model(loaded))


def chart(loaded: LoadedModel) -> bytes:
    """PNG of the yearly baseline (median, 80/95 bars) beside the dated estimates it was calibrated on."""
    rows = baseline_rows(loaded)
    a = assumptions(loaded)
    estimates = [(p.year, p.hbm_usd_bn, p.estimate_by or "") for p in a.hbm_content.calibration
                 if p.hbm_usd_bn is not None]
    return yearly_fan_png(rows, estimates=estimates, unit=HBM_UNIT,
                          title=f"{HBM_NAME} — structural model (model v{loaded.version})")


# ------------------------------------------------------------------------------------------ scenarios


def scenario_targets(loaded: LoadedModel) -> list[str]:
    """Targets a scenario can condition with this model: its memory targets, then HBM."""
    return [t for t in MEMORY_TARGETS if t in loaded.forecaster.models] + [HBM_ID]


def scenario_years(loaded: LoadedModel) -> list[int]:
    """Calendar years a capex path may set: after the last complete published capex year, through the outlook."""
    published = hbm_model.published_capex(loaded.forecaster)
    if not published:
        raise ApiError(422, "invalid_scenario", f"{CAPEX_DRIVER} has no complete published year to build on")
    return list(range(max(published) + 1, hbm_model.OUTLOOK_END_YEAR + 1))


def scenario_spec(loaded: LoadedModel, body: ScenarioRequest) -> ScenarioSpec:
    """Validate the request against this model (targets, years) and resolve it to one canonical spec."""
    if loaded.forecaster.hbm is None:
        raise ApiError(422, "no_scenario_model",
                       f"model version {loaded.version} cannot run capex scenarios: its champion has no HBM "
                       f"calibration (train it with {CAPEX_DRIVER})", {"needs": CAPEX_DRIVER})
    allowed = scenario_targets(loaded)
    targets = list(dict.fromkeys(body.targets)) if body.targets else allowed
    unknown = [t for t in targets if t not in allowed]
    if unknown:
        raise ApiError(422, "invalid_target",
                       f"no capex-conditional model for {', '.join(t[:64] for t in unknown)}; "
                       f"scenario targets: {', '.join(allowed)}",
                       {"allowed_targets": allowed})
    if body.scenario is not None:
        spec = ScenarioSpec.named(body.scenario, targets)
    else:
        assert body.capex is not None  # the request model enforces exactly one of scenario / capex
        years = scenario_years(loaded)
        bad = sorted(y for y in body.capex.values if y not in years)
        if bad:
            raise ApiError(422, "invalid_scenario_year",
                           f"scenario years {bad} are outside the forecast years {years}",
                           {"allowed_years": years})
        spec = ScenarioSpec(name=body.name or "custom", mode=body.capex.mode,
                            values=dict(sorted(body.capex.values.items())), targets=targets,
                            description=f"user-defined capex path ({body.capex.mode})")
    spec.hbm_content = body.hbm_content
    return spec


def scenario_key(loaded: LoadedModel, spec: ScenarioSpec) -> ScenarioKey:
    """Cache key: the model plus the resolved scenario, so equivalent requests share one entry."""
    canonical = json.dumps(
        {"name": spec.name, "mode": spec.mode, "values": {str(k): float(v) for k, v in spec.values.items()},
         "targets": spec.targets, "hbm_content": spec.hbm_content, "description": spec.description},
        sort_keys=True,
    )
    return (loaded.version, loaded.run_id, canonical)


def _memory_result(sid: str, res: dict[str, Any]) -> MemoryScenarioResult:
    return MemoryScenarioResult(
        series_id=sid,
        name=get_spec(sid).name,
        unit=str(res["unit"]),
        model_name=str(res["model"]),
        elasticity=CapexElasticity.model_validate(_finite(res["elasticity"])),
        points=[
            MemoryScenarioPoint(ds=date.fromisoformat(p["ds"]), baseline=_num(p.get("baseline")),
                                value=_num(p.get("value")), intervals=_band(p, ""),
                                capex_multiplier=_num(p.get("capex_multiplier")))
            for p in res["points"]
        ],
    )


def scenario_response(loaded: LoadedModel, spec: ScenarioSpec) -> ScenarioResponse:
    """Run the scenario (Monte Carlo: call from a worker thread) and shape it; ScenarioError answers 422."""
    try:
        out = hbm_model.run_scenario(loaded.forecaster, spec)
    except ScenarioError as exc:
        raise ApiError(422, "invalid_scenario", str(exc)) from None
    a = HbmAssumptions.model_validate(_finite(out["assumptions"]))
    targets: dict[str, MemoryScenarioResult | HbmScenarioResult] = {}
    for sid, res in out["targets"].items():
        if sid == HBM_ID:
            targets[sid] = HbmScenarioResult(
                name=HBM_NAME, unit=str(res["unit"]), formula=a.formula,
                baseline=[_hbm_year(r) for r in res["baseline"]], scenario=[_hbm_year(r) for r in res["scenario"]],
            )
        else:
            targets[sid] = _memory_result(sid, res)
    echo = out["scenario"]
    return ScenarioResponse(
        scenario=ScenarioEcho(name=echo["name"], mode=echo["mode"], values=echo["values"],
                              description=echo["description"], hbm_content=spec.hbm_content,
                              targets=list(spec.targets)),
        capex=[CapexYear(year=int(c["year"]), baseline_usd_m=_num(c["baseline_usd_m"]),
                         scenario_usd_m=_num(c["scenario_usd_m"]), multiplier=_num(c["multiplier"]))
               for c in out["capex"]],
        assumptions=a,
        targets=targets,
        model=serving_model(loaded),
    )
