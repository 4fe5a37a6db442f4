"""One model registry: configurations are resolved once, and what was scored is exactly what is served."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from statsforecast import StatsForecast

from forecasting.evaluation import evaluate_target
from forecasting.targets import TARGETS, TargetConfig
from forecasting.train import series_model
from forecasting.zoo import COMBINATION, ZOO, FitContext, ModelSpec, resolve_specs
from pipelines.catalog import Frequency
from pipelines.panel import load_panel
from tests.conftest import REAL_DATA_DIR


def test_season_is_used_only_with_three_years_of_it() -> None:
    monthly_short = resolve_specs(("AutoETS", "SeasonalNaive"), FitContext(Frequency.MONTHLY, 30))
    monthly_long = resolve_specs(("AutoETS", "SeasonalNaive"), FitContext(Frequency.MONTHLY, 36))
    assert monthly_short["AutoETS"].params == {"season_length": 1}
    assert monthly_short["SeasonalNaive"].params == {"season_length": 12}
    assert monthly_long["AutoETS"].params == {"season_length": 12}
    annual = resolve_specs(("AutoETS", "SeasonalNaive"), FitContext(Frequency.ANNUAL, 20))
    assert "SeasonalNaive" not in annual and annual["AutoETS"].params == {"season_length": 1}


def test_specs_round_trip_and_build_aliased_models() -> None:
    specs = resolve_specs(tuple(ZOO), FitContext(Frequency.QUARTERLY, 40))
    for name, spec in specs.items():
        again = ModelSpec.from_dict(spec.to_dict())
        assert again == spec
        assert again.build().alias == name
    with pytest.raises(KeyError, match="not in the zoo"):
        ModelSpec.from_dict({"name": "Prophet", "params": {}})
    with pytest.raises(KeyError, match="unknown model"):
        resolve_specs(("Prophet",), FitContext(Frequency.QUARTERLY, 40))


@pytest.fixture(scope="module")
def vintage_panel() -> pl.DataFrame:
    return load_panel(data_dir=REAL_DATA_DIR, vintages=True)


GRID = [(sid, date(year, month, 15)) for sid in ("nvidia_datacenter_revenue", "capex_meta")
        for year in (2016, 2019, 2022, 2026) for month in (2, 8)]


@pytest.mark.parametrize(("series_id", "when"), GRID)
def test_served_configuration_is_the_scored_one(vintage_panel: pl.DataFrame, series_id: str, when: date) -> None:
    """At every as-of date, the stored member configurations are those the backtest used, and refitting them
    on the stored training data reproduces the served member forecasts exactly."""
    cfg: TargetConfig = TARGETS[series_id]
    try:
        ev = evaluate_target(vintage_panel, cfg, when)
    except ValueError as exc:  # too little history that early: refused with a reason, never served
        assert "usable periods" in str(exc)
        return
    sm = series_model(ev, vintage_panel, when)
    assert sm.specs == ev.specs
    assert [m.name for m in sm.method.members] == [m for m in cfg.members if m in ev.specs]
    for m in sm.method.members:
        assert dict(m.params) == dict(ev.specs[m.name].params)
    # the served configuration refitted on the stored training data gives the stored forecasts
    work = sm.training.with_columns(pl.col("y").log()) if sm.method.scale == "log" else sm.training
    refit = StatsForecast(models=[s.build() for s in sm.specs.values()], freq=cfg.frequency.interval,
                          n_jobs=1).forecast(df=work, h=sm.max_h)
    for name in sm.specs:
        stored = sm.member_points.filter(pl.col("model") == name).sort("h")["yhat"].to_numpy()
        # the same fit, alone instead of stacked with the other origins: equal to the last bits
        np.testing.assert_allclose(refit[name].to_numpy(), stored, rtol=1e-12)
    combo = sum(m.weight * sm.member_points.filter(pl.col("model") == m.name).sort("h")["yhat"].to_numpy()
                for m in sm.method.members)
    np.testing.assert_allclose(np.exp(combo) if sm.method.scale == "log" else combo, sm.point, rtol=1e-12)
    assert sm.method.name == COMBINATION
