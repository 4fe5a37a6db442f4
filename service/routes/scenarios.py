"""Scenario forecasts (provisional: the HBM scenario issue replaces the conditioning logic)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from service import logic
from service.deps import ModelDep, ReadAccess
from service.routes.responses import READ_ERRORS, errors
from service.schemas import ScenarioRequest, ScenarioResponse

router = APIRouter(prefix="/scenarios", tags=["scenarios"], dependencies=[ReadAccess])


@router.post(
    "",
    response_model=ScenarioResponse,
    responses=errors(*READ_ERRORS, 404, 422, 503),
    summary="Baseline vs capex-conditional forecasts (provisional)",
    description=(
        "**Provisional.** For each target whose model has a hyperscaler-capex driver, returns the baseline "
        "forecast and one with the capex driver inputs scaled by `1 + capex_growth_pct/100` (a sensitivity "
        "to the capex level: drivers are lagged by at least the horizon, so no future capex enters). "
        "Targets without a capex driver answer 422 `no driver-conditional model for <target>`. "
        "The request and response shapes will grow driver paths when the HBM scenario work lands."
    ),
)
def scenarios(
    body: Annotated[
        ScenarioRequest,
        Body(openapi_examples={
            "capex_up": {"summary": "capex +25%",
                         "value": {"targets": ["nvidia_datacenter_revenue"], "capex_growth_pct": 25.0}},
            "capex_down": {"summary": "capex -30%",
                           "value": {"targets": ["micron_revenue", "skhynix_revenue"], "capex_growth_pct": -30}},
        }),
    ],
    model: ModelDep,
) -> ScenarioResponse:
    return logic.scenario_response(model, body.targets, body.capex_growth_pct)
