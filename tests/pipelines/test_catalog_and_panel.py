from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.catalog import CATALOG, UnknownSeriesError, get_spec
from pipelines.errors import DataValidationError
from pipelines.panel import as_of, load_panel, summarise
from pipelines.sources import find_gaps, load_snapshot_series
from tests.conftest import REAL_DATA_DIR


def test_catalog_has_at_least_20_series_with_stable_ids() -> None:
    assert len(CATALOG) >= 20
    for sid, spec in CATALOG.items():
        assert re.fullmatch(r"[a-z0-9_]+", sid), sid
        assert spec.id == sid
        assert spec.publication_lag_days > 0
        for part in spec.parts:
            assert part in CATALOG and not CATALOG[part].is_derived
        if not spec.is_derived:
            assert (REAL_DATA_DIR / spec.file).is_file(), spec.file


def test_unknown_series_error_lists_valid_ids() -> None:
    with pytest.raises(UnknownSeriesError) as exc:
        get_spec("wsts_mars_sales")
    assert "wsts_worldwide_sales" in str(exc.value)


def test_real_panel_schema_and_uniqueness(real_panel: pl.DataFrame) -> None:
    assert real_panel.columns == ["unique_id", "ds", "y", "period_end", "published"]
    assert real_panel.select(pl.struct("unique_id", "ds").is_duplicated().any()).item() is False
    assert real_panel["y"].null_count() == 0
    assert (real_panel["published"] > real_panel["period_end"]).all()
    assert set(real_panel["unique_id"].unique()) == set(CATALOG)


def test_worldwide_sales_coverage_and_its_one_known_gap(real_panel: pl.DataFrame) -> None:
    s = summarise(real_panel, get_spec("wsts_worldwide_sales"))
    assert (s.first, s.last) == (date(2010, 1, 1), date(2025, 12, 1))
    assert s.gaps == [date(2025, 8, 1)]
    assert s.observations == 191


def test_hyperscaler_total_only_where_every_company_reported(real_panel: pl.DataFrame) -> None:
    total = real_panel.filter(pl.col("unique_id") == "capex_hyperscalers_total")
    parts = real_panel.filter(pl.col("unique_id").is_in(list(get_spec("capex_hyperscalers_total").parts)))
    complete = parts.group_by("ds").agg(pl.len().alias("n"), pl.col("y").sum().alias("sum")).filter(pl.col("n") == 5)
    assert sorted(total["ds"].to_list()) == sorted(complete["ds"].to_list())
    joined = total.join(complete, on="ds")
    assert (joined["y"] - joined["sum"]).abs().max() == 0
    # Amazon's 2017Q4 is missing in the source, so the total has that gap too.
    assert date(2017, 10, 1) in find_gaps(get_spec("capex_hyperscalers_total"), total)


def test_total_published_only_when_last_company_published(real_panel: pl.DataFrame) -> None:
    total = real_panel.filter(pl.col("unique_id") == "capex_hyperscalers_total")
    oracle = real_panel.filter(pl.col("unique_id") == "capex_oracle").select("ds", pl.col("published").alias("p"))
    j = total.join(oracle, on="ds")
    assert (j["published"] >= j["p"]).all()


def test_as_of_returns_only_published_rows(real_panel: pl.DataFrame) -> None:
    cut = date(2019, 11, 30)
    view = as_of(real_panel, cut)
    assert view["published"].max() <= cut  # type: ignore[operator]
    ws = view.filter(pl.col("unique_id") == "wsts_worldwide_sales")
    # September 2019 data was out in early November; October's came in December.
    assert ws["ds"].max() == date(2019, 9, 1)


def test_fiscal_quarters_keep_their_true_period_end(real_panel: pl.DataFrame) -> None:
    oracle = real_panel.filter((pl.col("unique_id") == "capex_oracle") & (pl.col("ds") == date(2025, 7, 1)))
    assert oracle["period_end"].item() == date(2025, 8, 31)
    nvda = real_panel.filter((pl.col("unique_id") == "nvidia_revenue") & (pl.col("ds") == date(2026, 1, 1)))
    assert nvda["period_end"].item() == date(2026, 4, 30)


def _corrupt(data_dir: Path, rel: str, old: str, new: str) -> None:
    p = data_dir / rel
    text = p.read_text()
    assert old in text
    p.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("2010-03-01,23.27", "2010-03-01,abc", "value 'abc' is not a number"),
        ("2010-03-01,23.27", "2010-13-01,23.27", "is not an ISO date"),
        ("2010-03-01,23.27", "2010-02-01,23.27", "duplicate period 2010-02-01"),
        ("2010-03-01,23.27", "2010-03-01,-23.27", "is negative"),
        ("2010-03-01,23.27", "2010-03-15,23.27", "not the first day of a monthly period"),
    ],
)
def test_corrupt_snapshot_is_rejected_with_file_and_line(
    data_copy: Path, old: str, new: str, problem: str
) -> None:
    _corrupt(data_copy, "raw/market/wsts_monthly_sales_worldwide.csv", old, new)
    with pytest.raises(DataValidationError) as exc:
        load_snapshot_series(get_spec("wsts_worldwide_sales"), data_copy)
    assert problem in str(exc.value)
    assert "wsts_monthly_sales_worldwide.csv" in str(exc.value)
    assert exc.value.line is not None and exc.value.line >= 2


def test_missing_column_in_snapshot(data_copy: Path) -> None:
    p = data_copy / "raw/market/fred_IPG3344S.csv"
    p.write_text(p.read_text().replace("date,value", "day,value", 1))
    with pytest.raises(DataValidationError, match="missing column"):
        load_panel(["fred_ipg3344s"], data_dir=data_copy)
