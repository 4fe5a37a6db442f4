"""Registered model versions (from the tracking registry), the one this process serves, and its HBM assumptions."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from service import hbm, logic
from service.deps import ModelDep, ReadAccess, RuntimeDep, ServingDep
from service.errors import ApiError
from service.routes.responses import READ_ERRORS, errors
from service.schemas import HbmAssumptionsResponse, ModelsResponse

log = logging.getLogger("chipcast.service")

router = APIRouter(prefix="/models", tags=["models"], dependencies=[ReadAccess])


@router.get("", response_model=ModelsResponse, operation_id="listModels",
            responses=errors(*READ_ERRORS, 503, descriptions={
                503: "The model registry could not be reached (`registry_unavailable`); the served model is "
                     "unaffected. An empty registry is a 200 with no models"}),
            summary="Model versions, aliases and metrics")
def list_models(runtime: RuntimeDep, serving: ServingDep) -> ModelsResponse:
    try:
        registered = runtime.models_lister()
    except Exception as exc:  # an unreachable registry raises (an empty one lists nothing): never 200 []
        # the registry's own text may name internal hosts: it goes to the server log (tracking logs it), not to
        # a reader
        log.warning("listing registered models failed: %s", type(exc).__name__)
        serving_version = serving.model.version if serving.model else None
        raise ApiError(503, "registry_unavailable",
                       "the model registry could not be reached, so registered versions cannot be listed; the "
                       f"served model (version {serving_version or 'none'}) is unaffected",
                       {"serving_version": serving_version}) from None
    return logic.models_response(serving.model, registered)


@router.get(
    "/hbm/assumptions",
    response_model=HbmAssumptionsResponse,
    operation_id="getHbmAssumptions",
    responses=errors(*READ_ERRORS, 404, 503),
    summary="HBM model assumptions: formula, parameter ranges, sources, calibration points, elasticities, limits",
    description="What the HBM revenue model and the capex scenarios assume, as calibrated when the serving "
                "champion was trained. 404 if the champion was trained without `capex_hyperscalers_total`.",
)
def hbm_assumptions(model: ModelDep) -> HbmAssumptionsResponse:
    return hbm.assumptions_response(model)
