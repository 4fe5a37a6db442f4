"""Evaluate every target and assemble the finished :class:`~forecasting.artifact.Forecaster` (no MLflow here).

``train()`` returns everything serving needs: per series the served combination with its sample paths,
leaderboards, the HBM derived series and its calibration. Tracking only logs and registers the result.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from forecasting.artifact import Forecaster, ForecasterMeta, SeriesModel, now_iso
from forecasting.data import NotEnoughDataError
from forecasting.engine import Engine
from forecasting.evaluation import (
    Evaluation,
    best_baseline,
    evaluate_target,
    implausible,
    leaderboard,
    scored_origins,
)
from forecasting.hbm import CAPEX_DRIVER, HBM_ID, attach_hbm
from forecasting.reconcile import COHERENT_GROUPS, derive_memory_market, derive_temporal, reconcile_capex
from forecasting.result import DataStatus, Member, MethodInfo
from forecasting.targets import MIN_ORIGINS, TARGETS, TRACK_RECORD, get_target
from forecasting.track_record import REFERENCE_MODELS, track_dates, track_record
from forecasting.zoo import COMBINATION, ZOO
from pipelines.panel import as_of, load_panel, summarise
from pipelines.store import LocalStore


@dataclass
class TrainResult:
    forecaster: Forecaster
    evaluations: dict[str, Evaluation]
    skipped: dict[str, str]
    #: the vintage panel the run read (``as_of(panel, when)`` is what the models saw)
    panel: pl.DataFrame
    when: date


def target_ids(series: Iterable[str] | None) -> list[str]:
    """The targets to train, in ``TARGETS`` order; unknown or non-target ids raise a clear error."""
    if not series:
        return list(TARGETS)
    wanted = {get_target(s).series_id for s in series}
    return [s for s in TARGETS if s in wanted]


def with_coherent_groups(series: Iterable[str] | None) -> list[str] | None:
    """``series`` plus every series served coherently with one of them (None: everything).

    A model meant for registration trains these together: one capex company brings the whole capex
    hierarchy, a memory maker the memory group, monthly WSTS its annual total. A partial retrain merged
    into the champion can then never carry a total built from a part it no longer serves.
    """
    if not series:
        return None
    wanted = set(target_ids(series))
    for group in COHERENT_GROUPS:
        if wanted & set(group):
            wanted |= set(group)
    return [s for s in TARGETS if s in wanted]


def panel_hash(panel: pl.DataFrame) -> str:
    """sha256 (16 hex) of the exact panel a run used: the same data always gives the same hash."""
    cols = [c for c in ("unique_id", "ds", "y", "published") if c in panel.columns]
    body = panel.select(cols).sort(cols).write_csv()
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def describe(names: Iterable[str]) -> str:
    return ", ".join(names)


def series_model(ev: Evaluation, panel: pl.DataFrame, when: date) -> SeriesModel:
    """The served series at the serving origin, with the evidence behind it."""
    cfg = ev.cfg
    spec = cfg.spec
    oid = ev.serving_id
    ts = ev.training[oid]
    point, paths, n_eff, how = ev.sample_paths(oid)
    weights = ev.weights.filter(pl.col("origin_id") == oid)
    w = dict(zip(weights["model"].to_list(), weights["weight"].to_list(), strict=True))
    passed = [(m, reason) for m in w if (reason := implausible(ev, oid, m)) is not None]
    board = leaderboard(ev)
    notes_by_model = {m: f"passed over at the serving origin: {r}" for m, r in passed}
    board = board.with_columns(
        (pl.col("model") == COMBINATION).alias("served"),
        pl.col("model").replace_strict({m: ZOO[m].role for m in ZOO} | {COMBINATION: "method"},
                                       return_dtype=pl.String).alias("role"),
        pl.col("model").replace_strict(w, default=None, return_dtype=pl.Float64).alias("weight"),
        # the members (and so the combination) continue from the nowcast an indicator made; references do not
        (pl.col("model").is_in([*cfg.members, COMBINATION]) & pl.lit(cfg.nowcast is not None)).alias("uses_drivers"),
        pl.col("model").replace_strict(notes_by_model, default=None, return_dtype=pl.String).alias("note"),
    )
    ids = scored_origins(ev)
    first = ev.origin_row(ids[0])["origin"] if ids else None
    last = ev.origin_row(ids[-1])["origin"] if ids else None
    prim = board.filter(pl.col("horizon") == cfg.primary_h)
    combo = prim.filter(pl.col("model") == COMBINATION)
    base = best_baseline(board, cfg.primary_h)
    members = [m for m in cfg.members if m in ev.specs]
    method = MethodInfo(
        name=COMBINATION,
        description=(f"weighted combination of {describe(members)} fitted on "
                     f"{'logs' if ev.log else 'levels'}"
                     + (f" continued from a bridge nowcast with {cfg.nowcast}" if cfg.nowcast else "")
                     + "; weights decided at each origin from errors known then (half equal, half inverse "
                       "mean squared error)"),
        members=tuple(Member(m, float(w.get(m, 0.0)), dict(ev.specs[m].params)) for m in members),
        scale="log" if ev.log else "level",
        intervals=how,
        backtest_origins=len(ids),
        backtest_first_origin=first,  # type: ignore[arg-type]
        backtest_last_origin=last,  # type: ignore[arg-type]
        primary_horizon=cfg.primary_h,
        mase=float(combo["mase"][0]) if combo.height else None,
        baseline_mase=base[1] if base else None,
        passed_over=tuple(passed),
    )
    known = as_of(panel, when)
    summary = summarise(known, spec)
    observed = ts.observed().select("ds", "y")
    nc = ev.nowcasts.get(oid)
    data = DataStatus(
        last_observation=summary.last,
        last_published=summary.last_published,
        next_expected_release=summary.next_expected,
        as_of=when,
        bridged_for_fitting=ts.bridged,
        vintages=spec.vintages,
        source=spec.source,
        nowcast=nc.months if nc else (),
        nowcast_indicator=cfg.nowcast,
    )
    notes = []
    if nc and nc.months:
        notes.append(f"{', '.join(d.strftime('%Y-%m') for d in nc.months)} nowcast from {cfg.nowcast} (published "
                     "earlier than this series); they are forecasts, not published figures")
    if len(ids) < MIN_ORIGINS:
        notes.append(f"only {len(ids)} backtest origins had outcomes (a leaderboard needs {MIN_ORIGINS}): these "
                     "numbers are not backtested")
    elif len(ids) < 10:
        notes.append(f"backtest rests on {len(ids)} origins; treat its scores as rough")
    member_points = (ev.forecasts.filter(pl.col("origin_id") == oid).select("model", "h", "yhat").sort("model", "h"))
    return SeriesModel(
        spec=spec, kind="fitted", method=method, data=data, history=observed,
        start=spec.frequency.offset(ts.cutoff, 1), point=point, paths=paths, n_eff=n_eff,
        specs=dict(ev.specs), leaderboard=board, training=nc.extended if nc else ts.df, member_points=member_points,
        notes=notes,
    )


def train(
    series: Iterable[str] | None = None,
    *,
    data_dir: Path,
    store: LocalStore | None = None,
    when: date | None = None,
    progress: Callable[[str], None] | None = None,
    engine: Engine | None = None,
) -> TrainResult:
    """Evaluate and assemble every target on the data published by ``when`` (default: today).

    ``engine`` (a started ``forecasting.engine`` engine) runs the statsforecast fits; default local.
    """
    ids = target_ids(series)
    panel = load_panel(data_dir=data_dir, store=store, vintages=True)
    when = when or date.today()
    models: dict[str, SeriesModel] = {}
    evaluations: dict[str, Evaluation] = {}
    skipped: dict[str, str] = {}
    records = []
    for sid in ids:
        if progress:
            progress(sid)
        extra = track_dates(date(2000, 1, 1), when) if sid in TRACK_RECORD else []
        try:
            ev = evaluate_target(panel, TARGETS[sid], when, extra_origins=extra, engine=engine)
        except NotEnoughDataError as exc:
            skipped[sid] = str(exc)
            continue
        evaluations[sid] = ev
        models[sid] = series_model(ev, panel, when)
        if extra:
            records.append(track_record(ev, models=(COMBINATION, *REFERENCE_MODELS)))
    known = as_of(panel, when)
    for why in (reconcile_capex(models, evaluations), derive_memory_market(models, evaluations, known)):
        if why and len(ids) == len(TARGETS):
            skipped["coherence"] = why
    derive_temporal(models)
    meta = ForecasterMeta(trained_at=now_iso(), data_hash=panel_hash(known), as_of=when.isoformat())
    forecaster = Forecaster(models, meta, track_record=pl.concat(records) if records else None)
    if CAPEX_DRIVER in models:
        why = attach_hbm(forecaster, known, data_dir, when)
        if why:
            skipped[HBM_ID] = why
    return TrainResult(forecaster, evaluations, skipped, panel, when)
