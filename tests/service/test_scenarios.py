"""POST /v1/scenarios: named and user-defined capex paths for memory and HBM, validation, errors and caching."""

from __future__ import annotations

import inspect
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

import forecasting.scenarios as scenarios_module
from forecasting.hbm import HBM_ID, MEMORY_TARGETS, NAMED_SCENARIOS, ScenarioError, ScenarioSpec, capex_annual
from forecasting.serving import LoadedModel
from pipelines.config import DataSettings
from pipelines.guidance import GUIDANCE_FILE
from service import hbm
from service.routes.scenarios import scenarios as scenarios_route
from service.schemas import NamedScenarioRequest, ScenarioName, ScenarioRequest
from tests.service.conftest import ADMIN_KEY

ALL_TARGETS = [*MEMORY_TARGETS, HBM_ID]
#: union branches and capex modes pydantic puts into error locations of the one-of body
_UNION_TAGS = {"named", "custom", "relative_to_baseline_pct", "yoy_growth_pct", "absolute_usd_m"}


def _request(body: dict[str, Any]) -> ScenarioRequest:
    return TypeAdapter(ScenarioRequest).validate_python(body)  # type: ignore[return-value]


def _locs(err: dict[str, Any]) -> list[list[str]]:
    return [[str(x) for x in d["loc"] if x not in _UNION_TAGS] for d in err["detail"]]


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


def test_named_bear_is_below_bull_and_base_is_the_baseline(hbm_client: TestClient, hbm_loaded: LoadedModel) -> None:
    years = capex_annual(hbm_loaded.forecaster)[0]
    runs = {}
    for name in ("bear", "base", "bull"):
        r = _post(hbm_client, {"scenario": name, "targets": [HBM_ID]})
        assert r.status_code == 200, r.text
        runs[name] = r.json()
        assert runs[name]["scenario"]["description"] == ScenarioSpec.named(name, None, years).description
        assert runs[name]["scenario"]["description"].startswith(NAMED_SCENARIOS[name]["summary"])
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
    years = capex_annual(hbm_loaded.forecaster)[0]
    base = {c["year"]: c["baseline"] for c in r.json()["capex"]}
    target = {str(years[1]): 1.2 * base[years[1]]}
    r = _post(hbm_client, {"capex": _capex(target, "absolute_usd_m"), "targets": ["micron_revenue"]})
    assert r.status_code == 200, r.text
    cap = {c["year"]: c for c in r.json()["capex"]}
    assert cap[years[1]]["scenario"] == pytest.approx(target[str(years[1])], rel=1e-5)
    assert cap[years[2]]["multiplier"] == pytest.approx(1.0)  # years left out keep the baseline


def test_year_outside_the_forecast_is_409_naming_the_allowed_years(hbm_client: TestClient,
                                                                    hbm_loaded: LoadedModel) -> None:
    """A year is well formed (2000..2100, the schema says so); which years the capex forecast covers depends on
    the serving model, so an uncovered one conflicts with it (409), naming the covered ones."""
    allowed = capex_annual(hbm_loaded.forecaster)[0]
    for year in ("2031", str(allowed[0] - 1)):
        err = _error(_post(hbm_client, {"capex": _capex({str(allowed[0]): 10, year: 10})}), 409)
        assert err["code"] == "invalid_scenario"
        assert err["message"] == f"scenario years [{year}] are outside the forecast years {allowed}"


def test_unknown_scenario_name_is_422_listing_the_names(hbm_client: TestClient) -> None:
    err = _error(_post(hbm_client, {"scenario": "doom"}))
    assert err["code"] == "validation_error"
    assert all(f"'{name}'" in err["message"] for name in ("bear", "base", "bull", "guidance"))
    assert {n.value for n in ScenarioName} == {*NAMED_SCENARIOS, "guidance"}


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"scenario": "bull", "capex": _capex({"2026": 10})}, ["body", "custom", "scenario"]),
        ({}, ["body", "named", "scenario"]),
        ({"targets": [HBM_ID]}, ["body", "named", "scenario"]),
        ({"scenario": "bull", "name": "mine"}, ["body", "named", "name"]),
    ],
)
def test_exactly_one_of_scenario_or_capex(hbm_client: TestClient, body: dict[str, Any], loc: list[str]) -> None:
    """The schema says it (oneOf a named and a custom request, no extra fields); errors name the branch a body
    was read as (custom if it has `capex`)."""
    err = _error(_post(hbm_client, body))
    assert err["code"] == "validation_error"
    assert [d["loc"] for d in err["detail"]] == [loc], err["detail"]


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (b'{"scenario": "bull", "capex": {"mode": "relative_to_baseline_pct", "values": {"2026": 1}}}',
         "application/json",
         "send either `scenario` (bear, base, bull or guidance) or `capex` (your own path), not both"),
        (b"{}", "application/json", "send either `scenario` (bear, base, bull or guidance) or `capex` (your own path)"),
        (b'{"scenario": "bull", "name": "mine"}', "application/json", "body.name: Extra inputs are not permitted"),
        (b"{bad", "application/json", "the request body is not valid JSON (Expecting property name enclosed in double "
                                      "quotes at offset 1)"),
        (b"hello", "text/plain", "the request body must be a JSON object (Content-Type: application/json); send"),
        (b"[1]", "application/json", "the request body must be a JSON object"),
    ],
)
def test_body_errors_say_what_to_send(hbm_client: TestClient, content: bytes, content_type: str, message: str) -> None:
    """Pydantic's own words named internal branch tags ("body.custom.scenario: Extra inputs are not permitted")
    and said "body.1: JSON decode error" for malformed JSON."""
    err = _error(hbm_client.post("/v1/scenarios", content=content, headers={"content-type": content_type}))
    assert err["code"] == "validation_error" and err["message"].startswith(message), err["message"]
    assert "named" not in err["message"] and "custom" not in err["message"]


def test_without_a_data_panel_only_the_memory_market_is_refused(make_app: Any, hbm_loaded: LoadedModel) -> None:
    """The market follows its makers in US$, which needs the panel's exchange rates: with no panel loaded it is
    a 503 naming why (the server's data, not the request), while HBM and the makers still answer."""
    def no_panel() -> Any:
        raise OSError("panel store unreadable")

    with TestClient(make_app(model_loader=lambda: hbm_loaded, panel_loader=no_panel)) as c:
        err = _error(_post(c, {"scenario": "bull", "targets": ["wsts_memory_sales_annual"]}), 503)
        assert err["code"] == "no_data" and "exchange rates" in err["message"], err
        ok = _post(c, {"scenario": "bull", "targets": [HBM_ID, "micron_revenue", "skhynix_revenue"]})
        assert ok.status_code == 200, ok.text
        assert set(ok.json()["targets"]) == {HBM_ID, "micron_revenue", "skhynix_revenue"}


def test_unknown_targets_are_422_listing_the_allowed_ones(hbm_client: TestClient) -> None:
    for targets in (["nope"], [HBM_ID, "capex_meta"]):
        err = _error(_post(hbm_client, {"scenario": "bull", "targets": targets}))
        assert err["code"] == "validation_error"
        assert all(f"'{t}'" in err["message"] for t in ALL_TARGETS), err["message"]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"capex": _capex({})}, ["body", "capex", "values"]),
        ({"capex": _capex({"2026": -95, "2027": 10})}, ["body", "capex", "values", "2026"]),
        ({"capex": _capex({"2026": 151}, "yoy_growth_pct")}, ["body", "capex", "values", "2026"]),
        ({"capex": _capex({"2026": 0}, "absolute_usd_m")}, ["body", "capex", "values", "2026"]),
        ({"capex": _capex({"twenty": 10})}, ["body", "capex", "values", "twenty", "[key]"]),
        ({"capex": _capex({"2026.5": 10})}, ["body", "capex", "values", "2026.5", "[key]"]),
        ({"capex": _capex({"1066": 10})}, ["body", "capex", "values", "1066", "[key]"]),
        ({"capex": {"mode": "double_it", "values": {"2026": 1}}}, ["body", "capex"]),
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
    assert loc in _locs(err), err["detail"]


@pytest.mark.parametrize(("capex", "msg"), [
    (_capex({"2026": -95, "2027": 10}), "must be between -75 and 200, got -95"),
    (_capex({"2026": 151}, "yoy_growth_pct"), "must be between -50 and 150, got 151"),
    (_capex({"2026": -90}, "yoy_growth_pct"), "must be between -50 and 150, got -90"),
])
def test_out_of_range_values_name_the_bounds(hbm_client: TestClient, capex: dict[str, Any], msg: str) -> None:
    """The schema states each mode's bounds (a oneOf on mode), so a value outside them is a 422 naming both ends."""
    err = _error(_post(hbm_client, {"capex": capex}))
    assert err["code"] == "validation_error" and msg in err["message"], err


def test_absolute_capex_far_from_the_baseline_is_409_naming_the_bounds(hbm_client: TestClient) -> None:
    """Absolute capex must lie within 0.25x..4x of the serving model's baseline year: a bound that moves with
    the model, so the schema states only > 0 and the model's refusal is a 409 with the multiples."""
    err = _error(_post(hbm_client, {"capex": _capex({"2027": 5}, "absolute_usd_m")}), 409)
    assert err["code"] == "invalid_scenario" and "between 0.25x and 4.0x" in err["message"]


def test_schema_states_the_bounds_per_mode(hbm_client: TestClient) -> None:
    schema = hbm_client.get("/openapi.json").json()["components"]["schemas"]
    bounds = {}
    for name in ("RelativeCapexPath", "YoyCapexPath", "AbsoluteCapexPath"):
        values = schema[name]["properties"]["values"]
        assert values["propertyNames"]["pattern"] == "^(20[0-9]{2}|2100)$" and values["minProperties"] == 1
        bounds[name] = {k: v for k, v in values["additionalProperties"].items() if k.endswith(("imum", "Minimum"))}
    assert bounds == {"RelativeCapexPath": {"minimum": -75, "maximum": 200},
                      "YoyCapexPath": {"minimum": -50, "maximum": 150},
                      "AbsoluteCapexPath": {"exclusiveMinimum": 0}}
    capex = schema["CustomScenarioRequest"]["properties"]["capex"]
    assert capex["discriminator"]["propertyName"] == "mode"
    named = schema["NamedScenarioRequest"]
    assert named["required"] == ["scenario"] and named["additionalProperties"] is False
    assert schema["ScenarioName"]["enum"] == ["bear", "base", "bull", "guidance"]
    hbm_content = named["properties"]["hbm_content"]["anyOf"][0]
    assert (hbm_content["minimum"], hbm_content["maximum"]) == (0.02, 0.5)


BOOLEAN, NOT_FINITE = "must be a number, not a boolean", "must be a finite number"


@pytest.mark.parametrize(("body", "msg"), [
    # lax float validation read `true` as 1.0: +1% capex answered 200, hbm_content "less than or equal to 0.5"
    (b'{"capex": {"mode": "relative_to_baseline_pct", "values": {"2026": true}}}', BOOLEAN),
    (b'{"capex": {"mode": "yoy_growth_pct", "values": {"2026": false}}}', BOOLEAN),
    (b'{"capex": {"mode": "absolute_usd_m", "values": {"2026": true}}}', BOOLEAN),
    (b'{"scenario": "bull", "hbm_content": true}', BOOLEAN),
    (b'{"name": "x", "capex": {"mode": "relative_to_baseline_pct", "values": {"2026": 5}}, "hbm_content": false}',
     BOOLEAN),
    # NaN failed every comparison and was answered with a bound it does not break
    (b'{"scenario": "bull", "hbm_content": NaN}', NOT_FINITE),
    (b'{"scenario": "bull", "hbm_content": -Infinity}', NOT_FINITE),
    (b'{"capex": {"mode": "relative_to_baseline_pct", "values": {"2026": NaN}}}', NOT_FINITE),
    (b'{"capex": {"mode": "yoy_growth_pct", "values": {"2026": Infinity}}}', NOT_FINITE),
    (b'{"capex": {"mode": "absolute_usd_m", "values": {"2026": NaN}}}', NOT_FINITE),
])
def test_booleans_and_non_finite_numbers_are_422_saying_so(client: TestClient, body: bytes, msg: str) -> None:
    r = client.post("/v1/scenarios", content=body, headers={"Content-Type": "application/json"})
    err = _error(r)
    assert err["code"] == "validation_error" and err["message"].endswith(msg), err["message"]
    assert [d["msg"] for d in err["detail"]] == [f"Value error, {msg}"], err["detail"]
    assert "less than or equal" not in r.text and "between" not in r.text


def test_scenario_error_is_409_with_its_message(hbm_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise ScenarioError("capex in 2027 would be -1 US$ m; it must stay positive")

    monkeypatch.setattr(scenarios_module, "capex_path", refuse)
    err = _error(_post(hbm_client, {"scenario": "bear", "targets": [HBM_ID]}), 409)
    assert err == {"code": "invalid_scenario", "message": "capex in 2027 would be -1 US$ m; it must stay positive",
                   "detail": None}


def test_model_without_hbm_calibration_is_409(client: TestClient) -> None:
    for name in ("bull", "guidance"):
        err = _error(_post(client, {"scenario": name}), 409)
        assert err["code"] == "invalid_scenario" and "capex_hyperscalers_total" in err["message"], name


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
    named = hbm.scenario_spec(hbm_loaded, NamedScenarioRequest(scenario="bull"))  # type: ignore[arg-type]
    explicit = hbm.scenario_spec(hbm_loaded, _request({"scenario": "bull", "targets": ALL_TARGETS}))
    assert hbm.scenario_key(hbm_loaded, named) == hbm.scenario_key(hbm_loaded, explicit)
    y0, y1 = capex_annual(hbm_loaded.forecaster)[0][:2]
    a = hbm.scenario_spec(hbm_loaded, _request(
        {"capex": {"mode": "yoy_growth_pct", "values": {str(y1): 5, str(y0): 10}}}))
    b = hbm.scenario_spec(hbm_loaded, _request(
        {"capex": {"mode": "yoy_growth_pct", "values": {str(y0): 10.0, str(y1): 5}}}))
    assert hbm.scenario_key(hbm_loaded, a) == hbm.scenario_key(hbm_loaded, b)
    c = hbm.scenario_spec(hbm_loaded, _request(
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


# ------------------------------------------------------------------------------------------ the guidance scenario


def test_guidance_scenario_sums_the_latest_usable_guidance_and_keeps_the_rest(hbm_client: TestClient) -> None:
    """2026 capex from Alphabet's, Amazon's and Meta's latest guidance midpoints; Microsoft (CONFLICTING) and
    Oracle (no number) keep their own capex forecast; every statement is echoed with why it was used or not."""
    stored = {sid: hbm_client.get(f"/v1/forecasts/{sid}/outlook").json()
              for sid in ("capex_hyperscalers_total", "capex_microsoft", "capex_oracle")}
    r = _post(hbm_client, {"scenario": "guidance"})
    assert r.status_code == 200, r.text
    body = r.json()
    sc = body["scenario"]
    assert (sc["name"], sc["mode"], list(sc["values"])) == ("guidance", "absolute_usd_m", ["2026"])
    companies = {c["company"]: c for c in sc["companies"]}
    assert {k: v["source"] for k, v in companies.items()} == {
        "Microsoft": "baseline", "Alphabet": "guidance", "Amazon": "guidance", "Meta Platforms": "guidance",
        "Oracle": "baseline"}
    assert (companies["Alphabet"]["value_usd_m"], companies["Amazon"]["value_usd_m"],
            companies["Meta Platforms"]["value_usd_m"]) == (200_000.0, 220_000.0, 137_500.0)
    for name, sid in (("Microsoft", "capex_microsoft"), ("Oracle", "capex_oracle")):
        own_2026 = next(y["value"] for y in stored[sid]["outlook"] if y["year"] == 2026)
        assert companies[name]["value_usd_m"] == pytest.approx(own_2026, rel=1e-5), name
    total = sum(c["value_usd_m"] for c in sc["companies"])
    assert sc["values"]["2026"] == pytest.approx(total, rel=1e-6)
    capex = {c["year"]: c for c in body["capex"]}
    assert capex[2026]["scenario"] == pytest.approx(total, rel=1e-5)
    assert all(c["multiplier"] == pytest.approx(1.0) for y, c in capex.items() if y != 2026)  # baseline elsewhere
    used = [s for s in sc["statements"] if s["used"]]
    assert sorted((s["company"], s["date_stated"]) for s in used) == [
        ("Alphabet", "2026-07-22"), ("Amazon", "2026-07-30"), ("Meta Platforms", "2026-07-29")]
    assert sorted(sc["sources"]) == sorted({s["source_url"] for s in used})
    left_out = {(s["company"], s["date_stated"]): s["reason"] for s in sc["statements"] if not s["used"]}
    assert all("CONFLICTING" in why for (who, _), why in left_out.items() if who == "Microsoft")
    assert "no number" in left_out[("Oracle", "2026-09-11")]
    assert left_out[("Alphabet", "2026-02-04")] == "superseded by the statement of 2026-07-22"
    assert "not one of the companies" in left_out[("TSMC", "2026-07-16")]
    assert any("context only" in why for why in left_out.values())  # NVIDIA on its customers, analyst consensus
    assert all(s["date_stated"] or "undated" in s["reason"] for s in sc["statements"])
    assert "scenario input only" in sc["description"] and "Microsoft" in sc["description"]
    # the baseline is the stored forecast; the scenario is beside it, and the stored forecasts never change
    for sid, t in body["targets"].items():
        years = len(t["baseline"]["outlook"])
        assert t["baseline"]["outlook"] == hbm_client.get(f"/v1/forecasts/{sid}/outlook",
                                                          params={"horizon": years}).json()["outlook"], sid
    for sid, before in stored.items():
        assert hbm_client.get(f"/v1/forecasts/{sid}/outlook").json() == before


def test_guidance_needs_the_companies_it_keeps(make_app: Any, hbm_loaded: LoadedModel) -> None:
    """Without Microsoft's own capex forecast there is no baseline to keep for it: 409, naming the series."""
    from forecasting.artifact import Forecaster
    from forecasting.serving import LoadedModel as Loaded

    fc = hbm_loaded.forecaster
    without = Forecaster({k: v for k, v in fc.models.items() if k != "capex_microsoft"}, fc.meta, fc.hbm,
                         fc.track_record)
    model = Loaded(without, "8", "run-8", "champion")
    with TestClient(make_app(model_loader=lambda: model)) as c:
        err = _error(_post(c, {"scenario": "guidance", "targets": [HBM_ID]}), 409)
        assert err["code"] == "invalid_scenario" and "capex_microsoft" in err["message"]


@pytest.mark.parametrize(("content", "problem"), [
    (None, f"({GUIDANCE_FILE}: file not found)"),
    (b"date_stated,entity\n2026-07-22,Alphabet\n", "line 1: missing column(s)"),
    (b"\xff\xfe not utf-8 at all", f"({GUIDANCE_FILE}: UnicodeDecodeError, details in the server log)"),
])
def test_unreadable_guidance_is_503_naming_the_problem(client: TestClient, monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path, content: bytes | None, problem: str) -> None:
    """A missing or malformed guidance file raised a non-ScenarioError and the client got a bare 500."""
    if content is not None:
        (tmp_path / GUIDANCE_FILE).parent.mkdir(parents=True)
        (tmp_path / GUIDANCE_FILE).write_bytes(content)
    monkeypatch.setattr(hbm, "get_data_settings", lambda: DataSettings(data_dir=tmp_path))
    err = _error(_post(client, {"scenario": "guidance"}), 503)
    assert err["code"] == "guidance_unavailable" and problem in err["message"], err
    assert str(tmp_path) not in err["message"] and "Traceback" not in err["message"]
    # the other scenarios never read the file: the small champion refuses them as before (no capex model)
    assert _error(_post(client, {"scenario": "bull"}), 409)["code"] == "invalid_scenario"


def test_a_month_only_statement_never_supersedes_a_dated_one_it_may_have_preceded(hbm_loaded: LoadedModel) -> None:
    """Synthetic statements (tests only): Amazon's 2026 capex said "in November" (known from 30 November) and on
    15 November. The month-only one may have come first, so the dated one is the latest usable guidance."""
    from datetime import date

    import polars as pl

    from pipelines.guidance import load_capex_guidance
    from tests.conftest import REAL_DATA_DIR

    real = load_capex_guidance(REAL_DATA_DIR, include_context=True)
    template = real.filter(pl.col("company") == "Amazon").head(1)
    synthetic = pl.concat([
        real.filter(pl.col("company") != "Amazon"),
        template.with_columns(pl.lit(date(2026, 11, 30)).alias("date_stated"), pl.lit("month").alias("date_precision"),
                              pl.lit(100.0).alias("low_usd_bn"), pl.lit(100.0).alias("high_usd_bn"),
                              pl.lit("calendar 2026").alias("period_covered"), pl.lit([], dtype=pl.List(pl.String))
                              .alias("flags")),
        template.with_columns(pl.lit(date(2026, 11, 15)).alias("date_stated"), pl.lit("day").alias("date_precision"),
                              pl.lit(200.0).alias("low_usd_bn"), pl.lit(200.0).alias("high_usd_bn"),
                              pl.lit("calendar 2026").alias("period_covered"), pl.lit([], dtype=pl.List(pl.String))
                              .alias("flags")),
    ])
    fc = hbm_loaded.forecaster
    assert 2026 in capex_annual(fc)[0] and date.fromisoformat(fc.meta.as_of) >= date(2026, 11, 30)
    spec = scenarios_module.guidance_spec(fc, synthetic)
    used = [s for s in spec.statements if s["used"] and s["company"] == "Amazon"]
    assert [(s["date_stated"], s["midpoint_usd_bn"]) for s in used] == [("2026-11-15", 200.0)]
