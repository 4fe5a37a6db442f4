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


@router.get("", response_model=ModelsResponse, operation_id="listModels", responses=errors(*READ_ERRORS, 503),
            summary="Model versions, aliases and metrics")
def list_models(runtime: RuntimeDep, serving: ServingDep) -> ModelsResponse:
    try:
        registered = runtime.models_lister()
    except Exception as exc:
        log.warning("listing registered models failed: %s", type(exc).__name__)
        raise ApiError(503, "registry_unavailable", "the model registry could not be listed") from None
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
