"""Forecasts, calendar-year outlooks and fan charts of every served series (HBM revenue included)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from forecasting.artifact import MAX_OUTLOOK_YEARS
from service import logic
from service.deps import ModelDep, ReadAccess, RuntimeDep, SettingsDep
from service.http_cache import cached_json
from service.routes.responses import READ_ERRORS, errors
from service.schemas import ForecastResponse, OutlookResponse

router = APIRouter(prefix="/forecasts", tags=["forecasts"], dependencies=[ReadAccess])

SeriesId = Annotated[str, Path(description="forecast series id (see GET /v1/series?forecast=true), e.g. "
                                           "wsts_worldwide_sales or hbm_revenue", examples=["wsts_worldwide_sales"])]
Levels = Annotated[
    list[int] | None,
    Query(description="interval level(s) in %, 50..99, repeatable: level=80&level=95 (default)", examples=[[80, 95]]),
]
Format = Annotated[Literal["json", "csv"] | None,
                   Query(alias="format", description="json (default) or csv; `Accept: text/csv` works too")]

PNG_RESPONSE: dict[int | str, dict[str, Any]] = {200: {"content": {"image/png": {}}, "description": "fan chart PNG"}}
CSV_CONTENT = {"text/csv": {"example": "ds,forecast,forecast-lo-80,forecast-hi-80\n2026-08-01,152.3,138.2,171.5\n"}}


def _wants_csv(fmt: str | None, request: Request) -> bool:
    if fmt is not None:
        return fmt == "csv"
    return "text/csv" in request.headers.get("accept", "")


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


@router.get("/{series_id}.png", response_class=Response, responses={**PNG_RESPONSE, **errors(*READ_ERRORS, 404, 503)},
            summary="Fan chart: history, last actual, forecast and 80/95% bands (PNG)")
def fan_chart(series_id: SeriesId, model: ModelDep, runtime: RuntimeDep) -> Response:
    png = runtime.charts.get_or_render((model.version, model.run_id, series_id),
                                       lambda: logic.fan_chart(model, series_id))
    return Response(png, media_type="image/png")


@router.get("/{series_id}/outlook", response_model=OutlookResponse,
            responses={200: {"content": CSV_CONTENT}, **errors(*READ_ERRORS, 404, 422, 503)},
            summary="Calendar-year totals, growth and intervals")
async def outlook(
    series_id: SeriesId,
    request: Request,
    model: ModelDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    horizon: Annotated[int | None, Query(ge=1, le=MAX_OUTLOOK_YEARS,
                                         description=f"calendar years from the first forecast year, "
                                                     f"1..{MAX_OUTLOOK_YEARS} (default 2; HBM: every modelled year)")]
    = None,
    level: Levels = None,
    fmt: Format = None,
) -> Response:
    levels = level or [80, 95]
    csv = _wants_csv(fmt, request)
    key = (model.version, model.run_id, "outlook", series_id, str(horizon), ",".join(map(str, levels)),
           "csv" if csv else "json", _today())
    today = datetime.now(UTC).date()
    if csv:
        return await cached_json(runtime.responses, key, lambda: logic.outlook_csv(
            logic.outlook_result(model, series_id, horizon, levels, settings.max_levels)), media_type="text/csv")
    return await cached_json(runtime.responses, key, lambda: logic.forecast_body(
        model, logic.outlook_result(model, series_id, horizon, levels, settings.max_levels), today,
        outlook_only=True))


@router.get("/{series_id}", response_model=ForecastResponse,
            responses={200: {"content": CSV_CONTENT}, **errors(*READ_ERRORS, 404, 422, 503)},
            summary="Point forecasts with prediction intervals, and the calendar years they complete")
async def forecast(
    series_id: SeriesId,
    request: Request,
    model: ModelDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    horizon: Annotated[
        int | None,
        Query(ge=1, le=36, description="periods ahead; default 18 monthly, 8 quarterly, 2 annual. At most 36 "
                                       "monthly, 12 quarterly, 4 annual (HBM: 3); read off stored paths, never "
                                       "refitted", examples=[8]),
    ] = None,
    level: Levels = None,
    fmt: Format = None,
) -> Response:
    levels = level or [80, 95]
    csv = _wants_csv(fmt, request)
    key = (model.version, model.run_id, "forecast", series_id, str(horizon), ",".join(map(str, levels)),
           "csv" if csv else "json", _today())
    today = datetime.now(UTC).date()
    if csv:
        return await cached_json(runtime.responses, key, lambda: logic.forecast_csv(
            logic.forecast_result(model, series_id, horizon, levels, settings.max_levels)), media_type="text/csv")
    return await cached_json(runtime.responses, key, lambda: logic.forecast_body(
        model, logic.forecast_result(model, series_id, horizon, levels, settings.max_levels), today))
