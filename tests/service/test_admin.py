"""Reload and background retrain: swaps are atomic and failures never take the old model away."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any, ClassVar

import polars as pl
import pytest
from fastapi.testclient import TestClient

import service.jobs as jobs_module
from forecasting.serving import LoadedModel
from forecasting.train import TrainResult
from pipelines.errors import DataValidationError
from service.errors import ApiError
from service.jobs import JobRegistry
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


def test_reload_never_rolls_back_to_the_local_copy(make_app: AppFactory, trained: TrainResult,
                                                    admin_headers: dict[str, str]) -> None:
    """With the registry down, the tracking loader returns the local champion copy (maybe older than what is
    served); reload used to swap it in and answer "reloaded". Now: 503, and the served model stays."""
    loader = SwitchableLoader(trained)
    loader.next = make_loaded(trained, "5")
    with TestClient(make_app(model_loader=loader)) as c:
        ready = c.get("/readyz").json()
        assert (ready["status"], ready["model_version"], ready["source"]) == ("ready", "5", "registry")
        loader.next = make_loaded(trained, "4", source="local-cache")  # what load_model gives with no registry
        r = c.post("/v1/admin/reload", headers=admin_headers)
        assert r.status_code == 503, r.text
        err = r.json()["error"]
        assert err["code"] == "reload_failed" and err["detail"] == {"serving_version": "5"}
        assert "registry is unreachable" in err["message"] and "still serving version 5" in err["message"]
        ready = c.get("/readyz").json()
        assert (ready["status"], ready["model_version"], ready["source"]) == ("ready", "5", "registry")
        assert c.get("/v1/forecasts/capex_meta").json()["model"]["version"] == "5"
        # once the registry answers again, reloading works
        loader.next = make_loaded(trained, "6")
        assert c.post("/v1/admin/reload", headers=admin_headers).json()["model"]["version"] == "6"


def test_the_local_copy_is_taken_when_nothing_is_served(make_app: AppFactory, trained: TrainResult,
                                                        admin_headers: dict[str, str]) -> None:
    """Not a roll back: with no model served (start-up failed), the local copy beats serving nothing."""
    loader = SwitchableLoader(trained)
    loader.fail = ModelUnavailableError("registry unreachable; and no local copy of a champion exists")
    with TestClient(make_app(model_loader=loader)) as c:
        assert c.get("/readyz").status_code == 503
        loader.fail, loader.next = None, make_loaded(trained, "4", source="local-cache")
        r = c.post("/v1/admin/reload", headers=admin_headers)
        assert r.status_code == 200 and r.json()["model"]["version"] == "4"
        assert c.get("/readyz").json()["status"] == "degraded"


def test_reload_reports_a_panel_that_could_not_be_loaded(make_app: AppFactory, trained: TrainResult,
                                                         real_panel: pl.DataFrame,
                                                         admin_headers: dict[str, str]) -> None:
    """A failed panel load during reload was only logged while the reload answered a plain "reloaded"."""
    loader = SwitchableLoader(trained)
    panels: dict[str, Any] = {"fail": None}

    def panel_loader() -> pl.DataFrame:
        if panels["fail"] is not None:
            raise panels["fail"]
        return real_panel

    with TestClient(make_app(model_loader=loader, panel_loader=panel_loader)) as c:
        history = c.get("/v1/series/capex_meta/history").json()
        ok = c.post("/v1/admin/reload", headers=admin_headers).json()
        assert ok["status"] == "reloaded" and ok["panel_error"] is None
        panels["fail"] = DataValidationError("data/raw/capex.csv", 12, "value 'n/a' is not a number")
        loader.next = make_loaded(trained, "2")
        r = c.post("/v1/admin/reload", headers=admin_headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "reloaded" and body["model"]["version"] == "2"  # the model swap is not blocked
        assert body["panel_error"] == "data/raw/capex.csv, line 12: value 'n/a' is not a number"
        assert c.get("/v1/series/capex_meta/history").json() == history  # the previous panel keeps serving
        # an error that is not ours is named by its class only (its text may hold anything)
        panels["fail"] = OSError("/secret/mount: permission denied")
        body = c.post("/v1/admin/reload", headers=admin_headers).json()
        assert body["panel_error"].startswith("OSError while loading the data panel") and "secret" not in str(body)
        panels["fail"] = None
        assert c.post("/v1/admin/reload", headers=admin_headers).json()["panel_error"] is None


class _Thread:
    """Stands in for ``threading.Thread`` in ``service.jobs``: ``start`` raises ``fail``, or runs the target right
    here, keeping what it raises in ``escaped`` (a real thread hands that to ``threading.excepthook``)."""

    fail: ClassVar[BaseException | None] = None
    escaped: ClassVar[list[BaseException]] = []

    def __init__(self, target: Any, args: tuple[Any, ...], **kwargs: Any) -> None:
        self.target, self.args = target, args

    def start(self) -> None:
        if self.fail is not None:
            raise self.fail
        try:
            self.target(*self.args)
        except BaseException as exc:
            self.escaped.append(exc)


@pytest.fixture
def inline_threads(monkeypatch: pytest.MonkeyPatch) -> type[_Thread]:
    monkeypatch.setattr(jobs_module, "threading", SimpleNamespace(Thread=_Thread, Lock=threading.Lock))
    monkeypatch.setattr(_Thread, "fail", None)
    monkeypatch.setattr(_Thread, "escaped", [])
    return _Thread


def test_a_job_whose_thread_cannot_start_ends_failed(inline_threads: type[_Thread]) -> None:
    """It stayed "queued" forever, and every later retrain answered 409."""
    jobs = JobRegistry()
    inline_threads.fail = RuntimeError("can't start new thread")
    with pytest.raises(ApiError) as refused:
        jobs.submit("retrain", lambda: None)
    assert refused.value.status_code == 503 and refused.value.code == "job_not_started"
    failed = jobs.get(refused.value.detail["job_id"])
    assert failed is not None and failed.status == "failed" and failed.finished_at is not None
    assert failed.error == "could not start: can't start new thread"
    inline_threads.fail = None
    assert jobs.submit("retrain", lambda: None).status == "queued"  # the slot is free


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), SystemExit(3)], ids=["KeyboardInterrupt", "SystemExit"])
def test_a_job_interrupted_by_a_base_exception_ends_failed(inline_threads: type[_Thread],
                                                           interrupt: BaseException) -> None:
    """Only Exception was caught: a KeyboardInterrupt or SystemExit left the job "running" for good."""
    jobs = JobRegistry()

    def work() -> None:
        raise interrupt

    job = jobs.submit("retrain", work)
    assert inline_threads.escaped == [interrupt]  # recorded, then re-raised in the job's thread
    done = jobs.get(job.id)
    assert done is not None and done.status == "failed" and done.finished_at is not None
    assert done.error == {"KeyboardInterrupt": "KeyboardInterrupt", "SystemExit": "3"}[type(interrupt).__name__]
    ran: list[int] = []
    after = jobs.submit("retrain", lambda: ran.append(1))  # no 409: the interrupted job does not hold the slot
    assert ran == [1] and getattr(jobs.get(after.id), "status", None) == "succeeded"


def test_retrain_route_answers_503_when_the_job_cannot_start(make_app: AppFactory, admin_headers: dict[str, str],
                                                             inline_threads: type[_Thread]) -> None:
    with TestClient(make_app()) as c:
        inline_threads.fail = RuntimeError("can't start new thread")
        r = c.post("/v1/admin/retrain", headers=admin_headers)
        assert r.status_code == 503 and r.json()["error"]["code"] == "job_not_started"
        job = c.get(f"/v1/admin/jobs/{r.json()['error']['detail']['job_id']}", headers=admin_headers).json()
        assert job["status"] == "failed" and "can't start new thread" in job["error"]
        inline_threads.fail = None
        assert c.post("/v1/admin/retrain", headers=admin_headers).status_code == 202
