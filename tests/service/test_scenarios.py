"""POST /v1/scenarios: named and user-defined capex paths for memory and HBM, validation, errors and caching."""

from __future__ import annotations

import inspect
import threading
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient

import forecasting.hbm as hbm_module
from forecasting.hbm import HBM_ID, MEMORY_TARGETS, NAMED_SCENARIOS, ScenarioError
from forecasting.serving import LoadedModel
from service import hbm
from service.routes.scenarios import scenarios as scenarios_route
from service.schemas import ScenarioName, ScenarioRequest
from tests.service.conftest import ADMIN_KEY

ALL_TARGETS = [*MEMORY_TARGETS, HBM_ID]


def _post(c: TestClient, body: dict[str, Any]) -> Any:
    return c.post("/v1/scenarios", json=body)


def _capex(values: dict[str, float], mode: str = "relative_to_baseline_pct") -> dict[str, Any]:
    return {"mode": mode, "values": values}


def _error(r: Any, status: int = 422) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["cache-control"] == "no-store"
    err: dict[str, Any] = r.json()["error"]
    assert set(err) == {"code", "message", "detail"}
    return err


def test_plus_50pct_capex_raises_hbm_and_memory_above_baseline(hbm_client: TestClient) -> None:
    r = _post(hbm_client, {"name": "capex +50%", "capex": _capex({"2026": 50, "2027": 50, "2028": 50})})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers
    body = r.json()
    assert body["scenario"] == {"name": "capex +50%", "mode": "relative_to_baseline_pct",
                                "values": {"2026": 50.0, "2027": 50.0, "2028": 50.0},
                                "description": "user-defined capex path (relative_to_baseline_pct)",
                                "hbm_content": None, "targets": ALL_TARGETS}
    assert [c["year"] for c in body["capex"]] == [2026, 2027, 2028]
    for c in body["capex"]:
        assert c["multiplier"] == pytest.approx(1.5)
        assert c["scenario_usd_m"] == pytest.approx(1.5 * c["baseline_usd_m"])
    assert body["assumptions"]["formula"].startswith("hbm_revenue")
    assert set(body["assumptions"]["elasticities"]) == set(MEMORY_TARGETS)
    assert body["model"]["version"] == "7"
    assert list(body["targets"]) == ALL_TARGETS

    h = body["targets"][HBM_ID]
    assert h["kind"] == "hbm" and h["unit"] == "US$ bn" and h["model_name"] == "structural"
    assert [y["year"] for y in h["baseline"]] == [y["year"] for y in h["scenario"]] == [2026, 2027, 2028]
    for b, s in zip(h["baseline"], h["scenario"], strict=True):
        assert s["value"] > b["value"] and s["intervals"]["95"]["lo"] > b["intervals"]["95"]["lo"]
        i80, i95 = s["intervals"]["80"], s["intervals"]["95"]
        assert i95["lo"] <= i80["lo"] <= s["value"] <= i80["hi"] <= i95["hi"]

    for sid in MEMORY_TARGETS:
        t = body["targets"][sid]
        assert t["kind"] == "memory" and t["series_id"] == sid and t["model_name"]
        assert t["elasticity"]["value"] >= 0 and t["elasticity"]["n"] >= 5
        moved = [p for p in t["points"] if p["capex_multiplier"] > 1]
        assert moved, sid
        assert all(p["value"] > p["baseline"] for p in moved), sid
        assert all(set(p["intervals"]) == {"80", "95"} for p in t["points"])


def test_named_bear_is_below_bull_and_base_is_the_baseline(hbm_client: TestClient) -> None:
    runs = {}
    for name in ("bear", "base", "bull"):
        r = _post(hbm_client, {"scenario": name, "targets": [HBM_ID]})
        assert r.status_code == 200, r.text
        runs[name] = r.json()
        assert runs[name]["scenario"]["name"] == name
        assert runs[name]["scenario"]["description"] == NAMED_SCENARIOS[name]["description"]
        assert list(runs[name]["targets"]) == [HBM_ID]
    bear, base, bull = (runs[n]["targets"][HBM_ID]["scenario"] for n in ("bear", "base", "bull"))
    for lo, mid, hi in zip(bear, base, bull, strict=True):
        assert lo["value"] < mid["value"] < hi["value"]
    assert base == runs["base"]["targets"][HBM_ID]["baseline"]
    assert runs["base"]["scenario"]["values"] == {}


def test_other_modes_and_fixed_hbm_content(hbm_client: TestClient) -> None:
    r = _post(hbm_client, {"capex": _capex({"2026": 40}, "yoy_growth_pct"), "targets": [HBM_ID, HBM_ID],
                           "hbm_content": 0.16})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scenario"]["hbm_content"] == 0.16 and body["scenario"]["targets"] == [HBM_ID]
    r = _post(hbm_client, {"capex": _capex({2026: 550_000, 2027: 600_000}, "absolute_usd_m"),
                           "targets": ["micron_revenue"]})
    assert r.status_code == 200, r.text
    cap = {c["year"]: c for c in r.json()["capex"]}
    assert cap[2026]["scenario_usd_m"] == 550_000 and cap[2027]["scenario_usd_m"] == 600_000
    assert cap[2028]["multiplier"] == pytest.approx(1.0)  # years left out keep the baseline


def test_year_outside_the_forecast_is_422_naming_the_allowed_years(hbm_client: TestClient,
                                                                    hbm_loaded: LoadedModel) -> None:
    allowed = hbm.scenario_years(hbm_loaded)
    assert allowed == [2026, 2027, 2028]
    for year in ("2031", "2025"):
        err = _error(_post(hbm_client, {"capex": _capex({"2026": 10, year: 10})}))
        assert err["code"] == "invalid_scenario_year"
        assert err["message"] == f"scenario years [{year}] are outside the forecast years [2026, 2027, 2028]"
        assert err["detail"] == {"allowed_years": allowed}


def test_unknown_scenario_name_is_422_listing_the_names(hbm_client: TestClient) -> None:
    err = _error(_post(hbm_client, {"scenario": "doom"}))
    assert err["code"] == "validation_error"
    assert all(f"'{name}'" in err["message"] for name in NAMED_SCENARIOS)
    assert set(get_args(ScenarioName)) == set(NAMED_SCENARIOS)  # the schema offers exactly the named ones


@pytest.mark.parametrize(
    "body",
    [
        {"scenario": "bull", "capex": _capex({"2026": 10})},
        {},
        {"targets": [HBM_ID]},
        {"scenario": "bull", "name": "mine"},
    ],
)
def test_exactly_one_of_scenario_or_capex(hbm_client: TestClient, body: dict[str, Any]) -> None:
    err = _error(_post(hbm_client, body))
    assert err["code"] == "validation_error"
    assert err["detail"][0]["loc"] == ["body"]
    assert "exactly one of 'scenario'" in err["message"] or "'name' labels" in err["message"]


def test_unknown_targets_are_422_listing_the_allowed_ones(hbm_client: TestClient) -> None:
    for targets in (["nope"], [HBM_ID, "capex_meta"]):
        err = _error(_post(hbm_client, {"scenario": "bull", "targets": targets}))
        assert err["code"] == "invalid_target"
        assert err["detail"] == {"allowed_targets": ALL_TARGETS}
        assert err["message"].endswith("scenario targets: " + ", ".join(ALL_TARGETS))


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"capex": _capex({"2026": -95})}, ["body", "capex"]),
        ({"capex": _capex({"2026": 501}, "yoy_growth_pct")}, ["body", "capex"]),
        ({"capex": _capex({"2026": 0}, "absolute_usd_m")}, ["body", "capex"]),
        ({"capex": _capex({"2026": -5}, "absolute_usd_m")}, ["body", "capex"]),
        ({"capex": _capex({})}, ["body", "capex", "values"]),
        ({"capex": _capex({"twenty": 10})}, ["body", "capex", "values", "twenty", "[key]"]),
        ({"capex": _capex({"2026.5": 10})}, ["body", "capex", "values", "2026.5", "[key]"]),
        ({"capex": _capex({"1066": 10})}, ["body", "capex", "values", "1066", "[key]"]),
        ({"capex": {"mode": "double_it", "values": {"2026": 1}}}, ["body", "capex", "mode"]),
        ({"capex": {**_capex({"2026": 1}), "extra": 1}}, ["body", "capex", "extra"]),
        ({"scenario": "bull", "hbm_content": 1.5}, ["body", "hbm_content"]),
        ({"scenario": "bull", "hbm_content": 0}, ["body", "hbm_content"]),
        ({"scenario": "bull", "targets": []}, ["body", "targets"]),
        ({"scenario": "bull", "targets": HBM_ID}, ["body", "targets"]),
        ({"scenario": "bull", "capex_growth_pct": 20}, ["body", "capex_growth_pct"]),
    ],
)
def test_malformed_bodies_are_422(hbm_client: TestClient, body: dict[str, Any], loc: list[str]) -> None:
    err = _error(_post(hbm_client, body))
    assert err["code"] == "validation_error"
    assert loc in [d["loc"] for d in err["detail"]], err["detail"]


def test_out_of_range_values_name_the_range(hbm_client: TestClient) -> None:
    err = _error(_post(hbm_client, {"capex": _capex({"2026": -95, "2027": 10})}))
    assert "between -90 and 500" in err["message"] and "2026" in err["message"]
    err = _error(_post(hbm_client, {"capex": _capex({"2026": 0}, "absolute_usd_m")}))
    assert "must be > 0" in err["message"]


def test_non_finite_values_are_422(hbm_client: TestClient) -> None:
    r = hbm_client.post("/v1/scenarios", content=b'{"capex": {"mode": "absolute_usd_m", "values": {"2026": NaN}}}',
                        headers={"Content-Type": "application/json"})
    assert _error(r)["code"] == "validation_error"


def test_scenario_error_is_422_with_its_message(hbm_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise ScenarioError("capex in 2027 would be -1 US$ m; it must stay positive")

    monkeypatch.setattr(hbm_module, "run_scenario", refuse)
    err = _error(_post(hbm_client, {"scenario": "bear", "targets": [HBM_ID]}))
    assert err == {"code": "invalid_scenario", "message": "capex in 2027 would be -1 US$ m; it must stay positive",
                   "detail": None}


def test_model_without_hbm_calibration_is_422(client: TestClient) -> None:
    err = _error(_post(client, {"scenario": "bull"}))
    assert err["code"] == "no_scenario_model" and "capex_hyperscalers_total" in err["message"]


def test_repeats_are_served_from_the_cache(hbm_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = hbm_client.app.state.runtime.scenarios  # type: ignore[attr-defined]
    first = _post(hbm_client, {"scenario": "bull", "targets": [HBM_ID, "skhynix_revenue"]})
    assert first.status_code == 200 and len(cache) == 1

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("a repeated scenario was recomputed")

    monkeypatch.setattr(hbm_module, "run_scenario", boom)
    again = _post(hbm_client, {"targets": [HBM_ID, "skhynix_revenue", HBM_ID], "scenario": "bull"})
    assert again.status_code == 200 and again.json() == first.json() and len(cache) == 1
    monkeypatch.undo()
    # a different scenario is a miss; a reload empties the cache (keys also carry the model version)
    assert _post(hbm_client, {"scenario": "bear", "targets": [HBM_ID]}).status_code == 200 and len(cache) == 2
    assert hbm_client.post("/v1/admin/reload", headers={"X-API-Key": ADMIN_KEY}).status_code == 200
    assert len(cache) == 0


def test_key_is_canonical(hbm_loaded: LoadedModel) -> None:
    named = hbm.scenario_spec(hbm_loaded, ScenarioRequest(scenario="bull"))
    explicit = hbm.scenario_spec(hbm_loaded, ScenarioRequest(scenario="bull", targets=ALL_TARGETS))
    assert hbm.scenario_key(hbm_loaded, named) == hbm.scenario_key(hbm_loaded, explicit)
    a = hbm.scenario_spec(hbm_loaded, ScenarioRequest.model_validate(
        {"capex": {"mode": "yoy_growth_pct", "values": {"2027": 5, "2026": 10}}}))
    b = hbm.scenario_spec(hbm_loaded, ScenarioRequest.model_validate(
        {"capex": {"mode": "yoy_growth_pct", "values": {"2026": 10.0, "2027": 5}}}))
    assert hbm.scenario_key(hbm_loaded, a) == hbm.scenario_key(hbm_loaded, b)
    c = hbm.scenario_spec(hbm_loaded, ScenarioRequest.model_validate(
        {"capex": {"mode": "yoy_growth_pct", "values": {"2026": 10}}, "hbm_content": 0.2}))
    assert hbm.scenario_key(hbm_loaded, c) != hbm.scenario_key(hbm_loaded, a)


def test_the_monte_carlo_runs_on_the_compute_executor(hbm_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not on the event loop and not in the thread pool that the other sync routes share."""
    assert inspect.iscoroutinefunction(scenarios_route)
    threads: list[str] = []
    real = hbm.scenario_response

    def recording(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(hbm, "scenario_response", recording)
    assert _post(hbm_client, {"scenario": "bear", "targets": ["micron_revenue"]}).status_code == 200
    assert len(threads) == 1 and threads[0].startswith("chipcast-compute"), threads


def test_closed_reads_need_a_key(make_app: Any, hbm_loaded: LoadedModel) -> None:
    with TestClient(make_app(read_open=False, model_loader=lambda: hbm_loaded)) as c:
        assert _error(_post(c, {"scenario": "bull"}), 401)["code"] == "unauthorized"
