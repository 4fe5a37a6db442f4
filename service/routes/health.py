"""Liveness, readiness and Prometheus metrics (no key, no rate limit: probes and scrapers call these).

All three are ``async`` and do no I/O, so they answer on the event loop and never wait for a thread that
model work or another sync route holds.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from forecasting.serving import LOCAL_CACHE
from service.deps import KnownQueryOnly, RuntimeDep, ServingDep
from service.errors import ApiError
from service.metrics import CONTENT_TYPE
from service.routes.responses import errors
from service.schemas import HealthResponse, ReadyResponse, ReadyStatus

router = APIRouter(tags=["health"], dependencies=[KnownQueryOnly])


@router.get("/healthz", response_model=HealthResponse, operation_id="getHealth", responses=errors(422),
            summary="Liveness: 200 while the process is up")
async def healthz() -> HealthResponse:
    return HealthResponse()


@router.get("/readyz", response_model=ReadyResponse, operation_id="getReadiness", responses=errors(422, 503),
            summary="Readiness: 200 with the champion version, 503 without a model")
async def readyz(serving: ServingDep) -> ReadyResponse:
    m = serving.model
    if m is None:
        raise ApiError(503, "not_ready", "no champion model loaded",
                       {"status": "unavailable", "load_error": serving.load_error})
    return ReadyResponse(
        status=ReadyStatus.DEGRADED if m.source == LOCAL_CACHE else ReadyStatus.READY,
        model_version=m.version,
        source=m.source,
        alias=m.alias,
        loaded_at=m.loaded_at,
    )


@router.get("/metrics", response_class=Response, operation_id="getMetrics",
            responses={200: {"content": {CONTENT_TYPE: {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition"}, **errors(422)},
            summary="Prometheus metrics")
async def metrics(runtime: RuntimeDep) -> Response:
    return Response(runtime.metrics.exposition(), media_type=CONTENT_TYPE)
