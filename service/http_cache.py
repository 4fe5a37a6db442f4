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

from starlette.requests import Request
from starlette.responses import Response

from service.config import Settings
from service.schemas import OutputFormat
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


def negotiates(path: str) -> bool:
    """Whether a GET of ``path`` chooses JSON or CSV by ``Accept``: forecasts, outlooks, history, track records."""
    if path.startswith(("/v1/forecasts/", "/v1/track-record/")):
        return not path.endswith(".png")
    return path.startswith("/v1/series/") and path.endswith("/history")


def _quality(ranges: list[tuple[str, str, float]], media_type: str) -> tuple[float, int]:
    """(q, specificity) of the most specific range matching ``media_type``; (0, -1) when none does."""
    kind, sub = media_type.split("/")
    best = (0.0, -1)
    for r_kind, r_sub, q in ranges:
        if (r_kind, r_sub) == (kind, sub):
            specificity = 2
        elif (r_kind, r_sub) == (kind, "*"):
            specificity = 1
        elif (r_kind, r_sub) == ("*", "*"):
            specificity = 0
        else:
            continue
        if specificity > best[1]:
            best = (q, specificity)
    return best


def prefers_csv(accept: str | None) -> bool:
    """Whether an ``Accept`` header asks for CSV rather than JSON (RFC 9110 12.5.1 media ranges and q-values).

    CSV wins when ``text/csv`` is acceptable (q > 0) and either has a higher q than ``application/json`` or
    the same q from a more specific range (``text/csv`` over ``*/*``); anything else, a tie, a missing or
    unparsable header, is JSON, the default. A range with an unparsable q is ignored. Every route that
    negotiates and the front door's cache key use this one function, so they can never disagree.
    """
    if not accept:
        return False
    ranges: list[tuple[str, str, float]] = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        kind, slash, sub = media.lower().partition("/")
        if not slash or not kind or not sub:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = -1.0
        if 0.0 <= q <= 1.0:
            ranges.append((kind, sub, q))
    csv_q, csv_specificity = _quality(ranges, "text/csv")
    json_q, json_specificity = _quality(ranges, "application/json")
    return csv_q > 0 and (csv_q, csv_specificity) > (json_q, json_specificity)


def wants_csv(fmt: OutputFormat | None, request: Request) -> bool:
    """The format a negotiating route answers in: ``?format=`` when given, else the request's ``Accept``."""
    if fmt is not None:
        return fmt == OutputFormat.CSV
    return prefers_csv(", ".join(request.headers.getlist("accept")))


def vary(path: str, settings: Settings) -> str:
    """The request headers a 200 GET's body or its cache policy depends on (``Vary``), empty if none.

    With reads behind keys (``private``), who may read is decided per ``X-API-Key``; forecasts, outlooks,
    history and track records choose CSV by ``Accept`` (:func:`negotiates`).
    """
    names = []
    if path.startswith("/v1/") and not settings.read_open:
        names.append("X-API-Key")
    if negotiates(path):
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
