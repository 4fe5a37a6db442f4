"""Fan charts: the picture people look at before they read a table."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

INK = "#1f2937"
FC = "#2563eb"


def _finish_png(fig: Figure, ax: Axes, title: str, unit: str) -> bytes:
    """Title, axis label, grid and legend the same way for every chart; returns PNG bytes."""
    ax.set_title(title, fontsize=11)
    ax.set_ylabel(unit)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def fan_chart_png(
    history: pl.DataFrame,
    forecast: pl.DataFrame,
    model: str,
    *,
    title: str,
    unit: str,
    history_periods: int = 60,
) -> bytes:
    """History, point forecast and 80/95% bands as PNG bytes (history: ds, y; forecast: Nixtla columns)."""
    hist = history.sort("ds").tail(history_periods)
    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=100)
    try:
        ax.plot(hist["ds"].to_list(), hist["y"].to_list(), color=INK, lw=1.6, label="published")
        x = forecast["ds"].to_list()
        for level, alpha in ((95, 0.18), (80, 0.32)):
            lo, hi = f"{model}-lo-{level}", f"{model}-hi-{level}"
            if lo in forecast.columns and hi in forecast.columns:
                ax.fill_between(x, forecast[lo].to_list(), forecast[hi].to_list(), color=FC, alpha=alpha,
                                lw=0, label=f"{level}% interval")
        ax.plot(x, forecast[model].to_list(), color=FC, lw=1.8, label=f"forecast ({model})")
        fig.autofmt_xdate()
        return _finish_png(fig, ax, title, unit)
    finally:
        plt.close(fig)


def yearly_fan_png(
    rows: Sequence[dict[str, Any]],
    *,
    title: str,
    unit: str,
    estimates: Sequence[tuple[int, float, str]] = (),
) -> bytes:
    """Median per year with 95% and 80% interval bars, for a modelled series with no published history
    (HBM); ``estimates`` (year, value, by) are the dated calibration points, drawn as markers.

    ``rows`` use the yearly keys ``year``, ``value``, ``lo-80``, ``hi-80``, ``lo-95``, ``hi-95``.
    """
    fig, ax = plt.subplots(figsize=(9, 4.2), dpi=100)
    try:
        years = [int(r["year"]) for r in rows]
        for level, width, alpha in ((95, 0.36, 0.18), (80, 0.22, 0.40)):
            lo = [float(r[f"lo-{level}"]) for r in rows]
            hi = [float(r[f"hi-{level}"]) for r in rows]
            ax.bar(years, [h - low for low, h in zip(lo, hi, strict=True)], bottom=lo, width=width, color=FC,
                   alpha=alpha, lw=0, label=f"{level}% interval")
        ax.plot(years, [float(r["value"]) for r in rows], "o-", color=FC, lw=1.8, label="median (modelled)")
        if estimates:
            ax.scatter([e[0] for e in estimates], [e[1] for e in estimates], marker="D", s=28, color=INK, zorder=3,
                       label="dated market-size estimates (calibration)")
            for year, value, by in estimates:
                ax.annotate(by, (year, value), textcoords="offset points", xytext=(6, -3), fontsize=7, color=INK)
        all_years = sorted({*years, *(e[0] for e in estimates)})
        if all_years:
            ax.set_xticks(all_years, [str(y) for y in all_years])
            ax.set_xlim(min(all_years) - 0.6, max(all_years) + 0.6)
        ax.set_ylim(bottom=0)
        return _finish_png(fig, ax, title, unit)
    finally:
        plt.close(fig)
