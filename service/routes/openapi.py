"""The OpenAPI document as clients generate code from it: what the routes declare, plus what depends on settings.

FastAPI derives the document from the routes (operation ids, named enums, bounds, error responses). Three
things depend on the app's settings and are set here, once per app:

* **security**: admin operations always require ``X-API-Key``; read operations require it only when
  ``CHIPCAST_READ_OPEN`` is false, and otherwise declare it optional (``[{}, {"ApiKey": []}]``), so a
  generated client can read without a key when the server allows it;
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
    for path, item in schema.get("paths", {}).items():
        for op in item.values():
            if "security" in op:
                op["security"] = required if path.startswith("/v1/admin") or not settings.read_open \
                    else [{}, *required]
            for param in op.get("parameters", []):
                if param.get("name") == "level" and param.get("in") == "query":
                    for branch in param["schema"].get("anyOf", [param["schema"]]):
                        if branch.get("type") == "array":
                            branch["maxItems"] = settings.max_levels
            if path.endswith(".png"):
                ok = op["responses"]["200"]
                ok["content"] = {"image/png": {"schema": {"type": "string", "format": "binary"}}}
    return schema
