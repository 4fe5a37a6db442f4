"""Run a capex scenario and shape its answer: the stored baseline beside the scenario, one shape per target.

Every target (memory revenues and HBM alike) answers with two forecast results in the one result shape
(``forecasting.result.to_dict``): ``baseline`` is always the stored forecast of the serving model, never
recomputed with the scenario's parameters; ``scenario`` is the same series under the scenario's capex
path (and parameter overrides, which apply to the scenario only).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from forecasting.artifact import Forecaster
from forecasting.hbm import (
    BOUNDS,
    CapexPath,
    HbmAssumptions,
    ScenarioSpec,
    assumptions_of,
    capex_path,
    scenario_series,
    validate,
)
from forecasting.result import ForecastResult, round_value, to_dict


@dataclass
class ScenarioResult:
    spec: ScenarioSpec
    capex: CapexPath
    assumptions: HbmAssumptions
    #: per target: (baseline, scenario)
    targets: dict[str, tuple[ForecastResult, ForecastResult]]


def run_scenario(fc: Forecaster, spec: ScenarioSpec) -> ScenarioResult:
    """Validate (raises ScenarioError with the allowed values), then compute every target's scenario."""
    spec = validate(fc, spec)
    path = capex_path(fc, spec)
    out: dict[str, tuple[ForecastResult, ForecastResult]] = {}
    for t in spec.targets:
        base = fc.series(t)
        years = len(path.years)
        scen = scenario_series(fc, t, path, spec)
        out[t] = (base.result(outlook_years=years), scen.result(outlook_years=years,
                                                                notes=[f"scenario '{spec.name}'"]))
    return ScenarioResult(spec, path, assumptions_of(fc), out)


def scenario_to_dict(res: ScenarioResult, model: Mapping[str, Any] | None = None, *,
                     today: date | None = None) -> dict[str, Any]:
    spec = res.spec
    return {
        "scenario": {"name": spec.name, "mode": spec.mode, "values": {str(k): v for k, v in spec.values.items()},
                     "description": spec.description, "hbm_content": spec.hbm_content, "targets": spec.targets,
                     "bounds": {"min": BOUNDS[spec.mode][0], "max": BOUNDS[spec.mode][1]}},
        "capex": [{"year": y, "baseline": round_value(res.capex.baseline[y]),
                   "scenario": round_value(res.capex.scenario[y]),
                   "multiplier": round_value(res.capex.multiplier(y), 4)}
                  for y in res.capex.years],
        "assumptions": res.assumptions.to_dict(),
        "targets": {t: {"baseline": to_dict(b, today=today), "scenario": to_dict(s, today=today)}
                    for t, (b, s) in res.targets.items()},
        "model": dict(model) if model is not None else None,
    }
