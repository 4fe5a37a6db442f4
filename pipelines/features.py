"""Calendar-year totals by the catalog's rule, backward-looking.

:func:`annual_totals` is the one implementation of the catalog's calendar-year rule; the forecasting
layer totals simulated paths with it (``by=("sample_id",)``) so published and forecast years are
aggregated identically.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from pipelines.catalog import SeriesSpec

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
