"""The model zoo: statsforecast models, scikit-learn models via mlforecast, and which drivers each target uses.

Models are built from a small spec per series so the same zoo is used in backtests, in the final fit and
when a saved forecaster is loaded again (refit on the stored training data, no pickles).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from statsforecast.models import (
    MSTL,
    AutoARIMA,
    AutoCES,
    AutoETS,
    AutoTheta,
    Naive,
    RandomWalkWithDrift,
    SeasonalNaive,
)

from pipelines.catalog import SeriesSpec, get_spec

#: simpler first; ties in the champion rule go to the earlier (simpler) model.
COMPLEXITY_ORDER: tuple[str, ...] = (
    "Naive",
    "SeasonalNaive",
    "RWD",
    "AutoTheta",
    "AutoETS",
    "CES",
    "AutoARIMA",
    "MSTL",
    "Ridge",
    "RidgeX",
    "AutoARIMAX",
    "Ensemble",
)
BASELINES: tuple[str, ...] = ("Naive", "SeasonalNaive")


def complexity(model: str) -> int:
    return COMPLEXITY_ORDER.index(model) if model in COMPLEXITY_ORDER else len(COMPLEXITY_ORDER)


@dataclass(frozen=True)
class TargetConfig:
    """What to forecast for one series and how it is evaluated."""

    series_id: str
    horizons: tuple[int, ...]
    #: catalog ids or indicator ids used as drivers (lagged, so their future values are already published)
    drivers: tuple[str, ...] = ()
    #: monthly series with decades of history are trained on the most recent years only
    max_train_periods: int | None = None
    n_windows: int = 6
    step_size: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> SeriesSpec:
        return get_spec(self.series_id)

    @property
    def primary_h(self) -> int:
        return self.horizons[0]

    @property
    def max_h(self) -> int:
        return max(self.horizons)


_MONTHLY = {"horizons": (12, 18), "max_train_periods": 240, "n_windows": 6, "step_size": 3}
_QUARTERLY = {"horizons": (4, 8), "n_windows": 6, "step_size": 1}
_ANNUAL = {"horizons": (2,), "n_windows": 4, "step_size": 1}

#: series forecast by default, with their drivers. Drivers are chosen for economic reasons first; the
#: backtest then reports honestly whether they helped (README, "Leaderboard").
TARGETS: dict[str, TargetConfig] = {
    t.series_id: t
    for t in [
        TargetConfig(
            "wsts_worldwide_sales",
            drivers=("ind_book_to_bill", "fred_caputlg3344s", "ind_ppi_yoy"),
            **_MONTHLY,  # type: ignore[arg-type]
        ),
        TargetConfig("fred_ipg3344s", **_MONTHLY),  # type: ignore[arg-type]
        TargetConfig("fred_caputlg3344s", **_MONTHLY),  # type: ignore[arg-type]
        TargetConfig("fred_pcu33443344", **_MONTHLY),  # type: ignore[arg-type]
        TargetConfig("census_a34sno", **_MONTHLY),  # type: ignore[arg-type]
        TargetConfig("census_a34svs", **_MONTHLY),  # type: ignore[arg-type]
        TargetConfig("tsmc_revenue", **_MONTHLY),  # type: ignore[arg-type]
        TargetConfig("capex_hyperscalers_total", **_QUARTERLY),  # type: ignore[arg-type]
        TargetConfig("capex_hyperscalers_ex_amazon", **_QUARTERLY),  # type: ignore[arg-type]
        TargetConfig("capex_microsoft", **_QUARTERLY),  # type: ignore[arg-type]
        TargetConfig("capex_alphabet", **_QUARTERLY),  # type: ignore[arg-type]
        TargetConfig("capex_amazon", **_QUARTERLY),  # type: ignore[arg-type]
        TargetConfig("capex_meta", **_QUARTERLY),  # type: ignore[arg-type]
        TargetConfig("capex_oracle", **_QUARTERLY),  # type: ignore[arg-type]
        TargetConfig("nvidia_datacenter_revenue", drivers=("capex_hyperscalers_ex_amazon",), **_QUARTERLY),  # type: ignore[arg-type]
        TargetConfig("nvidia_revenue", **_QUARTERLY),  # type: ignore[arg-type]
        TargetConfig(
            "micron_revenue",
            drivers=("capex_hyperscalers_ex_amazon", "nvidia_datacenter_revenue"),
            **_QUARTERLY,  # type: ignore[arg-type]
        ),
        TargetConfig(
            "skhynix_revenue",
            drivers=("capex_hyperscalers_ex_amazon", "nvidia_datacenter_revenue"),
            **_QUARTERLY,  # type: ignore[arg-type]
        ),
        TargetConfig("wsts_total_sales_annual", **_ANNUAL),  # type: ignore[arg-type]
        TargetConfig("wsts_memory_sales_annual", **_ANNUAL),  # type: ignore[arg-type]
        TargetConfig("wsts_logic_sales_annual", **_ANNUAL),  # type: ignore[arg-type]
    ]
}


def stat_models(spec: SeriesSpec, n_obs: int) -> list[Any]:
    """statsforecast candidates that make sense for the frequency and the length of the history."""
    m = spec.season_length
    models: list[Any] = [Naive(), RandomWalkWithDrift()]
    if m > 1:
        models.insert(1, SeasonalNaive(season_length=m))
    seasonal_ok = m > 1 and n_obs >= 3 * m
    sm = m if seasonal_ok else 1
    models += [
        AutoTheta(season_length=sm),
        AutoETS(season_length=sm),
        AutoCES(season_length=sm),
        AutoARIMA(season_length=sm),
    ]
    if spec.frequency == "monthly" and n_obs >= 4 * m:
        models.append(MSTL(season_length=m, trend_forecaster=AutoETS(model="ZZN")))
    return models


def model_alias(model: Any) -> str:
    return str(getattr(model, "alias", type(model).__name__))
