"""One coherent set of numbers: parts never exceed totals, annual numbers come from the monthly model, and
the memory market moves with the memory makers.

* **Hyperscaler capex** is a hierarchy: five companies, the four without Amazon, all five. The aggregates
  are *defined* as sums of the parts (``sum_of_parts``: only quarters where every part reported), and
  their own histories are years shorter than the parts'. So the served aggregates are **bottom-up**: per
  sample path, the sum of the parts' published values and forecast paths. The parts' paths are drawn
  jointly (sample ``i`` of every company uses its error path from the same past origin), so the total keeps
  the companies' common surprises instead of averaging them away. Parts can never exceed a total.
  Training replays that served sum at the aggregate's own backtest origins (parts as known and drawn then),
  so its leaderboard scores what is served beside the aggregate's own models; ``bench/accuracy.py`` adds
  MinTrace on the same origins.
* **Calendar-year WSTS sales** (``wsts_total_sales_annual``) are derived from the monthly model's paths with
  the catalog's annual rule, so the annual and monthly numbers are the same numbers.
* **The memory market** (``wsts_memory_sales_annual``) is driven by the memory makers: per path, its growth
  is the growth of Micron + SK hynix revenue in US$ (jointly sampled), times a random walk in the
  market-to-makers ratio drawn from that ratio's own history. Market and makers can no longer point in
  opposite directions.

Each derived series keeps its own backtest leaderboard (of its base models) for reference and says in its
method what is served instead; the capex aggregates' leaderboards carry the served sum's row as well.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

import numpy as np
import polars as pl

from forecasting.artifact import SeriesModel
from forecasting.evaluation import (
    N_SAMPLES,
    Evaluation,
    best_baseline,
    interval_bounds,
    origin_training,
    score_cv,
    scored_origins,
    stable_seed,
)
from forecasting.targets import LEVELS, MIN_ORIGINS
from forecasting.zoo import COMBINATION
from pipelines.catalog import get_spec
from pipelines.features import annual_totals
from pipelines.fx import to_usd, usd_unit, usd_unit_factor

CAPEX_PARTS: tuple[str, ...] = ("capex_microsoft", "capex_alphabet", "capex_amazon", "capex_meta", "capex_oracle")
CAPEX_TOTALS: dict[str, tuple[str, ...]] = {
    "capex_hyperscalers_total": CAPEX_PARTS,
    "capex_hyperscalers_ex_amazon": tuple(p for p in CAPEX_PARTS if p != "capex_amazon"),
}
#: annual series served from a monthly model of the same quantity
TEMPORAL: dict[str, str] = {"wsts_total_sales_annual": "wsts_worldwide_sales"}
MEMORY_MARKET = "wsts_memory_sales_annual"
MEMORY_MAKERS: tuple[str, ...] = ("micron_revenue", "skhynix_revenue")
#: the memory market's method name once it is tied to its makers
MAKERS_DRIVEN = "MakersDriven"
#: series that are only ever trained together (forecasting.train.target_ids)
def served_with(series_id: str) -> tuple[str, ...]:
    """What must be trained with ``series_id`` for it to be served as the service serves it.

    A reconciled or derived series (a capex aggregate, the memory market, an annual WSTS total) needs its
    whole coherent group; any other series needs only itself.
    """
    derived = {*CAPEX_TOTALS, MEMORY_MARKET, *TEMPORAL}
    if series_id in derived:
        return next(g for g in COHERENT_GROUPS if series_id in g)
    return (series_id,)


#: said by every reconciled or derived method: its scores would otherwise be read as the served method's
NOT_BACKTESTED = ("This served method is not backtested as such; the leaderboard scores the base models of the "
                  "series for reference.")
COHERENT_GROUPS: tuple[tuple[str, ...], ...] = (
    (*CAPEX_PARTS, *CAPEX_TOTALS),
    (MEMORY_MARKET, *MEMORY_MAKERS),
    *((annual, monthly) for annual, monthly in TEMPORAL.items()),
)


def joint_cutoffs(evals: Sequence[Evaluation], n: int = N_SAMPLES, seed: int = 0,
                  origin_ids: Sequence[int] | None = None) -> list[date]:
    """Past origin cutoffs shared by every evaluation's serving origin (or by ``origin_ids``, one per
    evaluation: how the accuracy bench replays the served draws at past origins), ``n`` draws (seeded)."""
    sets = []
    for k, ev in enumerate(evals):
        oid = ev.serving_id if origin_ids is None else origin_ids[k]
        when = ev.origin_row(oid)["origin"]
        assert isinstance(when, date)
        past = ev.origins.filter((pl.col("kind") == "rolling") & (pl.col("origin") < when))["cutoff"].to_list()
        sets.append(set(past))
    common = sorted(set.intersection(*sets)) if sets else []
    if not common:
        return []
    rng = np.random.default_rng(seed)
    return [common[i] for i in rng.integers(len(common), size=n)]


def _joint_paths(models: dict[str, SeriesModel], evals: dict[str, Evaluation], ids: Sequence[str],
                 label: str) -> None:
    """Redraw the served paths of ``ids`` jointly (same past origin per sample); points are unchanged, the
    distinct error paths behind them (``n_eff``) are those of the shared origins."""
    cutoffs = joint_cutoffs([evals[s] for s in ids], seed=stable_seed(label))
    if not cutoffs:
        return
    for sid in ids:
        ev = evals[sid]
        _, paths, n_eff, _ = ev.sample_paths(ev.serving_id, COMBINATION, cutoffs)
        models[sid].paths = paths
        models[sid].n_eff = min(models[sid].n_eff, n_eff)


def _values_at(sm: SeriesModel, dates: Sequence[date]) -> tuple[np.ndarray, np.ndarray]:
    """(point, paths) of a part at ``dates``: published values where it has them, its forecast otherwise."""
    hist = dict(sm.history.select("ds", "y").iter_rows())
    n = sm.paths.shape[0]
    point = np.empty(len(dates))
    paths = np.empty((n, len(dates)))
    for j, d in enumerate(dates):
        if d < sm.start:
            if d not in hist:
                raise ValueError(f"{sm.series_id} has no published value for {d}")
            point[j], paths[:, j] = hist[d], hist[d]
        else:
            i = sm.frequency.periods_between(sm.start, d)
            point[j], paths[:, j] = sm.point[i], sm.paths[:, i]
    return point, paths


BOTTOM_UP = "BottomUp"


def newest_rolling_origin(ev: Evaluation, when: date) -> int | None:
    """The last rolling origin on or before ``when`` (the newest forecast the series had made by then)."""
    o = ev.origins.filter(pl.col("origin") <= when, pl.col("kind") == "rolling").sort("origin")
    return int(o["origin_id"][-1]) if o.height else None


def served_on(ev: Evaluation, oid: int, steps: Sequence[date], cutoffs: list[date] | None,
             known: dict[date, float]) -> tuple[np.ndarray, np.ndarray, int]:
    """(point, paths, n_eff) of the combination made at ``oid`` (drawn with ``cutoffs``), on ``steps`` as far
    as its horizon reaches; a period in ``known`` (a quarter a company had reported by then) is that value."""
    point, paths, n_eff, _ = ev.sample_paths(oid, COMBINATION, cutoffs)
    start, freq = ev.training[oid].cutoff, ev.cfg.frequency
    pt, cols = [], []
    for d in steps:
        i = freq.periods_between(start, d) - 1
        if d in known:
            pt.append(known[d])
            cols.append(np.full(paths.shape[0], known[d]))
        elif 0 <= i < paths.shape[1]:
            pt.append(point[i])
            cols.append(paths[:, i])
        else:
            break
    return np.array(pt), np.column_stack(cols) if cols else np.empty((paths.shape[0], 0)), n_eff


def bottom_up_backtest(total: str, parts: Sequence[str], evals: dict[str, Evaluation]) -> pl.DataFrame:
    """The served bottom-up sum, replayed at the total's scored origins and scored like its own models.

    At each origin every part contributes its newest forecast made by then (its reported value for a quarter
    it had already reported), its paths drawn jointly with the others' as the served model draws them; the
    sum's point and bands (``interval_bounds``, as served) are scored against the total's latest values,
    MASE scaled by the total's history at the origin. Empty if fewer than ``MIN_ORIGINS`` origins had one.
    """
    ev = evals[total]
    frames, used = [], []
    for oid in scored_origins(ev):
        row = ev.origin_row(oid)
        when = row["origin"]
        assert isinstance(when, date)
        at = [newest_rolling_origin(evals[p], when) for p in parts]
        if any(o is None for o in at):
            continue
        oids = [int(o) for o in at if o is not None]
        steps = ev.forecasts.filter(pl.col("origin_id") == oid, pl.col("model") == COMBINATION).sort("h")["ds"]
        cutoffs = joint_cutoffs([evals[p] for p in parts], seed=stable_seed("capex", when), origin_ids=oids) or None
        drawn = [served_on(evals[p], o, steps.to_list(), cutoffs,
                          dict(evals[p].known_at(when).select("ds", "y").iter_rows())) for p, o in zip(parts, oids,
                                                                                                      strict=True)]
        n = min(d[0].size for d in drawn)
        if n == 0:
            continue
        point = np.sum([d[0][:n] for d in drawn], axis=0)
        paths = np.sum([d[1][:, :n] for d in drawn], axis=0)
        cols = {BOTTOM_UP: point}
        for lv, (lo, hi) in interval_bounds(paths, LEVELS, min(d[2] for d in drawn), point=point).items():
            cols[f"{BOTTOM_UP}-lo-{lv}"], cols[f"{BOTTOM_UP}-hi-{lv}"] = lo, hi
        frames.append(pl.DataFrame({"unique_id": total, "ds": steps[:n], "cutoff": row["cutoff"],
                                    "h": np.arange(1, n + 1), **cols}))
        used.append(oid)
    if len(used) < MIN_ORIGINS:
        return pl.DataFrame()
    cv = pl.concat(frames).with_columns(pl.col("cutoff").cast(pl.Date)).join(
        ev.latest().select("ds", "y"), on="ds", how="inner")
    cfg = ev.cfg
    return score_cv(cv, origin_training(ev, used), [BOTTOM_UP], sorted({cfg.primary_h, cfg.default_h}),
                    cfg.frequency.periods_per_year, len(used)).with_columns(
        pl.lit(value=True).alias("served"), pl.lit("method").alias("role"),
        pl.lit(None, dtype=pl.Float64).alias("weight"),
        pl.lit(any(evals[p].cfg.nowcast for p in parts)).alias("uses_drivers"),
        pl.lit(f"sum of the parts' forecasts made by each origin (drawn jointly, reported quarters fixed), on "
               f"{len(used)} of the total's origins").alias("note"))


def reconcile_capex(models: dict[str, SeriesModel], evals: dict[str, Evaluation]) -> str | None:
    """Serve the capex aggregates bottom-up from jointly drawn parts; returns why not, if it cannot."""
    missing = [s for s in (*CAPEX_PARTS, *CAPEX_TOTALS) if s not in models or s not in evals]
    if missing:
        return f"capex not reconciled: {', '.join(missing)} not trained in this run"
    _joint_paths(models, evals, CAPEX_PARTS, "capex")
    for total, parts in CAPEX_TOTALS.items():
        sm = models[total]
        dates = sm.dates()
        point = np.zeros(len(dates))
        paths = np.zeros((N_SAMPLES, len(dates)))
        for p in parts:
            pp, ps = _values_at(models[p], dates)
            point += pp
            paths += ps
        # the point is the sum of the parts' points and each sample path the sum of the parts' samples: both
        # add up exactly (the paths are not re-centred, so per-sample sums hold too)
        bu = bottom_up_backtest(total, parts, evals)
        prim = bu.filter(pl.col("horizon") == sm.method.primary_horizon) if bu.height else bu
        description = (f"sum of {', '.join(parts)} (each a {COMBINATION}), published values where a company "
                       "has reported; paths drawn jointly so common surprises add up. ")
        method = replace(sm.method, name=BOTTOM_UP, description=description + NOT_BACKTESTED,
                         intervals="percentiles of the per-sample sums of jointly drawn part paths",
                         mase=None, baseline_mase=None)
        board = sm.leaderboard
        if prim.height:
            base = best_baseline(sm.leaderboard, int(sm.method.primary_horizon or 0))
            method = replace(method, description=(
                description + f"Backtested by replaying that sum at {int(prim['windows'][0])} of the total's "
                "origins; the total's own models are scored beside it for reference."),
                backtest_origins=int(prim["windows"][0]), mase=float(prim["mase"][0]),
                baseline_mase=base[1] if base else None)
            own = sm.leaderboard.with_columns(
                pl.lit(value=False).alias("served"),
                pl.when(pl.col("model") == COMBINATION).then(pl.lit("reference")).otherwise(pl.col("role"))
                .alias("role"),
                pl.when(pl.col("model") == COMBINATION)
                .then(pl.lit("the total's own combination, not served: the total is the sum of its parts"))
                .otherwise(pl.col("note")).alias("note"))
            board = pl.concat([own, bu.select(own.columns)], how="vertical_relaxed")
        models[total] = replace(sm, kind="reconciled", point=point, paths=paths, method=method, leaderboard=board,
                                n_eff=min(models[p].n_eff for p in parts),
                                notes=[*sm.notes, "bottom-up: parts never exceed the total"])
    return None


def derive_temporal(models: dict[str, SeriesModel]) -> list[str]:
    """Annual series served from their monthly model's paths (same numbers by construction)."""
    notes = []
    for annual, monthly in TEMPORAL.items():
        if annual not in models or monthly not in models:
            continue
        src, base = models[monthly], models[annual]
        years = sorted({d.year for d in src.dates()})
        rows = src.outlook(years=len(years))
        got = [r.year for r in rows]
        if not got:
            continue
        totals = _annual_paths(src, got)
        own = annual_totals(src.history, src.spec)
        hist = own.select(pl.date(pl.col("year"), 1, 1).alias("ds"), "y")
        announced = {d.year: float(v) for d, v in base.history.drop_nulls("y").select("ds", "y").iter_rows()}
        ours = {int(y): float(v) for y, v in own.select("year", "y").iter_rows()}
        # the outlook's prior year is the monthly series' total, which a reader sees beside SIA's own figure
        py = got[0] - 1
        prior = (f"; growth is measured from the monthly series' {py} total ({ours[py]:,.1f})"
                 + (f", SIA announced {announced[py]:,.1f}" if py in announced else "")) if py in ours else ""
        method = replace(src.method, name="Temporal",
                         description=(f"calendar-year totals of the {monthly} forecast ({src.method.name}), "
                                      "by the catalog rule, on every sample path: the annual and monthly numbers "
                                      f"are the same numbers. {NOT_BACKTESTED}"),
                         mase=None, baseline_mase=None)
        models[annual] = replace(base, kind="derived", method=method, data=src.data, history=hist,
                                 start=date(got[0], 1, 1), point=np.array([r.value for r in rows]), paths=totals,
                                 n_eff=src.n_eff,
                                 notes=[f"derived from {monthly}: totals use 3 x the Mar/Jun/Sep/Dec 3-month "
                                        f"averages, within 0.6% of SIA's announced annual totals{prior}; the data "
                                        f"status is {monthly}'s"])
        notes.append(annual)
    return notes


def _annual_paths(sm: SeriesModel, years: Sequence[int]) -> np.ndarray:
    samples = sm.annual_samples()
    return np.column_stack([samples[y] for y in years])


def _usd_annual(sm: SeriesModel, panel: pl.DataFrame, years: Sequence[int],
                unit: str) -> tuple[np.ndarray, pl.DataFrame]:
    """Per-sample calendar-year totals in ``unit`` (a US$ unit; paths converted period by period), and the
    published years in the same unit."""
    if sm.spec.currency == "USD" or sm.spec.currency is None:
        paths, hist = sm.paths, sm.history
    else:
        fc = pl.DataFrame({"ds": sm.dates(), "y": np.ones(sm.max_h)})
        rates, _ = to_usd(fc, sm.spec, panel)  # US$ per unit of local amount, period by period
        factor = rates["y"].to_numpy()
        paths = sm.paths * factor[None, :]
        hist, _ = to_usd(sm.history, sm.spec, panel)
        hist = hist.select("ds", "y")
    scale = usd_unit_factor(usd_unit(sm.spec), unit)
    conv = copy.copy(sm)
    conv.paths, conv.history = paths * scale, hist.with_columns(pl.col("y") * scale)
    return _annual_paths(conv, years), annual_totals(conv.history.drop_nulls(), sm.spec)


def makers_usd(makers: Sequence[SeriesModel], panel: pl.DataFrame, years: Sequence[int],
               unit: str) -> tuple[np.ndarray, np.ndarray, list[pl.DataFrame]]:
    """The makers' revenue added in ``unit`` (US$) per sample path and calendar year, their points' sum, and
    each maker's published years in ``unit``."""
    paths, point, published = np.zeros((1, len(years))), np.zeros(len(years)), []
    for sm in makers:
        p, hist = _usd_annual(sm, panel, years, unit)
        paths = paths + p
        point = point + _usd_annual(_point_only(sm), panel, years, unit)[0][0]
        published.append(hist)
    return paths, point, published


def _point_only(sm: SeriesModel) -> SeriesModel:
    out = copy.copy(sm)
    out.paths = sm.point[None, :]
    return out


def market_under(market: SeriesModel, makers: Sequence[SeriesModel], scenario: Sequence[SeriesModel],
                 panel: pl.DataFrame) -> SeriesModel:
    """The memory market as its makers move from ``makers`` to ``scenario``: per path, market = ratio x
    makers, so with the ratio path kept it scales by the makers' own US$ change, path by path and year by
    year. The market then stays tied to its makers under a scenario too (with its own capex elasticity it
    fell to US$ 86 bn in a scenario where Micron alone made 123)."""
    years = [d.year for d in market.dates()]
    base_paths, base_point, _ = makers_usd(makers, panel, years, market.spec.unit)
    scen_paths, scen_point, _ = makers_usd(scenario, panel, years, market.spec.unit)
    out = copy.copy(market)
    out.paths = market.paths * scen_paths / base_paths
    out.point = market.point * scen_point / base_point
    return out


def derive_memory_market(models: dict[str, SeriesModel], evals: dict[str, Evaluation],
                         panel: pl.DataFrame) -> str | None:
    """The memory market's growth per path = the makers' US$ revenue growth x a ratio random walk."""
    need = [MEMORY_MARKET, *MEMORY_MAKERS]
    if any(s not in models for s in need) or any(s not in evals for s in MEMORY_MAKERS):
        return f"memory market not tied to its makers: {', '.join(s for s in need if s not in models)} not trained"
    _joint_paths(models, evals, MEMORY_MAKERS, "memory")
    market = models[MEMORY_MARKET]
    years = [market.start.year + i for i in range(market.max_h)]
    per = []
    for sid in MEMORY_MAKERS:
        sm = models[sid]
        complete = [r.year for r in sm.outlook(years=len({d.year for d in sm.dates()}))]
        per.append((sid, sm, complete))
    common = sorted(set.intersection(*(set(c) for _, _, c in per)) & set(years))
    usable = [y for y in common if y >= market.start.year]
    if not usable:
        return "memory makers' forecasts complete no year the market forecast needs"
    makers_paths, makers_point, published = makers_usd([sm for _, sm, _ in per], panel, usable, market.spec.unit)
    hist_frames = [hist.select("year", pl.col("y").alias(sid))
                   for (sid, _, _), hist in zip(per, published, strict=True)]
    hist_makers = hist_frames[0]
    for f in hist_frames[1:]:
        hist_makers = hist_makers.join(f, on="year", how="inner")
    hist_sum = {int(r[0]): float(sum(r[1:])) for r in hist_makers.iter_rows()}
    mkt = {d.year: float(v) for d, v in market.history.select("ds", "y").iter_rows()}
    ratios = {y: mkt[y] / hist_sum[y] for y in sorted(set(mkt) & set(hist_sum)) if hist_sum[y] > 0}
    prev_year = usable[0] - 1
    if prev_year not in ratios or prev_year not in hist_sum or len(ratios) < 4:
        return "too few years with both the memory market and its makers published to tie them"
    r = np.array([ratios[y] for y in sorted(ratios)])
    steps = np.diff(np.log(r))
    rng = np.random.default_rng(stable_seed("memory-ratio"))
    walk = np.cumsum(rng.choice(steps - steps.mean(), size=(N_SAMPLES, len(usable))), axis=1)
    ratio_paths = ratios[prev_year] * np.exp(walk)
    # per path, market = ratio x makers, and the point = the last ratio x the makers' points: no per-year
    # re-centring, which scaled each year by a different factor and so broke the tie to the makers (their
    # paths' medians sit far from their points after the surge: the market fell below its two makers)
    paths = ratio_paths * makers_paths
    point = ratios[prev_year] * makers_point
    spec = get_spec(MEMORY_MARKET)
    method = replace(market.method, name=MAKERS_DRIVEN,
                     description=("memory market = (Micron + SK hynix revenue in US$, their forecast paths drawn "
                                  "jointly) x the market-to-makers ratio, a random walk from its "
                                  f"{len(ratios)}-year history (last {ratios[prev_year]:.2f}). {NOT_BACKTESTED}"),
                     intervals="percentiles of makers' revenue paths x ratio paths", mase=None, baseline_mase=None)
    models[MEMORY_MARKET] = replace(
        market, kind="derived", method=method, start=date(usable[0], 1, 1), point=point, paths=paths,
        n_eff=min(models[s].n_eff for s in MEMORY_MAKERS),
        notes=[f"{spec.name}: driven by the makers' forecasts so the market and its makers move together; SK "
               "hynix converted to US$ at monthly average rates (the last published rate for future quarters)"])
    return None
