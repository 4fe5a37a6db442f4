"""The series catalog: every series chipcast knows, where it comes from and when it becomes public.

The catalog is the single place that says how a raw file becomes a series, so that loaders, the
as-of view, calendar-year outlooks and the API all agree on units, frequency and publication lag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Literal


class Frequency(StrEnum):
    """A series' cadence and all the calendar arithmetic that depends on it (one place for it)."""

    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"

    @property
    def months(self) -> int:
        return {"monthly": 1, "quarterly": 3, "annual": 12}[self.value]

    @property
    def periods_per_year(self) -> int:
        return 12 // self.months

    @property
    def interval(self) -> str:
        return {"monthly": "1mo", "quarterly": "1q", "annual": "1y"}[self.value]

    def offset(self, d: date, n: int) -> date:
        """The period start ``n`` periods after ``d`` (negative: before)."""
        k = d.year * 12 + d.month - 1 + n * self.months
        return date(k // 12, k % 12 + 1, 1)

    def periods_between(self, a: date, b: date) -> int:
        """Whole periods from ``a`` to ``b`` (period starts)."""
        return ((b.year - a.year) * 12 + b.month - a.month) // self.months

    def periods_to_year_end(self, last: date, year: int) -> int:
        """Periods after ``last`` through the end of calendar ``year``."""
        return self.periods_between(last, self.offset(date(year + 1, 1, 1), -1))


AnnualAgg = Literal["sum", "mean", "last", "quarter_end_3mma_x3"]

#: polars interval strings per frequency (used for date arithmetic and statsforecast's ``freq``).
POLARS_INTERVAL: dict[str, str] = {"monthly": "1mo", "quarterly": "1q", "annual": "1y"}
#: periods per year; doubles as the seasonal period for seasonal models.
PERIODS_PER_YEAR: dict[str, int] = {"monthly": 12, "quarterly": 4, "annual": 1}


@dataclass(frozen=True)
class SeriesSpec:
    """One series: identity, units, cadence and publication timing.

    ``publication_lag_days`` is counted from the end of the period (or the company's fiscal period end
    where the raw file records it) to the day the figure is typically public. The as-of view uses it to
    decide what a forecaster could have known on a given day.
    """

    id: str
    name: str
    unit: str
    frequency: Frequency
    source: str
    file: str
    publication_lag_days: int
    annual_agg: AnnualAgg
    #: how the raw file is read: a loader name in ``pipelines.sources`` plus its filter.
    loader: str
    filter: dict[str, str] = field(default_factory=dict)
    fiscal_calendar: str = "calendar periods"
    nonnegative: bool = True
    #: for derived totals: the component series that must all be present for a period.
    parts: tuple[str, ...] = ()
    notes: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "frequency", Frequency(self.frequency))

    @property
    def interval(self) -> str:
        return POLARS_INTERVAL[self.frequency]

    @property
    def season_length(self) -> int:
        return PERIODS_PER_YEAR[self.frequency]

    @property
    def is_derived(self) -> bool:
        return bool(self.parts)


_SIA = "Semiconductor Industry Association (SIA) press releases; data compiled by WSTS"
_WSTS_LAG = 38  # SIA publishes month M's 3MMA in the first week of month M+2
_FED_G17 = "Federal Reserve Board, G.17 Industrial Production and Capacity Utilization (via FRED)"
_CENSUS_M3 = "US Census Bureau, M3 survey: manufacturers' shipments, inventories and orders (via FRED)"
_SEC = "Company 10-Q/10-K filings to the SEC (XBRL companyfacts), cash paid for property & equipment"

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


def _build() -> dict[str, SeriesSpec]:
    specs: list[SeriesSpec] = [
        SeriesSpec(
            id="wsts_worldwide_sales",
            name="Worldwide semiconductor sales (3-month moving average)",
            unit="US$ bn",
            frequency="monthly",
            source=_SIA,
            file="raw/market/wsts_monthly_sales_worldwide.csv",
            publication_lag_days=_WSTS_LAG,
            annual_agg="quarter_end_3mma_x3",
            loader="date_value",
            notes="3MMA; the calendar-year total is 3 x (Mar + Jun + Sep + Dec 3MMA). 2025-08 not found (gap).",
        ),
    ]
    for key, region in _REGIONS.items():
        specs.append(
            SeriesSpec(
                id=f"wsts_{key}_sales",
                name=f"Semiconductor sales, {region} (3-month moving average)",
                unit="US$ bn",
                frequency="monthly",
                source=_SIA,
                file="raw/market/wsts_monthly_sales_by_region.csv",
                publication_lag_days=_WSTS_LAG,
                annual_agg="quarter_end_3mma_x3",
                loader="region",
                filter={"region": region},
                notes="Sparse: only months whose release copy was found; not forecast.",
            )
        )
    fred = [
        ("fred_ipg3344s", "IPG3344S", "Industrial production: semiconductors & other electronic components",
         "index 2017=100", _FED_G17, 17, "mean"),
        ("fred_capg3344s", "CAPG3344S", "Capacity: semiconductors & other electronic components",
         "index 2017=100", _FED_G17, 17, "mean"),
        ("fred_caputlg3344s", "CAPUTLG3344S", "Capacity utilization: semiconductors & other electronic components",
         "% of capacity", _FED_G17, 17, "mean"),
        ("fred_pcu33443344", "PCU33443344", "PPI: semiconductor & other electronic component manufacturing",
         "index Dec-1984=100", "US Bureau of Labor Statistics, Producer Price Index (via FRED)", 14, "mean"),
        ("census_a34sno", "A34SNO", "New orders: computers & electronic products",
         "US$ m (SA)", _CENSUS_M3, 35, "sum"),
        ("census_a34svs", "A34SVS", "Value of shipments: computers & electronic products",
         "US$ m (SA)", _CENSUS_M3, 35, "sum"),
        ("census_a34sti", "A34STI", "Total inventories: computers & electronic products",
         "US$ m (SA)", _CENSUS_M3, 35, "last"),
    ]
    for sid, code, name, unit, source, lag, agg in fred:
        specs.append(
            SeriesSpec(
                id=sid,
                name=name,
                unit=unit,
                frequency="monthly",
                source=f"{source}; FRED series {code}",
                file=f"raw/market/fred_{code}.csv",
                publication_lag_days=lag,
                annual_agg=agg,  # type: ignore[arg-type]
                loader="date_value",
            )
        )
    specs.append(
        SeriesSpec(
            id="tsmc_revenue",
            name="TSMC monthly consolidated net revenue",
            unit="NT$ m",
            frequency="monthly",
            source="TSMC monthly revenue reports (TWSE/MOPS, via FinMind mirror)",
            file="raw/market/tsmc_monthly_revenue.csv",
            publication_lag_days=10,
            annual_agg="sum",
            loader="date_value",
        )
    )
    for key, (ticker, company, fiscal) in _HYPERSCALERS.items():
        specs.append(
            SeriesSpec(
                id=f"capex_{key}",
                name=f"{company} capital expenditure (cash paid for PP&E)",
                unit="US$ m",
                frequency="quarterly",
                source=_SEC,
                file="raw/capex/hyperscaler_capex_quarterly.csv",
                publication_lag_days=35,
                annual_agg="sum",
                loader="company_metric",
                filter={"ticker": ticker, "metric": "capex_payments_for_ppe"},
                fiscal_calendar=fiscal,
                notes="Excludes finance leases." + (" 2015Q1-2017Q2 and 2017Q4 not found." if key == "amazon" else ""),
            )
        )
    specs.append(
        SeriesSpec(
            id="capex_hyperscalers_total",
            name="Hyperscaler capex: Microsoft + Alphabet + Amazon + Meta + Oracle",
            unit="US$ m",
            frequency="quarterly",
            source=_SEC,
            file="",
            publication_lag_days=35,
            annual_agg="sum",
            loader="sum_of_parts",
            parts=tuple(f"capex_{k}" for k in _HYPERSCALERS),
            notes="Only quarters where all five companies are present (Amazon gaps carry through).",
        )
    )
    specs.append(
        SeriesSpec(
            id="capex_hyperscalers_ex_amazon",
            name="Hyperscaler capex excluding Amazon: Microsoft + Alphabet + Meta + Oracle",
            unit="US$ m",
            frequency="quarterly",
            source=_SEC,
            file="",
            publication_lag_days=35,
            annual_agg="sum",
            loader="sum_of_parts",
            parts=tuple(f"capex_{k}" for k in _HYPERSCALERS if k != "amazon"),
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
                frequency="quarterly",
                source="NVIDIA quarterly revenue by market segment (via Our World in Data)",
                file="raw/capex/nvidia_revenue_quarterly.csv",
                publication_lag_days=28,
                annual_agg="sum",
                loader="company_metric",
                filter={"metric": metric},
                fiscal_calendar="fiscal year ends late January; dated by the calendar quarter of greatest overlap",
            )
        )
    specs += [
        SeriesSpec(
            id="micron_revenue",
            name="Micron revenue (GAAP net sales)",
            unit="US$ m",
            frequency="quarterly",
            source="Micron 10-Q/10-K via financial-data pages (cross-checked to annual totals)",
            file="raw/memory/micron_quarterly.csv",
            publication_lag_days=25,
            annual_agg="sum",
            loader="company_metric",
            filter={"metric": "revenue"},
            fiscal_calendar="fiscal year ends late Aug/early Sep; dated by the calendar quarter holding its end",
        ),
        SeriesSpec(
            id="micron_dram_revenue",
            name="Micron DRAM revenue",
            unit="US$ m",
            frequency="quarterly",
            source="Micron earnings releases (secondary transcription)",
            file="raw/memory/micron_quarterly.csv",
            publication_lag_days=25,
            annual_agg="sum",
            loader="company_metric",
            filter={"metric": "dram_revenue"},
            fiscal_calendar="as micron_revenue",
            notes="Only six quarters (FY2025Q2-FY2026Q3); too short to forecast.",
        ),
        SeriesSpec(
            id="skhynix_revenue",
            name="SK hynix revenue (consolidated K-IFRS)",
            unit="KRW trn",
            frequency="quarterly",
            source="SK hynix earnings releases as reported by press (page per row)",
            file="raw/memory/skhynix_quarterly.csv",
            publication_lag_days=28,
            annual_agg="sum",
            loader="company_metric",
            filter={"metric": "revenue"},
            notes="Continuous 2019Q2-2025Q4; scattered before.",
        ),
        SeriesSpec(
            id="skhynix_operating_profit",
            name="SK hynix operating profit",
            unit="KRW trn",
            frequency="quarterly",
            source="SK hynix earnings releases as reported by press (page per row)",
            file="raw/memory/skhynix_quarterly.csv",
            publication_lag_days=28,
            annual_agg="sum",
            loader="company_metric",
            filter={"metric": "operating_profit"},
            nonnegative=False,
            notes="2025Q3 stated only as '>11 trillion' (gap).",
        ),
        SeriesSpec(
            id="samsung_ds_revenue",
            name="Samsung Device Solutions (semiconductor) revenue",
            unit="KRW trn",
            frequency="quarterly",
            source="Samsung Electronics segment disclosures (DART) and press",
            file="raw/memory/samsung_semiconductor_quarterly.csv",
            publication_lag_days=30,
            annual_agg="sum",
            loader="company_metric",
            filter={"metric": "ds_revenue"},
            notes="Sparse (6 quarters); not forecast.",
        ),
    ]
    for product in ("total", "memory", "logic"):
        specs.append(
            SeriesSpec(
                id=f"wsts_{product}_sales_annual",
                name=f"WSTS worldwide {product} semiconductor sales, calendar year (first announced)",
                unit="US$ bn",
                frequency="annual",
                source=_SIA,
                file="raw/memory/wsts_annual_by_product.csv",
                publication_lag_days=_WSTS_LAG,
                annual_agg="sum",
                loader="company_metric",
                filter={"metric": f"{product}_sales"},
                notes="Value first announced by SIA in February of the following year.",
            )
        )
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
