"""Backtest mechanics on clearly synthetic series, and the headline claim on the real data."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from forecasting.backtest import backtest, choose_champion, score
from forecasting.data import NotEnoughDataError, prepare_target
from forecasting.models import TargetConfig


def _board(rows: list[tuple[str, float]]) -> pl.DataFrame:
    return pl.DataFrame({"model": [r[0] for r in rows], "horizon": [4] * len(rows), "mase": [r[1] for r in rows]})


def test_champion_must_beat_the_baselines() -> None:
    name, base = choose_champion(_board([("Naive", 1.0), ("SeasonalNaive", 0.9), ("AutoETS", 0.95)]), 4)
    assert (name, base) == ("SeasonalNaive", 0.9)


def test_champion_ties_go_to_the_simpler_model() -> None:
    name, _ = choose_champion(_board([("Naive", 1.0), ("AutoARIMA", 0.80001), ("AutoTheta", 0.8)]), 4)
    assert name == "AutoTheta"
    name, _ = choose_champion(_board([("Naive", 1.0), ("AutoARIMA", 0.7), ("AutoTheta", 0.8)]), 4)
    assert name == "AutoARIMA"


def _synthetic_quarterly(n: int, seed: int = 0) -> pl.DataFrame:
    """Synthetic (test-only): trend + quarterly seasonality + noise, registered under a real quarterly id."""
    rng = np.random.default_rng(seed)
    ds = pl.date_range(date(2000, 1, 1), date(2000 + n // 4 + 1, 1, 1), "1q", eager=True).head(n)
    t = np.arange(n)
    y = 100 + 2.0 * t + 10 * np.sin(2 * np.pi * t / 4) + rng.normal(0, 1.0, n)
    return pl.DataFrame({"unique_id": "capex_meta", "ds": ds, "y": y})


def test_backtest_schema_and_a_learnable_series_beats_naive() -> None:
    cfg = TargetConfig("capex_meta", horizons=(4, 8), n_windows=4, step_size=1)
    panel = _synthetic_quarterly(60)
    ts = prepare_target(panel, cfg)
    bt = backtest(ts, cfg)
    assert {"unique_id", "ds", "cutoff", "y"} <= set(bt.cv.columns)
    assert bt.cv["cutoff"].n_unique() == 4
    for m in ("Naive", "SeasonalNaive", "AutoETS", "AutoARIMA"):
        assert {m, f"{m}-lo-80", f"{m}-hi-95"} <= set(bt.cv.columns)
    # every forecast is after its cutoff: rolling origin, no peeking
    assert (bt.cv["ds"] > bt.cv["cutoff"]).all()
    assert set(bt.leaderboard["horizon"].unique()) == {4, 8}
    assert bt.champion not in ("Naive", "SeasonalNaive")
    champ = bt.leaderboard.filter(pl.col("champion") & (pl.col("horizon") == 4))
    assert champ["mase"][0] < bt.baseline_mase


def test_gap_is_bridged_only_for_fitting_and_never_scored() -> None:
    cfg = TargetConfig("capex_meta", horizons=(4,), n_windows=4, step_size=1)
    panel = _synthetic_quarterly(60).filter(pl.col("ds") != date(2013, 10, 1))  # gap near the end
    ts = prepare_target(panel, cfg)
    # 60 quarters from 2000Q1 end 2014Q4; the stretch after the gap is too short, so the gap is bridged
    assert ts.bridged == [date(2013, 10, 1)]
    assert ts.df.height == 60 and ts.df["y"].null_count() == 0
    bt = backtest(ts, cfg)
    gap = date(2013, 10, 1)
    assert bt.cv.filter(pl.col("ds") == gap).height > 0  # the bridged quarter fell in test windows...
    excluded = score(bt.cv, ts.df, ["Naive"], 4, (4,), [gap])
    dropped = score(bt.cv.filter(pl.col("ds") != gap), ts.df, ["Naive"], 4, (4,), [])
    included = score(bt.cv, ts.df, ["Naive"], 4, (4,), [])
    assert excluded["mae"][0] == pytest.approx(dropped["mae"][0])  # ...and is not scored as an actual
    assert excluded["mae"][0] != pytest.approx(included["mae"][0])
    wide_gaps = _synthetic_quarterly(30).filter(pl.col("ds").dt.month() != 1)
    with pytest.raises(NotEnoughDataError, match="usable periods"):
        prepare_target(wide_gaps, cfg)


@pytest.mark.slow
def test_worldwide_sales_champion_beats_seasonal_naive_at_h12(real_panel: pl.DataFrame) -> None:
    from forecasting.train import fit_series

    sm, bt = fit_series(real_panel, "wsts_worldwide_sales")
    at12 = bt.leaderboard.filter(pl.col("horizon") == 12)
    snaive = at12.filter(pl.col("model") == "SeasonalNaive")["mase"][0]
    champ = at12.filter(pl.col("model") == sm.champion)["mase"][0]
    assert champ < snaive
    assert sm.training.bridged == [date(2025, 8, 1)]  # the one known gap, bridged for fitting only


@pytest.mark.slow
def test_explosive_champion_is_passed_over_with_a_reason(real_panel: pl.DataFrame) -> None:
    """Real data: Micron's ridge model wins the backtest but its recursion explodes; the next model serves."""
    from forecasting.forecaster import PLAUSIBLE_MULTIPLE, forecast_series
    from forecasting.train import fit_series

    sm, bt = fit_series(real_panel, "micron_revenue")
    at4 = bt.leaderboard.filter(pl.col("horizon") == 4)
    passed = at4.filter(pl.col("note").is_not_null())
    assert passed.height >= 1
    assert all("largest published value" in n for n in passed["note"].to_list())
    best = at4.sort("mase")["model"][0]
    assert sm.champion != best and best in passed["model"].to_list()
    assert at4.filter(pl.col("champion"))["model"].to_list() == [sm.champion]
    point = forecast_series(sm, 8)[sm.champion]
    assert point.max() <= PLAUSIBLE_MULTIPLE * sm.training.df["y"].max()  # type: ignore[operator]
    assert sm.champion_mase < sm.baseline_mase
