"""The finished artifact: any horizon and level from stored paths, outlooks by the catalog rule, load-back."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from forecasting.artifact import Forecaster, ForecastRequestError
from forecasting.result import POINT, round_value, to_dict
from forecasting.targets import MAX_HORIZON
from forecasting.train import TrainResult
from pipelines.features import annual_totals
from tests.helpers import num


def test_any_horizon_and_level_is_read_off_the_paths(small_train: TrainResult) -> None:
    fc = small_train.forecaster
    sm = fc.series("capex_meta")
    assert sm.max_h == MAX_HORIZON[sm.frequency]
    for h in (1, 5, sm.max_h):
        for levels in ((80, 95), (51,), (99, 60)):
            res = fc.result("capex_meta", h, levels)
            assert len(res.points) == h and res.levels == tuple(sorted(levels))
            for p in res.points:
                bands = sorted(p.intervals, key=lambda i: i.level)
                assert [i.level for i in bands] == sorted(levels)
                for inner, outer in itertools.pairwise(bands):
                    assert num(outer.lo) <= num(inner.lo) and num(inner.hi) <= num(outer.hi)
                assert num(bands[0].lo) <= num(p.value) <= num(bands[0].hi)
                assert num(bands[-1].lo) > 0  # positive series: never a negative bound


@pytest.mark.parametrize(("h", "levels", "msg"), [(0, (80,), "between 1 and 12"), (13, (80,), "between 1 and 12"),
                                                   (4, (100,), "between 50 and 99"), (4, (), "at least one")])
def test_out_of_range_requests_are_refused(small_train: TrainResult, h: int, levels: tuple[int, ...],
                                           msg: str) -> None:
    with pytest.raises(ForecastRequestError, match=msg):
        small_train.forecaster.result("capex_meta", h, levels)


def test_frame_columns_never_name_a_model(small_train: TrainResult) -> None:
    frame = small_train.forecaster.result("capex_meta", 4, (95, 80)).frame
    assert frame.columns == ["unique_id", "ds", POINT, f"{POINT}-lo-80", f"{POINT}-hi-80", f"{POINT}-lo-95",
                             f"{POINT}-hi-95"]


def test_outlook_totals_published_and_forecast_periods_by_the_catalog_rule(small_train: TrainResult) -> None:
    sm = small_train.forecaster.series("capex_meta")
    out = sm.outlook(years=2)
    first = out[0]
    published = sm.history.filter(pl.col("ds").dt.year() == first.year)
    assert first.published_periods == published.height
    assert first.published_periods + first.forecast_periods == 4
    fc = pl.DataFrame({"ds": sm.dates(), "y": sm.point})
    expected = annual_totals(pl.concat([published.select("ds", "y"), fc.filter(pl.col("ds").dt.year() == first.year)]),
                             sm.spec)
    assert first.value == pytest.approx(float(expected["y"][0]))
    prior = annual_totals(sm.history.filter(pl.col("ds").dt.year() == first.year - 1), sm.spec)
    assert first.prior_year_value == pytest.approx(float(prior["y"][0]))
    assert first.growth_pct == pytest.approx(100 * (num(first.value) / num(first.prior_year_value) - 1))
    for y in out:
        b = {i.level: i for i in y.intervals}
        assert num(b[95].lo) <= num(b[80].lo) <= num(b[80].hi) <= num(b[95].hi)


def test_outlook_intervals_come_from_paths_not_summed_bounds(small_train: TrainResult) -> None:
    sm = small_train.forecaster.series("capex_meta")
    year = sm.outlook(years=2)[-1]
    pts = [p for p in sm.intervals(sm.max_h, (95,)) if p.ds.year == year.year]
    summed_lo = sum(num(next(i.lo for i in p.intervals)) for p in pts)
    summed_hi = sum(num(next(i.hi for i in p.intervals)) for p in pts)
    band = next(i for i in year.intervals if i.level == 95)
    assert summed_lo < num(band.lo) and num(band.hi) < summed_hi  # errors partly offset across quarters


def test_save_and_load_back_give_identical_results(small_train: TrainResult, tmp_path: Path) -> None:
    fc = small_train.forecaster
    fc.save(tmp_path / "model")
    assert not list((tmp_path / "model").rglob("*.pkl"))
    again = Forecaster.load(tmp_path / "model")
    assert set(again.models) == set(fc.models)
    for sid in fc.models:
        for h in (1, 3):
            assert to_dict(again.result(sid, h, (80, 95))) == to_dict(fc.result(sid, h, (80, 95)))
        assert_frame_equal(again.models[sid].leaderboard, fc.models[sid].leaderboard)
        np.testing.assert_array_equal(again.models[sid].paths, fc.models[sid].paths)
    assert again.meta == fc.meta


def test_one_serialized_shape(small_train: TrainResult) -> None:
    body = to_dict(small_train.forecaster.result("capex_meta"), {"version": "1"})
    assert list(body) == ["series_id", "name", "unit", "frequency", "horizon", "levels", "method", "data", "model",
                          "notes", "currency", "points", "outlook"]
    assert body["points"][0]["intervals"][0].keys() == {"level", "lo", "hi"}
    assert body["method"]["name"] == "Combination" and body["method"]["backtest"]["origins"] >= 2
    assert body["data"]["last_observation"] is not None
    json.dumps(body)  # plain JSON, no NaN


def test_presented_numbers_are_rounded() -> None:
    assert round_value(791.6999999999999) == 791.7
    assert round_value(1234567.891) == 1234568.0  # never coarser than whole units
    assert round_value(0.000123456789) == 0.000123457
    assert round_value(float("nan")) is None and round_value(None) is None
