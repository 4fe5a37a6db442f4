"""Faults: the registry goes away, an artifact is corrupt, a retrain is killed. Nothing is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from forecasting.tracking import (
    ModelUnavailableError,
    TrackingSettings,
    list_models,
    load_model,
    log_training,
    promote,
    set_alias,
)
from forecasting.train import TrainResult, train
from service.config import Settings
from service.main import create_app
from tests.conftest import REAL_DATA_DIR, digest_tree

ADMIN = "admin-key-0123456789abcdef"


@pytest.fixture(scope="module")
def trained() -> TrainResult:
    return train(["capex_meta", "wsts_memory_sales_annual"], data_dir=REAL_DATA_DIR)


def _local(tmp_path: Path) -> TrackingSettings:
    return TrackingSettings(state_dir=tmp_path / "state", models_dir=tmp_path / "models")


def _unreachable(tmp_path: Path) -> TrackingSettings:
    """Same state dir (so the same local champion copy), but a tracking server nobody listens on."""
    return TrackingSettings(state_dir=tmp_path / "state", models_dir=tmp_path / "models",
                            mlflow_tracking_uri="http://127.0.0.1:9")


def _app_settings() -> Settings:
    return Settings(api_keys_admin=[ADMIN], rate_limit_per_minute=100_000)


def _registered(trained: TrainResult, tmp_path: Path) -> TrackingSettings:
    s = _local(tmp_path)
    log_training(trained, s)
    promote(settings=s)
    load_model("champion", s)  # a successful load leaves the local champion copy
    return s


def test_registry_unreachable_at_start_serves_local_copy_degraded(trained: TrainResult, tmp_path: Path) -> None:
    _registered(trained, tmp_path)
    bad = _unreachable(tmp_path)
    t0 = time.monotonic()
    lm = load_model("champion", bad)
    assert time.monotonic() - t0 < 60
    assert lm.source == "local-cache" and lm.version == "1"
    app = create_app(settings=_app_settings(), model_loader=lambda: load_model("champion", bad))
    with TestClient(app) as client:
        r = client.get("/readyz")
        assert r.status_code == 200 and r.json()["status"] == "degraded"
        f = client.get("/v1/forecasts/capex_meta")
        assert f.status_code == 200 and f.json()["model"]["version"] == "1"


def test_registry_unreachable_midway_keeps_serving(trained: TrainResult, tmp_path: Path) -> None:
    good = _registered(trained, tmp_path)
    target = {"settings": good}
    app = create_app(settings=_app_settings(), model_loader=lambda: load_model("champion", target["settings"]))
    with TestClient(app) as client:
        assert client.get("/readyz").json()["status"] == "ready"
        target["settings"] = _unreachable(tmp_path)  # the tracking server goes down
        r = client.post("/v1/admin/reload", headers={"X-API-Key": ADMIN})
        assert r.status_code == 200
        assert client.get("/readyz").json()["status"] == "degraded"
        assert client.get("/v1/forecasts/capex_meta").status_code == 200


def _artifact_manifests(models_dir: Path) -> list[Path]:
    return sorted(models_dir.rglob("forecaster/manifest.json"), key=lambda p: p.stat().st_mtime)


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_bad_model_artifact_is_rejected_and_old_champion_keeps_serving(
    trained: TrainResult, tmp_path: Path, damage: str
) -> None:
    s = _registered(trained, tmp_path)
    app = create_app(settings=_app_settings(), model_loader=lambda: load_model("champion", s))
    with TestClient(app) as client:
        before = client.get("/v1/forecasts/capex_meta").json()
        log_training(trained, s)  # version 2 ...
        manifest = _artifact_manifests(tmp_path / "models")[-1]
        if damage == "corrupt":
            manifest.write_text("{not json")
        else:
            for p in manifest.parent.glob("*.parquet"):
                p.unlink()
        with pytest.raises(ModelUnavailableError, match="version 2"):
            load_model("challenger", s)
        # `promote` would refuse an unreadable challenger; point the alias at it directly, as an operator might
        set_alias("champion", "2", s)
        r = client.post("/v1/admin/reload", headers={"X-API-Key": ADMIN})
        assert r.status_code == 503
        assert "version 2" in r.json()["error"]["message"]
        assert client.get("/readyz").json()["model_version"] == "1"
        assert client.get("/v1/forecasts/capex_meta").json() == before


@pytest.mark.slow
def test_retrain_killed_midway_leaves_champion_and_data_alone(trained: TrainResult, tmp_path: Path) -> None:
    s = _registered(trained, tmp_path)
    store = s.store_dir
    store.mkdir(parents=True, exist_ok=True)
    (tmp_path / "obs.csv").write_text("date,value\n2026-04-01,21000\n")
    from pipelines.store import LocalStore, ingest

    ingest(LocalStore(store), "capex_meta", tmp_path / "obs.csv", REAL_DATA_DIR, 100_000)
    data_before = digest_tree(REAL_DATA_DIR)
    store_before = digest_tree(store)
    versions_before = list_models(s)
    env = {**os.environ, "CHIPCAST_STATE_DIR": str(s.state_dir), "CHIPCAST_MODELS_DIR": str(s.models_dir)}
    for delay in (4.0, 9.0):  # once while backtesting, once later (backtests or logging)
        proc = subprocess.Popen([sys.executable, "-m", "service.cli", "train"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    after = list_models(s)
    champion = [v for v in after if "champion" in v["aliases"]]
    assert [v["version"] for v in champion] == ["1"]
    assert len(after) == len(versions_before)  # the full train never got as far as registering
    assert load_model("champion", s).version == "1"
    assert digest_tree(REAL_DATA_DIR) == data_before and digest_tree(store) == store_before
    json.dumps(after)  # registry still answers with well-formed data
