"""Cross-series indicators, the regular grid and calendar-year totals, all backward-looking.

Every cross-series indicator is stamped public only once its last input is (``published`` = the date
of the newest input print it uses), and on a vintage panel it gets a new print whenever an input is
revised. Combined with :func:`pipelines.panel.as_of`, nothing computed for a date can see a figure
published after it.

:func:`annual_totals` is the one implementation of the catalog's calendar-year rule; the forecasting
layer totals simulated paths with it (``by=("sample_id",)``) so published and forecast years are
aggregated identically.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from pipelines.catalog import Frequency, SeriesSpec, get_spec
from pipelines.sources import combine_prints

# ---------------------------------------------------------------- regular grid


def regular_grid(panel: pl.LazyFrame, frequency: Frequency | str) -> pl.LazyFrame:
    """One row per period between each series' first and last observation; gaps become null ``y``.

    Shift-based features on a regular grid are correct across gaps (the lag of the month after a gap is
    null, not the month before it). Nothing is filled: the null stays null. (utilsforecast's
    ``fill_gaps`` does the same for the forecasting layer; this polars version keeps ``pipelines`` free
    of modelling dependencies.) Expects one row per period (the default panel or an as-of view).
    """
    interval = Frequency(frequency).interval
    grid = (
        panel.group_by("unique_id")
        .agg(pl.date_ranges(pl.col("ds").min(), pl.col("ds").max(), interval).alias("ds"))
        .explode("ds")
    )
    return grid.join(panel, on=["unique_id", "ds"], how="left").sort("unique_id", "ds")


# ---------------------------------------------------------------- cross-series indicators


def _prints(panel: pl.LazyFrame, series_id: str) -> pl.LazyFrame:
    return panel.filter(pl.col("unique_id") == series_id).select("ds", "y", "period_end", "published")


def ratio_indicator(panel: pl.LazyFrame, name: str, numerator: str, denominator: str) -> pl.LazyFrame:
    """``numerator / denominator`` per common period, public when both inputs are."""
    return combine_prints(
        [_prints(panel, numerator), _prints(panel, denominator)], lambda ys: ys[0] / ys[1], name
    )


def yoy_indicator(panel: pl.LazyFrame, name: str, series_id: str) -> pl.LazyFrame:
    """YoY growth matched by calendar date (a gap a year earlier gives no value, never a wrong one)."""
    get_spec(series_id)
    s = _prints(panel, series_id)
    year_ago = s.with_columns(pl.col("ds").dt.offset_by("1y"))
    return combine_prints([s, year_ago], lambda ys: ys[0] / ys[1] - 1.0, name)


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
    """Cross-series indicators in the panel's long format, with publication dates.

    On the default panel: one row per period. On a vintage panel: one row per print of any input.
    """
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
    return pl.concat(parts).sort("unique_id", "ds", "published").collect()


# ---------------------------------------------------------------- calendar years


def _annual_value(spec: SeriesSpec) -> pl.Expr:
    y = pl.col("y")
    return {
        "sum": y.sum(),
        "mean": y.mean(),
        "last": y.sort_by("ds").last(),
        # a 3-month moving average at each quarter end covers that quarter: the year is 3 x their sum
        "quarter_end_3mma_x3": y.sum() * 3.0,
    }[spec.annual_agg]


def annual_totals(
    frame: pl.LazyFrame | pl.DataFrame,
    spec: SeriesSpec,
    by: Sequence[str] = (),
    *,
    complete_only: bool = True,
) -> pl.DataFrame:
    """Calendar-year values of one series by its catalog rule, per ``year`` and any ``by`` columns.

    The rule reads the periods in ``spec.annual_period_months`` (every period for ``sum``/``mean``, the
    year's last period for ``last``, March/June/September/December for the WSTS 3-month moving average,
    whose year is exactly 3 x their sum, so a missing non-quarter-end month does not block the year).

    ``frame`` holds ``ds``, ``y`` (and ``unique_id``, then only ``spec.id`` rows are used) with one value
    per period and ``by`` group: the default panel, an as-of view, or simulated paths with a
    ``sample_id``. Null ``y`` counts as missing. Returns ``year``, ``by``..., ``y``, ``n_periods`` (how many
    of the needed periods the year has), ``n_needed`` and ``published`` (the newest input publication, if
    the frame has that column). ``complete_only`` keeps only complete years; otherwise incomplete years
    are kept with ``y`` null.
    """
    lf = frame.lazy()
    names = lf.collect_schema().names()
    if "unique_id" in names:
        lf = lf.filter(pl.col("unique_id") == spec.id)
    months = list(spec.annual_period_months)
    keys = ["year", *by]
    aggs = [
        _annual_value(spec).alias("y"),
        pl.col("ds").n_unique().cast(pl.Int64).alias("n_periods"),
        pl.len().cast(pl.Int64).alias("_rows"),
    ]
    if "published" in names:
        aggs.append(pl.col("published").max())
    out = (
        lf.filter(pl.col("y").is_not_null() & pl.col("ds").dt.month().is_in(months))
        .with_columns(pl.col("ds").dt.year().cast(pl.Int64).alias("year"))
        .group_by(keys)
        .agg(aggs)
        .with_columns(pl.lit(len(months), dtype=pl.Int64).alias("n_needed"))
        .with_columns(pl.when(pl.col("n_periods") == pl.col("n_needed")).then(pl.col("y")).alias("y"))
        .sort(keys)
        .collect()
    )
    if out.filter(pl.col("_rows") != pl.col("n_periods")).height:
        raise ValueError(
            f"annual_totals({spec.id}): several values for one period; pass one value per period "
            "(latest() or as_of() of a vintage panel), or name the path column in `by`"
        )
    if complete_only:
        out = out.filter(pl.col("y").is_not_null())
    cols = [*keys, "y", "n_periods", "n_needed"] + (["published"] if "published" in names else [])
    return out.select(cols)


def calendar_year_totals(panel: pl.DataFrame, series_id: str) -> pl.DataFrame:
    """``year``, ``y``, ``published`` of complete calendar years (thin wrapper of :func:`annual_totals`)."""
    return annual_totals(panel, get_spec(series_id)).select("year", "y", "published")
