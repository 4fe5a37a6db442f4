"""MLflow runs, the model registry, aliases and promotion. With flavor.py, the only code importing mlflow.

By default everything is embedded: a sqlite tracking store under the state dir and artifacts under
``models/``. Setting ``MLFLOW_TRACKING_URI`` (or ``CHIPCAST_MLFLOW_TRACKING_URI``) points the same code at
a real tracking server. The registered model ``chipcast_forecaster`` is a models-from-code pyfunc
(``flavor.py``) whose artifact is a finished :class:`~forecasting.artifact.Forecaster` directory
(parquet + JSON, no pickles): this module only logs and registers what ``train()`` produced.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import polars as pl
from mlflow import MlflowClient
from mlflow.models import infer_signature

from forecasting.artifact import Forecaster, now_iso
from forecasting.plots import series_fan_chart
from forecasting.serving import LoadedModel
from forecasting.tracking.flavor import predict_requests
from forecasting.tracking.settings import TrackingSettings, apply_client_defaults, get_tracking_settings
from forecasting.train import TrainResult, train
from forecasting.zoo import COMBINATION
from pipelines.store import LocalStore

MODEL_CODE = Path(__file__).with_name("model_code.py")


class ModelUnavailableError(RuntimeError):
    """No registered model under the requested alias, or the registry cannot be reached."""


def _client(settings: TrackingSettings) -> MlflowClient:
    apply_client_defaults()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)


def _experiment_id(client: MlflowClient, settings: TrackingSettings) -> str:
    exp = client.get_experiment_by_name(settings.experiment)
    if exp is not None:
        return str(exp.experiment_id)
    location = None
    if settings.is_local:
        settings.models_dir.mkdir(parents=True, exist_ok=True)
        location = settings.models_dir.resolve().as_uri()
    return str(client.create_experiment(settings.experiment, artifact_location=location))


# ---------------------------------------------------------------------------------------- logging


@dataclass
class RegisteredRun:
    run_id: str
    version: str
    experiment_id: str


def log_training(result: TrainResult, settings: TrackingSettings, config: dict[str, Any] | None = None,
                 progress: Callable[[str], None] | None = None) -> RegisteredRun:
    """One run per training: params, data hash, per-series metrics, leaderboards and fan charts; registers
    the finished forecaster as a new version aliased ``challenger``."""
    client = _client(settings)
    exp_id = _experiment_id(client, settings)
    fc = result.forecaster
    meta = fc.meta
    with tempfile.TemporaryDirectory() as tmp_s, mlflow.start_run(experiment_id=exp_id, run_name="train") as run:
        tmp = Path(tmp_s)
        params: dict[str, Any] = {"targets": ",".join(sorted(fc.models)), "data_hash": meta.data_hash,
                                  "as_of": meta.as_of, **(config or {})}
        for sid, sm in fc.models.items():
            params[f"{sid}.method"] = sm.method.name
            params[f"{sid}.members"] = ",".join(f"{m.name}:{m.weight:.3f}" for m in sm.method.members) or "-"
            params[f"{sid}.backtest_origins"] = sm.method.backtest_origins
        mlflow.log_params({k: ("" if v is None else str(v))[:500] for k, v in params.items()})
        mlflow.set_tags({"data_hash": meta.data_hash, "as_of": meta.as_of,
                         "skipped": json.dumps(result.skipped)[:4000]})
        boards = []
        for sid, sm in fc.models.items():
            if progress:
                progress(sid)
            if sm.leaderboard.height:
                boards.append(sm.leaderboard.with_columns(pl.lit(sid).alias("unique_id")))
                metrics = {}
                for r in sm.leaderboard.filter(pl.col("model") == COMBINATION).iter_rows(named=True):
                    for m in ("mase", "smape", "mae", "rmse", "coverage_80", "coverage_95", "winkler_80"):
                        if r[m] is not None:
                            metrics[f"{sid}.h{r['horizon']}.{m}"] = float(r[m])
                if sm.method.baseline_mase is not None:
                    metrics[f"{sid}.baseline_mase"] = sm.method.baseline_mase
                mlflow.log_metrics(metrics)
            png = series_fan_chart(sm)
            (tmp / f"{sid}.png").write_bytes(png)
            mlflow.log_artifact(str(tmp / f"{sid}.png"), artifact_path="fan_charts")
        if fc.hbm is not None:
            (tmp / "hbm_assumptions.json").write_text(json.dumps(fc.hbm, indent=2, default=str))
            mlflow.log_artifact(str(tmp / "hbm_assumptions.json"))
        leaderboards = pl.concat(boards, how="diagonal_relaxed") if boards else pl.DataFrame()
        leaderboards.write_parquet(tmp / "leaderboards.parquet")
        mlflow.log_artifact(str(tmp / "leaderboards.parquet"))
        mlflow.log_metric("series_trained", len(fc.models))
        mlflow.log_metric("series_skipped", len(result.skipped))
        model_dir = tmp / "forecaster"
        fc.save(model_dir)
        sid0 = next(iter(fc.models))
        example = pd.DataFrame({"unique_id": [sid0], "h": [2], "level": ["80,95"]})
        info = mlflow.pyfunc.log_model(
            name="forecaster",
            python_model=str(MODEL_CODE),
            artifacts={"forecaster": str(model_dir)},
            signature=infer_signature(example, predict_requests(fc, example)),
            input_example=example,
            registered_model_name=settings.registered_model,
        )
        version = str(info.registered_model_version)
        client.set_registered_model_alias(settings.registered_model, "challenger", version)
        return RegisteredRun(run.info.run_id, version, exp_id)


# ---------------------------------------------------------------------------------------- loading


class RegistryUnreachableError(ModelUnavailableError):
    """The tracking server could not be asked at all (network, server down)."""


def _resolve_alias(client: MlflowClient, settings: TrackingSettings, alias: str) -> Any:
    try:
        return client.get_model_version_by_alias(settings.registered_model, alias)
    except Exception as exc:  # mlflow raises MlflowException/RestException, requests raises ConnectionError
        text = str(exc)
        if "RESOURCE_DOES_NOT_EXIST" in text or "not found" in text.lower() or "No model version" in text:
            raise ModelUnavailableError(f"no model version with alias '{alias}'") from None
        raise RegistryUnreachableError(f"model registry unreachable: {text.splitlines()[0][:200]}") from None


def _download_forecaster(settings: TrackingSettings, alias: str, mv: Any) -> tuple[Path, Path]:
    """(download dir to delete afterwards, the forecaster directory inside it)."""
    dst = Path(tempfile.mkdtemp(prefix="chipcast-model-"))
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{settings.registered_model}/{mv.version}", dst_path=str(dst)
        )
    except Exception as exc:
        shutil.rmtree(dst, ignore_errors=True)
        raise ModelUnavailableError(
            f"model version {mv.version} ('{alias}') artifacts could not be read: {str(exc).splitlines()[0][:200]}"
        ) from None
    found = list(Path(local).rglob("manifest.json"))
    if not found:
        shutil.rmtree(dst, ignore_errors=True)
        raise ModelUnavailableError(f"model version {mv.version} ('{alias}') has no forecaster artifact")
    return dst, found[0].parent


def _cache_champion(model_dir: Path, settings: TrackingSettings, info: dict[str, str]) -> None:
    """Keep a local copy of the last loaded champion so the service survives a tracking-server outage."""
    cache = settings.champion_cache
    tmp = cache.with_name(cache.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(model_dir, tmp)
    (tmp / "registry.json").write_text(json.dumps(info))
    old = cache.with_name(cache.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if cache.exists():
        cache.rename(old)
    tmp.rename(cache)
    shutil.rmtree(old, ignore_errors=True)


def _from_cache(settings: TrackingSettings, why: str) -> LoadedModel:
    cache = settings.champion_cache
    if not (cache / "manifest.json").exists():
        raise RegistryUnreachableError(f"{why}; and no local copy of a champion exists") from None
    info = json.loads((cache / "registry.json").read_text())
    return LoadedModel(Forecaster.load(cache), info["version"], info["run_id"], info["alias"], now_iso(),
                       "local-cache")


def load_model(alias: str = "champion", settings: TrackingSettings | None = None) -> LoadedModel:
    """The forecaster behind ``alias``.

    If the registry cannot be reached, the last champion loaded on this machine is served from the local
    cache (``source = "local-cache"``). A version whose artifacts are missing or unreadable is rejected
    with :class:`ModelUnavailableError` so the caller keeps whatever it serves now.
    """
    settings = settings or get_tracking_settings()
    try:
        client = _client(settings)
        mv = _resolve_alias(client, settings, alias)
    except RegistryUnreachableError as exc:
        if alias != "champion":
            raise
        return _from_cache(settings, str(exc))
    dst, model_dir = _download_forecaster(settings, alias, mv)
    try:
        try:
            forecaster = Forecaster.load(model_dir)
        except Exception as exc:
            raise ModelUnavailableError(
                f"model version {mv.version} ('{alias}') is corrupt: {type(exc).__name__}: {str(exc)[:200]}"
            ) from None
        info = {"version": str(mv.version), "run_id": str(mv.run_id), "alias": alias}
        if alias == "champion":
            _cache_champion(model_dir, settings, info)
    finally:
        shutil.rmtree(dst, ignore_errors=True)
    return LoadedModel(forecaster, info["version"], info["run_id"], alias, now_iso(), "registry")


def load_pyfunc(alias: str = "champion", settings: TrackingSettings | None = None) -> Any:
    settings = settings or get_tracking_settings()
    _client(settings)
    return mlflow.pyfunc.load_model(f"models:/{settings.registered_model}@{alias}")


def list_models(settings: TrackingSettings | None = None) -> list[dict[str, Any]]:
    settings = settings or get_tracking_settings()
    client = _client(settings)
    try:
        versions = client.search_model_versions(f"name='{settings.registered_model}'")
        alias_map = client.get_registered_model(settings.registered_model).aliases or {}
    except Exception:
        return []
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
                "as_of": run.data.tags.get("as_of") if run else None,
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
    #: geometric mean over shared series of challenger MASE / champion MASE (None when not compared)
    mase_ratio: float | None
    reason: str


def compare(challenger: LoadedModel, champion: LoadedModel) -> tuple[float, int, list[str]]:
    """(geometric mean of challenger/champion primary-horizon MASE over shared series, series compared,
    series the champion serves that the challenger lost)."""
    import math

    lost = sorted(set(champion.forecaster.models) - set(challenger.forecaster.models))
    logs = []
    for sid, sm in challenger.forecaster.models.items():
        old = champion.forecaster.models.get(sid)
        if old is None or sm.method.mase is None or old.method.mase is None or old.method.mase <= 0:
            continue
        logs.append(math.log(sm.method.mase / old.method.mase))
    if not logs:
        return float("nan"), 0, lost
    return math.exp(sum(logs) / len(logs)), len(logs), lost


def promote(force: bool = False, settings: TrackingSettings | None = None) -> PromotionResult:
    """Move ``champion`` to the challenger if it is at least as good on the same backtest windows."""
    settings = settings or get_tracking_settings()
    client = _client(settings)
    challenger = load_model("challenger", settings)
    try:
        champion: LoadedModel | None = load_model("champion", settings)
    except ModelUnavailableError:
        champion = None
    if champion is not None and champion.version == challenger.version:
        return PromotionResult(False, challenger.version, champion.version, None,
                               "challenger is already the champion")
    a: float | None = None
    if champion is None:
        promoted, reason = True, "no champion yet"
    else:
        ratio, n, lost = compare(challenger, champion)
        a = ratio
        if lost:
            promoted, reason = False, (f"challenger v{challenger.version} lost served series {', '.join(lost)}; "
                                       "retrain them too (a promotion never drops a series)")
        elif n == 0:
            promoted, reason = force, "no series in common to compare"
        elif ratio <= 1.0:
            promoted, reason = True, f"challenger/champion MASE geometric mean {ratio:.3f} <= 1 on {n} series"
        else:
            promoted, reason = force, f"challenger/champion MASE geometric mean {ratio:.3f} > 1 on {n} series"
        if force and promoted and not (n and ratio <= 1.0) and not lost:
            reason += " (forced)"
    exp_id = _experiment_id(client, settings)
    with mlflow.start_run(experiment_id=exp_id, run_name="promote"):
        mlflow.set_tags({"challenger_version": challenger.version,
                         "champion_before": champion.version if champion else "none",
                         "promoted": str(promoted), "forced": str(force), "reason": reason})
        if a is not None and a == a:
            mlflow.log_metric("mase_ratio_geomean", a)
    if promoted:
        client.set_registered_model_alias(settings.registered_model, "champion", challenger.version)
    return PromotionResult(promoted, challenger.version, champion.version if champion else None, a, reason)


def set_alias(alias: str, version: str, settings: TrackingSettings | None = None) -> None:
    """Point an alias at a version directly (operators' escape hatch; `promote` is the normal path)."""
    settings = settings or get_tracking_settings()
    _client(settings).set_registered_model_alias(settings.registered_model, alias, version)


def retrain_and_register(settings: TrackingSettings | None = None) -> RegisteredRun:
    """Train on the current data, register a challenger and promote it if the rule allows (service job)."""
    settings = settings or get_tracking_settings()
    result = train(data_dir=settings.data_dir, store=LocalStore(settings.store_dir))
    run = log_training(result, settings)
    promote(settings=settings)
    return run



__all__ = [
    "ModelUnavailableError",
    "PromotionResult",
    "RegistryUnreachableError",
    "TrackingSettings",
    "get_tracking_settings",
    "list_models",
    "load_model",
    "log_training",
    "promote",
    "retrain_and_register",
]
