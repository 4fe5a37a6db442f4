"""Forecasts, calendar-year outlooks and fan charts of every served series (HBM revenue included)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import Field

from forecasting.artifact import MAX_OUTLOOK_YEARS
from forecasting.targets import MAX_HORIZON
from service import logic
from service.deps import MeterDep, ModelDep, ReadAccess, RuntimeDep, ServingDep, SettingsDep
from service.http_cache import wants_csv
from service.routes.responses import READ_ERRORS, errors
from service.schemas import ForecastResponse, Level, OutlookResponse, OutputFormat, TargetCurrency, bounded

router = APIRouter(prefix="/forecasts", tags=["forecasts"], dependencies=[ReadAccess])

#: the longest horizon of any series; each series' own maximum is in GET /v1/series (`max_horizon`)
HORIZON_MAX = max(MAX_HORIZON.values())
MAXIMA = ", ".join(f"{n} {f}" for f, n in MAX_HORIZON.items())
Horizon = Annotated[int, Field(ge=1, le=HORIZON_MAX), bounded(1, HORIZON_MAX)]
OutlookYears = Annotated[int, Field(ge=1, le=MAX_OUTLOOK_YEARS), bounded(1, MAX_OUTLOOK_YEARS)]

SeriesId = Annotated[str, Path(description="forecast series id (see GET /v1/series?forecast=true), e.g. "
                                           "wsts_worldwide_sales or hbm_revenue", examples=["wsts_worldwide_sales"])]
Levels = Annotated[
    list[Level] | None,
    Query(description="interval level(s) in %, 50..99, repeatable: level=80&level=95 (default); at most "
                      "CHIPCAST_MAX_LEVELS values (4)", examples=[[80, 95]]),
]
Format = Annotated[OutputFormat | None,
                   Query(alias="format", description="json (default) or csv; `Accept: text/csv` works too")]
CurrencyParam = Annotated[
    TargetCurrency | None,
    Query(description="USD: values of a KRW or NT$ series converted with the Fed's monthly average rates "
                      "(published periods at their own months' rates, forecast periods at the last published "
                      "month's); the response states the conversion in `currency`. A series that is not money "
                      "answers 409"),
]

PNG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
          "description": "fan chart PNG"}}
CSV_CONTENT = {"text/csv": {"schema": {"type": "string"},
                            "example": "ds,forecast,forecast-lo-80,forecast-hi-80\n2026-08-01,152.3,138.2,171.5\n"}}
OUTLOOK_CSV_CONTENT = {"text/csv": {"schema": {"type": "string"}, "example": (
    "year,value,growth_pct,prior_year_value,published_periods,forecast_periods,lo_80,hi_80,growth_lo_80,"
    "growth_hi_80\n2026,1711.85,115.65,793.8,2,2,1647.41,1868.16,107.53,135.34\n")}}


def _on_demand(horizon: int | None, levels: list[int], currency: TargetCurrency | None) -> bool:
    """Whether this is a combination computed on demand (compute executor, rate-limit cost) or the default
    forecast of a series, one per series and format, which the first poll of the day builds in the thread pool."""
    return horizon is not None or levels != [80, 95] or currency is not None


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


@router.get("/{series_id}.png", response_class=Response, operation_id="getForecastChart",
            responses={**PNG_RESPONSE, **errors(*READ_ERRORS, 404, 503)},
            summary="Fan chart: history, last actual, forecast and 80/95% bands (PNG)")
def fan_chart(series_id: SeriesId, model: ModelDep, runtime: RuntimeDep, meter: MeterDep) -> Response:
    def render() -> bytes:
        meter.charge_compute()  # runs only on a miss, before drawing
        return logic.fan_chart(model, series_id)

    png = runtime.charts.get_or_render((model.version, model.run_id, series_id), render)
    return Response(png, media_type="image/png")


@router.get("/{series_id}/outlook", response_model=OutlookResponse, operation_id="getOutlook",
            responses={200: {"content": OUTLOOK_CSV_CONTENT}, **errors(*READ_ERRORS, 404, 409, 503)},
            summary="Calendar-year totals, growth and intervals")
async def outlook(
    series_id: SeriesId,
    request: Request,
    model: ModelDep,
    serving: ServingDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    meter: MeterDep,
    horizon: Annotated[OutlookYears | None, Query(
                                         description=f"calendar years from the first forecast year, "
                                                     f"1..{MAX_OUTLOOK_YEARS} (default 2; HBM: every modelled "
                                                     f"year); at most the years the series' forecast completes "
                                                     f"(`max_outlook_years` in GET /v1/series), else 409")]
    = None,
    level: Levels = None,
    fmt: Format = None,
    currency: CurrencyParam = None,
) -> Response:
    levels = level or [80, 95]
    csv = wants_csv(fmt, request)
    key = (model.version, model.run_id, "outlook", series_id, str(horizon), ",".join(map(str, levels)),
           "csv" if csv else "json", str(currency), _today())
    today = datetime.now(UTC).date()

    def result() -> Any:
        return logic.outlook_result(model, series_id, horizon, levels, settings.max_levels, currency, serving.panel)

    on_demand = _on_demand(horizon, levels, currency)
    if csv:
        return await meter.cached(runtime.responses, key, lambda: logic.outlook_csv(result()), on_demand,
                                  media_type="text/csv")
    return await meter.cached(runtime.responses, key,
                              lambda: logic.forecast_body(model, result(), today, outlook_only=True), on_demand)


@router.get("/{series_id}", response_model=ForecastResponse, operation_id="getForecast",
            responses={200: {"content": CSV_CONTENT}, **errors(*READ_ERRORS, 404, 409, 503)},
            summary="Point forecasts with prediction intervals, and the calendar years they complete")
async def forecast(
    series_id: SeriesId,
    request: Request,
    model: ModelDep,
    serving: ServingDep,
    settings: SettingsDep,
    runtime: RuntimeDep,
    meter: MeterDep,
    horizon: Annotated[
        Horizon | None,
        Query(
              description=f"periods ahead; default 18 monthly, 8 quarterly, 2 annual. Each series' own maximum "
                          f"({MAXIMA}, or fewer where its stored paths end sooner) is `max_horizon` "
                          f"in GET /v1/series; beyond it: 409 invalid_horizon. Read off stored paths, never "
                          f"refitted", examples=[8],
              json_schema_extra={"x-maximum-by-frequency": {str(f): n for f, n in MAX_HORIZON.items()}}),
    ] = None,
    level: Levels = None,
    fmt: Format = None,
    currency: CurrencyParam = None,
) -> Response:
    levels = level or [80, 95]
    csv = wants_csv(fmt, request)
    key = (model.version, model.run_id, "forecast", series_id, str(horizon), ",".join(map(str, levels)),
           "csv" if csv else "json", str(currency), _today())
    today = datetime.now(UTC).date()

    def result() -> Any:
        return logic.forecast_result(model, series_id, horizon, levels, settings.max_levels, currency, serving.panel)

    on_demand = _on_demand(horizon, levels, currency)
    if csv:
        return await meter.cached(runtime.responses, key, lambda: logic.forecast_csv(result()), on_demand,
                                  media_type="text/csv")
    return await meter.cached(runtime.responses, key, lambda: logic.forecast_body(model, result(), today), on_demand)
