"""No look-ahead: what is computed for a date never depends on anything published after it."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.features import (
    build_features,
    calendar_year_totals,
    known_at,
    monthly_to_quarterly,
    regular_grid,
    yoy_growth_expr,
)
from pipelines.panel import as_of


def _perturb_after(panel: pl.DataFrame, cut: date, seed: int) -> pl.DataFrame:
    """Scramble every figure published after ``cut`` (and add a fake future row per series)."""
    rng = np.random.default_rng(seed)
    late = pl.col("published") > cut
    noise = pl.Series(rng.uniform(0.1, 10.0, panel.height))
    changed = panel.with_columns(pl.when(late).then(pl.col("y") * noise).otherwise(pl.col("y")).alias("y"))
    extra = (
        panel.group_by("unique_id")
        .agg(pl.all().sort_by("ds").last())
        .with_columns(
            pl.col("ds").dt.offset_by("1y"),
            pl.col("period_end").dt.offset_by("1y"),
            pl.col("published").dt.offset_by("1y"),
            pl.lit(123456.0).alias("y"),
        )
        .select(panel.columns)
    )
    return pl.concat([changed, extra])


@pytest.mark.parametrize("cut", [date(2016, 6, 30), date(2019, 11, 30), date(2023, 2, 14)])
def test_features_as_of_a_date_ignore_everything_published_later(real_panel: pl.DataFrame, cut: date) -> None:
    base = build_features(real_panel, cut)
    perturbed = build_features(_perturb_after(real_panel, cut, seed=cut.toordinal()), cut)
    assert base.keys() == perturbed.keys()
    for key in base:
        assert_frame_equal(base[key], perturbed[key])
    for key, frame in base.items():
        if "published" in frame.columns and frame.height:
            assert frame["published"].max() <= cut, key  # type: ignore[operator]


def test_series_features_are_backward_looking_on_the_full_panel(real_panel: pl.DataFrame) -> None:
    """Even without as_of, a feature at period t only uses periods <= t of its own series."""
    cut = date(2020, 1, 1)
    full = build_features(real_panel)["monthly"].filter(pl.col("ds") <= cut)
    future_scrambled = real_panel.with_columns(
        pl.when(pl.col("ds") > cut).then(pl.col("y") * 7.0).otherwise(pl.col("y")).alias("y")
    )
    again = build_features(future_scrambled)["monthly"].filter(pl.col("ds") <= cut)
    assert_frame_equal(full, again)


def test_yoy_across_a_gap_is_null_not_wrong() -> None:
    """Synthetic: a monthly series with one missing month; YoY a year after the gap must be null."""
    ds = pl.date_range(date(2020, 1, 1), date(2021, 12, 1), "1mo", eager=True)
    synthetic = pl.DataFrame({"unique_id": "synthetic", "ds": ds, "y": np.arange(1.0, 25.0)}).filter(
        pl.col("ds") != date(2020, 6, 1)
    )
    grid = regular_grid(synthetic.lazy(), "monthly").with_columns(yoy_growth_expr(12)).collect()
    assert grid.height == 24  # the gap is a row with null y, never a filled value
    assert grid.filter(pl.col("ds") == date(2020, 6, 1))["y"].item() is None
    assert grid.filter(pl.col("ds") == date(2021, 6, 1))["y_yoy"].item() is None
    assert grid.filter(pl.col("ds") == date(2021, 7, 1))["y_yoy"].item() == pytest.approx(19 / 7 - 1)


def test_known_at_respects_publication_lag(real_panel: pl.DataFrame) -> None:
    days = pl.Series([date(2024, 1, 15), date(2024, 2, 20), date(2024, 5, 31)])
    k = known_at(real_panel, "capex_hyperscalers_total", days)
    # Q4-2023 capex (Oracle's Sep-Nov quarter out early Jan; others late Jan/early Feb) is not known mid-January
    assert k["source_ds"].to_list() == [date(2023, 7, 1), date(2023, 10, 1), date(2024, 1, 1)]
    pub = real_panel.filter(pl.col("unique_id") == "capex_hyperscalers_total")
    for at, src in zip(k["at"], k["source_ds"], strict=True):
        assert pub.filter(pl.col("ds") == src)["published"].item() <= at


def test_monthly_to_quarterly_uses_only_complete_quarters(real_panel: pl.DataFrame) -> None:
    q = monthly_to_quarterly(real_panel, "wsts_worldwide_sales")
    # 2025-08 is a gap: a quarter needs all three months published, so 2025Q3 is not produced
    assert date(2025, 7, 1) not in q["ds"].to_list()
    assert q.filter(pl.col("ds") == date(2025, 10, 1))["y"].item() == pytest.approx(3 * 78.9)


def test_calendar_year_totals_reproduce_announced_wsts_annual_sales(real_panel: pl.DataFrame) -> None:
    """Real-data check: 3 x (Mar+Jun+Sep+Dec 3MMA) vs the annual totals SIA announced (first vintage)."""
    totals = calendar_year_totals(real_panel, "wsts_worldwide_sales")
    annual = real_panel.filter(pl.col("unique_id") == "wsts_total_sales_annual").select(
        pl.col("ds").dt.year().alias("year"), pl.col("y").alias("announced")
    )
    j = totals.join(annual, on="year")
    assert j.height >= 15
    rel = ((j["y"] / j["announced"]) - 1).abs()
    assert rel.max() < 0.006  # within 0.6% in every year (vintage revisions and rounding)
    assert 2025 in j["year"].to_list()  # the Aug-2025 gap does not block the 2025 total


def test_as_of_is_monotone(real_panel: pl.DataFrame) -> None:
    a = as_of(real_panel, date(2020, 1, 1))
    b = as_of(real_panel, date(2021, 1, 1))
    assert a.join(b, on=["unique_id", "ds"], how="anti").height == 0
    assert b.height > a.height
