"""A local, append-only store of new observations layered over the immutable snapshot.

Each series has one parquet file holding every version ever ingested (``ds``, ``y``, ``previous_y``,
``ingested_at``, ``source``). The newest version of a period wins; older versions stay, so a revision never
loses the value it replaced, and the vintage panel shows each ingested revision as a later print dated by
its ingestion day. Writes go to a temporary file that is renamed over the old one under a per-series lock,
so readers see either the old or the new file and concurrent ingests serialise. Store files get the same
permissions as any file the user creates (0666 minus the umask), not ``mkstemp``'s private 0600.

Ingest questions what it is given before anything is written (every refusal names the file, the line
and the values, and nothing is written):

* **Not published yet.** A period whose nominal publication date (period end + the catalog's publication
  lag) is after today cannot have been published; refusing it catches typos like 2100-12-01. A series on a
  fiscal calendar (``fiscal_periods``: NVIDIA, Micron, Oracle) is filed under a calendar quarter its fiscal
  quarter does not match, so its file carries a third column ``period_end`` and the lag counts from that.
* **Magnitude.** ``|value|`` above 1000 x the largest absolute value the series has ever published is
  refused outright (a unit or exponent slip such as ``1e308``; no flag overrides it).
* **Jumps.** Against the previous available period, a change beyond the series' robust limit is refused
  unless ``accept_outliers``. For a non-negative series (sales, capex, prices, rates) with both values
  positive the change is ``|ln(new / previous)|`` and the limit is ``max(ln 1.5, 6 x MAD)`` of the series'
  historical one-period log changes, times ``sqrt(periods apart)`` across a gap (the MAD is used only with
  8+ historical changes, else the floor). For a series that can be negative (operating profit, a % change),
  or around zero, the change is ``|new - previous|`` against ``max(0.5 x median |value|, 6 x MAD)`` of its
  historical one-period differences (ratios of values that can cross zero mean nothing). The rule is a
  guard against slips (units, decimals, wrong row), not a forecast: on the snapshot it would have asked for
  confirmation of NVIDIA's 2023 data-center jump and the 2026 memory surge, which is what a person should
  confirm.
* **Revisions.** Replacing a value by one more than 20% away (``|new - old| > 0.2 x |old|``) is refused
  unless ``accept_revisions``.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from pipelines.catalog import SeriesSpec, get_spec
from pipelines.errors import DataValidationError, StoreError, first_line
from pipelines.sources import (
    _FIRST_LINE,
    load_snapshot_series,
    raise_first_problem,
    read_header,
    validate_raw,
)

STORE_SCHEMA: dict[str, pl.DataType] = {
    "ds": pl.Date(),
    "y": pl.Float64(),
    "previous_y": pl.Float64(),
    "ingested_at": pl.Datetime("us", "UTC"),
    "source": pl.String(),
    #: the fiscal period end of a ``fiscal_periods`` series (null: the calendar period end); files written
    #: before the column existed read as null
    "period_end": pl.Date(),
}

#: refuse values above this multiple of the largest absolute value a series has published
MAGNITUDE_FACTOR = 1000.0
#: a robust jump limit is JUMP_K x MAD of historical one-period changes, never below the floors
JUMP_K = 6.0
JUMP_FLOOR_LOG = math.log(1.5)
JUMP_FLOOR_REL = 0.5
#: fewer historical changes than this: the MAD is not trusted and the floor alone applies
MIN_CHANGES_FOR_MAD = 8
#: largest accepted revision without ``accept_revisions``, relative to the current value
REVISION_BOUND = 0.2
#: a fiscal period end may sit this many days from where the series' own calendar puts it
FISCAL_END_TOLERANCE_DAYS = 10


@dataclass(frozen=True)
class IngestReport:
    series_id: str
    added: int
    revised: int
    unchanged: int
    path: Path


def _io_reason(exc: BaseException) -> str:
    """A plain reason for an I/O failure, whether Python (OSError) or polars (ComputeError) raised it."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    match = re.search(r"os error (\d+)", str(exc))
    if match:
        return os.strerror(int(match.group(1)))
    return first_line(exc) or type(exc).__name__


def _open_temp(path: Path) -> tuple[int, Path]:
    """A new temp file beside ``path``, created with mode 0666 so the umask applies as for any file."""
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp


def atomic_write_parquet(df: pl.DataFrame, path: Path) -> None:
    """Write then rename, so a crash or a full disk never leaves a half-written file behind.

    Any disk error (polars reports a full disk as ``ComputeError``, Python as ``OSError``) becomes a
    :class:`StoreError` saying nothing was changed; the temp file is removed.
    """
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = _open_temp(path)
        with os.fdopen(fd, "wb") as fh:
            df.write_parquet(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise StoreError(f"could not write {path}: {_io_reason(exc)}; nothing was changed") from exc
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise


class LocalStore:
    """Versioned observations per series under ``root`` (normally ``<state_dir>/store``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, series_id: str) -> Path:
        return self.root / f"{series_id}.parquet"

    @contextlib.contextmanager
    def lock(self, series_id: str) -> Iterator[None]:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fh = (self.root / f".{series_id}.lock").open("a")
        except OSError as exc:
            raise StoreError(
                f"cannot open the store at {self.root}: {_io_reason(exc)}; nothing was changed"
            ) from exc
        with fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def versions(self, series_id: str) -> pl.DataFrame:
        """Every ingested version of every period, oldest first."""
        p = self.path(series_id)
        if not p.exists():
            return pl.DataFrame(schema=STORE_SCHEMA)
        try:
            df = pl.read_parquet(p)
        except (pl.exceptions.PolarsError, OSError) as exc:  # a damaged file: say which, never a traceback
            raise StoreError(f"the store file {p} cannot be read ({type(exc).__name__}: {first_line(exc, 200)}); "
                             "nothing was changed. Restore it from a backup, or move it aside to use the embedded "
                             f"data for {series_id} (its ingested values are then not used)") from exc
        missing = [pl.lit(None, dtype=t).alias(c) for c, t in STORE_SCHEMA.items() if c not in df.columns]
        return df.with_columns(missing).select(list(STORE_SCHEMA)).sort("ingested_at", "ds")

    def latest(self, series_id: str) -> pl.DataFrame:
        """The newest ingested value of each period."""
        return self.versions(series_id).group_by("ds").agg(pl.all().last()).sort("ds")

    def revisions(self, series_id: str) -> pl.DataFrame:
        """Ingested rows that replaced an earlier value, with the value they replaced."""
        return self.versions(series_id).filter(pl.col("previous_y").is_not_null())


def _read_checked(path: Path, spec: SeriesSpec, max_bytes: int) -> pl.DataFrame:
    """``line``, ``ds``, ``y``, ``period_end`` of a validated ``date,value[,period_end]`` CSV; raises with file
    and line. ``period_end`` is required for a ``fiscal_periods`` series (null otherwise): its date says which
    calendar period the figure is filed under, only the period end says when it could have been published."""
    name = str(path)
    if not path.is_file():
        raise DataValidationError(name, None, "file not found")
    size = path.stat().st_size
    if size == 0:
        raise DataValidationError(name, None, "file is empty")
    if size > max_bytes:
        raise DataValidationError(name, None, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
    try:
        header = read_header(path)
    except UnicodeDecodeError:
        raise DataValidationError(name, 1, "file is not UTF-8 text") from None
    expected = ["date", "value", "period_end"] if spec.fiscal_periods else ["date", "value"]
    if header != expected:
        if spec.fiscal_periods and header == ["date", "value"]:
            raise DataValidationError(
                name, 1, f"{spec.id} reports fiscal periods ({spec.fiscal_calendar}): add a third column "
                "period_end with the last day of each fiscal period (YYYY-MM-DD); the figure's publication date "
                "is counted from it")
        raise DataValidationError(name, 1, f"columns are {header}; expected exactly {expected}")
    fiscal_end = pl.col("period_end") if spec.fiscal_periods else pl.lit(None, dtype=pl.String)
    try:
        lf = (
            pl.scan_csv(path, infer_schema=False)
            .with_row_index("line", offset=_FIRST_LINE)
            .select(
                pl.col("line").cast(pl.Int64),
                pl.lit(name).alias("file"),
                pl.col("date").alias("date_raw"),
                pl.col("value").alias("value_raw"),
                fiscal_end.alias("period_end_text"),
            )
        )
        checked = _check_period_end(validate_raw(lf, spec, allow_blank_values=False), spec).collect()
    except pl.exceptions.PolarsError as exc:
        raise DataValidationError(name, None, f"not a readable CSV: {first_line(exc)}") from None
    if checked.height == 0:
        raise DataValidationError(name, None, "file has a header but no data rows")
    raise_first_problem(checked)
    _check_frequency(checked, spec, name)
    return checked.select("line", "ds", "y", "period_end")


def _check_period_end(lf: pl.LazyFrame, spec: SeriesSpec) -> pl.LazyFrame:
    """Parse ``period_end_text`` and add its problems to rows that have none yet.

    A fiscal period is filed under a calendar period that holds its end or overlaps it most (NVIDIA's quarter
    ending in late July is dated April), so its end lies after the dated period's first day and no later than
    the end of the following period; anything else is a slip (a wrong year, the period's start typed twice).
    """
    if not spec.fiscal_periods:
        return lf.with_columns(pl.lit(None, dtype=pl.Date).alias("period_end"))
    text = pl.col("period_end_text").str.strip_chars()
    end = text.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    latest = pl.col("ds").dt.offset_by(spec.interval).dt.offset_by(spec.interval).dt.offset_by("-1d")
    problem = (
        pl.when(pl.col("problem").is_not_null()).then(pl.col("problem"))
        .when(end.is_null())
        .then(pl.format("period_end '{}' is not an ISO date (YYYY-MM-DD)", text.fill_null("")))
        .when((end <= pl.col("ds")) | (end > latest))
        .then(pl.format("period_end {} cannot end the {} period dated {}: its end lies after {}, by {}",
                        text, pl.lit(spec.frequency), pl.col("ds"), pl.col("ds"), latest))
    )
    return lf.with_columns(end.alias("period_end"), problem.alias("problem"))


def _known_ends(snapshot: pl.DataFrame, stored: pl.DataFrame) -> pl.DataFrame:
    """``ds, period_end`` as recorded now: the store's newest end over the snapshot's (rows without one skipped)."""
    return (
        pl.concat([snapshot.select("ds", "period_end"), stored.select("ds", "period_end")])
        .filter(pl.col("period_end").is_not_null())
        .unique("ds", keep="last", maintain_order=True)
    )


def _check_fiscal_ends(new: pl.DataFrame, known: pl.DataFrame, spec: SeriesSpec, name: str) -> None:
    """A fiscal period end must fit the series' own calendar: within ``FISCAL_END_TOLERANCE_DAYS`` of the end
    already recorded for the same period (a revision), or of one period after the previous period's end, or of
    one period before the next one's (13-week quarters and 53-week years drift a few days against calendar
    months). Neighbours come from the file itself first (the newest statement), then from what is recorded.
    Any one fitting anchor suffices, so an end recorded wrongly can be corrected (its neighbours vouch for the
    correction) and never blocks the quarters after it. Catches an end that passes the broad range check but
    would date the figure months early (the period's first day typed as its end) or a quarter late."""
    anchors = pl.concat([new.select("ds", "period_end"), known.join(new, on="ds", how="anti")])
    step, back = spec.interval, f"-{spec.interval}"
    candidates = {
        "the end already recorded for this period": known.lazy(),
        "one period after the previous period's end": anchors.lazy().select(
            pl.col("ds").dt.offset_by(step), pl.col("period_end").dt.offset_by(step)),
        "one period before the next period's end": anchors.lazy().select(
            pl.col("ds").dt.offset_by(back), pl.col("period_end").dt.offset_by(back)),
    }
    off = (
        pl.concat([lf.rename({"period_end": "expected"}).with_columns(pl.lit(why).alias("why"),
                                                                      pl.lit(k).alias("rank"))
                   for k, (why, lf) in enumerate(candidates.items())])
        .join(new.lazy().select("line", "ds", "period_end"), on="ds", how="inner")
        .with_columns((pl.col("period_end") - pl.col("expected")).dt.total_days().abs().alias("days"))
        .group_by("line", "ds", "period_end")
        .agg(pl.all().sort_by("days", "rank").first())  # the closest anchor speaks for the row
        .filter(pl.col("days") > FISCAL_END_TOLERANCE_DAYS)
        .sort("line")
        .collect()
    )
    if off.height:
        r = off.row(0, named=True)
        raise DataValidationError(
            name, r["line"],
            f"period_end {r['period_end']} for the period dated {r['ds']} is {r['days']} days from "
            f"{r['expected']}, {r['why']} ({spec.id}: {spec.fiscal_calendar}); check the date")


def read_ingest_file(path: Path, spec: SeriesSpec, max_bytes: int) -> pl.DataFrame:
    """Validate a ``date,value[,period_end]`` CSV for ``spec``; raise with file and line on the first problem."""
    return _read_checked(path, spec, max_bytes).select("ds", "y")


def _check_frequency(df: pl.DataFrame, spec: SeriesSpec, name: str) -> None:
    """A file whose dates never step by one period is another frequency (e.g. quarterly into monthly)."""
    if df.height < 3:
        return
    ds = df["ds"].sort()
    nxt = ds.dt.offset_by(spec.interval)
    if not ds.slice(1).is_in(nxt.slice(0, ds.len() - 1).implode()).any():
        raise DataValidationError(
            name, None, f"no two dates are one {spec.frequency} period apart; {spec.id} is {spec.frequency}"
        )


def _check_published_by(new: pl.DataFrame, spec: SeriesSpec, today: date, name: str) -> None:
    """Refuse periods whose figure could not have been published by ``today``."""
    end = pl.coalesce(pl.col("period_end"), spec.period_end_expr())
    due = new.with_columns(end.dt.offset_by(f"{spec.publication_lag_days}d").alias("due"))
    late = due.filter(pl.col("due") > today).sort("line")
    if late.height:
        row = late.row(0, named=True)
        raise DataValidationError(
            name, row["line"],
            f"period {row['ds']} cannot have been published yet: {spec.id} figures appear "
            f"{spec.publication_lag_days} days after the period ends, i.e. on {row['due']}, after today ({today})",
        )


def _mad(s: pl.Series) -> float:
    s = s.drop_nulls()
    if s.len() == 0:
        return 0.0
    return float((s - s.median()).abs().median())  # type: ignore[operator, arg-type]


def _check_plausible(
    new: pl.DataFrame,
    current: pl.DataFrame,
    spec: SeriesSpec,
    name: str,
    *,
    accept_outliers: bool,
    accept_revisions: bool,
) -> None:
    """Magnitude bound, robust jump rule and revision bound (see the module docstring)."""
    if current.height == 0:
        return
    biggest = float(current["y"].abs().max())  # type: ignore[arg-type]
    bound = MAGNITUDE_FACTOR * biggest
    huge = new.filter(pl.col("y").abs() > bound).sort("line")
    if huge.height:
        r = huge.row(0, named=True)
        raise DataValidationError(
            name, r["line"],
            f"value {r['y']:g} for {r['ds']} is more than {MAGNITUDE_FACTOR:g}x the largest value {spec.id} has "
            f"on record ({biggest:g}); check the unit",
        )
    if not accept_revisions:
        rev = (
            new.join(current.rename({"y": "old"}), on="ds", how="inner")
            .filter((pl.col("y") - pl.col("old")).abs() > REVISION_BOUND * pl.col("old").abs())
            .sort("line")
        )
        if rev.height:
            r = rev.row(0, named=True)
            pct = f"{(r['y'] / r['old'] - 1) * 100:+.1f}%" if r["old"] else "from zero"
            raise DataValidationError(
                name, r["line"],
                f"{r['ds']} would be revised from {r['old']:g} to {r['y']:g} ({pct}), beyond the "
                f"±{REVISION_BOUND:.0%} revision bound; pass --accept-revisions if the new figure is right",
            )
    if accept_outliers:
        return
    # history: consecutive one-period changes of the current series
    hist = current.sort("ds").with_columns(pl.col("ds").dt.offset_by(spec.interval).alias("next_ds"))
    pairs = hist.join(hist.select(pl.col("ds").alias("next_ds"), pl.col("y").alias("y_next")), on="next_ds")
    positive = pairs.filter((pl.col("y") > 0) & (pl.col("y_next") > 0))
    log_changes = (positive["y_next"] / positive["y"]).log()
    diffs = pairs["y_next"] - pairs["y"]
    log_limit = max(JUMP_FLOOR_LOG, JUMP_K * _mad(log_changes) if log_changes.len() >= MIN_CHANGES_FOR_MAD else 0)
    median_abs = float(current["y"].abs().median())  # type: ignore[arg-type]
    abs_limit = max(JUMP_FLOOR_REL * median_abs, JUMP_K * _mad(diffs) if diffs.len() >= MIN_CHANGES_FOR_MAD else 0)
    # each new row against the previous available period (new values override current ones)
    month_index = pl.col("ds").dt.year() * 12 + pl.col("ds").dt.month()
    both_positive = (pl.col("y") > 0) & (pl.col("prev_y") > 0) & pl.lit(spec.nonnegative)
    scale = (pl.col("steps").cast(pl.Float64)).sqrt()
    jumps = (
        pl.concat([current.join(new, on="ds", how="anti").with_columns(pl.lit(None, dtype=pl.Int64).alias("line")),
                   new.select("ds", "y", "line")], how="diagonal")
        .lazy()
        .sort("ds")
        .with_columns(
            pl.col("ds").shift(1).alias("prev_ds"),
            pl.col("y").shift(1).alias("prev_y"),
            ((month_index - month_index.shift(1)) // spec.frequency.months).clip(lower_bound=1).alias("steps"),
        )
        .filter(pl.col("line").is_not_null() & pl.col("prev_y").is_not_null())
        .with_columns(
            pl.when(both_positive).then((pl.col("y") / pl.col("prev_y")).log().abs())
            .otherwise((pl.col("y") - pl.col("prev_y")).abs()).alias("change"),
            pl.when(both_positive).then(log_limit * scale).otherwise(abs_limit * scale).alias("limit"),
        )
        .filter(pl.col("change") > pl.col("limit"))
        .sort("line")
        .collect()
    )
    if jumps.height:
        r = jumps.row(0, named=True)
        y, prev, limit = r["y"], r["prev_y"], r["limit"]
        if y > 0 and prev > 0 and spec.nonnegative:
            what = f"{(y / prev - 1) * 100:+.1f}%"
            rule = f"+{(math.exp(limit) - 1) * 100:.0f}%/-{(1 - math.exp(-limit)) * 100:.0f}%"
        else:
            what, rule = f"{y - prev:+g}", f"±{limit:g}"
        raise DataValidationError(
            name, r["line"],
            f"{r['ds']} = {y:g} is a jump of {what} from {r['prev_ds']} ({prev:g}), beyond {spec.id}'s "
            f"robust limit of {rule} per period; pass --accept-outliers if the figure is right",
        )


def ingest(
    store: LocalStore,
    series_id: str,
    file: Path,
    data_dir: Path,
    max_bytes: int,
    *,
    today: date | None = None,
    accept_outliers: bool = False,
    accept_revisions: bool = False,
) -> IngestReport:
    """Validate ``file`` fully, question it, then record new and revised periods for ``series_id`` atomically.

    ``today`` (default: the current UTC date) is the present the "not published yet" check uses.
    """
    spec = get_spec(series_id)
    if spec.is_derived:
        raise DataValidationError(str(file), None, f"{series_id} is computed from {list(spec.parts)}; ingest those")
    new = _read_checked(file, spec, max_bytes)
    _check_published_by(new, spec, today or datetime.now(UTC).date(), str(file))
    with store.lock(series_id):
        now = datetime.now(UTC)  # under the lock: two ingests of one series are stamped in the order they wrote
        snapshot_full = load_snapshot_series(spec, data_dir)
        stored_full = store.latest(series_id)
        known_ends = _known_ends(snapshot_full, stored_full)
        if spec.fiscal_periods:
            _check_fiscal_ends(new, known_ends, spec, str(file))
        snapshot = snapshot_full.select("ds", "y")
        stored = stored_full.select("ds", "y")
        current = pl.concat([snapshot.join(stored, on="ds", how="anti"), stored]).sort("ds")
        _check_plausible(new, current, spec, str(file), accept_outliers=accept_outliers,
                         accept_revisions=accept_revisions)
        merged = (new.join(current.rename({"y": "current_y"}), on="ds", how="left")
                  .join(known_ends.rename({"period_end": "current_end"}), on="ds", how="left"))
        # a corrected fiscal period end alone is a change too (its value unchanged)
        moved_end = pl.col("period_end").is_not_null() & (pl.col("current_end") != pl.col("period_end")).fill_null(True)
        changed = merged.filter(pl.col("current_y").is_null() | (pl.col("current_y") != pl.col("y")) | moved_end)
        rows = changed.select(
            "ds",
            "y",
            pl.col("current_y").alias("previous_y"),
            pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("ingested_at"),
            pl.lit(str(file.name)).alias("source"),
            "period_end",
        )
        if rows.height:
            atomic_write_parquet(pl.concat([store.versions(series_id), rows]), store.path(series_id))
    revised = rows.filter(pl.col("previous_y").is_not_null()).height
    return IngestReport(series_id, rows.height - revised, revised, new.height - rows.height, store.path(series_id))
