"""Strong ETags, conditional GETs and Cache-Control for every successful GET, and the cached read bodies.

Dashboards poll. A strong ETag computed from the exact response bytes lets them revalidate with
``If-None-Match`` and get an empty 304 while nothing changed. Read bodies are serialized once and kept as
bytes with their ETag (:class:`CachedBody`), so a poll costs neither a model fit nor serialization nor a hash.
The rules are applied to every GET in one place (``service.front``), so no route can forget them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from service.config import Settings
from service.state import ResultCache


@dataclass(frozen=True, slots=True)
class CachedBody:
    """Serialized JSON and its strong ETag, computed once when the body is cached."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, body: bytes) -> CachedBody:
        return cls(body, strong_etag(body))

    def nbytes(self) -> int:
        return len(self.body) + len(self.etag)


async def cached_json(cache: ResultCache[Any, CachedBody], key: tuple[Hashable, ...], compute: Callable[[], Any],
                      on_demand: bool = True, media_type: str = "application/json") -> Response:
    """Serve the serialized body of an identical earlier read; on a miss build it once, off the event loop.

    ``compute`` returns a pydantic model (served as JSON) or bytes (served as ``media_type``, e.g. CSV).
    ``cache`` is the runtime's response cache, cleared whenever the served model or panel is swapped, so a
    key only needs what else the body depends on (route, parameters, and the day for staleness).
    ``on_demand`` computations (reading sample paths for an uncached horizon, level or outlook) run on the
    compute executor and answer 503 with Retry-After when it is full; pass ``False`` for work that only
    reads data.
    """

    def build() -> CachedBody:
        out = compute()
        return CachedBody.of(out if isinstance(out, bytes) else out.model_dump_json().encode())

    hit = await cache.fetch(key, build, on_demand=on_demand)
    if media_type == "text/csv":
        media_type = "text/csv; charset=utf-8"
    return Response(hit.body, media_type=media_type, headers={"ETag": hit.etag})


def strong_etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison, as If-None-Match requires: ``W/"x"`` matches ``"x"``; ``*`` matches all."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return etag.removeprefix("W/") in tags


#: routes whose body depends on ``Accept`` (``text/csv`` selects CSV), by path shape
_NEGOTIATED = ("/v1/forecasts/", "/v1/track-record/")


def vary(path: str, settings: Settings) -> str:
    """The request headers a 200 GET's body or its cache policy depends on (``Vary``), empty if none.

    With reads behind keys (``private``), who may read is decided per ``X-API-Key``; forecasts, outlooks
    and track records choose CSV by ``Accept``.
    """
    names = []
    if path.startswith("/v1/") and not settings.read_open:
        names.append("X-API-Key")
    if path.startswith(_NEGOTIATED) and not path.endswith(".png"):
        names.append("Accept")
    return ", ".join(names)


def cache_policy(path: str, settings: Settings) -> str:
    """Cache-Control per route family. Reads are ``private`` whenever a key is required to make them."""
    scope = "public" if settings.read_open else "private"
    if path == "/metrics" or path.startswith("/v1/admin"):
        return "no-store"
    if path in ("/healthz", "/readyz"):
        return "no-cache"
    if path.startswith("/v1/series"):
        return f"{scope}, max-age={settings.catalog_max_age}"
    if path.startswith("/v1/"):
        # forecasts, backtests and the model list change when a model is reloaded
        return f"{scope}, max-age={settings.forecast_max_age}"
    if path.startswith("/static/"):
        return "public, max-age=3600"
    return "no-cache"
