"""The front door: cached reads answered in one pass exactly as the full stack answers them, and body limits."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from fastapi.testclient import TestClient

import service.front as front_module
from forecasting.train import TrainResult
from service import logic
from service.front import CACHEABLE_ROUTES
from service.main import create_app
from tests.service.conftest import ADMIN_KEY, READ_KEY, AppFactory, make_loaded, settings_for

READS = [
    "/v1/forecasts/capex_meta",
    "/v1/forecasts/capex_meta?level=80",
    "/v1/forecasts/capex_meta/outlook",
    "/v1/forecasts/capex_meta.png",
    "/v1/series",
    "/v1/series?forecast=true",
    "/v1/series/capex_meta/history?format=csv",
    "/v1/backtests/capex_meta",
]


def cached_reads(client: TestClient) -> int:
    text = client.get("/metrics").text
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("chipcast_http_cached_reads_total{")))


def forbid_routing(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any request that gets past the front door fail loudly."""
    async def boom(scope: object, receive: object, send: object) -> None:
        raise AssertionError("a cached read went past the front door")

    monkeypatch.setattr(client.app.state.front, "app", boom)  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", READS)
def test_a_cached_read_is_the_same_answer(client: TestClient, monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    first = client.get(path)
    assert first.status_code == 200
    forbid_routing(client, monkeypatch)
    again = client.get(path)
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers.multi_items() == first.headers.multi_items()
    not_modified = client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == first.headers["etag"]
    assert "content-type" not in not_modified.headers and "content-length" not in not_modified.headers


def test_cached_reads_are_counted_by_route_template(client: TestClient) -> None:
    for _ in range(3):
        client.get("/v1/forecasts/capex_meta")
    client.get("/v1/forecasts/nvidia_datacenter_revenue")
    text = client.get("/metrics").text
    assert 'chipcast_http_requests_total{method="GET",route="/v1/forecasts/{series_id}",status="200"} 4.0' in text
    assert 'chipcast_http_cached_reads_total{route="/v1/forecasts/{series_id}"} 2.0' in text


def test_cached_reads_keep_the_key_check_and_the_rate_limit(make_app: AppFactory,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(make_app(read_open=False, rate_limit_per_minute=4)) as c:
        path = "/v1/forecasts/capex_meta"
        assert c.get(path, headers={"X-API-Key": READ_KEY}).status_code == 200  # remembered from here on
        # refusals are left to the full stack, so they read exactly as before
        r = c.get(path)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        assert c.get(path, headers={"X-API-Key": "wrong-key-0123456789"}).status_code == 401
        assert c.get(path, headers={"X-API-Key": ADMIN_KEY}).status_code == 200
        assert cached_reads(c) == 1
        forbid_routing(c, monkeypatch)
        for _ in range(3):
            assert c.get(path, headers={"X-API-Key": READ_KEY}).status_code == 200
        limited = c.get(path, headers={"X-API-Key": READ_KEY})
        assert limited.status_code == 429 and limited.headers["retry-after"] == "15"
        assert limited.headers["cache-control"] == "no-store" and "etag" not in limited.headers
        assert limited.json()["error"]["code"] == "rate_limited"
        monkeypatch.undo()
        # the full stack's 429 for the same client is the same answer
        slow = c.get("/v1/models", headers={"X-API-Key": READ_KEY})
        assert (slow.status_code, slow.content) == (429, limited.content)
        assert slow.headers.multi_items() == limited.headers.multi_items()


def test_a_swap_or_a_new_day_forgets_cached_reads(make_app: AppFactory, trained: TrainResult,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    models = iter([make_loaded(trained, "1"), make_loaded(trained, "2")])
    with TestClient(make_app(model_loader=lambda: next(models))) as c:
        assert c.get("/v1/forecasts/capex_meta").json()["model"]["version"] == "1"
        assert c.get("/v1/forecasts/capex_meta").json()["model"]["version"] == "1"
        assert c.post("/v1/admin/reload", headers={"X-API-Key": ADMIN_KEY}).status_code == 200
        assert c.get("/v1/forecasts/capex_meta").json()["model"]["version"] == "2"
        before = cached_reads(c)
        monkeypatch.setattr(front_module, "utc_day", lambda: 10**6)  # midnight UTC
        assert c.get("/v1/forecasts/capex_meta").status_code == 200
        assert cached_reads(c) == before  # answered by the full stack
        assert c.get("/v1/forecasts/capex_meta").status_code == 200
        assert cached_reads(c) == before + 1


def test_requests_with_a_body_and_errors_are_never_cached(client: TestClient) -> None:
    assert client.get("/v1/forecasts/nope").status_code == 404
    assert client.get("/v1/forecasts/nope").status_code == 404
    assert client.get("/v1/forecasts/capex_meta", headers={"Content-Length": "0"}).status_code == 200
    assert client.get("/v1/forecasts/capex_meta", headers={"Content-Length": "0"}).status_code == 200
    assert client.get("/v1/models").status_code == 200  # the registry is live: not a cacheable route
    assert client.get("/v1/models").status_code == 200
    assert cached_reads(client) == 0


def test_cacheable_routes_exist_and_require_read_access(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for template in CACHEABLE_ROUTES:
        get = schema["paths"][template]["get"]
        # open reads inherit the document's optional key requirement instead of repeating it (test_openapi.py)
        security = get.get("security", schema.get("security", []))
        assert {"ApiKey": []} in security and "401" in get["responses"], template


def test_declared_body_over_the_limit_is_413_before_the_key_check(make_app: AppFactory) -> None:
    with TestClient(make_app(read_open=False, max_body_bytes=1000)) as c:
        r = c.post("/v1/scenarios", content=b"{" + b" " * 2000 + b"}", headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        assert r.json()["error"] == {"code": "payload_too_large", "message": "request body over 1000 bytes",
                                     "detail": {"max_bytes": 1000}}
        assert r.headers["connection"] == "close" and r.headers["cache-control"] == "no-store"
        # under the limit, the key check answers as before
        assert c.post("/v1/scenarios", json={"scenario": "bull"}).status_code == 401
        assert c.get("/v1/series", headers={"Content-Length": "5000"}).status_code == 413


def test_streamed_body_over_the_limit_is_413(make_app: AppFactory) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"scenario": "bull", "name": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    with TestClient(make_app(max_body_bytes=1000)) as c:
        r = c.post("/v1/scenarios", content=chunks(), headers={"Content-Type": "application/json"})
        assert "content-length" not in r.request.headers  # sent chunked
        assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
        assert r.headers["connection"] == "close"


def test_a_body_that_does_not_arrive_in_time_is_408(make_app: AppFactory) -> None:
    app = make_app(body_timeout=0.2)
    sent: list[dict[str, Any]] = []

    async def never() -> dict[str, Any]:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/v1/scenarios", "raw_path": b"/v1/scenarios", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"x"), (b"content-type", b"application/json"), (b"content-length", b"100")],
             "client": ("127.0.0.1", 1234), "server": ("127.0.0.1", 80), "state": {}}
    asyncio.run(asyncio.wait_for(app(scope, never, send), timeout=5))
    start = sent[0]
    assert start["status"] == 408 and (b"connection", b"close") in start["headers"]
    assert b'"request_timeout"' in sent[1]["body"]


def test_front_door_is_outermost_and_cors_outside_it(make_app: AppFactory) -> None:
    from starlette.middleware.cors import CORSMiddleware

    with TestClient(make_app(cors_origins=["https://dash.example"])) as c:
        assert isinstance(c.app.middleware_stack, CORSMiddleware)  # type: ignore[attr-defined]
        assert c.app.middleware_stack.app is c.app.state.front  # type: ignore[attr-defined]
        plain = c.get("/v1/forecasts/capex_meta")
        with_origin = c.get("/v1/forecasts/capex_meta", headers={"Origin": "https://dash.example"})
        assert with_origin.headers["access-control-allow-origin"] == "https://dash.example"
        assert "access-control-allow-origin" not in c.get("/v1/forecasts/capex_meta").headers
        assert "access-control-allow-origin" not in plain.headers


def test_settings_are_read_from_the_app_without_dependency_overrides(make_app: AppFactory) -> None:
    app = make_app()
    assert app.dependency_overrides == {}  # any override makes FastAPI re-inspect every dependency per request
    with TestClient(app) as c:
        assert c.get("/v1/forecasts/capex_meta").status_code == 200


def test_create_app_uses_its_settings(trained: TrainResult, real_panel: Any) -> None:
    settings = settings_for(forecast_max_age=7)
    app = create_app(settings, model_loader=lambda: make_loaded(trained), panel_loader=lambda: real_panel)
    with TestClient(app) as c:
        assert c.get("/v1/forecasts/capex_meta").headers["cache-control"] == "public, max-age=7"


def test_forecast_response_is_computed_once_per_key(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real = logic.forecast_result

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(logic, "forecast_result", counting)
    for _ in range(3):
        assert client.get("/v1/forecasts/capex_meta", params={"level": 95}).status_code == 200
    assert len(calls) == 1


NEGOTIATED = ["/v1/forecasts/capex_meta", "/v1/forecasts/capex_meta/outlook", "/v1/series/capex_meta/history"]


@pytest.mark.parametrize("csv_first", [True, False], ids=["csv-first", "json-first"])
@pytest.mark.parametrize("path", NEGOTIATED)
def test_a_cached_read_keeps_the_format_accept_chose(client: TestClient, path: str, csv_first: bool) -> None:
    """Remembered answers were keyed by path and query only: after a CSV read, a JSON read of the same URL got
    the CSV (and the other way round), though the response says `Vary: Accept`."""
    order = [{"Accept": "text/csv"}, {}] if csv_first else [{}, {"Accept": "text/csv"}]
    first, second = (client.get(path, headers=h) for h in order)
    answers = [first, second]
    for headers, r in zip(order, answers, strict=True):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv" if headers else "application/json"), (headers, path)
        assert "Accept" in r.headers["vary"]
    # both are remembered, each under its own format, and each answered from memory as it was first answered
    before = cached_reads(client)
    for headers, r in zip(order, answers, strict=True):
        again = client.get(path, headers=headers)
        assert (again.content, again.headers["content-type"]) == (r.content, r.headers["content-type"])
    assert cached_reads(client) == before + 2


def test_accept_is_negotiated_by_q_value_and_keyed_by_format_only(client: TestClient) -> None:
    """`text/csv;q=0` means "not CSV"; Accept strings that negotiate the same format share one remembered answer."""
    path = "/v1/forecasts/capex_meta"
    json_accepts = ["text/csv;q=0", "text/csv;q=0, application/json", "application/json, text/csv;q=0.5",
                    "*/*", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", ""]
    csv_accepts = ["TEXT/CSV", "text/csv;charset=utf-8", "application/json;q=0.5, text/csv", "text/*",
                   "text/csv, */*;q=0.1"]
    reads = client.app.state.front.reads  # type: ignore[attr-defined]
    for accept in json_accepts:
        r = client.get(path, headers={"Accept": accept})
        assert r.headers["content-type"].startswith("application/json"), accept
    assert len(reads) == 1
    for accept in csv_accepts:
        r = client.get(path, headers={"Accept": accept})
        assert r.headers["content-type"].startswith("text/csv"), accept
    assert len(reads) == 2
    # ?format= still overrides Accept
    assert client.get(path, params={"format": "json"},
                      headers={"Accept": "text/csv"}).headers["content-type"].startswith("application/json")
