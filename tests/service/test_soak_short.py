"""A short soak: the code path of ``bench/soak.py`` (real uvicorn on loopback, a trained champion) for ~20 s."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from pipelines.config import PROJECT_ROOT


def load_soak() -> ModuleType:
    """``bench/`` is scripts, not a package: load the module from its file."""
    name = "chipcast_bench_soak"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / "bench" / "soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.timing
@pytest.mark.timeout(600)
def test_short_soak_has_no_errors_and_holds_the_rate_limit() -> None:
    soak = load_soak()
    report = soak.run_soak(soak.SoakConfig(rate=8.0, duration=20.0, concurrency=8, window=5.0))
    print(report.format())
    assert report.total == 160
    assert report.errors == 0, report.format()
    assert report.unexpected_4xx == 0, report.format()
    assert report.reloaded, report.format()
    # traffic below the per-key limit is never refused; one key bursting above its bucket is
    assert report.soak_429 == 0, report.format()
    assert report.burst_429 > 0 and report.burst_retry_after, report.format()
    assert report.conditional > 0 and report.not_modified > 0
    assert report.rss_start > 0 and report.rss_end < 1.5 * report.rss_start, report.format()
