"""Rolling-origin evaluation: every choice at an origin rests on what was known then, and nothing later."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from forecasting.data import TrainingSeries, training_series
from forecasting.evaluation import (
    Evaluation,
    complete_paths,
    evaluate_target,
    implausible,
    interval_bounds,
    leaderboard,
    origin_dates,
    origin_training,
    score_cv,
    scored_origins,
)
from forecasting.targets import MIN_ORIGINS, TARGETS
from forecasting.zoo import BASELINES, COMBINATION
from pipelines.panel import load_panel
from tests.conftest import REAL_DATA_DIR
from tests.forecasting.conftest import synthetic_panel

SID = "capex_meta"  # a real catalog id, fed synthetic values in these tests
WHEN = date(2016, 6, 1)


@pytest.fixture(scope="module")
def synthetic() -> pl.DataFrame:
    return synthetic_panel(SID, 44)


def test_origins_are_first_publications_and_end_with_the_serving_date(synthetic: pl.DataFrame) -> None:
    cfg = TARGETS[SID]
    dates = origin_dates(synthetic, cfg, WHEN, extra=[date(2014, 12, 1), date(2030, 1, 1)])
    rolling = dates.filter(pl.col("kind") == "rolling")["origin"].to_list()
    assert set(rolling) <= set(synthetic["published"].to_list())
    assert all(d < WHEN for d in rolling) and rolling == sorted(rolling)
    assert dates.filter(pl.col("kind") == "extra")["origin"].to_list() == [date(2014, 12, 1)]  # future ones dropped
    assert dates["origin"][-1] == WHEN and dates["kind"][-1] == "serving"


def test_each_origin_fits_only_what_was_published_by_then(synthetic: pl.DataFrame) -> None:
    ev = evaluate_target(synthetic, TARGETS[SID], WHEN)
    for oid, ts in ev.training.items():
        when = ev.origin_row(oid)["origin"]
        assert isinstance(when, date)
        published = synthetic.filter(pl.col("published") <= when)["ds"].max()
        assert ts.cutoff == published


def test_changing_later_data_changes_nothing_known_before(synthetic: pl.DataFrame) -> None:
    """Scramble every value published after an origin: that origin's fits, weights and paths are unchanged."""
    ev = evaluate_target(synthetic, TARGETS[SID], WHEN)
    k = int(ev.origins.filter(pl.col("kind") == "rolling")["origin_id"][-8])
    when = ev.origin_row(k)["origin"]
    assert isinstance(when, date)
    scrambled = synthetic.with_columns(
        pl.when(pl.col("published") > when).then(pl.col("y") * 3.7 + 11).otherwise(pl.col("y")).alias("y"))
    ev2 = evaluate_target(scrambled, TARGETS[SID], WHEN)
    assert ev2.origin_row(k)["origin"] == when
    for frame in ("forecasts", "weights"):
        a = getattr(ev, frame).filter(pl.col("origin_id") <= k)
        b = getattr(ev2, frame).filter(pl.col("origin_id") <= k)
        assert_frame_equal(a, b)
    np.testing.assert_array_equal(ev.sample_paths(k)[1], ev2.sample_paths(k)[1])
    # ...while the serving origin, which saw the scrambled values, does change
    assert not np.allclose(ev.sample_paths(ev.serving_id)[0], ev2.sample_paths(ev2.serving_id)[0])


def test_weights_are_a_convex_combination_of_the_members(synthetic: pl.DataFrame) -> None:
    ev = evaluate_target(synthetic, TARGETS[SID], WHEN)
    sums = ev.weights.group_by("origin_id").agg(pl.col("weight").sum())
    np.testing.assert_allclose(sums["weight"].to_numpy(), 1.0)
    assert (ev.weights["weight"] >= 0).all()
    first = ev.weights.filter(pl.col("origin_id") == 0)
    assert first["weight"].n_unique() == 1  # nothing known yet: equal weights


def test_complete_paths_keeps_known_prefixes_and_borrows_centred_later_increments() -> None:
    mat = np.array([[0.1, 0.2, 0.3, 0.4],      # complete
                    [0.0, 0.3, 0.1, 0.6],      # complete
                    [0.05, np.nan, np.nan, np.nan],
                    [np.nan, np.nan, np.nan, np.nan]])  # nothing known: dropped
    out = complete_paths(mat, seed=1)
    assert out.shape == (3, 4)
    np.testing.assert_array_equal(out[:2], mat[:2])
    assert out[2, 0] == 0.05
    steps = mat[:2, 1:] - mat[:2, :1]
    tail = out[2, 1:] - out[2, 0]
    assert any(np.allclose(tail, s - steps.mean(axis=0)) for s in steps)


def test_interval_bounds_widen_with_few_paths() -> None:
    rng = np.random.default_rng(3)
    paths = rng.standard_normal((20, 3))
    plain = interval_bounds(paths, [80])[80]
    corrected = interval_bounds(paths, [80], n_eff=20)[80]
    assert (corrected[0] <= plain[0]).all() and (corrected[1] >= plain[1]).all()
    assert (corrected[0] < corrected[1]).all()


def test_a_band_always_contains_its_point() -> None:
    # synthetic one-sided errors: every past error positive, so the quantiles alone sit above the point
    rng = np.random.default_rng(5)
    paths = 10.0 + rng.uniform(1.0, 3.0, size=(200, 4))
    point = np.full(4, 10.0)
    alone = interval_bounds(paths, [80, 95])
    assert (alone[80][0] > point).all()  # the defect the point argument exists for
    with_point = interval_bounds(paths, [80, 95], point=point)
    for lv in (80, 95):
        lo, hi = with_point[lv]
        assert (lo <= point).all() and (point <= hi).all()
        assert np.allclose(hi, alone[lv][1])  # only the side that excluded the point moves
    inside = interval_bounds(paths, [80], point=np.full(4, 12.0))[80]
    assert np.allclose(inside[0], alone[80][0]) and np.allclose(inside[1], alone[80][1])


def test_a_member_that_explodes_gets_no_weight() -> None:
    exploding = synthetic_panel(SID, 44, explode_after=40)
    ev = evaluate_target(exploding, TARGETS[SID], WHEN)
    oid = ev.serving_id
    reasons = {m: implausible(ev, oid, m) for m in TARGETS[SID].members if m in ev.specs}
    w = dict(ev.weights.filter(pl.col("origin_id") == oid).select("model", "weight").iter_rows())
    for m, why in reasons.items():
        if why is not None:
            assert "largest published value" in why and w[m] == 0.0
    assert sum(w.values()) == pytest.approx(1.0)


def test_leaderboard_scores_references_and_the_method_on_the_same_origins(synthetic: pl.DataFrame) -> None:
    ev = evaluate_target(synthetic, TARGETS[SID], WHEN)
    board = leaderboard(ev)
    models = set(board["model"].to_list())
    assert {COMBINATION, "AutoETS", *BASELINES} <= models
    assert board["windows"].n_unique() == 1 and board["windows"][0] == len(scored_origins(ev)) >= MIN_ORIGINS
    for c in ("mase", "coverage_80", "coverage_95", "winkler_80"):
        assert board[c].is_not_null().all(), c
    assert ((board["coverage_80"] <= board["coverage_95"]) | board["coverage_95"].is_null()).all()


def test_complete_paths_bridges_a_hole_and_keeps_the_errors_known_after_it() -> None:
    """A missing outcome inside a path (a data gap) must not throw away the later, known errors."""
    mat = np.array([[0.1, 0.2, np.nan, 0.4, 0.5],
                    [0.0, 0.1, 0.2, 0.3, 0.4],
                    [np.nan, 0.3, 0.2, np.nan, np.nan]])
    out = complete_paths(mat, seed=2)
    np.testing.assert_allclose(out[0], [0.1, 0.2, 0.3, 0.4, 0.5])  # hole interpolated, tail kept
    np.testing.assert_array_equal(out[1], mat[1])
    assert out[2, 0] == 0.3 and out[2, 2] == 0.2  # leading hole takes the first known error; row kept
    assert not np.isnan(out).any()


def test_an_isolated_gap_is_bridged_for_fitting_however_long_the_stretch_after_it() -> None:
    """Synthetic: one missing quarter early on; the history before it must not be dropped."""
    panel = synthetic_panel(SID, 60).filter(pl.col("ds") != date(2007, 4, 1))
    ts = training_series(panel, TARGETS[SID])
    assert ts.bridged == (date(2007, 4, 1),)
    assert ts.df.height == 60 and ts.observed().height == 59
    many_gaps = panel.filter(~pl.col("ds").is_in([date(2008, 1, 1), date(2009, 1, 1), date(2010, 1, 1)]))
    tail = training_series(many_gaps, TARGETS[SID])
    assert tail.bridged == () and tail.df["ds"].min() == date(2010, 4, 1)


def test_two_missing_periods_in_a_row_are_never_bridged() -> None:
    """Synthetic, 150 quarters (up to 3 gaps may be bridged): two isolated gaps are, but two consecutive
    missing quarters are a hole no interpolation should fill, so the history starts after them."""
    panel = synthetic_panel(SID, 150)
    apart = panel.filter(~pl.col("ds").is_in([date(2010, 1, 1), date(2020, 1, 1)]))
    assert training_series(apart, TARGETS[SID]).bridged == (date(2010, 1, 1), date(2020, 1, 1))
    in_a_row = panel.filter(~pl.col("ds").is_in([date(2020, 1, 1), date(2020, 4, 1)]))
    ts = training_series(in_a_row, TARGETS[SID])
    assert ts.bridged == () and ts.df["ds"].min() == date(2020, 7, 1)


def test_a_member_that_collapses_gets_no_weight_and_lends_no_error_paths() -> None:
    """Real data: at SK hynix's 2023 trough some member ran revenue towards zero; it must not be served there,
    and its errors there must not become tails of the paths served later."""
    panel = load_panel(data_dir=REAL_DATA_DIR, vintages=True)
    ev = evaluate_target(panel, TARGETS["skhynix_revenue"], date(2026, 12, 1))
    rolling = ev.origins.filter(pl.col("kind") == "rolling")["origin_id"].to_list()
    collapsed = [(o, m) for o in rolling for m in TARGETS["skhynix_revenue"].members
                 if m in ev.specs and (why := implausible(ev, o, m)) and "falls to" in why]
    assert collapsed
    for o, m in collapsed:
        assert ev.weights.filter(pl.col("origin_id") == o, pl.col("model") == m)["weight"].item() == 0.0
        ids, _ = ev.raw_errors(ev.serving_id)[m]
        assert o not in ids.tolist()
    _, paths, _, _ = ev.sample_paths(ev.serving_id)
    point = ev.unwork(ev.point(ev.serving_id, COMBINATION))
    assert float(np.quantile(paths / point, 0.975, axis=0).max()) < 50  # wide after the boom, never absurd


# ------------------------------------------------------------------------------------------ scoring


def _months(start: date, n: int) -> list[date]:
    return [date(start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1, 1) for i in range(n)]


def _bare_evaluation(prints: pl.DataFrame, origins: pl.DataFrame,
                     training: dict[int, TrainingSeries]) -> Evaluation:
    """An Evaluation holding only what scoring reads (synthetic values, no fits)."""
    return Evaluation(series_id=SID, cfg=TARGETS[SID], log=False, specs={}, origins=origins,
                      forecasts=pl.DataFrame(), weights=pl.DataFrame(), prints=prints, training=training)


def test_scores_use_only_what_was_published_by_the_evaluations_date() -> None:
    """Re-running an evaluation as of a past date on a newer panel must score on the prints known then."""
    prints = pl.DataFrame({"ds": [date(2020, 1, 1), date(2020, 1, 1), date(2020, 2, 1)], "y": [1.0, 2.0, 3.0],
                           "published": [date(2020, 2, 5), date(2020, 4, 5), date(2020, 3, 5)]})
    origins = pl.DataFrame({"origin_id": [0], "origin": [date(2020, 3, 10)], "cutoff": [date(2020, 2, 1)],
                            "n_train": [2], "kind": ["serving"]})
    latest = _bare_evaluation(prints, origins, {}).latest()
    assert latest.rows() == [(date(2020, 1, 1), 1.0), (date(2020, 2, 1), 3.0)]  # the April revision is not known


def test_mase_scale_skips_a_gap_instead_of_comparing_across_it() -> None:
    """Synthetic monthly history with one bridged (never published) month: the seasonal differences that
    touch it are left out; none compares a month with the one 13 months earlier."""
    ds = _months(date(2010, 1, 1), 36)
    rng = np.random.default_rng(3)
    y = 100 + 10 * np.sin(np.arange(36) * np.pi / 6) + np.arange(36) + rng.normal(0, 1, 36)
    gap = date(2011, 6, 1)
    ts = TrainingSeries(SID, pl.DataFrame({"unique_id": SID, "ds": ds, "y": y}), bridged=(gap,))
    origins = pl.DataFrame({"origin_id": [0], "origin": [date(2013, 2, 10)], "cutoff": [ds[-1]], "n_train": [36],
                            "kind": ["rolling"]})
    train = origin_training(_bare_evaluation(pl.DataFrame(), origins, {0: ts}), [0])
    assert train.height == 36 and train.filter(pl.col("ds") == gap)["y"].is_null().all()
    # the scale by dates: |y_t - y_(t-12 months)| where neither month is the gap
    by_date = dict(zip(ds, y, strict=True))
    diffs = [abs(by_date[d] - by_date[p]) for d, p in zip(ds[12:], ds[:-12], strict=True) if gap not in (d, p)]
    scale = float(np.mean(diffs))
    fut = _months(date(2013, 1, 1), 3)
    cv = pl.DataFrame({"unique_id": SID, "ds": fut, "cutoff": ds[-1], "h": [1, 2, 3], "y": [150.0, 151.0, 152.0],
                       "M": [152.0, 153.0, 154.0], "M-lo-80": 140.0, "M-hi-80": 160.0, "M-lo-95": 130.0,
                       "M-hi-95": 170.0})
    board = score_cv(cv, train, ["M"], [3], 12, 1)
    assert board["mase"][0] == pytest.approx(2.0 / scale)


def test_winkler_scores_are_divided_by_each_origins_scale_the_same_for_every_model() -> None:
    """Two origins whose series differ in scale by 100x, two models with different errors: each origin's
    Winkler score is divided by that origin's own MASE scale, whichever model it belongs to."""
    ds = _months(date(2010, 1, 1), 24)
    frames, cvs, scales = [], [], []
    for k, mult in enumerate((1.0, 100.0)):
        yv = mult * (10 + np.arange(24) % 5)  # seasonal differences of a 5-month cycle, season 12
        cutoff = date(2011, 12, 1) if k == 0 else date(2011, 12, 2)  # distinct cutoffs: two origins
        frames.append(pl.DataFrame({"unique_id": SID, "ds": ds, "cutoff": cutoff, "y": yv}))
        scales.append(float(np.mean(np.abs(yv[12:] - yv[:-12]))))
        truth = mult * 12.0
        # model A misses little at the small origin, B misses a lot at the big one; bands hold the truth
        a, b = truth + (0.1 if k == 0 else 1.0) * mult, truth + (0.1 if k == 0 else 5.0) * mult
        cvs.append(pl.DataFrame({"unique_id": SID, "ds": [date(2012, 1, 1)], "cutoff": [cutoff], "h": [1],
                                 "y": [truth], "A": [a], "A-lo-80": [truth - 2 * mult], "A-hi-80": [truth + 2 * mult],
                                 "A-lo-95": [truth - 3 * mult], "A-hi-95": [truth + 3 * mult],
                                 "B": [b], "B-lo-80": [truth - 1 * mult], "B-hi-80": [truth + 6 * mult],
                                 "B-lo-95": [truth - 2 * mult], "B-hi-95": [truth + 7 * mult]}))
    board = score_cv(pl.concat(cvs), pl.concat(frames), ["A", "B"], [1], 12, 2)
    got = dict(zip(board["model"].to_list(), board["winkler_80"].to_list(), strict=True))
    # the truth is inside every band, so each Winkler score is the band's width
    assert got["A"] == pytest.approx(np.mean([4 * 1.0 / scales[0], 4 * 100.0 / scales[1]]))
    assert got["B"] == pytest.approx(np.mean([7 * 1.0 / scales[0], 7 * 100.0 / scales[1]]))


def test_a_non_negative_series_modelled_on_levels_never_draws_below_zero() -> None:
    """Synthetic: noise between 0 and 100 with one zero, so no logs; level errors of +-50 would cross zero."""
    panel = synthetic_panel(SID, 44)
    y = np.random.default_rng(3).uniform(0, 100, panel.height)
    y[5] = 0.0
    ev = evaluate_target(panel.with_columns(pl.Series("y", y)), TARGETS[SID], WHEN)
    assert not ev.log
    for model in (COMBINATION, "Naive"):
        point, paths, n_eff, _ = ev.sample_paths(ev.serving_id, model)
        assert paths.min() == 0.0  # held at zero, not below (and some paths do reach it)
        lo, _ = interval_bounds(paths, [95], n_eff, point=point)[95]
        assert (lo >= 0).all()
