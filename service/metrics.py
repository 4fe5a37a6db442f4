"""Prometheus metrics: requests and latency per route template, and which model version is serving.

Requests are counted and timed by the front door (``service.front``), the outermost layer of the app.

Each app gets its own registry, so several apps in one process (tests, workers) never collide on
metric names. Routes are labelled by template (``/v1/forecasts/{series_id}``), never by raw path, so
label cardinality stays bounded whatever clients request.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from starlette.types import Scope

from service.state import Serving

UNMATCHED = "unmatched"
CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.requests = Counter(
            "chipcast_http_requests", "HTTP requests by route template, method and status",
            ["method", "route", "status"], registry=self.registry,
        )
        self.latency = Histogram(
            "chipcast_http_request_duration_seconds", "HTTP request latency by route template",
            ["method", "route"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.model_info = Gauge(
            "chipcast_model_info", "The serving model (value 1): version, run id, alias and source",
            ["version", "run_id", "alias", "source"], registry=self.registry,
        )
        self.model_loaded = Gauge("chipcast_model_loaded", "1 if a champion model is loaded", registry=self.registry)
        self.cached_reads = Counter(
            "chipcast_http_cached_reads", "GETs answered from cached response bytes without routing, by route "
            "template (also counted in chipcast_http_requests)", ["route"], registry=self.registry,
        )
        # label children are looked up once per label set, not per request; the label sets are bounded
        # (route templates x methods x statuses)
        self._requests: dict[tuple[str, str, int], Any] = {}
        self._latency: dict[tuple[str, str], Any] = {}
        self._cached: dict[str, Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request and its latency."""
        counter = self._requests.get((method, route, status))
        if counter is None:
            counter = self._requests[(method, route, status)] = self.requests.labels(method, route, str(status))
        counter.inc()
        histogram = self._latency.get((method, route))
        if histogram is None:
            histogram = self._latency[(method, route)] = self.latency.labels(method, route)
        histogram.observe(seconds)

    def cached_read(self, route: str) -> None:
        child = self._cached.get(route)
        if child is None:
            child = self._cached[route] = self.cached_reads.labels(route)
        child.inc()

    def set_serving(self, serving: Serving) -> None:
        self.model_info.clear()
        m = serving.model
        if m is None:
            self.model_loaded.set(0)
            return
        self.model_info.labels(m.version, m.run_id, m.alias, m.source).set(1)
        self.model_loaded.set(1)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def route_template(scope: Scope) -> str:
    """The matched route's full template, prefixes included (``/v1/forecasts/{series_id}``).

    FastAPI keeps routes of included routers relative to their router and records the full template in
    its per-request route context; Starlette's ``scope["route"]`` is the fallback (mounts, plain routes).
    """
    fastapi_scope = scope.get("fastapi")
    context = fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    path = getattr(context, "path", None) or getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED
