"""Liveness, readiness, metrics, and starting without a model."""

from __future__ import annotations

import polars as pl
from fastapi.testclient import TestClient

from forecasting.serving import LoadedModel
from forecasting.train import TrainResult
from tests.service.conftest import AppFactory, make_loaded


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_reports_the_champion(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["status"] == "ready" and r.json()["model_version"] == "1"


def test_readyz_degraded_when_served_from_local_cache(make_app: AppFactory, trained: TrainResult) -> None:
    cached = make_loaded(trained, "5", source="local-cache")
    with TestClient(make_app(model_loader=lambda: cached)) as c:
        body = c.get("/readyz").json()
        assert body["status"] == "degraded" and body["source"] == "local-cache" and body["model_version"] == "5"


def test_starts_without_a_model(make_app: AppFactory, admin_headers: dict[str, str]) -> None:
    def no_model() -> LoadedModel:
        raise RuntimeError("registry down")

    with TestClient(make_app(model_loader=no_model)) as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "not_ready"
        assert r.json()["error"]["detail"]["status"] == "unavailable"
        for path in ("/v1/forecasts/capex_meta", "/v1/forecasts/capex_meta/outlook",
                     "/v1/forecasts/capex_meta.png", "/v1/backtests/capex_meta"):
            r = c.get(path)
            assert r.status_code == 503, path
            assert r.json()["error"]["message"] == "no champion model loaded"
        r = c.post("/v1/scenarios", json={"scenario": "bull"})
        assert r.status_code == 503
        # the catalog still works, with nothing marked as forecast
        series = c.get("/v1/series").json()
        assert series["model_version"] is None and not any(s["forecast"] for s in series["series"])
        assert c.get("/v1/models").json()["serving"] is None
        assert "chipcast_model_loaded 0.0" in c.get("/metrics").text
        # and a reload can bring it up later
        assert c.post("/v1/admin/reload", headers=admin_headers).status_code == 503


def test_panel_failure_leaves_forecasts_up(make_app: AppFactory) -> None:
    def broken_panel() -> pl.DataFrame:
        raise OSError("data dir missing")

    with TestClient(make_app(panel_loader=broken_panel)) as c:
        assert c.get("/v1/series").status_code == 503
        assert c.get("/v1/series").json()["error"]["code"] == "no_data"
        assert c.get("/v1/forecasts/capex_meta").status_code == 200
        assert c.get("/v1/forecasts/capex_meta.png").status_code == 200  # history from the training data


def test_metrics_by_route_template(client: TestClient) -> None:
    client.get("/v1/forecasts/capex_meta")
    client.get("/v1/forecasts/nvidia_datacenter_revenue")
    client.get("/v1/forecasts/nope")
    client.get("/no/such/path")
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'chipcast_http_requests_total{method="GET",route="/v1/forecasts/{series_id}",status="200"} 2.0' in text
    assert 'chipcast_http_requests_total{method="GET",route="/v1/forecasts/{series_id}",status="404"} 1.0' in text
    assert 'route="unmatched"' in text and "/no/such/path" not in text
    assert 'chipcast_http_request_duration_seconds_count{method="GET",route="/v1/forecasts/{series_id}"} 3.0' in text
    assert 'chipcast_model_info{alias="champion",run_id="run-1",source="registry",version="1"} 1.0' in text
