"""Currency conversion, capex guidance and memory-price loaders on the real snapshot."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from pipelines.catalog import get_spec
from pipelines.errors import DataValidationError
from pipelines.fx import CurrencyError, to_usd
from pipelines.guidance import load_capex_guidance
from pipelines.panel import as_of
from pipelines.prices import load_contract_price_statements, load_dram_spot
from service.cli import app
from tests.conftest import REAL_DATA_DIR

# ------------------------------------------------------------------------------------------ to_usd


def _series(panel: pl.DataFrame, sid: str) -> pl.DataFrame:
    return panel.filter(pl.col("unique_id") == sid).sort("ds")


def _rate(panel: pl.DataFrame, sid: str, month: date) -> float:
    return panel.filter((pl.col("unique_id") == sid) & (pl.col("ds") == month))["y"].item()


def test_quarterly_krw_uses_the_mean_of_the_three_monthly_averages(real_panel: pl.DataFrame) -> None:
    hynix = _series(real_panel, "skhynix_revenue")
    usd, note = to_usd(hynix, get_spec("skhynix_revenue"), real_panel)
    q2 = usd.filter(pl.col("ds") == date(2026, 4, 1)).row(0, named=True)
    rate = sum(_rate(real_panel, "fx_krw_per_usd", date(2026, m, 1)) for m in (4, 5, 6)) / 3
    assert q2["fx_rate"] == pytest.approx(rate)
    assert q2["y"] == pytest.approx(79.3187 * 1000 / rate)  # KRW trn -> US$ bn
    assert not q2["fx_carried_forward"]
    assert usd.height == hynix.height and usd["y"].null_count() == 0
    assert "mean of the 3 monthly average rates" in note and "EXKOUS" in note and "US$ bn" in note
    assert "Not yet published" not in note


def test_unpublished_rate_is_carried_forward_and_said_so(real_panel: pl.DataFrame) -> None:
    """TWD averages end 2026-07; TSMC's Aug/Sep 2026 revenue is converted at July's rate."""
    usd, note = to_usd(_series(real_panel, "tsmc_revenue"), get_spec("tsmc_revenue"), real_panel)
    july_rate = _rate(real_panel, "fx_twd_per_usd", date(2026, 7, 1))
    tail = usd.filter(pl.col("ds") >= date(2026, 7, 1)).select("ds", "y", "fx_rate", "fx_carried_forward").rows()
    assert tail == [
        (date(2026, 7, 1), pytest.approx(467_580.548 / july_rate), july_rate, False),
        (date(2026, 8, 1), pytest.approx(514_810 / july_rate), july_rate, True),
        (date(2026, 9, 1), pytest.approx(511_860 / july_rate), july_rate, True),
    ]
    assert "Not yet published for 2026-08-01, 2026-09-01" in note and "2026-07" in note


def test_conversion_as_of_a_date_uses_only_rates_published_by_then(real_panel: pl.DataFrame) -> None:
    view = as_of(real_panel, date(2026, 8, 5))  # July KRW average is due 2026-08-07
    usd, note = to_usd(_series(view, "skhynix_revenue"), get_spec("skhynix_revenue"), view)
    q2 = usd.filter(pl.col("ds") == date(2026, 4, 1)).row(0, named=True)
    assert not q2["fx_carried_forward"]  # April-June were all published by then
    hist = _series(view, "fx_krw_per_usd")
    assert hist["ds"].max() == date(2026, 6, 1)
    assert "rates published through 2026-06" in note


def test_usd_series_pass_through_and_non_money_is_refused(real_panel: pl.DataFrame) -> None:
    ws = _series(real_panel, "wsts_worldwide_sales")
    same, note = to_usd(ws, get_spec("wsts_worldwide_sales"), real_panel)
    assert same.equals(ws) and "no conversion" in note
    with pytest.raises(CurrencyError, match="not a money series"):
        to_usd(_series(real_panel, "fred_ipg3344s"), get_spec("fred_ipg3344s"), real_panel)
    with pytest.raises(CurrencyError, match="no KRW rate"):
        to_usd(_series(real_panel, "skhynix_revenue"), get_spec("skhynix_revenue"),
               real_panel.filter(pl.col("unique_id") != "fx_krw_per_usd"))


def test_periods_before_the_first_rate_stay_empty() -> None:
    """Synthetic: a KRW quarter before the first synthetic rate is left null, never guessed."""
    rates = pl.DataFrame({"unique_id": "fx_krw_per_usd", "ds": [date(2020, 4, 1), date(2020, 5, 1), date(2020, 6, 1)],
                          "y": [1200.0, 1210.0, 1220.0], "published": [date(2020, 6, 1)] * 3})
    frame = pl.DataFrame({"ds": [date(2020, 1, 1), date(2020, 4, 1)], "y": [10.0, 12.0]})
    out, note = to_usd(frame, get_spec("skhynix_revenue"), rates)
    assert out["y"][0] is None and out["y"][1] == pytest.approx(12_000 / 1210.0)
    assert "left empty" in note


def test_cli_show_currency_usd() -> None:
    r = CliRunner().invoke(app, ["data", "show", "skhynix_revenue", "--currency", "USD", "--json", "--tail", "2"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    assert body["shown_unit"] == "US$ bn" and "EXKOUS" in body["conversion"]
    assert body["observations_tail"][-1]["value"] == pytest.approx(52.86, abs=0.01)
    r = CliRunner().invoke(app, ["data", "show", "fred_ipg3344s", "--currency", "USD"])
    assert r.exit_code == 2 and "not a money series" in r.output
    r = CliRunner().invoke(app, ["data", "show", "tsmc_revenue", "--currency", "EUR"])
    assert r.exit_code == 2 and "USD only" in r.output


# ------------------------------------------------------------------------------------------ guidance


def test_capex_guidance_rows_are_dated_statements_with_flags() -> None:
    g = load_capex_guidance(REAL_DATA_DIR)
    assert set(g["company"]) == {"Alphabet", "Amazon", "Meta Platforms", "Microsoft", "Oracle", "TSMC"}
    meta = g.filter(pl.col("company") == "Meta Platforms").select("date_stated", "low_usd_bn", "high_usd_bn").rows()
    assert meta == [(date(2026, 1, 28), 115.0, 135.0), (date(2026, 4, 29), 125.0, 145.0),
                    (date(2026, 7, 29), 130.0, 145.0)]
    msft = g.filter(pl.col("company") == "Microsoft")
    assert all("CONFLICTING" in f for f in msft["flags"].to_list())
    tsmc_july = g.filter((pl.col("company") == "TSMC") & (pl.col("date_stated") == date(2026, 7, 16)))
    assert "SECONDARY" in tsmc_july["flags"].item()
    amazon_feb = g.filter((pl.col("company") == "Amazon") & (pl.col("date_precision") == "month"))
    assert amazon_feb["date_stated"].item() == date(2026, 2, 28) and "DATE_APPROXIMATE" in amazon_feb["flags"].item()
    oracle = g.filter(pl.col("company") == "Oracle").row(0, named=True)
    assert oracle["low_usd_bn"] is None and "NO_NUMBER" in oracle["flags"]
    # context rows (NVIDIA on its customers, an analyst consensus) only on request
    everything = load_capex_guidance(REAL_DATA_DIR, include_context=True)
    context = everything.filter(pl.col("flags").list.contains("CONTEXT_ONLY"))
    assert context.height == 2 and everything.height == g.height + 2


def test_bad_guidance_file_names_the_line(data_copy: Path) -> None:
    p = data_copy / "raw/update_2026/capex_guidance_2026.csv"
    p.write_text(p.read_text().replace("2026-07-22,Alphabet", "2026-22-07,Alphabet", 1))
    with pytest.raises(DataValidationError, match="date_stated '2026-22-07'") as exc:
        load_capex_guidance(data_copy)
    assert exc.value.line == 4


# ------------------------------------------------------------------------------------------ memory prices


def test_only_measured_contract_price_outcomes_by_default() -> None:
    actual = load_contract_price_statements(REAL_DATA_DIR)
    assert set(actual["kind"]) == {"actual"}
    assert actual.select("fiscal_period", "metric", "mid_pct").rows() == [
        ("2025Q4", "conventional_dram_contract_price_change", 47.5),
        ("2026Q1", "conventional_dram_contract_price_change", 95.5),
        ("2025Q4", "dram_incl_hbm_contract_price_change", 52.5),
    ]
    everything = load_contract_price_statements(
        REAL_DATA_DIR, kinds=("actual", "estimate", "forecast", "forecast_revision", "forecast_confirmed"))
    assert everything.height == 36


def test_dram_spot_drops_repeated_scrapes() -> None:
    spot = load_dram_spot(REAL_DATA_DIR)
    ddr5 = spot.filter(pl.col("product") == "ddr5_16gb_spot_session_avg")
    scraped = ddr5.filter(~pl.col("flags").list.contains("SECONDARY"))
    days = scraped["date"].to_list()
    # weekend repeats of Friday's session are gone (12-13 Sep, 26-27 Sep, 3-4 Oct 2026) ...
    for repeated in (date(2026, 9, 12), date(2026, 9, 13), date(2026, 9, 26), date(2026, 10, 3)):
        assert repeated not in days
    # ... a weekday whose page equals the previous scrape is a repeat too; one with any change is kept
    # (24 scrape days, 8 repeats: 12, 13, 18, 23, 26, 27 Sep, 3, 4 Oct)
    assert date(2026, 9, 18) not in days and date(2026, 9, 25) in days
    assert scraped.height == 24 - 8 and scraped["price_usd"].to_list()[-1] == 58.067
    bofa = spot.filter(pl.col("flags").list.contains("SECONDARY"))
    assert bofa["date"].unique().to_list() == [date(2026, 7, 16)] and bofa.height == 4


def test_a_mistyped_statement_date_is_an_error_not_an_unprinted_one(data_copy: Path) -> None:
    """A blank date means "not printed"; a typo used to read as blank and drop the statement's as-of date."""
    p = data_copy / "raw/update_2026/memory_price_statements_2023_2026.csv"
    text = p.read_text()
    assert text.splitlines()[1].startswith("2023-03-28,")
    p.write_text(text.replace("2023-03-28,", "2023-28-03,", 1))
    with pytest.raises(DataValidationError, match="date '2023-28-03' is not an ISO date") as exc:
        load_contract_price_statements(data_copy)
    assert exc.value.line == 2


def test_the_price_series_dates_a_month_only_statement_at_the_months_end_and_refuses_a_typo(
        data_copy: Path) -> None:
    from pipelines.panel import load_panel

    sid = "trendforce_dram_contract_price_qoq"
    p = data_copy / "raw/update_2026/memory_price_statements_2023_2026.csv"
    text = p.read_text()
    row = "2026-02-26,TrendForce,conventional_dram_contract_price_change,2025Q4,actual,"
    assert row in text
    p.write_text(text.replace(row, row.replace("2026-02-26", "2026-02"), 1))
    prints = load_panel([sid], data_dir=data_copy, vintages=True)
    assert prints.filter(pl.col("ds") == date(2025, 10, 1))["published"].to_list() == [date(2026, 2, 28)]
    p.write_text(text.replace(row, row.replace("2026-02-26", "2026-26-02"), 1))
    with pytest.raises(DataValidationError, match="date '2026-26-02' is not an ISO date") as exc:
        load_panel([sid], data_dir=data_copy, vintages=True)
    assert exc.value.line == 25
