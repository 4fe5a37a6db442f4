"""The outermost layer of the app: request limits, metrics, conditional GETs, and cached reads in one pass.

Every HTTP request passes here once (pure ASGI, no per-request objects it does not need):

* **Body limits.** A declared ``Content-Length`` over ``max_body_bytes`` answers 413 before anything reads the
  body or checks a key (Starlette's limiter, configured by the app, counts streamed bodies without a length);
  a body has ``body_timeout`` seconds to arrive, then 408. Both close the connection.
* **Metrics.** Requests and latency by route template (label children cached in ``ServiceMetrics``).
* **Conditional GETs.** Every 200 GET gets a strong ETag (taken from the response when the route cached it,
  else hashed here), a Cache-Control and the ``Vary`` its body depends on (``X-API-Key`` when reads need a
  key, so a shared cache never hands one caller's answer to another; ``Accept`` where ``Accept: text/csv``
  chooses CSV); a matching ``If-None-Match`` turns it into an empty 304. Other methods get
  ``Cache-Control: no-store`` unless they set one.
* **HEAD.** Every GET route answers HEAD: the request runs as the GET it mirrors (same checks, limits, status
  and headers, Content-Length included) and the body is dropped here, so no route declares HEAD itself.
* **Cached reads.** A 200 GET of a route in :data:`CACHEABLE_ROUTES` is remembered by its raw path and
  query and, where ``Accept`` chooses the body (``http_cache.negotiates``), the format it negotiates (csv or
  json, by ``http_cache.prefers_csv``, the function the routes use: any number of distinct ``Accept`` strings
  make at most two entries). The next such GET is answered straight from those bytes: the key check, the
  rate limit, the 304 and the metrics are applied here, with the same statuses, headers and bodies the full
  stack would produce, and routing, dependencies and serialization are skipped. A caller the full stack would
  refuse (invalid key, no read scope) and any request carrying a body go the long way, so every refusal keeps
  its one definition. Remembered answers are dropped when the served model or panel is swapped and at each
  UTC midnight, and are bounded like the response cache (entries and bytes, least recently used first).

A route may be listed in :data:`CACHEABLE_ROUTES` only if its 200 body depends on nothing but the serving
snapshot (model and panel), the path and query, the format ``Accept`` negotiates, the UTC day and the settings,
and it requires read access.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.config import Settings
from service.deps import Runtime
from service.errors import error_response
from service.http_cache import cache_policy, etag_matches, negotiates, prefers_csv, strong_etag, vary
from service.metrics import UNMATCHED, route_template
from service.security import rate_limited
from service.state import ResultCache

CACHEABLE_ROUTES = frozenset({
    "/v1/series",
    "/v1/series/{series_id}/history",
    "/v1/forecasts/{series_id}",
    "/v1/forecasts/{series_id}/outlook",
    "/v1/forecasts/{series_id}.png",
    "/v1/backtests/{series_id}",
    "/v1/track-record/{series_id}",
    "/v1/models/hbm/assumptions",
})
#: headers a 304 leaves out (it has no body)
NOT_IN_304 = (b"content-length", b"content-type", b"content-encoding")
EMPTY_BODY: Message = {"type": "http.response.body", "body": b"", "more_body": False}
#: per remembered answer, on top of its body: header lists, messages, key
ENTRY_OVERHEAD = 1024
#: a remembered answer's key: raw path, raw query, and "csv"/"json" where Accept negotiates (else "")
ReadKey = tuple[str, bytes, str]


def utc_day() -> int:
    """Days since the epoch, UTC: remembered answers are only served on the day they were made."""
    return int(time.time() // 86400)


@dataclass(frozen=True, slots=True)
class CachedRead:
    """A 200 GET as the full stack sent it, with the 304 it implies."""

    route: str
    generation: int
    day: int
    etag: str
    body: bytes
    headers_200: tuple[tuple[bytes, bytes], ...]
    headers_304: tuple[tuple[bytes, bytes], ...]

    def nbytes(self) -> int:
        return len(self.body) + ENTRY_OVERHEAD


class FrontDoor:
    """See the module docstring. ``runtime`` is the app's ``Runtime`` (keys, limiter, metrics, generation)."""

    def __init__(self, app: ASGIApp, runtime: Runtime, settings: Settings) -> None:
        self.app = app
        self.runtime = runtime
        self.settings = settings
        self.metrics = runtime.metrics
        self.max_body = settings.max_body_bytes
        self.body_timeout = settings.body_timeout
        self.reads: ResultCache[ReadKey, CachedRead] = ResultCache(
            settings.response_cache_entries, settings.response_cache_bytes, sizeof=CachedRead.nbytes)
        self._generation = runtime.generation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        if scope["method"] == "HEAD":  # a GET without its body (RFC 9110 9.3.2)
            scope = {**scope, "method": "GET"}
            send = _without_body(send)
        if scope["method"] == "GET":
            generation = self.runtime.generation
            if generation != self._generation:  # the model or panel was swapped: forget what was served
                self.reads.clear()
                self._generation = generation
            hit = self.reads.get(read_key(scope))
            if (hit is not None and hit.generation == generation and hit.day == utc_day()
                    and await self._answer(hit, scope, receive, send, started)):
                return
        await self._forward(scope, receive, send, started)

    # ---------------------------------------------------------------------------------------- cached reads

    async def _answer(self, hit: CachedRead, scope: Scope, receive: Receive, send: Send, started: float) -> bool:
        """Answer a GET from remembered bytes; False leaves it to the full stack (nothing was sent or charged)."""
        api_key: bytes | None = None
        if_none_match: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                if api_key is None:
                    api_key = value
            elif name == b"if-none-match":
                if if_none_match is None:
                    if_none_match = value
            elif name == b"content-length" or name == b"transfer-encoding":
                return False
        client = scope.get("client")
        principal = self.runtime.keys.identify(api_key.decode("latin-1") if api_key else None,
                                               client[0] if client else "unknown")
        if not principal.can_read:
            return False
        wait = self.runtime.limiter.acquire(principal.client_id)
        if wait > 0:
            status = 429
            exc = rate_limited(wait)
            await error_response(exc.status_code, exc.code, exc.message, exc.detail, exc.headers)(scope, receive, send)
        elif if_none_match is not None and etag_matches(if_none_match.decode("latin-1"), hit.etag):
            status = 304
            await send({"type": "http.response.start", "status": 304, "headers": list(hit.headers_304)})
            await send(EMPTY_BODY)
        else:
            status = 200
            await send({"type": "http.response.start", "status": 200, "headers": list(hit.headers_200)})
            await send({"type": "http.response.body", "body": hit.body, "more_body": False})
        self.metrics.observe("GET", hit.route, status, time.perf_counter() - started)
        self.metrics.cached_read(hit.route)
        return True

    # ---------------------------------------------------------------------------------------- the full stack

    async def _forward(self, scope: Scope, receive: Receive, send: Send, started: float) -> None:
        method: str = scope["method"]
        length: int | None = None
        has_body = False
        if_none_match: str | None = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
                has_body = has_body or length != 0
            elif name == b"transfer-encoding":
                has_body = True
            elif name == b"if-none-match" and if_none_match is None:
                if_none_match = value.decode("latin-1")
        status = 500
        if length is not None and length > self.max_body:
            status = 413
            await error_response(413, "payload_too_large", f"request body over {self.max_body} bytes",
                                 {"max_bytes": self.max_body}, headers={"Connection": "close"})(scope, receive, send)
            self.metrics.observe(method, UNMATCHED, status, time.perf_counter() - started)
            return
        if has_body:
            receive = self._by_deadline(receive)

        if method != "GET":
            async def send_other(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = message.get("headers", [])
                    if not any(k.lower() == b"cache-control" for k, _ in headers):
                        message = {**message, "headers": [*headers, (b"cache-control", b"no-store")]}
                await send(message)

            try:
                await self.app(scope, receive, send_other)
            finally:
                self.metrics.observe(method, route_template(scope), status, time.perf_counter() - started)
            return

        generation, day = self.runtime.generation, utc_day()
        start: Message | None = None
        chunks: list[bytes] = []
        passthrough = False
        answered: tuple[str, bytes, list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]] | None = None

        async def send_get(message: Message) -> None:
            nonlocal status, start, passthrough, answered
            kind = message["type"]
            if kind == "http.response.start":
                status = message["status"]
                if status != 200:
                    passthrough = True
                    await send(message)
                else:
                    start = message
                return
            if kind != "http.response.body" or passthrough:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            assert start is not None
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            headers = list(start.get("headers", []))
            etag: str | None = None
            has_policy = False
            for name, value in headers:
                lower = name.lower()
                if lower == b"etag" and etag is None:
                    etag = value.decode("latin-1")
                elif lower == b"cache-control":
                    has_policy = True
            if etag is None:
                etag = strong_etag(body)
                headers.append((b"etag", etag.encode("latin-1")))
            if not has_policy:
                headers.append((b"cache-control", cache_policy(scope["path"], self.settings).encode("latin-1")))
            varies = vary(scope["path"], self.settings)
            if varies and not any(k.lower() == b"vary" for k, _ in headers):
                headers.append((b"vary", varies.encode("latin-1")))
            headers_304 = [(k, v) for k, v in headers if k.lower() not in NOT_IN_304]
            answered = (etag, body, headers, headers_304)
            if etag_matches(if_none_match, etag):
                status = 304
                await send({"type": "http.response.start", "status": 304, "headers": list(headers_304)})
                await send(EMPTY_BODY)
                return
            await send({**start, "headers": list(headers)})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        try:
            await self.app(scope, receive, send_get)
        finally:
            route = route_template(scope)
            self.metrics.observe(method, route, status, time.perf_counter() - started)
        if answered is not None and route in CACHEABLE_ROUTES and not has_body:
            etag, body, headers, headers_304 = answered
            self.reads.put(read_key(scope),
                           CachedRead(route, generation, day, etag, body, tuple(headers), tuple(headers_304)))

    def _by_deadline(self, receive: Receive) -> Callable[[], Awaitable[Message]]:
        """``receive`` for a request with a body: the whole body must arrive within ``body_timeout``, else 408."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout
        done = False

        async def receive_by_deadline() -> Message:
            nonlocal done
            if done:  # after the body only a disconnect can come: no deadline for that
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(408, f"request body not received within {self.body_timeout:g} s",
                                    headers={"Connection": "close"}) from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                done = True
            return message

        return receive_by_deadline


def read_key(scope: Scope) -> ReadKey:
    """What a remembered answer is found by: path, query and, for a negotiating route, the format Accept chose.

    ``?format=`` is part of the query already; the Accept-derived part is then redundant but harmless.
    """
    path: str = scope["path"]
    if not negotiates(path):
        return (path, scope["query_string"], "")
    accept = b", ".join(value for name, value in scope["headers"] if name == b"accept")
    return (path, scope["query_string"], "csv" if prefers_csv(accept.decode("latin-1")) else "json")


def _without_body(send: Send) -> Send:
    """``send`` for a HEAD request: every header as the GET sends it, no body bytes."""

    async def send_head(message: Message) -> None:
        if message["type"] == "http.response.body" and message.get("body"):
            message = {**message, "body": b""}
        await send(message)

    return send_head
