"""HBM revenue over HTTP: the generic forecast routes (one schema for every series), its chart with the
calibration points, the assumptions, the catalog entry, and the 404/503 paths. No read ever simulates."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

import forecasting.hbm as hbm_module
import forecasting.scenarios as scenarios_module
from forecasting.hbm import HBM_ID, assumptions_of
from forecasting.result import to_dict
from forecasting.serving import LoadedModel
from pipelines.catalog import CATALOG
from tests.service.conftest import HBM_SERIES, AppFactory

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STRONG = re.compile(r'^"[0-9a-f]{32}"$')
HBM_GETS = [
    f"/v1/forecasts/{HBM_ID}",
    f"/v1/forecasts/{HBM_ID}/outlook",
    f"/v1/forecasts/{HBM_ID}.png",
    "/v1/models/hbm/assumptions",
]


def _forbid_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("a read recomputed the HBM model instead of reading the stored series")

    monkeypatch.setattr(hbm_module, "hbm_series", boom)
    monkeypatch.setattr(scenarios_module, "run_scenario", boom)


def _ordered(row: dict[str, object]) -> None:
    b = {i["level"]: i for i in row["intervals"]}  # type: ignore[attr-defined]
    assert b[95]["lo"] <= b[80]["lo"] <= row["value"] <= b[80]["hi"] <= b[95]["hi"], row  # type: ignore[operator]


def test_hbm_has_the_same_schema_as_every_series(hbm_client: TestClient, hbm_loaded: LoadedModel) -> None:
    r = hbm_client.get(f"/v1/forecasts/{HBM_ID}")
    assert r.status_code == 200
    body = r.json()
    capex = hbm_client.get("/v1/forecasts/capex_hyperscalers_total").json()
    assert body.keys() == capex.keys()
    assert body["series_id"] == HBM_ID and body["unit"] == "US$ bn" and body["frequency"] == "annual"
    assert body["method"]["name"] == "structural"
    assert body["method"]["description"] == "hbm_revenue = hyperscaler capex x accelerator_share x hbm_content"
    assert body["model"]["version"] == "7" and body["levels"] == [80, 95]
    expected = to_dict(hbm_loaded.forecaster.result(HBM_ID), hbm_loaded.metadata(), today=datetime.now(UTC).date())
    assert body == expected
    for p in body["points"]:
        assert p["ds"].endswith("-01-01")
        _ordered(p)


def test_hbm_honours_horizon_and_level(hbm_client: TestClient) -> None:
    body = hbm_client.get(f"/v1/forecasts/{HBM_ID}", params={"horizon": 3, "level": 90}).json()
    assert len(body["points"]) == 3 and body["levels"] == [90]
    assert {i["level"] for i in body["points"][0]["intervals"]} == {90}
    r = hbm_client.get(f"/v1/forecasts/{HBM_ID}", params={"horizon": 4})  # schema-valid; the model has 3 years
    assert r.status_code == 409 and "between 1 and 3" in r.json()["error"]["message"]
    assert r.json()["error"]["code"] == "invalid_horizon" and r.json()["error"]["detail"]["max"] == 3


def test_outlook_covers_every_modelled_year(hbm_client: TestClient) -> None:
    body = hbm_client.get(f"/v1/forecasts/{HBM_ID}/outlook").json()
    years = body["outlook"]
    assert len(years) == 3 and [y["year"] for y in years] == sorted(y["year"] for y in years)
    assert years[0]["growth_pct"] is None  # no modelled prior year
    assert all(isinstance(y["growth_pct"], float) for y in years[1:])
    for y in years:
        _ordered(y)


def test_assumptions_route_is_the_full_calibration(hbm_client: TestClient, hbm_loaded: LoadedModel) -> None:
    r = hbm_client.get("/v1/models/hbm/assumptions")
    assert r.status_code == 200
    body = r.json()
    expected = assumptions_of(hbm_loaded.forecaster).to_dict()
    assert body["model"]["version"] == "7"
    assert body["formula"] == expected["formula"] and body["limits"] == expected["limits"]
    assert body["capex_driver"] == "capex_hyperscalers_total"
    for name in ("accelerator_share", "hbm_content"):
        got, want = body[name], expected[name]
        for key in ("unit", "how", "sources"):
            assert got[key] == want[key], (name, key)
        for key in ("value", "low", "high"):  # ratios are served to 4 significant digits
            assert got[key] == pytest.approx(want[key], rel=5e-4) and len(repr(got[key])) <= 7, (name, key)
    assert any(c["estimate_by"] == "TrendForce" and c["hbm_usd_bn"] == 18.2
               for c in body["hbm_content"]["calibration"])
    assert set(body["elasticities"]) == {"micron_revenue", "skhynix_revenue", "wsts_memory_sales_annual"}
    for el in body["elasticities"].values():
        assert el["value"] >= 0 and el["se"] > 0


def test_chart_is_a_png_cached_per_model(hbm_client: TestClient) -> None:
    r = hbm_client.get(f"/v1/forecasts/{HBM_ID}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content.startswith(PNG_MAGIC) and len(r.content) > 5_000
    charts = hbm_client.app.state.runtime.charts  # type: ignore[attr-defined]
    assert len(charts) == 1
    assert hbm_client.get(f"/v1/forecasts/{HBM_ID}.png").content == r.content and len(charts) == 1


def test_reads_never_recompute(hbm_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    _forbid_simulation(monkeypatch)
    for path in [*HBM_GETS, "/v1/series", "/v1/series?forecast=true"]:
        assert hbm_client.get(path).status_code == 200, path
    for sid in HBM_SERIES:
        assert hbm_client.get(f"/v1/forecasts/{sid}").status_code == 200, sid
        assert hbm_client.get(f"/v1/forecasts/{sid}/outlook").status_code == 200, sid


@pytest.mark.parametrize("path", HBM_GETS)
def test_gets_have_strong_etags_and_revalidate(hbm_client: TestClient, path: str) -> None:
    first = hbm_client.get(path)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert STRONG.match(etag), etag
    again = hbm_client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert hbm_client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_catalog_lists_hbm_as_modelled(hbm_client: TestClient) -> None:
    body = hbm_client.get("/v1/series").json()
    assert body["count"] == len(CATALOG) == len(body["series"])  # published catalog unchanged
    assert HBM_ID not in {s["id"] for s in body["series"]}
    (m,) = body["modelled"]
    assert m["id"] == HBM_ID and m["published"] is False and m["forecast"] is True
    assert m["model_name"] == "structural" and m["unit"] == "US$ bn" and len(m["years"]) == 3
    assert "capex_hyperscalers_total" in m["inputs"]
    assert m["endpoints"]["outlook"] == f"/v1/forecasts/{HBM_ID}/outlook"
    assert hbm_client.get("/v1/series", params={"forecast": "false"}).json()["modelled"] == []
    err = hbm_client.get("/v1/forecasts/nope").json()["error"]
    assert HBM_ID in err["detail"]["valid_ids"] and HBM_ID in err["message"]


def test_hbm_has_no_history_and_no_backtest(hbm_client: TestClient) -> None:
    r = hbm_client.get(f"/v1/series/{HBM_ID}/history")
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "no_published_history" and f"/v1/forecasts/{HBM_ID}" in err["message"]
    r = hbm_client.get(f"/v1/backtests/{HBM_ID}")
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "no_backtest" and "/v1/models/hbm/assumptions" in err["message"]


@pytest.mark.parametrize("path", HBM_GETS[:3])
def test_model_without_capex_has_no_hbm(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    err = r.json()["error"]
    assert set(err) == {"code", "message", "detail"}
    assert err["code"] == "series_not_forecast" and "model version 1" in err["message"]
    assert client.get("/v1/series").json()["modelled"] == []
    r = client.get("/v1/models/hbm/assumptions")
    assert r.status_code == 404 and "capex_hyperscalers_total" in r.json()["error"]["message"]


def test_no_model_is_503(make_app: AppFactory) -> None:
    def no_model() -> LoadedModel:
        raise RuntimeError("registry down")

    with TestClient(make_app(model_loader=no_model)) as c:
        for path in HBM_GETS:
            r = c.get(path)
            assert r.status_code == 503 and r.json()["error"]["code"] == "no_model", path
