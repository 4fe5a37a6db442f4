"""Raw files -> validated long frames (``unique_id``, ``ds``, ``y``, ``period_end``, ``published``).

Every raw file is scanned lazily with all columns as text, so that a malformed cell is reported with its
file and line instead of silently becoming null. Gaps are never filled here: a period with no published
figure simply has no row, and :func:`find_gaps` reports it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from pipelines.catalog import SeriesSpec
from pipelines.errors import DataValidationError

PANEL_SCHEMA: dict[str, pl.DataType] = {
    "unique_id": pl.String(),
    "ds": pl.Date(),
    "y": pl.Float64(),
    "period_end": pl.Date(),
    "published": pl.Date(),
}

#: first CSV data line is line 2 (line 1 is the header)
_FIRST_LINE = 2

_REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "date_value": ("date", "value"),
    "region": ("date", "region", "value"),
    "company_metric": ("date", "metric", "value"),
}


def period_start_ok_expr(frequency: str, col: str = "ds") -> pl.Expr:
    """True where a date is the first day of a period of the given frequency."""
    c = pl.col(col)
    ok = c.dt.day() == 1
    if frequency == "quarterly":
        ok = ok & c.dt.month().is_in([1, 4, 7, 10])
    elif frequency == "annual":
        ok = ok & (c.dt.month() == 1)
    return ok


def period_end_expr(spec: SeriesSpec, col: str = "ds") -> pl.Expr:
    """Last day of the period that starts at ``col``."""
    return pl.col(col).dt.offset_by(spec.interval).dt.offset_by("-1d")


def _fiscal_month_end_expr() -> pl.Expr:
    """NVIDIA rows give 'late Apr 2014': the last day of that month bounds the true fiscal end."""
    return (
        pl.concat_str([pl.lit("1 "), pl.col("fiscal_quarter_end").str.replace(r"^late\s+", "")])
        .str.strptime(pl.Date, "%d %b %Y", strict=False)
        .dt.month_end()
    )


def read_header(path: Path) -> list[str]:
    with path.open("r", encoding="utf-8", newline="") as fh:
        first = fh.readline()
    return [c.strip() for c in first.strip().split(",")] if first.strip() else []


def scan_raw(spec: SeriesSpec, data_dir: Path) -> pl.LazyFrame:
    """Raw rows of one series as text, with their CSV line numbers, before any validation."""
    path = data_dir / spec.file
    if not path.exists():
        raise DataValidationError(str(path), None, "file not found")
    header = read_header(path)
    missing = [c for c in _REQUIRED_COLUMNS[spec.loader] if c not in header]
    if missing:
        raise DataValidationError(
            str(path), 1, f"missing column(s) {missing}; expected at least {list(_REQUIRED_COLUMNS[spec.loader])}"
        )
    lf = pl.scan_csv(path, infer_schema=False).with_row_index("line", offset=_FIRST_LINE)
    for col, val in spec.filter.items():
        lf = lf.filter(pl.col(col) == val)
    if "period_end" in header:
        period_end = pl.col("period_end").str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    elif "fiscal_quarter_end" in header:
        period_end = _fiscal_month_end_expr()
    else:
        period_end = pl.lit(None, dtype=pl.Date)
    return lf.select(
        pl.col("line").cast(pl.Int64),
        pl.lit(str(path)).alias("file"),
        pl.col("date").alias("date_raw"),
        pl.col("value").alias("value_raw"),
        period_end.alias("period_end_raw"),
    )


def validate_raw(
    lf: pl.LazyFrame,
    spec: SeriesSpec,
    *,
    allow_blank_values: bool,
) -> pl.LazyFrame:
    """Parse and check raw text rows; adds a ``problem`` column (null where the row is fine).

    Blank values are allowed in the shipped snapshot (they mark a documented gap and are dropped) but
    not in ingested files, where a blank is more likely a mistake than a statement of "not published".
    """
    ds = pl.col("date_raw").str.strip_chars().str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    y = pl.col("value_raw").str.strip_chars().cast(pl.Float64, strict=False)
    lf = lf.with_columns(ds.alias("ds"), y.alias("y"))
    blank = pl.col("value_raw").is_null() | (pl.col("value_raw").str.strip_chars() == "")
    dup = pl.col("ds").is_duplicated() & pl.col("ds").is_not_null()
    problem = (
        pl.when(pl.col("ds").is_null())
        .then(pl.format("date '{}' is not an ISO date (YYYY-MM-DD)", pl.col("date_raw").fill_null("")))
        .when(~pl.col("ds").dt.year().is_between(1900, 2100))
        .then(pl.format("date {} is outside the years 1900..2100", pl.col("date_raw")))
        .when(~period_start_ok_expr(spec.frequency))
        .then(pl.format("date {} is not the first day of a {} period", pl.col("date_raw"), pl.lit(spec.frequency)))
        .when(blank & pl.lit(not allow_blank_values))
        .then(pl.lit("value is empty"))
        .when(~blank & pl.col("y").is_null())
        .then(pl.format("value '{}' is not a number", pl.col("value_raw")))
        .when(pl.col("y").is_infinite() | pl.col("y").is_nan())
        .then(pl.format("value '{}' is not finite", pl.col("value_raw")))
        .when(pl.lit(spec.nonnegative) & (pl.col("y") < 0))
        .then(pl.format("value {} is negative, impossible for {}", pl.col("value_raw"), pl.lit(spec.id)))
        .when(dup)
        .then(pl.format("duplicate period {}", pl.col("ds")))
        .otherwise(None)
    )
    return lf.with_columns(problem.alias("problem"))


def raise_first_problem(df: pl.DataFrame) -> None:
    bad = df.filter(pl.col("problem").is_not_null())
    if bad.height:
        # only text columns: a parsed date such as year 0 cannot become a Python date
        row = bad.select("file", "line", "problem").row(0, named=True)
        more = f" (and {bad.height - 1} more problem rows)" if bad.height > 1 else ""
        raise DataValidationError(row["file"], row["line"], row["problem"] + more)


def finish_series(lf: pl.LazyFrame, spec: SeriesSpec) -> pl.LazyFrame:
    """Validated rows -> panel schema; drops blank (gap) rows and stamps the publication date."""
    period_end = pl.coalesce(pl.col("period_end_raw"), period_end_expr(spec))
    return (
        lf.filter(pl.col("y").is_not_null())
        .with_columns(pl.lit(spec.id).alias("unique_id"), period_end.alias("period_end"))
        .with_columns(pl.col("period_end").dt.offset_by(f"{spec.publication_lag_days}d").alias("published"))
        .select(list(PANEL_SCHEMA))
        .sort("ds")
    )


def load_snapshot_series(spec: SeriesSpec, data_dir: Path) -> pl.DataFrame:
    """One non-derived series from the immutable snapshot, validated."""
    checked = validate_raw(scan_raw(spec, data_dir), spec, allow_blank_values=True).collect()
    raise_first_problem(checked)
    return finish_series(checked.lazy(), spec).collect()


def sum_of_parts(spec: SeriesSpec, parts: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Totals only for periods where every part is present; public once the last part is."""
    frames = [parts[p].select("ds", pl.col("y").alias(p), pl.col("period_end").alias(f"pe_{p}"),
                               pl.col("published").alias(f"pub_{p}")) for p in spec.parts]
    joined = frames[0].lazy()
    for f in frames[1:]:
        joined = joined.join(f.lazy(), on="ds", how="inner")
    return (
        joined.select(
            pl.lit(spec.id).alias("unique_id"),
            "ds",
            pl.sum_horizontal([pl.col(p) for p in spec.parts]).alias("y"),
            pl.max_horizontal([pl.col(f"pe_{p}") for p in spec.parts]).alias("period_end"),
            pl.max_horizontal([pl.col(f"pub_{p}") for p in spec.parts]).alias("published"),
        )
        .sort("ds")
        .collect()
    )


def empty_panel() -> pl.DataFrame:
    return pl.DataFrame(schema=PANEL_SCHEMA)


def expected_periods(spec: SeriesSpec, start: date, end: date) -> pl.Series:
    return pl.date_range(start, end, spec.interval, eager=True).alias("ds")


def find_gaps(spec: SeriesSpec, df: pl.DataFrame) -> list[date]:
    """Periods between the first and last observation with no published figure."""
    s = df.filter(pl.col("unique_id") == spec.id)
    if s.height < 2:
        return []
    grid = expected_periods(spec, s["ds"].min(), s["ds"].max())  # type: ignore[arg-type]
    missing = grid.to_frame().join(s.select("ds"), on="ds", how="anti")
    return missing["ds"].to_list()
