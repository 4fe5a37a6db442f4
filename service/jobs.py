"""Background retraining: one job at a time in a thread, with a status clients can poll.

Retraining takes minutes and must not block a request or the event loop. Only one runs at a time
because two concurrent trainings would race to register and promote versions, so every job must end as
succeeded or failed, whatever happens to it: one left "queued" or "running" would refuse every later retrain
with 409 until the process restarts. A thread that cannot start, and a ``BaseException`` in the work
(``KeyboardInterrupt``, ``SystemExit``: recorded, then re-raised), end the job as failed.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from pipelines.errors import first_line
from service.errors import ApiError

log = logging.getLogger("chipcast.service")

JobStatus = Literal["queued", "running", "succeeded", "failed"]


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    status: JobStatus
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    #: version served after the job (the retrain is followed by a reload of the champion)
    model_version: str | None = None
    reload_error: str | None = None


def _now() -> datetime:
    return datetime.now(UTC)


class JobRegistry:
    """Jobs by id (the newest ``keep`` of them); records are immutable and replaced under a lock."""

    def __init__(self, keep: int = 50) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self.keep = keep

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _update(self, job_id: str, **changes: object) -> None:
        with self._lock:
            self._jobs[job_id] = replace(self._jobs[job_id], **changes)  # type: ignore[arg-type]

    def submit(self, kind: str, work: Callable[[], object], after: Callable[[], str] | None = None) -> Job:
        """Start ``work`` in a daemon thread; ``after`` runs on success and returns the served version.

        Raises a 409 ``ApiError`` if a job is already queued or running.
        """
        with self._lock:
            busy = next((j for j in self._jobs.values() if j.status in ("queued", "running")), None)
            if busy is not None:
                raise ApiError(409, "job_in_progress", f"a {busy.kind} job is already {busy.status}",
                               {"job_id": busy.id})
            job = Job(id=uuid.uuid4().hex, kind=kind, status="queued", created_at=_now())
            self._jobs[job.id] = job
            while len(self._jobs) > self.keep:
                self._jobs.popitem(last=False)
        thread = threading.Thread(target=self._run, args=(job.id, work, after), name=f"chipcast-{kind}-{job.id[:8]}",
                                  daemon=True)
        try:
            thread.start()
        except BaseException as exc:  # RuntimeError "can't start new thread" under a thread or memory limit
            log.exception("job %s could not start", job.id)
            self._update(job.id, status="failed", finished_at=_now(), error=f"could not start: {_first_line(exc)}")
            if not isinstance(exc, Exception):
                raise
            raise ApiError(503, "job_not_started", f"the {kind} job could not be started: {_first_line(exc)}",
                           {"job_id": job.id}) from None
        return job

    def _run(self, job_id: str, work: Callable[[], object], after: Callable[[], str] | None) -> None:
        self._update(job_id, status="running", started_at=_now())
        try:
            work()
        except BaseException as exc:
            log.exception("job %s failed", job_id)
            self._update(job_id, status="failed", finished_at=_now(), error=_first_line(exc))
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt, SystemExit: recorded, then left to do what they are for
            return
        version, reload_error = None, None
        try:
            if after is not None:
                version = after()
        except ApiError as exc:
            reload_error = exc.message
        except BaseException as exc:
            log.exception("reload after job %s failed", job_id)
            reload_error = type(exc).__name__
            if not isinstance(exc, Exception):
                self._update(job_id, status="succeeded", finished_at=_now(), reload_error=reload_error)
                raise
        self._update(job_id, status="succeeded", finished_at=_now(), model_version=version,
                     reload_error=reload_error)


def _first_line(exc: BaseException) -> str:
    """What a job record says about an error: its first line (500 characters at most), else its class."""
    return first_line(exc) or type(exc).__name__
