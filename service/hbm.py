"""HBM assumptions and capex scenarios as plain functions of the serving model: testable without HTTP.

HBM revenue itself is served by the generic forecast routes (it is a series model like any other).
Scenario POSTs run on demand: the request is resolved to a ``ScenarioSpec`` and handed to
``forecasting.scenarios.run_scenario``, whose one validator raises ``ScenarioError``; the app's single
handler turns that into a 422 stating the allowed values.
"""

from __future__ import annotations

import json
from datetime import date

from forecasting.hbm import ScenarioSpec, assumptions_of, validate
from forecasting.scenarios import run_scenario, scenario_to_dict
from forecasting.serving import LoadedModel
from service.errors import ApiError
from service.logic import serving_model
from service.schemas import HbmAssumptionsResponse, ScenarioRequest, ScenarioResponse

ScenarioKey = tuple[str, str, str]


def assumptions_response(loaded: LoadedModel) -> HbmAssumptionsResponse:
    if loaded.forecaster.hbm is None:
        raise ApiError(404, "no_hbm_model",
                       f"model version {loaded.version} has no HBM calibration: it was trained without "
                       "capex_hyperscalers_total")
    body = _finite(assumptions_of(loaded.forecaster).to_dict())
    assert isinstance(body, dict)
    return HbmAssumptionsResponse.model_validate({**body, "model": serving_model(loaded)})


def _finite(obj: object) -> object:
    """The same structure with every non-finite float replaced by None (JSON has no NaN)."""
    import math

    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def scenario_spec(loaded: LoadedModel, body: ScenarioRequest) -> ScenarioSpec:
    """The request as a validated, canonical spec (targets resolved) before any work starts.

    Everything model-dependent is checked by forecasting's one validator; a refusal raises ScenarioError.
    """
    if body.scenario is not None:
        spec = ScenarioSpec.named(body.scenario, list(body.targets or []))
    else:
        assert body.capex is not None  # the request model enforces exactly one of scenario / capex
        spec = ScenarioSpec(name=body.name or "custom", mode=body.capex.mode,
                            values=dict(sorted(body.capex.values.items())), targets=list(body.targets or []),
                            description=f"user-defined capex path ({body.capex.mode})")
    spec.hbm_content = body.hbm_content
    return validate(loaded.forecaster, spec)


def scenario_key(loaded: LoadedModel, spec: ScenarioSpec) -> ScenarioKey:
    """Cache key: the model plus the canonical scenario, so equivalent requests share one entry."""
    canonical = json.dumps({"name": spec.name, "mode": spec.mode,
                            "values": {str(k): float(v) for k, v in spec.values.items()}, "targets": spec.targets,
                            "hbm_content": spec.hbm_content, "description": spec.description}, sort_keys=True)
    return (loaded.version, loaded.run_id, canonical)


def scenario_response(loaded: LoadedModel, spec: ScenarioSpec, today: date) -> ScenarioResponse:
    """Run the scenario (call from a worker thread); a refused scenario raises ScenarioError (-> 422)."""
    result = run_scenario(loaded.forecaster, spec)
    body = scenario_to_dict(result, loaded.metadata(), today=today)
    body["assumptions"] = {**_finite(body["assumptions"]), "model": None}  # type: ignore[dict-item]
    return ScenarioResponse.model_validate(body)
