"""Request and response bodies of the HTTP API (pydantic; named ``<Thing>Request`` / ``<Thing>Response``).

Interval shapes are the same everywhere: ``{"80": {"lo": ..., "hi": ...}, "95": {...}}`` keyed by the
level as a string, so a dashboard can draw any band with one lookup. Numbers that are not finite are
``null``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
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


class ModelledSeriesResponse(BaseModel):
    """A series the serving model derives rather than forecasts from a published history (HBM revenue)."""

    id: str
    name: str
    unit: str
    frequency: Literal["annual"]
    model_name: str = Field(description="'structural': a transparent formula, not a backtested time-series model")
    formula: str
    inputs: list[str] = Field(description="catalog series and data files the model is built or calibrated from")
    years: list[int] = Field(description="calendar years modelled")
    published: Literal[False] = Field(default=False, description="always false: there is no published history")
    forecast: Literal[True] = True
    endpoints: dict[str, str] = Field(description="where to read the forecast, outlook, chart and assumptions")


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


# ------------------------------------------------------------------------------------------ HBM (modelled)

HBM_FORMULA_EXAMPLE = "hbm_revenue = hyperscaler capex x accelerator_share x hbm_content"

_INTERVALS_EXAMPLE: JsonDict = {"80": {"lo": 42.41, "hi": 50.81}, "95": {"lo": 40.58, "hi": 53.01}}

_ELASTICITY_EXAMPLE: JsonDict = {"target": "micron_revenue", "driver": "capex_hyperscalers_total", "value": 1.799,
                                  "estimate": 1.799, "se": 0.234, "n": 30, "periods": "2018-07-01..2026-01-01"}

_ASSUMPTIONS_EXAMPLE: JsonDict = {
    "formula": HBM_FORMULA_EXAMPLE,
    "capex_driver": "capex_hyperscalers_total",
    "accelerator_share": {
        "name": "accelerator_share",
        "value": 0.4763,
        "low": 0.4708,
        "high": 0.4818,
        "unit": "NVIDIA DC revenue per US$ of hyperscaler capex",
        "how": "range of the last two complete calendar years",
        "sources": ["panel: nvidia_datacenter_revenue / capex_hyperscalers_total"],
        "calibration": [
            {"year": 2025, "ratio": 0.4708, "nvidia_dc_usd_m": 193737.0, "capex_usd_m": 411528.0,
             "source": "panel: nvidia_datacenter_revenue / capex_hyperscalers_total"}
        ],
    },
    "hbm_content": {
        "name": "hbm_content",
        "value": 0.1592,
        "low": 0.1389,
        "high": 0.1807,
        "unit": "HBM revenue per US$ of NVIDIA DC revenue",
        "how": "dated HBM market-size estimates / NVIDIA DC revenue of the same calendar year",
        "sources": ["https://marketbeat.com/earnings/reports/2024-12-18-micron-technology-inc-stock"],
        "calibration": [
            {"year": 2024, "ratio": 0.1389, "hbm_usd_bn": 16.0, "estimate_by": "Micron", "stated": "2024-12-18",
             "source": "https://marketbeat.com/earnings/reports/2024-12-18-micron-technology-inc-stock"}
        ],
    },
    "elasticities": {"micron_revenue": _ELASTICITY_EXAMPLE},
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


class HbmAssumptions(BaseModel):
    """Everything the HBM model and the capex scenarios assume: parameters with ranges, sources and calibration
    points, memory elasticities with standard errors, and the model's stated limits."""

    formula: str
    capex_driver: str = Field(description="the capex series scenarios act on")
    accelerator_share: HbmParameter
    hbm_content: HbmParameter
    elasticities: dict[str, CapexElasticity] = Field(description="memory revenue vs capex, per memory target")
    limits: list[str] = Field(description="what the model leaves out; read these before quoting a number")


class HbmAssumptionsResponse(HbmAssumptions):
    """The serving model's HBM assumptions (``GET /v1/models/hbm/assumptions``)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{**_ASSUMPTIONS_EXAMPLE, "model": _MODEL_EXAMPLE}]})

    model: ServingModel


class HbmForecastPoint(BaseModel):
    year: int
    ds: date = Field(description="start of the calendar year (so clients can plot it beside other series)")
    value: float | None = Field(description="median of the simulated paths")
    mean: float | None = Field(description="mean of the simulated paths")
    intervals: dict[str, Interval] = Field(description="percentile intervals of the simulated paths, by level")


class HbmForecastResponse(BaseModel):
    """HBM market revenue per calendar year from the structural model (a precomputed baseline, never refitted)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "series_id": "hbm_revenue",
                    "name": "HBM market revenue, calendar year (modelled)",
                    "unit": "US$ bn",
                    "frequency": "annual",
                    "levels": [80, 95],
                    "model_name": "structural",
                    "formula": HBM_FORMULA_EXAMPLE,
                    "model": _MODEL_EXAMPLE,
                    "points": [{"year": 2026, "ds": "2026-01-01", "value": 46.45, "mean": 46.56,
                                "intervals": _INTERVALS_EXAMPLE}],
                }
            ]
        }
    )

    series_id: Literal["hbm_revenue"] = "hbm_revenue"
    name: str
    unit: str
    frequency: Literal["annual"]
    levels: list[int]
    model_name: Literal["structural"] = Field(
        default="structural",
        description="a transparent formula calibrated on published data, not a backtested time-series model")
    formula: str
    model: ServingModel
    points: list[HbmForecastPoint]


class HbmYear(BaseModel):
    year: int
    value: float | None = Field(description="median of the simulated paths")
    mean: float | None = Field(description="mean of the simulated paths")
    intervals: dict[str, Interval]
    growth_pct: float | None = Field(
        description="median growth over the prior modelled year, %; null for the first modelled year")


class HbmOutlookResponse(BaseModel):
    """Calendar-year HBM revenue with intervals and growth, and the assumptions and sources behind it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "series_id": "hbm_revenue",
                    "name": "HBM market revenue, calendar year (modelled)",
                    "unit": "US$ bn",
                    "model_name": "structural",
                    "formula": HBM_FORMULA_EXAMPLE,
                    "model": _MODEL_EXAMPLE,
                    "years": [
                        {"year": 2026, "value": 46.45, "mean": 46.56, "intervals": _INTERVALS_EXAMPLE,
                         "growth_pct": None},
                        {"year": 2027, "value": 50.92, "mean": 50.85,
                         "intervals": {"80": {"lo": 43.48, "hi": 57.96}, "95": {"lo": 40.36, "hi": 62.06}},
                         "growth_pct": 9.15},
                    ],
                    "assumptions": _ASSUMPTIONS_EXAMPLE,
                    "sources": ["https://marketbeat.com/earnings/reports/2024-12-18-micron-technology-inc-stock",
                                "panel: nvidia_datacenter_revenue / capex_hyperscalers_total"],
                }
            ]
        }
    )

    series_id: Literal["hbm_revenue"] = "hbm_revenue"
    name: str
    unit: str
    model_name: Literal["structural"] = "structural"
    formula: str
    model: ServingModel
    years: list[HbmYear]
    assumptions: HbmAssumptions
    sources: list[str] = Field(description="every source the parameters were calibrated on")


# ------------------------------------------------------------------------------------------ scenarios

ScenarioName = Literal["bear", "base", "bull"]
CapexMode = Literal["relative_to_baseline_pct", "yoy_growth_pct", "absolute_usd_m"]
#: bounds of percentage scenario values (relative to baseline, or year-on-year growth)
PCT_RANGE = (-90.0, 500.0)
#: upper bound of an absolute capex value, US$ m per year (US$ 10 trn: far beyond anything plausible)
MAX_CAPEX_USD_M = 10_000_000.0

ScenarioYear = Annotated[int, Field(ge=2000, le=2100)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
TargetId = Annotated[str, Field(min_length=1, max_length=64)]


class CapexPathRequest(BaseModel):
    """A user-defined hyperscaler capex path for some forecast years; other years keep the baseline."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"mode": "relative_to_baseline_pct", "values": {"2026": 50, "2027": 50}}]},
    )

    mode: CapexMode = Field(
        description="relative_to_baseline_pct: % above/below the capex forecast; yoy_growth_pct: % growth over "
                    "the prior year (published or scenario); absolute_usd_m: capex in US$ m per calendar year")
    values: dict[ScenarioYear, FiniteFloat] = Field(
        min_length=1, max_length=10,
        description="calendar year (\"2026\" or 2026; must be a forecast year) -> value. Percentages must be "
                    "within -90..500; absolute values > 0. Years left out keep the baseline "
                    "(in yoy mode, the baseline's growth from the scenario level)")

    @model_validator(mode="after")
    def _values_in_range(self) -> CapexPathRequest:
        if self.mode == "absolute_usd_m":
            bad = {y: v for y, v in self.values.items() if not 0 < v <= MAX_CAPEX_USD_M}
            if bad:
                raise ValueError(f"absolute_usd_m values must be > 0 and at most {MAX_CAPEX_USD_M:,.0f} "
                                 f"(US$ m per year), got {bad}")
        else:
            lo, hi = PCT_RANGE
            bad = {y: v for y, v in self.values.items() if not lo <= v <= hi}
            if bad:
                raise ValueError(f"{self.mode} values must be between {lo:g} and {hi:g} (%), got {bad}")
        return self


_NAMED_EXAMPLE: JsonDict = {"scenario": "bull", "targets": ["hbm_revenue", "micron_revenue"]}
_USER_EXAMPLE: JsonDict = {
    "name": "capex +50%",
    "capex": {"mode": "relative_to_baseline_pct", "values": {"2026": 50, "2027": 50, "2028": 50}},
    "targets": ["hbm_revenue", "skhynix_revenue"],
    "hbm_content": 0.16,
}


class ScenarioRequest(BaseModel):
    """Either a named scenario or a user-defined capex path (exactly one), for memory and HBM targets."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_NAMED_EXAMPLE, _USER_EXAMPLE]})

    scenario: ScenarioName | None = Field(
        default=None, description="named scenario: bear (capex -15/-30/-40% vs baseline in 2026/27/28), base "
                                  "(the capex forecast) or bull (+15/+30/+40%)")
    capex: CapexPathRequest | None = Field(default=None, description="a user-defined capex path")
    targets: list[TargetId] | None = Field(
        default=None, min_length=1, max_length=8,
        description="memory targets and/or hbm_revenue; default: every scenario target of the serving model")
    hbm_content: float | None = Field(
        default=None, gt=0, lt=1,
        description="fix HBM revenue per US$ of NVIDIA DC revenue (default: sampled over its calibrated range)")
    name: str | None = Field(default=None, min_length=1, max_length=64,
                             description="label of a user-defined path, echoed back (only with `capex`)")

    @model_validator(mode="after")
    def _exactly_one_path(self) -> ScenarioRequest:
        if (self.scenario is None) == (self.capex is None):
            raise ValueError("give exactly one of 'scenario' (bear, base, bull) or 'capex' (a user-defined path)")
        if self.name is not None and self.capex is None:
            raise ValueError("'name' labels a user-defined capex path; named scenarios keep their own name")
        return self


class ScenarioEcho(BaseModel):
    name: str
    mode: CapexMode
    values: dict[str, float] = Field(description="year -> value as applied (empty for base: the capex forecast)")
    description: str
    hbm_content: float | None = Field(description="fixed HBM content if overridden; null: sampled over its range")
    targets: list[str]


class CapexYear(BaseModel):
    year: int
    baseline_usd_m: float | None = Field(description="capex champion's calendar-year forecast (median)")
    scenario_usd_m: float | None
    multiplier: float | None = Field(description="scenario / baseline")


class MemoryScenarioPoint(BaseModel):
    ds: date = Field(description="period start date")
    baseline: float | None = Field(description="the champion's unconditional point forecast")
    value: float | None = Field(description="baseline x capex_multiplier ** elasticity")
    intervals: dict[str, Interval] = Field(
        description="of the scenario value: simulated paths x multiplier ** sampled elasticity")
    capex_multiplier: float | None = Field(description="scenario / baseline capex of the period's calendar year")


class MemoryScenarioResult(BaseModel):
    kind: Literal["memory"] = "memory"
    series_id: str
    name: str
    unit: str
    model_name: str = Field(description="the target's champion (its baseline forecast)")
    elasticity: CapexElasticity
    points: list[MemoryScenarioPoint]


class HbmScenarioResult(BaseModel):
    kind: Literal["hbm"] = "hbm"
    series_id: Literal["hbm_revenue"] = "hbm_revenue"
    name: str
    unit: str
    model_name: Literal["structural"] = "structural"
    formula: str
    baseline: list[HbmYear] = Field(description="HBM revenue under the capex forecast")
    scenario: list[HbmYear] = Field(description="HBM revenue under the scenario's capex path")


ScenarioTargetResult = Annotated[MemoryScenarioResult | HbmScenarioResult, Field(discriminator="kind")]


class ScenarioResponse(BaseModel):
    """Memory and HBM forecasts under a capex scenario beside the baseline, with the assumptions used."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "scenario": {"name": "bull", "mode": "relative_to_baseline_pct",
                                 "values": {"2026": 15.0, "2027": 30.0, "2028": 40.0},
                                 "description": "AI capex overshoots the baseline forecast: +15% in 2026, +30% in "
                                                "2027, +40% in 2028",
                                 "hbm_content": None, "targets": ["micron_revenue", "hbm_revenue"]},
                    "capex": [{"year": 2026, "baseline_usd_m": 610728.9, "scenario_usd_m": 702338.2,
                               "multiplier": 1.15}],
                    "assumptions": _ASSUMPTIONS_EXAMPLE,
                    "targets": {
                        "micron_revenue": {
                            "kind": "memory", "series_id": "micron_revenue",
                            "name": "Micron Technology revenue", "unit": "US$ m", "model_name": "Ridge",
                            "elasticity": _ELASTICITY_EXAMPLE,
                            "points": [{"ds": "2026-07-01", "baseline": 63936.7, "value": 82218.0,
                                        "intervals": {"80": {"lo": 78388.1, "hi": 86171.0},
                                                      "95": {"lo": 76536.7, "hi": 88696.7}},
                                        "capex_multiplier": 1.15}],
                        },
                        "hbm_revenue": {
                            "kind": "hbm", "series_id": "hbm_revenue",
                            "name": "HBM market revenue, calendar year (modelled)", "unit": "US$ bn",
                            "model_name": "structural", "formula": HBM_FORMULA_EXAMPLE,
                            "baseline": [{"year": 2026, "value": 46.45, "mean": 46.56,
                                          "intervals": _INTERVALS_EXAMPLE, "growth_pct": None}],
                            "scenario": [{"year": 2026, "value": 53.42, "mean": 53.54,
                                          "intervals": {"80": {"lo": 48.77, "hi": 58.43},
                                                        "95": {"lo": 46.67, "hi": 60.96}},
                                          "growth_pct": None}],
                        },
                    },
                    "model": _MODEL_EXAMPLE,
                }
            ]
        }
    )

    scenario: ScenarioEcho
    capex: list[CapexYear] = Field(description="hyperscaler capex per forecast year, baseline and scenario")
    assumptions: HbmAssumptions
    targets: dict[str, ScenarioTargetResult] = Field(description="per target id, in request order")
    model: ServingModel


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
