"""Accuracy that cannot flatter: the track record and the rolling-origin scores beside the plain references.

    .venv/bin/python bench/accuracy.py            # headline: wsts_worldwide_sales (+ capex reconciliation check)
    .venv/bin/python bench/accuracy.py --all      # + the leaderboard of every target at its primary horizon
    .venv/bin/python bench/accuracy.py --no-nowcast   # the headline without its nowcast (what the nowcast adds)
    .venv/bin/python bench/accuracy.py --as-of 2026-12-01   # the README's numbers (default: today)
    .venv/bin/python bench/accuracy.py --memory-market   # + the memory market as served, replayed each June/December

Everything here is computed on data as it was known at each origin (true vintages where the data has
them) with the same code `chipcast train` serves from: combination weights and intervals at an origin use
only outcomes published before it. Scores use the values as known on the run's date (``--as-of``).
Nothing is tuned on the years reported; where a design choice was made after looking at results, the
README says which.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table
from utilsforecast.losses import coverage, winkler_score

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forecasting.engine import LocalEngine  # noqa: E402
from forecasting.evaluation import (  # noqa: E402
    Evaluation,
    cv_frame,
    evaluate_target,
    interval_bounds,
    leaderboard,
    scored_origins,
    stable_seed,
)
from forecasting.reconcile import (  # noqa: E402
    CAPEX_PARTS,
    CAPEX_TOTALS,
    MEMORY_MAKERS,
    MEMORY_MARKET,
    bottom_up_backtest,
    joint_cutoffs,
    newest_rolling_origin,
    served_on,
)
from forecasting.result import OutlookYear  # noqa: E402
from forecasting.targets import TARGETS  # noqa: E402
from forecasting.track_record import (  # noqa: E402
    REFERENCE_MODELS,
    growth_by_year,
    summary,
    track_dates,
    track_record,
)
from forecasting.train import series_model, train  # noqa: E402
from forecasting.zoo import BASELINES, COMBINATION  # noqa: E402
from pipelines.panel import as_of, load_panel  # noqa: E402

console = Console(width=160)
HEADLINE = "wsts_worldwide_sales"
#: the issue's acceptance questions: (horizon, origin month, first and last target year)
#: the issue's questions: the track record's question and the target years it is scored on
QUESTIONS = {
    "next-year growth, 1 December origins 2015-2024": ("next-year growth, asked 1 December", (2016, 2025)),
    "current-year growth, 1 June origins 2015-2025": ("current-year growth, asked 1 June", (2015, 2025)),
}


def track_table(record: pl.DataFrame) -> Table:
    t = Table(title=f"{HEADLINE}: what chipcast would have said (Combination) vs what happened, % growth")
    for c in ("said on", "data to", "year", "forecast", "80%", "95%", "first print", "latest", "error pp", "hit 80/95"):
        t.add_column(c)
    for r in record.filter(pl.col("model") == COMBINATION).iter_rows(named=True):
        hit = "-" if r["hit_80"] is None else f"{'y' if r['hit_80'] else 'n'}/{'y' if r['hit_95'] else 'n'}"
        t.add_row(str(r["origin"]), str(r["last_observation"])[:7], str(r["year"]), f"{r['forecast_growth_pct']:+.1f}",
                  f"{r['growth_lo_80']:+.1f}..{r['growth_hi_80']:+.1f}",
                  f"{r['growth_lo_95']:+.1f}..{r['growth_hi_95']:+.1f}",
                  "-" if r["actual_growth_first_pct"] is None else f"{r['actual_growth_first_pct']:+.1f}",
                  "-" if r["actual_growth_latest_pct"] is None else f"{r['actual_growth_latest_pct']:+.1f}",
                  "-" if r["error_pp"] is None else f"{r['error_pp']:+.1f}", hit)
    return t


def question_scores(record: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The issue's questions, scored by the track record's own summary on the issue's years."""
    table = summary(record, years=dict(QUESTIONS.values()))
    return {q: table.filter(pl.col("question") == name).drop("question", "first_year", "last_year")
            for q, (name, _) in QUESTIONS.items()}


def window_totals(ev: Evaluation, models: tuple[str, ...], first: int = 4, last: int = 15,
                  extra: pl.DataFrame | None = None) -> pl.DataFrame:
    """Error of the total over steps ``first..last`` at every rolling origin whose last step is published.

    A December question (data to September) asks about steps 4..15; the same span at every monthly origin
    gives a much larger sample (overlapping, so not independent) than the ten December origins alone.
    Error = 100 x |log(actual total / forecast total)|, about the error of the total in percent. A month
    that is a gap in the published series (WSTS 2025-08) is left out of both totals rather than dropping
    the origin: otherwise every window across the gap, the 2025-2026 surge, would silently go unscored.
    ``extra``: more forecasts in the evaluation's shape (origin_id, ds, h, model, yhat on the working scale).
    """
    o = ev.origins.filter(pl.col("kind") == "rolling").select("origin_id")
    actual = ev.latest().select("ds", pl.col("y").alias("actual"))
    frame = ev.forecasts if extra is None else pl.concat([ev.forecasts, extra.select(ev.forecasts.columns)])
    return (
        frame.join(o, on="origin_id").filter(pl.col("model").is_in(models), pl.col("h").is_between(first, last))
        .join(actual, on="ds", how="inner")
        .group_by("origin_id", "model")
        .agg(pl.col("h").max().alias("reach"), pl.len().alias("n"),
             (pl.col("yhat").exp() if ev.log else pl.col("yhat")).sum().alias("f"), pl.col("actual").sum())
        .filter(pl.col("reach") == last)
        .group_by("model")
        .agg(pl.len().alias("origins"), (pl.col("n") < last - first + 1).sum().alias("with_gap"),
             (100 * (pl.col("actual") / pl.col("f")).log().abs()).mean().alias("mae_pct"))
        .sort("mae_pct")
    )


def pooled_coverage(ev: Evaluation, models: tuple[str, ...], h: int = 12) -> dict[str, dict[str, float]]:
    """Share of all monthly outcomes (steps 1..h, every scored origin) inside each model's bands.

    The leaderboard averages coverage per origin, so an origin with one published step weighs as much as
    one with twelve; pooled over outcomes is the literal reading of "cover 80% of monthly outcomes".
    Both are reported.
    """
    # without the cutoff column utilsforecast groups by the one series id alone: every outcome pooled
    cv = cv_frame(ev, scored_origins(ev), models).filter(pl.col("h") <= h).drop("cutoff", "h")
    by_level = {lv: coverage(cv, list(models), level=lv).row(0, named=True) for lv in (80, 95)}
    return {m: {"outcomes": float(cv.height), **{f"coverage_{lv}": float(r[m]) for lv, r in by_level.items()}}
            for m in models}


DIRECT = "MLForecast direct ridge"


def direct_forecasts(ev: Evaluation, h: int = 15) -> pl.DataFrame:
    """A direct multi-horizon model (mlforecast ``max_horizon``: one ridge regression per step on lags 1, 2,
    3, 6 and 12 of the monthly log change) at every rolling origin, continuing from the same nowcast months
    as the combination's members: the issue's direct-model candidate, scored beside the combination."""
    import pandas as pd  # mlforecast's input
    from mlforecast import MLForecast
    from mlforecast.target_transforms import Differences
    from sklearn.linear_model import Ridge

    out = []
    for r in ev.origins.filter(pl.col("kind") == "rolling").iter_rows(named=True):
        oid = r["origin_id"]
        nc = ev.nowcasts.get(oid)
        df = (nc.extended if nc is not None else ev.training[oid].df).sort("ds")
        n_nc = df.height - ev.training[oid].df.height
        pdf = df.select(pl.lit("s").alias("unique_id"), "ds", ev.work(pl.col("y")).alias("y")).to_pandas()
        pdf["ds"] = pd.to_datetime(pdf["ds"])
        mlf = MLForecast(models={DIRECT: Ridge(alpha=1.0)}, freq="MS", lags=[1, 2, 3, 6, 12],
                         target_transforms=[Differences([1])])
        mlf.fit(pdf, max_horizon=h - n_nc)
        pred = pl.from_pandas(mlf.predict(h - n_nc)).select(pl.col("ds").cast(pl.Date), pl.col(DIRECT).alias("yhat"))
        steps = pl.concat([df.tail(n_nc).select("ds", ev.work(pl.col("y")).alias("yhat")), pred]) if n_nc else pred
        out.append(steps.with_columns(pl.lit(oid).cast(pl.Int64).alias("origin_id"), pl.lit(DIRECT).alias("model"),
                                      pl.int_range(1, steps.height + 1, dtype=pl.Int64).alias("h")))
    return pl.concat(out)


RECONCILERS = ("ols", "wls_struct", "mint_shrink")


def _point_by_date(ev: Evaluation, oid: int) -> dict[date, float]:
    """The combination's point at ``oid`` on the series' own scale, by period."""
    fc = ev.forecasts.filter(pl.col("origin_id") == oid, pl.col("model") == COMBINATION).sort("h")
    return dict(zip(fc["ds"].to_list(), ev.unwork(fc["yhat"].to_numpy()).tolist(), strict=True))


def _sample_columns(ev: Evaluation, oid: int, steps: list[date], cutoffs: list[date] | None,
                    known: dict[date, float]) -> tuple[np.ndarray, np.ndarray, int] | None:
    """``served_on`` over every step, or None if one is beyond the origin's horizon."""
    got = served_on(ev, oid, steps, cutoffs, known)
    return got if got[0].size == len(steps) else None


def _band_row(key: str, actual: float, point: float, samples: np.ndarray, n_eff: int,
              scale: float) -> dict[str, object]:
    """One served band at 80 and 95% (``interval_bounds``, as served), divided by the MASE scale so
    utilsforecast's Winkler score comes out scaled like MASE."""
    bounds = interval_bounds(samples[:, None], (80, 95), n_eff or None, point=np.array([point]))
    row: dict[str, object] = {"unique_id": key, "y": actual / scale}
    for lv, (lo, hi) in bounds.items():
        row[f"band-lo-{lv}"], row[f"band-hi-{lv}"] = float(lo[0]) / scale, float(hi[0]) / scale
    return row


def _insample(ev: Evaluation, when: date, known: dict[date, float]) -> dict[date, tuple[float, float]]:
    """Quarter -> (actual as known at ``when``, the one-step combination forecast made before it): the
    nested residuals MinT's covariance is estimated from."""
    past = ev.origins.filter(pl.col("origin") < when, pl.col("kind") == "rolling")["origin_id"]
    one = ev.forecasts.filter(pl.col("origin_id").is_in(past.implode()), pl.col("model") == COMBINATION,
                              pl.col("h") == 1).select("ds", "yhat")
    fc = ev.unwork(one["yhat"].to_numpy())
    return {d: (known[d], float(f)) for d, f in zip(one["ds"].to_list(), fc, strict=True) if d in known}


def capex_reconciliation(panel: pl.DataFrame, when: date, engine: LocalEngine) -> dict[str, object]:
    """MASE at h=1..4 of the capex totals: their own combinations, bottom-up (served) and MinTrace.

    At each rolling origin of the total, every series contributes its newest forecast made by then (a
    company that has already reported the quarter contributes the reported value); hierarchicalforecast's
    MinTrace reconciles the seven base forecasts (five companies, ex-Amazon, total) with OLS, structural
    scaling and the shrunk covariance of the one-step errors made before the origin (nested). Scored on the
    values as known today, scaled per origin by the total's seasonal-naive error before it. The served bands
    (the totals' own paths and the per-sample sums of the jointly drawn parts) are replayed at the same steps.
    """
    from hierarchicalforecast.methods import MinTrace  # bench-only dependency

    ex_parts = CAPEX_TOTALS["capex_hyperscalers_ex_amazon"]
    totals = ["capex_hyperscalers_total", "capex_hyperscalers_ex_amazon"]
    order = [*totals, *CAPEX_PARTS]
    s_mat = np.vstack([np.ones(len(CAPEX_PARTS)), [p in ex_parts for p in CAPEX_PARTS],
                       np.eye(len(CAPEX_PARTS))]).astype(float)
    evs = {s: evaluate_target(panel, TARGETS[s], when, engine=engine) for s in order}
    total = evs["capex_hyperscalers_total"]
    latest = {s: dict(evs[s].latest().select("ds", "y").iter_rows()) for s in totals}
    methods = ("own", "bottom_up", *RECONCILERS)
    errs: dict[str, dict[str, list[float]]] = {s: {m: [] for m in methods} for s in totals}
    band_rows: list[dict[str, object]] = []
    for r in total.origins.filter(pl.col("kind") == "rolling").iter_rows(named=True):
        when_o = r["origin"]
        # per series, once per origin: its newest origin by then and its values as known then
        at = {s: newest_rolling_origin(evs[s], when_o) for s in order}
        if any(o is None for o in at.values()):
            continue
        oids = {s: int(o) for s, o in at.items() if o is not None}
        known = {s: dict(evs[s].known_at(when_o).select("ds", "y").iter_rows()) for s in order}
        points = {s: _point_by_date(evs[s], oids[s]) for s in order}
        steps = total.forecasts.filter(pl.col("origin_id") == oids[totals[0]], pl.col("model") == COMBINATION,
                                       pl.col("h") <= 4)["ds"].to_list()
        steps = [d for d in steps if all(d in latest[s] for s in totals)]
        # base forecasts: a company's reported quarter where it has one, every series' forecast otherwise
        y_hat = np.array([[(known[s] if s in CAPEX_PARTS else {}).get(d, points[s].get(d, np.nan)) for d in steps]
                          for s in order])
        if not steps or np.isnan(y_hat).any():
            continue
        ins = [_insample(evs[s], when_o, known[s]) for s in order]
        common = sorted(set.intersection(*(set(i) for i in ins)))
        rec = {"own": y_hat[:2], "bottom_up": s_mat[:2] @ y_hat[2:]}
        for m in RECONCILERS:
            if m == "mint_shrink":
                if len(common) < 8:
                    rec[m] = np.full_like(y_hat[:2], np.nan)
                    continue
                y_in = np.array([[i[d][0] for d in common] for i in ins])
                f_in = np.array([[i[d][1] for d in common] for i in ins])
                rec[m] = MinTrace(method=m).fit_predict(s_mat, y_hat, y_insample=y_in, y_hat_insample=f_in)["mean"][:2]
            else:
                rec[m] = MinTrace(method=m).fit_predict(s_mat, y_hat)["mean"][:2]
        cutoffs = joint_cutoffs([evs[p] for p in CAPEX_PARTS], seed=stable_seed("capex", when_o),
                                origin_ids=[oids[p] for p in CAPEX_PARTS]) or None
        drawn = {p: _sample_columns(evs[p], oids[p], steps, cutoffs, known[p]) for p in CAPEX_PARTS}
        for k, sid in enumerate(totals):
            # seasonal-naive error by date, a year apart (a missing quarter must not shift the pairs)
            diffs = [abs(v - known[sid][d.replace(year=d.year - 1)]) for d, v in known[sid].items()
                     if d.replace(year=d.year - 1) in known[sid]]
            if not diffs:
                continue
            scale = float(np.mean(diffs))
            for j, d in enumerate(steps):
                for m in methods:
                    errs[sid][m].append(abs(latest[sid][d] - float(rec[m][k, j])) / scale)
            own = _sample_columns(evs[sid], oids[sid], steps, None, {})
            parts = [drawn[p] for p in CAPEX_TOTALS[sid]]
            for j, d in enumerate(steps):
                if own is not None:
                    band_rows.append(_band_row(f"{sid}|own", latest[sid][d], own[0][j], own[1][:, j], own[2], scale))
                if all(x is not None for x in parts):
                    got = [x for x in parts if x is not None]
                    band_rows.append(_band_row(f"{sid}|bottom_up", latest[sid][d], float(sum(x[0][j] for x in got)),
                                               np.sum([x[1][:, j] for x in got], axis=0), min(x[2] for x in got),
                                               scale))
    bands = pl.DataFrame(band_rows)
    scores: dict[str, dict[str, float]] = {}
    for name, frame in (("hit_80", coverage(bands, ["band"], 80)), ("hit_95", coverage(bands, ["band"], 95)),
                        ("winkler_80", winkler_score(bands, ["band"], 80))):
        for key, v in frame.iter_rows():
            scores.setdefault(key, {})[name] = v
    steps_by = dict(bands.group_by("unique_id").len().iter_rows())
    out: dict[str, object] = {}
    for sid, by in errs.items():
        ok = ~np.isnan(np.array(by["mint_shrink"]))
        out[sid] = {"origin_steps": len(by["own"]), "mint_shrink_steps": int(ok.sum()),
                    **{m: float(np.nanmean(v)) if v else float("nan") for m, v in by.items()},
                    # the same steps for every method where MinT-shrink had enough nested residuals
                    **{f"{m}_on_shrink_steps": float(np.mean(np.array(v)[ok])) if ok.any() else float("nan")
                       for m, v in by.items()},
                    **{f"{m}_{k}": scores.get(f"{sid}|{m}", {}).get(k, float("nan"))
                       for m in ("own", "bottom_up") for k in ("hit_80", "hit_95", "winkler_80")},
                    "band_steps": {m: steps_by.get(f"{sid}|{m}", 0) for m in ("own", "bottom_up")}}
    return out


def _mean(s: pl.Series) -> float:
    v = s.mean()
    return float(v) if isinstance(v, int | float) else float("nan")


def _growth_row(origin: date, model: str, kind: str, o: OutlookYear, growth: dict[int, float]) -> dict[str, object]:
    band = {i.level: (i.lo, i.hi) for i in o.growth_intervals}
    row: dict[str, object] = {"origin": origin, "model": model, "kind": kind, "year": o.year,
                              "growth_pct": o.growth_pct}
    outcome = growth.get(o.year)
    row["actual_pct"] = outcome
    row["error_pp"] = o.growth_pct - outcome if outcome is not None and o.growth_pct is not None else None
    for lv in (80, 95):
        lo, hi = band.get(lv, (None, None))
        row[f"hit_{lv}"] = None if outcome is None or lo is None or hi is None else bool(lo <= outcome <= hi)
    return row


def memory_market_replay(panel: pl.DataFrame, data_dir: Path, when: date, engine: LocalEngine) -> pl.DataFrame:
    """The memory market as it would have been served each 1 June and 1 December, beside its own model.

    At each date the memory group (the market and its makers) is trained as ``chipcast train`` would have
    trained it then (``train(..., when=origin)``, true publication dates): the served market is the makers-driven
    one where the makers could be tied to it, else its own annual model. Its current- and next-year growth is
    scored on the market's calendar years as known on ``when``.
    """
    known = as_of(panel, when).filter(pl.col("unique_id") == MEMORY_MARKET)
    actual = growth_by_year(known, TARGETS[MEMORY_MARKET].spec)
    rows = []
    for origin in track_dates(date(2015, 1, 1), when):
        res = train([MEMORY_MARKET, *MEMORY_MAKERS], data_dir=data_dir, when=origin, engine=engine)
        served = res.forecaster.models.get(MEMORY_MARKET)
        if served is None or MEMORY_MARKET not in res.evaluations:
            continue
        own = series_model(res.evaluations[MEMORY_MARKET], res.panel, origin)
        for model, sm in (("served", served), ("own", own)):
            rows += [_growth_row(origin, model, sm.kind, o, actual) for o in sm.outlook(levels=(80, 95), years=2)]
    return pl.DataFrame(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--all", action="store_true", help="also print every target's leaderboard summary")
    ap.add_argument("--as-of", default=None, help="evaluate on data published by this date (default today)")
    ap.add_argument("--json", type=Path, default=None, help="write the numbers to this file")
    ap.add_argument("--no-nowcast", action="store_true",
                    help="the headline series without its nowcast (to measure what the nowcast adds)")
    ap.add_argument("--memory-market", action="store_true",
                    help="also replay the memory market as served at every 1 June and 1 December (a few minutes)")
    args = ap.parse_args()
    when = date.fromisoformat(args.as_of) if args.as_of else date.today()
    engine = LocalEngine(n_jobs=-1)
    panel = load_panel(data_dir=ROOT / "data", vintages=True)
    started = time.perf_counter()
    headline = replace(TARGETS[HEADLINE], nowcast=None) if args.no_nowcast else TARGETS[HEADLINE]
    ev = evaluate_target(panel, headline, when, extra_origins=track_dates(date(2000, 1, 1), when),
                         engine=engine)
    record = track_record(ev, models=(COMBINATION, *REFERENCE_MODELS))
    console.print(track_table(record))
    results: dict[str, object] = {"as_of": when.isoformat()}
    scores = question_scores(record)
    for q, frame in scores.items():
        t = Table(title=q)
        for c in ("model", "origins", "MAE pp", "bias pp", "80% hit", "95% hit"):
            t.add_column(c)
        for r in frame.iter_rows(named=True):
            name = "AutoETS on logs (PlainETS)" if r["model"] == "PlainETS" else r["model"]
            t.add_row(name, str(r["origins"]), f"{r['mae_pp']:.2f}", f"{r['bias_pp']:+.2f}", f"{r['hit_80']:.2f}",
                      f"{r['hit_95']:.2f}")
        console.print(t)
        results[q] = frame.to_dicts()
    board = leaderboard(ev, horizons=(12,))
    by = {r["model"]: r for r in board.iter_rows(named=True)}
    combo, base = by[COMBINATION], min((by[b] for b in BASELINES if b in by), key=lambda r: r["mase"])
    console.print(
        f"\n[bold]{HEADLINE}, monthly h=1..12 on {combo['windows']} rolling origins[/]: Combination MASE "
        f"{combo['mase']:.3f} vs {base['model']} {base['mase']:.3f} ({100 * (1 - combo['mase'] / base['mase']):+.1f}% "
        f"better); intervals cover {combo['coverage_80']:.2f} at 80% and {combo['coverage_95']:.2f} at 95%; "
        f"scaled Winkler 80% {combo['winkler_80']:.2f} (AutoETS on logs: "
        f"{by.get('PlainETS', by['AutoETS'])['winkler_80']:.2f})")
    pooled = pooled_coverage(ev, tuple(m for m in (COMBINATION, "PlainETS", *BASELINES)
                                       if m == COMBINATION or m in ev.specs))
    console.print("pooled over all " + f"{pooled[COMBINATION]['outcomes']:.0f} monthly outcomes (h=1..12), coverage "
                  "80% / 95%: " + ", ".join(
                      f"{'AutoETS on logs' if m == 'PlainETS' else m} {v['coverage_80']:.2f} / {v['coverage_95']:.2f}"
                      for m, v in pooled.items()))
    results["monthly"] = board.to_dicts()
    results["monthly_pooled_coverage"] = pooled
    direct = direct_forecasts(ev) if ev.cfg.frequency.periods_per_year == 12 else None
    span = window_totals(ev, (COMBINATION, "PlainETS", *BASELINES, DIRECT), extra=direct)
    scores_4_15 = ", ".join(f"{'AutoETS on logs' if r['model'] == 'PlainETS' else r['model']} {r['mae_pct']:.2f}"
                            for r in span.iter_rows(named=True))
    n_span = max(span["origins"].to_list(), default=0)
    n_gap = max(span["with_gap"].to_list(), default=0)
    console.print("total of steps 4..15 (the span a December question covers) at every rolling origin whose 15th "
                  f"month is published, mean |log error| x 100: {scores_4_15} ({n_span} origins, overlapping; "
                  f"{n_gap} of them span a gap month, left out of both totals)")
    results["steps_4_15_total"] = span.to_dicts()
    first = ev.origins.filter(pl.col("kind") == "rolling")["origin"].dt.min()
    console.print(f"rolling origins from {first}; fitted in {time.perf_counter() - started:.0f} s")
    rec = capex_reconciliation(panel, when, engine)
    t = Table(title="capex totals, h=1..4: MASE of the total's own combination, bottom-up (served) and MinTrace")
    for c in ("series", "origin-steps", "own", "bottom-up", "MinT ols", "MinT wls_struct", "MinT shrink (steps)"):
        t.add_column(c)
    for sid, v in rec.items():
        assert isinstance(v, dict)
        t.add_row(sid, str(v["origin_steps"]), f"{v['own']:.3f}", f"{v['bottom_up']:.3f}", f"{v['ols']:.3f}",
                  f"{v['wls_struct']:.3f}", f"{v['mint_shrink']:.3f} ({v['mint_shrink_steps']}; own "
                  f"{v['own_on_shrink_steps']:.3f}, bottom-up {v['bottom_up_on_shrink_steps']:.3f})")
    console.print(t)
    for sid, v in rec.items():
        assert isinstance(v, dict)
        console.print(f"{sid} served bands, h=1..4 ({v['band_steps']['bottom_up']} origin-steps): bottom-up (served) "
                      f"cover {v['bottom_up_hit_80']:.2f} / {v['bottom_up_hit_95']:.2f} at 80/95%, scaled Winkler80 "
                      f"{v['bottom_up_winkler_80']:.2f}; own combination {v['own_hit_80']:.2f} / "
                      f"{v['own_hit_95']:.2f}, {v['own_winkler_80']:.2f}")
    results["capex_reconciliation"] = rec
    if args.all:
        t = Table(title="every target: served method vs plain references at its primary horizon (MASE, coverage)")
        for c in ("series", "h", "origins", "Combination", "best naive", "AutoETS on logs", "RWD", "cov80", "cov95"):
            t.add_column(c)
        rows = []
        evaluated: dict[str, Evaluation] = {}
        refs: dict[str, tuple[float, float, float]] = {}

        def add(label: str, sid: str, served: dict[str, object]) -> None:
            naive, ets, rwd = refs[sid]
            rows.append({"series": label, "h": TARGETS[sid].primary_h, "origins": served["windows"],
                         "combination": served["mase"], "best_naive": naive, "autoets_log": ets, "rwd": rwd,
                         "coverage_80": served["coverage_80"], "coverage_95": served["coverage_95"]})
            t.add_row(label, str(TARGETS[sid].primary_h), str(served["windows"]), f"{served['mase']:.3f}",
                      f"{naive:.3f}", f"{ets:.3f}", f"{rwd:.3f}", f"{served['coverage_80']:.2f}",
                      f"{served['coverage_95']:.2f}")

        for sid, cfg in TARGETS.items():
            try:
                e: Evaluation = ev if sid == HEADLINE else evaluate_target(panel, cfg, when, engine=engine)
            except ValueError as exc:
                console.print(f"[yellow]{sid}[/]: {exc}")
                continue
            evaluated[sid] = e
            b = leaderboard(e, horizons=(cfg.primary_h,))
            if b.height == 0:
                continue
            m = {r["model"]: r for r in b.iter_rows(named=True)}
            refs[sid] = (min((m[x]["mase"] for x in BASELINES if x in m), default=float("nan")),
                         m.get("PlainETS", m.get("AutoETS", {})).get("mase", float("nan")),
                         m.get("RWD", {}).get("mase", float("nan")))
            add(sid, sid, m[COMBINATION])
        # the capex aggregates are served as the sum of their parts: that sum replayed at the same origins
        for total, parts in CAPEX_TOTALS.items():
            if total in refs and all(p in evaluated for p in parts):
                for r in bottom_up_backtest(total, parts, evaluated).filter(
                        pl.col("horizon") == TARGETS[total].primary_h).iter_rows(named=True):
                    add(f"{total} (served: bottom-up)", total, r)
        console.print(t)
        results["targets"] = rows
    if args.memory_market:
        mm = memory_market_replay(panel, ROOT / "data", when, engine)
        t = Table(title=f"{MEMORY_MARKET} as served vs its own annual model (growth %, outcome as known {when})")
        for c in ("origin", "year", "served as", "served", "own", "outcome", "served 80/95% hit", "own 80/95% hit"):
            t.add_column(c)
        wide = mm.pivot(on="model", index=["origin", "year", "actual_pct"],
                        values=["kind", "growth_pct", "error_pp", "hit_80", "hit_95"])
        def fmt(v: object, spec: str = "+.1f") -> str:
            return "-" if v is None else format(v, spec)

        for r in wide.sort("origin", "year").iter_rows(named=True):
            t.add_row(str(r["origin"]), str(r["year"]), str(r["kind_served"]), fmt(r["growth_pct_served"]),
                      fmt(r["growth_pct_own"]), fmt(r["actual_pct"]), f"{r['hit_80_served']}/{r['hit_95_served']}",
                      f"{r['hit_80_own']}/{r['hit_95_own']}")
        console.print(t)
        # the same questions for both: an outcome, and a growth from each model (the makers-driven market can
        # start a year later than the market's own model)
        scored = wide.filter(pl.col("kind_served") == "derived", pl.col("actual_pct").is_not_null(),
                             pl.col("error_pp_served").is_not_null(), pl.col("error_pp_own").is_not_null())
        summary_mm = {
            "questions": scored.height,
            **{f"mae_pp_{m}": _mean(scored[f"error_pp_{m}"].abs()) for m in ("served", "own")},
            **{f"hit_{lv}_{m}": _mean(scored[f"hit_{lv}_{m}"].cast(pl.Float64)) for lv in (80, 95)
               for m in ("served", "own")},
        }
        console.print(f"where the served market was makers-driven ({summary_mm['questions']} questions with an "
                      f"outcome): MAE {summary_mm['mae_pp_served']:.1f} pp served vs {summary_mm['mae_pp_own']:.1f} pp "
                      f"own model; 80/95% hits {summary_mm['hit_80_served']:.2f}/{summary_mm['hit_95_served']:.2f} "
                      f"vs {summary_mm['hit_80_own']:.2f}/{summary_mm['hit_95_own']:.2f}")
        results["memory_market"] = {"rows": mm.to_dicts(), "makers_driven": summary_mm}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
