"""The compute executor (admission, 503 + Retry-After) and the bounded caches around it."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from forecasting.serving import LoadedModel
from service.compute import Compute
from service.errors import ApiError
from service.state import ChartCache, ResultCache
from tests.service.conftest import AppFactory


def test_admits_workers_plus_queue_then_answers_503() -> None:
    compute = Compute(workers=1, queue=1)
    release = threading.Event()

    async def scenario() -> None:
        first = asyncio.ensure_future(compute.run(release.wait, 5))
        second = asyncio.ensure_future(compute.run(release.wait, 5))
        await asyncio.sleep(0.05)
        assert compute.pending == 2
        with pytest.raises(ApiError) as refused:
            await compute.run(time.sleep, 0)
        err = refused.value
        assert err.status_code == 503 and err.code == "busy"
        assert err.headers is not None and int(err.headers["Retry-After"]) >= 1
        assert err.detail == {"retry_after_seconds": int(err.headers["Retry-After"])}
        release.set()
        assert await first and await second
        assert compute.pending == 0
        assert await compute.run(lambda: 42) == 42

    asyncio.run(scenario())
    assert compute.refused == 1
    compute.shutdown()


def test_a_job_larger_than_the_capacity_runs_when_idle() -> None:
    compute = Compute(workers=1, queue=0)
    assert asyncio.run(compute.run(lambda: "ok", cost=5)) == "ok"
    with pytest.raises(ValueError):
        asyncio.run(compute.run(lambda: None, cost=0))
    compute.shutdown()


def test_a_queued_job_whose_caller_left_frees_its_slot() -> None:
    compute = Compute(workers=1, queue=1)
    release = threading.Event()

    async def scenario() -> None:
        running = asyncio.ensure_future(compute.run(release.wait, 5))
        queued = asyncio.ensure_future(compute.run(time.sleep, 0))
        await asyncio.sleep(0.05)
        queued.cancel()
        await asyncio.sleep(0.05)
        assert compute.pending == 1  # only the running one
        release.set()
        await running

    asyncio.run(scenario())
    assert compute.pending == 0
    compute.shutdown()


def test_blocking_callers_and_nested_work() -> None:
    compute = Compute(workers=1, queue=0)
    threads: list[str] = []

    def inner() -> str:
        threads.append(threading.current_thread().name)
        return "inner"

    def outer() -> str:
        threads.append(threading.current_thread().name)
        return compute.run_blocking(inner)  # nested: runs right here instead of deadlocking on the one worker

    assert compute.run_blocking(outer) == "inner"
    assert threads[0] == threads[1] and threads[0].startswith("chipcast-compute")
    compute.shutdown()


def test_concurrent_misses_on_one_key_compute_once() -> None:
    compute = Compute(workers=2, queue=0)
    cache: ResultCache[str, bytes] = ResultCache(10, executor=compute)
    calls: list[int] = []

    def slow() -> bytes:
        calls.append(1)
        time.sleep(0.1)
        return b"value"

    async def scenario() -> list[bytes]:
        return await asyncio.gather(*(cache.fetch("k", slow) for _ in range(20)))

    assert asyncio.run(scenario()) == [b"value"] * 20  # 20 waiters, one computation, no 503
    assert calls == [1] and cache.get("k") == b"value"
    compute.shutdown()


def test_result_cache_is_lru_by_entries_and_bytes() -> None:
    cache: ResultCache[str, bytes] = ResultCache(max_entries=3, max_bytes=100)
    for key in "abc":
        cache.put(key, b"x" * 10)
    assert cache.get("a") == b"x" * 10  # a is now the most recent
    cache.put("d", b"x" * 10)
    assert cache.get("b") is None and len(cache) == 3 and cache.nbytes == 30
    cache.put("e", b"x" * 90)  # over the byte budget: the least recent go until it fits
    assert [k for k in "acde" if cache.get(k) is not None] == ["d", "e"] and cache.nbytes == 100
    cache.put("huge", b"x" * 101)  # larger than the whole budget: returned by its caller, never kept
    assert cache.get("huge") is None and cache.get("e") is not None
    cache.put("e", b"y")  # replacing a value re-counts its bytes
    assert cache.nbytes == 11
    cache.clear()
    assert len(cache) == 0 and cache.nbytes == 0


def test_chart_cache_is_lru() -> None:
    charts = ChartCache(max_entries=2, max_bytes=1000)
    for sid in ("a", "b", "c"):
        charts.get_or_render(("1", "r", sid), lambda sid=sid: sid.encode() * 10)  # type: ignore[misc]
    assert len(charts) == 2 and charts.nbytes == 20
    assert charts.get_or_render(("1", "r", "c"), lambda: b"redrawn") == b"c" * 10
    assert charts.get_or_render(("1", "r", "a"), lambda: b"redrawn") == b"redrawn"  # "a" was the oldest


def test_service_caches_stay_within_their_caps(make_app: AppFactory) -> None:
    """Distinct on-demand forecasts fill the response cache and the cached-read index only up to their caps."""
    app = make_app(response_cache_entries=4, response_cache_bytes=200_000, chart_cache_entries=1)
    with TestClient(app) as c:
        runtime: Any = c.app.state.runtime  # type: ignore[attr-defined]
        for level in range(60, 72):
            assert c.get("/v1/forecasts/wsts_memory_sales_annual", params={"level": level}).status_code == 200
        for sid in ("capex_meta", "nvidia_datacenter_revenue"):
            assert c.get(f"/v1/forecasts/{sid}.png").status_code == 200
        reads = c.app.state.front.reads  # type: ignore[attr-defined]
        assert len(runtime.responses) == 4 and len(reads) == 4 and len(runtime.charts) == 1
    with TestClient(make_app(response_cache_bytes=12_000)) as c:
        runtime = c.app.state.runtime  # type: ignore[attr-defined]
        for level in range(60, 72):
            assert c.get("/v1/forecasts/wsts_memory_sales_annual", params={"level": level}).status_code == 200
        assert 0 < runtime.responses.nbytes <= 12_000  # each body is a few kB: a handful fit, never all 12
        assert 0 < c.app.state.front.reads.nbytes <= 12_000  # type: ignore[attr-defined]


@pytest.mark.slow
def test_scenario_cache_stays_within_its_cap(make_app: AppFactory, hbm_loaded: LoadedModel) -> None:
    with TestClient(make_app(model_loader=lambda: hbm_loaded, scenario_cache_entries=2)) as c:
        cache = c.app.state.runtime.scenarios  # type: ignore[attr-defined]
        for name in ("bear", "base", "bull"):
            r = c.post("/v1/scenarios", json={"scenario": name, "targets": ["micron_revenue"]})
            assert r.status_code == 200, r.text
        assert len(cache) == 2


def test_a_result_computed_before_a_clear_is_not_stored_after_it() -> None:
    """A swap clears the caches; a computation started against the old model used to store its result after
    the clear, so the new model's readers got the old model's answer (the front door had this check already)."""
    cache: ResultCache[str, bytes] = ResultCache(10)
    started, release = threading.Event(), threading.Event()

    def old_model() -> bytes:
        started.set()
        assert release.wait(5)
        return b"old"

    async def scenario() -> tuple[bytes, bytes]:
        slow = asyncio.ensure_future(cache.fetch("k", old_model, on_demand=False))
        while not started.is_set():
            await asyncio.sleep(0.001)
        cache.clear()  # the model is swapped while the old computation runs
        # a miss after the clear starts its own computation instead of joining the old one
        fresh = await cache.fetch("k", lambda: b"new", on_demand=False)
        release.set()
        return await slow, fresh

    assert asyncio.run(scenario()) == (b"old", b"new")  # the old computation's waiter still gets its answer ...
    assert cache.get("k") == b"new"  # ... but only the new one is kept
    stale_generation = cache.generation
    cache.clear()
    cache.put("k", b"old", stale_generation)
    assert cache.get("k") is None
    cache.put("k", b"new", cache.generation)
    assert cache.get("k") == b"new"
