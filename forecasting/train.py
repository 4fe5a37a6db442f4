"""Backtest every target, pick champions and assemble a :class:`Forecaster` (no MLflow here)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from forecasting.backtest import BacktestResult, backtest, rank_candidates
from forecasting.data import NotEnoughDataError, attach_drivers, prepare_target
from forecasting.engine import Engine
from forecasting.forecaster import Forecaster, ForecasterMeta, SeriesModel, implausible_reason, now_iso
from forecasting.hbm import CAPEX_DRIVER, ScenarioError, calibrate
from forecasting.models import BASELINES, TARGETS
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


def fit_series(
    panel: pl.DataFrame, series_id: str, engine: Engine | None = None
) -> tuple[SeriesModel, BacktestResult]:
    """Backtest one target (statsforecast models on ``engine``, default local) and keep its champion."""
    cfg = TARGETS[series_id]
    ts = attach_drivers(prepare_target(panel, cfg), panel, cfg)
    bt = backtest(ts, cfg, engine)
    order, _ = rank_candidates(bt.leaderboard, cfg.primary_h)
    notes: dict[str, str] = {}
    for name in order:
        prim = bt.leaderboard.filter((pl.col("horizon") == cfg.primary_h) & (pl.col("model") == name))
        sm = SeriesModel(
            series_id=series_id,
            champion=name,
            members=bt.ensemble_members if name == "Ensemble" else [],
            training=ts,
            baseline_mase=bt.baseline_mase,
            champion_mase=float(prim["mase"][0]),
            drivers=ts.drivers,
        )
        why = None if name in BASELINES else implausible_reason(sm, cfg.max_h)
        if why is None:
            break
        notes[name] = f"passed over: {why}"
    bt.champion = sm.champion
    bt.leaderboard = bt.leaderboard.with_columns(
        (pl.col("model") == sm.champion).alias("champion"),
        pl.col("model").replace_strict(notes, default=None, return_dtype=pl.String).alias("note"),
    )
    return sm, bt


def train(
    series: Iterable[str] | None = None,
    *,
    data_dir: Path,
    store: LocalStore | None = None,
    when: date | None = None,
    progress: Callable[[str], None] | None = None,
    engine: Engine | None = None,
) -> TrainResult:
    """Backtest and select a champion for each target on the data published by ``when`` (default: all).

    ``engine`` (a started ``forecasting.engine`` engine) runs the statsforecast backtests; default local.
    """
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
            models[sid], backtests[sid] = fit_series(panel, sid, engine)
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
