"""Turn an (as-of) panel into what models fit: one regular series per target, on its working scale.

Two honest rules live here:

* **Gaps.** Models need a regular grid (``utilsforecast.preprocessing.fill_gaps``). A few isolated missing
  periods (at most one in fifty, such as the one WSTS month) are bridged *for fitting only* by log-linear
  interpolation between their published neighbours; a series with more gaps, or two in a row, is fitted on
  the stretch after its last gap. Bridged periods are listed in every result, never scored as actuals and
  never returned as history.
* **Scale.** Positive series are modelled in logs (growth is multiplicative, and forecasts and interval
  bounds stay positive); series that can be zero or negative stay on their own scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import pairwise

import polars as pl
from utilsforecast.preprocessing import fill_gaps

from forecasting.targets import TargetConfig


class NotEnoughDataError(ValueError):
    """The series has too little published history for the requested backtest or forecast."""


@dataclass(frozen=True)
class TrainingSeries:
    """One target's history as known at an origin, on a regular grid (bridged periods filled)."""

    series_id: str
    #: unique_id, ds, y on the series' own scale; no nulls
    df: pl.DataFrame
    bridged: tuple[date, ...] = ()

    @property
    def cutoff(self) -> date:
        last = self.df["ds"].max()
        assert isinstance(last, date)
        return last

    @property
    def n(self) -> int:
        return self.df.height

    def observed(self) -> pl.DataFrame:
        """The published values only (bridged periods removed): what may be scored or shown."""
        return self.df.filter(~pl.col("ds").is_in(list(self.bridged))) if self.bridged else self.df

    def working(self, log: bool) -> pl.DataFrame:
        """``unique_id, ds, y`` on the working scale models see."""
        return self.df.with_columns(pl.col("y").log()) if log else self.df


def _bridge(df: pl.DataFrame) -> pl.DataFrame:
    if bool((df["y"].drop_nulls() > 0).all()):
        return df.with_columns(pl.col("y").log().interpolate().exp())
    return df.with_columns(pl.col("y").interpolate())


def training_series(panel: pl.DataFrame, cfg: TargetConfig, min_len: int | None = None) -> TrainingSeries:
    """The regular training series for one target from whatever (full or as-of) panel it is given."""
    spec = cfg.spec
    need = cfg.min_train if min_len is None else min_len
    s = panel.filter(pl.col("unique_id") == spec.id).select("unique_id", "ds", "y").sort("ds")
    if s.height == 0:
        raise NotEnoughDataError(f"{spec.id} has no published observations in this data")
    if cfg.max_train_periods and s.height > cfg.max_train_periods:
        first = spec.frequency.offset(s["ds"].max(), 1 - cfg.max_train_periods)  # type: ignore[arg-type]
        s = s.filter(pl.col("ds") >= first)
    grid = fill_gaps(s, freq=spec.frequency.interval)
    missing: list[date] = grid.filter(pl.col("y").is_null())["ds"].to_list()
    bridged: list[date] = []
    if not missing:
        out = grid
    else:
        # a few isolated gaps are bridged for fitting (so the history is not cut at the last gap the day the
        # stretch after it grows long enough); many gaps, or two in a row, leave the gap-free tail after them
        isolated = all(spec.frequency.offset(a, 1) != b for a, b in pairwise(missing))
        if isolated and len(missing) <= max(1, grid.height // 50):
            out, bridged = _bridge(grid), missing
        else:
            out = grid.filter(pl.col("ds") > max(missing))
    if out.height < need:
        raise NotEnoughDataError(
            f"{spec.id}: {out.height} usable periods in this data, at least {need} needed "
            f"(three years to fit seasonal models)"
        )
    return TrainingSeries(spec.id, out.select("unique_id", "ds", "y"), tuple(bridged))


def log_scale(ts: TrainingSeries, cfg: TargetConfig) -> bool:
    """Model in logs when the series is non-negative by definition and every value is positive."""
    return cfg.spec.nonnegative and bool((ts.df["y"] > 0).all())
