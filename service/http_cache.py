"""Strong ETags, conditional GETs and Cache-Control for every successful GET.

Dashboards poll. A strong ETag computed from the exact response bytes lets them revalidate with
``If-None-Match`` and get an empty 304 while nothing changed; the body is produced from cached
forecasts, so a poll costs serialisation, never a model fit. Doing this in one middleware keeps the
routes free of caching code and guarantees no GET route forgets it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.config import Settings


async def cached_json(cache: Any, key: tuple[Hashable, ...], compute: Callable[[], Any],
                      media_type: str = "application/json") -> Response:
    """Serve the serialized body of an identical earlier read; build it off the event loop on a miss.

    ``compute`` returns a pydantic model (serialized as JSON) or bytes (served as ``media_type``).
    ``cache`` is the runtime's response cache, cleared whenever the served model or panel is swapped, so a
    key only needs what else the body depends on (route, parameters, and the day for staleness).
    """

    def build() -> bytes:
        out = compute()
        return out if isinstance(out, bytes) else out.model_dump_json().encode()

    hit = cache.get(key)
    if hit is None:
        hit = await run_in_threadpool(lambda: cache.get_or_compute(key, build))
    if media_type == "text/csv":
        media_type = "text/csv; charset=utf-8"
    return Response(hit, media_type=media_type)


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


class ConditionalGetMiddleware:
    """Adds ETag + Cache-Control to 200 GET responses and turns matching If-None-Match into 304."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] != "GET":
            await self.app(scope, receive, self._no_store(send))
            return
        if_none_match = Headers(scope=scope).get("if-none-match")
        path: str = scope.get("path", "")
        start: Message | None = None
        chunks: list[bytes] = []
        passthrough = False

        async def capture(message: Message) -> None:
            nonlocal start, passthrough
            if message["type"] == "http.response.start":
                if message["status"] != 200:
                    passthrough = True
                    await send(message)
                    return
                start = message
                return
            if message["type"] != "http.response.body" or passthrough:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            assert start is not None
            body = b"".join(chunks)
            headers = MutableHeaders(raw=list(start["headers"]))
            etag = headers.get("etag") or strong_etag(body)
            headers["ETag"] = etag
            if "cache-control" not in headers:
                headers["Cache-Control"] = cache_policy(path, self.settings)
            if etag_matches(if_none_match, etag):
                for name in ("content-length", "content-type", "content-encoding"):
                    if name in headers:
                        del headers[name]
                await send({"type": "http.response.start", "status": 304, "headers": headers.raw})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send({**start, "headers": headers.raw})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, capture)

    @staticmethod
    def _no_store(send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(raw=list(message["headers"]))
                if "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
                message = {**message, "headers": headers.raw}
            await send(message)

        return wrapped
