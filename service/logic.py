"""What the routes answer, as plain functions of (model, panel, parameters): testable without HTTP.

Serving rules kept here:

* Forecasts at the default horizon with levels drawn from (80, 95) and outlooks come from the
  forecaster's precomputed cache, so dashboards polling them never cause a model fit. Any other horizon or
  level set is fitted on demand (the forecaster caches it afterwards).
* Unknown ids answer 404 with the ids that would have worked; out-of-range horizons and levels answer 422
  with the allowed range, checked before any fitting starts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from datetime import date

import polars as pl

from forecasting.backtest import LEVELS
from forecasting.forecaster import MAX_HORIZON, SeriesModel
from forecasting.hbm import HBM_ID
from forecasting.plots import fan_chart_png
from forecasting.serving import LoadedModel
from pipelines.catalog import CATALOG, get_spec
from pipelines.panel import summarise
from service.errors import ApiError
from service.jobs import Job
from service.schemas import (
    BacktestResponse,
    ForecastPoint,
    ForecastResponse,
    HistoryResponse,
    Interval,
    JobResponse,
    LeaderboardRowResponse,
    ModelledSeriesResponse,
    ModelsResponse,
    ModelVersionResponse,
    ObservationResponse,
    OutlookResponse,
    OutlookYearResponse,
    ReloadResponse,
    SeriesListResponse,
    SeriesResponse,
    ServingModel,
)
from service.state import Serving

LEVEL_RANGE = (50, 99)
HISTORY_PERIODS_IN_CHART = 60


def _num(x: object) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _int(x: object) -> int | None:
    v = _num(x)
    return None if v is None else int(v)


# ------------------------------------------------------------------------------------------ lookups


def forecast_ids(loaded: LoadedModel) -> list[str]:
    """Ids this model forecasts, including the modelled ``hbm_revenue`` when it carries an HBM calibration."""
    ids = set(loaded.forecaster.models)
    if loaded.forecaster.hbm is not None:
        ids.add(HBM_ID)
    return sorted(ids)


def require_forecast_series(loaded: LoadedModel, series_id: str) -> SeriesModel:
    """The series' model, or a 404 that lists the ids this model does forecast."""
    valid = forecast_ids(loaded)
    if series_id not in CATALOG:
        raise ApiError(404, "unknown_series",
                       f"unknown series '{series_id[:100]}'; forecast series: {', '.join(valid)}",
                       {"valid_ids": valid})
    if series_id not in loaded.forecaster.models:
        raise ApiError(404, "series_not_forecast",
                       f"{series_id} is in the catalog but not forecast by model version {loaded.version}; "
                       f"forecast series: {', '.join(valid)}",
                       {"valid_ids": valid})
    return loaded.forecaster.models[series_id]


def require_catalog_series(series_id: str) -> None:
    if series_id == HBM_ID:
        raise ApiError(404, "no_published_history",
                       f"{HBM_ID} is modelled, never published: it has no history; read its forecast at "
                       f"/v1/forecasts/{HBM_ID}/outlook and its assumptions at /v1/models/hbm/assumptions",
                       {"valid_ids": sorted(CATALOG)})
    if series_id not in CATALOG:
        valid = sorted(CATALOG)
        raise ApiError(404, "unknown_series", f"unknown series '{series_id[:100]}'; valid ids: {', '.join(valid)}",
                       {"valid_ids": valid})


def serving_model(loaded: LoadedModel) -> ServingModel:
    meta = loaded.forecaster.meta
    return ServingModel(
        version=loaded.version,
        run_id=loaded.run_id,
        alias=loaded.alias,
        trained_at=meta.trained_at,
        data_vintage=meta.data_vintage,
        data_hash=meta.data_hash,
        source=loaded.source,
        loaded_at=loaded.loaded_at,
    )


# ------------------------------------------------------------------------------------------ catalog


def series_list(panel: pl.DataFrame, loaded: LoadedModel | None, today: date, forecast: bool | None = None,
                modelled: Sequence[ModelledSeriesResponse] = ()) -> SeriesListResponse:
    """Every catalog series with its latest figure and staleness; ``forecast`` filters on being forecast.

    ``modelled`` series (derived by the model, never published) are listed apart and are always forecast.
    """
    forecast_set = set(loaded.forecaster.models) if loaded else set()
    rows = []
    for spec in CATALOG.values():
        is_fc = spec.id in forecast_set
        if forecast is not None and is_fc != forecast:
            continue
        s = summarise(panel, spec)
        rows.append(
            SeriesResponse(
                id=spec.id,
                name=spec.name,
                unit=spec.unit,
                frequency=spec.frequency,
                source=spec.source,
                publication_lag_days=spec.publication_lag_days,
                notes=spec.notes,
                observations=s.observations,
                first_period=s.first,
                last_period=s.last,
                last_value=_num(s.last_value),
                last_published=s.last_published,
                next_expected=s.next_expected,
                staleness_days=s.staleness_days(today),
                gaps=s.gaps,
                forecast=is_fc,
            )
        )
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
        series_id=spec.id,
        name=spec.name,
        unit=spec.unit,
        frequency=spec.frequency,
        start=start,
        end=end,
        observations=[
            ObservationResponse(ds=r["ds"], value=_num(r["value"]), period_end=r["period_end"],
                                published=r["published"])
            for r in frame.iter_rows(named=True)
        ],
    )


def history_csv(frame: pl.DataFrame) -> bytes:
    return frame.write_csv().encode("utf-8")


# ------------------------------------------------------------------------------------------ forecasts


def check_request(sm: SeriesModel, horizon: int, levels: Sequence[int], max_levels: int) -> tuple[int, ...]:
    """Validate before any work: the messages state the allowed range so the caller can fix the request."""
    freq = sm.cfg.spec.frequency
    hmax = MAX_HORIZON[freq]
    if not 1 <= horizon <= hmax:
        raise ApiError(422, "invalid_horizon",
                       f"horizon must be between 1 and {hmax} for {freq} series, got {horizon}",
                       {"min": 1, "max": hmax, "frequency": freq})
    wanted = tuple(sorted(set(levels)))
    lo, hi = LEVEL_RANGE
    bad = [lv for lv in wanted if not lo <= lv <= hi]
    if bad:
        raise ApiError(422, "invalid_level", f"levels must be between {lo} and {hi}, got {bad}",
                       {"min": lo, "max": hi})
    if not wanted:
        raise ApiError(422, "invalid_level", "give at least one level, e.g. level=80&level=95")
    if len(wanted) > max_levels:
        raise ApiError(422, "invalid_level", f"at most {max_levels} distinct levels per request, got {len(wanted)}",
                       {"max_levels": max_levels})
    return wanted


def forecast_frame(loaded: LoadedModel, series_id: str, horizon: int | None, levels: Sequence[int],
                   max_levels: int = 4) -> tuple[pl.DataFrame, int, tuple[int, ...]]:
    """The champion's forecast frame plus the horizon and levels it answers.

    Level subsets of (80, 95) are read from the (80, 95) frame rather than refitted, so the precomputed
    default forecast serves every dashboard variation of it.
    """
    sm = require_forecast_series(loaded, series_id)
    h = horizon if horizon is not None else loaded.forecaster.default_horizon(series_id)
    wanted = check_request(sm, h, levels, max_levels)
    fit_levels = LEVELS if set(wanted) <= set(LEVELS) else wanted
    return loaded.forecaster.forecast(series_id, h, fit_levels), h, wanted


def forecast_points(frame: pl.DataFrame, model: str, levels: Sequence[int]) -> list[ForecastPoint]:
    points = []
    for r in frame.sort("ds").iter_rows(named=True):
        points.append(
            ForecastPoint(
                ds=r["ds"],
                value=_num(r[model]),
                intervals={
                    str(lv): Interval(lo=_num(r.get(f"{model}-lo-{lv}")), hi=_num(r.get(f"{model}-hi-{lv}")))
                    for lv in levels
                },
            )
        )
    return points


def forecast_response(loaded: LoadedModel, series_id: str, horizon: int | None, levels: Sequence[int],
                      max_levels: int = 4) -> ForecastResponse:
    frame, h, wanted = forecast_frame(loaded, series_id, horizon, levels, max_levels)
    sm = loaded.forecaster.models[series_id]
    spec = get_spec(series_id)
    return ForecastResponse(
        series_id=series_id,
        name=spec.name,
        unit=spec.unit,
        frequency=spec.frequency,
        horizon=h,
        levels=list(wanted),
        model_name=sm.champion,
        model=serving_model(loaded),
        points=forecast_points(frame, sm.champion, wanted),
    )


def _band(row: dict[str, object], prefix: str) -> dict[str, Interval]:
    return {str(lv): Interval(lo=_num(row.get(f"{prefix}lo-{lv}")), hi=_num(row.get(f"{prefix}hi-{lv}")))
            for lv in LEVELS}


def outlook_response(loaded: LoadedModel, series_id: str) -> OutlookResponse:
    sm = require_forecast_series(loaded, series_id)
    spec = get_spec(series_id)
    frame = loaded.forecaster.outlook(series_id)
    years = [
        OutlookYearResponse(
            year=int(r["year"]),
            value=_num(r.get("value")),
            intervals=_band(r, ""),
            growth_pct=_num(r.get("growth_pct")),
            growth_intervals=_band(r, "growth_"),
            prior_year_value=_num(r.get("prior_year_value")),
            published_periods=_int(r.get("published_periods")),
            forecast_periods=_int(r.get("forecast_periods")),
        )
        for r in frame.sort("year").iter_rows(named=True)
    ]
    return OutlookResponse(
        series_id=series_id,
        name=spec.name,
        unit=spec.unit,
        aggregation=spec.annual_agg,
        model_name=sm.champion,
        model=serving_model(loaded),
        years=years,
    )


def fan_chart(loaded: LoadedModel, panel: pl.DataFrame | None, series_id: str) -> bytes:
    """PNG of history + the cached default forecast with 80/95 bands (never a refit)."""
    sm = require_forecast_series(loaded, series_id)
    spec = get_spec(series_id)
    frame = loaded.forecaster.forecast(series_id, loaded.forecaster.default_horizon(series_id), LEVELS)
    if panel is not None:
        history = panel.filter(pl.col("unique_id") == series_id, pl.col("y").is_not_null()).select("ds", "y")
    else:
        history = sm.training.df.select("ds", "y")
    return fan_chart_png(history, frame, sm.champion, title=f"{spec.name} — {sm.champion} (model v{loaded.version})",
                         unit=spec.unit, history_periods=HISTORY_PERIODS_IN_CHART)


# ------------------------------------------------------------------------------------------ backtests, models


def backtest_response(loaded: LoadedModel, series_id: str) -> BacktestResponse:
    if series_id == HBM_ID:
        raise ApiError(404, "no_backtest",
                       f"{HBM_ID} is a structural model calibrated on dated estimates, not a backtested forecast "
                       "(there is no HBM revenue history to backtest on); see /v1/models/hbm/assumptions")
    sm = require_forecast_series(loaded, series_id)
    board = loaded.leaderboards.get(series_id)
    if board is None:
        raise ApiError(404, "no_backtest", f"model version {loaded.version} has no stored backtest for {series_id}")
    rows = [
        LeaderboardRowResponse(
            model=str(r["model"]),
            horizon=int(r["horizon"]),
            mase=_num(r.get("mase")),
            smape=_num(r.get("smape")),
            mae=_num(r.get("mae")),
            rmse=_num(r.get("rmse")),
            bias=_num(r.get("bias")),
            coverage_80=_num(r.get("coverage_80")),
            coverage_95=_num(r.get("coverage_95")),
            width_80=_num(r.get("width_80")),
            width_95=_num(r.get("width_95")),
            windows=_int(r.get("windows")),
            champion=bool(r.get("champion")),
            uses_drivers=bool(r.get("uses_drivers")),
        )
        for r in board.sort("horizon", "mase", nulls_last=True).iter_rows(named=True)
    ]
    return BacktestResponse(
        series_id=series_id,
        champion=sm.champion,
        primary_horizon=sm.cfg.primary_h,
        champion_mase=_num(sm.champion_mase),
        baseline_mase=_num(sm.baseline_mase),
        drivers=list(sm.drivers),
        model=serving_model(loaded),
        leaderboard=rows,
    )


def models_response(loaded: LoadedModel | None, registered: list[dict[str, object]]) -> ModelsResponse:
    return ModelsResponse(
        serving=serving_model(loaded) if loaded else None,
        models=[ModelVersionResponse.model_validate(m) for m in registered],
    )


# ------------------------------------------------------------------------------------------ admin


def reload_response(serving: Serving, previous: LoadedModel | None) -> ReloadResponse:
    assert serving.model is not None  # reload() raises instead of swapping in nothing
    return ReloadResponse(status="reloaded", previous_version=previous.version if previous else None,
                          model=serving_model(serving.model))


def job_response(job: Job) -> JobResponse:
    return JobResponse(**asdict(job))
