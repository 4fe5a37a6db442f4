"""Memory prices that are not regular series: TrendForce contract-price statements and DRAM spot scrapes.

* **Contract prices.** TrendForce states quarter-on-quarter contract-price changes as printed ranges
  ("+45~50%"). Only statements of kind ``actual`` (a measured outcome, published after the quarter) are
  data; ``forecast``, ``forecast_revision``, ``forecast_confirmed`` and ``estimate`` (made before the
  quarter closed) are other people's forecasts and are returned only when asked for by ``kinds``. The
  catalog series ``trendforce_dram_contract_price_qoq`` is built from the same rows.
* **DRAM spot.** DRAMeXchange session averages as scraped daily (``date`` = scrape day, not necessarily
  the session day). The scraper stores a row every calendar day and repeats the last session on weekends
  and holidays; such repeats are not observations. A scrape whose every product equals the previous
  scrape of the same source is dropped as a repeat (this also drops a weekday on which all three products
  were genuinely unchanged, which the data cannot tell apart). Spot is observation-only (no catalog
  series: the catalog and the API know monthly, quarterly and annual series).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from pipelines.errors import DataValidationError
from pipelines.sources import _FIRST_LINE, bad_statement_date, read_header, statement_date

STATEMENTS_FILE = "raw/update_2026/memory_price_statements_2023_2026.csv"
SPOT_FILE = "raw/update_2026/dram_spot_price_observations_2026.csv"
MEASURED = ("actual",)


def _scan(path: Path, columns: tuple[str, ...]) -> pl.LazyFrame:
    if not path.exists():
        raise DataValidationError(str(path), None, "file not found")
    missing = [c for c in columns if c not in read_header(path)]
    if missing:
        raise DataValidationError(str(path), 1, f"missing column(s) {missing}")
    return pl.scan_csv(path, infer_schema=False).with_row_index("line", offset=_FIRST_LINE)


def _raise_problem(df: pl.DataFrame, path: Path) -> None:
    bad = df.filter(pl.col("problem").is_not_null())
    if bad.height:
        raise DataValidationError(str(path), int(bad["line"][0]), str(bad["problem"][0]))


def load_contract_price_statements(data_dir: Path, *, kinds: tuple[str, ...] = MEASURED) -> pl.DataFrame:
    """TrendForce QoQ contract-price statements of the given ``kinds`` (default: measured outcomes only).

    Columns: ``ds`` (quarter start), ``fiscal_period``, ``metric``, ``kind``, ``low_pct``, ``high_pct``,
    ``mid_pct`` (arithmetic midpoint of the printed range, not an estimate), ``date`` (publication, null
    when not printed; a month-only date reads as the month's last day), ``flags`` (``SECONDARY`` where the row
    says so or has no source URL), ``source``, ``source_url``.
    """
    path = data_dir / STATEMENTS_FILE
    cols = ("date", "metric", "fiscal_period", "kind", "value_low_pct", "value_high_pct", "note", "source",
            "source_url")
    q = pl.col("fiscal_period").str.extract_groups(r"^(\d{4})Q([1-4])$")
    low = pl.col("value_low_pct").str.strip_chars().cast(pl.Float64, strict=False)
    high = pl.col("value_high_pct").str.strip_chars().cast(pl.Float64, strict=False)
    bad_date, bad_date_message = bad_statement_date(pl.col("date"), pl.col("published"))
    df = (
        _scan(path, cols)
        .with_columns(
            pl.date(q.struct.field("1").cast(pl.Int32, strict=False),
                    q.struct.field("2").cast(pl.Int32, strict=False) * 3 - 2, 1).alias("ds"),
            low.alias("low_pct"),
            high.alias("high_pct"),
            statement_date(pl.col("date")).alias("published"),
        )
        .with_columns(
            pl.when(pl.col("ds").is_null())
            .then(pl.format("fiscal_period '{}' is not YYYYQn", pl.col("fiscal_period").fill_null("")))
            .when(pl.col("low_pct").is_null() | pl.col("high_pct").is_null())
            .then(pl.lit("value_low_pct/value_high_pct are not two numbers"))
            .when(pl.col("low_pct") > pl.col("high_pct"))
            .then(pl.lit("low end above high end"))
            .when(bad_date)
            .then(bad_date_message)
            .alias("problem")
        )
        .collect()
    )
    _raise_problem(df, path)
    secondary = pl.col("note").fill_null("").str.to_lowercase().str.contains("secondary") | (
        pl.col("source_url").fill_null("").str.strip_chars() == ""
    )
    return (
        df.filter(pl.col("kind").is_in(list(kinds)))
        .select(
            "ds",
            "fiscal_period",
            "metric",
            "kind",
            "low_pct",
            "high_pct",
            ((pl.col("low_pct") + pl.col("high_pct")) / 2.0).alias("mid_pct"),
            pl.col("published").alias("date"),
            pl.concat_list(pl.when(secondary).then(pl.lit("SECONDARY"))).list.drop_nulls().alias("flags"),
            "source",
            "source_url",
        )
        .sort("metric", "ds", "date", nulls_last=True)
    )


def load_dram_spot(data_dir: Path) -> pl.DataFrame:
    """DRAMeXchange spot session averages (US$) with repeated scrapes dropped; see the module docstring.

    Columns: ``date``, ``product``, ``price_usd``, ``source``, ``flags`` (``SECONDARY`` for points read in a
    broker note rather than scraped).
    """
    path = data_dir / SPOT_FILE
    price = pl.col("value").str.strip_chars().cast(pl.Float64, strict=False)
    df = (
        _scan(path, ("date", "metric", "value", "note", "source", "source_url"))
        .with_columns(
            pl.col("date").str.strptime(pl.Date, "%Y-%m-%d", strict=False).alias("day"),
            price.alias("price_usd"),
        )
        .with_columns(
            pl.when(pl.col("day").is_null())
            .then(pl.format("date '{}' is not an ISO date", pl.col("date").fill_null("")))
            .when(pl.col("price_usd").is_null() | (pl.col("price_usd") <= 0))
            .then(pl.format("price '{}' is not a positive number", pl.col("value").fill_null("")))
            .when(pl.len().over("day", "metric", "source") > 1)
            .then(pl.lit("duplicate (date, product, source)"))
            .alias("problem")
        )
        .collect()
    )
    _raise_problem(df, path)
    secondary = pl.col("note").fill_null("").str.to_lowercase().str.contains("secondary") | (
        pl.col("source_url").fill_null("").str.strip_chars() == ""
    )
    # one "page" per (source, scrape day): all products' prices in a fixed product order
    pages = (
        df.sort("metric")
        .group_by("source", "day", maintain_order=True)
        .agg(pl.struct("metric", "price_usd").alias("page"))
        .sort("source", "day")
        .with_columns(pl.col("page").shift(1).over("source").alias("previous"))
        .filter(pl.col("previous").is_null() | (pl.col("page") != pl.col("previous")))
        .select("source", "day")
    )
    return (
        df.join(pages, on=["source", "day"], how="semi")
        .select(
            pl.col("day").alias("date"),
            pl.col("metric").alias("product"),
            "price_usd",
            "source",
            pl.concat_list(pl.when(secondary).then(pl.lit("SECONDARY"))).list.drop_nulls().alias("flags"),
        )
        .sort("product", "date")
    )
