"""Accuracy that cannot flatter: the track record and the rolling-origin scores beside the plain references.

    .venv/bin/python bench/accuracy.py            # headline: wsts_worldwide_sales (+ capex bottom-up check)
    .venv/bin/python bench/accuracy.py --all      # + the leaderboard of every target at its primary horizon
    .venv/bin/python bench/accuracy.py --no-nowcast   # the headline without its nowcast (what the nowcast adds)
    .venv/bin/python bench/accuracy.py --as-of 2026-12-01   # the README's numbers (default: today)

Everything here is computed on data as it was known at each origin (true vintages where the data has
them) with the same code `chipcast train` serves from: combination weights and intervals at an origin use
only outcomes published before it. Scores use the values as known today. Nothing is tuned on the years
reported; where a design choice was made after looking at results, the README says which.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from forecasting.engine import LocalEngine  # noqa: E402
from forecasting.evaluation import Evaluation, evaluate_target, leaderboard  # noqa: E402
from forecasting.reconcile import CAPEX_PARTS  # noqa: E402
from forecasting.targets import TARGETS  # noqa: E402
from forecasting.track_record import REFERENCE_MODELS, summary, track_dates, track_record  # noqa: E402
from forecasting.zoo import BASELINES, COMBINATION  # noqa: E402
from pipelines.panel import load_panel  # noqa: E402

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


def capex_bottom_up(panel: pl.DataFrame, when: date, engine: LocalEngine) -> dict[str, float]:
    """MASE at h=1..4 of the total's own combination vs the sum of the companies' combinations, same origins."""
    evs = {s: evaluate_target(panel, TARGETS[s], when, engine=engine) for s in (*CAPEX_PARTS,
                                                                                "capex_hyperscalers_total")}
    total = evs["capex_hyperscalers_total"]
    latest = dict(total.known_at(date.max).select("ds", "y").iter_rows())
    err_base: list[float] = []
    err_bu: list[float] = []
    for r in total.origins.filter(pl.col("kind") == "rolling").iter_rows(named=True):
        when_o, oid = r["origin"], r["origin_id"]
        fc = total.forecasts.filter(pl.col("origin_id") == oid, pl.col("model") == COMBINATION, pl.col("h") <= 4)
        parts = []
        for p in CAPEX_PARTS:
            ev = evs[p]
            o = ev.origins.filter(pl.col("origin") <= when_o, pl.col("kind") == "rolling").sort("origin")
            if o.height == 0:
                break
            poid = int(o["origin_id"][-1])
            known = dict(ev.known_at(when_o).select("ds", "y").iter_rows())
            pf = dict(ev.forecasts.filter(pl.col("origin_id") == poid, pl.col("model") == COMBINATION)
                      .select("ds", pl.col("yhat").exp()).iter_rows())
            parts.append((known, pf))
        if len(parts) < len(CAPEX_PARTS):
            continue
        hist = total.training[oid].observed()["y"].to_numpy()
        if hist.size < 5:
            continue
        s = float(np.mean(np.abs(hist[4:] - hist[:-4])))
        for ds, yhat in fc.select("ds", "yhat").iter_rows():
            if ds not in latest:
                continue
            bu = 0.0
            for known, pf in parts:
                v = known.get(ds, pf.get(ds))
                if v is None:
                    bu = float("nan")
                    break
                bu += v
            if bu != bu:
                continue
            err_base.append(abs(latest[ds] - float(np.exp(yhat))) / s)
            err_bu.append(abs(latest[ds] - bu) / s)
    return {"origins_points": len(err_base), "base_mase": float(np.mean(err_base)),
            "bottom_up_mase": float(np.mean(err_bu))}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--all", action="store_true", help="also print every target's leaderboard summary")
    ap.add_argument("--as-of", default=None, help="evaluate on data published by this date (default today)")
    ap.add_argument("--json", type=Path, default=None, help="write the numbers to this file")
    ap.add_argument("--no-nowcast", action="store_true",
                    help="the headline series without its nowcast (to measure what the nowcast adds)")
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
    results["monthly"] = board.to_dicts()
    first = ev.origins.filter(pl.col("kind") == "rolling")["origin"].dt.min()
    console.print(f"rolling origins from {first}; fitted in {time.perf_counter() - started:.0f} s")
    bu = capex_bottom_up(panel, when, engine)
    console.print(f"capex total, h=1..4: own combination MASE {bu['base_mase']:.3f} vs bottom-up from the five "
                  f"companies {bu['bottom_up_mase']:.3f} ({bu['origins_points']} origin-steps)")
    results["capex_bottom_up"] = bu
    if args.all:
        t = Table(title="every target: served method vs plain references at its primary horizon (MASE, coverage)")
        for c in ("series", "h", "origins", "Combination", "best naive", "AutoETS on logs", "cov80", "cov95"):
            t.add_column(c)
        rows = []
        for sid, cfg in TARGETS.items():
            try:
                e: Evaluation = ev if sid == HEADLINE else evaluate_target(panel, cfg, when, engine=engine)
            except ValueError as exc:
                console.print(f"[yellow]{sid}[/]: {exc}")
                continue
            b = leaderboard(e, horizons=(cfg.primary_h,))
            if b.height == 0:
                continue
            m = {r["model"]: r for r in b.iter_rows(named=True)}
            naive = min((m[x]["mase"] for x in BASELINES if x in m), default=float("nan"))
            ets = m.get("PlainETS", m.get("AutoETS", {})).get("mase", float("nan"))
            served = m[COMBINATION]
            rows.append({"series": sid, "h": cfg.primary_h, "origins": served["windows"],
                         "combination": served["mase"], "best_naive": naive, "autoets_log": ets,
                         "coverage_80": served["coverage_80"], "coverage_95": served["coverage_95"]})
            t.add_row(sid, str(cfg.primary_h), str(served["windows"]), f"{served['mase']:.3f}", f"{naive:.3f}",
                      f"{ets:.3f}", f"{served['coverage_80']:.2f}", f"{served['coverage_95']:.2f}")
        console.print(t)
        results["targets"] = rows
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
