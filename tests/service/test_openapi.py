"""The OpenAPI document as a client generator reads it: operation ids, security, named enums, bounds, binaries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.service.conftest import AppFactory

OPERATION_IDS = {
    ("get", "/v1/series"): "listSeries",
    ("get", "/v1/series/{series_id}/history"): "getHistory",
    ("get", "/v1/forecasts/{series_id}"): "getForecast",
    ("get", "/v1/forecasts/{series_id}/outlook"): "getOutlook",
    ("get", "/v1/forecasts/{series_id}.png"): "getForecastChart",
    ("get", "/v1/backtests/{series_id}"): "getBacktest",
    ("get", "/v1/track-record/{series_id}"): "getTrackRecord",
    ("get", "/v1/models"): "listModels",
    ("get", "/v1/models/hbm/assumptions"): "getHbmAssumptions",
    ("post", "/v1/scenarios"): "runScenario",
    ("post", "/v1/admin/reload"): "reloadModel",
    ("post", "/v1/admin/retrain"): "startRetrain",
    ("get", "/v1/admin/jobs/{job_id}"): "getJob",
    ("get", "/healthz"): "getHealth",
    ("get", "/readyz"): "getReadiness",
    ("get", "/metrics"): "getMetrics",
    ("get", "/dashboard"): "getDashboard",
}


def _ops(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method, op in item.items():
            yield method, path, op


def _param(op: dict[str, Any], name: str) -> dict[str, Any]:
    return next(p for p in op["parameters"] if p["name"] == name)


def _branch(schema: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(b for b in schema.get("anyOf", [schema]) if b.get("type") == kind)


def test_every_operation_has_an_explicit_id(client: TestClient) -> None:
    """Generated clients used to get FastAPI's defaults (`forecast_v1_forecasts_series_id_get`)."""
    schema = client.get("/openapi.json").json()
    assert {(m, p): op["operationId"] for m, p, op in _ops(schema)} == OPERATION_IDS


@pytest.mark.parametrize("read_open", [True, False])
def test_security_is_declared_only_where_a_key_is_required(make_app: AppFactory, read_open: bool) -> None:
    """Every operation used to declare `security: ApiKey`, so generated reads required an authenticated client."""
    with TestClient(make_app(read_open=read_open)) as c:
        schema = c.get("/openapi.json").json()
    for _, path, op in _ops(schema):
        effective = op.get("security", schema.get("security", []))  # an operation inherits the document's
        if path.startswith("/v1/admin"):
            assert effective == [{"ApiKey": []}], path
        elif path.startswith("/v1/"):
            assert effective == ([{}, {"ApiKey": []}] if read_open else [{"ApiKey": []}]), (path, read_open)
            # open reads inherit the optional requirement rather than repeat it: generators that only read an
            # operation's own list (openapi-python-client) then accept an unauthenticated client
            assert ("security" in op) != read_open, path
        else:
            assert effective == [], path  # probes, metrics and the page never take a key


def test_closed_value_sets_are_named_enums(client: TestClient) -> None:
    """Unnamed enums became `ScenarioRequestScenarioType0` in generated clients."""
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert components["ScenarioName"]["enum"] == ["bear", "base", "bull", "guidance"]
    assert components["CapexMode"]["enum"] == ["relative_to_baseline_pct", "yoy_growth_pct", "absolute_usd_m"]
    assert components["Frequency"]["enum"] == ["monthly", "quarterly", "annual"]
    assert components["OutputFormat"]["enum"] == ["json", "csv"]
    assert components["TargetCurrency"]["enum"] == ["USD"]
    for name in ("JobStatus", "ReadyStatus", "TrackRecordHorizon", "ScenarioTargetId", "Currency"):
        assert components[name]["type"] == "string" and components[name]["enum"], name

    def inline_enums(obj: Any, where: str) -> Iterator[str]:
        if isinstance(obj, dict):
            if "enum" in obj and len(obj["enum"]) > 1:
                yield where
            for k, v in obj.items():
                yield from inline_enums(v, f"{where}/{k}")
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                yield from inline_enums(v, f"{where}/{i}")

    # every multi-valued enum is a component of its own, referenced from properties and parameters
    found = [w for name, comp in components.items() for w in inline_enums(comp, name) if w != name]
    found += list(inline_enums(schema["paths"], "paths"))
    assert found == [], found
    freq = components["SeriesResponse"]["properties"]["frequency"]
    assert freq == {"$ref": "#/components/schemas/Frequency"}


def test_every_enforced_bound_is_in_the_schema(make_app: AppFactory) -> None:
    with TestClient(make_app(max_levels=3)) as c:
        schema = c.get("/openapi.json").json()
    forecast = schema["paths"]["/v1/forecasts/{series_id}"]["get"]
    horizon = _branch(_param(forecast, "horizon")["schema"], "integer")
    assert (horizon["minimum"], horizon["maximum"]) == (1, 36)
    assert _param(forecast, "horizon")["schema"]["x-maximum-by-frequency"] == {"monthly": 36, "quarterly": 12,
                                                                               "annual": 4}
    level = _branch(_param(forecast, "level")["schema"], "array")
    assert (level["items"]["minimum"], level["items"]["maximum"], level["maxItems"]) == (50, 99, 3)  # the setting
    outlook = schema["paths"]["/v1/forecasts/{series_id}/outlook"]["get"]
    years = _branch(_param(outlook, "horizon")["schema"], "integer")
    assert (years["minimum"], years["maximum"]) == (1, 4)
    history = schema["paths"]["/v1/series/{series_id}/history"]["get"]
    for name in ("start", "end"):
        assert _branch(_param(history, name)["schema"], "string")["format"] == "date"
    # a schema-valid request the series cannot answer is a documented 409, a schema-invalid one a 422
    for op in (forecast, outlook, history):
        assert {"409", "422"} <= set(op["responses"])
    assert "max_horizon" in schema["components"]["schemas"]["SeriesResponse"]["properties"]
    with TestClient(make_app(max_levels=3)) as c:
        assert c.get("/v1/forecasts/capex_meta", params={"level": [80, 90, 95]}).status_code == 200
        assert c.get("/v1/forecasts/capex_meta", params={"level": [80, 90, 95, 99]}).status_code == 422


def test_png_responses_are_documented_as_binary(client: TestClient) -> None:
    """The chart's 200 had no schema, so generators could not type it."""
    op = client.get("/openapi.json").json()["paths"]["/v1/forecasts/{series_id}.png"]["get"]
    assert op["responses"]["200"]["content"] == {"image/png": {"schema": {"type": "string", "format": "binary"}}}


def test_csv_alternatives_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/forecasts/{series_id}", "/v1/forecasts/{series_id}/outlook", "/v1/series/{series_id}/history",
                 "/v1/track-record/{series_id}"):
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert content["text/csv"]["schema"] == {"type": "string"}, path
        assert "application/json" in content, path
