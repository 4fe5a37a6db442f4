from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from pipelines.catalog import CATALOG, Frequency, UnknownSeriesError, get_spec
from pipelines.errors import DataValidationError
from pipelines.panel import as_of, load_panel, series_status, summarise
from pipelines.sources import PANEL_SCHEMA, excluded_prints, find_gaps, load_snapshot_series
from tests.conftest import REAL_DATA_DIR

# ------------------------------------------------------------------------------------------ catalog


def test_catalog_has_at_least_20_series_with_stable_ids() -> None:
    assert len(CATALOG) >= 20
    for sid, spec in CATALOG.items():
        assert re.fullmatch(r"[a-z0-9_]+", sid), sid
        assert spec.id == sid
        assert spec.publication_lag_days > 0
        assert isinstance(spec.frequency, Frequency) and spec.frequency == spec.frequency.value
        assert spec.currency in (None, "USD", "KRW", "TWD")
        assert spec.vintages in ("true", "latest")
        for part in spec.parts:
            assert part in CATALOG and not CATALOG[part].is_derived
        if not spec.is_derived:
            assert spec.files, sid
            for f in spec.files:
                assert (REAL_DATA_DIR / f).is_file(), f


def test_money_series_carry_their_currency() -> None:
    assert get_spec("skhynix_revenue").currency == "KRW"
    assert get_spec("samsung_ds_revenue").currency == "KRW"
    assert get_spec("tsmc_revenue").currency == "TWD"
    assert get_spec("wsts_worldwide_sales").currency == "USD"
    assert get_spec("korea_semiconductor_exports").currency == "USD"
    assert get_spec("fred_ipg3344s").currency is None  # an index is not money
    assert get_spec("fx_krw_per_usd").currency is None  # a rate is not money either


def test_only_wsts_worldwide_has_true_vintages() -> None:
    assert [s.id for s in CATALOG.values() if s.vintages == "true"] == ["wsts_worldwide_sales"]


def test_unknown_series_error_lists_valid_ids() -> None:
    with pytest.raises(UnknownSeriesError) as exc:
        get_spec("wsts_mars_sales")
    assert "wsts_worldwide_sales" in str(exc.value)


# ------------------------------------------------------------------------------------------ Frequency


def test_frequency_is_a_string_enum_with_its_arithmetic() -> None:
    m, q, a = Frequency.MONTHLY, Frequency.QUARTERLY, Frequency.ANNUAL
    assert m == "monthly" and {"monthly": 1}[m] == 1  # old string comparisons and dict lookups keep working
    assert (m.periods_per_year, q.periods_per_year, a.periods_per_year) == (12, 4, 1)
    assert (m.interval, q.interval, a.interval) == ("1mo", "1q", "1y")
    assert (m.months, q.months, a.months) == (1, 3, 12)
    assert (m.pandas_freq, q.pandas_freq, a.pandas_freq) == ("MS", "QS-JAN", "YS-JAN")
    assert m.offset(date(2025, 11, 1), 3) == date(2026, 2, 1)
    assert q.offset(date(2026, 1, 1), -1) == date(2025, 10, 1)
    assert a.offset(date(2024, 1, 1), 2) == date(2026, 1, 1)
    assert m.periods_between(date(2025, 11, 1), date(2026, 2, 1)) == 3
    assert q.periods_between(date(2026, 7, 1), date(2025, 10, 1)) == -3
    assert m.period_end(date(2024, 2, 1)) == date(2024, 2, 29)
    assert q.period_end(date(2026, 10, 1)) == date(2026, 12, 31)
    assert a.period_end(date(2025, 1, 1)) == date(2025, 12, 31)


def test_frequency_refuses_dates_that_are_not_period_starts() -> None:
    with pytest.raises(ValueError, match="not the first day of a quarterly period"):
        Frequency.QUARTERLY.offset(date(2026, 2, 1), 1)
    with pytest.raises(ValueError, match="not the first day of a monthly period"):
        Frequency.MONTHLY.period_end(date(2026, 2, 15))


def test_frequency_expression_agrees_with_the_python_check() -> None:
    days = pl.date_range(date(2025, 1, 1), date(2026, 12, 31), "1d", eager=True)
    for f in Frequency:
        expected = [f.is_period_start(d) for d in days.to_list()]
        got = days.to_frame("ds").select(f.period_start_expr())["ds"].to_list()
        assert got == expected, f


def test_annual_period_months_follow_the_rule() -> None:
    assert get_spec("wsts_worldwide_sales").annual_period_months == (3, 6, 9, 12)
    assert get_spec("census_a34sti").annual_period_months == (12,)  # "last": December only
    assert get_spec("capex_meta").annual_period_months == (1, 4, 7, 10)
    assert get_spec("tsmc_revenue").annual_period_months == tuple(range(1, 13))


# ------------------------------------------------------------------------------------------ default panel


def test_real_panel_schema_and_uniqueness(real_panel: pl.DataFrame) -> None:
    assert real_panel.columns == ["unique_id", "ds", "y", "period_end", "published"]
    assert real_panel.schema == pl.Schema(PANEL_SCHEMA)
    assert real_panel.select(pl.struct("unique_id", "ds").is_duplicated().any()).item() is False
    assert real_panel["y"].null_count() == 0
    assert (real_panel["published"] > real_panel["period_end"]).all()
    assert set(real_panel["unique_id"].unique()) == set(CATALOG)


def test_worldwide_sales_coverage_and_its_one_known_gap(real_panel: pl.DataFrame) -> None:
    s = summarise(real_panel, get_spec("wsts_worldwide_sales"))
    assert (s.first, s.last) == (date(2010, 1, 1), date(2026, 7, 1))
    assert s.gaps == [date(2025, 8, 1)]
    assert s.observations == 198


# series, first, last, number of gaps, last value: the coverage the 2026 update gives (see data/SOURCES.md)
COVERAGE = [
    ("tsmc_revenue", date(2015, 9, 1), date(2026, 9, 1), 0, 511_860.0),
    ("capex_microsoft", date(2015, 1, 1), date(2026, 4, 1), 0, 35_802.0),
    ("capex_alphabet", date(2015, 1, 1), date(2026, 4, 1), 0, 44_924.0),
    ("capex_amazon", date(2017, 7, 1), date(2026, 4, 1), 1, 54_208.0),
    ("capex_meta", date(2015, 1, 1), date(2026, 4, 1), 0, 30_116.0),
    ("capex_oracle", date(2015, 4, 1), date(2026, 7, 1), 0, 28_500.0),
    ("capex_hyperscalers_total", date(2017, 7, 1), date(2026, 4, 1), 1, 35_802 + 44_924 + 54_208 + 30_116 + 16_493.0),
    ("nvidia_datacenter_revenue", date(2014, 1, 1), date(2026, 4, 1), 0, 89_023.0),
    ("nvidia_revenue", date(2014, 1, 1), date(2026, 4, 1), 0, 96_221.0),
    ("micron_revenue", date(2009, 10, 1), date(2026, 7, 1), 0, 54_230.0),
    ("skhynix_revenue", date(2013, 1, 1), date(2026, 4, 1), 17, 79.3187),
    ("skhynix_operating_profit", date(2013, 1, 1), date(2026, 4, 1), 16, 60.5426),
    ("samsung_ds_revenue", date(2023, 7, 1), date(2026, 4, 1), 4, 127.5),
    ("samsung_ds_operating_profit", date(2023, 7, 1), date(2026, 4, 1), 3, 89.2),
    ("korea_semiconductor_exports", date(2013, 1, 1), date(2026, 8, 1), 0, 46_670.721377),
    ("korea_semiconductor_exports_flash_d10", date(2025, 7, 1), date(2026, 9, 1), 0, 16_483.056),
    ("korea_semiconductor_exports_flash_d20", date(2025, 7, 1), date(2026, 9, 1), 0, 34_100.0),
    ("trendforce_dram_contract_price_qoq", date(2025, 10, 1), date(2026, 1, 1), 0, 95.5),
    ("fx_krw_per_usd", date(1981, 4, 1), date(2026, 9, 1), 0, 1351.1),
    ("fx_twd_per_usd", date(1983, 10, 1), date(2026, 7, 1), 0, 32.2168),
]


@pytest.mark.parametrize(("sid", "first", "last", "n_gaps", "last_value"), COVERAGE, ids=[c[0] for c in COVERAGE])
def test_coverage_after_the_2026_update(
    real_panel: pl.DataFrame, sid: str, first: date, last: date, n_gaps: int, last_value: float
) -> None:
    s = summarise(real_panel, get_spec(sid))
    assert (s.first, s.last, len(s.gaps)) == (first, last, n_gaps)
    assert s.last_value == pytest.approx(last_value, rel=1e-12)


def test_korea_exports_have_164_months_without_gaps(real_panel: pl.DataFrame) -> None:
    s = summarise(real_panel, get_spec("korea_semiconductor_exports"))
    assert s.observations == 164 and s.gaps == []


def test_documented_winners_replace_rounded_and_fill_gaps(real_panel: pl.DataFrame) -> None:
    def value(sid: str, ds: date) -> float:
        return real_panel.filter((pl.col("unique_id") == sid) & (pl.col("ds") == ds))["y"].item()

    assert value("skhynix_revenue", date(2025, 10, 1)) == 32.8267  # was 32.83
    assert value("skhynix_revenue", date(2025, 7, 1)) == 24.4489  # was 24.45
    assert value("skhynix_operating_profit", date(2025, 7, 1)) == 11.3834  # was a gap (">11 trillion")
    assert value("skhynix_operating_profit", date(2025, 10, 1)) == 19.1696
    assert value("samsung_ds_operating_profit", date(2025, 10, 1)) == 16.4  # was a gap
    assert value("capex_oracle", date(2026, 4, 1)) == 16_493  # kept over a secondary ~15.9bn
    # the 2025 SK hynix quarters now sum to the annual figure in the base file (97.146675)
    q = real_panel.filter((pl.col("unique_id") == "skhynix_revenue") & (pl.col("ds").dt.year() == 2025))
    assert q.height == 4 and q["y"].sum() == pytest.approx(97.146675, abs=1e-3)


def test_low_confidence_rows_never_enter_the_default_panel(real_panel: pl.DataFrame) -> None:
    ws = real_panel.filter(pl.col("unique_id") == "wsts_worldwide_sales")
    assert date(2025, 8, 1) not in ws["ds"].to_list()  # the gap stays: its only print (65.4) is LOW
    assert date(2026, 8, 1) not in ws["ds"].to_list()  # 159.7 is LOW
    assert ws.filter(pl.col("ds") == date(2026, 7, 1))["y"].item() == 146.8  # not the LOW revision 147.9
    excluded = excluded_prints(get_spec("wsts_worldwide_sales"), REAL_DATA_DIR)
    assert sorted(zip(excluded["ds"].to_list(), excluded["y"].to_list(), strict=True)) == [
        (date(2025, 8, 1), 65.4), (date(2026, 7, 1), 147.9), (date(2026, 8, 1), 159.7)
    ]


def test_hyperscaler_total_only_where_every_company_reported(real_panel: pl.DataFrame) -> None:
    total = real_panel.filter(pl.col("unique_id") == "capex_hyperscalers_total")
    parts = real_panel.filter(pl.col("unique_id").is_in(list(get_spec("capex_hyperscalers_total").parts)))
    complete = parts.group_by("ds").agg(pl.len().alias("n"), pl.col("y").sum().alias("sum")).filter(pl.col("n") == 5)
    assert sorted(total["ds"].to_list()) == sorted(complete["ds"].to_list())
    joined = total.join(complete, on="ds")
    assert (joined["y"] - joined["sum"]).abs().max() == 0
    # Amazon's 2017Q4 is missing in the source, so the total has that gap too; 2026Q3 lacks four companies
    assert date(2017, 10, 1) in find_gaps(get_spec("capex_hyperscalers_total"), total)
    assert total["ds"].max() == date(2026, 4, 1)


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
    def end(sid: str, ds: date) -> date:
        return real_panel.filter((pl.col("unique_id") == sid) & (pl.col("ds") == ds))["period_end"].item()

    assert end("capex_oracle", date(2025, 7, 1)) == date(2025, 8, 31)
    assert end("capex_oracle", date(2026, 7, 1)) == date(2026, 8, 31)  # FY2027Q1 (Jun-Aug 2026)
    assert end("nvidia_revenue", date(2026, 1, 1)) == date(2026, 4, 30)  # base file: "late Apr 2026"
    assert end("nvidia_revenue", date(2026, 4, 1)) == date(2026, 7, 26)  # update: exact fiscal end
    assert end("micron_revenue", date(2026, 7, 1)) == date(2026, 9, 3)


def test_flash_figures_are_dated_by_their_partial_period(real_panel: pl.DataFrame) -> None:
    def row(sid: str) -> dict[str, object]:
        return real_panel.filter((pl.col("unique_id") == sid) & (pl.col("ds") == date(2026, 9, 1))).row(0, named=True)

    d10, d20 = row("korea_semiconductor_exports_flash_d10"), row("korea_semiconductor_exports_flash_d20")
    assert (d10["period_end"], d10["published"]) == (date(2026, 9, 10), date(2026, 9, 11))
    assert (d20["period_end"], d20["published"]) == (date(2026, 9, 20), date(2026, 9, 21))
    # never spliced: the monthly series has no September 2026, the flashes do
    monthly = real_panel.filter(pl.col("unique_id") == "korea_semiconductor_exports")
    assert monthly["ds"].max() == date(2026, 8, 1)
    assert get_spec("korea_semiconductor_exports_flash_d10").nowcast_only
    assert not get_spec("korea_semiconductor_exports").nowcast_only


# ------------------------------------------------------------------------------------------ flags


def _flags(panel: pl.DataFrame, sid: str, ds: date) -> list[str]:
    return panel.filter((pl.col("unique_id") == sid) & (pl.col("ds") == ds))["flags"].to_list()[-1]


def test_secondary_and_rounded_rows_are_flagged_per_observation() -> None:
    detail = load_panel(data_dir=REAL_DATA_DIR, detail=True)
    assert detail.columns == [*PANEL_SCHEMA, "flags", "y_low", "y_high"]
    assert _flags(detail, "capex_oracle", date(2026, 7, 1)) == ["SECONDARY", "ROUNDED"]
    assert _flags(detail, "tsmc_revenue", date(2026, 8, 1)) == ["ROUNDED"]
    assert _flags(detail, "tsmc_revenue", date(2026, 9, 1)) == ["ROUNDED"]
    assert _flags(detail, "tsmc_revenue", date(2026, 7, 1)) == []
    assert _flags(detail, "samsung_ds_revenue", date(2026, 1, 1)) == ["SECONDARY"]
    assert _flags(detail, "samsung_ds_revenue", date(2026, 4, 1)) == []  # verbatim release quote
    assert _flags(detail, "fx_krw_per_usd", date(2026, 9, 1)) == ["ROUNDED"]
    assert _flags(detail, "korea_semiconductor_exports_flash_d20", date(2026, 9, 1)) == ["ROUNDED"]
    assert _flags(detail, "wsts_worldwide_sales", date(2026, 2, 1)) == ["SECONDARY"]
    # "existing file has 32.83 (same figure, rounded)" describes the replaced value, not this one
    assert _flags(detail, "skhynix_revenue", date(2025, 10, 1)) == []
    # the flags are also stated in the catalog notes
    assert "SECONDARY" in get_spec("capex_oracle").notes and "ROUNDED" in get_spec("capex_oracle").notes
    assert "ROUNDED" in get_spec("tsmc_revenue").notes and "SECONDARY" in get_spec("samsung_ds_revenue").notes


def test_default_shape_is_unchanged_without_detail(real_panel: pl.DataFrame) -> None:
    detail = load_panel(["tsmc_revenue", "capex_oracle"], data_dir=REAL_DATA_DIR, detail=True)
    plain = real_panel.filter(pl.col("unique_id").is_in(["tsmc_revenue", "capex_oracle"]))
    assert detail.select(list(PANEL_SCHEMA)).equals(plain)


def test_contract_prices_are_measured_outcomes_with_their_printed_range() -> None:
    p = load_panel(["trendforce_dram_contract_price_qoq"], data_dir=REAL_DATA_DIR, detail=True)
    rows = p.select("ds", "y", "y_low", "y_high", "published").rows()
    # only 'actual' statements: 4Q25 +45~50% (published 2026-02-26), 1Q26 +93~98% (date not printed:
    # quarter end + 62 days). Forecasts such as 1Q26 "+90~95%" or 2Q26 "+58~63%" never appear.
    assert rows == [
        (date(2025, 10, 1), 47.5, 45.0, 50.0, date(2026, 2, 26)),
        (date(2026, 1, 1), 95.5, 93.0, 98.0, date(2026, 6, 1)),
    ]


# ------------------------------------------------------------------------------------------ freshness


def test_series_status_on_a_fixed_day(real_panel: pl.DataFrame) -> None:
    today = date(2026, 12, 1)
    ws = series_status(real_panel, get_spec("wsts_worldwide_sales"), today)
    # July 2026 was public on 2026-09-07; August's figure was due 2026-10-08 (the LOW print does not count)
    assert (ws.last_observation, ws.last_published, ws.next_expected_release) == (
        date(2026, 7, 1), date(2026, 9, 7), date(2026, 10, 8))
    assert ws.staleness_days == 54
    # a fiscal quarter moves by one period from its true end: Micron FY2026Q4 ended 2026-09-03 (27-day lag)
    mu = series_status(real_panel, get_spec("micron_revenue"), today)
    assert mu.next_expected_release == date(2026, 12, 30) and mu.staleness_days == 0
    nv = series_status(real_panel, get_spec("nvidia_datacenter_revenue"), today)
    assert nv.next_expected_release == date(2026, 11, 23) and nv.staleness_days == 8
    # a day-10 flash: next due on the 11th of the following month
    fl = series_status(real_panel, get_spec("korea_semiconductor_exports_flash_d10"), today)
    assert fl.next_expected_release == date(2026, 10, 11) and fl.staleness_days == 51
    # the summary the API uses agrees
    s = summarise(real_panel, get_spec("wsts_worldwide_sales"))
    assert s.next_expected == ws.next_expected_release and s.staleness_days(today) == ws.staleness_days


def test_series_status_of_an_empty_series() -> None:
    status = series_status(pl.DataFrame(schema=PANEL_SCHEMA), get_spec("fred_ipg3344s"), date(2026, 12, 1))
    assert (status.last_observation, status.staleness_days) == (None, None)


# ------------------------------------------------------------------------------------------ bad snapshot files


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
        ("2010-03-01,23.27", "2010-03-01,-23.27", "is negative"),
        ("2010-03-01,23.27", "2010-03-15,23.27", "not the first day of a monthly period"),
        ("6795-semi-sales-up-86-yoy-in-march,2011-03", "x,2011/03", "release_reference_month '2011/03'"),
        ("2010-03-01,23.27", "2010-03-01,29.27", "differs by more than its rounding"),
    ],
)
def test_corrupt_snapshot_is_rejected_with_file_and_line(
    data_copy: Path, old: str, new: str, problem: str
) -> None:
    _corrupt(data_copy, "raw/market/wsts_monthly_sales_worldwide.csv", old, new)
    with pytest.raises(DataValidationError) as exc:
        load_snapshot_series(get_spec("wsts_worldwide_sales"), data_copy)
    assert problem in str(exc.value)
    assert "wsts_monthly_sales_worldwide.csv" in str(exc.value) or "observations" in str(exc.value)
    assert exc.value.line is not None and exc.value.line >= 2


def test_duplicate_period_in_a_latest_series_file(data_copy: Path) -> None:
    _corrupt(data_copy, "raw/market/tsmc_monthly_revenue.csv", "2015-10-01,", "2015-09-01,")
    with pytest.raises(DataValidationError, match="duplicate period 2015-09-01") as exc:
        load_snapshot_series(get_spec("tsmc_revenue"), data_copy)
    assert exc.value.line == 2


def test_inverted_price_range_is_rejected(data_copy: Path) -> None:
    _corrupt(data_copy, "raw/update_2026/memory_price_statements_2023_2026.csv", "actual,45,50", "actual,50,45")
    with pytest.raises(DataValidationError, match="low end above its high end"):
        load_panel(["trendforce_dram_contract_price_qoq"], data_dir=data_copy)


def test_missing_column_in_snapshot(data_copy: Path) -> None:
    p = data_copy / "raw/market/fred_IPG3344S.csv"
    p.write_text(p.read_text().replace("date,value", "day,value", 1))
    with pytest.raises(DataValidationError, match="missing column"):
        load_panel(["fred_ipg3344s"], data_dir=data_copy)


_RELEASED = re.compile(r"\b(?:reported|released|published|announced)\s+(?:on\s+)?(\d{4}-\d{2}-\d{2})")


def test_no_figure_is_dated_before_the_release_its_raw_row_records() -> None:
    """Where a raw row's note records the release date ("reported 2026-09-30"), the panel must not date the
    figure earlier: a publication lag shorter than that release lets an as-of view see it before it was public
    (Micron FY2026Q4 and SK hynix 2026Q2 were 2 days and 1 day early)."""
    panel = load_panel(data_dir=REAL_DATA_DIR, vintages=True)
    checked = 0
    for sid, spec in CATALOG.items():
        metric = (spec.filter or {}).get("metric")
        if spec.is_derived or metric is None:
            continue
        for f in spec.files:
            raw = pl.read_csv(REAL_DATA_DIR / f, infer_schema=False)
            if not {"note", "metric", "date"} <= set(raw.columns):
                continue
            for r in raw.filter(pl.col("metric") == metric).iter_rows(named=True):
                m = _RELEASED.search(r["note"] or "")
                if m is None:
                    continue
                rows = panel.filter(pl.col("unique_id") == sid, pl.col("ds") == date.fromisoformat(r["date"]))
                assert rows.height, (sid, r["date"])
                assert min(rows["published"].to_list()) >= date.fromisoformat(m.group(1)), (sid, r["date"], m.group(1))
                checked += 1
    assert checked >= 3  # Micron FY2026Q4, SK hynix 2026Q1 and 2026Q2
