"""Wall time of `chipcast train` vs the same library calls made directly on the same panel.

The direct side does exactly the model work chipcast does (statsforecast cross-validation of the same
zoo, the mlforecast ridge CV with and without drivers, the ARIMAX CV, then a final forecast) and nothing
else, so the ratio is chipcast's overhead: loading and validating the data, scoring, champion choice,
path simulation for the outlooks and MLflow logging/registration. Both sides run in fresh processes.

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
from pathlib import Path
from statsforecast import StatsForecast
from statsforecast.models import AutoARIMA
from mlforecast.utils import PredictionIntervals
from forecasting.backtest import LEVELS, mlforecast_for, _ml_cv
from forecasting.data import attach_drivers, prepare_target, NotEnoughDataError
from forecasting.models import TARGETS, stat_models
from pipelines.panel import load_panel

panel = load_panel(data_dir=Path(sys.argv[1]))
ids = sys.argv[2:] or list(TARGETS)
for sid in ids:
    cfg = TARGETS[sid]
    try:
        ts = attach_drivers(prepare_target(panel, cfg), panel, cfg)
    except NotEnoughDataError:
        continue
    n0 = ts.df.height - cfg.max_h - (cfg.n_windows - 1) * cfg.step_size
    sf = StatsForecast(models=stat_models(cfg.spec, n0), freq=cfg.spec.interval, n_jobs=1)
    sf.cross_validation(df=ts.df, h=cfg.max_h, n_windows=cfg.n_windows, step_size=cfg.step_size, level=list(LEVELS))
    _ml_cv(ts, cfg, False)
    _ml_cv(ts, cfg, True)
    if ts.X is not None:
        sfx = StatsForecast(models=[AutoARIMA(season_length=cfg.spec.season_length)], freq=cfg.spec.interval)
        df = ts.df.join(ts.X, on=["unique_id", "ds"])
        try:
            sfx.cross_validation(df=df, h=cfg.max_h, n_windows=cfg.n_windows, step_size=cfg.step_size,
                                 level=list(LEVELS))
        except Exception:
            pass
    sf.forecast(h=cfg.max_h, df=ts.df, level=list(LEVELS))
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
