"""Throughput of chipcast's statsforecast engines on CLEARLY SYNTHETIC monthly series (benchmark only).

The series are generated here, seeded, and named ``synthetic_00001`` ...: trend x seasonality x noise,
60 to 120 months long. They are not data and never enter the model store. Each (size, engine) run is
what ``--engine dask`` is for, many series sharing one config:

    StatsForecast([AutoETS(season_length=12), SeasonalNaive(12), Naive()])
    forecast(h=12, level=[80, 95]) of every series at 3 origins (2 backtest cut-offs 12 months apart + now)

stacked the way chipcast's rolling-origin evaluation stacks them (one ``unique_id`` per series and
origin, all in one ``forecasting.engine.bulk_forecast`` call; polars in, polars out, the conversion to
pandas/Dask included in the time). Engines: ``local-1`` (statsforecast n_jobs=1),
``local-all`` (statsforecast's own process pool, n_jobs=-1) and ``dask-2`` (a Dask LocalCluster of
2 worker processes x 1 thread, statsforecast's fugue backend). The cluster start-up is timed separately,
every engine does one untimed warm-up run, and engines take turns within each size and repeat so that
load from other processes on the machine falls on all of them alike. Prints seconds (median of
--repeats), series/second, the ratio to local-1, the scaling exponent (least-squares slope of log time on
log n; 1.0 = linear) and the largest relative difference of each engine's forecasts from local-1.

    .venv/bin/python bench/scale.py --sizes 100 1000 10000 --repeats 1
    .venv/bin/python bench/scale.py --sizes 100 1000 --repeats 3 --engines local-1 dask-2
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from contextlib import ExitStack
from datetime import date

import numpy as np
import polars as pl
from statsforecast.models import AutoETS, Naive, SeasonalNaive

from forecasting.engine import DaskEngine, Engine, LocalEngine, bulk_forecast

SEED = 20261127
MAX_LEN = 120
H = 12
LEVEL = (80, 95)
ENGINE_NAMES = ("local-1", "local-all", "dask-2")


def synthetic_panel(n: int, seed: int = SEED) -> pl.DataFrame:
    """SYNTHETIC (benchmark only): ``n`` monthly series ``synthetic_00001``..., 60-120 months to 2025-12."""
    rng = np.random.default_rng(seed)
    t = np.arange(MAX_LEN)
    level = rng.uniform(50, 5000, n)[:, None]
    trend = rng.uniform(-0.002, 0.01, n)[:, None]
    amp = rng.uniform(0.0, 0.3, n)[:, None]
    phase = rng.uniform(0, 2 * np.pi, n)[:, None]
    noise = rng.normal(0, rng.uniform(0.01, 0.08, n)[:, None], (n, MAX_LEN))
    y = level * (1 + trend * t) * (1 + amp * np.sin(2 * np.pi * t / 12 + phase)) * (1 + noise)
    start = MAX_LEN - rng.integers(60, MAX_LEN + 1, n)
    ds = pl.date_range(date(2016, 1, 1), date(2025, 12, 1), "1mo", eager=True)
    return (
        pl.DataFrame({
            "unique_id": np.repeat([f"synthetic_{i:05d}" for i in range(1, n + 1)], MAX_LEN),
            "ds": np.tile(ds.to_numpy(), n),
            "y": y.ravel(),
            "t": np.tile(t, n),
            "start": np.repeat(start, MAX_LEN),
        })
        .filter(pl.col("t") >= pl.col("start"))
        .select("unique_id", pl.col("ds").cast(pl.Date), "y")
    )


def models() -> list[AutoETS | SeasonalNaive | Naive]:
    return [AutoETS(season_length=12), SeasonalNaive(season_length=12), Naive()]


def stacked_origins(df: pl.DataFrame, n_windows: int = 2) -> pl.DataFrame:
    """Each series cut at ``n_windows`` backtest origins (12 months apart) and at its end, one id per cut."""
    cuts = []
    for w in range(n_windows, -1, -1):
        cut = df.group_by("unique_id").agg(pl.col("ds").max().dt.offset_by(f"-{w * H}mo").alias("cutoff"))
        cuts.append(
            df.join(cut, on="unique_id")
            .filter(pl.col("ds") <= pl.col("cutoff"))
            .with_columns(pl.format("{}@{}", "unique_id", pl.lit(w)).alias("unique_id"))
            .drop("cutoff")
        )
    return pl.concat(cuts)


def train_and_forecast(engine: Engine, df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Backtest and serving fits in one call; returns (backtest forecasts, forecasts from the end)."""
    out = bulk_forecast(engine, stacked_origins(df), models(), "1mo", h=H, level=LEVEL)
    now = pl.col("unique_id").str.ends_with("@0")
    final = out.filter(now).with_columns(pl.col("unique_id").str.replace(r"@0$", ""))
    return out.filter(~now), final


def max_rel_diff(a: pl.DataFrame, b: pl.DataFrame) -> float:
    keys = ["unique_id", "ds"]
    cols = [c for c in a.columns if c not in keys]
    j = a.join(b, on=keys, suffix="_b")
    assert j.height == a.height == b.height
    rel = [((pl.col(c) - pl.col(f"{c}_b")).abs() / pl.col(c).abs()).max() for c in cols]
    return float(j.select(pl.max_horizontal(rel)).item())


def slope(sizes: list[int], seconds: list[float]) -> float:
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0]) if len(sizes) > 1 else math.nan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--engines", nargs="+", choices=ENGINE_NAMES, default=list(ENGINE_NAMES))
    args = ap.parse_args()

    print(f"SYNTHETIC benchmark data (seed {SEED}): monthly series synthetic_00001..., 60-120 months; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    print(f"work per size: AutoETS(12) + SeasonalNaive(12) + Naive, h={H} at 2 backtest origins + now, stacked, "
          f"levels {list(LEVEL)}; median of {args.repeats} run(s)")
    panels = {n: synthetic_panel(n) for n in args.sizes}
    warm = synthetic_panel(20, seed=SEED + 1)
    seconds: dict[tuple[str, int], float] = {}
    forecasts: dict[tuple[str, int], pl.DataFrame] = {}
    with ExitStack() as stack:
        engines: dict[str, Engine] = {}
        for name in args.engines:  # all engines up front, so load from other processes hits them alike
            t0 = time.perf_counter()
            engine: Engine = (DaskEngine(n_workers=2, threads_per_worker=1) if name == "dask-2"
                              else LocalEngine(n_jobs=1 if name == "local-1" else -1))
            engines[name] = stack.enter_context(engine)
            startup = time.perf_counter() - t0
            train_and_forecast(engine, warm)
            print(f"{name}: start-up {startup:.1f} s ({engine!r}); warm-up run done", flush=True)
        for n in args.sizes:
            runs: dict[str, list[float]] = {name: [] for name in engines}
            for _ in range(args.repeats):
                for name, engine in engines.items():  # interleaved: engine x repeat within each size
                    t1 = time.perf_counter()
                    _, forecasts[name, n] = train_and_forecast(engine, panels[n])
                    runs[name].append(time.perf_counter() - t1)
            for name in engines:
                seconds[name, n] = statistics.median(runs[name])
                print(f"  {name:9s} n={n:>6}: {seconds[name, n]:8.2f} s  {n / seconds[name, n]:8.1f} series/s "
                      f"(load average {os.getloadavg()[0]:.1f})", flush=True)

    print()
    print(f"{'series':>7} {'engine':>9} {'seconds':>9} {'series/s':>9} {'vs local-1':>10} {'max rel diff':>12}")
    for n in args.sizes:
        for name in args.engines:
            sec = seconds[name, n]
            ref = seconds.get(("local-1", n))
            ratio = f"{sec / ref:9.2f}x" if ref else "-"
            diff = (f"{max_rel_diff(forecasts['local-1', n], forecasts[name, n]):12.1e}"
                    if ("local-1", n) in forecasts else "-")
            print(f"{n:>7} {name:>9} {sec:9.2f} {n / sec:9.1f} {ratio:>10} {diff:>12}")
    print()
    print(f"load average {os.getloadavg()[0]:.1f} at end (other processes share the cores; compare within a run)")
    for name in args.engines:
        ns = [n for n in args.sizes if (name, n) in seconds]
        print(f"scaling exponent {name:9s} (slope of log time on log n over {ns}): "
              f"{slope(ns, [seconds[name, n] for n in ns]):.2f}")


if __name__ == "__main__":
    main()
