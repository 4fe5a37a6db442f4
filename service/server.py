"""How chipcast is served: uvicorn (one worker, uvloop, httptools) with limits on what a connection may use.

What uvicorn provides is used as it is: the keep-alive timeout (``keep_alive_timeout``), proxy headers
(``X-Forwarded-For``/``-Proto`` believed only from ``trusted_proxies``; with none configured uvicorn's proxy
middleware is off, so the rate limiter keys on the TCP peer), and no WebSocket handling. Body size and body
time are enforced in the app (``service.front``), where every server and the tests see them.

What uvicorn cannot do is added by :class:`GuardedHttpToolsProtocol`, a small subclass of its httptools
protocol, because it happens before a request reaches any ASGI code:

* **request head size**: more than ``max_header_bytes`` of request line and headers answers 431, a request
  target over ``max_url_bytes`` answers 414, and the connection is closed. Bytes are counted as they arrive
  and only what the limit allows is handed to the parser, so a huge header costs at most
  ``max_header_bytes`` (plus, behind pipelined requests, one socket read). httptools alone buffers any
  amount; h11's ``h11_max_incomplete_event_size`` bounds it too but answers 400.
* **slow request heads**: a request head must be complete ``header_timeout`` seconds after its first byte,
  and a new connection must have sent one by then; else 408 (or, if it sent nothing, just close). uvicorn
  only times out idle keep-alive connections and cancels that timer on the first byte, so a client sending
  a header line every few seconds was never cut off. Gunicorn does not help here: its ``--timeout``
  restarts workers whose event loop stops answering the arbiter, which slow clients never cause (with
  ``UvicornWorker`` the same uvicorn protocol parses requests, and gunicorn's own ASGI worker also has no
  head timeout). So chipcast stays on plain uvicorn.
* **connection cap**: with ``max_connections`` connections open, a new one is answered 503 with
  ``Retry-After`` and closed at once, so its file descriptor is released immediately. (uvicorn's
  ``limit_concurrency`` answers 503 only once a request arrives and keeps idle connections open, which is
  how slow clients ran the process out of file descriptors.)

Responses written here never reach the app, so they are not in the request metrics.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from service.config import Settings


@dataclass(frozen=True)
class ConnectionLimits:
    max_header_bytes: int = 32 * 1024
    max_url_bytes: int = 8 * 1024
    header_timeout: float = 10.0
    max_connections: int = 1024

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(settings.max_header_bytes, settings.max_url_bytes, settings.header_timeout,
                   settings.max_connections)


def refusal(status: int, code: str, message: str, detail: dict[str, Any] | None = None,
            retry_after: int | None = None) -> bytes:
    """A complete HTTP/1.1 response in the API's error shape, closing the connection."""
    body = json.dumps({"error": {"code": code, "message": message, "detail": detail}}).encode()
    head = [STATUS_LINE[status], b"content-type: application/json\r\n", b"cache-control: no-store\r\n",
            b"connection: close\r\n", b"content-length: %d\r\n" % len(body)]
    if retry_after is not None:
        head.append(b"retry-after: %d\r\n" % retry_after)
    return b"".join([*head, b"\r\n", body])


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head size limit, a head timeout and a connection cap."""

    limits = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._over_cap = False  # refused at connect: never registered with the server
        self._refused = False  # answered and closing: read nothing more
        self._in_head = True  # the next bytes belong to a request head (counted against max_header_bytes)
        self._head_started = False  # a head's first byte arrived and its end has not
        self._head_bytes = 0
        self._heads_completed = 0
        self._bad_head: tuple[int, bytes] | None = None
        self._head_timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------------------------- connection cap
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self._over_cap = self._refused = True
            self.transport = transport
            transport.write(refusal(503, "too_many_connections", "the server has too many open connections",
                                    {"max_connections": self.limits.max_connections}, retry_after=1))
            transport.close()
            return
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        if not self._over_cap:
            super().connection_lost(exc)

    # ------------------------------------------------------------------------------------- head size
    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            room = self.limits.max_header_bytes - self._head_bytes
            if len(data) > room:
                # feed only what the pending head may still take; it either ends in there or is too large
                first, rest = data[:room], data[room:]
                completed = self._heads_completed
                self._head_bytes += len(first)
                if first:
                    self._feed(first)
                if self._refused:
                    return
                if self._in_head and self._heads_completed == completed:
                    self._refuse_head()
                    return
                # a head ended inside `first`: what follows is its body or the next request, counted afresh
                self.data_received(rest)
                return
            self._head_bytes += len(data)
        self._feed(data)

    def _feed(self, data: bytes) -> None:
        super().data_received(data)
        if self._bad_head is not None:
            status, message = self._bad_head
            self._refuse(status, message)
        elif self._in_head and len(getattr(self, "url", b"")) > self.limits.max_url_bytes:
            self._refuse_head()

    def _refuse_head(self) -> None:
        if len(getattr(self, "url", b"")) > self.limits.max_url_bytes:
            self._refuse(414, b"uri_too_long")
        else:
            self._refuse(431, b"request_header_fields_too_large")

    def _refuse(self, status: int, code: bytes) -> None:
        self._refused = True
        self._cancel_head_timer()
        limit = self.limits.max_url_bytes if status == 414 else self.limits.max_header_bytes
        what = "request target" if status == 414 else "request head"
        self.transport.write(refusal(status, code.decode(), f"{what} over {limit} bytes", {"max_bytes": limit}))
        self.transport.close()

    def on_message_begin(self) -> None:
        self._in_head = self._head_started = True
        self._arm_head_timer()  # the head has header_timeout from its first byte
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._in_head = self._head_started = False
        self._head_bytes = 0
        self._heads_completed += 1
        self._cancel_head_timer()
        if len(self.url) > self.limits.max_url_bytes:
            self._bad_head = (414, b"uri_too_long")  # answered after this feed; the app never sees it
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._bad_head is None:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._bad_head is None:
            super().on_message_complete()
        self._in_head = True

    # ------------------------------------------------------------------------------------- head timeout
    # Armed when a connection opens (it must start asking) and at the first byte of each request head; idle
    # keep-alive connections between requests are uvicorn's (keep_alive_timeout).
    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._head_started and self._head_timer is None and not self.transport.is_closing():
            self._arm_head_timer()  # a pipelined head that was still arriving while the response went out

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
            return  # a response is on its way; the head behind it is timed again once it has gone
        if self._head_started:
            self.transport.write(refusal(408, "request_timeout",
                                         f"request head not received within {self.limits.header_timeout:g} s",
                                         {"timeout_seconds": self.limits.header_timeout}))
        self._refused = True
        self.transport.close()


def protocol_class(limits: ConnectionLimits) -> type[GuardedHttpToolsProtocol]:
    """The protocol class uvicorn instantiates per connection, carrying this server's limits."""
    return type("ChipcastHttpProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})


def uvicorn_config(app: Any, settings: Settings, host: str, port: int, **extra: Any) -> uvicorn.Config:
    """The uvicorn configuration ``chipcast serve`` uses (``extra`` adds uvicorn options, e.g. ``log_level``)."""
    trusted = settings.trusted_proxies
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        workers=1,
        loop="uvloop",
        http=protocol_class(ConnectionLimits.from_settings(settings)),
        ws="none",
        timeout_keep_alive=settings.keep_alive_timeout,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=",".join(trusted) if trusted else [],
        **extra,
    )


def serve_app(app: Any, settings: Settings, host: str, port: int, **extra: Any) -> None:
    """Serve ``app`` with chipcast's limits until interrupted."""
    uvicorn.Server(uvicorn_config(app, settings, host, port, **extra)).run()
