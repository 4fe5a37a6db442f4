"""Fan charts: the picture people look at before they read a table."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import polars as pl


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
        ax.plot(hist["ds"].to_list(), hist["y"].to_list(), color="#1f2937", lw=1.6, label="published")
        x = forecast["ds"].to_list()
        for level, alpha in ((95, 0.18), (80, 0.32)):
            lo, hi = f"{model}-lo-{level}", f"{model}-hi-{level}"
            if lo in forecast.columns and hi in forecast.columns:
                ax.fill_between(x, forecast[lo].to_list(), forecast[hi].to_list(), color="#2563eb", alpha=alpha,
                                lw=0, label=f"{level}% interval")
        ax.plot(x, forecast[model].to_list(), color="#2563eb", lw=1.8, label=f"forecast ({model})")
        ax.set_title(title, fontsize=11)
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        fig.autofmt_xdate()
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)
