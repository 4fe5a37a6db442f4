"""A local, append-only store of new observations layered over the immutable snapshot.

Each series has one parquet file holding every version ever ingested (``ds``, ``y``, ``previous_y``,
``ingested_at``, ``source``). The newest version of a period wins; older versions stay, so a revision never
loses the value it replaced. Writes go to a temporary file that is renamed over the old one under a
per-series lock, so readers see either the old or the new file and concurrent ingests serialise.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from pipelines.catalog import SeriesSpec, get_spec
from pipelines.errors import DataValidationError, StoreError
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
}


@dataclass(frozen=True)
class IngestReport:
    series_id: str
    added: int
    revised: int
    unchanged: int
    path: Path


def atomic_write_parquet(df: pl.DataFrame, path: Path) -> None:
    """Write then rename, so a crash or a full disk never leaves a half-written file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            df.write_parquet(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
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
            raise StoreError(f"cannot open the store at {self.root}: {exc.strerror or exc}") from exc
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
        return pl.read_parquet(p).sort("ingested_at", "ds")

    def latest(self, series_id: str) -> pl.DataFrame:
        """The newest ingested value of each period."""
        return self.versions(series_id).group_by("ds").agg(pl.all().last()).sort("ds")

    def revisions(self, series_id: str) -> pl.DataFrame:
        """Ingested rows that replaced an earlier value, with the value they replaced."""
        return self.versions(series_id).filter(pl.col("previous_y").is_not_null())


def read_ingest_file(path: Path, spec: SeriesSpec, max_bytes: int) -> pl.DataFrame:
    """Validate a ``date,value`` CSV for ``spec``; raise with file and line on the first problem."""
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
    if header != ["date", "value"]:
        raise DataValidationError(name, 1, f"columns are {header}; expected exactly ['date', 'value']")
    try:
        lf = (
            pl.scan_csv(path, infer_schema=False)
            .with_row_index("line", offset=_FIRST_LINE)
            .select(
                pl.col("line").cast(pl.Int64),
                pl.lit(name).alias("file"),
                pl.col("date").alias("date_raw"),
                pl.col("value").alias("value_raw"),
                pl.lit(None, dtype=pl.Date).alias("period_end_raw"),
            )
        )
        checked = validate_raw(lf, spec, allow_blank_values=False).collect()
    except pl.exceptions.PolarsError as exc:
        raise DataValidationError(name, None, f"not a readable CSV: {str(exc).splitlines()[0]}") from None
    if checked.height == 0:
        raise DataValidationError(name, None, "file has a header but no data rows")
    raise_first_problem(checked)
    _check_frequency(checked, spec, name)
    return checked.select("ds", "y")


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


def ingest(store: LocalStore, series_id: str, file: Path, data_dir: Path, max_bytes: int) -> IngestReport:
    """Validate ``file`` fully, then record new and revised periods for ``series_id`` atomically."""
    spec = get_spec(series_id)
    if spec.is_derived:
        raise DataValidationError(str(file), None, f"{series_id} is computed from {list(spec.parts)}; ingest those")
    new = read_ingest_file(file, spec, max_bytes)
    now = datetime.now(UTC)
    with store.lock(series_id):
        snapshot = load_snapshot_series(spec, data_dir).select("ds", "y")
        stored = store.latest(series_id).select("ds", "y")
        current = pl.concat([snapshot.join(stored, on="ds", how="anti"), stored]).rename({"y": "current_y"})
        merged = new.join(current, on="ds", how="left")
        changed = merged.filter(pl.col("current_y").is_null() | (pl.col("current_y") != pl.col("y")))
        rows = changed.select(
            "ds",
            "y",
            pl.col("current_y").alias("previous_y"),
            pl.lit(now).cast(pl.Datetime("us", "UTC")).alias("ingested_at"),
            pl.lit(str(file.name)).alias("source"),
        )
        if rows.height:
            versions = pl.concat([store.versions(series_id), rows])
            try:
                atomic_write_parquet(versions, store.path(series_id))
            except OSError as exc:
                raise StoreError(
                    f"could not write {store.path(series_id)}: {exc.strerror or exc}; nothing was changed"
                ) from exc
    revised = rows.filter(pl.col("previous_y").is_not_null()).height
    return IngestReport(series_id, rows.height - revised, revised, new.height - rows.height, store.path(series_id))
