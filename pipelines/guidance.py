"""Company capex guidance: dated statements, not a series.

Guidance is what a company said it would spend, on the day it said it. It never enters a trained or
scored series; the forecasting layer turns these rows into a named ``guidance`` capex scenario. Each row
keeps the speaker, the period it covers and its basis (cash capex, incl. finance leases, ...), because
guidance bases differ from the cash-flow capex series and from each other.

Flags (list column ``flags``):

* ``SECONDARY``: the note says the figure was read only in secondary material;
* ``CONFLICTING``: the note records sources that disagree (Microsoft's July-2026 figure);
* ``DATE_APPROXIMATE``: only the month (``date_precision="month"``, dated its last day) or no date was printed;
* ``NO_NUMBER``: a statement without a figure (Oracle's "higher than FY2026");
* ``CONTEXT_ONLY``: not a company's guidance for its own capex (NVIDIA on its customers, an analyst
  consensus); returned only with ``include_context=True``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.errors import DataValidationError
from pipelines.sources import _FIRST_LINE, read_header, statement_date

GUIDANCE_FILE = "raw/update_2026/capex_guidance_2026.csv"

_COLUMNS = (
    "date_stated", "entity", "ticker", "speaker_or_context", "period_covered", "basis",
    "value_low_usd_bn", "value_high_usd_bn", "statement", "source_url", "note",
)

GUIDANCE_SCHEMA: dict[str, pl.DataType] = {
    "company": pl.String(),
    "ticker": pl.String(),
    "date_stated": pl.Date(),
    "date_precision": pl.String(),
    "speaker_or_context": pl.String(),
    "period_covered": pl.String(),
    "basis": pl.String(),
    "low_usd_bn": pl.Float64(),
    "high_usd_bn": pl.Float64(),
    "statement": pl.String(),
    "source_url": pl.String(),
    "note": pl.String(),
    "flags": pl.List(pl.String()),
}


def load_capex_guidance(data_dir: Path, *, include_context: bool = False) -> pl.DataFrame:
    """Dated capex guidance rows (``GUIDANCE_SCHEMA``), oldest first; see the module docstring for flags."""
    path = data_dir / GUIDANCE_FILE
    if not path.exists():
        raise DataValidationError(str(path), None, "file not found")
    missing = [c for c in _COLUMNS if c not in read_header(path)]
    if missing:
        raise DataValidationError(str(path), 1, f"missing column(s) {missing}")
    raw = pl.col("date_stated").str.strip_chars()
    day = raw.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    # only the month printed: known from its last day, never earlier (the statement may be from any day of it)
    stated = statement_date(raw)
    low = pl.col("value_low_usd_bn").str.strip_chars().cast(pl.Float64, strict=False)
    high = pl.col("value_high_usd_bn").str.strip_chars().cast(pl.Float64, strict=False)
    blank = (pl.col("value_low_usd_bn").fill_null("") == "") & (pl.col("value_high_usd_bn").fill_null("") == "")
    text = pl.concat_str([pl.col("note").fill_null(""), pl.col("speaker_or_context").fill_null("")], separator=" ")
    text = text.str.to_lowercase()
    df = (
        pl.scan_csv(path, infer_schema=False)
        .with_row_index("line", offset=_FIRST_LINE)
        .with_columns(
            stated.alias("date"),
            pl.when(day.is_not_null()).then(pl.lit("day")).when(stated.is_not_null()).then(pl.lit("month"))
            .otherwise(pl.lit("unknown")).alias("date_precision"),
            low.alias("low"),
            high.alias("high"),
        )
        .with_columns(
            pl.when(~raw.fill_null("").is_in([""]) & pl.col("date").is_null())
            .then(pl.format("date_stated '{}' is neither YYYY-MM-DD nor YYYY-MM", raw))
            .when(~blank & (pl.col("low").is_null() | pl.col("high").is_null()))
            .then(pl.format("range '{}'..'{}' is not two numbers", pl.col("value_low_usd_bn").fill_null(""),
                            pl.col("value_high_usd_bn").fill_null("")))
            .when(pl.col("low") > pl.col("high"))
            .then(pl.lit("low end above high end"))
            .alias("problem")
        )
        .collect()
    )
    bad = df.filter(pl.col("problem").is_not_null())
    if bad.height:
        raise DataValidationError(str(path), int(bad["line"][0]), str(bad["problem"][0]))
    flags = pl.concat_list(
        pl.when(text.str.contains("secondary")).then(pl.lit("SECONDARY")),
        pl.when(text.str.contains("conflict")).then(pl.lit("CONFLICTING")),
        pl.when(pl.col("date_precision") != "day").then(pl.lit("DATE_APPROXIMATE")),
        pl.when(blank).then(pl.lit("NO_NUMBER")),
        pl.when(text.str.contains(r"not (company )?guidance|statement about customers"))
        .then(pl.lit("CONTEXT_ONLY")),
    ).list.drop_nulls()
    out = df.select(
        pl.col("entity").alias("company"),
        pl.col("ticker"),
        pl.col("date").alias("date_stated"),
        "date_precision",
        "speaker_or_context",
        "period_covered",
        "basis",
        pl.col("low").alias("low_usd_bn"),
        pl.col("high").alias("high_usd_bn"),
        "statement",
        "source_url",
        "note",
        flags.alias("flags"),
    ).sort("company", "date_stated", nulls_last=True)
    if not include_context:
        out = out.filter(~pl.col("flags").list.contains("CONTEXT_ONLY"))
    return out.cast(GUIDANCE_SCHEMA)  # type: ignore[arg-type]
