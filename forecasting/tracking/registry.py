"""MLflow runs, the model registry, aliases, loading and promotion.

By default everything is embedded: a sqlite tracking store under the state dir and artifacts under
``models/``. Setting ``MLFLOW_TRACKING_URI`` (or ``CHIPCAST_MLFLOW_TRACKING_URI``) points the same code at
a real tracking server. This module only logs and registers what ``train()`` produced:

* **Runs.** ``train``, ``backtest`` and as-of ``forecast`` runs are named for people
  (``train 2026-12-01 21 series``), take the panel they used as an ``mlflow.data`` input whose digest is
  ``forecasting.train.panel_hash``, and have one nested child run per target with its whole leaderboard
  (every model, not only the served combination). Every run is tagged with its host and process id, so a
  run left RUNNING by a killed process is marked FAILED by the next start (:func:`recover`).
* **Versions.** ``chipcast_forecaster`` is a models-from-code pyfunc (``flavor.py``) whose artifact is a
  finished :class:`~forecasting.artifact.Forecaster` directory (parquet + JSON, no pickles), shipped with
  its code and pinned requirements (``packaging.py``). A partial retrain carries the champion's other
  series unchanged (``merge.py``); version tags and the description say which run produced each series.
* **Loading.** :func:`load_model` reads the version behind an alias without fitting anything. Any failure
  of the registry itself (server down, corrupt sqlite store, any exception class) falls back to the local
  champion copy (``cache.py``, ``source="local-cache"``); the copy is refreshed in the background.
* **Promotion.** :func:`promote` moves ``champion`` only after the gate in ``gate.py`` and logs the
  decision with its evidence.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import polars as pl
from mlflow import MlflowClient
from mlflow.data.polars_dataset import from_polars

from forecasting.artifact import Forecaster, now_iso
from forecasting.serving import LOCAL_CACHE, LoadedModel
from forecasting.tracking import cache, gate
from forecasting.tracking.flavor import DEFAULT_LEVEL, signature
from forecasting.tracking.merge import PROVENANCE, merge_into_champion, provenance
from forecasting.tracking.packaging import pip_requirements, stage_code
from forecasting.tracking.settings import TrackingSettings, apply_client_defaults, get_tracking_settings
from forecasting.tracking.workdirs import clean_abandoned, pid_alive, scratch, scratch_dir
from forecasting.train import TrainResult, panel_hash, train
from forecasting.zoo import COMBINATION
from pipelines.panel import as_of, load_panel
from pipelines.store import LocalStore

log = logging.getLogger("chipcast.tracking")

MODEL_CODE = Path(__file__).with_name("model_code.py")
LEADERBOARD_METRICS = ("mase", "smape", "mae", "rmse", "bias", "coverage_80", "coverage_95", "winkler_80",
                       "winkler_95")
TAG_PID, TAG_HOST, TAG_KIND = "chipcast.pid", "chipcast.host", "chipcast.kind"


class ModelUnavailableError(RuntimeError):
    """No registered model under the requested alias, or its artifacts cannot be read."""


class RegistryUnreachableError(ModelUnavailableError):
    """The registry could not be asked (server down, corrupt store) and no local copy exists."""


def redact(text: str) -> str:
    """Drop credentials from URLs (``scheme://user:secret@host`` -> ``scheme://***@host``)."""
    return re.sub(r"([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@", r"\1***@", text)


def describe_error(exc: BaseException) -> str:
    """Class and first line of the message, credentials removed: what the server log gets."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {redact(first)[:300]}"


def _client(settings: TrackingSettings) -> MlflowClient:
    """A client bound to this store by explicit URIs: it never touches mlflow's process-wide URI, which a
    background thread (housekeeping, a reload) could otherwise switch under another store's run."""
    apply_client_defaults()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


#: mlflow's fluent API (``start_run``, ``log_*``, ``pyfunc.log_model``/``load_model``) reads one process-wide
#: tracking/registry URI. Whoever sets it holds this lock until its fluent calls are done, so two stores in one
#: process (tests; a server and a retrain job pointed elsewhere) never log into each other.
_FLUENT_LOCK = threading.RLock()
_URI_VARS = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


@contextmanager
def _fluent(settings: TrackingSettings) -> Iterator[MlflowClient]:
    with _FLUENT_LOCK:
        client = _client(settings)
        before = {k: os.environ.get(k) for k in _URI_VARS}
        mlflow.set_tracking_uri(settings.tracking_uri)
        mlflow.set_registry_uri(settings.tracking_uri)
        # mlflow also exports the URIs as MLFLOW_TRACKING_URI / MLFLOW_REGISTRY_URI, the operator's settings
        # (TrackingSettings reads the first; child processes inherit both): left changed, every later
        # TrackingSettings and subprocess would point at this store
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield client


def _experiment_id(client: MlflowClient, settings: TrackingSettings) -> str:
    exp = client.get_experiment_by_name(settings.experiment)
    if exp is not None:
        return str(exp.experiment_id)
    location = None
    if settings.is_local:
        settings.models_dir.mkdir(parents=True, exist_ok=True)
        location = settings.models_dir.resolve().as_uri()
    return str(client.create_experiment(settings.experiment, artifact_location=location))


@contextmanager
def _run(name: str, kind: str, experiment_id: str | None = None, nested: bool = False) -> Iterator[Any]:
    """An MLflow run tagged with this host and process, so an interrupted one can be recognised later."""
    tags = {TAG_PID: str(os.getpid()), TAG_HOST: socket.gethostname(), TAG_KIND: kind}
    with mlflow.start_run(experiment_id=experiment_id, run_name=name, nested=nested, tags=tags) as run:
        yield run


# ---------------------------------------------------------------------------------------- housekeeping


def recover(settings: TrackingSettings, client: MlflowClient | None = None) -> list[str]:
    """Mark runs whose process was killed FAILED and remove abandoned scratch dirs; returns the run ids.

    A run counts as interrupted when it is RUNNING, was started on this host and its process is gone.
    Runs of live processes (a training in another terminal) and of other hosts are left alone.
    """
    clean_abandoned(settings.scratch_root)
    client = client or _client(settings)
    exp = client.get_experiment_by_name(settings.experiment)
    if exp is None:
        return []
    host = socket.gethostname()
    marked = []
    for r in client.search_runs([exp.experiment_id], filter_string="attributes.status = 'RUNNING'",
                                max_results=1000):
        tags = r.data.tags
        try:
            pid = int(tags.get(TAG_PID, "-1"))
        except ValueError:
            continue
        if tags.get(TAG_HOST) != host or pid == os.getpid() or pid_alive(pid):
            continue
        client.set_tag(r.info.run_id, "chipcast.interrupted",
                       f"process {pid} ended without finishing the run; marked FAILED by process {os.getpid()} "
                       f"at {now_iso()}")
        client.set_terminated(r.info.run_id, "FAILED")
        marked.append(r.info.run_id)
    if marked:
        log.warning("marked %d interrupted run(s) FAILED: %s", len(marked), ", ".join(marked))
    return marked


_housekept: set[Path] = set()
_housekept_lock = threading.Lock()


def _housekeeping_once(settings: TrackingSettings) -> None:
    """On the first load of a process (a server start): :func:`recover` in the background, never blocking."""
    key = settings.state_dir.resolve()
    with _housekept_lock:
        if key in _housekept:
            return
        _housekept.add(key)

    def run() -> None:
        try:
            recover(settings)
        except Exception as exc:
            log.warning("start-up housekeeping failed (serving is not affected): %s", describe_error(exc))

    threading.Thread(target=run, name="chipcast-housekeeping", daemon=True).start()


# ---------------------------------------------------------------------------------------- runs


@dataclass
class RegisteredRun:
    run_id: str
    version: str
    experiment_id: str
    trained: list[str] = field(default_factory=list)
    #: series carried unchanged from the champion -> the version they came from
    carried: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    #: series the champion served that are no longer targets, left out of this version
    retired: list[str] = field(default_factory=list)


def _log_panel(result: TrainResult, settings: TrackingSettings) -> str:
    """The panel the run used (as known on its date) as an mlflow.data input; returns its digest."""
    known = as_of(result.panel, result.when)
    digest = panel_hash(known)
    ds = from_polars(known, source=str(settings.data_dir), name=f"panel as of {result.when}",
                                 digest=digest)
    mlflow.log_input(ds, context="training")
    return digest


def _log_targets(result: TrainResult, tmp: Path, exp_id: str) -> pl.DataFrame:
    """One nested run per evaluated target with its whole leaderboard; returns all leaderboards."""
    boards = []
    for sid in result.evaluations:
        sm = result.forecaster.models.get(sid)
        if sm is None:
            continue
        with _run(sid, "target", exp_id, nested=True):
            mlflow.log_params({
                "series_id": sid, "method": sm.method.name, "scale": sm.method.scale,
                "members": ",".join(f"{m.name}:{m.weight:.3f}" for m in sm.method.members) or "-",
                "backtest_origins": sm.method.backtest_origins, "primary_horizon": sm.method.primary_horizon,
                "last_observation": sm.data.last_observation, "as_of": sm.data.as_of,
            })
            metrics: dict[str, float] = {}
            for r in sm.leaderboard.iter_rows(named=True):
                for m in LEADERBOARD_METRICS:
                    v = r.get(m)
                    if v is not None and math.isfinite(v):
                        metrics[f"{r['model']}.h{r['horizon']}.{m}"] = float(v)
            if metrics:
                mlflow.log_metrics(metrics)
            if sm.leaderboard.height:
                path = tmp / f"leaderboard_{sid}.parquet"
                sm.leaderboard.write_parquet(path)
                mlflow.log_artifact(str(path))
                boards.append(sm.leaderboard.with_columns(pl.lit(sid).alias("unique_id")))
    return pl.concat(boards, how="diagonal_relaxed") if boards else pl.DataFrame()


def _served_metrics(result: TrainResult) -> dict[str, float]:
    out: dict[str, float] = {}
    for sid in result.evaluations:
        sm = result.forecaster.models.get(sid)
        if sm is None:
            continue
        board = sm.leaderboard
        served = board.filter(pl.col("served")) if "served" in board.columns else board.filter(
            pl.col("model") == COMBINATION)
        for r in served.iter_rows(named=True):
            for m in ("mase", "smape", "coverage_80", "coverage_95"):
                if r[m] is not None and math.isfinite(r[m]):
                    out[f"{sid}.h{r['horizon']}.{m}"] = float(r[m])
        if sm.method.baseline_mase is not None:
            out[f"{sid}.baseline_mase"] = sm.method.baseline_mase
    return out


def _registered(client: MlflowClient, settings: TrackingSettings, alias: str
                ) -> tuple[LoadedModel, Path, Path] | None:
    """(model, forecaster dir, download dir to remove) behind ``alias``, or None if no version has it.

    Registry errors propagate; unreadable artifacts raise :class:`ModelUnavailableError`.
    """
    try:
        mv = client.get_model_version_by_alias(settings.registered_model, alias)
    except Exception as exc:
        text = str(exc)
        if "RESOURCE_DOES_NOT_EXIST" in text or "not found" in text.lower() or "No model version" in text:
            return None
        raise
    dst = scratch_dir(settings.scratch_root, "download")
    try:
        # the version's storage location from this client, not a ``models:/`` URI: mlflow resolves those
        # through the process-wide registry URI, which another store's run may hold at this moment
        source = client.get_model_version_download_uri(settings.registered_model, mv.version)
        local = mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(dst),
                                                    tracking_uri=settings.tracking_uri)
        found = sorted(Path(local).rglob("manifest.json"))
        if not found:
            raise ModelUnavailableError(f"model version {mv.version} ('{alias}') has no forecaster artifact")
        model_dir = found[0].parent
        try:
            forecaster = Forecaster.load(model_dir)
        except Exception as exc:
            raise ModelUnavailableError(
                f"model version {mv.version} ('{alias}') is corrupt: {describe_error(exc)}") from None
    except ModelUnavailableError:
        shutil.rmtree(dst, ignore_errors=True)
        raise
    except Exception as exc:
        shutil.rmtree(dst, ignore_errors=True)
        raise ModelUnavailableError(
            f"model version {mv.version} ('{alias}') artifacts could not be read: {describe_error(exc)}") from None
    loaded = LoadedModel(forecaster, str(mv.version), str(mv.run_id), alias, now_iso(), "registry")
    return loaded, model_dir, dst


def _run_name(kind: str, when: date, trained: int, carried: int = 0) -> str:
    name = f"{kind} {when.isoformat()} {trained} series"
    return name + (f" (+{carried} carried)" if carried else "")


def log_training(
    result: TrainResult,
    settings: TrackingSettings | None = None,
    config: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> RegisteredRun:
    """Log a train run, register the (merged) model and point ``challenger`` at it.

    Series this run did not train (or had to skip) are carried from the current champion unchanged.
    """
    settings = settings or get_tracking_settings()
    with _fluent(settings) as client:
        return _log_training(result, settings, client, config, progress)


def _log_training(result: TrainResult, settings: TrackingSettings, client: MlflowClient,
                  config: dict[str, Any] | None, progress: Callable[[str], None] | None) -> RegisteredRun:
    exp_id = _experiment_id(client, settings)
    recover(settings, client)
    got = _registered(client, settings, "champion")
    champion = got[0] if got else None
    if got:
        shutil.rmtree(got[2], ignore_errors=True)
    fc_new = result.forecaster
    preview = merge_into_champion(fc_new, "", champion.forecaster if champion else None)
    name = _run_name("train", result.when, len(preview.trained), len(preview.carried))
    with scratch(settings.scratch_root, "train", capture_tempfiles=True) as tmp, \
            _run(name, "train", exp_id) as run:
        merged = merge_into_champion(fc_new, run.info.run_id, champion.forecaster if champion else None,
                                     champion.run_id if champion else None, champion.version if champion else None)
        fc = merged.forecaster
        meta = fc.meta
        digest = _log_panel(result, settings)
        params: dict[str, Any] = {
            "targets": ",".join(sorted(fc.models)), "trained": ",".join(merged.trained),
            "carried": ",".join(f"{s}:v{v}" for s, v in sorted(merged.carried.items())) or "-",
            "retired": ",".join(merged.retired) or "-",
            "data_hash": digest, "as_of": meta.as_of, "champion_before": champion.version if champion else "-",
            **(config or {}),
        }
        for sid in merged.trained:
            sm = fc.models[sid]
            params[f"{sid}.method"] = sm.method.name
            params[f"{sid}.members"] = ",".join(f"{m.name}:{m.weight:.3f}" for m in sm.method.members) or "-"
        mlflow.log_params({k: ("" if v is None else str(v))[:500] for k, v in params.items()})
        mlflow.set_tags({"data_hash": digest, "as_of": meta.as_of,
                         "skipped": json.dumps(result.skipped)[:4000]})
        leaderboards = _log_targets(result, tmp, exp_id)
        mlflow.log_metrics({**_served_metrics(result), "series_trained": len(merged.trained),
                            "series_carried": len(merged.carried), "series_skipped": len(result.skipped)})
        from forecasting.plots import series_fan_chart

        for sid in merged.trained:
            if progress:
                progress(sid)
            png = tmp / f"{sid}.png"
            png.write_bytes(series_fan_chart(fc.models[sid]))
            mlflow.log_artifact(str(png), artifact_path="fan_charts")
        if fc.hbm is not None:
            (tmp / "hbm_assumptions.json").write_text(json.dumps(fc.hbm, indent=2, default=str))
            mlflow.log_artifact(str(tmp / "hbm_assumptions.json"))
        leaderboards.write_parquet(tmp / "leaderboards.parquet")
        mlflow.log_artifact(str(tmp / "leaderboards.parquet"))
        model_dir = tmp / "forecaster"
        fc.save(model_dir)
        sid0 = merged.trained[0] if merged.trained else next(iter(fc.models))
        example = pd.DataFrame({"unique_id": [sid0], "h": [2], "level": [DEFAULT_LEVEL]})
        info = mlflow.pyfunc.log_model(
            name="forecaster",
            python_model=str(MODEL_CODE),
            artifacts={"forecaster": str(model_dir)},
            code_paths=stage_code(tmp / "code"),
            pip_requirements=pip_requirements(),
            signature=signature(),
            input_example=example,
            registered_model_name=settings.registered_model,
        )
        version = str(info.registered_model_version)
        _tag_version(client, settings, version, run.info.run_id, fc, merged.carried, result.skipped)
        client.set_registered_model_alias(settings.registered_model, "challenger", version)
        return RegisteredRun(run.info.run_id, version, exp_id, merged.trained, merged.carried, dict(result.skipped),
                             merged.retired)


def _tag_version(client: MlflowClient, settings: TrackingSettings, version: str, run_id: str, fc: Forecaster,
                 carried: dict[str, str], skipped: dict[str, str]) -> None:
    """Targets, methods, data hash, as-of and per-series provenance as version tags and description."""
    name = settings.registered_model
    prov = provenance(fc, run_id, version)
    tags = {"targets": ",".join(sorted(fc.models)), "data_hash": fc.meta.data_hash, "as_of": fc.meta.as_of,
            "trained_at": fc.meta.trained_at, "carried": ",".join(sorted(carried)) or "-",
            "skipped": ",".join(sorted(skipped)) or "-"}
    for sid, sm in fc.models.items():
        tags[f"method.{sid}"] = sm.method.name
        p = prov[sid]
        tags[f"provenance.{sid}"] = f"v{p['version']} run {p['run_id']} as of {p['as_of']} data {p['data_hash']}"
    for k, v in tags.items():
        client.set_model_version_tag(name, version, k, str(v)[:5000])
    trained = sorted(set(fc.models) - set(carried))
    lines = [f"chipcast forecaster trained on data as of {fc.meta.as_of} (data hash {fc.meta.data_hash}).",
             f"Trained in run {run_id}: {', '.join(trained) or '-'}."]
    if carried:
        lines.append("Carried unchanged from earlier versions: "
                     + ", ".join(f"{s} (v{v})" for s, v in sorted(carried.items())) + ".")
    if skipped:
        lines.append("Skipped by training: " + ", ".join(sorted(skipped)) + ".")
    methods = sorted({f"{sm.method.name}[{'+'.join(m.name for m in sm.method.members)}]"
                      for sm in fc.models.values() if sm.method.members})
    lines.append("Methods: " + "; ".join(methods) + ".")
    client.update_model_version(name, version, description=" ".join(lines))


def log_backtest(result: TrainResult, settings: TrackingSettings | None = None) -> str:
    """A ``backtest`` run: the panel input and one child run per target with its whole leaderboard."""
    settings = settings or get_tracking_settings()
    name = _run_name("backtest", result.when, len(result.evaluations))
    with _fluent(settings) as client, scratch(settings.scratch_root, "backtest") as tmp, \
            _run(name, "backtest", _experiment_id(client, settings)) as run:
        exp_id = str(run.info.experiment_id)
        digest = _log_panel(result, settings)
        mlflow.log_params({"targets": ",".join(result.evaluations), "as_of": result.when.isoformat(),
                           "data_hash": digest})
        mlflow.set_tag("skipped", json.dumps(result.skipped)[:4000])
        boards = _log_targets(result, tmp, exp_id)
        if boards.height:
            boards.write_parquet(tmp / "leaderboards.parquet")
            mlflow.log_artifact(str(tmp / "leaderboards.parquet"))
        return str(run.info.run_id)


def log_forecast(result: TrainResult, series_id: str, body: dict[str, Any], h: int | None,
                 settings: TrackingSettings | None = None) -> str:
    """An as-of ``forecast`` run: parameters, the panel input, the leaderboard and the forecast JSON."""
    settings = settings or get_tracking_settings()
    name = f"forecast {series_id} as of {result.when.isoformat()}"
    with _fluent(settings) as client, scratch(settings.scratch_root, "forecast") as tmp, \
            _run(name, "forecast", _experiment_id(client, settings)) as run:
        exp_id = str(run.info.experiment_id)
        digest = _log_panel(result, settings)
        mlflow.log_params({"series_id": series_id, "as_of": result.when.isoformat(), "horizon": h or "default",
                           "levels": ",".join(str(x) for x in body.get("levels", [])), "data_hash": digest})
        _log_targets(result, tmp, exp_id)
        (tmp / "forecast.json").write_text(json.dumps(body, indent=2))
        mlflow.log_artifact(str(tmp / "forecast.json"))
        return str(run.info.run_id)


# ---------------------------------------------------------------------------------------- loading


def _from_cache(settings: TrackingSettings, why: str) -> LoadedModel:
    try:
        forecaster, info = cache.read(settings.champion_cache)
    except FileNotFoundError:
        raise RegistryUnreachableError(f"{why}; and no local copy of a champion exists") from None
    except Exception as exc:
        raise RegistryUnreachableError(f"{why}; and the local copy is unreadable ({describe_error(exc)})") from None
    return LoadedModel(forecaster, str(info["version"]), str(info["run_id"]), str(info["alias"]), now_iso(),
                       LOCAL_CACHE)


def load_model(alias: str = "champion", settings: TrackingSettings | None = None) -> LoadedModel:
    """The forecaster behind ``alias``; nothing is fitted (artifacts are read as stored).

    * Any failure of the registry itself (unreachable server, corrupt or locked sqlite store, an error
      of any class) falls back, for ``champion``, to the local copy of the last champion this machine
      loaded (``source="local-cache"``, ``/readyz`` says ``degraded``). The reason goes to the log.
    * A version whose artifacts are missing or unreadable raises :class:`ModelUnavailableError`, so a
      server keeps what it serves.
    * After a successful champion load the local copy is refreshed in a background thread; its failure
      (full disk, read-only volume) is logged and never affects the model returned.
    """
    settings = settings or get_tracking_settings()
    try:
        client = _client(settings)
        got = _registered(client, settings, alias)
    except ModelUnavailableError:
        raise
    except Exception as exc:  # the registry itself failed: sqlalchemy, requests, MlflowException, OSError...
        why = f"model registry failed: {describe_error(exc)}"
        if alias != "champion":
            raise RegistryUnreachableError(why) from None
        log.warning("%s; serving the local copy of the last champion", why)
        return _from_cache(settings, why)
    finally:
        _housekeeping_once(settings)  # after the store was opened once: never two first-time migrations at once
    if got is None:
        raise ModelUnavailableError(f"no model version with alias '{alias}'")
    loaded, model_dir, dst = got
    if alias == "champion":
        info = {"version": loaded.version, "run_id": loaded.run_id, "alias": alias}
        cache.write_async(model_dir, info, settings.champion_cache, cleanup=dst)
    else:
        shutil.rmtree(dst, ignore_errors=True)
    return loaded


def load_pyfunc(alias: str = "champion", settings: TrackingSettings | None = None) -> Any:
    settings = settings or get_tracking_settings()
    with _fluent(settings):
        return mlflow.pyfunc.load_model(f"models:/{settings.registered_model}@{alias}")


def list_models(settings: TrackingSettings | None = None) -> list[dict[str, Any]]:
    """Every registered version, newest first, with its aliases and run metrics; ``[]`` if none is registered.

    A registry that cannot be asked raises :class:`RegistryUnreachableError` (credentials removed from its
    message): an outage must never read as an empty registry.
    """
    settings = settings or get_tracking_settings()
    try:
        client = _client(settings)
        versions = client.search_model_versions(f"name='{settings.registered_model}'")
        # with no version there may be no registered model either, and asking for it would raise "not found"
        alias_map = (client.get_registered_model(settings.registered_model).aliases or {}) if versions else {}
    except Exception as exc:  # the registry itself failed: sqlalchemy, requests, MlflowException, OSError...
        why = f"model registry failed: {describe_error(exc)}"
        log.warning("%s; registered models cannot be listed", why)
        raise RegistryUnreachableError(why) from None
    by_version: dict[str, list[str]] = {}
    for alias, v in alias_map.items():
        by_version.setdefault(str(v), []).append(alias)
    out = []
    for mv in sorted(versions, key=lambda v: int(v.version), reverse=True):
        run = client.get_run(mv.run_id) if mv.run_id else None
        out.append(
            {
                "version": str(mv.version),
                "aliases": sorted(by_version.get(str(mv.version), [])),
                "run_id": mv.run_id,
                "created_at": mv.creation_timestamp,
                "as_of": (mv.tags or {}).get("as_of") or (run.data.tags.get("as_of") if run else None),
                "metrics": dict(run.data.metrics) if run else {},
            }
        )
    return out


# ---------------------------------------------------------------------------------------- promotion


@dataclass
class PromotionResult:
    promoted: bool
    challenger: str
    champion_before: str | None
    #: geometric mean over compared series of challenger MASE / champion MASE (None when not compared)
    mase_ratio: float | None
    reason: str
    evidence: gate.GateReport | None = None
    run_id: str | None = None


def _decide(report: gate.GateReport, force: bool) -> tuple[bool, str]:
    if report.lost:
        return False, (f"the challenger lost served series {', '.join(report.lost)}; retrain them too "
                       "(a promotion never drops a series, not even with --force)")
    bad = report.not_comparable
    g = report.geomean
    n = len(report.compared)
    if bad:
        why = "; ".join(f"{e.series_id}: {e.detail}" for e in bad)
        return force, f"no honest comparison for {len(bad)} series ({why})" + (" (forced)" if force else "")
    if g is None:
        return True, "no retrained series to compare; every served series is carried unchanged or added"
    kinds = sorted({e.kind for e in report.compared})
    text = f"geometric mean of relative MASE (challenger/champion) {g:.3f} on {n} series ({', '.join(kinds)})"
    if g <= 1.0:
        return True, f"{text} <= 1"
    return force, f"{text} > 1" + (" (forced)" if force else "")


def promote(force: bool = False, settings: TrackingSettings | None = None,
            panel: pl.DataFrame | None = None) -> PromotionResult:
    """Move ``champion`` to the challenger if the gate (``gate.py``) finds it at least as good.

    Never promotes a version that lost a series the champion serves. Every decision is an MLflow
    ``promote`` run: per-series relative MASE as metrics, the whole evidence as ``promotion.json``.
    """
    settings = settings or get_tracking_settings()
    client = _client(settings)
    got_ch = _registered(client, settings, "challenger")
    if got_ch is None:
        raise ModelUnavailableError("no model version with alias 'challenger'")
    challenger = got_ch[0]
    shutil.rmtree(got_ch[2], ignore_errors=True)
    got_cp = _registered(client, settings, "champion")
    champion = got_cp[0] if got_cp else None
    if got_cp:
        shutil.rmtree(got_cp[2], ignore_errors=True)
    if champion is not None and champion.version == challenger.version:
        return PromotionResult(False, challenger.version, champion.version, None, "challenger is already the champion")
    report: gate.GateReport | None = None
    if champion is None:
        promoted, reason = True, "no champion yet"
    else:
        if panel is None:
            panel = load_panel(data_dir=settings.data_dir, store=LocalStore(settings.store_dir), vintages=True)
        report = gate.gather(challenger.forecaster, champion.forecaster, panel,
                             challenger_run=(challenger.run_id, challenger.version),
                             champion_run=(champion.run_id, champion.version))
        promoted, reason = _decide(report, force)
    ratio = report.geomean if report else None
    exp_id = _experiment_id(client, settings)
    before = champion.version if champion else None
    verdict = "promoted" if promoted else "refused"
    name = f"promote v{challenger.version} over v{before or '-'}: {verdict}"
    with _fluent(settings), scratch(settings.scratch_root, "promote") as tmp, _run(name, "promote", exp_id) as run:
        mlflow.set_tags({"challenger_version": challenger.version, "champion_before": before or "none",
                         "promoted": str(promoted), "forced": str(force), "reason": reason[:5000]})
        metrics: dict[str, float] = {"promoted": float(promoted)}
        if report is not None:
            metrics["series_compared"] = len(report.compared)
            if ratio is not None and math.isfinite(ratio):
                metrics["rel_mase_geomean"] = ratio
            for e in report.compared:
                rel = e.relative
                if rel is not None and math.isfinite(rel):
                    metrics[f"rel_mase.{e.series_id}"] = rel
                metrics[f"mase_challenger.{e.series_id}"] = float(e.mase_challenger or 0.0)
                metrics[f"mase_champion.{e.series_id}"] = float(e.mase_champion or 0.0)
                metrics[f"periods.{e.series_id}"] = e.periods
        mlflow.log_metrics(metrics)
        body = {"challenger": {"version": challenger.version, "run_id": challenger.run_id},
                "champion": {"version": before, "run_id": champion.run_id if champion else None},
                "promoted": promoted, "forced": force, "reason": reason,
                "decided_at": datetime.now(UTC).isoformat(), "evidence": report.to_dict() if report else None}
        (tmp / "promotion.json").write_text(json.dumps(body, indent=2, default=str))
        mlflow.log_artifact(str(tmp / "promotion.json"))
        run_id = str(run.info.run_id)
    client.set_model_version_tag(settings.registered_model, challenger.version, "promotion",
                                 f"{verdict} vs v{before or '-'}: {reason}"[:5000])
    if promoted:
        client.set_registered_model_alias(settings.registered_model, "champion", challenger.version)
    return PromotionResult(promoted, challenger.version, before, ratio, reason, report, run_id)


def set_alias(alias: str, version: str, settings: TrackingSettings | None = None) -> None:
    """Point an alias at a version directly (operators' escape hatch; `promote` is the normal path)."""
    settings = settings or get_tracking_settings()
    _client(settings).set_registered_model_alias(settings.registered_model, alias, version)


def retrain_and_register(settings: TrackingSettings | None = None) -> RegisteredRun:
    """Train on the current data, register a challenger and promote it if the gate allows (service job)."""
    settings = settings or get_tracking_settings()
    result = train(data_dir=settings.data_dir, store=LocalStore(settings.store_dir))
    run = log_training(result, settings)
    promote(settings=settings)
    return run


__all__ = [
    "PROVENANCE",
    "ModelUnavailableError",
    "PromotionResult",
    "RegisteredRun",
    "RegistryUnreachableError",
    "describe_error",
    "list_models",
    "load_model",
    "load_pyfunc",
    "log_backtest",
    "log_forecast",
    "log_training",
    "promote",
    "recover",
    "retrain_and_register",
    "set_alias",
]
