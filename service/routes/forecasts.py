"""Forecasts, calendar-year outlooks and fan charts from the serving champion (and the modelled HBM revenue)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from forecasting.hbm import HBM_ID
from service import hbm, logic
from service.deps import ModelDep, ReadAccess, RuntimeDep, ServingDep, SettingsDep
from service.http_cache import cached_json
from service.routes.responses import READ_ERRORS, errors
from service.schemas import ForecastResponse, HbmForecastResponse, HbmOutlookResponse, OutlookResponse

router = APIRouter(prefix="/forecasts", tags=["forecasts"], dependencies=[ReadAccess])

SeriesId = Annotated[str, Path(description="forecast series id (see GET /v1/series?forecast=true)",
                               examples=["wsts_worldwide_sales"])]


PNG_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}}, "description": "fan chart PNG"}}
HBM_NOTE = ("HBM revenue has no published history: it is a structural model, hyperscaler capex x accelerator "
            "share x HBM content, with parameters calibrated on published data and dated market-size estimates "
            "(see `GET /v1/models/hbm/assumptions`). Calendar years through 2028, levels 80 and 95 (no `horizon` "
            "or `level` parameters). Served from the baseline stored at train time: a read never simulates. "
            "404 if the serving champion was trained without `capex_hyperscalers_total`.")


# the modelled HBM routes are declared before the "/{series_id}" ones, which would otherwise take them
@router.get(f"/{HBM_ID}.png", response_class=Response, responses={**PNG_RESPONSE, **errors(*READ_ERRORS, 404, 503)},
            summary="HBM revenue per year: median with 80/95% interval bars (PNG)", description=HBM_NOTE)
def hbm_chart(model: ModelDep, runtime: RuntimeDep) -> Response:
    png = runtime.charts.get_or_render((model.version, model.run_id, HBM_ID), lambda: hbm.chart(model))
    return Response(png, media_type="image/png")


@router.get(f"/{HBM_ID}/outlook", response_model=HbmOutlookResponse, responses=errors(*READ_ERRORS, 404, 503),
            summary="HBM revenue per calendar year with growth, assumptions and sources", description=HBM_NOTE)
def hbm_outlook(model: ModelDep) -> HbmOutlookResponse:
    return hbm.outlook_response(model)


@router.get(f"/{HBM_ID}", response_model=HbmForecastResponse, responses=errors(*READ_ERRORS, 404, 503),
            summary="HBM revenue forecast per year (US$ bn) with 80/95% intervals", description=HBM_NOTE)
def hbm_forecast(model: ModelDep) -> HbmForecastResponse:
    return hbm.forecast_response(model)


# declared before "/{series_id}" so ".png" is not taken as part of an id
@router.get(
    "/{series_id}.png",
    response_class=Response,
    responses={**PNG_RESPONSE, **errors(*READ_ERRORS, 404, 503)},
    summary="Fan chart: history, forecast and 80/95% bands (PNG)",
)
def fan_chart(series_id: SeriesId, serving: ServingDep, model: ModelDep, runtime: RuntimeDep) -> Response:
    png = runtime.charts.get_or_render(
        (model.version, model.run_id, series_id), lambda: logic.fan_chart(model, serving.panel, series_id)
    )
    return Response(png, media_type="image/png")


@router.get("/{series_id}/outlook", response_model=OutlookResponse, responses=errors(*READ_ERRORS, 404, 503),
            summary="Calendar-year totals, growth and intervals")
async def outlook(series_id: SeriesId, model: ModelDep, runtime: RuntimeDep) -> Response:
    return await cached_json(runtime.responses, (model.version, model.run_id, "outlook", series_id),
                         lambda: logic.outlook_response(model, series_id))


@router.get("/{series_id}", response_model=ForecastResponse, responses=errors(*READ_ERRORS, 404, 422, 503),
            summary="Point forecasts with prediction intervals")
async def forecast(
    series_id: SeriesId,
    model: ModelDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
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
) -> Response:
    levels = level or [80, 95]
    key = (model.version, model.run_id, "forecast", series_id, str(horizon), ",".join(map(str, levels)))
    return await cached_json(runtime.responses, key,
                         lambda: logic.forecast_response(model, series_id, horizon, levels, settings.max_levels))
