"""Raw files -> validated prints (``unique_id``, ``ds``, ``y``, ``period_end``, ``published`` + detail).

Every raw file is scanned lazily with all columns as text, so that a malformed cell is reported with its
file and line instead of silently becoming null. Gaps are never filled here: a period with no published
figure simply has no row, and :func:`find_gaps` reports it.

A *print* is one value of one period as it became public on one date. How prints are formed:

* ``vintages="latest"`` series: one print per period. A series may read several files (the shipped base
  and the 2026 update); for the same period the later file wins (the documented winner: a revised or
  more-digit figure). ``published`` is the printed publication date where the source gives one, else the
  period end (or the company's fiscal end) plus the catalog's publication lag.
* ``vintages="true"`` series (WSTS worldwide sales): every value printed in every SIA release found. A
  release for month R is dated end of R + the publication lag (38 days). Within one release a value
  printed twice at different precision (text vs table) is one print: the one with more decimals, checked
  to agree with the other within its rounding. The earliest print found of a period is dated at the
  period's own nominal release even when that release itself was not found (flag ``FIRST_PRINT_MISSING``):
  WSTS publishes every month, and dating the earliest known value later would punch holes into as-of
  views. Such a print may hold a revised value (WSTS revisions are typically under 2.5%).
* Rows of ``low`` confidence (a ``confidence`` column, or "LOW CONFIDENCE" in the note) never become
  prints; :func:`excluded_prints` lists them.

Per-observation flags (the ``flags`` detail column) come from the raw files' own markers, case-insensitive:
``SECONDARY`` (the note or derivation says "secondary", a ``medium`` confidence row, or an empty
``source_url`` in a file that has one: the update marks those rows as seen only in unnamed notes) and
``ROUNDED`` (the note says "rounded" or gives the printed "precision", except where it only says that the
value this row replaces was rounded).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import polars as pl

from pipelines.catalog import Frequency, SeriesSpec
from pipelines.errors import DataValidationError

PANEL_SCHEMA: dict[str, pl.DataType] = {
    "unique_id": pl.String(),
    "ds": pl.Date(),
    "y": pl.Float64(),
    "period_end": pl.Date(),
    "published": pl.Date(),
}
#: extra columns of ``load_panel(detail=True)``: per-observation flags and a printed range (else null).
DETAIL_SCHEMA: dict[str, pl.DataType] = {
    "flags": pl.List(pl.String()),
    "y_low": pl.Float64(),
    "y_high": pl.Float64(),
}
PRINTS_SCHEMA: dict[str, pl.DataType] = {**PANEL_SCHEMA, **DETAIL_SCHEMA}

FLAG_SECONDARY = "SECONDARY"
FLAG_ROUNDED = "ROUNDED"
FLAG_FIRST_PRINT_MISSING = "FIRST_PRINT_MISSING"
FLAG_INGESTED = "INGESTED"

#: first CSV data line is line 2 (line 1 is the header)
_FIRST_LINE = 2

_REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "date_value": ("date", "value"),
    "region": ("date", "region", "value"),
    "company_metric": ("date", "metric", "value"),
    "wsts_prints": ("date", "release_reference_month"),
    "price_statement": ("date", "fiscal_period", "kind", "value_low_pct", "value_high_pct"),
}

#: text columns of a raw row after scanning; missing ones are null (ingested files have only date,value).
_RAW_TEXT = ("date_raw", "value_raw", "low_raw", "high_raw", "release_raw", "published_text")


def period_start_ok_expr(frequency: str, col: str = "ds") -> pl.Expr:
    """True where a date is the first day of a period of the given frequency."""
    return Frequency(frequency).period_start_expr(col)


def period_end_expr(spec: SeriesSpec, col: str = "ds") -> pl.Expr:
    """Last day of the period that starts at ``col`` (day N of a partial-period flash)."""
    return spec.period_end_expr(col)


def statement_date(text: pl.Expr) -> pl.Expr:
    """A statement's publication day: ``YYYY-MM-DD``, or ``YYYY-MM`` where only the month was printed, read as
    the month's last day (the statement may have come on any day of it: never treated as known earlier).
    Null when blank or malformed; callers report a malformed one (see ``bad_statement_date``)."""
    t = text.str.strip_chars()
    return pl.coalesce(t.str.strptime(pl.Date, "%Y-%m-%d", strict=False),
                       (t + "-01").str.strptime(pl.Date, "%Y-%m-%d", strict=False).dt.month_end())


def bad_statement_date(text: pl.Expr, parsed: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(condition, message) for a printed date that is neither blank ("not printed") nor a date: a typo must
    not silently read as "not printed", which dates the figure by the catalog's lag instead."""
    t = text.fill_null("").str.strip_chars()
    return (t != "") & parsed.is_null(), pl.format(
        "date '{}' is not an ISO date (YYYY-MM-DD, or YYYY-MM when only the month was printed; blank when none "
        "was)", t)


def _fiscal_month_end_expr() -> pl.Expr:
    """NVIDIA rows give 'late Apr 2014' (the month-end bounds the true fiscal end) or an ISO date."""
    raw = pl.col("fiscal_quarter_end")
    month_end = (
        pl.concat_str([pl.lit("1 "), raw.str.replace(r"^late\s+", "")])
        .str.strptime(pl.Date, "%d %b %Y", strict=False)
        .dt.month_end()
    )
    return pl.coalesce(raw.str.strptime(pl.Date, "%Y-%m-%d", strict=False), month_end)


def read_header(path: Path) -> list[str]:
    with path.open("r", encoding="utf-8", newline="") as fh:
        first = fh.readline()
    return [c.strip() for c in first.strip().split(",")] if first.strip() else []


def _flags_expr(header: list[str]) -> tuple[pl.Expr, pl.Expr]:
    """(flags list, low-confidence bool) from the markers the raw row itself carries."""
    text_cols = [c for c in ("note", "derivation") if c in header]
    text = (
        pl.concat_str([pl.col(c).fill_null("") for c in text_cols], separator=" ").str.to_lowercase()
        if text_cols
        else pl.lit("")
    )
    conf = pl.col("confidence").str.strip_chars().str.to_lowercase() if "confidence" in header else pl.lit("")
    src_blank = (
        pl.col("source_url").is_null() | (pl.col("source_url").str.strip_chars() == "")
        if "source_url" in header
        else pl.lit(False)
    )
    secondary = text.str.contains("secondary") | (conf == "medium") | src_blank
    # "existing file has 32.83 (same figure, rounded)" describes the value this row replaces, not this row
    rounded = text.str.replace_all(r"existing file has [^)]*\)", "").str.contains(r"rounded|precision")
    flags = pl.concat_list(
        pl.when(secondary).then(pl.lit(FLAG_SECONDARY)).otherwise(None),
        pl.when(rounded).then(pl.lit(FLAG_ROUNDED)).otherwise(None),
    ).list.drop_nulls()
    low = (conf == "low") | text.str.contains("low confidence")
    return flags, low


def scan_file(spec: SeriesSpec, data_dir: Path, rel: str, rank: int = 0) -> pl.LazyFrame:
    """Raw rows of one series in one file as text, with CSV line numbers and row flags, before validation."""
    path = data_dir / rel
    if not path.exists():
        raise DataValidationError(str(path), None, "file not found")
    header = read_header(path)
    required = list(_REQUIRED_COLUMNS[spec.loader])
    if spec.loader == "wsts_prints":
        required.append("value" if "value" in header else "value_usd_bn")
        filters = {c: v for c, v in spec.filter.items() if c in header}  # main files hold Worldwide only
    else:
        filters = dict(spec.filter)
        required += [c for c in filters if c not in required]
    missing = [c for c in required if c not in header]
    if missing:
        raise DataValidationError(str(path), 1, f"missing column(s) {missing}; expected at least {required}")
    lf = pl.scan_csv(path, infer_schema=False).with_row_index("line", offset=_FIRST_LINE)
    for col, val in filters.items():
        lf = lf.filter(pl.col(col) == val)
    if "period_end" in header:
        period_end = pl.col("period_end").str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    elif "fiscal_quarter_end" in header:
        period_end = _fiscal_month_end_expr()
    else:
        period_end = pl.lit(None, dtype=pl.Date)
    null = pl.lit(None, dtype=pl.String)
    if spec.loader == "price_statement":
        quarter = pl.col("fiscal_period").str.extract_groups(r"^(\d{4})Q([1-4])$")
        month = (quarter.struct.field("2").cast(pl.Int32, strict=False) * 3 - 2).cast(pl.String).str.zfill(2)
        date_raw = pl.coalesce(pl.format("{}-{}-01", quarter.struct.field("1"), month), pl.col("fiscal_period"))
        value_raw, low_raw, high_raw = null, pl.col("value_low_pct"), pl.col("value_high_pct")
        published = statement_date(pl.col("date"))
        published_text = pl.col("date")
    else:
        date_raw = pl.col("date")
        value_raw = pl.col("value") if "value" in header else pl.col("value_usd_bn")
        low_raw = high_raw = published_text = null
        published = pl.lit(None, dtype=pl.Date)
    release = pl.col("release_reference_month") if spec.loader == "wsts_prints" else null
    flags, low = _flags_expr(header)
    return lf.select(
        pl.col("line").cast(pl.Int64),
        pl.lit(str(path)).alias("file"),
        pl.lit(rank, dtype=pl.Int64).alias("file_rank"),
        date_raw.alias("date_raw"),
        value_raw.alias("value_raw"),
        low_raw.alias("low_raw"),
        high_raw.alias("high_raw"),
        release.alias("release_raw"),
        period_end.alias("period_end_raw"),
        published.alias("published_raw"),
        published_text.alias("published_text"),
        flags.alias("flags"),
        low.alias("low_confidence"),
    )


def scan_raw(spec: SeriesSpec, data_dir: Path) -> pl.LazyFrame:
    """Raw rows of every file of one series (oldest file first), before any validation."""
    return pl.concat([scan_file(spec, data_dir, rel, rank) for rank, rel in enumerate(spec.files)])


def _with_defaults(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Add the optional raw columns an ingested ``date,value`` file does not have (all null)."""
    names = lf.collect_schema().names()
    defaults: dict[str, pl.Expr] = {c: pl.lit(None, dtype=pl.String) for c in _RAW_TEXT if c not in names}
    for c, dtype in (("period_end_raw", pl.Date), ("published_raw", pl.Date)):
        if c not in names:
            defaults[c] = pl.lit(None, dtype=dtype)
    if "file_rank" not in names:
        defaults["file_rank"] = pl.lit(0, dtype=pl.Int64)
    if "flags" not in names:
        defaults["flags"] = pl.lit([], dtype=pl.List(pl.String))
    if "low_confidence" not in names:
        defaults["low_confidence"] = pl.lit(False)
    return lf.with_columns(**defaults) if defaults else lf


def _number(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().cast(pl.Float64, strict=False)


def _blank(col: str) -> pl.Expr:
    return pl.col(col).is_null() | (pl.col(col).str.strip_chars() == "")


def validate_raw(
    lf: pl.LazyFrame,
    spec: SeriesSpec,
    *,
    allow_blank_values: bool,
) -> pl.LazyFrame:
    """Parse and check raw text rows; adds ``ds``, ``y``, ``problem`` (null where the row is fine).

    Blank values are allowed in the shipped snapshot (they mark a documented gap and are dropped) but
    not in ingested files, where a blank is more likely a mistake than a statement of "not published".
    A printed range (``low_raw``/``high_raw``) gives ``y`` = its arithmetic midpoint.
    """
    # release-stamped prints only come from snapshot files; an ingested file is one value per period
    prints = spec.loader == "wsts_prints" and "release_raw" in lf.collect_schema().names()
    lf = _with_defaults(lf)
    ds = pl.col("date_raw").str.strip_chars().str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    has_range = ~_blank("low_raw") | ~_blank("high_raw")
    y = pl.when(has_range).then((_number("low_raw") + _number("high_raw")) / 2.0).otherwise(_number("value_raw"))
    release = (pl.col("release_raw").str.strip_chars() + "-01").str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    lf = lf.with_columns(
        ds.alias("ds"),
        y.alias("y"),
        _number("low_raw").alias("y_low"),
        _number("high_raw").alias("y_high"),
        release.alias("release"),
        pl.col("value_raw").str.strip_chars().str.extract(r"\.(\d+)$", 1).str.len_chars().fill_null(0)
        .alias("decimals"),
    )
    blank = _blank("value_raw") & ~has_range
    bad_published, bad_published_message = bad_statement_date(pl.col("published_text"), pl.col("published_raw"))
    is_print = pl.lit(prints)
    dup = pl.col("ds").is_not_null() & ~is_print & (pl.len().over("file", "ds") > 1)
    problem = (
        pl.when(pl.col("ds").is_null())
        .then(pl.format("date '{}' is not an ISO date (YYYY-MM-DD)", pl.col("date_raw").fill_null("")))
        .when(~pl.col("ds").dt.year().is_between(1900, 2100))
        .then(pl.format("date {} is outside the years 1900..2100", pl.col("date_raw")))
        .when(~period_start_ok_expr(spec.frequency))
        .then(pl.format("date {} is not the first day of a {} period", pl.col("date_raw"), pl.lit(spec.frequency)))
        .when(blank & pl.lit(not allow_blank_values))
        .then(pl.lit("value is empty"))
        .when(has_range & (pl.col("y_low").is_null() | pl.col("y_high").is_null()))
        .then(pl.format("range '{}'..'{}' is not two numbers", pl.col("low_raw").fill_null(""),
                        pl.col("high_raw").fill_null("")))
        .when(has_range & (pl.col("y_low") > pl.col("y_high")))
        .then(pl.format("range {}..{} has its low end above its high end", pl.col("low_raw"), pl.col("high_raw")))
        .when(~blank & pl.col("y").is_null())
        .then(pl.format("value '{}' is not a number", pl.col("value_raw")))
        .when(pl.col("y").is_infinite() | pl.col("y").is_nan())
        .then(pl.format("value '{}' is not finite", pl.col("value_raw")))
        .when(pl.lit(spec.nonnegative) & (pl.col("y") < 0))
        .then(pl.format("value {} is negative, impossible for {}", pl.col("value_raw"), pl.lit(spec.id)))
        .when(is_print & ~blank & pl.col("release").is_null())
        .then(pl.format("release_reference_month '{}' is not YYYY-MM", pl.col("release_raw").fill_null("")))
        .when(is_print & ~blank & (pl.col("release") < pl.col("ds")))
        .then(pl.format("printed in the release for {} but the period {} is later", pl.col("release_raw"),
                        pl.col("date_raw")))
        .when(bad_published)
        .then(bad_published_message)
        .when(dup)
        .then(pl.format("duplicate period {}", pl.col("ds")))
        .otherwise(None)
    )
    return lf.with_columns(problem.alias("problem"))


def raise_first_problem(df: pl.DataFrame) -> None:
    bad = df.filter(pl.col("problem").is_not_null())
    if bad.height:
        # only text columns: a parsed date such as year 0 cannot become a Python date
        row = bad.sort("file", "line").select("file", "line", "problem").row(0, named=True)
        more = f" (and {bad.height - 1} more problem rows)" if bad.height > 1 else ""
        raise DataValidationError(row["file"], row["line"], row["problem"] + more)


def _checked(spec: SeriesSpec, data_dir: Path) -> pl.DataFrame:
    checked = validate_raw(scan_raw(spec, data_dir), spec, allow_blank_values=True).collect()
    raise_first_problem(checked)
    return checked.filter(pl.col("y").is_not_null())


def _finish(lf: pl.LazyFrame, spec: SeriesSpec) -> pl.LazyFrame:
    """Checked rows -> print schema: the catalog unit (raw / divisor), period end and publication date."""
    period_end = pl.coalesce(pl.col("period_end_raw"), spec.period_end_expr())
    published = pl.coalesce(
        pl.col("published_raw"), pl.col("period_end").dt.offset_by(f"{spec.publication_lag_days}d")
    )
    return (
        lf.with_columns(
            pl.lit(spec.id).alias("unique_id"),
            period_end.alias("period_end"),
            (pl.col("y") / spec.divisor).alias("y"),
            (pl.col("y_low") / spec.divisor).alias("y_low"),
            (pl.col("y_high") / spec.divisor).alias("y_high"),
        )
        .with_columns(published.alias("published"))
        .select(list(PRINTS_SCHEMA))
    )


def _release_prints(ok: pl.DataFrame, spec: SeriesSpec) -> pl.LazyFrame:
    """WSTS: one print per (period, release); the earliest print of a period dated at its own release."""
    best = ok.sort("decimals", "file_rank", "line").group_by("ds", "release").agg(pl.all().last())
    clash = ok.join(best.select("ds", "release", pl.col("y").alias("y_best")), on=["ds", "release"]).filter(
        (pl.col("y") - pl.col("y_best")).abs() > 0.5 * 10.0 ** (-pl.col("decimals").cast(pl.Float64)) + 1e-9
    )
    if clash.height:
        row = clash.sort("file", "line").row(0, named=True)
        raise DataValidationError(
            row["file"], row["line"],
            f"{row['ds']} printed as {row['value_raw']} in the {row['release_raw']} release, but as "
            f"{row['y_best']} for the same release elsewhere (differs by more than its rounding)",
        )
    first = pl.col("release") == pl.col("release").min().over("ds")
    own_release = pl.col("release") == pl.col("ds")
    return (
        best.lazy()
        .with_columns(
            pl.when(first)
            .then(spec.period_end_expr("ds"))
            .otherwise(spec.period_end_expr("release"))
            .dt.offset_by(f"{spec.publication_lag_days}d")
            .alias("published_raw"),
            pl.when(first & ~own_release)
            .then(pl.col("flags").list.concat(pl.lit([FLAG_FIRST_PRINT_MISSING])))
            .otherwise(pl.col("flags"))
            .alias("flags"),
        )
        .sort("ds", "release")
    )


def load_snapshot_prints(spec: SeriesSpec, data_dir: Path) -> pl.DataFrame:
    """Every print of one non-derived series in the shipped snapshot, validated (print schema, by ds)."""
    ok = _checked(spec, data_dir).filter(~pl.col("low_confidence"))
    if spec.vintages == "true":
        rows = _release_prints(ok, spec)
    else:
        # the later file wins for the same period (documented winner; see the module docstring)
        rows = ok.lazy().sort("ds", "file_rank", "line").unique(subset=["ds"], keep="last", maintain_order=True)
    return _finish(rows, spec).sort("ds", "published", maintain_order=True).collect()


def load_snapshot_series(spec: SeriesSpec, data_dir: Path) -> pl.DataFrame:
    """One non-derived series from the snapshot: latest print per period, first publication date."""
    return latest(load_snapshot_prints(spec, data_dir)).select(list(PANEL_SCHEMA))


def excluded_prints(spec: SeriesSpec, data_dir: Path) -> pl.DataFrame:
    """Low-confidence rows of a series: kept in the raw files, never loaded; listed for inspection."""
    if spec.is_derived:
        return pl.DataFrame(schema={"unique_id": pl.String, "ds": pl.Date, "y": pl.Float64, "release": pl.Date,
                                    "file": pl.String, "line": pl.Int64})
    low = _checked(spec, data_dir).filter(pl.col("low_confidence"))
    # the same print read in two files (main file and observations file) is listed once
    return (
        low.sort("file_rank", "line")
        .unique(subset=["ds", "release", "y"], keep="first", maintain_order=True)
        .select(pl.lit(spec.id).alias("unique_id"), "ds", (pl.col("y") / spec.divisor).alias("y"), "release",
                "file", "line")
        .sort("ds", "release")
    )


# ---------------------------------------------------------------------------------------------- prints


def latest(panel: pl.DataFrame) -> pl.DataFrame:
    """One row per (unique_id, ds): the latest print's value, dated when the period FIRST became public.

    On the default panel this is the identity; on a vintage panel it gives exactly the default panel.
    "Latest" is the print with the greatest ``published``; ties keep the later row of the frame.
    """
    return (
        panel.lazy()
        .with_row_index("_row")
        .with_columns(pl.col("published").min().over("unique_id", "ds").alias("_first"))
        .sort("published", maintain_order=True)
        .unique(subset=["unique_id", "ds"], keep="last", maintain_order=True)
        .with_columns(pl.col("_first").alias("published"))
        .sort("_row")
        .drop("_row", "_first")
        .collect()
    )


def combine_prints(
    inputs: Sequence[pl.LazyFrame],
    combine: Callable[[list[pl.Expr]], pl.Expr],
    unique_id: str,
) -> pl.LazyFrame:
    """Prints of a value computed from several inputs per period (a total, a ratio, a YoY change).

    The result gets a new print whenever any input gets one, valued with every input as known on that
    date, and only once every input has a print. With one print per input and period (the default panel)
    this is one row per period, published when its last input was: the same as an inner join.
    """
    keyed: list[pl.LazyFrame] = []
    with_flags = all("flags" in lf.collect_schema().names() for lf in inputs)
    for k, lf in enumerate(inputs):
        cols = [pl.col("ds"), pl.col("published"), pl.col("y").alias(f"_y{k}"), pl.col("period_end").alias(f"_pe{k}")]
        if with_flags:
            cols.append(pl.col("flags").alias(f"_f{k}"))
        keyed.append(
            lf.select(cols)
            .filter(pl.col("published").is_not_null())
            .sort("ds", "published", maintain_order=True)
            .unique(subset=["ds", "published"], keep="last", maintain_order=True)
            .sort("published")
        )
    out = pl.concat([k.select("ds", "published") for k in keyed]).unique().sort("published")
    for right in keyed:
        # both sides are sorted by ``published`` (above); polars cannot verify that per ``by`` group itself
        out = out.join_asof(right, on="published", by="ds", strategy="backward", check_sortedness=False)
    ys = [pl.col(f"_y{k}") for k in range(len(inputs))]
    select = [
        pl.lit(unique_id).alias("unique_id"),
        pl.col("ds"),
        combine(ys).alias("y"),
        pl.max_horizontal([pl.col(f"_pe{k}") for k in range(len(inputs))]).alias("period_end"),
        pl.col("published"),
    ]
    if with_flags:
        select.append(
            pl.concat_list([pl.col(f"_f{k}") for k in range(len(inputs))]).list.unique().list.sort().alias("flags")
        )
    return out.filter(pl.all_horizontal([y.is_not_null() for y in ys])).select(select).sort("ds", "published")


def sum_of_parts(spec: SeriesSpec, parts: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Totals only for periods where every part is present; a new print whenever any part gets one.

    Works on one-print-per-period frames (public once the last part is) and on vintage frames alike.
    """
    lfs = [parts[p].lazy() for p in spec.parts]
    out = combine_prints(lfs, lambda ys: pl.sum_horizontal(ys), spec.id)
    if "flags" in out.collect_schema().names():
        out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias("y_low"), pl.lit(None, dtype=pl.Float64)
                               .alias("y_high"))
    return out.collect()


def empty_panel(detail: bool = False) -> pl.DataFrame:
    return pl.DataFrame(schema=PRINTS_SCHEMA if detail else PANEL_SCHEMA)


def expected_periods(spec: SeriesSpec, start: date, end: date) -> pl.Series:
    return pl.date_range(start, end, spec.interval, eager=True).alias("ds")


def find_gaps(spec: SeriesSpec, df: pl.DataFrame) -> list[date]:
    """Periods between the first and last observation with no published figure."""
    s = df.filter(pl.col("unique_id") == spec.id)
    if s.height < 2:
        return []
    grid = expected_periods(spec, s["ds"].min(), s["ds"].max())  # type: ignore[arg-type]
    missing = grid.to_frame().join(s.select("ds").unique(), on="ds", how="anti")
    return sorted(missing["ds"].to_list())
