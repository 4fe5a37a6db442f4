"""The service against a real ``mlflow server`` on loopback: train, register, promote, then serve the champion."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from forecasting.result import to_dict
from forecasting.tracking import TrackingSettings, list_models, load_model, log_training, promote
from forecasting.train import train
from service.config import Settings
from service.main import create_app
from tests.conftest import REAL_DATA_DIR
from tests.service.e2e_helpers import mlflow_server

TARGETS_SMALL = ["capex_meta", "wsts_memory_sales_annual"]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_service_serves_champion_registered_on_real_mlflow_server(tmp_path: Path) -> None:
    result = train(TARGETS_SMALL, data_dir=REAL_DATA_DIR)
    with mlflow_server(tmp_path) as uri:
        settings = TrackingSettings(state_dir=tmp_path / "state", models_dir=tmp_path / "models",
                                    mlflow_tracking_uri=uri)
        run = log_training(result, settings)
        res = promote(settings=settings)
        assert res.promoted and res.challenger == run.version

        app = create_app(
            Settings(rate_limit_per_minute=10_000),
            model_loader=lambda: load_model("champion", settings),
            models_lister=lambda: list_models(settings),
            retrainer=lambda: None,
        )
        with TestClient(app) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            body = ready.json()
            assert body["status"] == "ready" and body["source"] == "registry"
            assert body["model_version"] == run.version and body["alias"] == "champion"

            fc = client.get("/v1/forecasts/capex_meta")
            assert fc.status_code == 200, fc.text
            fcb = fc.json()
            assert fcb["model"]["version"] == run.version
            assert fcb["points"], fcb
            for p in fcb["points"]:
                iv = {i["level"]: i for i in p["intervals"]}
                assert iv[95]["lo"] <= iv[80]["lo"] <= p["value"] <= iv[80]["hi"] <= iv[95]["hi"], p
            expected = to_dict(result.forecaster.result("capex_meta"))
            assert fcb["points"] == expected["points"]

            models = client.get("/v1/models")
            assert models.status_code == 200, models.text
            mb = models.json()
            assert mb["serving"]["version"] == run.version
            by_version = {m["version"]: m for m in mb["models"]}
            assert "champion" in by_version[run.version]["aliases"]
            assert "challenger" in by_version[run.version]["aliases"]
            assert any(k.startswith("capex_meta.h") and k.endswith(".mase") for k in by_version[run.version]["metrics"])

    # artifacts went through the server's proxied store, not the local models dir
    assert any((tmp_path / "server-artifacts").rglob("manifest.json"))
    assert not (tmp_path / "models").exists()
