"""What chipcast forecasts, and how each target is evaluated.

A target is a catalog series with its evaluation settings. Everything else (cadence, units, publication
lag, the calendar-year rule) comes from the catalog entry, so nothing here repeats it.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.catalog import Frequency, SeriesSpec, get_spec

#: the longest horizon served, in periods (documented in the README and the API schema)
MAX_HORIZON: dict[Frequency, int] = {Frequency.MONTHLY: 36, Frequency.QUARTERLY: 12, Frequency.ANNUAL: 4}
#: the horizon served by default (drawn in fan charts)
DEFAULT_HORIZON: dict[Frequency, int] = {Frequency.MONTHLY: 18, Frequency.QUARTERLY: 8, Frequency.ANNUAL: 2}
#: the horizon accuracy is reported at first (leaderboards, promotion)
PRIMARY_HORIZON: dict[Frequency, int] = {Frequency.MONTHLY: 12, Frequency.QUARTERLY: 4, Frequency.ANNUAL: 2}
#: fewest scored origins a leaderboard is computed on; with fewer the forecast is still served, with no
#: leaderboard and a note saying so
MIN_ORIGINS = 2
#: interval levels served by default
LEVELS: tuple[int, ...] = (80, 95)
LEVEL_RANGE: tuple[int, int] = (50, 99)

#: the members of the served combination (all on the working scale, see forecasting.data)
MEMBERS: tuple[str, ...] = ("AutoTheta", "AutoETS", "AutoCES", "AutoARIMA")
#: plain references scored in the same run
REFERENCES: tuple[str, ...] = ("Naive", "SeasonalNaive", "RWD")


@dataclass(frozen=True)
class TargetConfig:
    """One forecast target and its rolling-origin evaluation."""

    series_id: str
    #: periods between rolling origins (1: an origin at every new publication)
    origin_step: int = 1
    #: most rolling origins kept (the newest); bounds training time on long histories (WSTS, origin_step 1,
    #: has 162 eligible origins as of 2026-12: the cap is above it, so every one is used)
    max_origins: int = 240
    #: long monthly histories are fitted on their most recent periods only
    max_train_periods: int | None = None
    members: tuple[str, ...] = MEMBERS
    #: a faster-published monthly indicator the members' history is nowcast with (forecasting.nowcast)
    nowcast: str | None = None
    #: score the plain references beside the members (off only to re-run a stored method alone)
    include_references: bool = True

    @property
    def spec(self) -> SeriesSpec:
        return get_spec(self.series_id)

    @property
    def frequency(self) -> Frequency:
        return self.spec.frequency

    @property
    def max_h(self) -> int:
        return MAX_HORIZON[self.frequency]

    @property
    def default_h(self) -> int:
        return DEFAULT_HORIZON[self.frequency]

    @property
    def primary_h(self) -> int:
        return PRIMARY_HORIZON[self.frequency]

    @property
    def min_train(self) -> int:
        """Shortest history fitted at any origin: three years, so seasonal models see their season."""
        return max(3 * self.frequency.periods_per_year, 8)

    @property
    def references(self) -> tuple[str, ...]:
        """Plain references, fitted on the published history only (with a nowcast: plain AutoETS too)."""
        if not self.include_references:
            return ()
        return (*REFERENCES, "PlainETS") if self.nowcast else REFERENCES

    @property
    def models(self) -> tuple[str, ...]:
        return (*self.references, *self.members)


def _monthly(sid: str, step: int = 3, nowcast: str | None = None) -> TargetConfig:
    return TargetConfig(sid, origin_step=step, max_origins=60 if step > 1 else 240, max_train_periods=240,
                        nowcast=nowcast)


TARGETS: dict[str, TargetConfig] = {
    t.series_id: t
    for t in [
        # Korea's chip exports are out on the 1st of the next month, WSTS five weeks later (forecasting.nowcast)
        _monthly("wsts_worldwide_sales", step=1, nowcast="korea_semiconductor_exports"),
        _monthly("fred_ipg3344s"),
        _monthly("fred_caputlg3344s"),
        _monthly("fred_pcu33443344"),
        _monthly("census_a34sno"),
        _monthly("census_a34svs"),
        _monthly("tsmc_revenue"),
        TargetConfig("capex_hyperscalers_total"),
        TargetConfig("capex_hyperscalers_ex_amazon"),
        TargetConfig("capex_microsoft"),
        TargetConfig("capex_alphabet"),
        TargetConfig("capex_amazon"),
        TargetConfig("capex_meta"),
        TargetConfig("capex_oracle"),
        TargetConfig("nvidia_datacenter_revenue"),
        TargetConfig("nvidia_revenue"),
        TargetConfig("micron_revenue"),
        TargetConfig("skhynix_revenue"),
        TargetConfig("wsts_total_sales_annual"),
        TargetConfig("wsts_memory_sales_annual"),
        # not wsts_logic_sales_annual: 14 annual points, one backtest origin and no tie to the monthly total or a
        # timely driver; its own model said +8.5% for 2026 while the total it is part of said +116%
    ]
}


#: series whose track record (what was said each 1 June and 1 December vs what happened) is stored with the
#: model; every other target gets one on demand with `chipcast track-record SERIES`
TRACK_RECORD: tuple[str, ...] = ("wsts_worldwide_sales",)


def get_target(series_id: str) -> TargetConfig:
    """The target for a catalog id; unknown ids raise the catalog's error, non-targets say what is."""
    get_spec(series_id)
    try:
        return TARGETS[series_id]
    except KeyError:
        raise NotATargetError(series_id) from None


class NotATargetError(KeyError):
    def __init__(self, series_id: str) -> None:
        self.series_id = series_id
        super().__init__(series_id)

    def __str__(self) -> str:
        return f"{self.series_id} is not a forecast target; targets: {', '.join(TARGETS)}"
