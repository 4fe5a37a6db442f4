"""The OpenAPI document as clients generate code from it: what the routes declare, plus what depends on settings.

FastAPI derives the document from the routes (operation ids, named enums, bounds, error responses). Three
things depend on the app's settings and are set here, once per app:

* **security**: admin operations always require ``X-API-Key``; read operations require it only when
  ``CHIPCAST_READ_OPEN`` is false. While reads are open, the document's default is the optional requirement
  ``[{}, {"ApiKey": []}]`` (a key may be sent, e.g. for its own rate-limit bucket, and is checked if sent),
  which read operations inherit; admin operations override it with the required one and probes, metrics and
  the page with none. Inheriting instead of repeating ``[{}, ...]`` on each read is what lets generators that
  read only an operation's own list (openapi-python-client 0.29, its issue #1372) accept an unauthenticated
  client for reads, while schemathesis and the spec see the same optional requirement;
* **levels**: ``level`` takes at most ``CHIPCAST_MAX_LEVELS`` values (``maxItems``);
* **binary responses**: the PNG chart is ``image/png`` with a ``format: binary`` string schema only.

HEAD is answered for every GET (``service.front``) and, as usual, not listed as operations.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from service.config import Settings

SECURITY_SCHEME = "ApiKey"


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Make ``app.openapi()`` return the document with the settings-dependent parts applied."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            apply_settings(generate(), settings)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def apply_settings(schema: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Adjust ``schema`` in place (and return it)."""
    required: list[dict[str, list[str]]] = [{SECURITY_SCHEME: []}]
    if settings.read_open:
        schema["security"] = [{}, *required]
    for path, item in schema.get("paths", {}).items():
        for op in item.values():
            if "security" not in op:  # takes no key at all (probes, metrics, the page)
                if settings.read_open:
                    op["security"] = []
            elif path.startswith("/v1/admin") or not settings.read_open:
                op["security"] = required
            else:
                del op["security"]  # a read: the document's optional requirement
            for param in op.get("parameters", []):
                if param.get("name") == "level" and param.get("in") == "query":
                    for branch in param["schema"].get("anyOf", [param["schema"]]):
                        if branch.get("type") == "array":
                            branch["maxItems"] = settings.max_levels
            if path.endswith(".png"):
                ok = op["responses"]["200"]
                ok["content"] = {"image/png": {"schema": {"type": "string", "format": "binary"}}}
    return schema
