"""Backtest leaderboards and the model registry listing."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastapi.testclient import TestClient

from forecasting.serving import LoadedModel
from forecasting.train import TrainResult
from tests.service.conftest import AppFactory, make_loaded


def test_backtest_leaderboard(client: TestClient, loaded: LoadedModel) -> None:
    r = client.get("/v1/backtests/nvidia_datacenter_revenue")
    assert r.status_code == 200
    body = r.json()
    sm = loaded.forecaster.models["nvidia_datacenter_revenue"]
    assert body["method"]["name"] == sm.method.name == "Combination" and body["primary_horizon"] == 4
    board = body["leaderboard"]
    assert len(board) == sm.leaderboard.height
    served = [row for row in board if row["served"]]
    assert served and all(row["model"] == "Combination" and row["role"] == "method" for row in served)
    members = {m.name: m.weight for m in sm.method.members}
    for row in board:
        if row["role"] == "member":
            assert row["weight"] == pytest.approx(members[row["model"]])
    assert {"Naive", "SeasonalNaive", "AutoETS"} <= {row["model"] for row in board}  # plain references
    assert {"mase", "smape", "coverage_80", "coverage_95", "winkler_80", "windows", "note"} <= set(board[0])
    assert len({row["windows"] for row in board}) == 1  # every model on the same origins


def test_backtest_errors(client: TestClient, make_app: AppFactory, trained: TrainResult) -> None:
    r = client.get("/v1/backtests/nope")
    assert r.status_code == 404 and "capex_meta" in r.json()["error"]["message"]
    no_boards = make_loaded(trained)
    no_boards.forecaster = copy.copy(no_boards.forecaster)
    no_boards.forecaster.models = {sid: dataclasses.replace(sm, leaderboard=pl.DataFrame())
                                   for sid, sm in trained.forecaster.models.items()}
    with TestClient(make_app(model_loader=lambda: no_boards)) as c:
        r = c.get("/v1/backtests/capex_meta")
        assert r.status_code == 404 and r.json()["error"]["code"] == "no_backtest"


def test_models_listing(client: TestClient) -> None:
    r = client.get("/v1/models")
    assert r.status_code == 200
    body = r.json()
    assert body["serving"]["version"] == "1" and body["serving"]["alias"] == "champion"
    first, second = body["models"]
    assert first["version"] == "1" and first["aliases"] == ["champion"]
    assert first["created_at"].startswith("2025-11-27")  # epoch milliseconds from the registry
    assert first["metrics"] == {"capex_meta.h4.mase": 1.63}
    assert second["version"] == "0" and second["created_at"] is None


def test_models_registry_failure_is_503(make_app: AppFactory) -> None:
    def lister() -> list[dict[str, Any]]:
        raise ConnectionError("http://user:pw@mlflow:5000 unreachable")

    with TestClient(make_app(models_lister=lister)) as c:
        r = c.get("/v1/models")
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "registry_unavailable" and "pw@" not in r.text


def test_registry_outage_is_503_and_an_empty_registry_200(make_app: AppFactory, tmp_path: Path) -> None:
    """The default lister swallowed every registry error and returned [], so an outage read as 200 "no models"."""
    from forecasting.tracking import RegistryUnreachableError, TrackingSettings, list_models

    empty = TrackingSettings(state_dir=tmp_path / "empty" / "state", models_dir=tmp_path / "empty" / "models")
    broken = TrackingSettings(state_dir=tmp_path / "broken" / "state", models_dir=tmp_path / "broken" / "models")
    broken.state_dir.mkdir(parents=True)
    (broken.state_dir / "mlflow.db").write_bytes(b"this is not a sqlite database" * 100)
    with pytest.raises(RegistryUnreachableError, match="model registry failed: DatabaseError"):
        list_models(broken)
    with TestClient(make_app(models_lister=lambda: list_models(broken))) as c:
        r = c.get("/v1/models")
        assert r.status_code == 503, r.text
        err = r.json()["error"]
        assert err["code"] == "registry_unavailable" and err["detail"] == {"serving_version": "1"}
        assert "could not be reached" in err["message"] and "sqlite" not in r.text and "Traceback" not in r.text
        assert c.get("/v1/forecasts/capex_meta").status_code == 200  # serving is unaffected
    with TestClient(make_app(models_lister=lambda: list_models(empty))) as c:
        r = c.get("/v1/models")
        assert r.status_code == 200 and r.json()["models"] == [] and r.json()["serving"]["version"] == "1"


def test_passed_over_members_carry_the_reason(hbm_client: TestClient) -> None:
    """Every leaderboard row of a member the served method passed over says why; the others say nothing."""
    body = hbm_client.get("/v1/backtests/micron_revenue").json()
    passed = {p["model"]: p["reason"] for p in body["method"]["passed_over"]}
    assert passed, "the test champion passes over a micron member (a forecast that explodes)"
    for row in body["leaderboard"]:
        if row["model"] in passed:
            assert row["note"] and passed[row["model"]] in row["note"] and row["weight"] == 0, row
        elif row["role"] == "member":
            assert row["note"] is None, row
    catalog = {s["id"]: s for s in hbm_client.get("/v1/series").json()["series"]}
    assert catalog["micron_revenue"]["backtest"] is True
    derived = catalog["wsts_memory_sales_annual"]  # the memory market from the makers' revenues: no leaderboard
    assert derived["backtest"] is False
    assert hbm_client.get("/v1/backtests/wsts_memory_sales_annual").status_code == 404
