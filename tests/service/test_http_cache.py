"""Strong ETags, 304s and Cache-Control: what lets dashboards poll cheaply."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from service.http_cache import cache_policy, etag_matches, negotiates, prefers_csv, strong_etag, vary
from tests.service.conftest import AppFactory, settings_for

STRONG = re.compile(r'^"[0-9a-f]{32}"$')

GETS = [
    "/v1/series",
    "/v1/series/capex_meta/history",
    "/v1/series/capex_meta/history?format=csv",
    "/v1/forecasts/capex_meta",
    "/v1/forecasts/capex_meta/outlook",
    "/v1/forecasts/capex_meta.png",
    "/v1/backtests/capex_meta",
    "/v1/models",
    "/healthz",
    "/readyz",
    "/dashboard",
]


@pytest.mark.parametrize("path", GETS)
def test_every_get_has_a_strong_etag_and_revalidates(client: TestClient, path: str) -> None:
    first = client.get(path)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert STRONG.match(etag), etag
    assert first.headers["cache-control"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == first.headers["cache-control"]
    # a weak validator or a list containing the tag also matches (If-None-Match uses weak comparison)
    assert client.get(path, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_etag_is_the_hash_of_the_body(client: TestClient) -> None:
    r = client.get("/v1/forecasts/capex_meta")
    assert r.headers["etag"] == strong_etag(r.content)
    assert client.get("/v1/forecasts/capex_meta", params={"level": 80}).headers["etag"] != r.headers["etag"]


def test_cache_control_per_route_family(client: TestClient) -> None:
    assert client.get("/v1/forecasts/capex_meta").headers["cache-control"] == "public, max-age=60"
    assert client.get("/v1/series").headers["cache-control"] == "public, max-age=300"
    assert client.get("/healthz").headers["cache-control"] == "no-cache"
    assert client.get("/metrics").headers["cache-control"] == "no-store"
    assert client.get("/v1/forecasts/nope").headers["cache-control"] == "no-store"
    assert client.get("/static/dashboard.js").headers["cache-control"] == "public, max-age=3600"


def test_keyed_reads_are_private(make_app: AppFactory) -> None:
    with TestClient(make_app(read_open=False)) as c:
        from tests.service.conftest import READ_KEY

        r = c.get("/v1/forecasts/capex_meta", headers={"X-API-Key": READ_KEY})
        assert r.headers["cache-control"] == "private, max-age=60"


def test_post_responses_are_not_cached(client: TestClient) -> None:
    r = client.post("/v1/scenarios", json={"scenario": "bull"})
    assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers
    # (a successful scenario response is checked the same way in test_scenarios)


def test_helpers() -> None:
    assert etag_matches("*", '"x"')
    assert etag_matches('W/"x"', '"x"')
    assert not etag_matches(None, '"x"')
    assert not etag_matches('"y"', '"x"')
    s = settings_for(forecast_max_age=5)
    assert cache_policy("/v1/backtests/a", s) == "public, max-age=5"
    assert cache_policy("/v1/admin/jobs/x", s) == "no-store"
    assert cache_policy("/v1/models/hbm/assumptions", s) == "public, max-age=5"
    assert cache_policy("/v1/forecasts/hbm_revenue.png", s) == "public, max-age=5"


@pytest.mark.parametrize(("accept", "csv"), [
    (None, False), ("", False), ("text/csv", True), ("Text/CSV", True), ("text/csv; charset=utf-8", True),
    # q=0 means "not acceptable", whatever else is listed (a substring test used to read it as CSV)
    ("text/csv;q=0", False), ("text/csv; q=0.0, application/json", False), ("text/csv;q=0, */*", False),
    ("application/json, text/csv;q=0.5", False), ("application/json;q=0.5, text/csv", True),
    ("text/csv, */*;q=0.1", True), ("text/*", True), ("*/*", False),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),
    # a tie is JSON (the default); so is a range with a q that is not a number in 0..1
    ("text/csv, application/json", False), ("text/csv;q=abc", False), ("text/csv;q=2", False),
    ("text/csv;q=nan", False), ("garbage, ;;, /", False),
])
def test_accept_negotiation_honours_q_values(accept: str | None, csv: bool) -> None:
    assert prefers_csv(accept) is csv


def test_negotiating_routes_vary_on_accept() -> None:
    s = settings_for()
    for path in ("/v1/forecasts/capex_meta", "/v1/forecasts/capex_meta/outlook", "/v1/series/capex_meta/history",
                 "/v1/track-record/wsts_worldwide_sales"):
        assert negotiates(path) and vary(path, s) == "Accept", path
    for path in ("/v1/forecasts/capex_meta.png", "/v1/series", "/v1/backtests/capex_meta", "/v1/models"):
        assert not negotiates(path) and vary(path, s) == "", path
