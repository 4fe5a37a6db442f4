"""What the running service holds: the champion and the panel it serves, swapped as one reference.

Readers take ``holder.current`` once per request and use that snapshot throughout, so a reload in the
middle of a request can never mix two models (or a model with another model's chart cache).

A reload never rolls back: the model loader falls back to the local copy of the last champion when the
registry cannot be reached (right at start-up, where serving that copy beats serving nothing), but a reload
that gets that copy while a model is being served refuses with 503 and keeps it. A panel that cannot be
reloaded keeps the previous panel serving beside the new model, and the reload response says so.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

import polars as pl
from starlette.concurrency import run_in_threadpool

from forecasting.serving import LOCAL_CACHE, LoadedModel
from pipelines.errors import DataValidationError, StoreError, first_line
from service.compute import Compute
from service.errors import ApiError

log = logging.getLogger("chipcast.service")

ModelLoader = Callable[[], LoadedModel]
PanelLoader = Callable[[], pl.DataFrame]
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class Serving:
    """One consistent view: the model (or None), the panel (or None) and when they were loaded."""

    model: LoadedModel | None
    panel: pl.DataFrame | None
    loaded_at: datetime
    load_error: str | None = None
    #: why the last panel load failed (the panel served, if any, is an earlier one); None when it succeeded
    panel_error: str | None = None


def describe_load_error(exc: Exception) -> str:
    """A message safe to return to an admin: the registry's own error text, else only the error type.

    Arbitrary exceptions can carry tracking URIs with credentials in them; only our own
    ``ModelUnavailableError`` (and its subclass ``RegistryUnreachableError``) is written for humans, with
    credentials removed (``forecasting.tracking.registry.redact``). The full detail of any other error is
    logged by the tracking code where it happens.
    """
    if any(c.__name__ == "ModelUnavailableError" for c in type(exc).__mro__):
        return first_line(exc) or "no champion model available"
    return f"{type(exc).__name__} while loading the champion (details in the server log)"


def describe_panel_error(exc: Exception) -> str:
    """What an admin is told about a failed panel load: our own data errors name the file, line and problem
    (they are written for people); anything else only its type, the traceback is in the server log."""
    if isinstance(exc, DataValidationError | StoreError):
        return first_line(exc) or type(exc).__name__
    return f"{type(exc).__name__} while loading the data panel (details in the server log)"


class ModelHolder:
    """Loads through injected callables and swaps the serving snapshot atomically under a lock."""

    def __init__(
        self,
        model_loader: ModelLoader,
        panel_loader: PanelLoader,
        on_swap: Callable[[Serving], None] | None = None,
    ) -> None:
        self._model_loader = model_loader
        self._panel_loader = panel_loader
        self._on_swap = on_swap
        self._lock = threading.Lock()
        self._current = Serving(None, None, datetime.now(UTC))

    @property
    def current(self) -> Serving:
        return self._current

    def _load_panel(self) -> tuple[pl.DataFrame | None, str | None]:
        """The panel, or None and why not (logged with its traceback here)."""
        try:
            return self._panel_loader(), None
        except Exception as exc:
            log.exception("could not load the data panel; without an earlier one, catalog and history routes "
                          "will answer 503")
            return None, describe_panel_error(exc)

    def _swap(self, serving: Serving) -> None:
        self._current = serving
        if self._on_swap is not None:
            self._on_swap(serving)

    def start(self) -> Serving:
        """Load once at startup; a failure leaves the service up (not ready) instead of crashing it."""
        with self._lock:
            panel, panel_error = self._load_panel()
            try:
                model: LoadedModel | None = self._model_loader()
                error = None
            except Exception as exc:
                log.warning("no champion model loaded at startup: %s", describe_load_error(exc))
                model, error = None, describe_load_error(exc)
            self._swap(Serving(model, panel, datetime.now(UTC), error, panel_error))
            return self._current

    def reload(self) -> Serving:
        """Load the current champion and swap it in; on failure keep serving the old one and say so (503).

        The registry being unreachable is a failure here, even though the loader then returns the local copy
        of the last champion: that copy may be older than the model being served, and a reload must never
        roll back. A panel that fails to load does not stop the model swap: the previous panel keeps serving
        and ``Serving.panel_error`` says why (the reload response reports it).
        """
        with self._lock:
            old = self._current
            serving_version = old.model.version if old.model else None
            try:
                model = self._model_loader()
            except Exception as exc:
                log.warning("reload failed, still serving %s: %s", serving_version or "no model",
                            describe_load_error(exc))
                raise ApiError(
                    503,
                    "reload_failed",
                    f"could not load the champion: {describe_load_error(exc)}",
                    {"serving_version": serving_version},
                ) from None
            if model.source == LOCAL_CACHE and old.model is not None:
                log.warning("reload refused, still serving %s: the registry is unreachable (the loader fell back "
                            "to the local copy of version %s)", serving_version, model.version)
                raise ApiError(
                    503,
                    "reload_failed",
                    f"could not load the champion: the model registry is unreachable; still serving version "
                    f"{serving_version} (the local copy of the last champion, version {model.version}, is only "
                    "used when nothing is served)",
                    {"serving_version": serving_version},
                )
            panel, panel_error = self._load_panel()
            if panel_error is not None:
                log.warning("reloaded the model but not the panel; the previous panel keeps serving: %s",
                            panel_error)
            self._swap(Serving(model, panel if panel is not None else old.panel, datetime.now(UTC),
                               panel_error=panel_error))
            return self._current


def _default_sizeof(value: object) -> int:
    return len(value) if isinstance(value, bytes | bytearray | memoryview) else 0


class ResultCache(Generic[K, V]):
    """The most recently used results by key, bounded by count and by bytes (least recently used go first).

    ``sizeof(value)`` says how many bytes a value holds (default: ``len`` of bytes values, 0 otherwise, so other
    values are bounded by count only); a value larger than ``max_bytes`` is returned but not kept. Sync callers
    use :meth:`get_or_compute` (two concurrent misses both compute; the second result wins, harmless for
    deterministic results). Async callers use :meth:`fetch`, which runs a miss on the compute executor, once:
    concurrent misses on one key wait for the same computation.

    :meth:`clear` (called when the served model or panel is swapped) starts a new generation: a computation
    that began before it is returned to its waiters but never stored, and later misses never join it, so a
    result made from the old model or panel cannot outlive the swap.
    """

    def __init__(self, max_entries: int = 128, max_bytes: int | None = None,
                 sizeof: Callable[[V], int] | None = None, executor: Compute | None = None) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._sizes: dict[K, int] = {}
        self._bytes = 0
        self._lock = threading.Lock()
        self._inflight: dict[K, asyncio.Future[V]] = {}
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._sizeof: Callable[[V], int] = sizeof or _default_sizeof  # type: ignore[assignment]
        self.executor = executor
        self._generation = 0

    @property
    def generation(self) -> int:
        """Bumped by every :meth:`clear`; pass the value read before computing to :meth:`put`."""
        return self._generation

    def get(self, key: K) -> V | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def put(self, key: K, value: V, generation: int | None = None) -> None:
        """Keep ``value``; with ``generation``, only if the cache was not cleared since that generation."""
        size = self._sizeof(value)
        if self.max_bytes is not None and size > self.max_bytes:
            return
        with self._lock:
            if generation is not None and generation != self._generation:
                return  # computed against what a swap replaced
            if key in self._items:
                self._bytes -= self._sizes[key]
            self._items[key] = value
            self._items.move_to_end(key)
            self._sizes[key] = size
            self._bytes += size
            while len(self._items) > self.max_entries or (self.max_bytes is not None and self._bytes > self.max_bytes):
                old, _ = self._items.popitem(last=False)
                self._bytes -= self._sizes.pop(old)

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> V:
        hit = self.get(key)
        if hit is not None:
            return hit
        generation = self._generation
        value = compute()
        self.put(key, value, generation)
        return value

    async def fetch(self, key: K, compute: Callable[[], V], on_demand: bool = True, cost: int = 1) -> V:
        """The cached value, or ``compute()`` run once off the event loop.

        ``on_demand`` work (anything that may fit or simulate) runs on the compute executor, which answers a 503
        ``ApiError`` when full; other work (reading and summarising data) runs in Starlette's thread pool.
        """
        hit = self.get(key)
        if hit is not None:
            return hit
        task = self._inflight.get(key)
        if task is None:
            executor = self.executor if on_demand else None
            task = asyncio.ensure_future(self._produce(key, compute, executor, cost, self._generation))
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._settle(key, t))
        # shielded: a caller that goes away does not cancel a computation others may be waiting for
        return await asyncio.shield(task)

    async def _produce(self, key: K, compute: Callable[[], V], executor: Compute | None, cost: int,
                       generation: int) -> V:
        value = await executor.run(compute, cost=cost) if executor is not None else await run_in_threadpool(compute)
        self.put(key, value, generation)
        return value

    def _settle(self, key: K, task: asyncio.Future[V]) -> None:
        if self._inflight.get(key) is task:  # a clear() may have let a newer computation take the key
            self._inflight.pop(key, None)  # pop, not del: clear() may run on a reload's thread in between
        if not task.cancelled():
            task.exception()  # retrieved here, so an error nobody waited for is not reported as lost

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._sizes.clear()
            self._bytes = 0
            self._generation += 1
            # computations under way keep their waiters; later misses start afresh (dict ops are atomic: clear()
            # runs on a worker thread during a reload, the in-flight map is otherwise used on the event loop)
            self._inflight.clear()

    @property
    def nbytes(self) -> int:
        with self._lock:
            return self._bytes

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class ChartCache:
    """PNG bytes per (model version, run id, series), LRU-bounded: a chart is drawn once per model, not per poll.

    Drawing runs on the compute executor (admission control, 503 when full) and one chart at a time, because
    matplotlib's pyplot keeps global figure state. ``get_or_render`` blocks: call it from a worker thread.
    """

    def __init__(self, max_entries: int = 64, max_bytes: int | None = None, executor: Compute | None = None) -> None:
        self._items: ResultCache[tuple[str, str, str], bytes] = ResultCache(max_entries, max_bytes)
        self._render_lock = threading.Lock()
        self._executor = executor

    @property
    def max_entries(self) -> int:
        return self._items.max_entries

    def get_or_render(self, key: tuple[str, str, str], render: Callable[[], bytes]) -> bytes:
        hit = self._items.get(key)
        if hit is not None:
            return hit

        def draw() -> bytes:
            with self._render_lock:
                again = self._items.get(key)
                if again is not None:
                    return again
                generation = self._items.generation
                png = render()
            self._items.put(key, png, generation)
            return png

        return self._executor.run_blocking(draw) if self._executor is not None else draw()

    def clear(self) -> None:
        self._items.clear()

    @property
    def nbytes(self) -> int:
        return self._items.nbytes

    def __len__(self) -> int:
        return len(self._items)
