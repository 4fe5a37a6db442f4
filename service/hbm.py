"""HBM assumptions and capex scenarios as plain functions of the serving model: testable without HTTP.

HBM revenue itself is served by the generic forecast routes (it is a series model like any other).
Scenario POSTs run on demand: the request is resolved to a ``ScenarioSpec`` and handed to
``forecasting.scenarios.run_scenario``. What the schema can state (modes, bounds per mode, targets, the
``hbm_content`` range, exactly one of a named scenario or a path) is refused by request validation with a
422; what depends on the serving model (the years its capex forecast completes, absolute capex relative to
its baseline, targets it does not forecast, a model without capex) is refused by forecasting's one validator
(``ScenarioError``), which this module turns into a 409 carrying forecasting's own message.

The ``guidance`` scenario reads the dated company statements (``pipelines.guidance``) from the configured data
directory: they are a scenario input, never data a model is trained on. A guidance file that is missing or
unreadable is a problem of the server's data, not of the request: 503 ``guidance_unavailable`` naming the file
(relative to the data directory), the line and the problem, never a 500.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from datetime import date
from typing import Any

import polars as pl

from forecasting.hbm import MissingPanelError, ScenarioError, ScenarioSpec, assumptions_of, capex_annual, validate
from forecasting.reconcile import MEMORY_MARKET
from forecasting.result import round_value
from forecasting.scenarios import GUIDANCE, guidance_spec, run_scenario, scenario_to_dict
from forecasting.serving import LoadedModel
from pipelines.config import get_data_settings
from pipelines.errors import DataValidationError, first_line
from pipelines.fx import CurrencyError
from pipelines.guidance import GUIDANCE_FILE, load_capex_guidance
from service.errors import ApiError
from service.logic import PUBLISHED_DIGITS, serving_model
from service.schemas import HbmAssumptionsResponse, NamedScenarioRequest, ScenarioRequest, ScenarioResponse

log = logging.getLogger("chipcast.service")

ScenarioKey = tuple[str, str, str]
GuidanceLoader = Callable[[], pl.DataFrame]
#: significant digits of calibrated ratios and elasticities
RATIO_DIGITS = 4


def assumptions_response(loaded: LoadedModel) -> HbmAssumptionsResponse:
    if loaded.forecaster.hbm is None:
        raise ApiError(404, "no_hbm_model",
                       f"model version {loaded.version} has no HBM calibration: it was trained without "
                       "capex_hyperscalers_total")
    body = present(assumptions_of(loaded.forecaster).to_dict())
    assert isinstance(body, dict)
    return HbmAssumptionsResponse.model_validate({**body, "model": serving_model(loaded)})


def present(obj: object, key: str = "") -> object:
    """The same structure for JSON: non-finite floats as None, amounts (``*_usd_m``, ``*_usd_bn``: sums of
    published figures) cleaned to 12 significant digits, every other float (ratios, elasticities, standard
    errors) rounded to 4."""
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return None
        return round_value(obj, PUBLISHED_DIGITS if key.endswith(("_usd_m", "_usd_bn")) else RATIO_DIGITS)
    if isinstance(obj, dict):
        return {k: present(v, str(k)) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [present(v, key) for v in obj]
    return obj


def default_guidance() -> pl.DataFrame:
    """Every dated capex statement in the configured data directory, context rows included (they are echoed)."""
    return load_capex_guidance(get_data_settings().data_dir, include_context=True)


def read_guidance(guidance: GuidanceLoader) -> pl.DataFrame:
    """The guidance statements, or 503 ``guidance_unavailable`` when the server's guidance file cannot be read.

    A validation error names the file and line (the file as configured, relative to the data directory: the
    client never sees server paths); any other error only by its class, the rest goes to the server log.
    """
    try:
        return guidance()
    except DataValidationError as exc:
        log.warning("capex guidance unavailable: %s", exc)
        where = GUIDANCE_FILE + (f", line {exc.line}" if exc.line is not None else "")
        message = f"the capex guidance could not be read ({where}: {exc.problem})"
    except Exception as exc:
        log.exception("capex guidance unavailable")
        message = (f"the capex guidance could not be read ({GUIDANCE_FILE}: {type(exc).__name__}, details in the "
                   "server log)")
    raise ApiError(503, "guidance_unavailable", message + "; the other scenarios are not affected")


def scenario_spec(loaded: LoadedModel, body: ScenarioRequest,
                  guidance: GuidanceLoader = default_guidance) -> ScenarioSpec:
    """The request as a validated, canonical spec (targets resolved) before any scenario work starts.

    Model-dependent refusals (``ScenarioError``) answer 409 with forecasting's message, which states what
    the serving model allows. Reads the serving model's capex paths: call it off the event loop.
    """
    targets = [t.value for t in body.targets or []]
    try:
        if isinstance(body, NamedScenarioRequest):
            if body.scenario == GUIDANCE:
                return guidance_spec(loaded.forecaster, read_guidance(guidance), targets, body.hbm_content)
            years = capex_annual(loaded.forecaster)  # the named scenarios' years are the capex forecast's
            spec = ScenarioSpec.named(body.scenario.value, targets, years[0])
        else:
            years = None
            capex = body.capex
            spec = ScenarioSpec(name=body.name or "custom", mode=capex.mode,
                                values=dict(sorted(capex.values.items())), targets=targets,
                                description=f"user-defined capex path ({capex.mode})")
        spec.hbm_content = body.hbm_content
        return validate(loaded.forecaster, spec, years)
    except ScenarioError as exc:
        raise ApiError(409, "invalid_scenario", str(exc)) from None


def scenario_key(loaded: LoadedModel, spec: ScenarioSpec) -> ScenarioKey:
    """Cache key: the model plus the canonical scenario, so equivalent requests share one entry."""
    canonical = json.dumps({"name": spec.name, "mode": spec.mode,
                            "values": {str(k): float(v) for k, v in spec.values.items()}, "targets": spec.targets,
                            "hbm_content": spec.hbm_content, "description": spec.description,
                            "sources": spec.sources}, sort_keys=True)
    return (loaded.version, loaded.run_id, canonical)


def scenario_response(loaded: LoadedModel, spec: ScenarioSpec, today: date,
                      panel: pl.DataFrame | None) -> ScenarioResponse:
    """Run the scenario (call from a worker thread); a refused scenario raises ScenarioError -> 409.

    ``panel`` (None if it could not be loaded) gives the memory market its makers' exchange rates; without
    them a scenario for the market is a 503 (the server's data, not the request), other targets still run.
    """
    try:
        result = run_scenario(loaded.forecaster, spec, panel)
    except ScenarioError as exc:
        raise ApiError(409, "invalid_scenario", str(exc)) from None
    except (MissingPanelError, CurrencyError) as exc:
        log.warning("scenario needs exchange rates: %s", exc)
        raise ApiError(503, "no_data", f"{first_line(exc)}; scenarios without {MEMORY_MARKET} still run") \
            from None
    body: dict[str, Any] = scenario_to_dict(result, loaded.metadata(), today=today)
    body["assumptions"] = {**present(body["assumptions"]), "model": None}  # type: ignore[dict-item]
    body["scenario"] = present(body["scenario"])
    return ScenarioResponse.model_validate(body)
