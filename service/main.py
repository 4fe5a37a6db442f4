"""The FastAPI app factory and the ``chipcast serve`` entry point.

Everything the app talks to outside itself (the model registry, the retrainer, the data panel) comes in
through callables, so tests inject fakes and the service never imports mlflow: the defaults import
``forecasting.tracking`` lazily, only when first called.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import polars as pl
import uvicorn
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from forecasting.serving import LoadedModel
from pipelines.config import get_data_settings
from pipelines.panel import load_panel
from pipelines.store import LocalStore
from service.config import Settings, get_settings
from service.deps import ResponseCache, Runtime, ScenarioCache
from service.errors import install_error_handlers
from service.http_cache import ConditionalGetMiddleware
from service.jobs import JobRegistry
from service.metrics import MetricsMiddleware, ServiceMetrics
from service.routes import api_router, dashboard, health
from service.routes.dashboard import STATIC_DIR
from service.security import RateLimiter
from service.state import ChartCache, ModelHolder, PanelLoader, Serving

DESCRIPTION = """\
Forecasts of semiconductor supply and demand from real public series, with backtested accuracy and
prediction intervals.

* **Investors**: `GET /v1/forecasts/{id}/outlook` for calendar-year totals and growth, `.png` for a chart.
* **Data scientists**: `GET /v1/series/{id}/history?format=csv`, `GET /v1/backtests/{id}`, `GET /v1/models`.
* **Memory and HBM**: `GET /v1/forecasts/hbm_revenue/outlook` (a structural model: capex x accelerator share x
  HBM content, with its assumptions), `GET /v1/models/hbm/assumptions`, and `POST /v1/scenarios` for memory
  and HBM under a named (bear/base/bull) or user-defined hyperscaler-capex path.
* **Dashboards**: every GET has a strong `ETag`; send `If-None-Match` and get `304` while nothing changed.
  Default-horizon forecasts and outlooks are precomputed, so polling never fits a model.

Errors always look like `{"error": {"code": ..., "message": ..., "detail": ...}}`. Keys go in `X-API-Key`.
"""


def _default_model_loader() -> LoadedModel:
    from forecasting.tracking import load_model

    return load_model("champion")


def _default_models_lister() -> list[dict[str, Any]]:
    from forecasting.tracking import list_models

    return list_models()


def _default_retrainer() -> None:
    from forecasting.tracking import retrain_and_register

    retrain_and_register()


def _default_panel_loader() -> pl.DataFrame:
    data = get_data_settings()
    return load_panel(data_dir=data.data_dir, store=LocalStore(data.store_dir))


def create_app(
    settings: Settings | None = None,
    model_loader: Callable[[], LoadedModel] | None = None,
    models_lister: Callable[[], list[dict[str, Any]]] | None = None,
    retrainer: Callable[[], object] | None = None,
    panel_loader: PanelLoader | None = None,
) -> FastAPI:
    """Build the app; the champion is loaded once in the lifespan (a failure leaves it up but not ready)."""
    settings = settings or get_settings()
    metrics = ServiceMetrics()
    charts = ChartCache()
    scenarios = ScenarioCache(max_entries=settings.scenario_cache_entries)
    responses = ResponseCache(max_entries=512)

    def on_swap(serving: Serving) -> None:
        charts.clear()
        scenarios.clear()
        responses.clear()
        metrics.set_serving(serving)

    runtime = Runtime(
        holder=ModelHolder(model_loader or _default_model_loader, panel_loader or _default_panel_loader, on_swap),
        limiter=RateLimiter(settings.rate_limit_per_minute, settings.bucket_size, settings.rate_limit_max_clients),
        jobs=JobRegistry(),
        charts=charts,
        metrics=metrics,
        models_lister=models_lister or _default_models_lister,
        retrainer=retrainer or _default_retrainer,
        scenarios=scenarios,
        responses=responses,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(runtime.holder.start)
        yield

    app = FastAPI(
        title="chipcast",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.runtime = runtime

    async def current_settings() -> Settings:
        return settings

    app.dependency_overrides[get_settings] = current_settings
    install_error_handlers(app)
    app.include_router(api_router)
    app.include_router(health.router)
    app.include_router(dashboard.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(ConditionalGetMiddleware, settings=settings)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["X-API-Key", "Content-Type", "If-None-Match"],
            expose_headers=["ETag", "Retry-After"],
            allow_credentials=False,
            max_age=600,
        )
    return app


def run(host: str, port: int) -> None:
    """Serve with uvicorn (``chipcast serve``)."""
    uvicorn.run(create_app(), host=host, port=port)
