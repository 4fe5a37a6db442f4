"""True vintages: values as printed on a date, revisions as later prints, derived series on both frames."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.catalog import get_spec
from pipelines.panel import as_of, latest, load_panel
from pipelines.sources import PANEL_SCHEMA, combine_prints, sum_of_parts
from pipelines.store import LocalStore, ingest
from tests.conftest import REAL_DATA_DIR

WSTS = "wsts_worldwide_sales"
MAX = 100_000


def _value(panel: pl.DataFrame, sid: str, ds: date) -> float:
    rows = panel.filter((pl.col("unique_id") == sid) & (pl.col("ds") == ds))
    assert rows.height == 1, rows
    return rows["y"].item()


def test_acceptance_december_2025_as_known_on_two_dates(real_vintages: pl.DataFrame) -> None:
    """December 2025: first print 78.9 (released early February 2026), revised to 79.6 in the January
    2026 release (early March); no low-confidence print is ever returned."""
    feb = as_of(real_vintages, date(2026, 2, 20))
    apr = as_of(real_vintages, date(2026, 4, 1))
    assert _value(feb, WSTS, date(2025, 12, 1)) == 78.9
    assert _value(apr, WSTS, date(2025, 12, 1)) == 79.6
    for cut in (date(2026, 2, 20), date(2026, 4, 1), date(2026, 10, 20), date(2030, 1, 1)):
        view = as_of(real_vintages, cut).filter(pl.col("unique_id") == WSTS)
        values = dict(zip(view["ds"].to_list(), view["y"].to_list(), strict=True))
        assert date(2025, 8, 1) not in values and date(2026, 8, 1) not in values
        assert values.get(date(2026, 7, 1)) in (None, 146.8)  # never the LOW revision 147.9


def test_vintage_frame_has_one_row_per_print(real_vintages: pl.DataFrame) -> None:
    ws = real_vintages.filter(pl.col("unique_id") == WSTS)
    june = ws.filter(pl.col("ds") == date(2026, 6, 1)).select("y", "published").rows()
    # first print 134.5 in the Q2 release (month end + 38 days), 137.9 in the July release
    assert june == [(134.5, date(2026, 8, 7)), (137.9, date(2026, 9, 7))]
    july_2025 = ws.filter(pl.col("ds") == date(2025, 7, 1)).select("y", "published").rows()
    assert july_2025[0] == (62.1, date(2025, 9, 7)) and july_2025[-1] == (62.5, date(2026, 9, 7))
    # a month printed twice in one release (text 28.07, table 28.072) is one print: the more precise one
    jul14 = ws.filter(pl.col("ds") == date(2014, 7, 1))
    assert jul14["y"][0] == 28.072 and jul14["published"].n_unique() == jul14.height
    # series without vintage data: one row per period in both frames
    tsmc = real_vintages.filter(pl.col("unique_id") == "tsmc_revenue")
    assert tsmc["ds"].is_unique().all()


def test_earliest_print_found_stands_in_for_a_missing_first_print(real_vintages: pl.DataFrame) -> None:
    """Feb 2010 is known only from the Feb-2011 release; it is dated at its own release and flagged."""
    feb10 = real_vintages.filter((pl.col("unique_id") == WSTS) & (pl.col("ds") == date(2010, 2, 1)))
    first = feb10.row(0, named=True)
    assert first["published"] == date(2010, 4, 7)
    assert "FIRST_PRINT_MISSING" in first["flags"]
    own = real_vintages.filter((pl.col("unique_id") == WSTS) & (pl.col("ds") == date(2025, 12, 1)))
    assert all("FIRST_PRINT_MISSING" not in f for f in own["flags"].to_list())


def test_latest_of_the_vintage_frame_is_the_default_frame(
    real_vintages: pl.DataFrame, real_panel: pl.DataFrame
) -> None:
    assert_frame_equal(latest(real_vintages).select(list(PANEL_SCHEMA)), real_panel)
    assert_frame_equal(latest(real_panel), real_panel)


def test_default_frame_gives_latest_value_first_publication(real_panel: pl.DataFrame) -> None:
    dec = real_panel.filter((pl.col("unique_id") == WSTS) & (pl.col("ds") == date(2025, 12, 1))).row(0, named=True)
    assert (dec["y"], dec["published"]) == (79.6, date(2026, 2, 7))
    # as_of on the default frame: the period appears on its first publication, with today's value
    assert _value(as_of(real_panel, date(2026, 2, 20)), WSTS, date(2025, 12, 1)) == 79.6


def test_base_months_keep_the_shipped_value_except_documented_revisions(real_panel: pl.DataFrame) -> None:
    main = pl.read_csv(REAL_DATA_DIR / "raw/market/wsts_monthly_sales_worldwide.csv",
                       schema_overrides={"date": pl.Date}).filter(pl.col("value").is_not_null())
    j = main.join(real_panel.filter(pl.col("unique_id") == WSTS), left_on="date", right_on="ds")
    assert j.height == main.height
    changed = j.filter(pl.col("value") != pl.col("y")).select("date", "value", "y").rows()
    # revised 2025 months printed in 2026 releases (SIA/WSTS via the update's observations file)
    assert changed == [
        (date(2025, 4, 1), 57.0, 56.9),
        (date(2025, 5, 1), 59.0, 59.1),
        (date(2025, 7, 1), 62.1, 62.5),
        (date(2025, 12, 1), 78.9, 79.6),
    ]


def test_first_prints_reproduce_the_quarterly_totals_sia_printed(real_vintages: pl.DataFrame) -> None:
    """Real-data check: 3 x the quarter-end 3MMA as known on the quarterly release day = SIA's quarter."""
    totals = pl.read_csv(REAL_DATA_DIR / "raw/update_2026/wsts_quarterly_totals_2026.csv",
                         schema_overrides={"date": pl.Date})
    for ds, value in totals.select("date", "value_usd_bn").rows():
        quarter_end = date(ds.year, ds.month + 2, 1)
        known = as_of(real_vintages, get_spec(WSTS).nominal_published(quarter_end))
        assert 3 * _value(known, WSTS, quarter_end) == pytest.approx(value, rel=1.5e-3), ds


# ------------------------------------------------------------------------------------------ derived series


@pytest.fixture
def revised_store(tmp_path: Path) -> LocalStore:
    """A store with one ingested revision of Meta's 2026Q2 capex (synthetic value, +1%)."""
    store = LocalStore(tmp_path / "store")
    f = tmp_path / "meta.csv"
    f.write_text("date,value\n2026-04-01,30417\n")
    ingest(store, "capex_meta", f, REAL_DATA_DIR, MAX)
    return store


def test_an_ingested_revision_is_a_later_print_dated_by_its_ingestion(revised_store: LocalStore) -> None:
    today = datetime.now(UTC).date()
    v = load_panel(["capex_meta", "capex_hyperscalers_total"], data_dir=REAL_DATA_DIR, store=revised_store,
                   vintages=True, detail=True)
    meta = v.filter((pl.col("unique_id") == "capex_meta") & (pl.col("ds") == date(2026, 4, 1)))
    assert meta.select("y", "published").rows() == [(30116.0, date(2026, 8, 4)), (30417.0, today)]
    assert meta["flags"].to_list()[-1] == ["INGESTED"]
    # the total gets a print on each date any part got one, valued with the parts as known then
    total = v.filter((pl.col("unique_id") == "capex_hyperscalers_total") & (pl.col("ds") == date(2026, 4, 1)))
    assert total.select("y", "published").rows() == [(181_543.0, date(2026, 8, 4)), (181_844.0, today)]
    assert total["flags"].to_list()[-1] == ["INGESTED", "SECONDARY"]  # Oracle FY2026Q4 is SECONDARY
    # as known before the ingestion day: the snapshot value; default frame: the revision, first date
    assert _value(as_of(v, date(2026, 9, 1)), "capex_hyperscalers_total", date(2026, 4, 1)) == 181_543.0
    default = load_panel(["capex_hyperscalers_total"], data_dir=REAL_DATA_DIR, store=revised_store)
    row = default.filter(pl.col("ds") == date(2026, 4, 1)).row(0, named=True)
    assert (row["y"], row["published"]) == (181_844.0, date(2026, 8, 4))


def test_derived_totals_as_of_equal_totals_of_parts_as_of(revised_store: LocalStore) -> None:
    spec = get_spec("capex_hyperscalers_total")
    v = load_panel([*spec.parts, spec.id], data_dir=REAL_DATA_DIR, store=revised_store, vintages=True)
    for cut in (date(2020, 3, 1), date(2026, 5, 6), date(2026, 9, 1), date(2031, 1, 1)):
        view = as_of(v, cut)
        parts = {p: view.filter(pl.col("unique_id") == p) for p in spec.parts}
        rebuilt = sum_of_parts(spec, parts).select(list(PANEL_SCHEMA))
        direct = view.filter(pl.col("unique_id") == spec.id)
        assert_frame_equal(direct.sort("ds"), rebuilt.sort("ds"), check_row_order=True)


def test_combine_prints_on_synthetic_revisions() -> None:
    """Synthetic: a revised by a later print, b published late; the ratio re-prints when a is revised."""
    a = pl.DataFrame({"ds": [date(2020, 1, 1)] * 2, "y": [10.0, 12.0], "period_end": [date(2020, 1, 31)] * 2,
                      "published": [date(2020, 2, 10), date(2020, 4, 1)]})
    b = pl.DataFrame({"ds": [date(2020, 1, 1)], "y": [2.0], "period_end": [date(2020, 1, 31)],
                      "published": [date(2020, 3, 1)]})
    out = combine_prints([a.lazy(), b.lazy()], lambda ys: ys[0] / ys[1], "synthetic_ratio").collect()
    assert out.select("y", "published").rows() == [(5.0, date(2020, 3, 1)), (6.0, date(2020, 4, 1))]
