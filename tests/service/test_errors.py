"""One error shape everywhere, and no traceback ever reaches a client."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient

from forecasting.artifact import Forecaster
from forecasting.serving import LoadedModel
from forecasting.train import TrainResult
from tests.service.conftest import AppFactory


def _assert_error_shape(body: dict[str, object]) -> dict[str, object]:
    assert set(body) == {"error"}
    err = body["error"]
    assert isinstance(err, dict) and set(err) == {"code", "message", "detail"}
    assert isinstance(err["code"], str) and isinstance(err["message"], str) and err["message"]
    return err


class ExplodingForecaster(Forecaster):
    """A forecaster whose outlook fails the way a bug would."""

    def result(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        raise RuntimeError("boom while reading /srv/secret/models/outlook.parquet")


def test_unexpected_error_is_500_without_traceback(make_app: AppFactory, trained: TrainResult,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    exploding = LoadedModel(ExplodingForecaster(trained.forecaster.models, trained.forecaster.meta),
                            "9", "run-9", "champion")
    with TestClient(make_app(model_loader=lambda: exploding), raise_server_exceptions=False) as c:
        with caplog.at_level(logging.ERROR, logger="chipcast.service"):
            r = c.get("/v1/forecasts/capex_meta/outlook")
        assert r.status_code == 500
        err = _assert_error_shape(r.json())
        assert err["code"] == "internal_error"
        for leak in ("Traceback", "RuntimeError", "boom", "/srv/secret", 'File "'):
            assert leak not in r.text
        error_id = err["detail"]["error_id"]  # type: ignore[index]
        assert any(error_id in rec.getMessage() and rec.exc_info for rec in caplog.records)
        assert 'route="/v1/forecasts/{series_id}/outlook",status="500"' in c.get("/metrics").text
        # the rest of the service keeps working
        assert c.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("get", "/no/such/path", {}, 404, "not_found"),
        ("delete", "/v1/series", {}, 405, "method_not_allowed"),
        ("get", "/v1/forecasts/nope", {}, 404, "unknown_series"),
        # schema-valid (1..36) but beyond this quarterly series' own 12: a conflict with the series, not the schema
        ("get", "/v1/forecasts/capex_meta?horizon=20", {}, 409, "invalid_horizon"),
        ("get", "/v1/forecasts/capex_meta?levle=80", {}, 422, "unknown_parameter"),
        ("get", "/v1/series/fred_ipg3344s/history?currency=USD", {}, 409, "not_convertible"),
        ("get", "/v1/series/capex_meta/history?currency=EUR", {}, 422, "validation_error"),
        ("get", "/v1/forecasts/capex_meta?horizon=99", {}, 422, "validation_error"),
        ("get", "/v1/forecasts/capex_meta?horizon=x", {}, 422, "validation_error"),
        ("post", "/v1/scenarios", {"content": b"{not json", "headers": {"Content-Type": "application/json"}},
         422, "validation_error"),
        ("post", "/v1/scenarios", {"json": {"targets": ["capex_meta"]}}, 422, "validation_error"),
        # well formed, but the serving model has no capex forecast to run it on
        ("post", "/v1/scenarios", {"json": {"scenario": "bull"}}, 409, "invalid_scenario"),
        ("get", "/v1/forecasts/hbm_revenue", {}, 404, "series_not_forecast"),
        ("get", "/v1/models/hbm/assumptions", {}, 404, "no_hbm_model"),
        ("get", "/v1/series/hbm_revenue/history", {}, 404, "no_published_history"),
        ("get", "/v1/backtests/hbm_revenue", {}, 404, "series_not_forecast"),
        ("get", "/v1/series", {"headers": {"X-API-Key": "wrong-0123456789abcdef"}}, 401, "unauthorized"),
    ],
)
def test_every_error_has_the_same_shape(client: TestClient, method: str, path: str, kwargs: dict[str, object],
                                        status: int, code: str) -> None:
    r = client.request(method.upper(), path, **kwargs)  # type: ignore[arg-type]
    assert r.status_code == status
    assert r.headers["content-type"] == "application/json"
    assert _assert_error_shape(r.json())["code"] == code


def test_validation_errors_name_the_field_without_echoing_input(client: TestClient) -> None:
    r = client.post("/v1/scenarios", json={"capex": {"mode": "relative_to_baseline_pct", "values": {"x": 900}},
                                           "secret": "hunter2-hunter2"})
    assert r.status_code == 422
    err = r.json()["error"]
    locs = [tuple(d["loc"]) for d in err["detail"]]
    assert ("body", "custom", "capex", "relative_to_baseline_pct", "values", "x", "[key]") in locs
    assert ("body", "custom", "secret") in locs
    assert "hunter2" not in r.text
