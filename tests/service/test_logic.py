"""The route logic as plain functions, without HTTP."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from forecasting.serving import LoadedModel
from forecasting.train import TrainResult
from service import logic
from service.errors import ApiError
from service.state import ChartCache, ModelHolder, ResultCache
from tests.service.conftest import make_loaded


def test_request_checks_state_the_allowed_range(loaded: LoadedModel) -> None:
    sm = loaded.forecaster.models["wsts_memory_sales_annual"]
    assert logic.check_levels([95, 80, 95], 4) == (80, 95)
    logic.check_horizon(sm, 4)
    with pytest.raises(ApiError, match=r"1 and 4 for wsts_memory_sales_annual \(annual series\), got 5") as info:
        logic.check_horizon(sm, 5)
    assert info.value.status_code == 409 and info.value.detail["max"] == 4  # within the schema's 1..36
    with pytest.raises(ApiError, match="between 1 and 36, got 37") as info:
        logic.check_horizon(sm, 37)
    assert info.value.status_code == 422
    with pytest.raises(ApiError, match=r"between 50 and 99, got \[49\]"):
        logic.check_levels([49, 80], 4)
    with pytest.raises(ApiError, match="at most 4 levels per request, got 5"):  # the schema's maxItems counts all
        logic.check_levels([80, 80, 81, 82, 83], 4)
    with pytest.raises(ApiError, match="at least one level"):
        logic.check_levels([], 4)


def test_results_are_cached_and_bounded(loaded: LoadedModel) -> None:
    fc = loaded.forecaster
    first = logic.forecast_result(loaded, "capex_meta", None, [80])
    assert logic.forecast_result(loaded, "capex_meta", None, [80]) is first
    assert len(first.points) == 8 and [i.level for i in first.points[0].intervals] == [80]
    for h in range(1, 13):
        for lv in range(50, 100, 2):
            fc.result("capex_meta", h, (lv,))
    assert fc.cache_size() <= fc.CACHE_ENTRIES


def test_series_list_without_model(real_panel: pl.DataFrame) -> None:
    out = logic.series_list(real_panel, None, date(2026, 1, 1))
    assert out.model_version is None and not any(s.forecast for s in out.series)
    assert logic.series_list(real_panel, None, date(2026, 1, 1), forecast=True).count == 0


def test_history_frame(real_panel: pl.DataFrame) -> None:
    frame = logic.history_frame(real_panel, "capex_meta", date(2024, 1, 1), date(2024, 12, 31))
    assert frame["ds"].to_list() == [date(2024, m, 1) for m in (1, 4, 7, 10)]
    assert logic.history_csv(frame).decode().splitlines()[0] == "ds,value,period_end,published"
    with pytest.raises(ApiError) as info:
        logic.history_frame(real_panel, "nope", None, None)
    assert info.value.status_code == 404 and "capex_meta" in info.value.message


def test_holder_keeps_old_model_when_reload_fails(trained: TrainResult, real_panel: pl.DataFrame) -> None:
    versions = iter(["1", "2"])
    fail = False

    def loader() -> LoadedModel:
        if fail:
            raise RuntimeError("registry down")
        return make_loaded(trained, next(versions))

    swaps: list[str | None] = []
    holder = ModelHolder(loader, lambda: real_panel, lambda s: swaps.append(s.model.version if s.model else None))
    assert holder.start().model is not None
    assert holder.reload().model.version == "2"  # type: ignore[union-attr]
    before = holder.current
    fail = True
    with pytest.raises(ApiError) as info:
        holder.reload()
    assert info.value.status_code == 503 and "RuntimeError" in info.value.message
    assert holder.current is before and swaps == ["1", "2"]


def test_chart_cache_renders_once() -> None:
    cache = ChartCache()
    renders: list[int] = []

    def render() -> bytes:
        renders.append(1)
        return b"png"

    assert cache.get_or_render(("1", "r", "a"), render) == b"png"
    assert cache.get_or_render(("1", "r", "a"), render) == b"png"
    assert len(renders) == 1
    cache.clear()
    assert len(cache) == 0


def test_result_cache_is_lru() -> None:
    cache: ResultCache[str, int] = ResultCache(max_entries=2)
    calls: list[str] = []

    def compute(key: str) -> int:
        calls.append(key)
        return len(calls)

    assert cache.get_or_compute("a", lambda: compute("a")) == 1
    assert cache.get_or_compute("b", lambda: compute("b")) == 2
    assert cache.get_or_compute("a", lambda: compute("a")) == 1  # hit, and "a" becomes most recent
    assert cache.get_or_compute("c", lambda: compute("c")) == 3  # evicts "b", the least recently used
    assert cache.get("b") is None and cache.get("a") == 1 and len(cache) == 2
    assert calls == ["a", "b", "c"]
    cache.clear()
    assert len(cache) == 0
