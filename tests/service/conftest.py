"""Service fixtures: real trained champions (one per session each) and apps built around them.

The small champion is trained on the real embedded data for three series (an annual one, a quarterly one
and one with a capex driver), which takes a few seconds once per session. The HBM champion adds hyperscaler
capex and the memory series, so it carries the HBM calibration and can run capex scenarios; it takes
longer, so only the tests that need it ask for it. Every app gets the registry callables injected, so no
test touches MLflow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from forecasting.serving import LoadedModel
from forecasting.train import TrainResult, train
from service.config import Settings
from service.main import create_app
from tests.conftest import REAL_DATA_DIR

SERIES = ["wsts_memory_sales_annual", "capex_meta", "nvidia_datacenter_revenue"]
HBM_SERIES = ["capex_hyperscalers_total", "micron_revenue", "skhynix_revenue", "wsts_memory_sales_annual",
              # companies whose own capex forecast the guidance scenario keeps (no usable guidance)
              "capex_microsoft", "capex_oracle"]
READ_KEY = "read-key-0123456789abcdef"
ADMIN_KEY = "admin-key-0123456789abcdef"

REGISTERED: list[dict[str, Any]] = [
    {"version": "1", "aliases": ["champion"], "run_id": "test", "created_at": 1764268538000,
     "as_of": "2026-12-01", "metrics": {"capex_meta.h4.mase": 1.63}},
    {"version": 0, "aliases": [], "run_id": None, "created_at": None, "metrics": {}},
]


@pytest.fixture(scope="session")
def trained() -> TrainResult:
    return train(SERIES, data_dir=REAL_DATA_DIR)


def make_loaded(result: TrainResult, version: str = "1", source: str = "registry") -> LoadedModel:
    return LoadedModel(
        forecaster=result.forecaster,
        version=version,
        run_id=f"run-{version}",
        alias="champion",
        loaded_at=datetime.now(UTC).isoformat(),
        source=source,
    )


@pytest.fixture(scope="session")
def loaded(trained: TrainResult) -> LoadedModel:
    return make_loaded(trained)


@pytest.fixture(scope="session")
def hbm_trained() -> TrainResult:
    """A champion with capex and memory targets: it carries the HBM calibration and the hbm_revenue series."""
    result = train(HBM_SERIES, data_dir=REAL_DATA_DIR)
    assert result.forecaster.hbm is not None and "hbm_revenue" in result.forecaster.models
    return result


@pytest.fixture(scope="session")
def hbm_loaded(hbm_trained: TrainResult) -> LoadedModel:
    return make_loaded(hbm_trained, version="7")


@pytest.fixture(scope="session")
def wsts_loaded() -> LoadedModel:
    """Monthly worldwide sales with what the dashboard must draw: the 2025-08 gap in the published history, a
    nowcast month and the stored track record (about a minute: only the dashboard tests ask for it)."""
    result = train(["wsts_worldwide_sales"], data_dir=REAL_DATA_DIR)
    assert result.forecaster.track_record.height and result.forecaster.models["wsts_worldwide_sales"].data.nowcast
    return make_loaded(result, version="3")


def settings_for(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "api_keys_read": [READ_KEY],
        "api_keys_admin": [ADMIN_KEY],
        "read_open": True,
        "rate_limit_per_minute": 10_000,
        "cors_origins": [],
    }
    values.update(overrides)
    return Settings(**values)


AppFactory = Callable[..., FastAPI]


@pytest.fixture
def make_app(loaded: LoadedModel, real_panel: pl.DataFrame) -> AppFactory:
    """Build an app with the session champion unless a test injects something else."""

    def _make(
        settings: Settings | None = None,
        model_loader: Callable[[], LoadedModel] | None = None,
        models_lister: Callable[[], list[dict[str, Any]]] | None = None,
        retrainer: Callable[[], object] | None = None,
        panel_loader: Callable[[], pl.DataFrame] | None = None,
        **overrides: Any,
    ) -> FastAPI:
        return create_app(
            settings or settings_for(**overrides),
            model_loader=model_loader or (lambda: loaded),
            models_lister=models_lister or (lambda: REGISTERED),
            retrainer=retrainer or (lambda: None),
            panel_loader=panel_loader or (lambda: real_panel),
        )

    return _make


@pytest.fixture
def client(make_app: AppFactory) -> Iterator[TestClient]:
    with TestClient(make_app()) as c:
        yield c


@pytest.fixture
def hbm_client(make_app: AppFactory, hbm_loaded: LoadedModel) -> Iterator[TestClient]:
    with TestClient(make_app(model_loader=lambda: hbm_loaded)) as c:
        yield c


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"X-API-Key": ADMIN_KEY}


@pytest.fixture
def read_headers() -> dict[str, str]:
    return {"X-API-Key": READ_KEY}
