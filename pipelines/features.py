"""Feature expressions and mixed-frequency alignment, all backward-looking.

Every feature at period ``t`` uses only rows at or before ``t`` of its own series, and every cross-series
indicator is stamped public only once its last input is (``published`` = max of the inputs). Combined
with :func:`pipelines.panel.as_of`, nothing computed for a date can see a figure published after it.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from pipelines.catalog import CATALOG, AnnualAgg, Frequency, SeriesSpec, get_spec

# ---------------------------------------------------------------- per-series expressions (regular grid)


def lag_expr(n: int, col: str = "y") -> pl.Expr:
    return pl.col(col).shift(n).over("unique_id").alias(f"{col}_lag{n}")


def yoy_growth_expr(periods_per_year: int, col: str = "y") -> pl.Expr:
    """Growth vs the same period a year earlier; null where either side is a gap."""
    prev = pl.col(col).shift(periods_per_year).over("unique_id")
    return (pl.col(col) / prev - 1.0).alias(f"{col}_yoy")


def rolling_mean_expr(window: int, col: str = "y") -> pl.Expr:
    return pl.col(col).rolling_mean(window).over("unique_id").alias(f"{col}_rmean{window}")


def rolling_std_expr(window: int, col: str = "y") -> pl.Expr:
    return pl.col(col).rolling_std(window).over("unique_id").alias(f"{col}_rstd{window}")


def regular_grid(panel: pl.LazyFrame, frequency: Frequency) -> pl.LazyFrame:
    """One row per period between each series' first and last observation; gaps become null ``y``.

    Shift-based features on a regular grid are correct across gaps (the lag of the month after a gap is
    null, not the month before it). Nothing is filled: the null stays null.
    """
    interval = {"monthly": "1mo", "quarterly": "1q", "annual": "1y"}[frequency]
    grid = (
        panel.group_by("unique_id")
        .agg(pl.date_ranges(pl.col("ds").min(), pl.col("ds").max(), interval).alias("ds"))
        .explode("ds")
    )
    return grid.join(panel, on=["unique_id", "ds"], how="left").sort("unique_id", "ds")


def series_features(panel: pl.DataFrame, frequency: Frequency) -> pl.DataFrame:
    """YoY growth, lags 1..2 and a one-year rolling mean/std for every series of one frequency."""
    ids = [s.id for s in CATALOG.values() if s.frequency == frequency]
    p = {"monthly": 12, "quarterly": 4, "annual": 1}[frequency]
    lf = regular_grid(panel.lazy().filter(pl.col("unique_id").is_in(ids)), frequency)
    exprs = [yoy_growth_expr(p), lag_expr(1), lag_expr(2)]
    if p > 1:
        exprs += [rolling_mean_expr(p), rolling_std_expr(p)]
    return lf.with_columns(exprs).collect()


# ---------------------------------------------------------------- cross-series indicators


def _pair(panel: pl.LazyFrame, a: str, b: str) -> pl.LazyFrame:
    left = panel.filter(pl.col("unique_id") == a).select(
        "ds", pl.col("y").alias("a"), pl.col("period_end").alias("pe_a"), pl.col("published").alias("pub_a")
    )
    right = panel.filter(pl.col("unique_id") == b).select(
        "ds", pl.col("y").alias("b"), pl.col("period_end").alias("pe_b"), pl.col("published").alias("pub_b")
    )
    return left.join(right, on="ds", how="inner")


def ratio_indicator(panel: pl.LazyFrame, name: str, numerator: str, denominator: str) -> pl.LazyFrame:
    """``numerator / denominator`` per common period, public when both inputs are."""
    return _pair(panel, numerator, denominator).select(
        pl.lit(name).alias("unique_id"),
        "ds",
        (pl.col("a") / pl.col("b")).alias("y"),
        pl.max_horizontal("pe_a", "pe_b").alias("period_end"),
        pl.max_horizontal("pub_a", "pub_b").alias("published"),
    )


def yoy_indicator(panel: pl.LazyFrame, name: str, series_id: str) -> pl.LazyFrame:
    """YoY growth matched by calendar date (a gap a year earlier gives no value, never a wrong one)."""
    get_spec(series_id)
    s = panel.filter(pl.col("unique_id") == series_id)
    prev = s.select(pl.col("ds").dt.offset_by("1y"), pl.col("y").alias("y_prev"))
    return s.join(prev, on="ds", how="inner").select(
        pl.lit(name).alias("unique_id"),
        "ds",
        (pl.col("y") / pl.col("y_prev") - 1.0).alias("y"),
        "period_end",
        "published",
    )


#: the indicators the models may use as drivers; each is itself a long series with a publication date.
INDICATORS: dict[str, str] = {
    "ind_book_to_bill": "Census M3 new orders / shipments, computers & electronics",
    "ind_inventory_to_shipments": "Census M3 inventories / shipments, computers & electronics",
    "ind_ppi_yoy": "PPI semiconductors & electronic components, YoY",
    "ind_capex_hyperscalers_yoy": "Hyperscaler capex (5 companies), YoY",
    "ind_capex_ex_amazon_yoy": "Hyperscaler capex excluding Amazon, YoY",
    "ind_nvidia_dc_share_of_capex": "NVIDIA data-center revenue / hyperscaler capex",
    "ind_ipg3344s_yoy": "Industrial production, semiconductors, YoY",
}


def indicators(panel: pl.DataFrame) -> pl.DataFrame:
    """Cross-series indicators in the panel's long format, with publication dates."""
    lf = panel.lazy()
    parts = [
        ratio_indicator(lf, "ind_book_to_bill", "census_a34sno", "census_a34svs"),
        ratio_indicator(lf, "ind_inventory_to_shipments", "census_a34sti", "census_a34svs"),
        yoy_indicator(lf, "ind_ppi_yoy", "fred_pcu33443344"),
        yoy_indicator(lf, "ind_capex_hyperscalers_yoy", "capex_hyperscalers_total"),
        yoy_indicator(lf, "ind_capex_ex_amazon_yoy", "capex_hyperscalers_ex_amazon"),
        ratio_indicator(lf, "ind_nvidia_dc_share_of_capex", "nvidia_datacenter_revenue", "capex_hyperscalers_total"),
        yoy_indicator(lf, "ind_ipg3344s_yoy", "fred_ipg3344s"),
    ]
    return pl.concat(parts).sort("unique_id", "ds").collect()


# ---------------------------------------------------------------- mixed frequency


def monthly_to_quarterly(panel: pl.DataFrame, series_id: str) -> pl.DataFrame:
    """Calendar-quarter values of a monthly series, only for quarters with all three months published."""
    spec = get_spec(series_id)
    agg: AnnualAgg = spec.annual_agg
    s = panel.lazy().filter(pl.col("unique_id") == series_id).with_columns(
        pl.col("ds").dt.truncate("1q").alias("q")
    )
    value = {
        "sum": pl.col("y").sum(),
        "mean": pl.col("y").mean(),
        "last": pl.col("y").sort_by("ds").last(),
        "quarter_end_3mma_x3": pl.col("y").sort_by("ds").last() * 3.0,
    }[agg]
    return (
        s.group_by("q")
        .agg(value.alias("y"), pl.len().alias("n"), pl.col("period_end").max(), pl.col("published").max())
        .filter(pl.col("n") == 3)
        .select(pl.lit(f"{series_id}_q").alias("unique_id"), pl.col("q").alias("ds"), "y", "period_end", "published")
        .sort("ds")
        .collect()
    )


def known_at(panel: pl.DataFrame, series_id: str, dates: pl.Series) -> pl.DataFrame:
    """For each date, the latest value of ``series_id`` that was public on that date, and its period.

    This is how a quarterly driver meets a monthly target (or a fiscal-quarter figure meets a calendar
    date): by what had been published, never by the period label alone.
    """
    s = (
        panel.filter(pl.col("unique_id") == series_id)
        .select(pl.col("published").alias("at"), pl.col("ds").alias("source_ds"), "y")
        .sort("at")
    )
    s = s.group_by("at", maintain_order=True).agg(pl.all().sort_by("source_ds").last())
    left = dates.alias("at").sort().to_frame()
    return left.join_asof(s, on="at", strategy="backward")


def calendar_year_totals(panel: pl.DataFrame, series_id: str) -> pl.DataFrame:
    """Calendar-year values of a series by its catalog rule, only for years with every period present.

    For a 3-month moving average (WSTS) the year's sales are exactly 3 x (Mar + Jun + Sep + Dec 3MMA), so a
    missing month that is not a quarter end does not prevent the annual total.
    """
    spec = get_spec(series_id)
    s = panel.lazy().filter(pl.col("unique_id") == series_id).with_columns(pl.col("ds").dt.year().alias("year"))
    if spec.annual_agg == "quarter_end_3mma_x3":
        s = s.filter(pl.col("ds").dt.month().is_in([3, 6, 9, 12]))
        need, value = 4, pl.col("y").sum() * 3.0
    else:
        need = spec.season_length
        value = {
            "sum": pl.col("y").sum(),
            "mean": pl.col("y").mean(),
            "last": pl.col("y").sort_by("ds").last(),
        }[spec.annual_agg]
    return (
        s.group_by("year")
        .agg(value.alias("y"), pl.len().alias("n"), pl.col("published").max())
        .filter(pl.col("n") == need)
        .drop("n")
        .sort("year")
        .collect()
    )


def build_features(panel: pl.DataFrame, when: date | None = None) -> dict[str, pl.DataFrame]:
    """Everything a model may use, as known on ``when`` (default: all published data)."""
    from pipelines.panel import as_of

    p = panel if when is None else as_of(panel, when)
    out: dict[str, pl.DataFrame] = {"indicators": indicators(p)}
    for freq in ("monthly", "quarterly", "annual"):
        out[freq] = series_features(p, freq)  # type: ignore[arg-type]
    return out


def annual_totals(frame: pl.DataFrame | pl.LazyFrame, spec: SeriesSpec, by: tuple[str, ...] = (),
                  complete_only: bool = True) -> pl.DataFrame:
    """Calendar-year values of one series (columns ``ds``, ``y`` and ``by``) by its catalog rule.

    The one implementation of the rule: history, simulated paths (``by=("sample_id",)``) and derived series
    all total the same way. ``n`` is how many of the ``need`` periods of each year were present; with
    ``complete_only`` only complete years are returned.
    """
    lf = frame.lazy().with_columns(pl.col("ds").dt.year().alias("year"))
    keys = [*by, "year"]
    if spec.annual_agg == "quarter_end_3mma_x3":
        lf = lf.filter(pl.col("ds").dt.month().is_in([3, 6, 9, 12]))
        need, value = 4, pl.col("y").sum() * 3.0
    else:
        need = spec.season_length
        value = {
            "sum": pl.col("y").sum(),
            "mean": pl.col("y").mean(),
            "last": pl.col("y").sort_by("ds").last(),
        }[spec.annual_agg]
    out = lf.group_by(keys).agg(value.alias("y"), pl.col("y").is_not_null().sum().alias("n"))
    out = out.with_columns(pl.lit(need).alias("need"))
    if complete_only:
        out = out.filter(pl.col("n") == need)
    return out.sort(keys).collect()
