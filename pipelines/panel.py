"""The validated panel: snapshot + local store + derived totals, its vintages, and the as-of view over it.

Two frames, one schema (``unique_id, ds, y, period_end, published``):

* the **default** frame (``load_panel()``): one row per (series, period); ``y`` is the latest print and
  ``published`` the date the period FIRST became public. Every existing caller gets this.
* the **vintage** frame (``load_panel(vintages=True)``): one row per print; ``published`` is the date that
  print became public, so a revised period has several rows. Series whose raw files hold only the latest
  value (catalog ``vintages="latest"``) have one row per period here too, plus one row per revision
  ingested into the local store, dated by its ingestion day.

:func:`as_of` filters ``published <= when`` and keeps the newest remaining print per period: on the vintage
frame that is each value *as it was known on that day*; on the default frame it is today's latest values
restricted to periods already public (revisions cannot be unwound there). :func:`latest` turns a vintage
frame into the default one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from pipelines.catalog import CATALOG, SeriesSpec, get_spec
from pipelines.sources import (
    FLAG_INGESTED,
    PANEL_SCHEMA,
    PRINTS_SCHEMA,
    empty_panel,
    find_gaps,
    latest,
    load_snapshot_prints,
    sum_of_parts,
)
from pipelines.store import LocalStore

__all__ = [
    "SeriesStatus",
    "SeriesSummary",
    "as_of",
    "latest",
    "load_panel",
    "series_status",
    "summarise",
]


def _store_prints(spec: SeriesSpec, store: LocalStore, snapshot: pl.DataFrame) -> pl.DataFrame:
    """Ingested versions as prints: a period's first ever value is dated at its nominal publication, any
    later one (a revision, or a value for a period the snapshot already had) at its ingestion day."""
    versions = store.versions(spec.id)
    if versions.height == 0:
        return pl.DataFrame(schema=PRINTS_SCHEMA)
    # a fiscal series' rows carry their own period end. Rows ingested before the column existed have none: the
    # calendar quarter's end can be weeks before the fiscal one (NVIDIA), so such a row is never dated before
    # the day it was ingested
    # (a revision of a snapshot period takes the snapshot's end)
    snapshot_end = snapshot.select("ds", pl.col("period_end").alias("snapshot_end")).unique("ds", keep="last")
    period_end = pl.coalesce(pl.col("period_end"), pl.col("snapshot_end"), spec.period_end_expr())
    nominal = period_end.dt.offset_by(f"{spec.publication_lag_days}d")
    undated = pl.col("period_end").is_null() & pl.col("snapshot_end").is_null() & pl.lit(spec.fiscal_periods)
    first_in_store = (pl.int_range(pl.len()).over("ds") == 0) & ~undated
    in_snapshot = pl.col("ds").is_in(snapshot["ds"].unique().implode())
    ingested = pl.col("ingested_at").dt.date()
    return (
        versions.lazy()
        .join(snapshot_end.lazy(), on="ds", how="left")
        .sort("ingested_at", maintain_order=True)
        .with_columns(
            pl.lit(spec.id).alias("unique_id"),
            period_end.alias("period_end"),
            pl.when(first_in_store & ~in_snapshot)
            .then(nominal)
            .otherwise(pl.max_horizontal(ingested, nominal))
            .alias("published"),
            pl.lit([FLAG_INGESTED], dtype=pl.List(pl.String)).alias("flags"),
            pl.lit(None, dtype=pl.Float64).alias("y_low"),
            pl.lit(None, dtype=pl.Float64).alias("y_high"),
        )
        .select(list(PRINTS_SCHEMA))
        .collect()
    )


def _series_prints(spec: SeriesSpec, data_dir: Path, store: LocalStore | None) -> pl.DataFrame:
    """All prints of one non-derived series, ordered by (ds, published); store rows after snapshot ones."""
    snapshot = load_snapshot_prints(spec, data_dir)
    if store is None:
        return snapshot
    ingested = _store_prints(spec, store, snapshot)
    if ingested.height == 0:
        return snapshot
    return pl.concat([snapshot, ingested]).sort("ds", "published", maintain_order=True)


def load_panel(
    ids: Iterable[str] | None = None,
    *,
    data_dir: Path,
    store: LocalStore | None = None,
    vintages: bool = False,
    detail: bool = False,
) -> pl.DataFrame:
    """Long panel for ``ids`` (default: every catalog series), validated, gaps left as missing rows.

    ``vintages=False``: one row per (unique_id, ds), latest value, first publication date.
    ``vintages=True``: one row per print (see the module docstring).
    ``detail=True`` adds ``flags`` (list of per-observation markers such as ``SECONDARY``, ``ROUNDED``,
    ``INGESTED``) and ``y_low``/``y_high`` (a printed range, whose midpoint ``y`` is; else null).
    Low-confidence rows are never returned (see :func:`pipelines.sources.excluded_prints`).
    """
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
            loaded[sid] = _series_prints(spec, data_dir, store)
    columns = list(PRINTS_SCHEMA if detail else PANEL_SCHEMA)
    frames = [loaded[s].select(columns) for s in wanted]
    if not frames:
        return empty_panel(detail)
    prints = pl.concat(frames)
    return prints if vintages else latest(prints)


def as_of(panel: pl.DataFrame, when: date) -> pl.DataFrame:
    """The panel as it could be known on ``when``: prints with ``published <= when``, newest per period.

    On the vintage frame this undoes later revisions (the value as printed then); on the default frame
    it only removes periods not yet public. Rows keep their order; ties on ``published`` keep the later
    row. Works on any frame with ``unique_id``, ``ds`` and ``published`` columns.
    """
    return (
        panel.lazy()
        .with_row_index("_row")
        .filter(pl.col("published") <= when)
        .sort("published", maintain_order=True)
        .unique(subset=["unique_id", "ds"], keep="last", maintain_order=True)
        .sort("_row")
        .drop("_row")
        .collect()
    )


# ------------------------------------------------------------------------------------------ freshness


@dataclass(frozen=True)
class SeriesStatus:
    """How fresh one series is on ``today``; the API and CLI attach this to every answer about a series.

    ``last_observation`` is the start of the newest published period, ``last_published`` the day that
    period first became public, ``next_expected_release`` the day the following period's figure is
    normally public (its period end + the publication lag; a fiscal period end moves by one period) and
    ``staleness_days`` how many days past that day ``today`` is (0 if it is not due yet).
    """

    series_id: str
    last_observation: date | None
    last_published: date | None
    next_expected_release: date | None
    staleness_days: int | None


def _next_expected(spec: SeriesSpec, last_ds: date, last_period_end: date) -> date:
    nxt = spec.frequency.offset(last_ds, 1)
    if last_period_end == spec.nominal_period_end(last_ds):
        end = spec.nominal_period_end(nxt)
    else:  # a fiscal period end (Oracle, NVIDIA, Micron): the next one is one period later
        end = pl.select(pl.lit(last_period_end).dt.offset_by(spec.interval)).item()
    return end + timedelta(days=spec.publication_lag_days)


def series_status(panel: pl.DataFrame, spec: SeriesSpec, today: date) -> SeriesStatus:
    """Freshness of ``spec`` in ``panel`` (default or vintage frame) on ``today``."""
    s = latest(panel.filter(pl.col("unique_id") == spec.id)).sort("ds")
    if s.height == 0:
        return SeriesStatus(spec.id, None, None, None, None)
    last = s.row(-1, named=True)
    nxt = _next_expected(spec, last["ds"], last["period_end"])
    return SeriesStatus(spec.id, last["ds"], last["published"], nxt, max(0, (today - nxt).days))


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
    """Coverage of one series in ``panel`` (default or vintage frame: prints are collapsed first)."""
    s = latest(panel.filter(pl.col("unique_id") == spec.id)).sort("ds")
    if s.height == 0:
        return SeriesSummary(spec, 0, None, None, None, [], None, None)
    last = s.row(-1, named=True)
    return SeriesSummary(
        spec=spec,
        observations=s.height,
        first=s["ds"].min(),  # type: ignore[arg-type]
        last=last["ds"],
        last_value=last["y"],
        gaps=find_gaps(spec, s),
        last_published=last["published"],
        next_expected=_next_expected(spec, last["ds"], last["period_end"]),
    )
