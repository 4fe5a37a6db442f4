"""What the running service holds: the champion and the panel it serves, swapped as one reference.

Readers take ``holder.current`` once per request and use that snapshot throughout, so a reload in the
middle of a request can never mix two models (or a model with another model's chart cache).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

import polars as pl

from forecasting.serving import LoadedModel
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


def describe_load_error(exc: Exception) -> str:
    """A message safe to return to an admin: the registry's own error text, else only the error type.

    Arbitrary exceptions can carry tracking URIs with credentials in them; only our own
    ``ModelUnavailableError`` (and its subclass ``RegistryUnreachableError``) is written for humans, with
    credentials removed (``forecasting.tracking.registry.redact``). The full detail of any other error is
    logged by the tracking code where it happens.
    """
    if any(c.__name__ == "ModelUnavailableError" for c in type(exc).__mro__):
        return str(exc).splitlines()[0][:500] if str(exc) else "no champion model available"
    return f"{type(exc).__name__} while loading the champion (details in the server log)"


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

    def _load_panel(self) -> pl.DataFrame | None:
        try:
            return self._panel_loader()
        except Exception:
            log.exception("could not load the data panel; catalog and history routes will answer 503")
            return None

    def _swap(self, serving: Serving) -> None:
        self._current = serving
        if self._on_swap is not None:
            self._on_swap(serving)

    def start(self) -> Serving:
        """Load once at startup; a failure leaves the service up (not ready) instead of crashing it."""
        with self._lock:
            panel = self._load_panel()
            try:
                model: LoadedModel | None = self._model_loader()
                error = None
            except Exception as exc:
                log.warning("no champion model loaded at startup: %s", describe_load_error(exc))
                model, error = None, describe_load_error(exc)
            self._swap(Serving(model, panel, datetime.now(UTC), error))
            return self._current

    def reload(self) -> Serving:
        """Load the current champion and swap it in; on failure keep serving the old one and say so (503)."""
        with self._lock:
            old = self._current
            try:
                model = self._model_loader()
            except Exception as exc:
                log.warning("reload failed, still serving %s: %s",
                            old.model.version if old.model else "no model", describe_load_error(exc))
                raise ApiError(
                    503,
                    "reload_failed",
                    f"could not load the champion: {describe_load_error(exc)}",
                    {"serving_version": old.model.version if old.model else None},
                ) from None
            panel = self._load_panel()
            self._swap(Serving(model, panel if panel is not None else old.panel, datetime.now(UTC)))
            return self._current


class ChartCache:
    """PNG bytes per (model version, run id, series): a chart is drawn once per model, not per poll."""

    def __init__(self, max_entries: int = 256) -> None:
        self._items: dict[tuple[str, str, str], bytes] = {}
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()
        self.max_entries = max_entries

    def get_or_render(self, key: tuple[str, str, str], render: Callable[[], bytes]) -> bytes:
        with self._lock:
            hit = self._items.get(key)
        if hit is not None:
            return hit
        # matplotlib's pyplot keeps global figure state: draw one chart at a time
        with self._render_lock:
            with self._lock:
                hit = self._items.get(key)
            if hit is not None:
                return hit
            png = render()
        with self._lock:
            if len(self._items) >= self.max_entries:
                self._items.clear()
            self._items[key] = png
        return png

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


class ResultCache(Generic[K, V]):
    """The ``max_entries`` most recently used results by key (scenario runs per model version and request).

    Computing happens outside the lock, so a slow computation never blocks hits; two concurrent misses on
    the same key both compute and the second result wins, which is harmless for deterministic results.
    """

    def __init__(self, max_entries: int = 128) -> None:
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.max_entries = max_entries

    def get(self, key: K) -> V | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> V:
        hit = self.get(key)
        if hit is not None:
            return hit
        value = compute()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
