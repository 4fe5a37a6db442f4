"""Calendar-year totals: backward-looking, one rule per series from the catalog."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.catalog import get_spec
from pipelines.features import annual_totals
from pipelines.panel import as_of


def _perturb_after(panel: pl.DataFrame, cut: date, seed: int) -> pl.DataFrame:
    """Scramble every figure published after ``cut`` (and add a fake later print and period per series)."""
    rng = np.random.default_rng(seed)
    late = pl.col("published") > cut
    noise = pl.Series(rng.uniform(0.1, 10.0, panel.height))
    changed = panel.with_columns(pl.when(late).then(pl.col("y") * noise).otherwise(pl.col("y")).alias("y"))
    last = panel.group_by("unique_id").agg(pl.all().sort_by("ds").last())
    future_period = last.with_columns(
        pl.col("ds").dt.offset_by("1y"),
        pl.col("period_end").dt.offset_by("1y"),
        pl.col("published").dt.offset_by("1y"),
        pl.lit(123456.0).alias("y"),
    ).select(panel.columns)
    # a revision of an already-published period, printed after the cut
    revision = last.with_columns(
        pl.max_horizontal(pl.col("published"), pl.lit(cut)).dt.offset_by("1d").alias("published"),
        pl.lit(-7.0).alias("y"),
    ).select(panel.columns)
    return pl.concat([changed, future_period, revision])


@pytest.mark.parametrize("cut", [date(2016, 6, 30), date(2019, 11, 30), date(2026, 3, 15)])
@pytest.mark.parametrize("series_id", ["wsts_worldwide_sales", "capex_meta", "census_a34sti"])
def test_annual_totals_as_of_a_date_ignore_everything_published_later(
    real_vintages: pl.DataFrame, cut: date, series_id: str
) -> None:
    panel = real_vintages.select("unique_id", "ds", "y", "period_end", "published")
    spec = get_spec(series_id)
    base = annual_totals(as_of(panel, cut), spec, complete_only=False)
    perturbed = annual_totals(as_of(_perturb_after(panel, cut, seed=cut.toordinal()), cut), spec, complete_only=False)
    assert_frame_equal(base, perturbed)
    assert base.height > 0 and base["published"].max() <= cut  # type: ignore[operator]


# ------------------------------------------------------------------------------------------ calendar years


def test_calendar_year_totals_reproduce_announced_wsts_annual_sales(real_panel: pl.DataFrame) -> None:
    """Real-data check: 3 x (Mar+Jun+Sep+Dec 3MMA) vs the annual totals SIA announced (first vintage)."""
    totals = annual_totals(real_panel, get_spec("wsts_worldwide_sales"))
    annual = real_panel.filter(pl.col("unique_id") == "wsts_total_sales_annual").select(
        pl.col("ds").dt.year().cast(pl.Int64).alias("year"), pl.col("y").alias("announced")
    )
    j = totals.join(annual, on="year")
    assert j.height >= 16
    rel = ((j["y"] / j["announced"]) - 1).abs()
    assert rel.max() < 0.006  # type: ignore[operator]  # within 0.6% in every year (vintage revisions and rounding)
    assert 2025 in j["year"].to_list()  # the Aug-2025 gap does not block the 2025 total
    assert 2026 not in totals["year"].to_list()  # September and December 2026 are not published


def test_annual_totals_report_how_many_needed_periods_each_year_has(real_panel: pl.DataFrame) -> None:
    spec = get_spec("wsts_worldwide_sales")
    out = annual_totals(real_panel.lazy(), spec, complete_only=False)
    row = out.filter(pl.col("year") == 2026).row(0, named=True)
    assert (row["y"], row["n_periods"], row["n_needed"]) == (None, 2, 4)  # March and June 2026 only
    y2025 = out.filter(pl.col("year") == 2025).row(0, named=True)
    assert y2025["y"] == pytest.approx(3 * (55.6 + 59.9 + 69.5 + 79.6))
    capex = annual_totals(real_panel, get_spec("capex_hyperscalers_total"), complete_only=False)
    assert capex.filter(pl.col("year") == 2026).select("n_periods", "n_needed").row(0) == (2, 4)


def test_annual_rules_sum_mean_last_on_synthetic_paths() -> None:
    """Synthetic: two simulated monthly paths; ``by=("sample_id",)`` totals each path with the same rule."""
    ds = pl.date_range(date(2027, 1, 1), date(2028, 6, 1), "1mo", eager=True).to_list()
    paths = pl.DataFrame({
        "sample_id": [0] * len(ds) + [1] * len(ds),
        "ds": ds * 2,
        "y": [float(i) for i in range(len(ds))] + [10.0 * i for i in range(len(ds))],
    })
    total = annual_totals(paths, get_spec("tsmc_revenue"), by=("sample_id",))  # rule: sum
    assert total.select("year", "sample_id", "y").rows() == [(2027, 0, 66.0), (2027, 1, 660.0)]
    mean = annual_totals(paths, get_spec("fred_ipg3344s"), by=("sample_id",))  # rule: mean
    assert mean["y"].to_list() == [5.5, 55.0]
    last = annual_totals(paths, get_spec("census_a34sti"), by=("sample_id",))  # rule: last (December)
    assert last["y"].to_list() == [11.0, 110.0]
    wsts = annual_totals(paths, get_spec("wsts_worldwide_sales"), by=("sample_id",))  # 3 x quarter ends
    assert wsts["y"].to_list() == [3.0 * (2 + 5 + 8 + 11), 30.0 * (2 + 5 + 8 + 11)]
    assert (wsts["n_periods"] == 4).all() and (wsts["n_needed"] == 4).all()


def test_annual_totals_refuse_several_values_for_one_period(real_vintages: pl.DataFrame) -> None:
    with pytest.raises(ValueError, match="several values for one period"):
        annual_totals(real_vintages, get_spec("wsts_worldwide_sales"))
    # the vintage frame as known on a date is one value per period again
    view = as_of(real_vintages, date(2026, 2, 20))
    dec = annual_totals(view, get_spec("wsts_worldwide_sales")).filter(pl.col("year") == 2025)
    assert dec["y"].item() == pytest.approx(3 * (55.6 + 59.9 + 69.5 + 78.9))  # December's first print
