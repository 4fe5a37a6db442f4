"""OpenAPI documentation of error responses: every route documents the shared error shape."""

from __future__ import annotations

from typing import Any

from service.schemas import ErrorResponse

_DESCRIPTIONS = {
    400: "The body could not be read at all (e.g. not UTF-8); malformed JSON answers 422",
    401: "Missing or invalid API key",
    403: "Key lacks the scope, or the admin API is disabled",
    404: "Unknown series or job, or nothing of the kind stored for it (no backtest, no track record); the "
         "message lists valid ids",
    409: "Well formed, but this series or the serving model cannot answer it: a horizon beyond the series' own "
         "maximum (36 monthly, 12 quarterly, 4 annual, or fewer where its stored paths end sooner: the derived annual "
         "series and hbm_revenue 3), "
         "more outlook years than its forecast completes, US$ for a series that is not money. The message and "
         "`detail` say what it can answer (GET /v1/series lists `max_horizon` and `max_outlook_years`)",
    413: "Request body over the configured limit (CHIPCAST_MAX_BODY_BYTES)",
    422: "A parameter or body the schema does not allow (the message states the allowed range), or a query "
         "parameter the operation does not declare (the message lists the accepted ones)",
    429: "Rate limit exceeded; see Retry-After. An uncached computation costs 5 tokens, a cached read 1",
    503: "No champion model loaded (or reload failed, or a result that must be precomputed is missing), or "
         "the server is busy computing other requests (see Retry-After)",
}

_EXAMPLES: dict[int, dict[str, Any]] = {
    409: {"error": {"code": "invalid_horizon",
                    "message": "horizon must be between 1 and 12 for capex_meta (quarterly series), got 13",
                    "detail": {"min": 1, "max": 12, "frequency": "quarterly"}}},
    422: {"error": {"code": "unknown_parameter",
                    "message": "unknown query parameter(s) levle; /v1/forecasts/capex_meta accepts currency, "
                               "format, horizon, level",
                    "detail": {"unknown": ["levle"], "accepted": ["currency", "format", "horizon", "level"]}}},
}


def errors(*codes: int, descriptions: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the given status codes, all with the shared error body."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {"model": ErrorResponse, "description": (descriptions or {}).get(code,
                                                                                             _DESCRIPTIONS[code])}
        if code in _EXAMPLES:
            entry["content"] = {"application/json": {"example": _EXAMPLES[code]}}
        out[code] = entry
    return out


READ_ERRORS = (401, 422, 429)
