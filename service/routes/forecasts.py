"""Forecasts, calendar-year outlooks and fan charts from the serving champion."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from service import logic
from service.deps import ModelDep, ReadAccess, RuntimeDep, ServingDep, SettingsDep
from service.routes.responses import READ_ERRORS, errors
from service.schemas import ForecastResponse, OutlookResponse

router = APIRouter(prefix="/forecasts", tags=["forecasts"], dependencies=[ReadAccess])

SeriesId = Annotated[str, Path(description="forecast series id (see GET /v1/series?forecast=true)",
                               examples=["wsts_worldwide_sales"])]


# declared before "/{series_id}" so ".png" is not taken as part of an id
@router.get(
    "/{series_id}.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "fan chart PNG"},
               **errors(*READ_ERRORS, 404, 503)},
    summary="Fan chart: history, forecast and 80/95% bands (PNG)",
)
def fan_chart(series_id: SeriesId, serving: ServingDep, model: ModelDep, runtime: RuntimeDep) -> Response:
    png = runtime.charts.get_or_render(
        (model.version, model.run_id, series_id), lambda: logic.fan_chart(model, serving.panel, series_id)
    )
    return Response(png, media_type="image/png")


@router.get("/{series_id}/outlook", response_model=OutlookResponse, responses=errors(*READ_ERRORS, 404, 503),
            summary="Calendar-year totals, growth and intervals")
def outlook(series_id: SeriesId, model: ModelDep) -> OutlookResponse:
    return logic.outlook_response(model, series_id)


@router.get("/{series_id}", response_model=ForecastResponse, responses=errors(*READ_ERRORS, 404, 422, 503),
            summary="Point forecasts with prediction intervals")
def forecast(
    series_id: SeriesId,
    model: ModelDep,
    settings: SettingsDep,
    horizon: Annotated[
        int | None,
        Query(description="periods ahead; default: the series' default horizon (precomputed). At most 36 "
                          "monthly, 12 quarterly, 4 annual; other horizons are fitted on first request.",
              examples=[8]),
    ] = None,
    level: Annotated[
        list[int] | None,
        Query(description="interval level(s) in %, 50..99, repeatable: level=80&level=95 (default)",
              examples=[[80, 95]]),
    ] = None,
) -> ForecastResponse:
    return logic.forecast_response(model, series_id, horizon, level or [80, 95], settings.max_levels)
