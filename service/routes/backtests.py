"""Backtest leaderboards behind each champion."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path

from service import logic
from service.deps import ModelDep, ReadAccess
from service.routes.responses import READ_ERRORS, errors
from service.schemas import BacktestResponse

router = APIRouter(prefix="/backtests", tags=["backtests"], dependencies=[ReadAccess])


@router.get("/{series_id}", response_model=BacktestResponse, operation_id="getBacktest",
            responses=errors(*READ_ERRORS, 404, 503),
            summary="Rolling-origin backtest leaderboard: every zoo model and the served combination")
def backtest(
    series_id: Annotated[str, Path(description="forecast series id", examples=["capex_meta"])],
    model: ModelDep,
) -> BacktestResponse:
    return logic.backtest_response(model, series_id, datetime.now(UTC).date())
