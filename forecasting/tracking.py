"""MLflow: experiment runs, the model registry and aliases. The only module that imports mlflow.

By default everything is embedded: a sqlite tracking store under the state dir and artifacts under
``models/``. Setting ``MLFLOW_TRACKING_URI`` (or ``CHIPCAST_MLFLOW_TRACKING_URI``) points the same code at
a real tracking server. The registered model ``chipcast_forecaster`` is a models-from-code pyfunc whose
artifact is a :class:`~forecasting.forecaster.Forecaster` directory (parquet + JSON, no pickles).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import polars as pl
from mlflow import MlflowClient
from mlflow.models import infer_signature
from pydantic import AliasChoices, Field

from forecasting.backtest import LEVELS
from forecasting.forecaster import Forecaster, ForecastRequestError, _rename_to, now_iso
from forecasting.hbm import attach_baseline_outlook
from forecasting.models import TARGETS
from forecasting.plots import fan_chart_png
from forecasting.serving import LoadedModel
from forecasting.train import TrainResult, train
from pipelines.catalog import get_spec
from pipelines.config import PROJECT_ROOT, DataSettings
from pipelines.store import LocalStore, atomic_write_parquet

MODEL_CODE = Path(__file__).with_name("mlflow_model_code.py")
# artifact downloads are local and quick; their tqdm bars only clutter the CLI and the logs
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
# a tracking server that is down should be noticed in seconds (then the local champion copy serves),
# not after MLflow's default minutes of retries
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


class ModelUnavailableError(RuntimeError):
    """No registered model under the requested alias, or the registry cannot be reached."""


class TrackingSettings(DataSettings):
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CHIPCAST_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI"),
        description="tracking server URI; default: sqlite store under the state dir",
    )
    models_dir: Path = Field(default=PROJECT_ROOT / "models", description="artifact root for the local store")
    experiment: str = "chipcast"
    registered_model: str = "chipcast_forecaster"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{(self.state_dir / 'mlflow.db').resolve()}"

    @property
    def is_local(self) -> bool:
        return self.tracking_uri.startswith(("sqlite:", "file:")) or "://" not in self.tracking_uri

    @property
    def champion_cache(self) -> Path:
        return self.state_dir / "champion_cache"


@lru_cache
def get_tracking_settings() -> TrackingSettings:
    return TrackingSettings()


def _client(settings: TrackingSettings) -> MlflowClient:
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


# ---------------------------------------------------------------------------------------- pyfunc


class ChipcastPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined,misc]
    """Pyfunc over a saved Forecaster; each input row is a request config: unique_id, h, level."""

    forecaster: Forecaster

    def load_context(self, context: Any) -> None:
        self.forecaster = Forecaster.load(Path(context.artifacts["forecaster"]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return predict_requests(self.forecaster, model_input)


def predict_requests(forecaster: Forecaster, model_input: pd.DataFrame) -> pd.DataFrame:
    """Answer one-row-per-request configs; anything but ``unique_id, h[, level]`` is refused clearly."""
    allowed = {"unique_id", "h", "level"}
    extra = set(model_input.columns) - allowed
    if extra or not {"unique_id", "h"} <= set(model_input.columns):
        raise ForecastRequestError(
            f"input must have columns unique_id, h and optionally level (e.g. '80,95'); got {list(model_input.columns)}"
        )
    frames = []
    for row in model_input.to_dict(orient="records"):
        levels = tuple(int(x) for x in str(row.get("level") or "80,95").split(","))
        sid = str(row["unique_id"])
        fc = forecaster.forecast(sid, int(row["h"]), levels)
        champ = forecaster.models[sid].champion
        frames.append(_rename_to(fc, champ, "forecast").with_columns(pl.lit(champ).alias("model")))
    return pl.concat(frames, how="diagonal_relaxed").to_pandas()


def set_pyfunc_model() -> None:
    """Called by the models-from-code file when MLflow loads the model."""
    mlflow.models.set_model(ChipcastPyfunc())


# ---------------------------------------------------------------------------------------- logging


@dataclass
class RegisteredRun:
    run_id: str
    version: str
    experiment_id: str


def _series_history(result: TrainResult, sid: str) -> pl.DataFrame:
    return result.panel.filter(pl.col("unique_id") == sid).select("ds", "y")


def log_training(result: TrainResult, settings: TrackingSettings, config: dict[str, Any] | None = None,
                 progress: Callable[[str], None] | None = None) -> RegisteredRun:
    """One run per training: params, data hash and vintage, per-series metrics, CV frames, leaderboards,
    forecast tables and fan charts; registers the forecaster as a new version aliased ``challenger``."""
    client = _client(settings)
    exp_id = _experiment_id(client, settings)
    fc = result.forecaster
    meta = fc.meta
    with tempfile.TemporaryDirectory() as tmp_s, mlflow.start_run(experiment_id=exp_id, run_name="train") as run:
        tmp = Path(tmp_s)
        params: dict[str, Any] = {
            "targets": ",".join(sorted(fc.models)),
            "levels": ",".join(map(str, LEVELS)),
            "data_hash": meta.data_hash,
            "data_vintage": meta.data_vintage,
            "as_of": meta.as_of,
            **(config or {}),
        }
        for sid, bt in result.backtests.items():
            cfg = TARGETS[sid]
            params[f"{sid}.horizons"] = ",".join(map(str, cfg.horizons))
            params[f"{sid}.windows"] = f"{cfg.n_windows}x{cfg.step_size}"
            params[f"{sid}.drivers"] = ",".join(bt.drivers) or "-"
        mlflow.log_params({k: ("" if v is None else str(v))[:500] for k, v in params.items()})
        mlflow.set_tags({"data_hash": meta.data_hash, "data_vintage": str(meta.data_vintage),
                         "skipped": json.dumps(result.skipped)[:4000]})
        boards = []
        for sid, bt in result.backtests.items():
            if progress:
                progress(sid)
            board = bt.leaderboard.with_columns(pl.lit(sid).alias("unique_id"))
            boards.append(board)
            champ = board.filter(pl.col("champion"))
            metrics = {}
            for r in champ.iter_rows(named=True):
                for m in ("mase", "smape", "mae", "rmse", "coverage_80", "coverage_95"):
                    if r[m] is not None:
                        metrics[f"{sid}.h{r['horizon']}.{m}"] = float(r[m])
            metrics[f"{sid}.baseline_mase"] = bt.baseline_mase
            mlflow.log_metrics(metrics)
            bt.cv.write_parquet(tmp / f"cv_{sid}.parquet")
            mlflow.log_artifact(str(tmp / f"cv_{sid}.parquet"), artifact_path="cv")
            h = fc.default_horizon(sid)
            f = fc.forecast(sid, h, LEVELS)
            png = fan_chart_png(_series_history(result, sid), f, fc.models[sid].champion,
                                title=f"{get_spec(sid).name} — {fc.models[sid].champion}", unit=get_spec(sid).unit)
            (tmp / f"{sid}.png").write_bytes(png)
            mlflow.log_artifact(str(tmp / f"{sid}.png"), artifact_path="fan_charts")
        fc.precompute()
        attach_baseline_outlook(fc)
        if fc.hbm is not None:
            hbm = fc.hbm
            hbm_params: dict[str, Any] = {}
            for pname in ("accelerator_share", "hbm_content"):
                prm = hbm[pname]
                hbm_params[f"hbm.{pname}"] = f"{prm['value']:.4f} [{prm['low']:.4f}, {prm['high']:.4f}]"
                hbm_params[f"hbm.{pname}.sources"] = "; ".join(prm["sources"])[:500]
            for t, el in hbm["elasticities"].items():
                hbm_params[f"hbm.elasticity.{t}"] = f"{el['value']:.3f} (se {el['se']:.3f}, n {el['n']})"
            mlflow.log_params(hbm_params)
            for row in hbm.get("baseline_outlook", []):
                mlflow.log_metric(f"hbm_revenue.{row['year']}.median_usd_bn", row["value"])
            (tmp / "hbm_assumptions.json").write_text(json.dumps(hbm, indent=2, default=str))
            mlflow.log_artifact(str(tmp / "hbm_assumptions.json"))
        forecasts, outlooks = fc.cached_frames()
        leaderboards = pl.concat(boards) if boards else pl.DataFrame()
        for name, frame in (("leaderboards", leaderboards), ("forecasts", forecasts), ("outlooks", outlooks)):
            frame.write_parquet(tmp / f"{name}.parquet")
            mlflow.log_artifact(str(tmp / f"{name}.parquet"))
        mlflow.log_metric("series_trained", len(fc.models))
        mlflow.log_metric("series_skipped", len(result.skipped))
        model_dir = tmp / "forecaster"
        fc.save(model_dir)
        leaderboards.write_parquet(model_dir / "leaderboards.parquet")
        example = pd.DataFrame({"unique_id": [next(iter(fc.models))], "h": [2], "level": ["80,95"]})
        info = mlflow.pyfunc.log_model(
            name="forecaster",
            python_model=str(MODEL_CODE),
            artifacts={"forecaster": str(model_dir)},
            signature=infer_signature(example),
            input_example=example,
            registered_model_name=settings.registered_model,
            code_paths=None,
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


def _read_leaderboards(model_dir: Path) -> dict[str, pl.DataFrame]:
    p = model_dir / "leaderboards.parquet"
    if not p.exists():
        return {}
    board = pl.read_parquet(p)
    return {str(k[0]): v.drop("unique_id") for k, v in board.partition_by("unique_id", as_dict=True).items()}


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
    return LoadedModel(Forecaster.load(cache), info["version"], info["run_id"], info["alias"],
                       _read_leaderboards(cache), now_iso(), "local-cache")


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
            leaderboards = _read_leaderboards(model_dir)
        except Exception as exc:
            raise ModelUnavailableError(
                f"model version {mv.version} ('{alias}') is corrupt: {type(exc).__name__}: {str(exc)[:200]}"
            ) from None
        info = {"version": str(mv.version), "run_id": str(mv.run_id), "alias": alias}
        if alias == "champion":
            _cache_champion(model_dir, settings, info)
    finally:
        shutil.rmtree(dst, ignore_errors=True)
    return LoadedModel(forecaster, info["version"], info["run_id"], alias, leaderboards, now_iso(), "registry")


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
                "data_vintage": run.data.tags.get("data_vintage") if run else None,
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
    challenger_mase: float | None
    champion_mase: float | None
    reason: str


def compare_on_same_windows(challenger: LoadedModel, champion: LoadedModel) -> tuple[float, float, int]:
    """Mean primary-horizon MASE of each side's model choices, both read off the challenger's backtests.

    The challenger's leaderboards hold every zoo model on the newest windows, so the old champion's
    per-series choice is scored on exactly the same origins and data.
    """
    ch, old = [], []
    for sid, sm in challenger.forecaster.models.items():
        board = challenger.leaderboards.get(sid)
        if board is None or sid not in champion.forecaster.models:
            continue
        prim = board.filter(pl.col("horizon") == sm.cfg.primary_h)
        old_model = champion.forecaster.models[sid].champion
        a = prim.filter(pl.col("model") == sm.champion)["mase"]
        b = prim.filter(pl.col("model") == old_model)["mase"]
        if a.len() and b.len():
            ch.append(float(a[0]))
            old.append(float(b[0]))
    if not ch:
        return float("nan"), float("nan"), 0
    return sum(ch) / len(ch), sum(old) / len(old), len(ch)


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
        return PromotionResult(False, challenger.version, champion.version, None, None,
                               "challenger is already the champion")
    if champion is None:
        promoted, reason, a, b = True, "no champion yet", None, None
    else:
        a_, b_, n = compare_on_same_windows(challenger, champion)
        a, b = a_, b_
        if n == 0:
            promoted, reason = force, "no series in common to compare"
        elif a_ <= b_:
            promoted, reason = True, f"challenger mean MASE {a_:.3f} <= champion {b_:.3f} on {n} series"
        else:
            promoted, reason = force, f"challenger mean MASE {a_:.3f} > champion {b_:.3f} on {n} series"
        if force and promoted and not (n and a_ <= b_):
            reason += " (forced)"
    exp_id = _experiment_id(client, settings)
    with mlflow.start_run(experiment_id=exp_id, run_name="promote"):
        mlflow.set_tags({"challenger_version": challenger.version,
                         "champion_before": champion.version if champion else "none",
                         "promoted": str(promoted), "forced": str(force), "reason": reason})
        if a is not None and a == a:
            mlflow.log_metric("challenger_mean_mase", a)
        if b is not None and b == b:
            mlflow.log_metric("champion_mean_mase", b)
    if promoted:
        client.set_registered_model_alias(settings.registered_model, "champion", challenger.version)
    return PromotionResult(promoted, challenger.version, champion.version if champion else None, a, b, reason)


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
    "atomic_write_parquet",
    "get_tracking_settings",
    "list_models",
    "load_model",
    "log_training",
    "promote",
    "retrain_and_register",
]
