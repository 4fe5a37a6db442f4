"""The FastAPI app factory and the ``chipcast serve`` entry point.

Everything the app talks to outside itself (the model registry, the retrainer, the data panel) comes in
through callables, so tests inject fakes and the service never imports mlflow: the defaults import
``forecasting.tracking`` lazily, only when first called.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import polars as pl
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp

from forecasting.serving import LoadedModel
from pipelines.config import get_data_settings
from pipelines.panel import load_panel
from pipelines.store import LocalStore
from service.compute import Compute
from service.config import Settings, get_settings
from service.deps import ResponseCache, Runtime, ScenarioCache
from service.errors import install_error_handlers
from service.front import FrontDoor
from service.http_cache import CachedBody
from service.jobs import JobRegistry
from service.metrics import ServiceMetrics
from service.routes import api_router, dashboard, health
from service.routes.dashboard import STATIC_DIR
from service.routes.openapi import install_openapi
from service.security import KeyRing, RateLimiter
from service.server import serve_app
from service.state import ChartCache, ModelHolder, PanelLoader, ResultCache, Serving

DESCRIPTION = """\
Forecasts of semiconductor supply and demand from real public series, with backtested accuracy and
prediction intervals.

* **Investors**: `GET /v1/forecasts/{id}/outlook` for calendar-year totals and growth, `.png` for a chart.
* **Data scientists**: `GET /v1/series/{id}/history?format=csv`, `GET /v1/backtests/{id}`, `GET /v1/models`.
* **Memory and HBM**: `GET /v1/forecasts/hbm_revenue/outlook` (a structural model: capex x accelerator share x
  HBM content, with its assumptions), `GET /v1/models/hbm/assumptions`, and `POST /v1/scenarios` for memory
  and HBM under a named (bear/base/bull) or user-defined hyperscaler-capex path.
* **Dashboards**: every GET has a strong `ETag`; send `If-None-Match` and get `304` while nothing changed.
  Forecasts are read off sample paths stored at train time, so polling never fits a model.

Errors always look like `{"error": {"code": ..., "message": ..., "detail": ...}}`. Keys go in `X-API-Key`.
A parameter the schema does not allow answers 422; a well-formed request this series or the serving model cannot
answer (a horizon beyond the series' own maximum, US$ for a series that is not money) answers 409 with what it can.
Every GET also answers HEAD.
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


class ChipcastApp(FastAPI):
    """FastAPI with chipcast's front door (``service.front``) outside its whole middleware stack.

    The front door has to see every request first (limits before anything reads a body, cached reads
    without routing) and every response last (ETags, metrics). CORS, when configured, wraps it, so
    remembered answers never carry another request's CORS headers.
    """

    def build_middleware_stack(self) -> ASGIApp:
        settings: Settings = self.state.settings
        front = self.state.front = FrontDoor(super().build_middleware_stack(), self.state.runtime, settings)
        app: ASGIApp = front
        if settings.cors_origins:
            app = CORSMiddleware(
                app,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["X-API-Key", "Content-Type", "If-None-Match"],
                expose_headers=["ETag", "Retry-After"],
                allow_credentials=False,
                max_age=600,
            )
        return app


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
    compute = Compute(settings.compute_workers, settings.compute_queue)
    charts = ChartCache(settings.chart_cache_entries, settings.chart_cache_bytes, executor=compute)
    scenarios: ScenarioCache = ResultCache(settings.scenario_cache_entries, settings.scenario_cache_bytes,
                                           executor=compute)
    responses: ResponseCache = ResultCache(settings.response_cache_entries, settings.response_cache_bytes,
                                           sizeof=CachedBody.nbytes, executor=compute)

    def on_swap(serving: Serving) -> None:
        charts.clear()
        scenarios.clear()
        responses.clear()
        runtime.generation += 1
        metrics.set_serving(serving)

    runtime = Runtime(
        holder=ModelHolder(model_loader or _default_model_loader, panel_loader or _default_panel_loader, on_swap),
        limiter=RateLimiter(settings.rate_limit_per_minute, settings.bucket_size, settings.rate_limit_max_clients),
        keys=KeyRing(settings),
        compute=compute,
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
        # everything loaded so far lives as long as the process: keep it out of the cyclic GC's generations,
        # so a full collection triggered by a burst of requests does not stall the event loop for it
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            compute.shutdown()

    app = ChipcastApp(
        title="chipcast",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        # streamed bodies without a Content-Length are counted here (413); declared ones in the front door
        max_body_size=settings.max_body_bytes,
    )
    app.state.runtime = runtime
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(api_router)
    app.include_router(health.router)
    app.include_router(dashboard.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_openapi(app, settings)
    return app


def run(host: str, port: int, settings: Settings | None = None) -> None:
    """Serve with uvicorn and chipcast's connection limits (``chipcast serve``)."""
    settings = settings or get_settings()
    serve_app(create_app(settings), settings, host, port)
