"""Routers, one per resource; ``api_router`` gathers the versioned ones under ``/v1``."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import KnownQueryOnly
from service.routes import admin, backtests, forecasts, models, scenarios, series, track_record

# a query parameter an operation does not declare answers 422 (never silently ignored)
api_router = APIRouter(prefix="/v1", dependencies=[KnownQueryOnly])
for _module in (series, forecasts, backtests, track_record, models, scenarios, admin):
    api_router.include_router(_module.router)

__all__ = ["api_router"]
