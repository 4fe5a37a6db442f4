"""Issue 14's API gaps: HEAD on every GET, Vary, unknown parameters, rounded numbers, US$ views, catalog limits."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from forecasting.result import round_value
from forecasting.serving import LoadedModel
from pipelines.catalog import CATALOG
from pipelines.fx import to_usd
from tests.service.conftest import ADMIN_KEY, READ_KEY, SERIES, AppFactory

#: one concrete request per GET operation of the small champion (all answer 200 there)
GETS = [
    "/v1/series",
    "/v1/series/capex_meta/history",
    "/v1/series/capex_meta/history?format=csv",
    "/v1/forecasts/capex_meta",
    "/v1/forecasts/capex_meta?horizon=3&level=90",
    "/v1/forecasts/capex_meta/outlook",
    "/v1/forecasts/capex_meta.png",
    "/v1/backtests/capex_meta",
    "/v1/models",
    "/healthz",
    "/readyz",
    "/metrics",
    "/dashboard",
    "/static/dashboard.js",
]


def _floats(obj: Any, key: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(obj, float):
        yield key, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _floats(v, str(k))
    elif isinstance(obj, list):
        for v in obj:
            yield from _floats(v, key)


def _significant(x: float) -> int:
    """Significant digits of a float's shortest repr (791.6999999999999 has 16, 791.7 has 4, 100425.0 has 6)."""
    return len(Decimal(repr(x)).normalize().as_tuple().digits) if x else 1


# ------------------------------------------------------------------------------------------ HEAD


@pytest.mark.parametrize("path", GETS)
def test_head_answers_every_get_with_its_headers_and_no_body(client: TestClient, path: str) -> None:
    """HEAD used to answer 405 on every route."""
    get = client.get(path)
    head = client.head(path)
    assert head.status_code == get.status_code == 200, path
    assert head.content == b""
    if path == "/metrics":  # counts every request, so its body changes from one call to the next
        assert head.headers["content-type"] == get.headers["content-type"]
        return
    for name in ("etag", "content-type", "cache-control", "content-length"):
        if name in get.headers:
            assert head.headers.get(name) == get.headers[name], (path, name)
    assert client.head(path, headers={"If-None-Match": get.headers["etag"]}).status_code == 304


def test_head_keeps_the_checks_of_the_get(make_app: AppFactory) -> None:
    with TestClient(make_app(read_open=False)) as c:
        assert c.head("/v1/forecasts/capex_meta").status_code == 401
        assert c.head("/v1/forecasts/capex_meta", headers={"X-API-Key": READ_KEY}).status_code == 200
        assert c.head("/v1/forecasts/nope", headers={"X-API-Key": READ_KEY}).status_code == 404
        assert c.head("/v1/scenarios", headers={"X-API-Key": READ_KEY}).status_code == 405  # a POST-only path


# ------------------------------------------------------------------------------------------ Vary


def test_private_reads_vary_on_the_key(make_app: AppFactory) -> None:
    """With keys required, responses are `private` and depend on X-API-Key: a shared cache must key on it."""
    with TestClient(make_app(read_open=False)) as c:
        for path in ("/v1/series", "/v1/forecasts/capex_meta", "/v1/backtests/capex_meta"):
            r = c.get(path, headers={"X-API-Key": READ_KEY})
            assert r.headers["cache-control"].startswith("private")
            assert "X-API-Key" in [v.strip() for v in r.headers["vary"].split(",")], path
            again = c.get(path, headers={"X-API-Key": READ_KEY, "If-None-Match": r.headers["etag"]})
            assert again.status_code == 304 and again.headers["vary"] == r.headers["vary"]
        assert "vary" not in c.get("/healthz").headers


def test_open_reads_vary_only_on_what_chooses_the_body(client: TestClient) -> None:
    assert "vary" not in client.get("/v1/series").headers
    # forecasts and outlooks choose CSV by Accept
    assert client.get("/v1/forecasts/capex_meta").headers["vary"] == "Accept"
    assert client.get("/v1/forecasts/capex_meta/outlook").headers["vary"] == "Accept"
    assert "vary" not in client.get("/v1/forecasts/capex_meta.png").headers


# ------------------------------------------------------------------------------------------ unknown parameters


def _operations(client: TestClient) -> Iterator[tuple[str, str, list[str]]]:
    for path, item in client.get("/openapi.json").json()["paths"].items():
        for method, op in item.items():
            accepted = sorted(p["name"] for p in op.get("parameters", []) if p["in"] == "query")
            concrete = path.replace("{series_id}", "capex_meta").replace("{job_id}", "abc")
            yield method, concrete, accepted


def test_unknown_query_parameters_answer_422_on_every_route(client: TestClient) -> None:
    """A parameter a route cannot honour used to be ignored (`?horizon=2` on /v1/series, `?levle=80`)."""
    seen = 0
    for method, path, accepted in _operations(client):
        r = client.request(method.upper(), path, params={"levle": "80"}, headers={"X-API-Key": ADMIN_KEY},
                           json={"scenario": "bull"} if method == "post" else None)
        assert r.status_code == 422, (method, path, r.text)
        err = r.json()["error"]
        assert err["code"] == "unknown_parameter" and err["detail"] == {"unknown": ["levle"], "accepted": accepted}
        assert "levle" in err["message"] and all(a in err["message"] for a in accepted)
        seen += 1
    assert seen >= 17
    r = client.get("/v1/series", params={"horizon": 2})
    assert r.status_code == 422
    assert r.json()["error"]["message"] == "unknown query parameter(s) horizon; /v1/series accepts forecast"
    # declared ones, aliases included, still work
    assert client.get("/v1/forecasts/capex_meta", params={"format": "csv", "level": [80, 95]}).status_code == 200


# ------------------------------------------------------------------------------------------ rounded numbers


def test_published_figures_are_served_without_float_noise(client: TestClient) -> None:
    """Sums of parts used to come out as 46670.721376999994 (series list) and 3903.4162109999997 (history)."""
    assert (_significant(3903.4162109999997), _significant(3903.416211)) == (17, 10)  # what the check sees
    listing = client.get("/v1/series").json()
    values = {s["id"]: s["last_value"] for s in listing["series"]}
    assert values["korea_semiconductor_exports"] is not None
    for sid, v in values.items():
        if v is not None:
            assert _significant(v) <= 12, (sid, v)
    for sid in ("korea_semiconductor_exports", "korea_semiconductor_exports_flash_d20", "wsts_worldwide_sales",
                "capex_hyperscalers_total"):
        obs = client.get(f"/v1/series/{sid}/history").json()["observations"]
        assert obs and all(_significant(o["value"]) <= 12 for o in obs if o["value"] is not None), sid
        csv = pl.read_csv(io.BytesIO(client.get(f"/v1/series/{sid}/history?format=csv").content))
        assert all(_significant(v) <= 12 for v in csv["value"].drop_nulls().to_list()), sid


def test_derived_figures_are_rounded(client: TestClient, hbm_client: TestClient) -> None:
    """Derived numbers as forecasting.result presents them: 6 significant digits (never coarser than units),
    scores and ratios 4, published amounts inside them cleaned to 12."""

    def presented(key: str, v: float, metric_digits: int = 4) -> bool:
        if key.endswith(("_usd_m", "_usd_bn")):
            return round_value(v, 12) == v
        if key in ("mae", "rmse", "bias", "value", "lo", "hi", "baseline", "scenario", "prior_year_value"):
            return round_value(v) == v
        return round_value(v, metric_digits) == v

    for key, v in _floats(client.get("/v1/backtests/capex_meta").json()["leaderboard"]):
        assert presented(key, v), (key, v)
    for key, v in _floats(client.get("/v1/forecasts/capex_meta").json()["points"]):
        assert round_value(v) == v, (key, v)
    for key, v in _floats(client.get("/v1/models").json()["models"]):
        assert presented(key, v), (key, v)
    for key, v in _floats(hbm_client.get("/v1/models/hbm/assumptions").json()):
        assert presented(key, v), (key, v)
    scenario = hbm_client.post("/v1/scenarios", json={"scenario": "bull", "targets": ["hbm_revenue"]}).json()
    for key, v in _floats(scenario["capex"]):
        assert presented(key, v), (key, v)
    for key, v in _floats(scenario["assumptions"]):
        assert presented(key, v), (key, v)


# ------------------------------------------------------------------------------------------ the catalog's limits


def test_catalog_states_each_series_limits(client: TestClient, loaded: LoadedModel) -> None:
    rows = {s["id"]: s for s in client.get("/v1/series").json()["series"]}
    assert (rows["capex_meta"]["max_horizon"], rows["wsts_memory_sales_annual"]["max_horizon"]) == (12, 4)
    assert rows["tsmc_revenue"]["max_horizon"] is None and rows["tsmc_revenue"]["currency"] == "TWD"
    assert rows["skhynix_revenue"]["currency"] == "KRW" and rows["fred_ipg3344s"]["currency"] is None
    for sid in SERIES:
        hmax = rows[sid]["max_horizon"]
        assert client.get(f"/v1/forecasts/{sid}", params={"horizon": hmax}).status_code == 200
        assert client.get(f"/v1/forecasts/{sid}", params={"horizon": hmax + 1}).status_code in (409, 422)


# ------------------------------------------------------------------------------------------ US$ views


def test_history_in_usd_uses_each_period_rate(hbm_client: TestClient, real_panel: pl.DataFrame) -> None:
    local = hbm_client.get("/v1/series/skhynix_revenue/history").json()
    usd = hbm_client.get("/v1/series/skhynix_revenue/history", params={"currency": "USD"}).json()
    assert (local["unit"], usd["unit"]) == ("KRW trn", "US$ bn")
    conv = usd["currency"]
    assert (conv["from"], conv["to"], conv["unit"]) == ("KRW", "USD", "US$ bn")
    assert "month-average" in conv["rule"] and "EXKOUS" in conv["note"] and conv["note"] in usd["notes"]
    frame = pl.DataFrame({"ds": [o["ds"] for o in local["observations"]],
                          "y": [o["value"] for o in local["observations"]]}).with_columns(pl.col("ds").str.to_date())
    expected, _ = to_usd(frame, CATALOG["skhynix_revenue"], real_panel)
    got = {o["ds"]: o["value"] for o in usd["observations"]}
    for row in expected.iter_rows(named=True):
        want = row["y"]
        if want is None or not math.isfinite(want):
            continue
        assert got[row["ds"].isoformat()] == pytest.approx(want, rel=1e-5), row["ds"]
    csv = hbm_client.get("/v1/series/skhynix_revenue/history", params={"currency": "USD", "format": "csv"})
    assert csv.text.splitlines()[0] == "ds,value,period_end,published,fx_rate"


def test_forecast_in_usd_converts_paths_period_by_period(hbm_client: TestClient, real_panel: pl.DataFrame) -> None:
    local = hbm_client.get("/v1/forecasts/skhynix_revenue").json()
    usd = hbm_client.get("/v1/forecasts/skhynix_revenue", params={"currency": "USD"}).json()
    assert usd["unit"] == "US$ bn" and usd["currency"]["from"] == "KRW" and local["currency"] is None
    assert "last published month" in usd["currency"]["rule"]
    # each forecast period at the rate pipelines.fx gives it (its months' average once published, else the
    # last published month's): point and bounds alike
    ones = pl.DataFrame({"ds": [p["ds"] for p in local["points"]], "y": [1.0] * len(local["points"])})
    factors, note = to_usd(ones.with_columns(pl.col("ds").str.to_date()), CATALOG["skhynix_revenue"], real_panel)
    # the same rule, and every period shown at a carried-forward rate is named (the stored paths run further)
    assert usd["currency"]["note"].startswith(note.split(" Not yet")[0])
    carried = factors.filter(pl.col("fx_carried_forward"))["ds"].to_list()
    assert carried and all(d.isoformat() in usd["currency"]["note"] for d in carried)
    factor = dict(zip([d.isoformat() for d in factors["ds"]], factors["y"], strict=True))
    assert len(set(factor.values())) > 1 or "last published month" in note
    for a, b in zip(local["points"], usd["points"], strict=True):
        assert b["value"] == pytest.approx(a["value"] * factor[a["ds"]], rel=2e-5)
        for ia, ib in zip(a["intervals"], b["intervals"], strict=True):
            assert ib["lo"] == pytest.approx(ia["lo"] * factor[a["ds"]], rel=2e-5)
    # a year of published quarters (their own rates) and forecast quarters is a sum of converted periods, not
    # the local total scaled once
    history = hbm_client.get("/v1/series/skhynix_revenue/history", params={"currency": "USD"}).json()
    first = usd["outlook"][0]
    published = [o["value"] for o in history["observations"] if o["ds"].startswith(str(first["year"]))]
    forecast = [p["value"] for p in usd["points"] if p["ds"].startswith(str(first["year"]))]
    assert len(published) == first["published_periods"] >= 1
    assert first["value"] == pytest.approx(sum(published) + sum(forecast), rel=1e-4)
    outlook = hbm_client.get("/v1/forecasts/skhynix_revenue/outlook", params={"currency": "USD"}).json()
    assert outlook["outlook"] == usd["outlook"][: len(outlook["outlook"])] and outlook["currency"] == usd["currency"]


def test_currency_that_cannot_be_honoured_is_refused(hbm_client: TestClient) -> None:
    r = hbm_client.get("/v1/forecasts/skhynix_revenue", params={"currency": "EUR"})
    assert r.status_code == 422  # the schema allows USD only
    r = hbm_client.get("/v1/series/fred_ipg3344s/history", params={"currency": "USD"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "not_convertible"
    assert "not money" in r.json()["error"]["message"]
    # a US$ series (published or modelled) has nothing to convert, and says so
    for path in ("/v1/forecasts/micron_revenue", "/v1/forecasts/hbm_revenue"):
        body = hbm_client.get(path, params={"currency": "USD"}).json()
        assert body["currency"]["from"] == "USD" and body["currency"]["rule"].startswith("none")
        assert body["points"] == hbm_client.get(path).json()["points"]
