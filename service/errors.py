"""One JSON error shape for every failure, so clients need a single parser.

``{"error": {"code": "...", "message": "...", "detail": ...}}`` is produced for our own errors, FastAPI's
validation errors, Starlette's HTTP errors (404 for unknown paths, 405) and anything unexpected. The last
never carries a traceback or exception text to the client: those stay in the server log, linked by an
error id the client can quote.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from forecasting.artifact import ForecastRequestError
from forecasting.hbm import ScenarioError
from pipelines.catalog import CATALOG, UnknownSeriesError

log = logging.getLogger("chipcast.service")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    431: "request_header_fields_too_large",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """An error the API reports on purpose: status, stable machine code, human message, optional detail."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = headers


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "detail": jsonable_encoder(detail)}}


def error_response(status_code: int, code: str, message: str, detail: Any = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    out = JSONResponse(error_body(code, message, detail), status_code=status_code, headers=headers)
    # errors depend on the caller (key, rate) and on the moment; never let a cache keep them
    out.headers.setdefault("Cache-Control", "no-store")
    return out


def _validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Location, message and type of each problem; the offending input is left out (it may be a secret)."""
    return [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, exc.message, exc.detail, exc.headers)


#: the scenario body's branch tags (``service.schemas.ScenarioRequest``): in ``detail``, never in the message
_BRANCHES = ("named", "custom")
_ONE_OF = "send either `scenario` (bear, base, bull or guidance) or `capex` (your own path)"


def _validation_message(first: dict[str, Any], ctx: dict[str, Any]) -> str:
    """The first problem in words a client can act on: pydantic's raw text said "body.1: JSON decode error"
    for malformed JSON and named internal branch tags ("body.custom.scenario: Extra inputs are not
    permitted" for a body with both a scenario and a capex path)."""
    loc = [str(p) for p in first["loc"]]
    kind = first.get("type", "")
    if kind == "json_invalid":
        at = f" at offset {loc[1]}" if len(loc) > 1 else ""
        return f"the request body is not valid JSON ({ctx.get('error') or first['msg']}{at})"
    tagged = len(loc) > 1 and loc[0] == "body" and loc[1] in _BRANCHES
    if tagged:
        if kind == "model_attributes_type" and len(loc) == 2:
            return f"the request body must be a JSON object (Content-Type: application/json); {_ONE_OF}"
        if loc[2:] == ["scenario"] and kind in ("missing", "extra_forbidden"):
            return _ONE_OF + (", not both" if kind == "extra_forbidden" else "")
        loc = [loc[0], *loc[2:]]
    where = ".".join(loc)
    return f"{where}: {first['msg']}" if where else str(first["msg"])


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = _validation_detail(exc)
    first = detail[0] if detail else {"loc": [], "msg": "invalid request"}
    raw = exc.errors()
    ctx = (raw[0].get("ctx") or {}) if raw else {}
    return error_response(422, "validation_error", _validation_message(first, ctx), detail)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    detail = None if isinstance(exc.detail, str) else exc.detail
    headers = getattr(exc, "headers", None)
    if exc.status_code == 413:  # the rest of an oversized body is not worth reading: close the connection
        headers = {**(headers or {}), "Connection": "close"}
    return error_response(exc.status_code, code, message, detail, headers)


async def _unknown_series(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UnknownSeriesError)
    return error_response(404, "unknown_series", str(exc), {"valid_ids": sorted(CATALOG)})


async def _forecast_request(request: Request, exc: Exception) -> JSONResponse:
    return error_response(422, "invalid_forecast_request", str(exc))


async def _scenario(request: Request, exc: Exception) -> JSONResponse:
    """The one place a scenario the model refuses becomes HTTP: 422 with forecasting's own message."""
    return error_response(422, "invalid_scenario", str(exc))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    error_id = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s on %s %s", error_id, request.method, request.url.path)
    return error_response(500, "internal_error", "internal server error; quote the error id when reporting it",
                          {"error_id": error_id})


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(UnknownSeriesError, _unknown_series)
    app.add_exception_handler(ForecastRequestError, _forecast_request)
    app.add_exception_handler(ScenarioError, _scenario)
    app.add_exception_handler(Exception, _unexpected)
