"""Faults: the registry goes away or is corrupt, the cache volume is full, loaders race, a run is killed.

Nothing is lost and the service keeps (or starts) serving: every registry failure at start-up falls back to
the local champion copy (``/readyz`` says ``degraded``), the copy is written off the critical path, and an
interrupted run is marked FAILED by the next start.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from forecasting.tracking import (
    ModelUnavailableError,
    TrackingSettings,
    list_models,
    load_model,
    log_training,
    promote,
    set_alias,
)
from forecasting.tracking import cache as champion_cache
from forecasting.train import TrainResult, train
from pipelines.config import PROJECT_ROOT
from service.config import Settings
from service.main import create_app
from tests.conftest import REAL_DATA_DIR, digest_tree

ADMIN = "admin-key-0123456789abcdef"
HEADERS = {"X-API-Key": ADMIN}


@pytest.fixture(scope="module")
def fault_run() -> TrainResult:
    """The targets of the forecasting tests' ``small_train``: a worker that runs both evaluates them once."""
    return train(["capex_meta", "wsts_memory_sales_annual"], data_dir=REAL_DATA_DIR)


def _local(tmp_path: Path) -> TrackingSettings:
    return TrackingSettings(state_dir=tmp_path / "state", models_dir=tmp_path / "models")


def _unreachable(tmp_path: Path) -> TrackingSettings:
    """Same state dir (so the same local champion copy), but a tracking server nobody listens on."""
    return TrackingSettings(state_dir=tmp_path / "state", models_dir=tmp_path / "models",
                            mlflow_tracking_uri="http://127.0.0.1:9")


def _app(loader):  # type: ignore[no-untyped-def]
    return create_app(settings=Settings(api_keys_admin=[ADMIN], rate_limit_per_minute=100_000), model_loader=loader)


def _registered(fault_run: TrainResult, tmp_path: Path) -> TrackingSettings:
    s = _local(tmp_path)
    log_training(fault_run, s)
    promote(settings=s)
    load_model("champion", s)  # a successful load leaves the local champion copy ...
    champion_cache.wait()  # ... written in the background
    return s


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_registry_unreachable_at_start_serves_local_copy_degraded(fault_run: TrainResult, tmp_path: Path) -> None:
    _registered(fault_run, tmp_path)
    bad = _unreachable(tmp_path)
    t0 = time.monotonic()
    lm = load_model("champion", bad)
    assert time.monotonic() - t0 < 60
    assert lm.source == "local-cache" and lm.version == "1"
    with TestClient(_app(lambda: load_model("champion", bad))) as client:
        r = client.get("/readyz")
        assert r.status_code == 200 and r.json()["status"] == "degraded"
        f = client.get("/v1/forecasts/capex_meta")
        assert f.status_code == 200 and f.json()["model"]["version"] == "1"


def test_registry_unreachable_midway_keeps_serving(fault_run: TrainResult, tmp_path: Path) -> None:
    good = _registered(fault_run, tmp_path)
    target = {"settings": good}
    with TestClient(_app(lambda: load_model("champion", target["settings"]))) as client:
        assert client.get("/readyz").json()["status"] == "ready"
        serving = client.get("/readyz").json()["model_version"]
        target["settings"] = _unreachable(tmp_path)  # the tracking server goes down
        r = client.post("/v1/admin/reload", headers=HEADERS)
        # the loader falls back to the local copy, but a reload must not swap it in over a served model
        err = r.json()["error"]
        assert r.status_code == 503 and err["code"] == "reload_failed", r.text
        assert "unreachable" in err["message"] and err["detail"]["serving_version"] == serving
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and ready["model_version"] == serving
        assert client.get("/v1/forecasts/capex_meta").status_code == 200


#: a server restart in a fresh process (MLflow caches its sqlite engine per process, so a database that
#: goes bad under a running process fails differently from one a new process opens)
RESTART = """
import json, logging, sys
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
from fastapi.testclient import TestClient
from forecasting.tracking import TrackingSettings, load_model
from service.config import Settings
from service.main import create_app
s = TrackingSettings(state_dir=sys.argv[1], models_dir=sys.argv[2])
app = create_app(settings=Settings(rate_limit_per_minute=100_000), model_loader=lambda: load_model("champion", s))
with TestClient(app) as client:
    r = client.get("/readyz")
    f = client.get("/v1/forecasts/capex_meta")
    print(json.dumps({"status": r.status_code, "readyz": r.json(), "forecast": f.status_code}))
"""


def _restart(s: TrackingSettings) -> tuple[dict, str]:
    done = subprocess.run([sys.executable, "-c", RESTART, str(s.state_dir), str(s.models_dir)],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_corrupt_tracking_db_at_restart_serves_local_copy_degraded(fault_run: TrainResult, tmp_path: Path) -> None:
    """A sqlite DatabaseError raised while a new process opens the store used to bypass the fallback."""
    s = _registered(fault_run, tmp_path)
    (s.state_dir / "mlflow.db").write_bytes(b"this is not a sqlite database" * 100)
    got, log = _restart(s)
    assert got["status"] == 200, got
    assert got["readyz"]["status"] == "degraded" and got["readyz"]["model_version"] == "1"
    assert got["forecast"] == 200
    # the server log has the error itself, not only its class
    assert "model registry failed: DatabaseError" in log and "file is not a database" in log


def _artifact_manifests(models_dir: Path) -> list[Path]:
    return sorted(models_dir.rglob("forecaster/manifest.json"), key=lambda p: p.stat().st_mtime)


@pytest.mark.parametrize("damage", ["corrupt", "missing"])
def test_bad_model_artifact_is_rejected_and_old_champion_keeps_serving(
    fault_run: TrainResult, tmp_path: Path, damage: str
) -> None:
    s = _registered(fault_run, tmp_path)
    with TestClient(_app(lambda: load_model("champion", s))) as client:
        before = client.get("/v1/forecasts/capex_meta").json()
        log_training(fault_run, s)  # version 2 ...
        manifest = _artifact_manifests(tmp_path / "models")[-1]
        if damage == "corrupt":
            manifest.write_text("{not json")
        else:
            for p in manifest.parent.rglob("*.parquet"):
                p.unlink()
        with pytest.raises(ModelUnavailableError, match="version 2"):
            load_model("challenger", s)
        # `promote` would refuse an unreadable challenger; point the alias at it directly, as an operator might
        set_alias("champion", "2", s)
        r = client.post("/v1/admin/reload", headers=HEADERS)
        assert r.status_code == 503
        assert "version 2" in r.json()["error"]["message"]
        assert client.get("/readyz").json()["model_version"] == "1"
        assert client.get("/v1/forecasts/capex_meta").json() == before


#: one server process reloading ``n`` times; prints how many reloads failed
RELOADER = """
import sys
from forecasting.tracking import TrackingSettings, load_model
from forecasting.tracking import cache
s = TrackingSettings(state_dir=sys.argv[1], models_dir=sys.argv[2])
failed = []
for _ in range(int(sys.argv[3])):
    try:
        assert load_model("champion", s).source == "registry"
    except Exception as exc:
        failed.append(type(exc).__name__)
cache.wait()
print(len(failed), ",".join(failed))
"""


@pytest.mark.slow
def test_servers_reloading_together_against_one_state_dir_never_fail(
    fault_run: TrainResult, tmp_path: Path
) -> None:
    """Three server processes sharing a state dir (the old fixed-name copy failed ~1 in 5 reloads here)."""
    s = _registered(fault_run, tmp_path)
    args = [str(s.state_dir), str(s.models_dir), "30"]
    procs = [subprocess.Popen([sys.executable, "-c", RELOADER, *args], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=300) for p in procs]
    for (out, err), p in zip(outs, procs, strict=True):
        assert p.returncode == 0, err[-2000:]
        assert out.split()[0] == "0", f"reloads failed: {out} {err[-2000:]}"
    # and threads in one process
    errors: list[BaseException] = []

    def server() -> None:
        for _ in range(10):
            try:
                load_model("champion", _local(tmp_path))
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=server) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    champion_cache.wait()
    assert errors == []
    forecaster, info = champion_cache.read(s.champion_cache)
    assert info["version"] == "1" and set(forecaster.models) == set(fault_run.forecaster.models)
    left = sorted(p.name for p in s.champion_cache.iterdir())
    assert left == [".lock", "current", Path(os.readlink(s.champion_cache / "current")).name]


@contextmanager
def _tiny_volume(path: Path, options: str) -> Iterator[None]:
    """A 16 kB tmpfs (full as soon as a model is copied) or a read-only one mounted at ``path`` (root only)."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True)


@pytest.mark.parametrize("options", ["size=16k", "ro,size=1m"], ids=["full", "read-only"])
def test_champion_cache_volume_full_or_read_only_never_blocks_a_reload(
    fault_run: TrainResult, tmp_path: Path, options: str, caplog: pytest.LogCaptureFixture
) -> None:
    s = _local(tmp_path)
    log_training(fault_run, s)
    promote(settings=s)
    with _tiny_volume(s.champion_cache, options), caplog.at_level(logging.WARNING, logger="chipcast.tracking"), \
            TestClient(_app(lambda: load_model("champion", s))) as client:
        assert client.get("/readyz").json()["status"] == "ready"
        log_training(fault_run, s)
        assert promote(settings=s).promoted
        r = client.post("/v1/admin/reload", headers=HEADERS)
        assert r.status_code == 200, r.text
        assert r.json()["model"]["version"] == "2"
        assert client.get("/v1/forecasts/capex_meta").json()["model"]["version"] == "2"
        champion_cache.wait()
        assert not [p for p in s.champion_cache.iterdir() if p.name.startswith(".tmp-")]  # nothing half-written
    assert "could not refresh the local champion copy" in caplog.text


def test_restart_after_a_killed_cache_writer_is_ready(fault_run: TrainResult, tmp_path: Path) -> None:
    """Leftovers of a writer killed mid-copy (and of the old fixed-name layout) never stop a restart."""
    s = _registered(fault_run, tmp_path)
    dead = _dead_pid()
    junk = s.champion_cache / f".tmp-{dead}-abandoned"
    junk.mkdir()
    (junk / "manifest.json").write_text("{half written")
    legacy = s.state_dir / "champion_cache.tmp"
    legacy.mkdir()
    (legacy / "manifest.json").write_text("{half written")
    with TestClient(_app(lambda: load_model("champion", s))) as client:
        assert client.get("/readyz").json()["status"] == "ready"
    champion_cache.wait()
    assert not junk.exists()  # removed by the next successful copy
    assert champion_cache.read(s.champion_cache)[1]["version"] == "1"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a train and its statsforecast pool workers, as a supervisor stopping its process group does
    (killing only the parent leaves the idle workers behind, ~300 MB each, on the CI machine too)."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _running_runs(client: MlflowClient, parents_only: bool = False) -> list[str]:
    exp = client.get_experiment_by_name("chipcast")
    if exp is None:
        return []
    runs = client.search_runs([exp.experiment_id], "attributes.status = 'RUNNING'")
    # a per-target child run finishes within milliseconds; only the parent stays RUNNING while logging
    return [r.info.run_id for r in runs if not (parents_only and "mlflow.parentRunId" in r.data.tags)]


@pytest.mark.slow
def test_run_killed_while_logging_is_marked_failed_by_the_next_start(fault_run: TrainResult, tmp_path: Path) -> None:
    s = _local(tmp_path)
    log_training(fault_run, s)
    promote(settings=s)
    env = {**os.environ, "CHIPCAST_STATE_DIR": str(s.state_dir), "CHIPCAST_MODELS_DIR": str(s.models_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "service.cli", "train", "--series", "wsts_memory_sales_annual"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    client = MlflowClient(s.tracking_uri)
    deadline = time.monotonic() + 120
    running: list[str] = []
    try:
        while not running and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
            running = _running_runs(client, parents_only=True)
        assert running, "the train run never showed up as RUNNING"
        _kill_group(proc)
    finally:
        _kill_group(proc)
        proc.wait(timeout=30)
    assert client.get_run(running[0]).info.status == "RUNNING"  # what a SIGKILL leaves behind
    scratch = [p for p in s.scratch_root.iterdir() if p.name.startswith(f"chipcast-train-{proc.pid}-")]
    assert scratch, "the killed run had a scratch directory under the state dir"

    with TestClient(_app(lambda: load_model("champion", s))) as api:  # the next start
        assert api.get("/readyz").json()["status"] == "ready"
        deadline = time.monotonic() + 30
        while _running_runs(client) and time.monotonic() < deadline:
            time.sleep(0.2)
    run = client.get_run(running[0])
    assert run.info.status == "FAILED"
    assert "marked FAILED" in run.data.tags["chipcast.interrupted"]
    assert not any(p.exists() for p in scratch)
    assert [v["version"] for v in list_models(s) if "champion" in v["aliases"]] == ["1"]


@pytest.mark.slow
def test_retrain_killed_midway_leaves_champion_and_data_alone(fault_run: TrainResult, tmp_path: Path) -> None:
    s = _registered(fault_run, tmp_path)
    store = s.store_dir
    store.mkdir(parents=True, exist_ok=True)
    (tmp_path / "obs.csv").write_text("date,value\n2026-04-01,31000\n")
    from pipelines.store import LocalStore, ingest

    ingest(LocalStore(store), "capex_meta", tmp_path / "obs.csv", REAL_DATA_DIR, 100_000)
    data_before = digest_tree(REAL_DATA_DIR)
    store_before = digest_tree(store)
    versions_before = list_models(s)
    env = {**os.environ, "CHIPCAST_STATE_DIR": str(s.state_dir), "CHIPCAST_MODELS_DIR": str(s.models_dir)}
    for delay in (4.0, 9.0):  # once while evaluating, once later
        proc = subprocess.Popen([sys.executable, "-m", "service.cli", "train"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        _kill_group(proc)
        proc.wait(timeout=30)
    after = list_models(s)
    assert [v["version"] for v in after if "champion" in v["aliases"]] == ["1"]
    assert len(after) == len(versions_before)  # the full train never got as far as registering
    assert load_model("champion", s).version == "1"
    assert digest_tree(REAL_DATA_DIR) == data_before and digest_tree(store) == store_before
