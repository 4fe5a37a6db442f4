"""Turn the panel into model inputs: one regular training series per target, plus lagged drivers.

Two honest rules live here:

* **Gaps.** Models need a regular grid. A target is trained on its longest gap-free stretch when that is
  long enough; otherwise (one WSTS month is missing) the missing period is bridged *for fitting only* by
  log-linear interpolation between its published neighbours. Bridged periods are listed in every result,
  never evaluated as if they were actuals and never returned as history.
* **Drivers.** A driver enters at a lag of ``max_h`` periods plus its publication lag, so every driver
  value a forecast needs was already published at the forecast origin: no driver forecast is needed and
  the backtest cannot peek.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from forecasting.models import TargetConfig
from pipelines.catalog import CATALOG, SeriesSpec
from pipelines.features import INDICATORS, indicators, regular_grid

_PERIOD_DAYS = {"monthly": 30.4, "quarterly": 91.3, "annual": 365.25}


class NotEnoughDataError(ValueError):
    """The series has too little published history for the requested backtest or forecast."""


@dataclass
class TrainingSeries:
    series_id: str
    df: pl.DataFrame  # unique_id, ds, y (regular grid, no nulls)
    bridged: list[date] = field(default_factory=list)
    X: pl.DataFrame | None = None  # unique_id, ds, <driver columns>; covers df.ds and max_h future periods
    drivers: tuple[str, ...] = ()


def min_length(cfg: TargetConfig) -> int:
    return cfg.n_windows * cfg.step_size + cfg.max_h + max(2 * cfg.spec.season_length, 8)


def _log_linear_bridge(df: pl.DataFrame) -> pl.DataFrame:
    positive = bool((df["y"].drop_nulls() > 0).all())
    if positive:
        return df.with_columns(pl.col("y").log().interpolate().exp())
    return df.with_columns(pl.col("y").interpolate())


def prepare_target(panel: pl.DataFrame, cfg: TargetConfig, *, min_len: int | None = None) -> TrainingSeries:
    """The regular training series for one target from whatever panel (full or as-of) it is given."""
    spec = cfg.spec
    s = panel.filter(pl.col("unique_id") == spec.id).select("unique_id", "ds", "y").sort("ds")
    need = min_len if min_len is not None else min_length(cfg)
    if s.height == 0:
        raise NotEnoughDataError(f"{spec.id} has no published observations in this data")
    if cfg.max_train_periods and s.height > cfg.max_train_periods:
        first = pl.select(
            pl.lit(s["ds"].max()).dt.offset_by(f"-{cfg.max_train_periods - 1}{spec.interval[1:]}")
        ).item()
        s = s.filter(pl.col("ds") >= first)
    grid = regular_grid(s.lazy(), spec.frequency).select("unique_id", "ds", "y").collect()
    missing: list[date] = grid.filter(pl.col("y").is_null())["ds"].to_list()
    bridged: list[date]
    if not missing:
        out, bridged = grid, []
    else:
        last_gap = max(missing)
        tail = grid.filter(pl.col("ds") > last_gap)
        if tail.height >= need:
            out, bridged = tail, []
        elif len(missing) <= max(1, grid.height // 50):
            out, bridged = _log_linear_bridge(grid), missing
        else:
            out, bridged = tail, []
    if out.height < need:
        raise NotEnoughDataError(
            f"{spec.id}: {out.height} usable periods, at least {need} needed "
            f"({cfg.n_windows} backtest windows of h={cfg.max_h})"
        )
    return TrainingSeries(spec.id, out, bridged)


def driver_lag_periods(driver: str, target: SeriesSpec, max_h: int) -> int:
    lag_days = CATALOG[driver].publication_lag_days if driver in CATALOG else 40
    return max_h + math.ceil(lag_days / _PERIOD_DAYS[target.frequency])


def _driver_series(panel: pl.DataFrame, driver: str) -> pl.DataFrame:
    if driver in INDICATORS:
        return indicators(panel).filter(pl.col("unique_id") == driver).select("ds", "y")
    return panel.filter(pl.col("unique_id") == driver).select("ds", "y")


def attach_drivers(ts: TrainingSeries, panel: pl.DataFrame, cfg: TargetConfig) -> TrainingSeries:
    """Add lagged drivers; trims the start so every training row has them, drops them if the future lacks them."""
    if not cfg.drivers:
        return ts
    spec = cfg.spec
    last = ts.df["ds"].max()
    future_end = pl.select(pl.lit(last).dt.offset_by(f"{cfg.max_h}{spec.interval[1:]}")).item()
    grid = pl.DataFrame({"ds": pl.date_range(ts.df["ds"].min(), future_end, spec.interval, eager=True)})  # type: ignore[arg-type]
    for d in cfg.drivers:
        k = driver_lag_periods(d, spec, cfg.max_h)
        dv = _driver_series(panel, d).with_columns(pl.col("ds").dt.offset_by(f"{k}{spec.interval[1:]}"))
        grid = grid.join(dv.rename({"y": d}), on="ds", how="left")
    grid = grid.with_columns(pl.lit(ts.series_id).alias("unique_id")).select("unique_id", "ds", *cfg.drivers)
    complete = grid.filter(pl.all_horizontal(pl.col(list(cfg.drivers)).is_not_null()))
    future = grid.filter(pl.col("ds") > last)
    if complete.height == 0 or future.select(pl.any_horizontal(pl.col(list(cfg.drivers)).is_null()).any()).item():
        return ts
    start = complete["ds"].min()
    # the training rows must be contiguous with known drivers from `start` on
    df = ts.df.filter(pl.col("ds") >= start)
    X = grid.filter(pl.col("ds") >= start)
    if X.filter(pl.col("ds") <= last).select(pl.any_horizontal(pl.col(list(cfg.drivers)).is_null()).any()).item():
        return ts
    if df.height < min_length(cfg):
        return ts
    return TrainingSeries(ts.series_id, ts.df, ts.bridged, X, cfg.drivers)
