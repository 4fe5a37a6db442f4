"""The series catalog: every series chipcast knows, where it comes from and when it becomes public.

The catalog is the single place that says how raw files become a series, so that loaders, the as-of view,
calendar-year totals, currency conversion and the API all agree on units, frequency, currency and
publication lag. :class:`Frequency` is the single place for period arithmetic (period starts, ends,
offsets, periods per year), so no other module hand-rolls ``{"monthly": 12, ...}`` tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Literal

import polars as pl

AnnualAgg = Literal["sum", "mean", "last", "quarter_end_3mma_x3"]
#: ISO codes of the currencies chipcast's money series are published in (``None`` on a spec: not money).
Currency = Literal["USD", "KRW", "TWD"]
#: ``"true"``: the raw files give each period's value as printed in each release (real vintages);
#: ``"latest"``: one value per period, the latest one found (revisions cannot be unwound).
VintageKind = Literal["true", "latest"]


class Frequency(StrEnum):
    """How often a series is published; a ``str`` so ``spec.frequency == "monthly"`` keeps working.

    Periods are identified by their first day (``ds``). Every method takes and returns period starts and
    refuses any other date, because silently truncating a mid-period date is how off-by-one-period bugs
    creep into backtests.
    """

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"

    @property
    def months(self) -> int:
        """Calendar months per period."""
        return {"monthly": 1, "quarterly": 3, "annual": 12}[self.value]

    @property
    def periods_per_year(self) -> int:
        """Periods in a calendar year; also the season length of seasonal models."""
        return 12 // self.months

    @property
    def interval(self) -> str:
        """The polars interval string (``date_range``, ``offset_by``, statsforecast's ``freq``)."""
        return {"monthly": "1mo", "quarterly": "1q", "annual": "1y"}[self.value]

    @property
    def pandas_freq(self) -> str:
        """pandas offset alias anchored on calendar period starts (only for engines that need pandas)."""
        return {"monthly": "MS", "quarterly": "QS-JAN", "annual": "YS-JAN"}[self.value]

    @property
    def start_months(self) -> tuple[int, ...]:
        """Months in which a period starts (1..12 monthly; 1, 4, 7, 10 quarterly; 1 annual)."""
        return tuple(range(1, 13, self.months))

    def is_period_start(self, d: date) -> bool:
        return d.day == 1 and d.month in self.start_months

    def _check(self, d: date) -> None:
        if not self.is_period_start(d):
            raise ValueError(f"{d.isoformat()} is not the first day of a {self.value} period")

    def offset(self, d: date, n: int) -> date:
        """The period start ``n`` periods after (``n < 0``: before) the period starting at ``d``."""
        self._check(d)
        m = d.year * 12 + (d.month - 1) + n * self.months
        return date(m // 12, m % 12 + 1, 1)

    def periods_between(self, a: date, b: date) -> int:
        """How many periods ``b`` is after ``a`` (negative if before); both are period starts."""
        self._check(a)
        self._check(b)
        return ((b.year - a.year) * 12 + (b.month - a.month)) // self.months

    def period_end(self, d: date) -> date:
        """The last day of the period starting at ``d``."""
        return self.offset(d, 1) - timedelta(days=1)

    def period_start_expr(self, col: str = "ds") -> pl.Expr:
        """True where ``col`` is the first day of a period (the polars twin of :meth:`is_period_start`)."""
        c = pl.col(col)
        return (c.dt.day() == 1) & c.dt.month().is_in(list(self.start_months))


@dataclass(frozen=True)
class SeriesSpec:
    """One series: identity, units, currency, cadence, publication timing and how its raw files are read.

    ``publication_lag_days`` is counted from the end of the period (or the company's fiscal period end
    where the raw file records it, or day ``partial_period_days`` for a partial-period flash) to the day
    the figure is typically public. The as-of view, staleness and the ingest "not published yet" check
    all use it, so a figure is never treated as known before it could have been.
    """

    id: str
    name: str
    unit: str
    frequency: Frequency
    source: str
    #: raw files under ``data/``, oldest first; for the same period a later file wins (see ``vintages``).
    files: tuple[str, ...]
    publication_lag_days: int
    annual_agg: AnnualAgg
    #: how the raw files are read: a loader name in ``pipelines.sources`` plus its row filter.
    loader: str
    filter: dict[str, str] = field(default_factory=dict)
    fiscal_calendar: str = "calendar periods"
    #: periods end on a fiscal calendar that the period's date cannot express (NVIDIA's quarter dated April
    #: ends in late July): raw rows carry ``period_end``, and an ingested file must too, or the figure would be
    #: dated from the calendar quarter's end (weeks too early for NVIDIA, weeks too late for Oracle and Micron).
    fiscal_periods: bool = False
    nonnegative: bool = True
    #: for derived totals: the component series that must all be present for a period.
    parts: tuple[str, ...] = ()
    #: currency of the amounts; ``None`` for indices, percentages, ratios and exchange rates.
    currency: Currency | None = None
    vintages: VintageKind = "latest"
    #: raw value / divisor = value in ``unit`` (e.g. 1e6 for a file in US$ shown in US$ m); arithmetic only.
    divisor: float = 1.0
    #: a cumulative flash covering days 1..N of the period: the period "ends" on day N.
    partial_period_days: int | None = None
    #: a nowcasting input only (e.g. a 10-day customs flash): never spliced into another series, never a target.
    nowcast_only: bool = False
    notes: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "frequency", Frequency(self.frequency))

    @property
    def file(self) -> str:
        """The first (base) raw file; ``""`` for a derived series."""
        return self.files[0] if self.files else ""

    @property
    def interval(self) -> str:
        return self.frequency.interval

    @property
    def season_length(self) -> int:
        return self.frequency.periods_per_year

    @property
    def is_derived(self) -> bool:
        return bool(self.parts)

    @property
    def annual_period_months(self) -> tuple[int, ...]:
        """Start months of the periods the calendar-year rule reads (the year is complete when all exist).

        ``sum``/``mean`` read every period; ``last`` reads only the year's final period; a 3-month moving
        average read x3 at quarter ends (WSTS) reads March, June, September and December.
        """
        if self.annual_agg == "quarter_end_3mma_x3":
            return (3, 6, 9, 12)
        if self.annual_agg == "last":
            return self.frequency.start_months[-1:]
        return self.frequency.start_months

    def nominal_period_end(self, ds: date) -> date:
        """Calendar end of the period at ``ds`` (day N for a partial-period flash)."""
        if self.partial_period_days is not None:
            return ds + timedelta(days=self.partial_period_days - 1)
        return self.frequency.period_end(ds)

    def nominal_published(self, ds: date) -> date:
        """When the figure for the period at ``ds`` normally becomes public (calendar period end + lag)."""
        return self.nominal_period_end(ds) + timedelta(days=self.publication_lag_days)

    def period_end_expr(self, col: str = "ds") -> pl.Expr:
        """Polars twin of :meth:`nominal_period_end`."""
        c = pl.col(col)
        if self.partial_period_days is not None:
            return c.dt.offset_by(f"{self.partial_period_days - 1}d")
        return c.dt.offset_by(self.interval).dt.offset_by("-1d")


M, Q, A = Frequency.MONTHLY, Frequency.QUARTERLY, Frequency.ANNUAL

_SIA = "Semiconductor Industry Association (SIA) press releases; data compiled by WSTS"
_WSTS_LAG = 38  # SIA publishes month M's 3MMA in the first week of month M+2
_FED_G17 = "Federal Reserve Board, G.17 Industrial Production and Capacity Utilization (via FRED)"
_CENSUS_M3 = "US Census Bureau, M3 survey: manufacturers' shipments, inventories and orders (via FRED)"
_SEC = "Company 10-Q/10-K filings to the SEC (XBRL companyfacts), cash paid for property & equipment"
_UPD = "raw/update_2026"
_KOREA = f"{_UPD}/korea_semiconductor_exports_monthly.csv"
_SAMSUNG = ("raw/memory/samsung_semiconductor_quarterly.csv", f"{_UPD}/samsung_semiconductor_quarterly_2026.csv")

_REGIONS = {
    "americas": "Americas",
    "europe": "Europe",
    "japan": "Japan",
    "china": "China",
    "asia_pacific": "Asia Pacific/All Other",
}

_HYPERSCALERS = {
    "microsoft": ("MSFT", "Microsoft", "fiscal year ends June; quarters coincide with calendar quarters"),
    "alphabet": ("GOOGL", "Alphabet", "calendar fiscal year"),
    "amazon": ("AMZN", "Amazon", "calendar fiscal year"),
    "meta": ("META", "Meta Platforms", "calendar fiscal year"),
    "oracle": (
        "ORCL",
        "Oracle",
        "fiscal year ends May; quarters ending Aug/Nov/Feb/May mapped to the calendar quarter holding the period end",
    ),
}

_CAPEX_NOTES = {
    "amazon": " 2015Q1-2017Q2 and 2017Q4 not found. 2025Q4-2026Q1 SECONDARY (flagged per observation).",
    "oracle": " 2026Q3 (FY2027Q1, Jun-Aug 2026) = 28,500 is SECONDARY and ROUNDED to US$0.1bn (flagged per "
    "observation); FY2026Q4 = 16,493 kept over a secondary ~15.9bn (documented winner).",
}


def _build() -> dict[str, SeriesSpec]:
    specs: list[SeriesSpec] = [
        SeriesSpec(
            id="wsts_worldwide_sales",
            name="Worldwide semiconductor sales (3-month moving average)",
            unit="US$ bn",
            frequency=M,
            source=_SIA,
            files=(
                "raw/market/wsts_monthly_sales_worldwide.csv",
                "raw/market/sia_wsts_monthly_sales_observations.csv",
                f"{_UPD}/wsts_monthly_sales_worldwide_2026.csv",
                f"{_UPD}/sia_wsts_monthly_sales_observations_2026.csv",
            ),
            publication_lag_days=_WSTS_LAG,
            annual_agg="quarter_end_3mma_x3",
            loader="wsts_prints",
            filter={"region": "Worldwide"},
            currency="USD",
            vintages="true",
            notes="3MMA; the calendar-year total is 3 x (Mar + Jun + Sep + Dec 3MMA). True vintages: every print "
            "of every release found, dated release month end + 38 days. 2025-08 not found (gap; the only print, "
            "65.4, is LOW confidence and excluded), 2026-08 (159.7) and the Aug-2026 release's July revision "
            "(147.9) are LOW confidence and excluded. 2026-01/02 and the Dec-2025 revision 79.6 are SECONDARY.",
        ),
    ]
    for key, region in _REGIONS.items():
        specs.append(
            SeriesSpec(
                id=f"wsts_{key}_sales",
                name=f"Semiconductor sales, {region} (3-month moving average)",
                unit="US$ bn",
                frequency=M,
                source=_SIA,
                files=("raw/market/wsts_monthly_sales_by_region.csv",),
                publication_lag_days=_WSTS_LAG,
                annual_agg="quarter_end_3mma_x3",
                loader="region",
                filter={"region": region},
                currency="USD",
                notes="Sparse: only months whose release copy was found; not forecast. No 2026 US$ levels found.",
            )
        )
    fred = [
        ("fred_ipg3344s", "IPG3344S", "Industrial production: semiconductors & other electronic components",
         "index 2017=100", _FED_G17, 17, "mean", None),
        ("fred_capg3344s", "CAPG3344S", "Capacity: semiconductors & other electronic components",
         "index 2017=100", _FED_G17, 17, "mean", None),
        ("fred_caputlg3344s", "CAPUTLG3344S", "Capacity utilization: semiconductors & other electronic components",
         "% of capacity", _FED_G17, 17, "mean", None),
        ("fred_pcu33443344", "PCU33443344", "PPI: semiconductor & other electronic component manufacturing",
         "index Dec-1984=100", "US Bureau of Labor Statistics, Producer Price Index (via FRED)", 14, "mean", None),
        ("census_a34sno", "A34SNO", "New orders: computers & electronic products",
         "US$ m (SA)", _CENSUS_M3, 35, "sum", "USD"),
        ("census_a34svs", "A34SVS", "Value of shipments: computers & electronic products",
         "US$ m (SA)", _CENSUS_M3, 35, "sum", "USD"),
        ("census_a34sti", "A34STI", "Total inventories: computers & electronic products",
         "US$ m (SA)", _CENSUS_M3, 35, "last", "USD"),
    ]
    for sid, code, name, unit, source, lag, agg, cur in fred:
        specs.append(
            SeriesSpec(
                id=sid,
                name=name,
                unit=unit,
                frequency=M,
                source=f"{source}; FRED series {code}",
                files=(f"raw/market/fred_{code}.csv",),
                publication_lag_days=lag,
                annual_agg=agg,  # type: ignore[arg-type]
                loader="date_value",
                currency=cur,  # type: ignore[arg-type]
            )
        )
    specs.append(
        SeriesSpec(
            id="tsmc_revenue",
            name="TSMC monthly consolidated net revenue",
            unit="NT$ m",
            frequency=M,
            source="TSMC monthly revenue reports (TWSE/MOPS via FinMind mirror; SEC 6-K and TSMC IR from 2025-10)",
            files=("raw/market/tsmc_monthly_revenue.csv", f"{_UPD}/tsmc_monthly_revenue_2025_2026.csv"),
            publication_lag_days=10,
            annual_agg="sum",
            loader="date_value",
            currency="TWD",
            notes="2026-08 and 2026-09 ROUNDED to NT$10m (printed NT$514.81bn / NT$511.86bn; flagged per "
            "observation).",
        )
    )
    for key, (ticker, company, fiscal) in _HYPERSCALERS.items():
        specs.append(
            SeriesSpec(
                id=f"capex_{key}",
                name=f"{company} capital expenditure (cash paid for PP&E)",
                unit="US$ m",
                frequency=Q,
                source=_SEC,
                files=("raw/capex/hyperscaler_capex_quarterly.csv", f"{_UPD}/hyperscaler_capex_quarterly_2026.csv"),
                publication_lag_days=35,
                annual_agg="sum",
                loader="company_metric",
                filter={"ticker": ticker, "metric": "capex_payments_for_ppe"},
                fiscal_calendar=fiscal,
                fiscal_periods=key == "oracle",
                currency="USD",
                notes="Excludes finance leases. 2026Q1 from a SECONDARY source." + _CAPEX_NOTES.get(key, ""),
            )
        )
    specs.append(
        SeriesSpec(
            id="capex_hyperscalers_total",
            name="Hyperscaler capex: Microsoft + Alphabet + Amazon + Meta + Oracle",
            unit="US$ m",
            frequency=Q,
            source=_SEC,
            files=(),
            publication_lag_days=35,
            annual_agg="sum",
            loader="sum_of_parts",
            parts=tuple(f"capex_{k}" for k in _HYPERSCALERS),
            currency="USD",
            notes="Only quarters where all five companies are present (Amazon gaps carry through); a total "
            "carries the flags of its parts.",
        )
    )
    specs.append(
        SeriesSpec(
            id="capex_hyperscalers_ex_amazon",
            name="Hyperscaler capex excluding Amazon: Microsoft + Alphabet + Meta + Oracle",
            unit="US$ m",
            frequency=Q,
            source=_SEC,
            files=(),
            publication_lag_days=35,
            annual_agg="sum",
            loader="sum_of_parts",
            parts=tuple(f"capex_{k}" for k in _HYPERSCALERS if k != "amazon"),
            currency="USD",
            notes="A longer (2015+) driver history than the five-company total.",
        )
    )
    for sid, metric, name in [
        ("nvidia_datacenter_revenue", "data_center_revenue", "NVIDIA data-center revenue"),
        ("nvidia_revenue", "total_revenue", "NVIDIA total revenue"),
    ]:
        specs.append(
            SeriesSpec(
                id=sid,
                name=name,
                unit="US$ m",
                frequency=Q,
                source="NVIDIA quarterly revenue by market segment (via Our World in Data; FY2027Q2 from the "
                "SEC 8-K release and CFO commentary)",
                files=("raw/capex/nvidia_revenue_quarterly.csv", f"{_UPD}/nvidia_revenue_quarterly_2026.csv"),
                publication_lag_days=28,
                annual_agg="sum",
                loader="company_metric",
                filter={"metric": metric},
                fiscal_calendar="fiscal year ends late January; dated by the calendar quarter of greatest overlap",
                fiscal_periods=True,
                currency="USD",
                notes="FY2027Q2 (ended 2026-07-26) dated 2026-04-01 by the file's convention. The new hyperscale "
                "(48,710) / ACIE (40,313) split of FY2027Q2 data-center revenue is one quarter only and not a series.",
            )
        )
    specs += [
        SeriesSpec(
            id="micron_revenue",
            name="Micron revenue (GAAP net sales)",
            unit="US$ m",
            frequency=Q,
            source="Micron 10-Q/10-K via financial-data pages (cross-checked to annual totals); FY2026Q4 from the "
            "release (accession 0000723125-26-000018)",
            files=("raw/memory/micron_quarterly.csv", f"{_UPD}/micron_quarterly_2026.csv"),
            publication_lag_days=27,  # FY2026Q4 reported 2026-09-30, 27 days after its 2026-09-03 end
            annual_agg="sum",
            loader="company_metric",
            filter={"metric": "revenue"},
            fiscal_calendar="fiscal year ends late Aug/early Sep; dated by the calendar quarter holding its end",
            fiscal_periods=True,
            currency="USD",
            notes="FY2026Q2-Q3 SECONDARY; FY2026Q4 = 54,230 ROUNDED to US$10m (printed $54.23bn).",
        ),
        SeriesSpec(
            id="micron_dram_revenue",
            name="Micron DRAM revenue",
            unit="US$ m",
            frequency=Q,
            source="Micron earnings releases (secondary transcription)",
            files=("raw/memory/micron_quarterly.csv",),
            publication_lag_days=27,  # FY2026Q4 reported 2026-09-30, 27 days after its 2026-09-03 end
            annual_agg="sum",
            loader="company_metric",
            filter={"metric": "dram_revenue"},
            fiscal_calendar="as micron_revenue",
            fiscal_periods=True,
            currency="USD",
            notes="Only six quarters (FY2025Q2-FY2026Q3), all SECONDARY; too short to forecast.",
        ),
        SeriesSpec(
            id="skhynix_revenue",
            name="SK hynix revenue (consolidated K-IFRS)",
            unit="KRW trn",
            frequency=Q,
            source="SK hynix earnings releases as reported by press (page per row); 2025Q3 on from the newsroom",
            files=("raw/memory/skhynix_quarterly.csv", f"{_UPD}/skhynix_quarterly_2026.csv"),
            publication_lag_days=29,  # 2026Q2 released 2026-07-29 (its raw row)
            annual_agg="sum",
            loader="company_metric",
            filter={"metric": "revenue"},
            currency="KRW",
            notes="Continuous 2019Q2-2026Q2; scattered before. 2025Q3/Q4 more-digit values (24.4489, 32.8267) "
            "replace the rounded 24.45 / 32.83 (documented winner).",
        ),
        SeriesSpec(
            id="skhynix_operating_profit",
            name="SK hynix operating profit",
            unit="KRW trn",
            frequency=Q,
            source="SK hynix earnings releases as reported by press (page per row); 2025Q3 on from the newsroom",
            files=("raw/memory/skhynix_quarterly.csv", f"{_UPD}/skhynix_quarterly_2026.csv"),
            publication_lag_days=29,  # 2026Q2 released 2026-07-29 (its raw row)
            annual_agg="sum",
            loader="company_metric",
            filter={"metric": "operating_profit"},
            nonnegative=False,
            currency="KRW",
            notes="2025Q3 = 11.3834 fills the former gap (matches DART-based 11,383,390,000,000 KRW); 2025Q4 "
            "19.1696 replaces the rounded 19.17. Net income is not an operating series and is not loaded.",
        ),
        SeriesSpec(
            id="samsung_ds_revenue",
            name="Samsung Device Solutions (semiconductor) revenue",
            unit="KRW trn",
            frequency=Q,
            source="Samsung Electronics segment disclosures (DART), releases and press",
            files=_SAMSUNG,
            publication_lag_days=30,
            annual_agg="sum",
            loader="company_metric",
            filter={"metric": "ds_revenue"},
            currency="KRW",
            notes="Sparse: 2023Q3, 2024Q2, 2024Q4, 2025Q1-Q3, 2026Q1-Q2; 2025Q4 not found (gap). 2026Q1 = 81.7 "
            "SECONDARY ONLY (release not retrieved). Not forecast.",
        ),
        SeriesSpec(
            id="samsung_ds_operating_profit",
            name="Samsung Device Solutions (semiconductor) operating profit",
            unit="KRW trn",
            frequency=Q,
            source="Samsung Electronics segment disclosures (DART), releases and press",
            files=_SAMSUNG,
            publication_lag_days=30,
            annual_agg="sum",
            loader="company_metric",
            filter={"metric": "ds_operating_profit"},
            nonnegative=False,
            currency="KRW",
            notes="2023Q3, 2024Q2, 2024Q4, 2025Q1-2026Q2 (2025Q4 = 16.4 from sedaily; 2026Q1 = 53.7 SECONDARY ONLY). "
            "Not forecast.",
        ),
    ]
    for product in ("total", "memory", "logic"):
        specs.append(
            SeriesSpec(
                id=f"wsts_{product}_sales_annual",
                name=f"WSTS worldwide {product} semiconductor sales, calendar year (first announced)",
                unit="US$ bn",
                frequency=A,
                source=_SIA,
                files=("raw/memory/wsts_annual_by_product.csv",),
                publication_lag_days=_WSTS_LAG,
                annual_agg="sum",
                loader="company_metric",
                filter={"metric": f"{product}_sales"},
                currency="USD",
                notes="Value first announced by SIA in February of the following year.",
            )
        )
    specs += [
        SeriesSpec(
            id="korea_semiconductor_exports",
            name="South Korea semiconductor exports (MOTIE/KITA MTI basis, KOSIS)",
            unit="US$ m",
            frequency=M,
            source="KOSIS table DT_092_115_2009_S023 (MTI commodity 반도체), MOTIE/KITA basis, via "
            "namyikim/predict_stock @6675d17",
            files=(_KOREA,),
            publication_lag_days=1,
            annual_agg="sum",
            loader="date_value",
            filter={"series": "kosis_mti_semiconductors"},
            currency="USD",
            divisor=1e6,
            notes="2013-01..2026-08, no gaps. Raw file in US$, shown in US$ m (/ 1e6, arithmetic only). MOTIE "
            "publishes on the 1st of the next month (lag 1 day). KOSIS final figures; MOTIE's first-of-month "
            "preliminary can differ slightly. The customs HS series (about 0.8x) and the flashes are never spliced in.",
        ),
        SeriesSpec(
            id="korea_semiconductor_exports_flash_d10",
            name="South Korea semiconductor exports, customs flash, days 1-10 (cumulative)",
            unit="US$ m",
            frequency=M,
            source="Korea Customs Service 10-day preliminary export release, via namyikim/predict_stock @08f391c",
            files=(_KOREA,),
            publication_lag_days=1,
            annual_agg="sum",
            loader="date_value",
            filter={"series": "customs_flash_days_1_to_10"},
            currency="USD",
            divisor=1e6,
            partial_period_days=10,
            nowcast_only=True,
            notes="Nowcasting input only: days 1-10 of the month, public around the 11th of the same month. "
            "Never spliced into korea_semiconductor_exports; its calendar-year rule is meaningless.",
        ),
        SeriesSpec(
            id="korea_semiconductor_exports_flash_d20",
            name="South Korea semiconductor exports, customs flash, days 1-20 (cumulative)",
            unit="US$ m",
            frequency=M,
            source="Korea Customs Service 20-day preliminary export release, via namyikim/predict_stock @08f391c; "
            "2026-09 from the Korea Herald",
            files=(_KOREA,),
            publication_lag_days=1,
            annual_agg="sum",
            loader="date_value",
            filter={"series": "customs_flash_days_1_to_20"},
            currency="USD",
            divisor=1e6,
            partial_period_days=20,
            nowcast_only=True,
            notes="Nowcasting input only: days 1-20 of the month, public around the 21st of the same month. "
            "2026-09 = 34,100 ROUNDED (printed US$34.1bn). Never spliced into korea_semiconductor_exports.",
        ),
        SeriesSpec(
            id="trendforce_dram_contract_price_qoq",
            name="Conventional DRAM contract price change, quarter on quarter (TrendForce, measured outcome)",
            unit="% QoQ (midpoint of printed range)",
            frequency=Q,
            source="TrendForce statements of measured quarterly contract-price change (press centre, evertiq, blog)",
            files=(f"{_UPD}/memory_price_statements_2023_2026.csv",),
            publication_lag_days=62,
            annual_agg="mean",
            loader="price_statement",
            filter={"metric": "conventional_dram_contract_price_change", "kind": "actual"},
            nonnegative=False,
            notes="Only statements of kind 'actual' (measured outcomes); forecasts and forecast revisions are never "
            "data. y = (low + high) / 2: arithmetic on the printed range, not an estimate; low/high are kept "
            "(load_panel(detail=True)). Dated by the statement's publication date where printed, else quarter end "
            "+ 62 days. 2025Q4 +45~50%, 2026Q1 +93~98% (SECONDARY ONLY). No measured NAND outcome was found.",
        ),
        SeriesSpec(
            id="fx_krw_per_usd",
            name="Korean won per US dollar, monthly average (Fed H.10)",
            unit="KRW per US$",
            frequency=M,
            source="Board of Governors of the Federal Reserve System, H.10 (via FRED EXKOUS mirrors)",
            files=(f"{_UPD}/fx_krw_per_usd_monthly.csv",),
            publication_lag_days=7,
            annual_agg="mean",
            loader="date_value",
            filter={"series": "EXKOUS"},
            notes="Completed months only, 1981-04..2026-09. 2026-09 = 1351.1 ROUNDED (3-decimal mirror). "
            "USD = KRW amount / rate of the same month.",
        ),
        SeriesSpec(
            id="fx_twd_per_usd",
            name="New Taiwan dollars per US dollar, monthly average (Fed H.10)",
            unit="NT$ per US$",
            frequency=M,
            source="Board of Governors of the Federal Reserve System, H.10 (via FRED EXTAUS mirrors)",
            files=(f"{_UPD}/fx_twd_per_usd_monthly.csv",),
            publication_lag_days=7,
            annual_agg="mean",
            loader="date_value",
            filter={"series": "EXTAUS"},
            notes="Completed months only, 1983-10..2026-07; 2026-08 and 2026-09 were published by FRED but no copy "
            "was found (missing, not zero).",
        ),
    ]
    return {s.id: s for s in specs}


CATALOG: dict[str, SeriesSpec] = _build()


class UnknownSeriesError(KeyError):
    """Raised for a series id the catalog does not know; the message lists the valid ids."""

    def __init__(self, series_id: str) -> None:
        self.series_id = series_id
        super().__init__(series_id)

    def __str__(self) -> str:
        return f"unknown series '{self.series_id}'; valid ids: {', '.join(sorted(CATALOG))}"


def get_spec(series_id: str) -> SeriesSpec:
    try:
        return CATALOG[series_id]
    except KeyError:
        raise UnknownSeriesError(series_id) from None
