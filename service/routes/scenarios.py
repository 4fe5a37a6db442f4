"""Capex scenarios for memory revenue and HBM: named (bear/base/bull) or a user-defined capex path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Response

from service import hbm
from service.deps import MeterDep, ModelDep, ReadAccess, RuntimeDep, ServingDep
from service.routes.responses import READ_ERRORS, errors
from service.schemas import ScenarioRequest, ScenarioResponse

router = APIRouter(prefix="/scenarios", tags=["scenarios"], dependencies=[ReadAccess])

DESCRIPTION = """\
Memory revenue and HBM revenue under a hyperscaler-capex scenario, each **beside its stored baseline**, in
the same forecast shape as `GET /v1/forecasts/{id}` (points plus calendar-year totals, growth and intervals).

Send exactly one of:

* `scenario`: `bear` (capex -15/-30/-40% against the capex forecast in 2026/27/28), `base` (the forecast itself),
  `bull` (+15/+30/+40%) or `guidance`: capex in the years the companies guided (2026) is the sum, over the five
  companies, of each one's latest dated guidance that gives a number for that calendar year and is not flagged
  CONFLICTING (the midpoint of its range); a company without such guidance (Microsoft: flagged CONFLICTING;
  Oracle: no number, fiscal year) keeps its own capex forecast. Every statement considered is echoed in
  `scenario.statements` with its date, source, flags and why it was used or left out, and
  `scenario.companies` shows per company whether guidance or the baseline was used. Guidance is what
  companies said: a scenario input, never data a model is trained on; its bases (some include finance
  leases) differ from the cash capex series;
* `capex`: your own path, `{"mode": ..., "values": {"2026": 50, ...}}` with mode
  `relative_to_baseline_pct` (% vs the capex forecast, -75..200), `yoy_growth_pct` (% over the prior year,
  -50..150) or `absolute_usd_m` (US$ m per calendar year, 0.25x..4x the baseline year). Years must be years
  the capex forecast completes (the 409 names them). Years you leave out keep the baseline (in `yoy_growth_pct`,
  a year after a stated one keeps the baseline's growth from the scenario's level). A partly published year's
  scenario total must be at least what its published quarters add up to (409 naming both). `name` labels it.

`targets` (default: all) are the memory series of the serving model (`micron_revenue`, `skhynix_revenue`,
`wsts_memory_sales_annual`) and `hbm_revenue`; another value answers 422, one the serving model does not
forecast 409. Bounds the schema states (per mode, `hbm_content`) answer 422; bounds that depend on the serving
model (its forecast years, absolute capex within 0.25x..4x of its baseline year) answer 409 naming them.
`hbm_content` (0.02..0.5) fixes HBM revenue per US$ of NVIDIA data-center revenue **in the scenario only**;
the baseline is always the stored forecast.

How targets respond: HBM = capex x accelerator_share x hbm_content over the capex forecast's sample paths;
Micron and SK hynix = the baseline paths x (scenario capex / baseline capex) ^ elasticity, the elasticity
estimated on YoY growth, kept >= 0 and sampled from its standard error; the memory market moves as the two
makers' US$ sum does, path by path, so it stays tied to them. Annual capex multipliers are spread over quarters
smoothly (log-linear between mid-years; within each year the forecast quarters' point total moves by exactly
multiplier ^ elasticity, published quarters stay), so no quarter steps at a year end from the multiplier alone and
a year you leave out keeps its baseline point total. More capex never lowers HBM or a year's point total of a
target.

Results are computed on demand and cached per model version and scenario, so repeating a request is instant.
When the server is already busy with other computations it answers 503 with `Retry-After` instead of
queueing without bound. Responses are never HTTP-cached (`Cache-Control: no-store`).
"""


@router.post(
    "",
    response_model=ScenarioResponse,
    operation_id="runScenario",
    responses=errors(400, *READ_ERRORS, 409, 413, 503, descriptions={
        409: "Well formed, but the serving model cannot run it: a year its capex forecast does not complete, an "
             "absolute capex outside 0.25x..4x the baseline year, a scenario capex (any mode) below what the year's "
             "published quarters add up to, a target it does not forecast, no capex model, "
             "or no usable guidance; the message states what is allowed",
        503: "No champion model loaded, the server is busy computing other requests (see Retry-After), the "
             "memory market was asked for and no data panel (exchange rates for its makers) is loaded "
             "(`no_data`), or "
             "(`guidance_unavailable`) the server's capex guidance file is missing or malformed: the message "
             "names the file, line and problem"}),
    summary="Memory and HBM forecasts under a capex scenario, beside the baseline",
    description=DESCRIPTION,
)
async def scenarios(
    body: Annotated[
        ScenarioRequest,
        Body(openapi_examples={
            "named": {"summary": "named scenario (bull) for HBM and Micron",
                      "value": {"scenario": "bull", "targets": ["hbm_revenue", "micron_revenue"]}},
            "guidance": {"summary": "2026 capex from the companies' latest usable guidance",
                         "value": {"scenario": "guidance"}},
            "bear_all": {"summary": "bear scenario, every target", "value": {"scenario": "bear"}},
            "relative": {"summary": "capex +50% vs the forecast, fixed HBM content",
                         "value": {"name": "capex +50%",
                                   "capex": {"mode": "relative_to_baseline_pct",
                                             "values": {"2026": 50, "2027": 50, "2028": 50}},
                                   "targets": ["hbm_revenue", "skhynix_revenue"], "hbm_content": 0.16}},
            "yoy": {"summary": "capex growth +40% in 2026, then the baseline's growth",
                    "value": {"capex": {"mode": "yoy_growth_pct", "values": {"2026": 40}}}},
            "absolute": {"summary": "absolute capex, US$ m per year",
                         "value": {"capex": {"mode": "absolute_usd_m",
                                             "values": {"2027": 1000000}},
                                   "targets": ["hbm_revenue"]}},
        }),
    ],
    model: ModelDep,
    serving: ServingDep,
    runtime: RuntimeDep,
    meter: MeterDep,
) -> Response:
    # validation against the serving model reads its capex paths: on the compute executor, never the event loop
    spec = await runtime.compute.run(hbm.scenario_spec, model, body)
    key = hbm.scenario_key(model, spec)
    if runtime.scenarios.get(key) is None:
        meter.charge_compute()
    today = datetime.now(UTC).date()
    # computed once per scenario on the compute executor (503 when it is full), never on the event loop
    result = await runtime.scenarios.fetch(
        key, lambda: hbm.scenario_response(model, spec, today, serving.panel).model_dump_json().encode())
    return Response(result, media_type="application/json")
