"""OpenAPI documentation of error responses: every route documents the shared error shape."""

from __future__ import annotations

from typing import Any

from service.schemas import ErrorResponse

_DESCRIPTIONS = {
    400: "The body could not be read at all (e.g. not UTF-8); malformed JSON answers 422",
    401: "Missing or invalid API key",
    403: "Key lacks the scope, or the admin API is disabled",
    404: "Unknown series or job; the message lists valid ids",
    409: "A job is already running",
    413: "Request body over the configured limit (CHIPCAST_MAX_BODY_BYTES)",
    422: "Invalid parameters or body; the message states the allowed range",
    429: "Rate limit exceeded; see Retry-After",
    503: "No champion model loaded (or reload failed, or a result that must be precomputed is missing), or "
         "the server is busy computing other requests (see Retry-After)",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the given status codes, all with the shared error body."""
    return {code: {"model": ErrorResponse, "description": _DESCRIPTIONS[code]} for code in codes}


READ_ERRORS = (401, 429)
