"""The provisional capex scenario route and its logic function."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from forecasting.forecaster import Forecaster
from forecasting.serving import LoadedModel
from forecasting.train import TrainResult
from service.errors import ApiError
from service.logic import scenario_forecast

NVDA = "nvidia_datacenter_revenue"


def test_target_without_capex_driver_is_422(client: TestClient) -> None:
    r = client.post("/v1/scenarios", json={"targets": ["capex_meta"], "capex_growth_pct": 20})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "no_conditional_model"
    assert err["message"] == "no driver-conditional model for capex_meta"


def test_driver_model_whose_champion_ignores_drivers(client: TestClient) -> None:
    r = client.post("/v1/scenarios", json={"targets": [NVDA, NVDA], "capex_growth_pct": 20})
    assert r.status_code == 200
    body = r.json()
    assert body["provisional"] is True and body["capex_growth_pct"] == 20
    (res,) = body["results"]
    assert res["drivers"] == ["capex_hyperscalers_ex_amazon"]
    assert len(res["baseline"]) == 8
    if not res["driver_sensitive"]:
        assert res["conditional"] == res["baseline"]


@pytest.mark.parametrize(
    "body",
    [
        {"targets": [NVDA], "capex_growth_pct": -95},
        {"targets": [NVDA], "capex_growth_pct": 501},
        {"targets": [], "capex_growth_pct": 1},
        {"targets": [NVDA], "capex_growth_pct": 1, "driver_paths": {}},
        {"series": [NVDA], "capex_growth_pct": 1},
        {"targets": NVDA, "capex_growth_pct": 1},
    ],
)
def test_malformed_bodies_are_422(client: TestClient, body: dict[str, object]) -> None:
    r = client.post("/v1/scenarios", json=body)
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"


def test_unknown_target_is_404(client: TestClient) -> None:
    r = client.post("/v1/scenarios", json={"targets": ["nope"], "capex_growth_pct": 1})
    assert r.status_code == 404 and NVDA in r.json()["error"]["message"]


def test_capex_shock_moves_a_driver_champion(trained: TrainResult) -> None:
    sm = replace(trained.forecaster.models[NVDA], champion="AutoARIMAX")
    assert sm.training.X is not None
    lm = LoadedModel(Forecaster({NVDA: sm}, trained.forecaster.meta), "x", "run-x", "champion")
    flat = scenario_forecast(lm, NVDA, 0.0)
    up = scenario_forecast(lm, NVDA, 50.0)
    assert flat.driver_sensitive and up.driver_sensitive
    assert flat.frame.height == up.frame.height == 8
    assert flat.frame["AutoARIMAX"].to_list() != up.frame["AutoARIMAX"].to_list()
    assert "scaled by 1.5" in up.note


def test_logic_refuses_targets_without_capex_drivers(loaded: LoadedModel) -> None:
    with pytest.raises(ApiError) as info:
        scenario_forecast(loaded, "wsts_memory_sales_annual", 10)
    assert info.value.status_code == 422
