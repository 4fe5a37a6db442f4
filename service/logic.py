"""What the routes answer, as plain functions of (model, panel, parameters): testable without HTTP.

Serving rules kept here:

* Every forecast body is ``forecasting.result.to_dict`` of the model's result, validated into the response
  schema: the API, the CLI and the pyfunc share one shape. Results are read off stored sample paths, so any
  valid horizon and level answers in milliseconds and nothing is ever fitted on a request.
* Unknown ids answer 404 with the ids that would have worked; a horizon or level outside what the schema
  allows answers 422 with the allowed range; a schema-valid request that *this* series or *this* model
  cannot answer (a horizon beyond the series' own maximum, more outlook years than its forecast completes,
  US$ for a series that is not money) answers 409 with what it can answer.
* Nothing is served as a raw binary float: published figures are cleaned to 12 significant digits (float
  noise such as 791.6999999999999 from adding parts, never a published digit), derived figures are rounded
  by ``forecasting.result`` (6 significant digits, percentages 2 decimals), metrics to 4 significant digits.
* ``?currency=USD`` converts with ``pipelines.fx.to_usd``: history at each period's month-average rates, forecasts
  per period (paths and point) at the rate the same rule gives a future period, the last published month's, so
  calendar-year totals, growth and intervals are recomputed from converted paths, never scaled afterwards.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from forecasting.artifact import MAX_OUTLOOK_YEARS, ForecastRequestError, SeriesModel
from forecasting.hbm import HBM_ID, HBM_SPEC
from forecasting.plots import series_fan_chart
from forecasting.result import ForecastResult, round_pct, round_value, to_dict
from forecasting.serving import LoadedModel
from forecasting.targets import LEVEL_RANGE, MAX_HORIZON
from pipelines.catalog import CATALOG, SeriesSpec, get_spec
from pipelines.fx import CurrencyError, to_usd, usd_unit
from pipelines.panel import summarise
from service.errors import ApiError
from service.jobs import Job
from service.schemas import (
    BacktestResponse,
    ForecastResponse,
    HistoryResponse,
    IntervalBand,
    JobResponse,
    LeaderboardRowResponse,
    ModelledSeriesResponse,
    ModelsResponse,
    ModelVersionResponse,
    ObservationResponse,
    OutlookResponse,
    ReloadResponse,
    SeriesListResponse,
    SeriesResponse,
    ServingModel,
    TargetCurrency,
    TrackRecordResponse,
    TrackRecordRow,
    TrackRecordSummary,
)
from service.state import Serving

#: significant digits of published figures: removes binary noise from sums of parts, keeps every printed digit
PUBLISHED_DIGITS = 12
#: significant digits of scores (MASE, coverage, ...)
METRIC_DIGITS = 4


def _num(x: object, digits: int = PUBLISHED_DIGITS) -> float | None:
    """A finite float rounded to ``digits`` significant digits, else None."""
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return round_value(v, digits) if math.isfinite(v) else None


def max_horizon(sm: SeriesModel) -> int:
    """The longest horizon served for a series: its frequency's maximum, or fewer if its paths end sooner."""
    return min(MAX_HORIZON[sm.frequency], sm.max_h)


def max_outlook_years(sm: SeriesModel) -> int:
    """Calendar years, from the first forecast year, whose every period the stored paths (or history) cover."""
    last = sm.dates()[-1]
    months = sm.frequency.months
    years = 0
    for year in range(sm.start.year, last.year + 1):
        if date(year, 13 - months, 1) > last:  # the year's last period is beyond the paths
            break
        years += 1
    return min(years, MAX_OUTLOOK_YEARS)


# ------------------------------------------------------------------------------------------ lookups


def forecast_ids(loaded: LoadedModel) -> list[str]:
    """Ids this model forecasts (``hbm_revenue`` included when it carries the HBM calibration)."""
    return sorted(loaded.forecaster.models)


def require_forecast_series(loaded: LoadedModel, series_id: str) -> SeriesModel:
    """The series' model, or a 404 that lists the ids this model does forecast."""
    valid = forecast_ids(loaded)
    if series_id in loaded.forecaster.models:
        return loaded.forecaster.models[series_id]
    if series_id not in CATALOG and series_id != HBM_ID:
        raise ApiError(404, "unknown_series",
                       f"unknown series '{series_id[:100]}'; forecast series: {', '.join(valid)}",
                       {"valid_ids": valid})
    raise ApiError(404, "series_not_forecast",
                   f"{series_id} is not forecast by model version {loaded.version}; "
                   f"forecast series: {', '.join(valid)}", {"valid_ids": valid})


def require_catalog_series(series_id: str) -> None:
    if series_id == HBM_ID:
        raise ApiError(404, "no_published_history",
                       f"{HBM_ID} is modelled, never published: it has no history; read its forecast at "
                       f"/v1/forecasts/{HBM_ID} and its assumptions at /v1/models/hbm/assumptions",
                       {"valid_ids": sorted(CATALOG)})
    if series_id not in CATALOG:
        valid = sorted(CATALOG)
        raise ApiError(404, "unknown_series", f"unknown series '{series_id[:100]}'; valid ids: {', '.join(valid)}",
                       {"valid_ids": valid})


def serving_model(loaded: LoadedModel) -> ServingModel:
    return ServingModel.model_validate(loaded.metadata())


# ------------------------------------------------------------------------------------------ catalog


def modelled_series(loaded: LoadedModel | None) -> list[ModelledSeriesResponse]:
    """Catalog entries for series the serving model derives (HBM revenue), empty if it has none."""
    if loaded is None or HBM_ID not in loaded.forecaster.models:
        return []
    sm = loaded.forecaster.models[HBM_ID]
    return [ModelledSeriesResponse(
        id=HBM_ID, name=HBM_SPEC.name, unit=HBM_SPEC.unit, frequency=HBM_SPEC.frequency, model_name=sm.method.name,
        formula=sm.method.description,
        inputs=["capex_hyperscalers_total", "nvidia_datacenter_revenue", "data/raw/memory/hbm_market_figures.csv"],
        years=[d.year for d in sm.dates()],
        endpoints={"forecast": f"/v1/forecasts/{HBM_ID}", "outlook": f"/v1/forecasts/{HBM_ID}/outlook",
                   "chart": f"/v1/forecasts/{HBM_ID}.png", "assumptions": "/v1/models/hbm/assumptions",
                   "scenarios": "/v1/scenarios"},
        max_horizon=max_horizon(sm), max_outlook_years=max_outlook_years(sm),
    )]


def series_list(panel: pl.DataFrame, loaded: LoadedModel | None, today: date, forecast: bool | None = None,
                modelled: Sequence[ModelledSeriesResponse] = ()) -> SeriesListResponse:
    """Every catalog series with its latest figure and staleness; ``forecast`` filters on being forecast."""
    models = loaded.forecaster.models if loaded else {}
    record = loaded.forecaster.track_record if loaded else pl.DataFrame()
    with_record = set(record["series_id"].unique().to_list()) if record.height else set()
    rows = []
    for spec in CATALOG.values():
        sm = models.get(spec.id)
        if forecast is not None and (sm is not None) != forecast:
            continue
        s = summarise(panel, spec)
        rows.append(SeriesResponse(
            id=spec.id, name=spec.name, unit=spec.unit, frequency=spec.frequency, source=spec.source,
            publication_lag_days=spec.publication_lag_days, notes=spec.notes, observations=s.observations,
            first_period=s.first, last_period=s.last, last_value=_num(s.last_value), last_published=s.last_published,
            next_expected=s.next_expected, staleness_days=s.staleness_days(today), gaps=s.gaps,
            forecast=sm is not None, currency=money_currency(spec),  # type: ignore[arg-type]
            max_horizon=max_horizon(sm) if sm is not None else None,
            max_outlook_years=max_outlook_years(sm) if sm is not None else None,
            track_record=spec.id in with_record, backtest=sm is not None and has_backtest(sm),
        ))
    return SeriesListResponse(count=len(rows), model_version=loaded.version if loaded else None, series=rows,
                              modelled=list(modelled) if forecast is not False else [])


def history_frame(panel: pl.DataFrame, series_id: str, start: date | None, end: date | None) -> pl.DataFrame:
    """Published observations of one series between ``start`` and ``end`` (inclusive, period starts).

    A ``start`` after ``end`` selects nothing (the response says so in ``notes``): both are well-formed dates,
    and no period starts between them.
    """
    require_catalog_series(series_id)
    lf = panel.lazy().filter(pl.col("unique_id") == series_id, pl.col("y").is_not_null())
    if start is not None:
        lf = lf.filter(pl.col("ds") >= start)
    if end is not None:
        lf = lf.filter(pl.col("ds") <= end)
    return lf.sort("ds").select("ds", pl.col("y").alias("value"), "period_end", "published").collect()


def history_notes(start: date | None, end: date | None) -> list[str]:
    if start is not None and end is not None and start > end:
        return [f"start ({start}) is after end ({end}): no period lies between them"]
    return []


def history_in_usd(frame: pl.DataFrame, series_id: str, panel: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any]]:
    """History in US$ at each period's month-average rates (``fx_rate`` column added); 409 if not money."""
    spec = get_spec(series_id)
    currency = require_money(spec, TargetCurrency.USD)
    if currency == "USD":
        return frame, _conversion(spec, "USD", f"{spec.id} is published in {spec.unit}; no conversion.", None)
    out, note = to_usd(frame, spec, panel, value_col="value")
    out = out.with_columns(pl.col("value").map_batches(_round_series, return_dtype=pl.Float64),
                           pl.col("fx_rate").round_sig_figs(PUBLISHED_DIGITS))
    return out.drop("fx_carried_forward"), _conversion(spec, currency, note, _rate_through(spec, panel))


def history_response(frame: pl.DataFrame, series_id: str, start: date | None, end: date | None,
                     currency: dict[str, Any] | None = None) -> HistoryResponse:
    spec = get_spec(series_id)
    return HistoryResponse(
        series_id=spec.id, name=spec.name, unit=currency["unit"] if currency else spec.unit,
        frequency=spec.frequency, start=start, end=end, currency=currency,  # type: ignore[arg-type]
        notes=[*history_notes(start, end), *([currency["note"]] if currency else [])],
        observations=[ObservationResponse(ds=r["ds"], value=_num(r["value"]), period_end=r["period_end"],
                                          published=r["published"]) for r in frame.iter_rows(named=True)],
    )


def history_csv(frame: pl.DataFrame) -> bytes:
    return frame.with_columns(pl.col("value").round_sig_figs(PUBLISHED_DIGITS)).write_csv().encode("utf-8")


# ------------------------------------------------------------------------------------------ currency


def money_currency(spec: SeriesSpec) -> str | None:
    """The currency of a series' amounts (modelled US$ series count as USD); None for indices and ratios."""
    if spec.currency is not None:
        return spec.currency
    return "USD" if spec.unit.startswith("US$") else None


def require_money(spec: SeriesSpec, to: TargetCurrency) -> str:
    """The series' own currency if it can be shown in ``to``; else 409 saying why."""
    currency = money_currency(spec)
    if currency is None:
        raise ApiError(409, "not_convertible",
                       f"{spec.id} is measured in {spec.unit}, not money: it has no {to.value} view; leave out "
                       "currency", {"series_id": spec.id, "unit": spec.unit})
    if currency != "USD":
        try:
            usd_unit(spec)
        except CurrencyError as exc:
            raise ApiError(409, "not_convertible", str(exc), {"series_id": spec.id, "unit": spec.unit}) from None
    return currency


def _conversion(spec: SeriesSpec, currency: str, note: str, through: date | None) -> dict[str, Any]:
    converted = currency != "USD"
    return {"from": currency, "to": "USD", "unit": usd_unit(spec) if converted else spec.unit,
            "rule": ("history: each period at its month-average rate (a quarter or year: the mean of its months); "
                     "forecast periods: at the last published month's rate" if converted
                     else "none: published in US$"),
            "note": note, "rate_through": through.isoformat() if through else None}


def _rate_through(spec: SeriesSpec, panel: pl.DataFrame) -> date | None:
    from pipelines.fx import FX_SERIES

    rates = panel.filter(pl.col("unique_id") == FX_SERIES[str(spec.currency)], pl.col("y").is_not_null())
    return rates["ds"].max() if rates.height else None  # type: ignore[return-value]


def series_in_usd(sm: SeriesModel, panel: pl.DataFrame) -> tuple[SeriesModel, dict[str, Any]]:
    """The series model with history, point and every sample path in US$, period by period (pure).

    History periods use their month-average rates; forecast periods the rate ``to_usd`` gives a period not yet
    published (the last published month's). Outlook totals, growth and intervals are then computed from the
    converted paths like any forecast's, so they mix rates exactly as the periods they add up do.
    """
    spec = sm.spec
    currency = require_money(spec, TargetCurrency.USD)
    if currency == "USD":
        return sm, _conversion(spec, "USD", f"{spec.id} is published in {spec.unit}; no conversion.", None)
    hist, _ = to_usd(sm.history.select("ds", "y"), spec, panel)
    dates = sm.dates()
    ones = pl.DataFrame({"ds": dates, "y": np.ones(len(dates))}, schema={"ds": pl.Date, "y": pl.Float64})
    unit_rates, note = to_usd(ones, spec, panel)  # its note names the periods converted at a carried rate
    factor = unit_rates.sort("ds")["y"].to_numpy()
    if not np.all(np.isfinite(factor)):
        raise ApiError(409, "not_convertible", f"no published {currency} rate to convert {spec.id}'s forecast with")
    out = copy.copy(sm)
    out.spec = replace(spec, unit=usd_unit(spec), currency="USD")
    out.history = hist.filter(pl.col("y").is_not_null()).select("ds", "y")
    out.point = sm.point * factor
    out.paths = sm.paths * factor[None, :]
    out.notes = [*sm.notes, note]
    return out, _conversion(spec, currency, note, _rate_through(spec, panel))


# ------------------------------------------------------------------------------------------ forecasts


def check_levels(levels: Sequence[int], max_levels: int) -> tuple[int, ...]:
    """The distinct levels asked for; 422 outside 50..99 or for more than ``max_levels`` values (as the schema)."""
    lo, hi = LEVEL_RANGE
    bad = sorted({lv for lv in levels if not lo <= lv <= hi})
    if bad:
        raise ApiError(422, "invalid_level", f"levels must be between {lo} and {hi}, got {bad}", {"min": lo, "max": hi})
    if not levels:
        raise ApiError(422, "invalid_level", "give at least one level, e.g. level=80&level=95")
    if len(levels) > max_levels:
        raise ApiError(422, "invalid_level", f"at most {max_levels} levels per request, got {len(levels)}",
                       {"max_levels": max_levels})
    return tuple(sorted(set(levels)))


def check_horizon(sm: SeriesModel, horizon: int | None) -> None:
    """422 outside what the schema allows for any series; 409 beyond this series' own maximum."""
    hmax = max_horizon(sm)
    if horizon is None:
        return
    if not 1 <= horizon <= max(MAX_HORIZON.values()):
        raise ApiError(422, "invalid_horizon", f"horizon must be between 1 and {max(MAX_HORIZON.values())}, "
                       f"got {horizon}", {"min": 1, "max": max(MAX_HORIZON.values())})
    if horizon > hmax:
        raise ApiError(409, "invalid_horizon",
                       f"horizon must be between 1 and {hmax} for {sm.series_id} ({sm.frequency} series), got "
                       f"{horizon}", {"min": 1, "max": hmax, "frequency": str(sm.frequency)})


def check_outlook_years(sm: SeriesModel, years: int | None) -> int:
    """The outlook years to serve; 422 outside 1..4, 409 beyond the years this series' forecast completes."""
    if years is None:
        return max(1, min(default_outlook_years(sm), max_outlook_years(sm)))
    if not 1 <= years <= MAX_OUTLOOK_YEARS:
        raise ApiError(422, "invalid_horizon", f"outlook horizon must be between 1 and {MAX_OUTLOOK_YEARS} "
                       f"calendar years, got {years}", {"min": 1, "max": MAX_OUTLOOK_YEARS, "unit": "years"})
    available = max_outlook_years(sm)
    if years > available:
        first = sm.start.year
        raise ApiError(409, "invalid_horizon",
                       f"the forecast of {sm.series_id} completes {available} calendar year(s) "
                       f"({first}-{first + available - 1}); outlook horizon {years} asks for "
                       f"{first + years - 1}", {"min": 1, "max": available, "unit": "years"})
    return years


def forecast_result(loaded: LoadedModel, series_id: str, horizon: int | None, levels: Sequence[int],
                    max_levels: int = 4, currency: TargetCurrency | None = None,
                    panel: pl.DataFrame | None = None) -> ForecastResult:
    sm = require_forecast_series(loaded, series_id)
    check_horizon(sm, horizon)
    wanted = check_levels(levels, max_levels)
    if currency is not None:
        return _converted_result(sm, panel, lambda usd: usd.result(horizon, wanted))
    try:
        return loaded.forecaster.result(series_id, horizon, wanted)
    except ForecastRequestError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None


def outlook_result(loaded: LoadedModel, series_id: str, years: int | None, levels: Sequence[int],
                   max_levels: int = 4, currency: TargetCurrency | None = None,
                   panel: pl.DataFrame | None = None) -> ForecastResult:
    sm = require_forecast_series(loaded, series_id)
    wanted = check_levels(levels, max_levels)
    n_years = check_outlook_years(sm, years)
    if currency is not None:
        return _converted_result(sm, panel, lambda usd: usd.result(None, wanted, outlook_years=n_years))
    return loaded.forecaster.result(series_id, None, wanted, outlook_years=n_years)


def _converted_result(sm: SeriesModel, panel: pl.DataFrame | None, make: Any) -> ForecastResult:
    if panel is None:
        raise ApiError(503, "no_data", "the data panel (exchange rates) could not be loaded; see the server log")
    usd, conversion = series_in_usd(sm, panel)
    result: ForecastResult = make(usd)
    result.currency = conversion
    return result


def default_outlook_years(sm: SeriesModel) -> int:
    """The current forecast year and the next (HBM: every modelled year)."""
    return len({d.year for d in sm.dates()}) if sm.kind == "structural" else 2


def forecast_body(loaded: LoadedModel, result: ForecastResult, today: date, *, outlook_only: bool = False
                  ) -> ForecastResponse | OutlookResponse:
    body = to_dict(result, loaded.metadata(), today=today,
                   include=("outlook",) if outlook_only else ("points", "outlook"))
    return (OutlookResponse if outlook_only else ForecastResponse).model_validate(body)


def forecast_csv(result: ForecastResult) -> bytes:
    """Points as CSV: ds, forecast, then lo/hi per level (the Nixtla frame without unique_id), rounded as JSON is."""
    frame = result.frame.drop("unique_id")
    values = [c for c in frame.columns if c != "ds"]
    frame = frame.with_columns(pl.col(c).map_batches(_round_series, return_dtype=pl.Float64) for c in values)
    return frame.write_csv().encode("utf-8")


def _round_series(s: pl.Series, how: Callable[[float | None], float | None] = round_value) -> pl.Series:
    return pl.Series(s.name, [how(x) for x in s.to_list()], dtype=pl.Float64)


def outlook_csv(result: ForecastResult) -> bytes:
    rows: list[dict[str, Any]] = []
    for y in result.outlook:
        row: dict[str, Any] = {"year": y.year, "value": y.value, "growth_pct": y.growth_pct,
                               "prior_year_value": y.prior_year_value, "published_periods": y.published_periods,
                               "forecast_periods": y.forecast_periods}
        row.update(value=round_value(y.value), growth_pct=round_pct(y.growth_pct),
                   prior_year_value=round_value(y.prior_year_value))
        for i in y.intervals:
            row[f"lo_{i.level}"], row[f"hi_{i.level}"] = round_value(i.lo), round_value(i.hi)
        for i in y.growth_intervals:
            row[f"growth_lo_{i.level}"], row[f"growth_hi_{i.level}"] = round_pct(i.lo), round_pct(i.hi)
        rows.append(row)
    return pl.DataFrame(rows).write_csv().encode("utf-8") if rows else b"year,value\n"


def fan_chart(loaded: LoadedModel, series_id: str) -> bytes:
    """PNG of history + the default forecast with 80/95 bands (read off stored paths, never a refit)."""
    sm = require_forecast_series(loaded, series_id)
    estimates: list[tuple[int, float, str]] = []
    if series_id == HBM_ID and loaded.forecaster.hbm:
        estimates = [(int(p["year"]), float(p["hbm_usd_bn"]), str(p.get("estimate_by") or ""))
                     for p in loaded.forecaster.hbm["hbm_content"]["calibration"] if p.get("hbm_usd_bn") is not None]
    return series_fan_chart(sm, version=loaded.version, estimates=estimates)


# ------------------------------------------------------------------------------------------ backtests, models


def has_backtest(sm: SeriesModel) -> bool:
    """A leaderboard that scores what is served: a fitted combination's, or a capex aggregate's replayed sum."""
    board = sm.leaderboard
    if board.height == 0 or sm.kind not in ("fitted", "reconciled"):
        return False
    # a model stored before training replayed the sum marks the aggregate's own combination as served
    return sm.kind == "fitted" or ("served" in board.columns
                                   and set(board.filter(pl.col("served"))["model"]) == {sm.method.name})


def backtest_response(loaded: LoadedModel, series_id: str, today: date) -> BacktestResponse:
    sm = require_forecast_series(loaded, series_id)
    if not has_backtest(sm):
        raise ApiError(404, "no_backtest",
                       f"{series_id} has no backtest: "
                       + ("it is a structural model calibrated on dated estimates (no history to backtest on); "
                          "see /v1/models/hbm/assumptions" if sm.kind == "structural"
                          else f"it is served as derived from other series ({sm.method.name}), see its method"
                          if sm.kind == "derived"
                          else f"model version {loaded.version} did not replay its served {sm.method.name} at past "
                               "origins; a retrain adds it" if sm.kind == "reconciled"
                          else f"too few origins in model version {loaded.version}"))
    body = to_dict(sm.result(), loaded.metadata(), today=today, include=())
    rows = [LeaderboardRowResponse.model_validate({k: _clean(k, v) for k, v in r.items()})
            for r in sm.leaderboard.sort("horizon", "mase", nulls_last=True).iter_rows(named=True)]
    return BacktestResponse(series_id=series_id, method=body["method"], primary_horizon=sm.method.primary_horizon or 0,
                            model=serving_model(loaded), leaderboard=rows)


#: leaderboard columns in the series' unit (6 significant digits, like forecasts); other floats are scores
_LEVEL_COLUMNS = frozenset({"mae", "rmse", "bias"})


def _clean(column: str, v: Any) -> Any:
    if not isinstance(v, float):
        return v
    return _num(v, 6 if column in _LEVEL_COLUMNS else METRIC_DIGITS)


def models_response(loaded: LoadedModel | None, registered: list[dict[str, object]]) -> ModelsResponse:
    models = []
    for m in registered:
        metrics = m.get("metrics")
        if isinstance(metrics, dict):
            m = {**m, "metrics": {k: _num(v, METRIC_DIGITS) for k, v in metrics.items()}}
        models.append(ModelVersionResponse.model_validate(m))
    return ModelsResponse(serving=serving_model(loaded) if loaded else None, models=models)


# ------------------------------------------------------------------------------------------ track record


def track_record_frame(loaded: LoadedModel, series_id: str) -> pl.DataFrame:
    record = loaded.forecaster.track_record
    have = sorted(record["series_id"].unique().to_list()) if record.height else []
    if series_id not in have:
        raise ApiError(404, "no_track_record",
                       f"model version {loaded.version} stores no track record for '{series_id[:100]}'; it has one "
                       f"for: {', '.join(have) or 'no series'} (any target: `chipcast track-record SERIES`)",
                       {"valid_ids": have})
    return record.filter(pl.col("series_id") == series_id)


def track_record_response(loaded: LoadedModel, series_id: str) -> TrackRecordResponse:
    from forecasting.track_record import summary

    frame = track_record_frame(loaded, series_id)
    rows = []
    for r in frame.iter_rows(named=True):
        rows.append(TrackRecordRow(
            origin=r["origin"], last_observation=r["last_observation"], year=r["year"], horizon=r["horizon"],
            model=r["model"], forecast_growth_pct=round_pct(r["forecast_growth_pct"]),
            growth_intervals=[IntervalBand(level=lv, lo=round_pct(r[f"growth_lo_{lv}"]),
                                           hi=round_pct(r[f"growth_hi_{lv}"])) for lv in (80, 95)],
            forecast_value=round_value(r["forecast_value"]),
            actual_growth_first_pct=round_pct(r["actual_growth_first_pct"]),
            actual_growth_latest_pct=round_pct(r["actual_growth_latest_pct"]),
            actual_first_published=r["actual_first_published"], error_pp=round_pct(r["error_pp"]),
            hit_80=r["hit_80"], hit_95=r["hit_95"],
        ))
    summ = [TrackRecordSummary.model_validate({k: (round(v, 3) if isinstance(v, float) else v) for k, v in s.items()})
            for s in summary(frame).iter_rows(named=True)]
    return TrackRecordResponse(series_id=series_id, model=serving_model(loaded), rows=rows, summary=summ)


#: track-record columns in percent or percentage points (2 decimals, as in the JSON rows)
_TRACK_PCT = ("forecast_growth_pct", "growth_lo_80", "growth_hi_80", "growth_lo_95", "growth_hi_95",
              "actual_growth_first_pct", "actual_growth_latest_pct", "error_pp")


def track_record_csv(loaded: LoadedModel, series_id: str) -> bytes:
    """The JSON rows as CSV, rounded the same way (growth and errors to 2 decimals, values to 6 digits)."""
    frame = track_record_frame(loaded, series_id).drop("series_id").with_columns(
        *(pl.col(c).map_batches(lambda x: _round_series(x, round_pct), return_dtype=pl.Float64) for c in _TRACK_PCT),
        pl.col("forecast_value").map_batches(_round_series, return_dtype=pl.Float64))
    return frame.write_csv().encode("utf-8")



# ------------------------------------------------------------------------------------------ admin


def reload_response(serving: Serving, previous: LoadedModel | None) -> ReloadResponse:
    assert serving.model is not None  # reload() raises instead of swapping in nothing
    return ReloadResponse(status="reloaded", previous_version=previous.version if previous else None,
                          model=serving_model(serving.model), panel_error=serving.panel_error)


def job_response(job: Job) -> JobResponse:
    return JobResponse(**asdict(job))
