"""The validated panel: snapshot + local store + derived totals, and the as-of view over it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from pipelines.catalog import CATALOG, SeriesSpec, get_spec
from pipelines.sources import (
    PANEL_SCHEMA,
    empty_panel,
    find_gaps,
    finish_series,
    load_snapshot_series,
    sum_of_parts,
)
from pipelines.store import LocalStore


def _overlay(spec: SeriesSpec, snapshot: pl.DataFrame, store: LocalStore | None) -> pl.DataFrame:
    """Newest ingested values replace the snapshot's for the same period; new periods are appended."""
    if store is None:
        return snapshot
    latest = store.latest(spec.id)
    if latest.height == 0:
        return snapshot
    ingested = finish_series(
        latest.lazy().select(
            "ds", "y", pl.lit(None, dtype=pl.Date).alias("period_end_raw")
        ),
        spec,
    ).collect()
    return pl.concat([snapshot.join(ingested.select("ds"), on="ds", how="anti"), ingested]).sort("ds")


def load_panel(
    ids: Iterable[str] | None = None,
    *,
    data_dir: Path,
    store: LocalStore | None = None,
    vintages: bool = False,
) -> pl.DataFrame:
    """Long panel for ``ids`` (default: every catalog series), validated, gaps left as missing rows."""
    wanted = list(CATALOG) if ids is None else [get_spec(i).id for i in ids]
    needed: list[str] = []
    for sid in wanted:
        for dep in (*get_spec(sid).parts, sid):
            if dep not in needed:
                needed.append(dep)
    loaded: dict[str, pl.DataFrame] = {}
    for sid in needed:
        spec = get_spec(sid)
        if spec.is_derived:
            loaded[sid] = sum_of_parts(spec, {p: loaded[p] for p in spec.parts})
        else:
            loaded[sid] = _overlay(spec, load_snapshot_series(spec, data_dir), store)
    frames = [loaded[s] for s in wanted]
    if not frames:
        return empty_panel()
    return pl.concat(frames).select(list(PANEL_SCHEMA))


def as_of(panel: pl.DataFrame, when: date) -> pl.DataFrame:
    """Only the figures that had been published by ``when`` (period end + publication lag <= when).

    Values are the latest vintage the snapshot holds; revisions published later are not unwound, which
    the README states wherever backtests are reported.
    """
    return panel.filter(pl.col("published") <= when)


def data_fingerprint(data_dir: Path, store: LocalStore | None = None) -> str:
    """A hash of every raw file and store file, so a model run can name the exact data it saw."""
    h = hashlib.sha256()
    files = sorted({(data_dir / s.file) for s in CATALOG.values() if s.file})
    if store is not None and store.root.exists():
        files += sorted(store.root.glob("*.parquet"))
    for f in files:
        h.update(str(f.name).encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def data_vintage(panel: pl.DataFrame) -> date | None:
    """The newest publication date in the panel: nothing later can have informed a model."""
    v = panel["published"].max()
    return v if isinstance(v, date) else None


@dataclass(frozen=True)
class SeriesSummary:
    spec: SeriesSpec
    observations: int
    first: date | None
    last: date | None
    last_value: float | None
    gaps: list[date]
    last_published: date | None
    next_expected: date | None

    def staleness_days(self, today: date) -> int | None:
        """Days past the date the next figure would normally have been published (0 if not yet due)."""
        if self.next_expected is None:
            return None
        return max(0, (today - self.next_expected).days)


def summarise(panel: pl.DataFrame, spec: SeriesSpec) -> SeriesSummary:
    s = panel.filter(pl.col("unique_id") == spec.id).sort("ds")
    if s.height == 0:
        return SeriesSummary(spec, 0, None, None, None, [], None, None)
    last = s.row(-1, named=True)
    next_end = pl.select(
        pl.lit(last["ds"]).dt.offset_by(spec.interval).dt.offset_by(spec.interval).dt.offset_by("-1d")
    ).item()
    next_expected = pl.select(pl.lit(next_end).dt.offset_by(f"{spec.publication_lag_days}d")).item()
    return SeriesSummary(
        spec=spec,
        observations=s.height,
        first=s["ds"].min(),  # type: ignore[arg-type]
        last=last["ds"],
        last_value=last["y"],
        gaps=find_gaps(spec, s),
        last_published=last["published"],
        next_expected=next_expected,
    )
