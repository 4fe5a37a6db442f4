"""Registered model versions (from the tracking registry) and the one this process serves."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from service import logic
from service.deps import ReadAccess, RuntimeDep, ServingDep
from service.errors import ApiError
from service.routes.responses import READ_ERRORS, errors
from service.schemas import ModelsResponse

log = logging.getLogger("chipcast.service")

router = APIRouter(prefix="/models", tags=["models"], dependencies=[ReadAccess])


@router.get("", response_model=ModelsResponse, responses=errors(*READ_ERRORS, 503),
            summary="Model versions, aliases and metrics")
def list_models(runtime: RuntimeDep, serving: ServingDep) -> ModelsResponse:
    try:
        registered = runtime.models_lister()
    except Exception as exc:
        log.warning("listing registered models failed: %s", type(exc).__name__)
        raise ApiError(503, "registry_unavailable", "the model registry could not be listed") from None
    return logic.models_response(serving.model, registered)
