"""POST /v1/scenarios: named and user-defined capex paths for memory and HBM, validation, errors and caching."""

from __future__ import annotations

import inspect
import threading
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient

import forecasting.scenarios as scenarios_module
from forecasting.hbm import HBM_ID, MEMORY_TARGETS, NAMED_SCENARIOS, ScenarioError, scenario_years
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


def _values(result: dict[str, Any]) -> list[float]:
    return [y["value"] for y in result["outlook"]]


def test_plus_50pct_capex_raises_hbm_and_memory_above_the_stored_baseline(hbm_client: TestClient) -> None:
    r = _post(hbm_client, {"name": "capex +50%", "capex": _capex({"2026": 50, "2027": 50, "2028": 50})})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers
    body = r.json()
    sc = body["scenario"]
    assert (sc["name"], sc["mode"], sc["values"], sc["targets"]) == (
        "capex +50%", "relative_to_baseline_pct", {"2026": 50.0, "2027": 50.0, "2028": 50.0}, ALL_TARGETS)
    assert sc["bounds"] == {"min": -75.0, "max": 200.0}
    assert [c["year"] for c in body["capex"]] == [2026, 2027, 2028]
    for c in body["capex"]:
        assert c["multiplier"] == pytest.approx(1.5)
        assert c["scenario"] == pytest.approx(1.5 * c["baseline"], rel=1e-5)
    assert body["assumptions"]["formula"].startswith("hbm_revenue")
    assert body["model"]["version"] == "7" and list(body["targets"]) == ALL_TARGETS
    for sid, t in body["targets"].items():
        base, scen = t["baseline"], t["scenario"]
        assert base.keys() == scen.keys()  # one shape for memory and HBM alike
        stored = hbm_client.get(f"/v1/forecasts/{sid}/outlook", params={"horizon": 3}).json()
        assert base["outlook"] == stored["outlook"], sid  # the baseline is the stored forecast
        assert [y["year"] for y in base["outlook"]] == [y["year"] for y in scen["outlook"]]
        later = [(b, s) for b, s in zip(base["outlook"], scen["outlook"], strict=True) if b["forecast_periods"]]
        assert later and all(s["value"] > b["value"] for b, s in later), sid
        for y in scen["outlook"]:
            bands = {i["level"]: i for i in y["intervals"]}
            assert bands[95]["lo"] <= bands[80]["lo"] <= y["value"] <= bands[80]["hi"] <= bands[95]["hi"]


def test_named_bear_is_below_bull_and_base_is_the_baseline(hbm_client: TestClient) -> None:
    runs = {}
    for name in ("bear", "base", "bull"):
        r = _post(hbm_client, {"scenario": name, "targets": [HBM_ID]})
        assert r.status_code == 200, r.text
        runs[name] = r.json()
        assert runs[name]["scenario"]["description"] == NAMED_SCENARIOS[name]["description"]
        assert list(runs[name]["targets"]) == [HBM_ID]
    bear, base, bull = (_values(runs[n]["targets"][HBM_ID]["scenario"]) for n in ("bear", "base", "bull"))
    assert all(lo < mid < hi for lo, mid, hi in zip(bear, base, bull, strict=True))
    assert base == _values(runs["base"]["targets"][HBM_ID]["baseline"])


def test_overrides_apply_to_the_scenario_only(hbm_client: TestClient) -> None:
    plain = _post(hbm_client, {"scenario": "base", "targets": [HBM_ID]}).json()["targets"][HBM_ID]
    fixed = _post(hbm_client, {"scenario": "base", "targets": [HBM_ID], "hbm_content": 0.25}).json()
    assert fixed["scenario"]["hbm_content"] == 0.25
    t = fixed["targets"][HBM_ID]
    assert _values(t["baseline"]) == _values(plain["baseline"])
    assert all(s > b for b, s in zip(_values(t["baseline"]), _values(t["scenario"]), strict=True))


def test_other_modes(hbm_client: TestClient, hbm_loaded: LoadedModel) -> None:
    r = _post(hbm_client, {"capex": _capex({"2026": 40}, "yoy_growth_pct"), "targets": [HBM_ID, HBM_ID]})
    assert r.status_code == 200, r.text
    assert r.json()["scenario"]["targets"] == [HBM_ID]
    years = scenario_years(hbm_loaded.forecaster)
    base = {c["year"]: c["baseline"] for c in r.json()["capex"]}
    target = {str(years[1]): 1.2 * base[years[1]]}
    r = _post(hbm_client, {"capex": _capex(target, "absolute_usd_m"), "targets": ["micron_revenue"]})
    assert r.status_code == 200, r.text
    cap = {c["year"]: c for c in r.json()["capex"]}
    assert cap[years[1]]["scenario"] == pytest.approx(target[str(years[1])], rel=1e-5)
    assert cap[years[2]]["multiplier"] == pytest.approx(1.0)  # years left out keep the baseline


def test_year_outside_the_forecast_is_422_naming_the_allowed_years(hbm_client: TestClient,
                                                                    hbm_loaded: LoadedModel) -> None:
    allowed = scenario_years(hbm_loaded.forecaster)
    for year in ("2031", str(allowed[0] - 1)):
        err = _error(_post(hbm_client, {"capex": _capex({str(allowed[0]): 10, year: 10})}))
        assert err["code"] == "invalid_scenario"
        assert err["message"] == f"scenario years [{year}] are outside the forecast years {allowed}"


def test_unknown_scenario_name_is_422_listing_the_names(hbm_client: TestClient) -> None:
    err = _error(_post(hbm_client, {"scenario": "doom"}))
    assert err["code"] == "validation_error"
    assert all(f"'{name}'" in err["message"] for name in ("bear", "base", "bull"))
    assert set(get_args(ScenarioName)) <= set(NAMED_SCENARIOS)


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
        assert err["code"] == "invalid_scenario"
        assert err["message"].endswith("scenario targets: " + ", ".join(ALL_TARGETS))


@pytest.mark.parametrize(
    ("body", "loc"),
    [
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


@pytest.mark.parametrize(("capex", "msg"), [
    (_capex({"2026": -95, "2027": 10}), "between -75 and 200"),
    (_capex({"2026": 151}, "yoy_growth_pct"), "between -50 and 150"),
    (_capex({"2026": -90}, "yoy_growth_pct"), "between -50 and 150"),
    (_capex({"2027": 5}, "absolute_usd_m"), "between 0.25x and 4.0x"),
])
def test_out_of_range_values_name_the_bounds(hbm_client: TestClient, capex: dict[str, Any], msg: str) -> None:
    err = _error(_post(hbm_client, {"capex": capex}))
    assert err["code"] == "invalid_scenario" and msg in err["message"]


def test_non_finite_values_are_422(hbm_client: TestClient) -> None:
    r = hbm_client.post("/v1/scenarios", content=b'{"capex": {"mode": "absolute_usd_m", "values": {"2026": NaN}}}',
                        headers={"Content-Type": "application/json"})
    assert _error(r)["code"] == "validation_error"


def test_scenario_error_is_422_with_its_message(hbm_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise ScenarioError("capex in 2027 would be -1 US$ m; it must stay positive")

    monkeypatch.setattr(scenarios_module, "capex_path", refuse)
    err = _error(_post(hbm_client, {"scenario": "bear", "targets": [HBM_ID]}))
    assert err == {"code": "invalid_scenario", "message": "capex in 2027 would be -1 US$ m; it must stay positive",
                   "detail": None}


def test_model_without_hbm_calibration_is_422(client: TestClient) -> None:
    err = _error(_post(client, {"scenario": "bull"}))
    assert err["code"] == "invalid_scenario" and "capex_hyperscalers_total" in err["message"]


def test_repeats_are_served_from_the_cache(hbm_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = hbm_client.app.state.runtime.scenarios  # type: ignore[attr-defined]
    first = _post(hbm_client, {"scenario": "bull", "targets": [HBM_ID, "skhynix_revenue"]})
    assert first.status_code == 200 and len(cache) == 1

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("a repeated scenario was recomputed")

    monkeypatch.setattr(scenarios_module, "capex_path", boom)
    again = _post(hbm_client, {"targets": [HBM_ID, "skhynix_revenue", HBM_ID], "scenario": "bull"})
    assert again.status_code == 200 and again.json() == first.json() and len(cache) == 1
    monkeypatch.undo()
    assert _post(hbm_client, {"scenario": "bear", "targets": [HBM_ID]}).status_code == 200 and len(cache) == 2
    assert hbm_client.post("/v1/admin/reload", headers={"X-API-Key": ADMIN_KEY}).status_code == 200
    assert len(cache) == 0


def test_key_is_canonical(hbm_loaded: LoadedModel) -> None:
    named = hbm.scenario_spec(hbm_loaded, ScenarioRequest(scenario="bull"))
    explicit = hbm.scenario_spec(hbm_loaded, ScenarioRequest(scenario="bull", targets=ALL_TARGETS))
    assert hbm.scenario_key(hbm_loaded, named) == hbm.scenario_key(hbm_loaded, explicit)
    y0, y1 = scenario_years(hbm_loaded.forecaster)[:2]
    a = hbm.scenario_spec(hbm_loaded, ScenarioRequest.model_validate(
        {"capex": {"mode": "yoy_growth_pct", "values": {str(y1): 5, str(y0): 10}}}))
    b = hbm.scenario_spec(hbm_loaded, ScenarioRequest.model_validate(
        {"capex": {"mode": "yoy_growth_pct", "values": {str(y0): 10.0, str(y1): 5}}}))
    assert hbm.scenario_key(hbm_loaded, a) == hbm.scenario_key(hbm_loaded, b)
    c = hbm.scenario_spec(hbm_loaded, ScenarioRequest.model_validate(
        {"capex": {"mode": "yoy_growth_pct", "values": {str(y0): 10}}, "hbm_content": 0.2}))
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
