"""Wall time of `chipcast train` vs the same library calls made directly on the same panel.

The direct side does exactly the model fitting chipcast does: for every target, the training series as
known at every rolling origin (and the track-record dates of the headline series), the WSTS nowcast, and
one stacked ``StatsForecast.forecast`` of the same resolved models per target (members and references),
on all cores, and nothing else. So the ratio is chipcast's own work: nested combination weights,
empirical error paths and intervals, leaderboards, the track record, reconciliation, HBM, and MLflow
logging and registration. Both sides run in fresh processes.

    .venv/bin/python bench/train.py --runs 3            # all targets
    .venv/bin/python bench/train.py --runs 3 --series wsts_worldwide_sales micron_revenue
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHIPCAST = str(Path(sys.executable).with_name("chipcast"))

DIRECT = r"""
import sys
from datetime import date
from pathlib import Path

import polars as pl
from statsforecast import StatsForecast
from statsforecast.models import Naive

from forecasting.data import NotEnoughDataError, training_series
from forecasting.evaluation import origin_dates
from forecasting.nowcast import bridge
from forecasting.targets import TARGETS, TRACK_RECORD
from forecasting.track_record import track_dates
from forecasting.zoo import FitContext, resolve_specs
from pipelines.panel import as_of, load_panel

panel = load_panel(data_dir=Path(sys.argv[1]), vintages=True)
when = date.today()
for sid in sys.argv[2:] or list(TARGETS):
    cfg = TARGETS[sid]
    prints = panel.filter(pl.col("unique_id") == sid)
    extra = track_dates(date(2000, 1, 1), when) if sid in TRACK_RECORD else []
    series = {}
    for i, d in enumerate(origin_dates(prints, cfg, when, extra)["origin"].to_list()):
        try:
            series[i] = (d, training_series(as_of(prints, d), cfg))
        except NotEnoughDataError:
            continue
    if not series:
        continue
    specs = resolve_specs(cfg.models, FitContext(cfg.frequency, min(ts.n for _, ts in series.values())))
    groups = [([m for m in specs if m in cfg.members], True), ([m for m in specs if m not in cfg.members], False)]
    for names, members in groups:
        frames = []
        for i, (d, ts) in series.items():
            df = bridge(ts.df, panel, d, cfg.spec, cfg.nowcast).extended if (members and cfg.nowcast) else ts.df
            frames.append(df.with_columns(pl.col("y").log(), pl.lit(str(i)).alias("unique_id")))
        sf = StatsForecast(models=[specs[n].build() for n in names], freq=cfg.frequency.interval, n_jobs=-1,
                           fallback_model=Naive())
        sf.forecast(df=pl.concat(frames), h=cfg.max_h)
"""


def _time(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--series", nargs="*", default=[])
    args = ap.parse_args()
    chip, direct = [], []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "CHIPCAST_STATE_DIR": f"{tmp}/state", "CHIPCAST_MODELS_DIR": f"{tmp}/models"}
            series_args = [a for s in args.series for a in ("--series", s)]
            c = _time([CHIPCAST, "train", *series_args], env)
            d = _time([sys.executable, "-c", DIRECT, str(ROOT / "data"), *args.series], env)
        chip.append(c)
        direct.append(d)
        print(f"run {i + 1}: chipcast train {c:7.1f} s   direct library calls {d:7.1f} s   ratio {c / d:.2f}")
    ratios = [c / d for c, d in zip(chip, direct, strict=True)]
    print(f"median chipcast train: {statistics.median(chip):.1f} s; median direct: {statistics.median(direct):.1f} s")
    print(f"median ratio (target <= 1.3): {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
