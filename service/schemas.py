"""Request and response bodies of the HTTP API (pydantic; named ``<Thing>Request`` / ``<Thing>Response``).

Interval shapes are the same everywhere: ``{"80": {"lo": ..., "hi": ...}, "95": {...}}`` keyed by the
level as a string, so a dashboard can draw any band with one lookup. Numbers that are not finite are
``null``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.config import JsonDict

_MODEL_EXAMPLE: JsonDict = {
    "version": "3",
    "run_id": "6f1c2a9b0e",
    "alias": "champion",
    "trained_at": "2026-11-27T20:53:38+00:00",
    "data_vintage": "2026-10-05",
    "data_hash": "199891a3612eb354",
    "source": "registry",
    "loaded_at": "2026-11-28T08:00:00+00:00",
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
    """The registered model version that produced a response, and the data it saw."""

    model_config = ConfigDict(json_schema_extra={"examples": [_MODEL_EXAMPLE]})

    version: str
    run_id: str
    alias: str
    trained_at: str
    data_vintage: str | None = Field(description="newest publication date in the training data")
    data_hash: str
    source: str = Field(description="'registry', or 'local-cache' when the tracking server was unreachable")
    loaded_at: str


class Interval(BaseModel):
    lo: float | None
    hi: float | None


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
                }
            ]
        }
    )

    id: str
    name: str
    unit: str
    frequency: Literal["monthly", "quarterly", "annual"]
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


class SeriesListResponse(BaseModel):
    count: int
    model_version: str | None = Field(description="serving model version (null if none loaded)")
    series: list[SeriesResponse]


class ObservationResponse(BaseModel):
    ds: date = Field(description="period start date")
    value: float | None
    period_end: date | None
    published: date | None = Field(description="date the figure is typically public")


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
    unit: str
    frequency: str
    start: date | None
    end: date | None
    observations: list[ObservationResponse]


# ------------------------------------------------------------------------------------------ forecasts


class ForecastPoint(BaseModel):
    ds: date = Field(description="period start date")
    value: float | None = Field(description="point forecast (the champion's mean)")
    intervals: dict[str, Interval] = Field(description="prediction intervals keyed by level, e.g. '80', '95'")


_POINT_EXAMPLE: JsonDict = {
    "ds": "2026-04-01",
    "value": 19919.15,
    "intervals": {"80": {"lo": 14738.11, "hi": 25100.19}, "95": {"lo": 11995.43, "hi": 27842.87}},
}


class ForecastResponse(BaseModel):
    """Point forecasts with prediction intervals from the serving champion."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "series_id": "capex_meta",
                    "name": "Meta Platforms capital expenditure (cash paid for PP&E)",
                    "unit": "US$ m",
                    "frequency": "quarterly",
                    "horizon": 8,
                    "levels": [80, 95],
                    "model_name": "AutoETS",
                    "model": _MODEL_EXAMPLE,
                    "points": [_POINT_EXAMPLE],
                }
            ]
        }
    )

    series_id: str
    name: str
    unit: str
    frequency: str
    horizon: int
    levels: list[int]
    model_name: str = Field(description="champion model chosen by the backtest, e.g. AutoETS, Ensemble")
    model: ServingModel
    points: list[ForecastPoint]


class OutlookYearResponse(BaseModel):
    year: int
    value: float | None = Field(description="calendar-year total (published periods + forecast periods)")
    intervals: dict[str, Interval] = Field(description="interval of the yearly total, from simulated paths")
    growth_pct: float | None = Field(description="growth over the prior year, %")
    growth_intervals: dict[str, Interval]
    prior_year_value: float | None
    published_periods: int | None
    forecast_periods: int | None


class OutlookResponse(BaseModel):
    """Calendar-year totals that mix published and forecast periods, with growth and intervals."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "series_id": "capex_meta",
                    "name": "Meta Platforms capital expenditure (cash paid for PP&E)",
                    "unit": "US$ m",
                    "aggregation": "sum",
                    "model_name": "AutoETS",
                    "model": _MODEL_EXAMPLE,
                    "years": [
                        {
                            "year": 2026,
                            "value": 80282.77,
                            "intervals": {"80": {"lo": 61112.49, "hi": 94739.36}, "95": {"lo": 52000.0, "hi": 99000.0}},
                            "growth_pct": 15.2,
                            "growth_intervals": {"80": {"lo": -12.3, "hi": 35.9}, "95": {"lo": -25.4, "hi": 42.0}},
                            "prior_year_value": 69691.0,
                            "published_periods": 1,
                            "forecast_periods": 3,
                        }
                    ],
                }
            ]
        }
    )

    series_id: str
    name: str
    unit: str
    aggregation: str = Field(description="how periods add up to a year (sum, mean, last, quarter_end_3mma_x3)")
    model_name: str
    model: ServingModel
    years: list[OutlookYearResponse]


# ------------------------------------------------------------------------------------------ backtests


class LeaderboardRowResponse(BaseModel):
    model: str
    horizon: int
    mase: float | None
    smape: float | None
    mae: float | None
    rmse: float | None
    bias: float | None
    coverage_80: float | None
    coverage_95: float | None
    width_80: float | None
    width_95: float | None
    windows: int | None
    champion: bool
    uses_drivers: bool


class BacktestResponse(BaseModel):
    """Rolling-origin backtest of every candidate model; the champion rule picked ``champion``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "series_id": "capex_meta",
                    "champion": "AutoETS",
                    "primary_horizon": 4,
                    "champion_mase": 1.634,
                    "baseline_mase": 1.71,
                    "drivers": [],
                    "model": _MODEL_EXAMPLE,
                    "leaderboard": [
                        {"model": "AutoETS", "horizon": 4, "mase": 1.634, "smape": 0.107, "mae": 1520.3,
                         "rmse": 1800.2, "bias": -120.5, "coverage_80": 0.79, "coverage_95": 0.96,
                         "width_80": 0.61, "width_95": 0.92, "windows": 6, "champion": True,
                         "uses_drivers": False}
                    ],
                }
            ]
        }
    )

    series_id: str
    champion: str
    primary_horizon: int
    champion_mase: float | None
    baseline_mase: float | None
    drivers: list[str]
    model: ServingModel
    leaderboard: list[LeaderboardRowResponse]


# ------------------------------------------------------------------------------------------ models


class ModelVersionResponse(BaseModel):
    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    version: str
    aliases: list[str] = Field(default_factory=list)
    run_id: str | None = None
    created_at: datetime | None = None
    data_vintage: str | None = None
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
                         "created_at": "2026-11-27T20:55:01Z", "data_vintage": "2026-10-05",
                         "metrics": {"capex_meta.h4.mase": 1.634}}
                    ],
                }
            ]
        }
    )

    serving: ServingModel | None
    models: list[ModelVersionResponse]


# ------------------------------------------------------------------------------------------ scenarios


class ScenarioRequest(BaseModel):
    """Provisional: a uniform capex growth shock applied to targets whose models use capex drivers."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"targets": ["nvidia_datacenter_revenue"], "capex_growth_pct": 25.0}]},
    )

    targets: list[str] = Field(min_length=1, max_length=10, description="series ids to condition")
    capex_growth_pct: float = Field(ge=-90, le=500, description="capex level shift in %, -90..500")


class ScenarioResultResponse(BaseModel):
    series_id: str
    model_name: str
    drivers: list[str]
    driver_sensitive: bool = Field(description="false when the champion ignores drivers (conditional = baseline)")
    note: str
    baseline: list[ForecastPoint]
    conditional: list[ForecastPoint]


class ScenarioResponse(BaseModel):
    """Baseline and capex-conditional forecasts per target (provisional; see the route description)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "provisional": True,
                    "capex_growth_pct": 25.0,
                    "model": _MODEL_EXAMPLE,
                    "results": [
                        {
                            "series_id": "nvidia_datacenter_revenue",
                            "model_name": "AutoARIMAX",
                            "drivers": ["capex_hyperscalers_ex_amazon"],
                            "driver_sensitive": True,
                            "note": "capex driver inputs over the horizon scaled by 1.25",
                            "baseline": [_POINT_EXAMPLE],
                            "conditional": [_POINT_EXAMPLE],
                        }
                    ],
                }
            ]
        }
    )

    provisional: bool = True
    capex_growth_pct: float
    model: ServingModel
    results: list[ScenarioResultResponse]


# ------------------------------------------------------------------------------------------ admin / health


class ReloadResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "reloaded", "previous_version": "2", "model": _MODEL_EXAMPLE}]}
    )

    status: Literal["reloaded"]
    previous_version: str | None
    model: ServingModel


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
    status: Literal["queued", "running", "succeeded", "failed"]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = Field(description="why the job failed")
    model_version: str | None = Field(description="version served after a successful retrain + reload")
    reload_error: str | None = Field(description="set if retraining worked but reloading the champion did not")


class HealthResponse(BaseModel):
    status: Literal["ok"] = "ok"


class ReadyResponse(BaseModel):
    """Ready to serve forecasts; ``degraded`` if the model came from the local cache, not the registry."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ready", "model_version": "3", "source": "registry",
                                         "alias": "champion", "loaded_at": "2026-11-28T08:00:00+00:00"}]}
    )

    status: Literal["ready", "degraded"]
    model_version: str
    source: str
    alias: str
    loaded_at: str
