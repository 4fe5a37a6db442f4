"""Backtest every target, pick champions and assemble a :class:`Forecaster` (no MLflow here)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from forecasting.backtest import BacktestResult, backtest
from forecasting.data import NotEnoughDataError, attach_drivers, prepare_target
from forecasting.forecaster import Forecaster, ForecasterMeta, SeriesModel, now_iso
from forecasting.hbm import CAPEX_DRIVER, ScenarioError, calibrate
from forecasting.models import TARGETS
from pipelines.catalog import get_spec
from pipelines.panel import as_of, data_fingerprint, data_vintage, load_panel
from pipelines.store import LocalStore


@dataclass
class TrainResult:
    forecaster: Forecaster
    backtests: dict[str, BacktestResult]
    skipped: dict[str, str]
    panel: pl.DataFrame


def target_ids(series: Iterable[str] | None) -> list[str]:
    if not series:
        return list(TARGETS)
    out = []
    for s in series:
        get_spec(s)
        if s not in TARGETS:
            raise NotEnoughDataError(f"{s} is not a forecast target; targets: {', '.join(TARGETS)}")
        out.append(s)
    return out


def fit_series(panel: pl.DataFrame, series_id: str) -> tuple[SeriesModel, BacktestResult]:
    cfg = TARGETS[series_id]
    ts = attach_drivers(prepare_target(panel, cfg), panel, cfg)
    bt = backtest(ts, cfg)
    prim = bt.leaderboard.filter((pl.col("horizon") == cfg.primary_h) & (pl.col("model") == bt.champion))
    sm = SeriesModel(
        series_id=series_id,
        champion=bt.champion,
        members=bt.ensemble_members if bt.champion == "Ensemble" else [],
        training=ts,
        baseline_mase=bt.baseline_mase,
        champion_mase=float(prim["mase"][0]),
        drivers=ts.drivers,
    )
    return sm, bt


def train(
    series: Iterable[str] | None = None,
    *,
    data_dir: Path,
    store: LocalStore | None = None,
    when: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainResult:
    """Backtest and select a champion for each target on the data published by ``when`` (default: all)."""
    ids = target_ids(series)
    panel = load_panel(data_dir=data_dir, store=store)
    if when is not None:
        panel = as_of(panel, when)
    models: dict[str, SeriesModel] = {}
    backtests: dict[str, BacktestResult] = {}
    skipped: dict[str, str] = {}
    for sid in ids:
        if progress:
            progress(sid)
        try:
            models[sid], backtests[sid] = fit_series(panel, sid)
        except NotEnoughDataError as exc:
            skipped[sid] = str(exc)
    vintage = data_vintage(panel)
    meta = ForecasterMeta(
        trained_at=now_iso(),
        data_hash=data_fingerprint(data_dir, store),
        data_vintage=vintage.isoformat() if vintage else None,
        as_of=when.isoformat() if when else None,
    )
    hbm = None
    if CAPEX_DRIVER in models:
        try:
            hbm = calibrate(panel, data_dir).to_dict()
        except ScenarioError as exc:
            skipped["hbm_revenue"] = str(exc)
    return TrainResult(Forecaster(models, meta, hbm), backtests, skipped, panel)
