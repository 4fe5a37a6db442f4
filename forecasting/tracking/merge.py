"""Partial retrains merge into the champion; they never drop a served series.

A :class:`~forecasting.artifact.Forecaster` is a dict of finished series models, so a challenger trained on
some series carries the champion's other series as they are: the same stored ``SeriesModel`` (paths,
history, leaderboard, data status), never refitted. Rules:

* a series this run trained replaces the champion's;
* every other series the champion serves is carried unchanged, including series this run tried and had
  to skip (``train`` reports those and exits non-zero);
* ``hbm_revenue`` is derived from the capex forecast: it comes from this run when this run trained
  ``capex_hyperscalers_total`` (``train`` recomputes it), otherwise it is carried together with the
  champion's HBM calibration. It is never carried next to a retrained capex series it was not computed
  from: if this run trained capex and could not build HBM, the version lacks HBM and ``promote`` refuses it;
* a series that is no longer a target (removed from ``forecasting.targets.TARGETS``, e.g.
  ``wsts_logic_sales_annual`` on 2026-12-02) is *retired*: never carried, and not a lost series for
  ``promote`` (carrying it would serve its last model forever);
* every series records where it was produced (``meta.extra["provenance"]``: run id, registered version,
  as-of date and data hash), and the registry copies that into model-version tags.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from forecasting.artifact import Forecaster
from forecasting.hbm import CAPEX_DRIVER, HBM_ID
from forecasting.targets import TARGETS

PROVENANCE = "provenance"


@dataclass
class Merged:
    forecaster: Forecaster
    trained: list[str]
    #: series carried unchanged from the champion, with the version they came from
    carried: dict[str, str] = field(default_factory=dict)
    #: series the champion served that are no longer targets: left out
    retired: list[str] = field(default_factory=list)


def retired(series_id: str) -> bool:
    """No longer a target (HBM is derived, never a target, and still served)."""
    return series_id != HBM_ID and series_id not in TARGETS


def provenance(fc: Forecaster, run_id: str | None = None, version: str | None = None) -> dict[str, dict[str, Any]]:
    """Per series: the run (and version) that produced it; series without a record get ``run_id``/``version``."""
    known: dict[str, dict[str, Any]] = dict(fc.meta.extra.get(PROVENANCE, {}))
    out = {}
    for sid, sm in fc.models.items():
        rec = dict(known.get(sid) or {})
        rec.setdefault("run_id", run_id)
        if rec.get("version") is None:
            rec["version"] = version
        rec.setdefault("as_of", sm.data.as_of.isoformat() if sm.data.as_of else fc.meta.as_of)
        rec.setdefault("data_hash", fc.meta.data_hash)
        out[sid] = rec
    return out


def merge_into_champion(new: Forecaster, run_id: str, champion: Forecaster | None = None,
                        champion_run_id: str | None = None, champion_version: str | None = None) -> Merged:
    """The challenger this run registers: ``new``'s series, plus the champion's others carried unchanged."""
    trained = sorted(new.models)
    prov = {sid: {"run_id": run_id, "version": None,
                  "as_of": sm.data.as_of.isoformat() if sm.data.as_of else new.meta.as_of,
                  "data_hash": new.meta.data_hash}
            for sid, sm in new.models.items()}
    models = dict(new.models)
    hbm = new.hbm
    carried: dict[str, str] = {}
    gone: list[str] = []
    if champion is not None:
        old_prov = provenance(champion, champion_run_id, champion_version)
        for sid, sm in champion.models.items():
            if sid in models:
                continue
            if retired(sid):
                gone.append(sid)
                continue
            if sid == HBM_ID and CAPEX_DRIVER in new.models:
                continue  # derived from the capex series this run replaced: never carried beside it
            models[sid] = sm
            prov[sid] = old_prov[sid]
            carried[sid] = str(old_prov[sid].get("version") or champion_version or "?")
        if HBM_ID in carried:
            hbm = champion.hbm
    meta = replace(new.meta, extra={**new.meta.extra, PROVENANCE: prov})
    track = new.track_record if new.track_record.height else (champion.track_record if champion else None)
    return Merged(Forecaster(models, meta, hbm, track), trained, carried, sorted(gone))
