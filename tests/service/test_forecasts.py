"""Forecasts, outlooks and fan charts, including that serving the defaults never fits a model."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import forecasting.forecaster as fc_module
from forecasting.serving import LoadedModel
from tests.service.conftest import SERIES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _forbid_fitting(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was fitted while serving a precomputed forecast")

    monkeypatch.setattr(fc_module, "forecast_series", boom)
    monkeypatch.setattr(fc_module, "outlook", boom)
    monkeypatch.setattr(fc_module, "simulate_paths", boom)


def test_default_forecast_shape(client: TestClient, loaded: LoadedModel) -> None:
    r = client.get("/v1/forecasts/capex_meta")
    assert r.status_code == 200
    body = r.json()
    sm = loaded.forecaster.models["capex_meta"]
    assert body["horizon"] == loaded.forecaster.default_horizon("capex_meta") == len(body["points"])
    assert body["levels"] == [80, 95]
    assert body["model_name"] == sm.champion
    assert body["unit"] == "US$ m"
    assert body["model"]["version"] == "1"
    assert body["model"]["trained_at"] == loaded.forecaster.meta.trained_at
    assert body["model"]["data_vintage"] == loaded.forecaster.meta.data_vintage
    first = body["points"][0]
    i80, i95 = first["intervals"]["80"], first["intervals"]["95"]
    assert i95["lo"] <= i80["lo"] <= first["value"] <= i80["hi"] <= i95["hi"]


def test_polling_defaults_never_fits(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    _forbid_fitting(monkeypatch)
    for sid in SERIES:
        assert client.get(f"/v1/forecasts/{sid}").status_code == 200
        assert client.get(f"/v1/forecasts/{sid}", params={"level": 80}).status_code == 200
        assert client.get(f"/v1/forecasts/{sid}/outlook").status_code == 200
        assert client.get(f"/v1/forecasts/{sid}.png").status_code == 200


def test_level_subset_comes_from_the_cached_frame(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    full = client.get("/v1/forecasts/capex_meta").json()
    _forbid_fitting(monkeypatch)
    only95 = client.get("/v1/forecasts/capex_meta", params={"level": 95}).json()
    assert only95["levels"] == [95]
    assert [p["intervals"] for p in only95["points"]] == [{"95": p["intervals"]["95"]} for p in full["points"]]


def test_other_horizon_and_levels_are_fitted_on_demand(client: TestClient) -> None:
    r = client.get("/v1/forecasts/wsts_memory_sales_annual", params={"horizon": 3, "level": [50, 90]})
    assert r.status_code == 200
    body = r.json()
    assert body["horizon"] == 3 and len(body["points"]) == 3 and body["levels"] == [50, 90]
    assert set(body["points"][0]["intervals"]) == {"50", "90"}


def test_horizon_out_of_range_states_the_range(client: TestClient) -> None:
    r = client.get("/v1/forecasts/capex_meta", params={"horizon": 13})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "invalid_horizon"
    assert err["message"] == "horizon must be between 1 and 12 for quarterly series, got 13"
    r = client.get("/v1/forecasts/wsts_memory_sales_annual", params={"horizon": 0})
    assert r.status_code == 422 and "between 1 and 4 for annual" in r.json()["error"]["message"]
    r = client.get("/v1/forecasts/capex_meta", params={"horizon": "soon"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_level_out_of_range_states_the_range(client: TestClient) -> None:
    r = client.get("/v1/forecasts/capex_meta", params={"level": [80, 100]})
    assert r.status_code == 422
    assert r.json()["error"]["message"] == "levels must be between 50 and 99, got [100]"
    r = client.get("/v1/forecasts/capex_meta", params={"level": [51, 52, 53, 54, 55]})
    assert r.status_code == 422 and "at most 4" in r.json()["error"]["message"]


def test_unknown_and_unforecast_series_list_valid_ids(client: TestClient) -> None:
    for path in ("/v1/forecasts/nope", "/v1/forecasts/nope/outlook", "/v1/forecasts/nope.png"):
        r = client.get(path)
        assert r.status_code == 404, path
        err = r.json()["error"]
        assert err["code"] == "unknown_series"
        assert err["detail"]["valid_ids"] == sorted(SERIES)
        assert all(sid in err["message"] for sid in SERIES)
    r = client.get("/v1/forecasts/tsmc_revenue")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "series_not_forecast"
    assert "capex_meta" in r.json()["error"]["message"]


def test_outlook(client: TestClient) -> None:
    r = client.get("/v1/forecasts/capex_meta/outlook")
    assert r.status_code == 200
    body = r.json()
    assert body["unit"] == "US$ m" and body["aggregation"] == "sum" and body["years"]
    year = body["years"][0]
    assert year["intervals"]["95"]["lo"] <= year["value"] <= year["intervals"]["95"]["hi"]
    assert year["published_periods"] + year["forecast_periods"] == 4
    assert year["growth_pct"] is not None and set(year["growth_intervals"]) == {"80", "95"}


def test_png_fan_chart_is_cached_per_model_version(client: TestClient) -> None:
    r = client.get("/v1/forecasts/capex_meta.png")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert r.content.startswith(PNG_MAGIC)
    charts = client.app.state.runtime.charts  # type: ignore[attr-defined]
    assert len(charts) == 1
    assert client.get("/v1/forecasts/capex_meta.png").content == r.content
    assert len(charts) == 1
