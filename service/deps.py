"""Dependencies shared by the routers, as ``Annotated`` aliases.

The app's moving parts (model holder, limiter, jobs, chart cache, injected registry callables) live on
one :class:`Runtime` attached to ``app.state`` by the factory; nothing is module-global, so two apps in
one process (as in the tests) never share state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import polars as pl
from fastapi import Depends, Request, Response, Security, params
from fastapi.dependencies.utils import get_flat_params, get_validation_alias
from fastapi.security import APIKeyHeader

from forecasting.serving import LoadedModel
from service.compute import Compute
from service.config import Settings
from service.errors import ApiError
from service.http_cache import CachedBody, cached_json
from service.jobs import JobRegistry
from service.metrics import ServiceMetrics
from service.security import KeyRing, Principal, RateLimiter, rate_limited, require_admin, require_read
from service.state import ChartCache, ModelHolder, ResultCache, Serving

#: (model version, run id, canonical scenario) -> the serialized response
ScenarioCache = ResultCache[tuple[str, str, str], bytes]
#: serialized JSON of read responses (with ETags) per (model version, run id, route, params): polls re-serve bytes
ResponseCache = ResultCache[tuple[str, ...], CachedBody]


@dataclass
class Runtime:
    holder: ModelHolder
    limiter: RateLimiter
    keys: KeyRing
    compute: Compute
    jobs: JobRegistry
    charts: ChartCache
    metrics: ServiceMetrics
    models_lister: Callable[[], list[dict[str, Any]]]
    retrainer: Callable[[], object]
    scenarios: ScenarioCache
    responses: ResponseCache
    #: bumped on every model/panel swap; answers remembered under an older generation are never served
    generation: int = 0


# Dependencies are `async def` on purpose: they do no I/O, and a sync dependency costs a threadpool hop per
# request (several per route), which dominated the latency of cached forecast reads.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def app_settings(request: Request) -> Settings:
    """The settings the app was built with (``create_app(settings)``; by default ``get_settings()``).

    Read from the app rather than injected through ``dependency_overrides``: with any override registered,
    FastAPI re-inspects every dependency's signature on every request, which cost more than the whole
    cached read.
    """
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(app_settings)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKey",
    description="API key with `read` or `admin` scope (reads may be open; admin routes never are)",
)


def accepted_query(route: object) -> list[str]:
    """The query parameters a route declares (by their names on the wire), from its dependency tree."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return []
    return sorted({get_validation_alias(f) for f in get_flat_params(dependant)
                   if isinstance(f.field_info, params.Query)})


async def known_query_only(request: Request) -> None:
    """422 for a query parameter the route does not declare: a typo (``levle=80``) is never silently ignored."""
    if not request.query_params:
        return
    accepted = accepted_query(request.scope.get("route"))
    unknown = sorted(k for k in set(request.query_params.keys()) if k not in accepted)
    if unknown:
        named = ", ".join(u[:40] for u in unknown[:10])
        raise ApiError(422, "unknown_parameter",
                       f"unknown query parameter(s) {named}; {request.url.path[:200]} accepts "
                       + (", ".join(accepted) if accepted else "none"),
                       {"unknown": [u[:40] for u in unknown[:10]], "accepted": accepted})


KnownQueryOnly = Depends(known_query_only)


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def get_principal(
    request: Request,
    runtime: RuntimeDep,
    api_key: Annotated[str | None, Security(api_key_header)] = None,
) -> Principal:
    """Identify the caller and charge one token, before any 401, so key guessing is throttled too."""
    principal = runtime.keys.identify(api_key, _client_ip(request))
    runtime.limiter.check(principal.client_id)
    return principal


#: tokens an on-demand computation costs in all (a cached read costs 1): reading sample paths for a new
#: horizon/level/currency, drawing a chart or running a scenario takes the compute executor, so an anonymous
#: caller flooding uncached combinations runs out of tokens COMPUTE_COST times sooner than one polling
COMPUTE_COST = 5


@dataclass(frozen=True)
class Meter:
    """The caller's rate-limit bucket, charged the extra cost of work a cached read would not do."""

    limiter: RateLimiter
    client_id: str

    def charge_compute(self) -> None:
        """Charge an uncached computation before it starts (its first token was taken with the request)."""
        wait = self.limiter.acquire(self.client_id, COMPUTE_COST - 1)
        if wait > 0:
            raise rate_limited(wait)

    async def cached(self, cache: ResponseCache, key: tuple[str, ...], compute: Callable[[], Any],
                     on_demand: bool = True, media_type: str = "application/json") -> Response:
        """``cached_json``, charging an on-demand miss first (a hit, or data-only work, costs nothing more)."""
        if on_demand and cache.get(key) is None:
            self.charge_compute()
        return await cached_json(cache, key, compute, on_demand=on_demand, media_type=media_type)


async def get_meter(runtime: RuntimeDep, principal: Annotated[Principal, Depends(get_principal)]) -> Meter:
    return Meter(runtime.limiter, principal.client_id)


MeterDep = Annotated[Meter, Depends(get_meter)]


async def read_access(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
    require_read(principal)
    return principal


async def admin_access(principal: Annotated[Principal, Depends(get_principal)], settings: SettingsDep) -> Principal:
    require_admin(principal, settings)
    return principal


async def get_serving(runtime: RuntimeDep) -> Serving:
    """One snapshot per request: a concurrent reload cannot change the model halfway through a response."""
    return runtime.holder.current


ServingDep = Annotated[Serving, Depends(get_serving)]


async def get_model(serving: ServingDep) -> LoadedModel:
    if serving.model is None:
        raise ApiError(503, "no_model", "no champion model loaded", {"load_error": serving.load_error})
    return serving.model


async def get_panel(serving: ServingDep) -> pl.DataFrame:
    if serving.panel is None:
        raise ApiError(503, "no_data", "the data panel could not be loaded; see the server log")
    return serving.panel


ModelDep = Annotated[LoadedModel, Depends(get_model)]
PanelDep = Annotated[pl.DataFrame, Depends(get_panel)]
ReadAccess = Depends(read_access)
AdminAccess = Depends(admin_access)
