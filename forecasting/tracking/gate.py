"""The promotion gate: the champion as registered against the challenger, on evidence neither was chosen on.

For every series both versions serve and the challenger retrained (carried series are the same stored
model, derived ``hbm_revenue`` follows capex), exactly one kind of evidence is used:

1. **Newly published actuals** (``kind="new_actuals"``), whenever periods inside the champion's stored
   forecast were first published after the champion's as-of date ``A`` and by the challenger's as-of
   date ``W``. Compared on those periods: the champion's *stored* point forecast (what it served), and
   the challenger's point forecast made at origin ``A`` by the challenger's own method on data as known
   at ``A`` (``evaluate_target(panel, method, W, extra_origins=[A])``: same members, same resolved
   parameters, same scale; its combination weights come only from errors known at ``A``). Actuals are
   the values as known at ``W``.
2. **Held-back origins** (``kind="held_back"``), when nothing new has been published since ``A``. Both
   methods are re-run on the challenger's data at its most recent rolling origins (one primary horizon's
   worth: 12 monthly, 4 quarterly, 2 annual origins, only those with a published outcome). Each method's
   combination weights are frozen at the first held-back origin (computed from errors known then), so no
   held-back outcome set any weight. Scored: steps 1..primary horizon whose outcome is published by ``W``.

Both sides of a series are scored with the same MASE scale (in-sample seasonal-naive MAE of the history
known at the origin), so the per-series relative MASE (challenger / champion) is a ratio of errors on
identical periods. Series are aggregated by the geometric mean of relative MASE, so no single series
(or unit) dominates. A challenger whose stored method cannot be re-run by this code (different resolved
parameters or scale) is "not comparable" for that series and is not promoted unless forced.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from forecasting.artifact import Forecaster, SeriesModel
from forecasting.data import NotEnoughDataError
from forecasting.evaluation import Evaluation, evaluate_target
from forecasting.hbm import CAPEX_DRIVER, HBM_ID
from forecasting.reconcile import CAPEX_TOTALS, served_with
from forecasting.targets import TARGETS, TargetConfig
from forecasting.tracking.merge import provenance, retired
from forecasting.zoo import COMBINATION


@dataclass
class SeriesEvidence:
    series_id: str
    #: new_actuals | held_back | carried | derived | added | not_comparable
    kind: str
    detail: str
    origin: date | None = None
    periods: int = 0
    mase_challenger: float | None = None
    mase_champion: float | None = None
    #: per scored (origin, ds): actual and both forecasts, for the logged JSON artifact
    points: list[dict[str, Any]] = field(default_factory=list)

    @property
    def relative(self) -> float | None:
        a, b = self.mase_challenger, self.mase_champion
        if a is None or b is None:
            return None
        if b == 0:
            return 1.0 if a == 0 else math.inf
        return a / b

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["origin"] = self.origin.isoformat() if self.origin else None
        d["relative_mase"] = self.relative
        return d


@dataclass
class GateReport:
    series: list[SeriesEvidence]
    #: series the champion serves that the challenger does not (retired ones, no longer targets, excepted)
    lost: list[str]

    @property
    def compared(self) -> list[SeriesEvidence]:
        return [e for e in self.series if e.relative is not None]

    @property
    def not_comparable(self) -> list[SeriesEvidence]:
        return [e for e in self.series if e.kind == "not_comparable"]

    @property
    def geomean(self) -> float | None:
        rel = [e.relative for e in self.compared]
        if not rel:
            return None
        if any(r == math.inf for r in rel if r is not None):
            return math.inf
        return math.exp(sum(math.log(max(r, 1e-12)) for r in rel if r is not None) / len(rel))

    def to_dict(self) -> dict[str, Any]:
        return {"geomean_relative_mase": self.geomean, "lost": self.lost,
                "series": [e.to_dict() for e in self.series]}


# ------------------------------------------------------------------------------------------ helpers


def method_config(cfg: TargetConfig, sm: SeriesModel) -> TargetConfig:
    """The target's evaluation settings with exactly the stored method's members (no references)."""
    return replace(cfg, members=tuple(m.name for m in sm.method.members), include_references=False)


def method_mismatch(ev: Evaluation, sm: SeriesModel) -> str | None:
    """Why ``ev`` did not re-run the stored method (parameters or scale differ), or None."""
    if ev.log != (sm.method.scale == "log"):
        return f"scale differs (stored {sm.method.scale}, re-run {'log' if ev.log else 'level'})"
    for m in (x.name for x in sm.method.members):
        stored, now = sm.specs.get(m), ev.specs.get(m)
        if stored is None or now is None or dict(stored.params) != dict(now.params):
            return (f"member {m} resolves to {now.to_dict() if now else None} now, "
                    f"stored {stored.to_dict() if stored else None}")
    return None


def mase_scale(history: np.ndarray, season: int) -> float:
    """In-sample seasonal-naive MAE (utilsforecast's MASE scale); falls back to lag 1, then 1."""
    for m in (season, 1):
        if history.size > m:
            d = np.abs(history[m:] - history[:-m])
            if d.mean() > 0:
                return float(d.mean())
    return 1.0


def _actuals(ev: Evaluation, when: date) -> dict[date, float]:
    known = ev.known_at(when)
    bridged: set[date] = set()
    for ts in ev.training.values():
        bridged |= set(ts.bridged)
    return {d: float(y) for d, y in zip(known["ds"].to_list(), known["y"].to_list(), strict=True)
            if d not in bridged}


# ------------------------------------------------------------------------------------------ evidence


def new_actuals(sid: str, challenger: SeriesModel, champion: SeriesModel, panel: pl.DataFrame,
                ev: Evaluation | None = None) -> SeriesEvidence | None:
    """Evidence kind 1, or None when nothing inside the champion's forecast was published since its as-of."""
    cfg = TARGETS[sid]
    a, w = champion.data.as_of, challenger.data.as_of
    if a is None or w is None or a >= w:
        return None
    prints = panel.filter(pl.col("unique_id") == sid)
    first_pub = prints.group_by("ds").agg(pl.col("published").min())
    first = dict(zip(first_pub["ds"].to_list(), first_pub["published"].to_list(), strict=True))
    stored = dict(zip(champion.dates(), champion.point.tolist(), strict=True))
    if not any(a < first.get(d, date.min) <= w for d in stored):
        return None  # decided before any model is fitted
    ev = ev or evaluate_target(panel, method_config(cfg, challenger), w, extra_origins=[a])
    actual = _actuals(ev, w)
    new = sorted(d for d in stored if d in actual and a < first.get(d, date.min) <= w)
    if not new:
        return None
    why = method_mismatch(ev, challenger)
    if why:
        return SeriesEvidence(sid, "not_comparable", f"the challenger's stored method cannot be re-run: {why}")
    at = ev.origins.filter(pl.col("kind") == "extra", pl.col("origin") == a)
    if at.height == 0:
        return SeriesEvidence(sid, "not_comparable", f"the challenger's method has too little data at {a} to "
                                                     "forecast from the champion's origin")
    oid = int(at["origin_id"][0])
    fc = ev.forecasts.filter(pl.col("origin_id") == oid, pl.col("model") == COMBINATION).sort("h")
    mine = dict(zip(fc["ds"].to_list(), ev.unwork(fc["yhat"].to_numpy()).tolist(), strict=True))
    new = [d for d in new if d in mine]
    if not new:
        return SeriesEvidence(sid, "not_comparable", f"the challenger's forecast from {a} covers none of the "
                                                     "newly published periods")
    scale = mase_scale(ev.training[oid].observed()["y"].to_numpy(), cfg.frequency.periods_per_year)
    pts = [{"origin": a.isoformat(), "ds": d.isoformat(), "actual": actual[d], "challenger": mine[d],
            "champion": stored[d]} for d in new]
    e_ch = float(np.mean([abs(p["actual"] - p["challenger"]) for p in pts])) / scale
    e_cp = float(np.mean([abs(p["actual"] - p["champion"]) for p in pts])) / scale
    return SeriesEvidence(
        sid, "new_actuals",
        f"{len(new)} period(s) {new[0]}..{new[-1]} first published after the champion's as-of {a} (by {w}): "
        f"champion's stored forecast vs the challenger's method forecasting from {a} on data known then",
        a, len(new), e_ch, e_cp, pts)


def held_back_origins(ev: Evaluation, when: date) -> list[int]:
    """The most recent rolling origins (one primary horizon's worth) with at least one published outcome."""
    actual = _actuals(ev, when)
    rolling = ev.origins.filter(pl.col("kind") == "rolling").sort("origin")
    ok = []
    for r in rolling.iter_rows(named=True):
        ds = ev.forecasts.filter(pl.col("origin_id") == r["origin_id"], pl.col("h") == 1)["ds"].to_list()
        if ds and ds[0] in actual:
            ok.append(int(r["origin_id"]))
    return ok[-ev.cfg.primary_h:]


def frozen_forecasts(ev: Evaluation, origin_ids: list[int]) -> dict[int, pl.DataFrame]:
    """Per held-back origin: ``ds, h, yhat`` (own scale) of the combination with weights frozen at the first."""
    w = ev.weights.filter(pl.col("origin_id") == origin_ids[0]).select("model", "weight")
    out = {}
    for oid in origin_ids:
        comb = (ev.forecasts.filter(pl.col("origin_id") == oid).join(w, on="model", how="inner")
                .group_by("ds", "h").agg((pl.col("yhat") * pl.col("weight")).sum().alias("yhat")).sort("h"))
        out[oid] = comb.with_columns(pl.Series("yhat", ev.unwork(comb["yhat"].to_numpy())))
    return out


def held_back(sid: str, challenger: SeriesModel, champion: SeriesModel, panel: pl.DataFrame) -> SeriesEvidence:
    """Evidence kind 2: both methods re-run on the challenger's data, weights frozen before the held-back origins."""
    cfg = TARGETS[sid]
    w = challenger.data.as_of
    assert w is not None
    ev_ch = evaluate_target(panel, method_config(cfg, challenger), w)
    same = ([m.name for m in challenger.method.members] == [m.name for m in champion.method.members]
            and challenger.method.scale == champion.method.scale)
    ev_cp = ev_ch if same else evaluate_target(panel, method_config(cfg, champion), w)
    for who, ev, sm in (("challenger", ev_ch, challenger), ("champion", ev_cp, champion)):
        why = method_mismatch(ev, sm)
        if why:
            return SeriesEvidence(sid, "not_comparable", f"the {who}'s stored method cannot be re-run: {why}")
    ids = held_back_origins(ev_ch, w)
    if not ids:
        return SeriesEvidence(sid, "not_comparable", "no rolling origin with a published outcome to hold back")
    actual = _actuals(ev_ch, w)
    f_ch, f_cp = frozen_forecasts(ev_ch, ids), frozen_forecasts(ev_cp, ids)
    pts: list[dict[str, Any]] = []
    err_ch: list[float] = []
    err_cp: list[float] = []
    for oid in ids:
        row = ev_ch.origin_row(oid)
        scale = mase_scale(ev_ch.training[oid].observed()["y"].to_numpy(), cfg.frequency.periods_per_year)
        a = dict(zip(f_ch[oid]["ds"].to_list(), f_ch[oid]["yhat"].to_list(), strict=True))
        b = dict(zip(f_cp[oid]["ds"].to_list(), f_cp[oid]["yhat"].to_list(), strict=True))
        for d, h in zip(f_ch[oid]["ds"].to_list(), f_ch[oid]["h"].to_list(), strict=True):
            if h > cfg.primary_h or d not in actual or d not in b:
                continue
            err_ch.append(abs(actual[d] - a[d]) / scale)
            err_cp.append(abs(actual[d] - b[d]) / scale)
            pts.append({"origin": str(row["origin"]), "ds": d.isoformat(), "h": h, "actual": actual[d],
                        "challenger": a[d], "champion": b[d]})
    first, last = ev_ch.origin_row(ids[0])["origin"], ev_ch.origin_row(ids[-1])["origin"]
    return SeriesEvidence(
        sid, "held_back",
        f"nothing in the champion's forecast was published after its as-of {champion.data.as_of}; both methods "
        f"re-run at the {len(ids)} most recent rolling origins {first}..{last} with weights frozen at {first}, "
        f"steps 1..{cfg.primary_h}, {len(pts)} scored points",
        first, len(pts), float(np.mean(err_ch)), float(np.mean(err_cp)), pts)  # type: ignore[arg-type]


def gather(challenger: Forecaster, champion: Forecaster, panel: pl.DataFrame, *,
           challenger_run: tuple[str, str] | None = None, champion_run: tuple[str, str] | None = None
           ) -> GateReport:
    """Evidence per series (see the module docstring). ``*_run`` are (run id, version) for provenance."""
    prov_ch = provenance(challenger, *(challenger_run or (None, None)))
    prov_cp = provenance(champion, *(champion_run or (None, None)))
    lost = sorted(s for s in set(champion.models) - set(challenger.models) if not retired(s))  # retired: not lost
    out: list[SeriesEvidence] = []
    for sid, sm in challenger.models.items():
        old = champion.models.get(sid)
        if old is None:
            out.append(SeriesEvidence(sid, "added", "not served by the champion"))
            continue
        if prov_ch[sid].get("run_id") is not None and prov_ch[sid].get("run_id") == prov_cp[sid].get("run_id"):
            out.append(SeriesEvidence(sid, "carried", f"the champion's stored model (run {prov_cp[sid]['run_id']}), "
                                                      "carried unchanged"))
            continue
        if sid == HBM_ID or sid not in TARGETS or sm.kind != "fitted":
            src = (CAPEX_DRIVER if sid == HBM_ID else ", ".join(CAPEX_TOTALS.get(sid)
                                                              or [s for s in served_with(sid) if s != sid]))
            out.append(SeriesEvidence(sid, "derived", f"derived from {src or 'its model'}, compared through it"))
            continue
        try:
            ev = new_actuals(sid, sm, old, panel)
            out.append(ev if ev is not None else held_back(sid, sm, old, panel))
        except NotEnoughDataError as exc:
            out.append(SeriesEvidence(sid, "not_comparable", str(exc)))
    return GateReport(out, lost)
