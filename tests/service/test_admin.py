"""Reload and background retrain: swaps are atomic and failures never take the old model away."""

from __future__ import annotations

import threading
import time
from typing import Any

from fastapi.testclient import TestClient

from forecasting.serving import LoadedModel
from forecasting.train import TrainResult
from tests.service.conftest import AppFactory, make_loaded


class ModelUnavailableError(RuntimeError):
    """Stands in for forecasting.tracking's error (matched by name, so the service never imports mlflow)."""


class SwitchableLoader:
    """Serves version 1, then whatever the test puts in ``next``; raises ``fail`` if set."""

    def __init__(self, trained: TrainResult) -> None:
        self.trained = trained
        self.next = make_loaded(trained, "1")
        self.fail: Exception | None = None
        self.calls = 0

    def __call__(self) -> LoadedModel:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return self.next


def _wait_for(client: TestClient, job_id: str, headers: dict[str, str], states: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body = client.get(f"/v1/admin/jobs/{job_id}", headers=headers).json()
        if body["status"] in states:
            return body
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} never reached {states}")


def test_reload_swaps_in_the_new_champion(make_app: AppFactory, trained: TrainResult,
                                          admin_headers: dict[str, str]) -> None:
    loader = SwitchableLoader(trained)
    with TestClient(make_app(model_loader=loader)) as c:
        assert c.get("/v1/forecasts/capex_meta.png").status_code == 200
        loader.next = make_loaded(trained, "2")
        r = c.post("/v1/admin/reload", headers=admin_headers)
        assert r.status_code == 200
        assert r.json()["status"] == "reloaded"
        assert r.json()["previous_version"] == "1" and r.json()["model"]["version"] == "2"
        assert c.get("/readyz").json()["model_version"] == "2"
        assert c.get("/v1/forecasts/capex_meta").json()["model"]["version"] == "2"
        assert 'chipcast_model_info{alias="champion",run_id="run-2",source="registry",version="2"} 1.0' in \
            c.get("/metrics").text
        assert len(c.app.state.runtime.charts) == 0  # type: ignore[attr-defined]


def test_failed_reload_keeps_the_old_model(make_app: AppFactory, trained: TrainResult,
                                           admin_headers: dict[str, str]) -> None:
    loader = SwitchableLoader(trained)
    with TestClient(make_app(model_loader=loader)) as c:
        loader.fail = ModelUnavailableError("no model version with alias 'champion'")
        r = c.post("/v1/admin/reload", headers=admin_headers)
        assert r.status_code == 503
        err = r.json()["error"]
        assert err["code"] == "reload_failed"
        assert "no model version with alias 'champion'" in err["message"]
        assert err["detail"] == {"serving_version": "1"}
        assert c.get("/readyz").json()["model_version"] == "1"
        assert c.get("/v1/forecasts/capex_meta").status_code == 200

        # an arbitrary exception may carry a URI with credentials: only its type is reported
        loader.fail = OSError("https://user:secret@tracking.example failed")
        r = c.post("/v1/admin/reload", headers=admin_headers)
        assert r.status_code == 503 and "secret" not in r.text and "OSError" in r.text
        assert c.get("/readyz").json()["model_version"] == "1"


def test_retrain_job_lifecycle(make_app: AppFactory, trained: TrainResult, admin_headers: dict[str, str]) -> None:
    loader = SwitchableLoader(trained)
    release = threading.Event()
    started = threading.Event()

    def retrainer() -> None:
        started.set()
        assert release.wait(10)
        loader.next = make_loaded(trained, "7")

    with TestClient(make_app(model_loader=loader, retrainer=retrainer)) as c:
        r = c.post("/v1/admin/retrain", headers=admin_headers)
        assert r.status_code == 202
        job = r.json()
        assert job["kind"] == "retrain" and job["status"] in ("queued", "running")
        assert started.wait(5)
        running = _wait_for(c, job["id"], admin_headers, {"running"})
        assert running["started_at"] is not None and running["finished_at"] is None
        # one retrain at a time
        busy = c.post("/v1/admin/retrain", headers=admin_headers)
        assert busy.status_code == 409 and busy.json()["error"]["detail"] == {"job_id": job["id"]}
        release.set()
        done = _wait_for(c, job["id"], admin_headers, {"succeeded", "failed"})
        assert done["status"] == "succeeded" and done["error"] is None
        assert done["model_version"] == "7"
        assert c.get("/readyz").json()["model_version"] == "7"


def test_failed_retrain_reports_the_error_and_keeps_serving(make_app: AppFactory,
                                                            admin_headers: dict[str, str]) -> None:
    def retrainer() -> None:
        raise RuntimeError("not enough data for micron_revenue")

    with TestClient(make_app(retrainer=retrainer)) as c:
        job = c.post("/v1/admin/retrain", headers=admin_headers).json()
        done = _wait_for(c, job["id"], admin_headers, {"succeeded", "failed"})
        assert done["status"] == "failed"
        assert done["error"] == "not enough data for micron_revenue"
        assert c.get("/readyz").json()["model_version"] == "1"
        # a finished job frees the slot
        assert c.post("/v1/admin/retrain", headers=admin_headers).status_code == 202


def test_retrain_that_cannot_reload_still_succeeds(make_app: AppFactory, trained: TrainResult,
                                                   admin_headers: dict[str, str]) -> None:
    loader = SwitchableLoader(trained)

    def retrainer() -> None:
        loader.fail = ModelUnavailableError("registry unreachable")

    with TestClient(make_app(model_loader=loader, retrainer=retrainer)) as c:
        job = c.post("/v1/admin/retrain", headers=admin_headers).json()
        done = _wait_for(c, job["id"], admin_headers, {"succeeded", "failed"})
        assert done["status"] == "succeeded"
        assert "registry unreachable" in done["reload_error"]
        assert c.get("/readyz").json()["model_version"] == "1"


def test_unknown_job_is_404(client: TestClient, admin_headers: dict[str, str]) -> None:
    r = client.get("/v1/admin/jobs/doesnotexist", headers=admin_headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_job"
