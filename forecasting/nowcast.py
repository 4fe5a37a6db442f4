"""Nowcasting: carry a target through the months a faster-published indicator already covers.

South Korea's semiconductor exports are published on the 1st of the next month; WSTS worldwide sales
about five weeks after the month ends. On any day, the exports therefore cover one or two months that
WSTS has not published yet. A *bridge regression*, fitted on the last four years known at the origin,
maps the indicator's month-on-month log change to the target's:

    log(y_t / y_{t-1}) = a + b * log(x_t / x_{t-1})

where ``x`` is the indicator as the target measures it (a 3-month mean for a 3-month moving average such
as WSTS). Applied month by month from the last published value, it gives the nowcast of each uncovered
month; the forecasting members then continue from there. Nowcast months are forecasts: they are never
history, never scored as actuals, and every response lists them.

The indicator is read as known at the origin (``pipelines.panel.as_of``), so the nowcast cannot see a
figure published later; the evaluation replays it at every origin, so its errors are in the track record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from pipelines.catalog import SeriesSpec, get_spec
from pipelines.panel import as_of

#: months of history the bridge regression is fitted on (the newest ones known at the origin)
WINDOW = 48
#: fewest months for a bridge regression; with fewer, nothing is nowcast
MIN_MONTHS = 24


@dataclass(frozen=True)
class Nowcast:
    #: ``unique_id, ds, y``: the training series followed by its nowcast months
    extended: pl.DataFrame
    months: tuple[date, ...]
    indicator: str
    slope: float


def _indicator(panel: pl.DataFrame, indicator: str, target: SeriesSpec) -> pl.DataFrame:
    x = panel.filter(pl.col("unique_id") == indicator).select("ds", pl.col("y").alias("x")).sort("ds")
    if target.annual_agg == "quarter_end_3mma_x3":  # the target is a 3-month moving average: compare like with like
        x = x.with_columns(pl.col("x").rolling_mean(3)).drop_nulls()
    return x


def bridge(df: pl.DataFrame, panel: pl.DataFrame, when: date, target: SeriesSpec, indicator: str) -> Nowcast:
    """Extend ``df`` (unique_id, ds, y; regular monthly grid) with the months ``indicator`` covers at ``when``."""
    spec = get_spec(indicator)
    if target.frequency != "monthly" or spec.frequency != "monthly":
        raise ValueError("bridge nowcasts need a monthly target and a monthly indicator")
    x = _indicator(as_of(panel, when), indicator, target)
    last = df["ds"].max()
    assert isinstance(last, date)
    j = (df.select("ds", "y").join(x, on="ds", how="full", coalesce=True).sort("ds")
         .with_columns(pl.col("y").log().diff().alias("dy"), pl.col("x").log().diff().alias("dx")))
    fit = j.filter(pl.col("ds") <= last).drop_nulls(["dy", "dx"]).tail(WINDOW)
    ahead = j.filter(pl.col("ds") > last).drop_nulls("dx")
    if fit.height < MIN_MONTHS or ahead.height == 0:
        return Nowcast(df, (), indicator, float("nan"))
    b, a = np.polyfit(fit["dx"].to_numpy(), fit["dy"].to_numpy(), 1)
    level = float(df.filter(pl.col("ds") == last)["y"][0])
    months: list[date] = []
    values: list[float] = []
    expected = target.frequency.offset(last, 1)
    for d, dx in ahead.select("ds", "dx").iter_rows():
        if d != expected:  # a gap in the indicator ends the nowcast
            break
        level *= float(np.exp(a + b * dx))
        months.append(d)
        values.append(level)
        expected = target.frequency.offset(d, 1)
    if not months:
        return Nowcast(df, (), indicator, float(b))
    ext = pl.DataFrame({"unique_id": [df["unique_id"][0]] * len(months), "ds": months, "y": values},
                       schema=df.schema)
    return Nowcast(pl.concat([df, ext]), tuple(months), indicator, float(b))
