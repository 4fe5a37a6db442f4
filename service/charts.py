"""Charts the forecasting layer does not draw: the yearly fan of a modelled (never published) series.

Like ``forecasting.plots`` this draws with matplotlib's Agg backend into PNG bytes; the caller caches the
bytes per model version (``ChartCache``), which also serialises drawing.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

INK = "#1f2937"
FC = "#2563eb"


def yearly_fan_png(
    rows: Sequence[dict[str, Any]],
    *,
    title: str,
    unit: str,
    estimates: Sequence[tuple[int, float, str]] = (),
) -> bytes:
    """Median per year with 95% and 80% interval bars; ``estimates`` (year, value, by) drawn as markers.

    ``rows`` use the forecasting layer's yearly keys: ``year``, ``value``, ``lo-80``, ``hi-80``, ``lo-95``,
    ``hi-95``.
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
        ax.set_title(title, fontsize=11)
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3, axis="y")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()
    finally:
        plt.close(fig)
