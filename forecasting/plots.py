"""Fan charts: the picture people look at before they read a table.

One chart for every series (HBM included): published history with gaps left as gaps, a marker on the
last actual, the point forecast with its 80/95% bands, and a footnote with the source and the data date.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

import matplotlib

matplotlib.use("Agg")
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import polars as pl
from matplotlib.ticker import FuncFormatter, MaxNLocator

from forecasting.result import POINT
from pipelines.catalog import Frequency

if TYPE_CHECKING:
    from forecasting.artifact import SeriesModel

INK = "#1f2937"
FC = "#2563eb"
MUTED = "#6b7280"


def _thousands(x: float, _pos: int) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}" if abs(x) >= 1 else f"{x:,.2f}"


def fan_chart_png(
    history: pl.DataFrame,
    forecast: pl.DataFrame,
    *,
    title: str,
    unit: str,
    frequency: Frequency | str = Frequency.MONTHLY,
    last_actual: date | None = None,
    footnote: str | None = None,
    nonnegative: bool = True,
    history_periods: int = 60,
    estimates: Sequence[tuple[int, float, str]] = (),
) -> bytes:
    """History (``ds, y``), the forecast (``ds, forecast, forecast-lo-<l>, forecast-hi-<l>``) and its bands.

    Missing periods inside the history are drawn as breaks in the line, never bridged. ``estimates``
    (year, value, by) are dated calibration points (HBM), drawn as markers.
    """
    freq = Frequency(frequency)
    hist = history.sort("ds").tail(history_periods)
    if hist.height > 1:
        lo_ds, hi_ds = hist["ds"].min(), hist["ds"].max()
        assert isinstance(lo_ds, date) and isinstance(hi_ds, date)
        grid = pl.DataFrame({"ds": pl.date_range(lo_ds, hi_ds, freq.interval, eager=True)})
        hist = grid.join(hist, on="ds", how="left")
    fig, ax = plt.subplots(figsize=(9, 4.4), dpi=100)
    try:
        if hist.height:
            ax.plot(hist["ds"].to_list(), [float("nan") if v is None else v for v in hist["y"].to_list()],
                    color=INK, lw=1.6, label="published")
        x = forecast["ds"].to_list()
        for level, alpha in ((95, 0.18), (80, 0.32)):
            lo, hi = f"{POINT}-lo-{level}", f"{POINT}-hi-{level}"
            if lo in forecast.columns and hi in forecast.columns:
                ax.fill_between(x, forecast[lo].to_list(), forecast[hi].to_list(), color=FC, alpha=alpha, lw=0,
                                label=f"{level}% interval")
        ax.plot(x, forecast[POINT].to_list(), color=FC, lw=1.8, marker="o" if len(x) < 6 else None,
                label="forecast")
        if last_actual is not None and hist.height:
            marker = hist.drop_nulls("y").filter(pl.col("ds") <= last_actual).tail(1)
            if marker.height:
                when, value = marker.row(0)
                ax.axvline(when, color=MUTED, lw=0.8, ls="--")
                ax.plot([when], [value], "o", color=INK, ms=4)
                ax.annotate(f"last actual {when:%Y-%m}", (when, value), textcoords="offset points", xytext=(-6, 8),
                            ha="right", fontsize=7, color=MUTED)
        if estimates:
            when = [date(e[0], 1, 1) for e in estimates]
            ax.scatter(when, [e[1] for e in estimates], marker="D", s=26,  # type: ignore[arg-type]
                       color=INK, zorder=3, label="dated estimates (calibration)")
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
        ax.yaxis.set_major_formatter(FuncFormatter(_thousands))
        if nonnegative:
            ax.set_ylim(bottom=0)
        ax.set_title(title, fontsize=11)
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        fig.autofmt_xdate()
        if footnote:
            fig.text(0.01, 0.01, footnote, fontsize=7, color=MUTED, ha="left", va="bottom")
        fig.tight_layout(rect=(0, 0.04 if footnote else 0, 1, 1))
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)


def series_fan_chart(sm: SeriesModel, h: int | None = None, version: str | None = None,
                     estimates: Sequence[tuple[int, float, str]] = ()) -> bytes:
    """The fan chart of a served series at its default horizon, with source and data date in the footnote."""
    res = sm.result(h)
    data = sm.data
    parts = [f"Source: {sm.spec.source}"[:110]]
    if data.last_observation:
        parts.append(f"last actual {data.last_observation:%Y-%m} (published {data.last_published})")
    if data.as_of:
        parts.append(f"data as of {data.as_of}")
    if version:
        parts.append(f"model v{version}")
    return fan_chart_png(sm.history, res.frame, title=f"{sm.spec.name} — {sm.method.name}", unit=sm.spec.unit,
                         frequency=sm.frequency, last_actual=data.last_observation, footnote=" · ".join(parts),
                         nonnegative=sm.spec.nonnegative, estimates=estimates)
