"""Background retraining: one job at a time in a thread, with a status clients can poll.

Retraining takes minutes and must not block a request or the event loop. Only one runs at a time
because two concurrent trainings would race to register and promote versions.
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
        thread.start()
        return job

    def _run(self, job_id: str, work: Callable[[], object], after: Callable[[], str] | None) -> None:
        self._update(job_id, status="running", started_at=_now())
        try:
            work()
        except Exception as exc:
            log.exception("job %s failed", job_id)
            message = (str(exc).splitlines() or [type(exc).__name__])[0][:500] or type(exc).__name__
            self._update(job_id, status="failed", finished_at=_now(), error=message)
            return
        version, reload_error = None, None
        if after is not None:
            try:
                version = after()
            except ApiError as exc:
                reload_error = exc.message
            except Exception as exc:
                log.exception("reload after job %s failed", job_id)
                reload_error = type(exc).__name__
        self._update(job_id, status="succeeded", finished_at=_now(), model_version=version,
                     reload_error=reload_error)
