"""One small executor for on-demand model work, with admission control.

Anything that can fit or simulate while a request waits (a forecast at a horizon or level set that was not
precomputed, a fan chart, a capex scenario) runs here, on ``workers`` dedicated threads, and nowhere else.
Health, readiness and metrics are ``async`` and never wait for these threads; the other sync routes use
Starlette's thread pool, which model work no longer fills.

Admission is decided before any work starts: at most ``workers`` jobs run and ``queue`` wait. A job carries
a ``cost`` in slots (default 1); one that does not fit is refused at once with a 503 ``ApiError`` carrying
``Retry-After`` (an estimate from the recent run time per slot), so a flood of expensive requests costs the
server almost nothing beyond what it already committed to. A job larger than the whole capacity is admitted
only when the executor is idle.

    compute = Compute(workers=1, queue=8)
    frame = await compute.run(fit, series_id, horizon, cost=1)   # from a coroutine
    png = compute.run_blocking(render)                            # from a worker thread (sync route)

A job keeps running if its request goes away (threads cannot be cancelled); its slot is released when it
finishes.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from service.errors import ApiError

T = TypeVar("T")

#: Retry-After never promises less than this or more than this (seconds)
MIN_RETRY_AFTER, MAX_RETRY_AFTER = 1, 120


class Compute:
    """A bounded executor: ``workers`` threads, ``queue`` waiting slots, immediate 503 beyond."""

    def __init__(self, workers: int = 1, queue: int = 8, name: str = "chipcast-compute") -> None:
        if workers < 1 or queue < 0:
            raise ValueError(f"need workers >= 1 and queue >= 0, got workers={workers}, queue={queue}")
        self.workers = workers
        self.queue = queue
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._local = threading.local()
        self._pending = 0  # slots admitted and not yet finished (running + waiting)
        self._seconds_per_slot = 1.0  # moving average, for Retry-After
        self.refused = 0

    @property
    def capacity(self) -> int:
        return self.workers + self.queue

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def retry_after(self) -> int:
        """Seconds until the work admitted now should be done: pending slots x time per slot / workers."""
        with self._lock:
            wait = self._pending * self._seconds_per_slot / self.workers
        return min(MAX_RETRY_AFTER, max(MIN_RETRY_AFTER, math.ceil(wait)))

    def _admit(self, cost: int) -> None:
        if cost < 1:
            raise ValueError(f"cost must be >= 1, got {cost}")
        with self._lock:
            if self._pending and self._pending + cost > self.capacity:
                self.refused += 1
                busy = True
            else:
                self._pending += cost
                busy = False
        if busy:
            retry = self.retry_after()
            raise ApiError(503, "busy", f"the server is busy with other computations; retry in {retry} s",
                           {"retry_after_seconds": retry}, headers={"Retry-After": str(retry)})

    def _release(self, cost: int, seconds: float | None = None) -> None:
        with self._lock:
            self._pending -= cost
            if seconds is not None:
                self._seconds_per_slot = 0.8 * self._seconds_per_slot + 0.2 * seconds / cost

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...], cost: int) -> T:
        started = time.perf_counter()
        self._local.inside = True
        try:
            return fn(*args)
        finally:
            self._local.inside = False
            self._release(cost, time.perf_counter() - started)

    def _submit(self, fn: Callable[..., T], args: tuple[Any, ...], cost: int) -> Future[T]:
        self._admit(cost)
        try:
            future = self._executor.submit(self._call, fn, args, cost)
        except BaseException:
            self._release(cost)
            raise
        # a job cancelled before it started (its only waiter went away) never reaches _call: free its slots here
        future.add_done_callback(lambda f: self._release(cost) if f.cancelled() else None)
        return future

    async def run(self, fn: Callable[..., T], *args: Any, cost: int = 1) -> T:
        """Run ``fn(*args)`` on a compute thread and await it; 503 ``ApiError`` if it cannot be admitted."""
        return await asyncio.wrap_future(self._submit(fn, args, cost))

    def run_blocking(self, fn: Callable[..., T], *args: Any, cost: int = 1) -> T:
        """The same from a thread that may block (a sync route): admission first, then wait for the result.

        Called from one of this executor's own threads (work nested in work already admitted), it runs
        ``fn`` right there: waiting for a second slot from inside the first could deadlock.
        """
        if getattr(self._local, "inside", False):
            return fn(*args)
        return self._submit(fn, args, cost).result()

    def shutdown(self) -> None:
        """Stop taking work; queued jobs are cancelled, running ones finish in the background."""
        self._executor.shutdown(wait=False, cancel_futures=True)
