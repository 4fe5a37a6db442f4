"""Request and response bodies of the HTTP API (pydantic; named ``<Thing>Request`` / ``<Thing>Response``).

Forecast bodies mirror ``forecasting.result.to_dict`` field for field (the CLI prints the same JSON).
Intervals are always a list of ``{"level": 80, "lo": ..., "hi": ...}``. Numbers that are not finite are
``null``; levels are rounded to 6 significant digits and percentages to 2 decimals.

Every closed set of values is a *named* enum (``Frequency``, ``ScenarioName``, ``CapexMode``, ...), so clients
generated from ``/openapi.json`` get one type per concept, and every bound the server enforces on a request
is stated here (``ge``/``le``, patterns, ``oneOf``), so a schema-valid request is never refused as invalid.
What a schema cannot say (the maximum horizon of *this* series, the years *this* model's capex forecast
covers) is a property of the series or of the serving model: such requests answer 409 with what is possible.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, JsonValue, Tag, field_validator
from pydantic.config import JsonDict

from forecasting.hbm import BOUNDS, HBM_CONTENT_BOUNDS, HBM_ID, MEMORY_TARGETS
from forecasting.targets import LEVEL_RANGE
from pipelines.catalog import Frequency

__all__ = ["Frequency"]


class OutputFormat(StrEnum):
    """Representation of a read: JSON (default) or CSV for spreadsheets."""

    JSON = "json"
    CSV = "csv"


class Currency(StrEnum):
    """Currency a money series can be shown in (its own, or US$ by ``?currency=USD``)."""

    USD = "USD"
    KRW = "KRW"
    TWD = "TWD"


class TargetCurrency(StrEnum):
    """Currencies values can be converted to: US$ only (Fed H.10 monthly average rates)."""

    USD = "USD"


def _iso_date_only(value: Any) -> Any:
    """Dates in requests are YYYY-MM-DD only (pydantic alone would also read 0 as 1970-01-01)."""
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("a date must be written YYYY-MM-DD")
    if not isinstance(value, str | date):
        raise ValueError("a date must be written YYYY-MM-DD")
    return value


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: a request date: ``format: date`` in the schema, YYYY-MM-DD on the wire
IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


def _refuse_non_numbers(value: Any) -> None:
    """Booleans and non-finite floats are not numbers a request may give, whatever pydantic's lax mode says.

    Lax float validation reads ``true`` as 1.0, so a bound check alone answered ``true`` with 200 (+1%) or
    "less than or equal to 0.5"; ``NaN`` failed every comparison and got the same wrong message.
    """
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")


def bounded(lo: float, hi: float) -> BeforeValidator:
    """A validator that refuses a boolean, a non-finite number, or a number outside ``lo..hi``, each with its
    own message (the range one states both ends).

    Put it after ``Field(ge=lo, le=hi)`` on the same type (it runs first, the schema keeps the bounds), so the
    schema states exactly what is refused.
    """

    def check(value: Any) -> Any:
        _refuse_non_numbers(value)
        try:
            number = float(value)
        except (TypeError, ValueError):
            return value  # not a number at all: the type check says so
        if math.isfinite(number) and not lo <= number <= hi:  # "nan" in a query is left to the type check
            raise ValueError(f"must be between {lo:g} and {hi:g}, got {number:g}")
        return value

    return BeforeValidator(check)


def finite() -> BeforeValidator:
    """:func:`bounded` without the range, for numbers whose bounds the schema states alone (``gt=0``)."""

    def check(value: Any) -> Any:
        _refuse_non_numbers(value)
        return value

    return BeforeValidator(check)


#: interval levels a request may ask for, in % (the schema states them; the server enforces the same)
LEVEL_MIN, LEVEL_MAX = LEVEL_RANGE
Level = Annotated[int, Field(ge=LEVEL_MIN, le=LEVEL_MAX), bounded(LEVEL_MIN, LEVEL_MAX)]

_MODEL_EXAMPLE: JsonDict = {
    "version": "3",
    "run_id": "6f1c2a9b0e",
    "alias": "champion",
    "trained_at": "2026-12-01T08:53:38+00:00",
    "data_hash": "199891a3612eb354",
    "as_of": "2026-12-01",
    "source": "registry",
    "loaded_at": "2026-12-01T09:00:00+00:00",
}


class ErrorBody(BaseModel):
    code: str = Field(description="stable machine-readable code, e.g. unknown_series, rate_limited")
    message: str = Field(description="what went wrong and how to fix the request")
    detail: Any = Field(default=None, description="structured extras: valid ids, validation errors, error id")


class ErrorResponse(BaseModel):
    """The one error shape every route uses."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "unknown_series",
                        "message": "unknown series 'foo'; forecast series: capex_meta, wsts_memory_sales_annual",
                        "detail": {"valid_ids": ["capex_meta", "wsts_memory_sales_annual"]},
                    }
                }
            ]
        }
    )

    error: ErrorBody


class ServingModel(BaseModel):
    """The registered model version that produced a response."""

    model_config = ConfigDict(json_schema_extra={"examples": [_MODEL_EXAMPLE]})

    version: str
    run_id: str
    alias: str
    trained_at: str
    data_hash: str = Field(description="sha256 (16 hex) of the panel the model was trained on")
    as_of: str = Field(description="the training origin: the model saw data as published by this date")
    source: str = Field(description="'registry', or 'local-cache' when the tracking server was unreachable")
    loaded_at: str


class IntervalBand(BaseModel):
    """A prediction interval at one level (%)."""

    level: Level
    lo: float | None
    hi: float | None


class CurrencyConversion(BaseModel):
    """How values were converted to another currency (set only when ``?currency=`` asked for it)."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True,
                              json_schema_extra={"examples": [{
                                  "from": "KRW", "to": "USD", "unit": "US$ bn",
                                  "rule": "history: each period at its month-average rate (quarters: mean of the "
                                          "three months); forecasts: at the last published month's rate",
                                  "note": "Converted from KRW trn to US$ bn ...", "rate_through": "2026-09-01"}]})

    from_: Currency = Field(alias="from", description="currency the series is published in")
    to: Currency = Field(description="currency of every value in this response")
    unit: str = Field(description="unit of the converted values, e.g. US$ bn")
    rule: str = Field(description="which rate converted which period")
    note: str = Field(description="the conversion as stated by pipelines.fx (rates used, carried-forward periods)")
    rate_through: date | None = Field(default=None, description="newest month with a published rate")


# ------------------------------------------------------------------------------------------ series


class SeriesResponse(BaseModel):
    """One catalog series with its latest published figure and whether a model forecasts it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "capex_meta",
                    "name": "Meta Platforms capital expenditure (cash paid for PP&E)",
                    "unit": "US$ m",
                    "frequency": "quarterly",
                    "source": "Company 10-Q/10-K filings to the SEC (XBRL companyfacts), cash paid for PP&E",
                    "publication_lag_days": 35,
                    "notes": "Excludes finance leases.",
                    "observations": 45,
                    "first_period": "2015-01-01",
                    "last_period": "2026-01-01",
                    "last_value": 19373.0,
                    "last_published": "2026-04-30",
                    "next_expected": "2026-08-04",
                    "staleness_days": 0,
                    "gaps": [],
                    "forecast": True,
                    "currency": "USD",
                    "max_horizon": 12,
                    "max_outlook_years": 3,
                }
            ]
        }
    )

    id: str
    name: str
    unit: str
    frequency: Frequency
    source: str
    publication_lag_days: int
    notes: str
    observations: int
    first_period: date | None
    last_period: date | None = Field(description="start date of the newest published period")
    last_value: float | None
    last_published: date | None
    next_expected: date | None = Field(description="when the next figure is normally published")
    staleness_days: int | None = Field(description="days past next_expected (0 if the next figure is not due)")
    gaps: list[date] = Field(description="periods missing inside the history (never filled)")
    forecast: bool = Field(description="true if the serving model forecasts this series")
    currency: Currency | None = Field(
        description="currency of the amounts (null: an index, ratio or rate); any money series can be read in "
                    "US$ with ?currency=USD")
    max_horizon: int | None = Field(
        description="longest `horizon` GET /v1/forecasts/{id} serves for this series with the serving model "
                    "(null: not forecast); a larger one answers 409")
    max_outlook_years: int | None = Field(
        description="calendar years the serving model's forecast of this series completes (the largest outlook "
                    "`horizon`; null: not forecast)")
    track_record: bool = Field(default=False, description="true if GET /v1/track-record/{id} has a stored record")
    backtest: bool = Field(default=False, description="true if GET /v1/backtests/{id} has a leaderboard scoring "
                                                      "the served method (a capex total: its replayed bottom-up sum; "
                                                      "series derived otherwise, e.g. the memory market, have none)")


class ModelledSeriesResponse(BaseModel):
    """A series the serving model derives rather than forecasts from a published history (HBM revenue)."""

    id: str
    name: str
    unit: str
    frequency: Frequency
    model_name: str = Field(description="'structural': a transparent formula, not a backtested time-series model")
    formula: str
    inputs: list[str] = Field(description="catalog series and data files the model is built or calibrated from")
    years: list[int] = Field(description="calendar years modelled")
    published: Literal[False] = Field(default=False, description="always false: there is no published history")
    forecast: Literal[True] = True
    endpoints: dict[str, str] = Field(description="where to read the forecast, outlook, chart and assumptions")
    max_horizon: int = Field(description="longest `horizon` served (periods = calendar years)")
    max_outlook_years: int = Field(description="calendar years the model completes")


class SeriesListResponse(BaseModel):
    """Catalog series (published, with their latest figures) and, apart from them, series the model derives."""

    count: int = Field(description="number of catalog series in `series` (modelled series are not counted)")
    model_version: str | None = Field(description="serving model version (null if none loaded)")
    series: list[SeriesResponse]
    modelled: list[ModelledSeriesResponse] = Field(
        default_factory=list,
        description="modelled, never-published series the serving model provides (hbm_revenue when the "
                    "champion includes hyperscaler capex); `forecast=false` leaves them out",
    )


class ObservationResponse(BaseModel):
    ds: date = Field(description="period start date")
    value: float | None = Field(description="the latest published value (in US$ when converted); a revision "
                                            "replaces the first print")
    period_end: date | None
    published: date | None = Field(description="date the period was first public (its first print; a later "
                                               "revision shown in `value` was published after it)")


class HistoryResponse(BaseModel):
    """Published observations of one series (gaps are absent rows, never filled values)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "series_id": "wsts_memory_sales_annual",
                    "name": "WSTS worldwide memory semiconductor sales, calendar year (first announced)",
                    "unit": "US$ bn",
                    "frequency": "annual",
                    "start": None,
                    "end": None,
                    "observations": [
                        {"ds": "2024-01-01", "value": 165.5, "period_end": "2024-12-31",
                         "published": "2025-02-07"}
                    ],
                }
            ]
        }
    )

    series_id: str
    name: str
    unit: str = Field(description="unit of the values (the converted unit with ?currency=)")
    frequency: Frequency
    start: date | None
    end: date | None
    observations: list[ObservationResponse]
    currency: CurrencyConversion | None = Field(default=None, description="set when values were converted")
    notes: list[str] = Field(default_factory=list, description="conversions, empty ranges and other caveats")


# ------------------------------------------------------------------------------------------ forecasts

_BANDS_EXAMPLE: list[JsonValue] = [{"level": 80, "lo": 138.2, "hi": 171.5}, {"level": 95, "lo": 129.9, "hi": 182.0}]
_FORECAST_EXAMPLE: JsonDict = {
    "series_id": "wsts_worldwide_sales",
    "name": "Worldwide semiconductor sales (3-month moving average)",
    "unit": "US$ bn",
    "frequency": "monthly",
    "horizon": 18,
    "levels": [80, 95],
    "method": {
        "name": "Combination",
        "description": "weighted combination of AutoTheta, AutoETS, AutoCES, AutoARIMA fitted on logs",
        "members": [{"name": "AutoETS", "weight": 0.24, "params": {"season_length": 12}}],
        "scale": "log",
        "intervals": "mixture of the members' empirical error paths",
        "backtest": {"origins": 157, "first_origin": "2013-02-07", "last_origin": "2026-09-07",
                     "primary_horizon": 12, "mase": 1.586, "baseline_mase": 1.921},
        "passed_over": [],
    },
    "data": {"last_observation": "2026-07-01", "last_published": "2026-09-07", "next_expected_release": "2026-11-07",
             "staleness_days": 24, "as_of": "2026-12-01", "bridged_for_fitting": ["2025-08-01"],
             "vintages": "true", "source": "Semiconductor Industry Association (SIA) press releases"},
    "model": _MODEL_EXAMPLE,
    "notes": [],
    "points": [{"ds": "2026-08-01", "value": 152.3, "intervals": _BANDS_EXAMPLE}],
    "outlook": [{"year": 2026, "value": 1381.2, "intervals": _BANDS_EXAMPLE, "growth_pct": 74.45,
                 "growth_intervals": [{"level": 80, "lo": 70.1, "hi": 79.2}, {"level": 95, "lo": 67.0, "hi": 82.3}],
                 "prior_year_value": 791.7, "published_periods": 2, "forecast_periods": 2}],
}


class MemberResponse(BaseModel):
    name: str = Field(description="zoo model name")
    weight: float = Field(description="combination weight at the serving origin (0: passed over)")
    params: dict[str, Any] = Field(description="the exact configuration that was scored and is served")


class BacktestSummary(BaseModel):
    origins: int = Field(description="rolling origins the served method was scored on")
    first_origin: date | None
    last_origin: date | None
    primary_horizon: int | None
    mase: float | None = Field(description="MASE of the served method at the primary horizon")
    baseline_mase: float | None = Field(description="the better of Naive and SeasonalNaive on the same origins")


class PassedOver(BaseModel):
    model: str
    reason: str


class MethodResponse(BaseModel):
    """How the numbers were made (the same for every response of one series and model version)."""

    name: str = Field(description="'Combination' for backtested series, 'structural' for HBM")
    description: str
    members: list[MemberResponse]
    scale: str = Field(description="'log' (positive series) or 'level'")
    intervals: str = Field(description="where the intervals come from")
    backtest: BacktestSummary
    passed_over: list[PassedOver] = Field(description="members given no weight at the serving origin, and why")


class DataStatusResponse(BaseModel):
    """The series' own freshness: what the forecast starts from and when the next figure is due."""

    last_observation: date | None = Field(description="start of the newest published period used")
    last_published: date | None = Field(description="when that figure became public")
    next_expected_release: date | None = Field(description="when the next figure is normally published")
    staleness_days: int | None = Field(description="days past next_expected_release (0 while not yet due)")
    as_of: date | None = Field(description="the model used data as published by this date")
    bridged_for_fitting: list[date] = Field(description="missing periods filled for fitting only (never shown)")
    vintages: str = Field(description="'true': values as first printed and revised; 'latest': latest only")
    source: str
    nowcast: list[date] = Field(default_factory=list,
                                description="periods nowcast from a faster-published indicator (forecasts)")
    nowcast_indicator: str | None = Field(default=None, description="the indicator behind the nowcast")


class ForecastPointResponse(BaseModel):
    ds: date = Field(description="period start date")
    value: float | None = Field(description="point forecast")
    intervals: list[IntervalBand]


class OutlookYearResponse(BaseModel):
    year: int
    value: float | None = Field(description="calendar-year value (published + forecast periods, catalog rule)")
    intervals: list[IntervalBand] = Field(description="of the yearly value, from simulated paths")
    growth_pct: float | None = Field(description="growth over the prior year, %")
    growth_intervals: list[IntervalBand] = Field(description="of the growth, % (per simulated path)")
    prior_year_value: float | None
    published_periods: int = Field(description="periods of the year already published, counting the periods the "
                                               "series' calendar-year rule adds (a monthly 3-month average: its "
                                               "Mar/Jun/Sep/Dec values; quarterly: quarters; annual: the year)")
    forecast_periods: int = Field(description="periods of the year forecast, counted as for published_periods")


class _ForecastBase(BaseModel):
    series_id: str
    name: str
    unit: str
    frequency: Frequency
    horizon: int = Field(description="periods forecast (for outlooks: the periods the years needed)")
    levels: list[Level]
    method: MethodResponse
    data: DataStatusResponse
    model: ServingModel | None
    notes: list[str] = Field(description="secondary sources, conversions, caveats")
    currency: CurrencyConversion | None = Field(default=None, description="set when values were converted")


class ForecastResponse(_ForecastBase):
    """Point forecasts with prediction intervals, and the calendar years they complete."""

    model_config = ConfigDict(json_schema_extra={"examples": [_FORECAST_EXAMPLE]})

    points: list[ForecastPointResponse]
    outlook: list[OutlookYearResponse]


class OutlookResponse(_ForecastBase):
    """Calendar-year totals that mix published and forecast periods, with growth and intervals."""

    model_config = ConfigDict(json_schema_extra={"examples": [{k: v for k, v in _FORECAST_EXAMPLE.items()
                                                              if k != "points"}]})

    outlook: list[OutlookYearResponse]


# ------------------------------------------------------------------------------------------ backtests


class LeaderboardRowResponse(BaseModel):
    model: str
    horizon: int = Field(description="scored on steps 1..horizon")
    mase: float | None
    smape: float | None
    mae: float | None
    rmse: float | None
    bias: float | None
    coverage_80: float | None
    coverage_95: float | None
    winkler_80: float | None = Field(description="Winkler interval score at 80%, scaled like MASE")
    winkler_95: float | None
    windows: int = Field(description="rolling origins scored")
    role: str = Field(description="baseline, reference, member or method")
    weight: float | None = Field(description="combination weight at the serving origin")
    served: bool = Field(description="true for the served method")
    uses_drivers: bool = Field(description="true where the model's history was extended with a nowcast from a "
                               "faster-published indicator (the series' method names it)")
    note: str | None = Field(description="why a member was passed over, if it was")


class BacktestResponse(BaseModel):
    """Rolling-origin backtest of every zoo model and the served combination, on the same origins."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "series_id": "capex_meta", "method": _FORECAST_EXAMPLE["method"], "primary_horizon": 4,
        "model": _MODEL_EXAMPLE,
        "leaderboard": [{"model": "Combination", "horizon": 4, "mase": 1.95, "smape": 0.13, "mae": 1520.3,
                         "rmse": 1800.2, "bias": -120.5, "coverage_80": 0.79, "coverage_95": 0.9,
                         "winkler_80": 9.1, "winkler_95": 14.2, "windows": 28, "role": "method", "weight": None,
                         "served": True, "uses_drivers": False, "note": None}],
    }]})

    series_id: str
    method: MethodResponse
    primary_horizon: int
    model: ServingModel
    leaderboard: list[LeaderboardRowResponse]


# ------------------------------------------------------------------------------------------ track record


class TrackRecordHorizon(StrEnum):
    """Which year a track-record forecast was about: the year of the origin or the next one."""

    CURRENT = "current"
    NEXT = "next"


class TrackRecordRow(BaseModel):
    origin: date = Field(description="the day the forecast would have been made (1 June or 1 December)")
    last_observation: date = Field(description="newest period published by then")
    year: int
    horizon: TrackRecordHorizon
    model: str
    forecast_growth_pct: float | None
    growth_intervals: list[IntervalBand]
    forecast_value: float | None
    actual_growth_first_pct: float | None = Field(description="growth as first announced (null: not yet)")
    actual_growth_latest_pct: float | None = Field(description="growth as known today (null: not yet)")
    actual_first_published: date | None
    error_pp: float | None = Field(description="forecast minus actual (latest), percentage points")
    hit_80: bool | None
    hit_95: bool | None


class TrackRecordSummary(BaseModel):
    question: str
    model: str
    origins: int
    first_year: int
    last_year: int
    mae_pp: float | None
    bias_pp: float | None
    hit_80: float | None
    hit_95: float | None


class TrackRecordResponse(BaseModel):
    """What chipcast would have said at each 1 June and 1 December, with data as known then, beside what
    happened: the method and the plain references, so the comparison is in the same table."""

    series_id: str
    model: ServingModel
    rows: list[TrackRecordRow]
    summary: list[TrackRecordSummary]


# ------------------------------------------------------------------------------------------ models


class ModelVersionResponse(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    version: str
    aliases: list[str] = Field(default_factory=list)
    run_id: str | None = None
    created_at: datetime | None = None
    as_of: str | None = Field(default=None, description="the training origin of the version")
    metrics: dict[str, float | None] = Field(default_factory=dict)

    @field_validator("created_at", mode="before")
    @classmethod
    def _epoch_millis(cls, value: Any) -> Any:
        """The registry reports creation times as epoch milliseconds."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        return value


class ModelsResponse(BaseModel):
    """Registered versions with their aliases and headline metrics, plus what this process serves."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "serving": _MODEL_EXAMPLE,
                    "models": [
                        {"version": "3", "aliases": ["champion"], "run_id": "6f1c2a9b0e",
                         "created_at": "2026-11-27T20:55:01Z", "as_of": "2026-12-01",
                         "metrics": {"capex_meta.h4.mase": 1.634}}
                    ],
                }
            ]
        }
    )

    serving: ServingModel | None
    models: list[ModelVersionResponse]


# ------------------------------------------------------------------------------------------ HBM assumptions

_ASSUMPTIONS_EXAMPLE: JsonDict = {
    "formula": "hbm_revenue = hyperscaler capex x accelerator_share x hbm_content",
    "capex_driver": "capex_hyperscalers_total",
    "accelerator_share": {
        "name": "accelerator_share", "value": 0.4763, "low": 0.4708, "high": 0.4818,
        "unit": "NVIDIA DC revenue per US$ of hyperscaler capex",
        "how": "range of the last two complete calendar years",
        "sources": ["panel: nvidia_datacenter_revenue / capex_hyperscalers_total"],
        "calibration": [{"year": 2025, "ratio": 0.4708, "nvidia_dc_usd_m": 193737.0, "capex_usd_m": 411528.0,
                         "source": "panel: nvidia_datacenter_revenue / capex_hyperscalers_total"}],
    },
    "hbm_content": {
        "name": "hbm_content", "value": 0.1592, "low": 0.1389, "high": 0.1807,
        "unit": "HBM revenue per US$ of NVIDIA DC revenue",
        "how": "dated HBM market-size estimates / NVIDIA DC revenue of the same calendar year",
        "sources": ["https://marketbeat.com/earnings/reports/2024-12-18-micron-technology-inc-stock"],
        "calibration": [{"year": 2024, "ratio": 0.1389, "hbm_usd_bn": 16.0, "estimate_by": "Micron",
                         "stated": "2024-12-18",
                         "source": "https://marketbeat.com/earnings/reports/2024-12-18-micron-technology-inc-stock"}],
    },
    "elasticities": {"micron_revenue": {"target": "micron_revenue", "driver": "capex_hyperscalers_total",
                                        "value": 1.799, "estimate": 1.799, "se": 0.234, "n": 30,
                                        "periods": "2018-07-01..2026-04-01"}},
    "limits": ["Memory elasticities are contemporaneous YoY co-movements, not causal estimates."],
}


class CalibrationPoint(BaseModel):
    """One observation a parameter was calibrated on; which optional fields are set depends on the parameter."""

    model_config = ConfigDict(extra="allow")

    year: int = Field(description="calendar year the ratio describes (always a year that has happened)")
    ratio: float | None
    source: str
    nvidia_dc_usd_m: float | None = Field(default=None, description="accelerator_share: NVIDIA DC revenue")
    capex_usd_m: float | None = Field(default=None, description="accelerator_share: hyperscaler capex")
    hbm_usd_bn: float | None = Field(default=None, description="hbm_content: dated HBM market-size estimate")
    estimate_by: str | None = Field(default=None, description="hbm_content: who made the estimate")
    stated: str | None = Field(default=None, description="hbm_content: when the estimate was stated, if known")


class HbmParameter(BaseModel):
    name: str
    value: float | None = Field(description="central value (mean of the calibration points)")
    low: float | None = Field(description="lowest calibration point; Monte Carlo draws are triangular over low..high")
    high: float | None
    unit: str
    how: str = Field(description="how the value and its range were calibrated")
    sources: list[str]
    calibration: list[CalibrationPoint]


class CapexElasticity(BaseModel):
    target: str
    driver: str
    value: float | None = Field(description="elasticity used by scenarios: the OLS slope, constrained to >= 0")
    estimate: float | None = Field(description="unconstrained OLS slope of the target's YoY log growth on capex's")
    se: float | None = Field(description="standard error of the slope (scenarios sample the elasticity with it)")
    n: int = Field(description="YoY observations used")
    periods: str = Field(description="first..last period used")


class HbmAssumptionsResponse(BaseModel):
    """Everything the HBM model and the capex scenarios assume: parameters with ranges, sources and calibration
    points, memory elasticities with standard errors, and the model's stated limits."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**_ASSUMPTIONS_EXAMPLE, "model": _MODEL_EXAMPLE}]})

    formula: str
    capex_driver: str = Field(description="the capex series scenarios act on")
    accelerator_share: HbmParameter
    hbm_content: HbmParameter
    elasticities: dict[str, CapexElasticity] = Field(
        description="memory revenue vs capex, per memory target (the memory market's is used only when it is not "
                    "tied to its makers; tied, it moves as their US$ sum does)")
    limits: list[str] = Field(description="what the model leaves out; read these before quoting a number")
    model: ServingModel | None = None


# ------------------------------------------------------------------------------------------ scenarios

class ScenarioName(StrEnum):
    """Named capex scenarios: bear/base/bull against the capex forecast, guidance from dated company statements."""

    BEAR = "bear"
    BASE = "base"
    BULL = "bull"
    GUIDANCE = "guidance"


class CapexMode(StrEnum):
    """How a capex path is stated."""

    RELATIVE_TO_BASELINE_PCT = "relative_to_baseline_pct"
    YOY_GROWTH_PCT = "yoy_growth_pct"
    ABSOLUTE_USD_M = "absolute_usd_m"


class ScenarioTargetId(StrEnum):
    """Series a capex scenario conditions: the memory revenues and HBM revenue."""

    MICRON_REVENUE = MEMORY_TARGETS[0]
    SKHYNIX_REVENUE = MEMORY_TARGETS[1]
    WSTS_MEMORY_SALES_ANNUAL = MEMORY_TARGETS[2]
    HBM_REVENUE = HBM_ID


ScenarioYear = Annotated[int, Field(ge=2000, le=2100)]
#: JSON object keys are strings: the schema says which strings are years
_YEAR_KEYS: JsonDict = {"propertyNames": {"pattern": "^(20[0-9]{2}|2100)$"}}
_REL_LO, _REL_HI = BOUNDS["relative_to_baseline_pct"]
_YOY_LO, _YOY_HI = BOUNDS["yoy_growth_pct"]
_ABS_LO, _ABS_HI = BOUNDS["absolute_usd_m"]
_YEARS_NOTE = ("Keys are calendar years; each must be a year the serving model's capex forecast completes "
               "(`modelled[].years` of hbm_revenue in GET /v1/series, and the 409, name them). Years left out keep "
               "the baseline (in yoy_growth_pct, a year after a stated one keeps the baseline's growth from the "
               "scenario's level).")


class RelativeCapexPath(BaseModel):
    """Capex x% above or below the capex forecast in the years given."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"mode": "relative_to_baseline_pct", "values": {"2026": 50, "2027": 50}}]})

    mode: Literal["relative_to_baseline_pct"]
    values: dict[ScenarioYear, Annotated[float, Field(ge=_REL_LO, le=_REL_HI, allow_inf_nan=False),
                                         bounded(_REL_LO, _REL_HI)]] = Field(
        min_length=1, max_length=10, json_schema_extra=_YEAR_KEYS,
        description=f"year -> % vs the capex forecast, {_REL_LO:g}..{_REL_HI:g}. {_YEARS_NOTE}")


class YoyCapexPath(BaseModel):
    """Capex growing x% over the prior calendar year; after the last year given the baseline's growth resumes."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"mode": "yoy_growth_pct", "values": {"2026": 40}}]})

    mode: Literal["yoy_growth_pct"]
    values: dict[ScenarioYear, Annotated[float, Field(ge=_YOY_LO, le=_YOY_HI, allow_inf_nan=False),
                                         bounded(_YOY_LO, _YOY_HI)]] = Field(
        min_length=1, max_length=10, json_schema_extra=_YEAR_KEYS,
        description=f"year -> % growth over the prior year, {_YOY_LO:g}..{_YOY_HI:g}. {_YEARS_NOTE}")


class AbsoluteCapexPath(BaseModel):
    """Annual capex totals in US$ m."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"mode": "absolute_usd_m", "values": {"2027": 1000000}}]})

    mode: Literal["absolute_usd_m"]
    values: dict[ScenarioYear, Annotated[float, Field(gt=0, allow_inf_nan=False), finite()]] = Field(
        min_length=1, max_length=10, json_schema_extra=_YEAR_KEYS,
        description=(f"year -> capex in US$ m. Each must lie within {_ABS_LO:g}x..{_ABS_HI:g}x the baseline of "
                     f"its year, which depends on the serving model (outside: 409 stating both ends). "
                     f"{_YEARS_NOTE}"))


CapexPathRequest = Annotated[RelativeCapexPath | YoyCapexPath | AbsoluteCapexPath, Field(discriminator="mode")]
_TARGETS_FIELD = Field(
    default=None, min_length=1, max_length=8,
    description="memory targets and/or hbm_revenue; default: every scenario target of the serving model (one it "
                "does not forecast answers 409)")
_HBM_CONTENT_FIELD = Field(
    default=None,
    description="fix HBM revenue per US$ of NVIDIA DC revenue in the scenario (the baseline never changes)")
#: the fixed HBM content a scenario may ask for (booleans, NaN and infinities refused with their own message)
HbmContent = Annotated[float, Field(ge=HBM_CONTENT_BOUNDS[0], le=HBM_CONTENT_BOUNDS[1], allow_inf_nan=False),
                       bounded(*HBM_CONTENT_BOUNDS)]


class NamedScenarioRequest(BaseModel):
    """A named scenario for memory and HBM targets."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"scenario": "bull", "targets": ["hbm_revenue", "micron_revenue"]}, {"scenario": "guidance"}]})

    scenario: ScenarioName = Field(
        description="bear (capex -15/-30/-40% vs baseline in 2026/27/28), base (the capex forecast), bull "
                    "(+15/+30/+40%) or guidance (2026 capex from the companies' latest usable guidance)")
    targets: list[ScenarioTargetId] | None = _TARGETS_FIELD
    hbm_content: HbmContent | None = _HBM_CONTENT_FIELD


class CustomScenarioRequest(BaseModel):
    """A user-defined hyperscaler capex path for some forecast years; other years keep the baseline."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"name": "capex +50%", "capex": {"mode": "relative_to_baseline_pct",
                                         "values": {"2026": 50, "2027": 50, "2028": 50}},
         "targets": ["hbm_revenue", "skhynix_revenue"], "hbm_content": 0.16}]})

    capex: CapexPathRequest = Field(description="the capex path, by mode")
    name: str | None = Field(default=None, min_length=1, max_length=64, description="label echoed back")
    targets: list[ScenarioTargetId] | None = _TARGETS_FIELD
    hbm_content: HbmContent | None = _HBM_CONTENT_FIELD


def _scenario_kind(body: Any) -> str:
    """Which branch a body is checked against, so its errors are about that branch only."""
    if isinstance(body, dict):
        return "custom" if "capex" in body else "named"
    return "custom" if isinstance(body, CustomScenarioRequest) else "named"


#: exactly one of a named scenario or a user-defined path: the schema is a oneOf of the two (no extra fields),
#: so a body with both, or neither, matches neither
ScenarioRequest = Annotated[
    Annotated[NamedScenarioRequest, Tag("named")] | Annotated[CustomScenarioRequest, Tag("custom")],
    Discriminator(_scenario_kind),
]


class GuidanceStatement(BaseModel):
    """One dated capex statement considered by the guidance scenario, used or left out (and why)."""

    company: str
    ticker: str | None
    series_id: str | None = Field(description="the company's capex series, if it is part of the capex driver")
    date_stated: date | None
    date_precision: str = Field(description="day, month or unknown")
    period_covered: str
    basis: str = Field(description="what the company counts as capex (may differ from cash paid for PP&E)")
    low_usd_bn: float | None
    high_usd_bn: float | None
    midpoint_usd_bn: float | None
    statement: str
    source_url: str
    flags: list[str] = Field(description="SECONDARY, CONFLICTING, DATE_APPROXIMATE, NO_NUMBER, CONTEXT_ONLY")
    used: bool
    reason: str = Field(description="why it was used, or why it was left out")


class CapexSource(StrEnum):
    """Where a company's capex in a guidance year comes from."""

    GUIDANCE = "guidance"
    BASELINE = "baseline"


class GuidanceCompany(BaseModel):
    """Where one company's capex in a guidance year comes from."""

    company: str
    series_id: str
    year: int
    value_usd_m: float | None = Field(description="the value used for the company in the scenario")
    baseline_usd_m: float | None = Field(description="the company's own capex forecast for the year, if served")
    source: CapexSource
    statement_date: date | None = Field(description="date of the guidance used (null: baseline)")


class ScenarioEcho(BaseModel):
    name: str
    mode: CapexMode
    values: dict[str, float] = Field(description="year -> value as applied (empty for base: the capex forecast)")
    description: str
    hbm_content: float | None = Field(description="fixed HBM content in the scenario; null: sampled over its range")
    targets: list[str]
    bounds: dict[str, float] = Field(description="the allowed min and max of values in this mode")
    sources: list[str] = Field(default_factory=list, description="where the values come from (guidance: URLs)")
    statements: list[GuidanceStatement] = Field(
        default_factory=list, description="guidance: every dated statement considered, used or not, and why")
    companies: list[GuidanceCompany] = Field(
        default_factory=list, description="guidance: per company and year, guidance or baseline")


class CapexYear(BaseModel):
    year: int
    baseline: float | None = Field(description="the capex forecast's calendar-year value, US$ m")
    scenario: float | None = Field(description="the scenario's calendar-year capex, US$ m")
    multiplier: float | None = Field(description="scenario / baseline")


class ScenarioTarget(BaseModel):
    baseline: ForecastResponse = Field(description="the stored forecast (never changed by the scenario)")
    scenario: ForecastResponse = Field(description="the same series under the scenario")


class ScenarioResponse(BaseModel):
    """Memory and HBM forecasts under a capex scenario beside the baseline, with the assumptions used."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "scenario": {"name": "bull", "mode": "relative_to_baseline_pct",
                     "values": {"2026": 15.0, "2027": 30.0, "2028": 40.0},
                     "description": "AI capex overshoots the baseline forecast", "hbm_content": None,
                     "targets": ["hbm_revenue"], "bounds": {"min": -75.0, "max": 200.0}},
        "capex": [{"year": 2026, "baseline": 767261.0, "scenario": 882350.0, "multiplier": 1.15}],
        "assumptions": {**_ASSUMPTIONS_EXAMPLE, "model": None},
        "targets": {"hbm_revenue": {"baseline": _FORECAST_EXAMPLE, "scenario": _FORECAST_EXAMPLE}},
        "model": _MODEL_EXAMPLE,
    }]})

    scenario: ScenarioEcho
    capex: list[CapexYear] = Field(description="hyperscaler capex per forecast year, baseline and scenario")
    assumptions: HbmAssumptionsResponse
    targets: dict[str, ScenarioTarget] = Field(description="per target id, in request order")
    model: ServingModel | None


# ------------------------------------------------------------------------------------------ admin / health


class ReloadResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "reloaded", "previous_version": "2", "model": _MODEL_EXAMPLE}]}
    )

    status: Literal["reloaded"]
    previous_version: str | None
    model: ServingModel
    panel_error: str | None = Field(
        default=None,
        description="set when the model was swapped in but the data panel could not be reloaded: the panel loaded "
                    "before keeps serving (without one, catalog and history answer 503); fix the data and reload "
                    "again")


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobResponse(BaseModel):
    """A background job; poll ``GET /v1/admin/jobs/{id}`` until status is succeeded or failed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"id": "4be0c1f2a7d94c0e9b1d3f5a6c7e8d90", "kind": "retrain", "status": "running",
                 "created_at": "2026-11-28T08:00:00Z", "started_at": "2026-11-28T08:00:00Z",
                 "finished_at": None, "error": None, "model_version": None, "reload_error": None}
            ]
        }
    )

    id: str
    kind: str
    status: JobStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = Field(description="why the job failed")
    model_version: str | None = Field(description="version served after a successful retrain + reload")
    reload_error: str | None = Field(description="set if retraining worked but reloading the champion did not")


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyStatus(StrEnum):
    READY = "ready"
    DEGRADED = "degraded"


class ReadyResponse(BaseModel):
    """Ready to serve forecasts; ``degraded`` if the model came from the local cache, not the registry."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ready", "model_version": "3", "source": "registry",
                                         "alias": "champion", "loaded_at": "2026-11-28T08:00:00+00:00"}]}
    )

    status: ReadyStatus
    model_version: str
    source: str
    alias: str
    loaded_at: str
