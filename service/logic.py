"""What the routes answer, as plain functions of (model, panel, parameters): testable without HTTP.

Serving rules kept here:

* Every forecast body is ``forecasting.result.to_dict`` of the model's result, validated into the response
  schema: the API, the CLI and the pyfunc share one shape. Results are read off stored sample paths, so any
  valid horizon and level answers in milliseconds and nothing is ever fitted on a request.
* Unknown ids answer 404 with the ids that would have worked; out-of-range horizons and levels answer 422
  with the allowed range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from typing import Any

import polars as pl

from forecasting.artifact import MAX_OUTLOOK_YEARS, ForecastRequestError, SeriesModel
from forecasting.hbm import HBM_ID, HBM_SPEC
from forecasting.plots import series_fan_chart
from forecasting.result import ForecastResult, round_pct, round_value, to_dict
from forecasting.serving import LoadedModel
from forecasting.targets import LEVEL_RANGE, MAX_HORIZON
from pipelines.catalog import CATALOG, get_spec
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
    TrackRecordResponse,
    TrackRecordRow,
    TrackRecordSummary,
)
from service.state import Serving


def _num(x: object) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


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
        id=HBM_ID, name=HBM_SPEC.name, unit=HBM_SPEC.unit, frequency="annual", model_name=sm.method.name,
        formula=sm.method.description,
        inputs=["capex_hyperscalers_total", "nvidia_datacenter_revenue", "data/raw/memory/hbm_market_figures.csv"],
        years=[d.year for d in sm.dates()],
        endpoints={"forecast": f"/v1/forecasts/{HBM_ID}", "outlook": f"/v1/forecasts/{HBM_ID}/outlook",
                   "chart": f"/v1/forecasts/{HBM_ID}.png", "assumptions": "/v1/models/hbm/assumptions",
                   "scenarios": "/v1/scenarios"},
    )]


def series_list(panel: pl.DataFrame, loaded: LoadedModel | None, today: date, forecast: bool | None = None,
                modelled: Sequence[ModelledSeriesResponse] = ()) -> SeriesListResponse:
    """Every catalog series with its latest figure and staleness; ``forecast`` filters on being forecast."""
    forecast_set = set(loaded.forecaster.models) if loaded else set()
    rows = []
    for spec in CATALOG.values():
        is_fc = spec.id in forecast_set
        if forecast is not None and is_fc != forecast:
            continue
        s = summarise(panel, spec)
        rows.append(SeriesResponse(
            id=spec.id, name=spec.name, unit=spec.unit, frequency=str(spec.frequency), source=spec.source,  # type: ignore[arg-type]
            publication_lag_days=spec.publication_lag_days, notes=spec.notes, observations=s.observations,
            first_period=s.first, last_period=s.last, last_value=_num(s.last_value), last_published=s.last_published,
            next_expected=s.next_expected, staleness_days=s.staleness_days(today), gaps=s.gaps, forecast=is_fc,
        ))
    return SeriesListResponse(count=len(rows), model_version=loaded.version if loaded else None, series=rows,
                              modelled=list(modelled) if forecast is not False else [])


def history_frame(panel: pl.DataFrame, series_id: str, start: date | None, end: date | None) -> pl.DataFrame:
    """Published observations of one series between ``start`` and ``end`` (inclusive, period starts)."""
    require_catalog_series(series_id)
    if start is not None and end is not None and start > end:
        raise ApiError(422, "validation_error", f"start ({start}) is after end ({end})")
    lf = panel.lazy().filter(pl.col("unique_id") == series_id, pl.col("y").is_not_null())
    if start is not None:
        lf = lf.filter(pl.col("ds") >= start)
    if end is not None:
        lf = lf.filter(pl.col("ds") <= end)
    return lf.sort("ds").select("ds", pl.col("y").alias("value"), "period_end", "published").collect()


def history_response(frame: pl.DataFrame, series_id: str, start: date | None, end: date | None) -> HistoryResponse:
    spec = get_spec(series_id)
    return HistoryResponse(
        series_id=spec.id, name=spec.name, unit=spec.unit, frequency=str(spec.frequency), start=start, end=end,
        observations=[ObservationResponse(ds=r["ds"], value=_num(r["value"]), period_end=r["period_end"],
                                          published=r["published"]) for r in frame.iter_rows(named=True)],
    )


def history_csv(frame: pl.DataFrame) -> bytes:
    return frame.write_csv().encode("utf-8")


# ------------------------------------------------------------------------------------------ forecasts


def check_levels(levels: Sequence[int], max_levels: int) -> tuple[int, ...]:
    wanted = tuple(sorted(set(levels)))
    lo, hi = LEVEL_RANGE
    bad = [lv for lv in wanted if not lo <= lv <= hi]
    if bad:
        raise ApiError(422, "invalid_level", f"levels must be between {lo} and {hi}, got {bad}", {"min": lo, "max": hi})
    if not wanted:
        raise ApiError(422, "invalid_level", "give at least one level, e.g. level=80&level=95")
    if len(wanted) > max_levels:
        raise ApiError(422, "invalid_level", f"at most {max_levels} distinct levels per request, got {len(wanted)}",
                       {"max_levels": max_levels})
    return wanted


def check_horizon(sm: SeriesModel, horizon: int | None) -> None:
    hmax = min(MAX_HORIZON[sm.frequency], sm.max_h)
    if horizon is not None and not 1 <= horizon <= hmax:
        raise ApiError(422, "invalid_horizon",
                       f"horizon must be between 1 and {hmax} for {sm.frequency} series, got {horizon}",
                       {"min": 1, "max": hmax, "frequency": str(sm.frequency)})


def forecast_result(loaded: LoadedModel, series_id: str, horizon: int | None, levels: Sequence[int],
                    max_levels: int = 4) -> ForecastResult:
    sm = require_forecast_series(loaded, series_id)
    check_horizon(sm, horizon)
    wanted = check_levels(levels, max_levels)
    try:
        return loaded.forecaster.result(series_id, horizon, wanted)
    except ForecastRequestError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None


def outlook_result(loaded: LoadedModel, series_id: str, years: int | None, levels: Sequence[int],
                   max_levels: int = 4) -> ForecastResult:
    sm = require_forecast_series(loaded, series_id)
    wanted = check_levels(levels, max_levels)
    if years is not None and not 1 <= years <= MAX_OUTLOOK_YEARS:
        raise ApiError(422, "invalid_horizon", f"outlook horizon must be between 1 and {MAX_OUTLOOK_YEARS} "
                       f"calendar years, got {years}", {"min": 1, "max": MAX_OUTLOOK_YEARS, "unit": "years"})
    n_years = years if years is not None else max(1, default_outlook_years(sm))
    return loaded.forecaster.result(series_id, None, wanted, outlook_years=n_years)


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


def _round_series(s: pl.Series) -> pl.Series:
    return pl.Series(s.name, [round_value(x) for x in s.to_list()], dtype=pl.Float64)


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


def backtest_response(loaded: LoadedModel, series_id: str, today: date) -> BacktestResponse:
    sm = require_forecast_series(loaded, series_id)
    if sm.kind != "fitted" or sm.leaderboard.height == 0:
        raise ApiError(404, "no_backtest",
                       f"{series_id} has no backtest: "
                       + ("it is a structural model calibrated on dated estimates (no history to backtest on); "
                          "see /v1/models/hbm/assumptions" if sm.kind == "structural"
                          else f"too few origins in model version {loaded.version}"))
    body = to_dict(sm.result(), loaded.metadata(), today=today, include=())
    rows = [LeaderboardRowResponse.model_validate({k: _clean(v) for k, v in r.items()})
            for r in sm.leaderboard.sort("horizon", "mase", nulls_last=True).iter_rows(named=True)]
    return BacktestResponse(series_id=series_id, method=body["method"], primary_horizon=sm.method.primary_horizon or 0,
                            model=serving_model(loaded), leaderboard=rows)


def _clean(v: Any) -> Any:
    return _num(v) if isinstance(v, float) else v


def models_response(loaded: LoadedModel | None, registered: list[dict[str, object]]) -> ModelsResponse:
    return ModelsResponse(serving=serving_model(loaded) if loaded else None,
                          models=[ModelVersionResponse.model_validate(m) for m in registered])


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


def track_record_csv(loaded: LoadedModel, series_id: str) -> bytes:
    return track_record_frame(loaded, series_id).drop("series_id").write_csv(float_precision=3).encode("utf-8")


# ------------------------------------------------------------------------------------------ admin


def reload_response(serving: Serving, previous: LoadedModel | None) -> ReloadResponse:
    assert serving.model is not None  # reload() raises instead of swapping in nothing
    return ReloadResponse(status="reloaded", previous_version=previous.version if previous else None,
                          model=serving_model(serving.model))


def job_response(job: Job) -> JobResponse:
    return JobResponse(**asdict(job))
