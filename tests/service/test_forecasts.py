"""Forecasts, outlooks and fan charts: the one result shape, any horizon and level, and never a model fit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import statsforecast
from fastapi.testclient import TestClient

import forecasting.evaluation as evaluation_module
from forecasting.result import to_dict
from forecasting.serving import LoadedModel
from tests.service.conftest import SERIES

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _forbid_fitting(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was fitted while serving")

    monkeypatch.setattr(evaluation_module, "bulk_forecast", boom)
    monkeypatch.setattr(statsforecast.StatsForecast, "forecast", boom)
    monkeypatch.setattr(statsforecast.StatsForecast, "fit", boom)


def _bands(point: dict[str, Any]) -> dict[int, dict[str, float]]:
    return {int(i["level"]): i for i in point["intervals"]}


def test_default_forecast_is_the_result_serialized_once(client: TestClient, loaded: LoadedModel) -> None:
    r = client.get("/v1/forecasts/capex_meta")
    assert r.status_code == 200
    body = r.json()
    today = datetime.now(UTC).date()
    expected = to_dict(loaded.forecaster.result("capex_meta"), loaded.metadata(), today=today)
    assert body == expected
    assert body["horizon"] == 8 == len(body["points"]) and body["levels"] == [80, 95]
    assert body["method"]["name"] == "Combination" and body["unit"] == "US$ m"
    assert body["model"]["version"] == "1" and body["model"]["data_hash"] == loaded.forecaster.meta.data_hash
    b = _bands(body["points"][0])
    assert b[95]["lo"] <= b[80]["lo"] <= body["points"][0]["value"] <= b[80]["hi"] <= b[95]["hi"]
    data = body["data"]
    assert data["last_observation"] and data["last_published"] and data["next_expected_release"]
    assert data["staleness_days"] >= 0


def test_no_request_ever_fits_a_model(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    _forbid_fitting(monkeypatch)
    for sid in SERIES:
        for params in ({}, {"level": 80}, {"horizon": 3, "level": [51, 99]}):
            assert client.get(f"/v1/forecasts/{sid}", params=params).status_code == 200
        assert client.get(f"/v1/forecasts/{sid}/outlook", params={"horizon": 3}).status_code == 200
        assert client.get(f"/v1/forecasts/{sid}.png").status_code == 200


def test_other_horizons_and_levels(client: TestClient) -> None:
    r = client.get("/v1/forecasts/wsts_memory_sales_annual", params={"horizon": 3, "level": [50, 90]})
    assert r.status_code == 200
    body = r.json()
    assert body["horizon"] == 3 and len(body["points"]) == 3 and body["levels"] == [50, 90]
    assert set(_bands(body["points"][0])) == {50, 90}


def test_horizon_out_of_range_states_the_range(client: TestClient) -> None:
    # beyond what the schema allows any series: 422 from request validation
    r = client.get("/v1/forecasts/capex_meta", params={"horizon": 37})
    assert r.status_code == 422 and r.json()["error"]["message"] == "query.horizon: Value error, must be between " \
                                                                    "1 and 36, got 37"
    # schema-valid, but beyond this series' own maximum: 409 with the series' range
    r = client.get("/v1/forecasts/capex_meta", params={"horizon": 13})
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "invalid_horizon"
    assert err["message"] == "horizon must be between 1 and 12 for capex_meta (quarterly series), got 13"
    assert err["detail"] == {"min": 1, "max": 12, "frequency": "quarterly"}
    r = client.get("/v1/forecasts/wsts_memory_sales_annual", params={"horizon": 5})
    assert r.status_code == 409
    assert "between 1 and 4 for wsts_memory_sales_annual (annual" in r.json()["error"]["message"]
    r = client.get("/v1/forecasts/capex_meta", params={"horizon": "soon"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_level_out_of_range_states_the_range(client: TestClient) -> None:
    r = client.get("/v1/forecasts/capex_meta", params={"level": [80, 100]})
    assert r.status_code == 422
    assert r.json()["error"]["message"] == "query.level.1: Value error, must be between 50 and 99, got 100"
    r = client.get("/v1/forecasts/capex_meta", params={"level": 0})
    assert r.status_code == 422 and "between 50 and 99, got 0" in r.json()["error"]["message"]
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


def test_outlook_honours_its_horizon_in_years(client: TestClient) -> None:
    one = client.get("/v1/forecasts/capex_meta/outlook", params={"horizon": 1}).json()
    two = client.get("/v1/forecasts/capex_meta/outlook").json()
    three = client.get("/v1/forecasts/capex_meta/outlook", params={"horizon": 3}).json()
    assert [len(b["outlook"]) for b in (one, two, three)] == [1, 2, 3]
    assert "points" not in two
    year = two["outlook"][0]
    b = _bands(year)
    assert b[95]["lo"] <= year["value"] <= b[95]["hi"]
    assert year["published_periods"] + year["forecast_periods"] == 4
    assert year["growth_pct"] is not None and {i["level"] for i in year["growth_intervals"]} == {80, 95}
    r = client.get("/v1/forecasts/capex_meta/outlook", params={"horizon": 5})
    assert r.status_code == 422


def test_outlook_horizon_is_honoured_or_refused_never_cut_short(client: TestClient) -> None:
    """Every outlook horizon up to the maximum either returns that many years or says why not (it used to
    return three years for horizon=4 without a word)."""
    catalog = {s["id"]: s for s in client.get("/v1/series", params={"forecast": "true"}).json()["series"]}
    for sid in SERIES:
        available = catalog[sid]["max_outlook_years"]
        assert 1 <= available <= 4, sid
        for years in range(1, 5):
            r = client.get(f"/v1/forecasts/{sid}/outlook", params={"horizon": years})
            if years <= available:
                assert r.status_code == 200 and len(r.json()["outlook"]) == years, (sid, years)
            else:
                assert r.status_code == 409, (sid, years)
                err = r.json()["error"]
                assert err["code"] == "invalid_horizon" and err["detail"]["max"] == available
                assert f"completes {available} calendar year" in err["message"]
    # the annual series completes all four documented years
    assert catalog["wsts_memory_sales_annual"]["max_outlook_years"] == 4


def test_csv_on_forecasts_and_outlooks(client: TestClient) -> None:
    r = client.get("/v1/forecasts/capex_meta", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0] == "ds,forecast,forecast-lo-80,forecast-hi-80,forecast-lo-95,forecast-hi-95"
    assert len(lines) == 9
    r = client.get("/v1/forecasts/capex_meta/outlook", headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.text.startswith("year,value,growth_pct")


def test_png_fan_chart_is_cached_per_model_version(client: TestClient) -> None:
    r = client.get("/v1/forecasts/capex_meta.png")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/png"
    assert r.content.startswith(PNG_MAGIC)
    charts = client.app.state.runtime.charts  # type: ignore[attr-defined]
    assert len(charts) == 1
    assert client.get("/v1/forecasts/capex_meta.png").content == r.content
    assert len(charts) == 1
