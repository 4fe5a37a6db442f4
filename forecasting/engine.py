"""Where statsforecast runs: in this process (``local``) or on a Dask cluster (``dask``) through fugue.

chipcast adds no parallelism of its own. The local engine calls ``StatsForecast`` on a polars frame, as
before. The Dask engine hands the *same* ``StatsForecast`` object a Dask DataFrame; statsforecast sees a
non-local frame and dispatches to its fugue backend (``statsforecast.distributed.fugue.FugueBackend``),
which partitions by ``unique_id`` and runs one ordinary ``StatsForecast`` per partition on the workers.
Because fugue also has Spark and Ray engines, the same call runs there when given a Spark or Ray frame.

chipcast's evaluation (``forecasting.evaluation``) stacks one series per rolling origin, each as known on
its own date, and fits them all with one :func:`bulk_forecast` call: the case a cluster pays off for,
many series sharing one model config.

Both engines return the same frame: ``unique_id, ds, <model>, <model>-lo-<l>, <model>-hi-<l>, ...``
with the input's id/date dtypes, Float64 model columns, point then lo/hi per level ascending, rows
sorted by id and date. One difference is statsforecast's, not ours: its fugue backend declares every
model column as float32, so Dask forecasts equal the local ones to float32 precision (relative error
below 1e-7), not bit for bit.
"""

from __future__ import annotations

import logging
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, ClassVar, Self

import polars as pl
from statsforecast import StatsForecast

logger = logging.getLogger(__name__)

#: engine names accepted by :func:`make_engine` and ``chipcast train --engine``
ENGINES: tuple[str, ...] = ("local", "dask")

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def model_alias(model: Any) -> str:
    """The column name statsforecast gives a model's forecasts."""
    return str(getattr(model, "alias", type(model).__name__))


class EngineError(ValueError):
    """An engine that does not exist, cannot start, or cannot run the given frame."""


class EngineUnavailableError(EngineError):
    """The engine exists but cannot be used here (missing extra, unreachable scheduler)."""


class Engine(ABC):
    """Runs a ``StatsForecast`` call on a polars frame somewhere and returns polars.

    Engines are context managers; a :class:`LocalEngine` holds nothing, a :class:`DaskEngine` owns a
    ``distributed.Client`` between ``__enter__`` and ``__exit__``.
    """

    name: ClassVar[str]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:  # noqa: B027 - engines without resources have nothing to release
        """Release what the engine holds (nothing for the local engine)."""

    @abstractmethod
    def statsforecast(self, models: Sequence[Any], freq: str, df: pl.DataFrame,
                      fallback_model: Any = None) -> StatsForecast:
        """The orchestrator for ``models``; ``freq`` is chipcast's polars interval (``1mo``, ``1q``, ``1y``).

        ``fallback_model`` answers for a model that fails on one series (statsforecast's own mechanism).
        """

    @abstractmethod
    def run(self, call: Callable[[Any], Any], df: pl.DataFrame) -> pl.DataFrame:
        """Give ``call`` the engine's version of ``df`` and bring its result back as polars."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LocalEngine(Engine):
    """statsforecast in this process; ``n_jobs`` is statsforecast's own process pool (``-1``: every core)."""

    name = "local"

    def __init__(self, n_jobs: int = 1) -> None:
        if n_jobs == 0 or n_jobs < -1:
            raise EngineError(f"n_jobs must be -1 (all cores) or a positive number of processes, got {n_jobs}")
        self.n_jobs = n_jobs

    def statsforecast(self, models: Sequence[Any], freq: str, df: pl.DataFrame,
                      fallback_model: Any = None) -> StatsForecast:
        return StatsForecast(models=list(models), freq=freq, n_jobs=self.n_jobs, fallback_model=fallback_model)

    def run(self, call: Callable[[Any], Any], df: pl.DataFrame) -> pl.DataFrame:
        out = call(df)
        assert isinstance(out, pl.DataFrame)
        return out

    def __repr__(self) -> str:
        return f"LocalEngine(n_jobs={self.n_jobs})"


class DaskEngine(Engine):
    """statsforecast's fugue backend on a Dask cluster.

    With ``address`` (``tcp://host:8786``) it connects to a running scheduler; without, it starts a
    ``LocalCluster`` of ``n_workers`` x ``threads_per_worker`` (worker processes unless
    ``processes=False``). ``timeout`` (seconds) bounds connecting to ``address``; by default dask's
    ``distributed.comm.timeouts.connect`` setting. Workers need the same statsforecast version as this
    process; they do not need chipcast, because only statsforecast objects and pandas frames are shipped.
    """

    name = "dask"

    def __init__(
        self,
        address: str | None = None,
        n_workers: int = 2,
        threads_per_worker: int = 1,
        *,
        processes: bool = True,
        partitions_per_thread: int = 2,
        timeout: float | None = None,
    ) -> None:
        if n_workers < 1 or threads_per_worker < 1 or partitions_per_thread < 1:
            raise EngineError("n_workers, threads_per_worker and partitions_per_thread must be at least 1")
        if address is not None and "://" not in address:
            raise EngineError(f"a Dask scheduler address looks like tcp://host:8786, got '{address}'")
        self.address = address
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self.processes = processes
        self.partitions_per_thread = partitions_per_thread
        self.timeout = timeout
        self._client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def start(self) -> None:
        """Connect to ``address`` or start the LocalCluster (idempotent)."""
        if self._client is not None:
            return
        try:
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - the dask extra is installed in the dev environment
            raise EngineUnavailableError(
                "the dask engine needs the optional dependencies: pip install 'chipcast[dask]'"
            ) from None
        if self.address is None:
            self._cluster = LocalCluster(
                n_workers=self.n_workers,
                threads_per_worker=self.threads_per_worker,
                processes=self.processes,
                dashboard_address=None,
            )
            self._client = Client(self._cluster, set_as_default=False)
        else:
            # no timeout given: dask's own `distributed.comm.timeouts.connect` (30 s unless configured)
            extra = {} if self.timeout is None else {"timeout": self.timeout}
            try:
                self._client = Client(self.address, set_as_default=False, **extra)
            except (OSError, TimeoutError) as exc:
                raise EngineUnavailableError(f"cannot reach the Dask scheduler at {self.address}: {exc}") from None
        logger.info("dask engine: %s", self._client)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (only while started)."""
        if self._client is None:
            raise EngineError("the dask engine is not started; use `with DaskEngine(...) as engine:`")
        return self._client

    @property
    def total_threads(self) -> int:
        return int(sum(self.client.nthreads().values()))

    def statsforecast(self, models: Sequence[Any], freq: str, df: pl.DataFrame,
                      fallback_model: Any = None) -> StatsForecast:
        # workers see pandas frames, so the frequency must be a pandas offset anchored like the data
        return StatsForecast(models=list(models), freq=pandas_freq(freq, df["ds"]), fallback_model=fallback_model)

    def run(self, call: Callable[[Any], Any], df: pl.DataFrame) -> pl.DataFrame:
        import dask.dataframe as dd

        client = self.client
        n_series = max(1, df["unique_id"].n_unique())
        npartitions = min(n_series, self.total_threads * self.partitions_per_thread)
        # statsforecast's fugue dispatch finds the cluster through the current client
        with client.as_current():
            ddf = dd.from_pandas(df.to_pandas(), npartitions=npartitions)
            out = call(ddf).compute()
        return pl.from_pandas(out)

    def __repr__(self) -> str:
        where = self.address or f"LocalCluster({self.n_workers}x{self.threads_per_worker}, processes={self.processes})"
        return f"DaskEngine({where})"


def make_engine(name: str, *, address: str | None = None) -> Engine:
    """The engine called ``name``; ``address`` is the Dask scheduler (``None``: a LocalCluster).

    ``local`` uses every core through statsforecast's own process pool.
    """
    if name == "local":
        return LocalEngine(n_jobs=-1)
    if name == "dask":
        return DaskEngine(address)
    raise EngineError(
        f"engine '{name}' is not available; available engines: {', '.join(ENGINES)}"
        " (Spark and Ray run the same statsforecast code through fugue but are not wired into chipcast)"
    )


def pandas_freq(interval: str, ds: pl.Series) -> str:
    """The pandas offset for chipcast's polars interval, anchored on the data's months.

    ``1mo`` -> ``MS``; ``3mo`` -> ``QS-JAN`` / ``QS-FEB`` / ``QS-MAR``; ``1y`` -> ``YS-<month>``. Dates
    must be period starts (day 1), as every series in the catalog is.
    """
    dates = ds.drop_nulls()
    if dates.is_empty():
        raise EngineError("cannot infer a frequency from an empty frame")
    if not dates.dt.day().eq(1).all():
        raise EngineError("the dask engine needs period-start dates (day 1 of the month)")
    months = dates.dt.month().unique().to_list()
    if interval == "1mo":
        return "MS"
    if interval in ("3mo", "1q"):
        anchors = {(m - 1) % 3 for m in months}
        if len(anchors) != 1:
            raise EngineError("quarterly series in one call must start their quarters in the same months")
        return f"QS-{_MONTHS[anchors.pop()]}"
    if interval in ("1y", "12mo"):
        if len(months) != 1:
            raise EngineError("annual series in one call must be dated in the same month")
        return f"YS-{_MONTHS[months[0] - 1]}"
    raise EngineError(f"no pandas frequency for interval '{interval}'; supported: 1mo, 3mo, 1y")


def _conform(out: pl.DataFrame, df: pl.DataFrame, models: Sequence[Any], level: Sequence[int]) -> pl.DataFrame:
    """One schema for every engine (see the module docstring)."""
    keys = ["unique_id", "ds"]
    values: list[str] = []
    for m in models:
        alias = model_alias(m)
        values.append(alias)
        for lv in sorted(level):
            values += [c for c in (f"{alias}-lo-{lv}", f"{alias}-hi-{lv}") if c in out.columns]
    unexpected = set(out.columns) - {*keys, *values}
    missing = {*keys, *values} - set(out.columns)
    if unexpected or missing:
        raise EngineError(f"statsforecast returned an unexpected frame: extra {sorted(unexpected)}, "
                          f"missing {sorted(missing)}")
    id_t, ds_t = df.schema["unique_id"], df.schema["ds"]
    out = out.with_columns(
        pl.col("unique_id").cast(id_t),
        pl.col("ds").cast(ds_t),
        pl.col(values).cast(pl.Float64),
    )
    return out.select(*keys, *values).sort(["unique_id", "ds"])


def bulk_forecast(
    engine: Engine,
    df: pl.DataFrame,
    models: Sequence[Any],
    freq: str,
    h: int,
    level: Sequence[int] = (),
    fallback_model: Any = None,
) -> pl.DataFrame:
    """``StatsForecast.forecast`` of many series sharing one model config: ``unique_id, ds, <model>...``.

    chipcast stacks one series per rolling origin here, so all origins of a target fit in one call.
    """
    sf = engine.statsforecast(models, freq, df, fallback_model)
    lv = list(level) or None
    with warnings.catch_warnings():
        # AutoARIMA's optimiser warns for every candidate order that does not converge (thousands per
        # training run, on stderr); the search already scores those candidates by their worse fit. Forked
        # local workers inherit this filter; Dask workers keep their own.
        warnings.filterwarnings("ignore", message="possible convergence problem", category=UserWarning)
        out = engine.run(lambda frame: sf.forecast(df=frame, h=h, level=lv), df)
    return _conform(out, df, models, level)


__all__ = [
    "ENGINES",
    "DaskEngine",
    "Engine",
    "EngineError",
    "EngineUnavailableError",
    "LocalEngine",
    "bulk_forecast",
    "make_engine",
    "pandas_freq",
]
