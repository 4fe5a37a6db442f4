"""One forecast result, one serializer.

A forecast leaves ``forecasting`` as a :class:`ForecastResult` and becomes JSON through :func:`to_dict` only.
The CLI's ``--format json``, the HTTP API and the MLflow pyfunc all call it, so field names never differ
between them and never depend on which model produced the numbers (the frame's columns are always
``forecast``, ``forecast-lo-<level>``, ``forecast-hi-<level>``, Nixtla's interval convention).

Numbers are presented rounded: levels to 6 significant digits (never coarser than whole units),
percentages to 2 decimals. Every figure is
finite or ``null``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

#: the column name of the point forecast in every frame (never a model's name)
POINT = "forecast"


def round_value(x: float | None, digits: int = 6) -> float | None:
    """Round to ``digits`` significant digits; None for missing or non-finite values."""
    if x is None or not math.isfinite(x):
        return None
    if x == 0:
        return 0.0
    return round(x, max(0, digits - 1 - math.floor(math.log10(abs(x)))))


def round_pct(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, 2)


@dataclass(frozen=True)
class Interval:
    level: int
    lo: float | None
    hi: float | None


@dataclass(frozen=True)
class Point:
    ds: date
    value: float | None
    intervals: tuple[Interval, ...]


@dataclass(frozen=True)
class OutlookYear:
    """A calendar year assembled from published and forecast periods by the catalog's annual rule."""

    year: int
    value: float | None
    intervals: tuple[Interval, ...]
    growth_pct: float | None
    growth_intervals: tuple[Interval, ...]
    prior_year_value: float | None
    published_periods: int
    forecast_periods: int


@dataclass(frozen=True)
class Member:
    name: str
    weight: float
    params: Mapping[str, Any]


@dataclass(frozen=True)
class MethodInfo:
    """How the numbers were made: served method, its members and weights, and where intervals come from."""

    name: str
    description: str
    members: tuple[Member, ...] = ()
    scale: str = "log"
    intervals: str = ""
    backtest_origins: int = 0
    backtest_first_origin: date | None = None
    backtest_last_origin: date | None = None
    primary_horizon: int | None = None
    mase: float | None = None
    baseline_mase: float | None = None
    passed_over: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DataStatus:
    """How fresh the series behind a forecast is (staleness is computed when the result is shown)."""

    last_observation: date | None
    last_published: date | None
    next_expected_release: date | None
    as_of: date | None = None
    bridged_for_fitting: tuple[date, ...] = ()
    vintages: str = "latest"
    source: str = ""
    #: months forecast by the bridge nowcast from a faster indicator (they are forecasts, not history)
    nowcast: tuple[date, ...] = ()
    nowcast_indicator: str | None = None

    def staleness_days(self, today: date) -> int | None:
        if self.next_expected_release is None:
            return None
        return max(0, (today - self.next_expected_release).days)


@dataclass
class ForecastResult:
    series_id: str
    name: str
    unit: str
    frequency: str
    horizon: int
    levels: tuple[int, ...]
    points: list[Point]
    outlook: list[OutlookYear]
    method: MethodInfo
    data: DataStatus
    notes: list[str] = field(default_factory=list)
    #: set when values were converted to another currency: {"to", "from", "rule", "rates"}
    currency: dict[str, Any] | None = None

    @property
    def frame(self) -> pl.DataFrame:
        """Nixtla long format: ``unique_id, ds, forecast, forecast-lo-<l>, forecast-hi-<l>`` (lo/hi ascending)."""
        cols: dict[str, list[Any]] = {"unique_id": [self.series_id] * len(self.points),
                                      "ds": [p.ds for p in self.points], POINT: [p.value for p in self.points]}
        for lv in sorted(self.levels):
            cols[f"{POINT}-lo-{lv}"] = [next(i.lo for i in p.intervals if i.level == lv) for p in self.points]
            cols[f"{POINT}-hi-{lv}"] = [next(i.hi for i in p.intervals if i.level == lv) for p in self.points]
        return pl.DataFrame(cols, schema_overrides={"ds": pl.Date})


def _intervals(items: Sequence[Interval], pct: bool = False) -> list[dict[str, Any]]:
    r = round_pct if pct else round_value
    return [{"level": i.level, "lo": r(i.lo), "hi": r(i.hi)} for i in items]


def to_dict(result: ForecastResult, model: Mapping[str, Any] | None = None, *, today: date | None = None,
            include: Sequence[str] = ("points", "outlook")) -> dict[str, Any]:
    """The one JSON shape of a forecast (CLI, API and pyfunc). ``model`` is the registry metadata, if any."""
    m = result.method
    d = result.data
    out: dict[str, Any] = {
        "series_id": result.series_id,
        "name": result.name,
        "unit": result.unit,
        "frequency": result.frequency,
        "horizon": result.horizon,
        "levels": list(result.levels),
        "method": {
            "name": m.name,
            "description": m.description,
            "members": [{"name": x.name, "weight": round(x.weight, 4), "params": dict(x.params)} for x in m.members],
            "scale": m.scale,
            "intervals": m.intervals,
            "backtest": {
                "origins": m.backtest_origins,
                "first_origin": _iso(m.backtest_first_origin),
                "last_origin": _iso(m.backtest_last_origin),
                "primary_horizon": m.primary_horizon,
                "mase": round_value(m.mase, 4),
                "baseline_mase": round_value(m.baseline_mase, 4),
            },
            "passed_over": [{"model": a, "reason": b} for a, b in m.passed_over],
        },
        "data": {
            "last_observation": _iso(d.last_observation),
            "last_published": _iso(d.last_published),
            "next_expected_release": _iso(d.next_expected_release),
            "staleness_days": d.staleness_days(today) if today else None,
            "as_of": _iso(d.as_of),
            "bridged_for_fitting": [x.isoformat() for x in d.bridged_for_fitting],
            "vintages": d.vintages,
            "source": d.source,
            "nowcast": [x.isoformat() for x in d.nowcast],
            "nowcast_indicator": d.nowcast_indicator,
        },
        "model": dict(model) if model is not None else None,
        "notes": list(result.notes),
        "currency": result.currency,
    }
    if "points" in include:
        out["points"] = [{"ds": p.ds.isoformat(), "value": round_value(p.value), "intervals": _intervals(p.intervals)}
                         for p in result.points]
    if "outlook" in include:
        out["outlook"] = [
            {
                "year": y.year,
                "value": round_value(y.value),
                "intervals": _intervals(y.intervals),
                "growth_pct": round_pct(y.growth_pct),
                "growth_intervals": _intervals(y.growth_intervals, pct=True),
                "prior_year_value": round_value(y.prior_year_value),
                "published_periods": y.published_periods,
                "forecast_periods": y.forecast_periods,
            }
            for y in result.outlook
        ]
    return out


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None
