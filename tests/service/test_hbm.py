"""HBM revenue reads: forecast, outlook, chart, assumptions and the catalog entry, served from the baseline
stored at train time (never simulated on a GET), plus their 404/503 paths."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

import forecasting.forecaster as fc_module
import forecasting.hbm as hbm_module
from forecasting.forecaster import Forecaster
from forecasting.hbm import HBM_ID, assumptions_of, hbm_outlook
from forecasting.serving import LoadedModel
from pipelines.catalog import CATALOG
from service.hbm import HBM_ESTIMATES_FILE
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
        raise AssertionError("a read simulated the HBM model instead of serving the stored baseline")

    monkeypatch.setattr(hbm_module, "hbm_paths", boom)
    monkeypatch.setattr(hbm_module, "simulate_paths", boom)
    monkeypatch.setattr(hbm_module, "run_scenario", boom)
    monkeypatch.setattr(fc_module, "simulate_paths", boom)
    monkeypatch.setattr(fc_module, "forecast_series", boom)
    monkeypatch.setattr(fc_module, "outlook", boom)


def _ordered(row: dict[str, object]) -> None:
    i80, i95 = row["intervals"]["80"], row["intervals"]["95"]  # type: ignore[index]
    assert i95["lo"] <= i80["lo"] <= row["value"] <= i80["hi"] <= i95["hi"], row  # type: ignore[index,operator]


def test_forecast_is_the_stored_baseline(hbm_client: TestClient, hbm_loaded: LoadedModel) -> None:
    r = hbm_client.get(f"/v1/forecasts/{HBM_ID}")
    assert r.status_code == 200
    body = r.json()
    assert body["series_id"] == HBM_ID and body["unit"] == "US$ bn" and body["frequency"] == "annual"
    assert body["model_name"] == "structural"
    assert body["formula"] == "hbm_revenue = hyperscaler capex x accelerator_share x hbm_content"
    assert body["model"]["version"] == "7" and body["levels"] == [80, 95]
    stored = hbm_outlook(hbm_loaded.forecaster)
    assert [p["year"] for p in body["points"]] == [row["year"] for row in stored] == [2026, 2027, 2028]
    for p, row in zip(body["points"], stored, strict=True):
        assert p["ds"] == f"{p['year']}-01-01"
        assert p["value"] == pytest.approx(row["value"]) and p["mean"] == pytest.approx(row["mean"])
        assert p["intervals"]["95"]["hi"] == pytest.approx(row["hi-95"])
        _ordered(p)


def test_outlook_has_growth_assumptions_and_sources(hbm_client: TestClient) -> None:
    r = hbm_client.get(f"/v1/forecasts/{HBM_ID}/outlook")
    assert r.status_code == 200
    body = r.json()
    assert body["model_name"] == "structural" and body["model"]["version"] == "7"
    years = body["years"]
    assert [y["year"] for y in years] == [2026, 2027, 2028]
    assert years[0]["growth_pct"] is None  # no modelled prior year
    assert all(isinstance(y["growth_pct"], float) for y in years[1:])
    for y in years:
        _ordered(y)
    a = body["assumptions"]
    assert a["formula"] == body["formula"]
    for name in ("accelerator_share", "hbm_content"):
        p = a[name]
        assert p["low"] <= p["value"] <= p["high"] and p["sources"] and p["calibration"]
    assert {c["year"] for c in a["hbm_content"]["calibration"]} == {2024, 2025}
    assert HBM_ESTIMATES_FILE in body["sources"]
    assert set(a["hbm_content"]["sources"]) <= set(body["sources"])
    assert any(s.startswith("https://") for s in body["sources"])


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
        for key in ("value", "low", "high", "unit", "how", "sources"):
            assert got[key] == want[key], (name, key)
        assert [(c["year"], c["ratio"], c["source"]) for c in got["calibration"]] == [
            (c["year"], c["ratio"], c["source"]) for c in want["calibration"]
        ]
    assert any(c["estimate_by"] == "TrendForce" and c["hbm_usd_bn"] == 18.2
               for c in body["hbm_content"]["calibration"])
    assert set(body["elasticities"]) == {"micron_revenue", "skhynix_revenue", "wsts_memory_sales_annual"}
    for sid, el in body["elasticities"].items():
        want_el = expected["elasticities"][sid]
        assert (el["value"], el["se"], el["n"], el["periods"]) == (
            want_el["value"], want_el["se"], want_el["n"], want_el["periods"])
        assert el["value"] >= 0 and el["se"] > 0


def test_chart_is_a_png_cached_per_model(hbm_client: TestClient) -> None:
    r = hbm_client.get(f"/v1/forecasts/{HBM_ID}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content.startswith(PNG_MAGIC) and len(r.content) > 5_000
    charts = hbm_client.app.state.runtime.charts  # type: ignore[attr-defined]
    assert len(charts) == 1
    assert hbm_client.get(f"/v1/forecasts/{HBM_ID}.png").content == r.content and len(charts) == 1


def test_reads_never_simulate(hbm_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    _forbid_simulation(monkeypatch)
    for path in [*HBM_GETS, "/v1/series", "/v1/series?forecast=true"]:
        assert hbm_client.get(path).status_code == 200, path
    for sid in HBM_SERIES:
        assert hbm_client.get(f"/v1/forecasts/{sid}").status_code == 200, sid
        assert hbm_client.get(f"/v1/forecasts/{sid}/outlook").status_code == 200, sid


@pytest.mark.parametrize("path", HBM_GETS)
def test_new_gets_have_strong_etags_and_revalidate(hbm_client: TestClient, path: str) -> None:
    first = hbm_client.get(path)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert STRONG.match(etag), etag
    assert first.headers["cache-control"] == "public, max-age=60"
    again = hbm_client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert hbm_client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200


def test_catalog_lists_hbm_as_modelled(hbm_client: TestClient) -> None:
    body = hbm_client.get("/v1/series").json()
    assert body["count"] == len(CATALOG) == len(body["series"])  # published catalog unchanged
    assert HBM_ID not in {s["id"] for s in body["series"]}
    (m,) = body["modelled"]
    assert m["id"] == HBM_ID and m["published"] is False and m["forecast"] is True
    assert m["model_name"] == "structural" and m["unit"] == "US$ bn" and m["years"] == [2026, 2027, 2028]
    assert "capex_hyperscalers_total" in m["inputs"]
    assert m["endpoints"]["outlook"] == f"/v1/forecasts/{HBM_ID}/outlook"
    assert hbm_client.get("/v1/series", params={"forecast": "true"}).json()["modelled"] == body["modelled"]
    assert hbm_client.get("/v1/series", params={"forecast": "false"}).json()["modelled"] == []
    # the id is offered wherever forecast ids are listed
    err = hbm_client.get("/v1/forecasts/nope").json()["error"]
    assert HBM_ID in err["detail"]["valid_ids"] and HBM_ID in err["message"]


def test_hbm_has_no_history_and_no_backtest(hbm_client: TestClient) -> None:
    r = hbm_client.get(f"/v1/series/{HBM_ID}/history")
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "no_published_history" and f"/v1/forecasts/{HBM_ID}/outlook" in err["message"]
    r = hbm_client.get(f"/v1/backtests/{HBM_ID}")
    assert r.status_code == 404
    err = r.json()["error"]
    assert err["code"] == "no_backtest" and "/v1/models/hbm/assumptions" in err["message"]


@pytest.mark.parametrize("path", HBM_GETS)
def test_model_without_capex_has_no_hbm(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 404
    assert r.headers["cache-control"] == "no-store"
    err = r.json()["error"]
    assert set(err) == {"code", "message", "detail"}
    assert err["code"] == "series_not_forecast"
    assert "capex_hyperscalers_total" in err["message"] and "model version 1" in err["message"]
    assert err["detail"]["needs"] == "capex_hyperscalers_total"
    assert client.get("/v1/series").json()["modelled"] == []


def test_model_without_stored_baseline_is_503_not_a_simulation(make_app: AppFactory, hbm_loaded: LoadedModel,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    fc = hbm_loaded.forecaster
    assert fc.hbm is not None
    bare = {k: v for k, v in fc.hbm.items() if k != "baseline_outlook"}
    old = LoadedModel(Forecaster(fc.models, fc.meta, bare), "6", "run-6", "champion")
    _forbid_simulation(monkeypatch)
    with TestClient(make_app(model_loader=lambda: old)) as c:
        for path in HBM_GETS[:3]:
            r = c.get(path)
            assert r.status_code == 503, path
            assert r.json()["error"]["code"] == "hbm_not_precomputed"
        # the assumptions do not need the baseline
        assert c.get("/v1/models/hbm/assumptions").status_code == 200
        assert c.get("/v1/series").json()["modelled"][0]["years"] == []


def test_no_model_is_503(make_app: AppFactory) -> None:
    def no_model() -> LoadedModel:
        raise RuntimeError("registry down")

    with TestClient(make_app(model_loader=no_model)) as c:
        for path in HBM_GETS:
            r = c.get(path)
            assert r.status_code == 503 and r.json()["error"]["code"] == "no_model", path
