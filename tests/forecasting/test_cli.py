"""The command line: as-of forecasts at any date with enough history, and the API's JSON shape exactly."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from forecasting.reconcile import served_with
from forecasting.serving import LoadedModel
from forecasting.train import train
from service.cli import app
from service.config import Settings
from service.main import create_app
from tests.conftest import REAL_DATA_DIR


def _json(args: list[str]) -> dict[str, Any]:
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    body: dict[str, Any] = json.loads(r.stdout)
    return body


@pytest.mark.slow
@pytest.mark.parametrize("as_of", ["2019-12-03", "2013-12-03"])
def test_as_of_forecasts_reach_any_served_horizon_and_say_how_many_origins(as_of: str) -> None:
    body = _json(["forecast", "wsts_worldwide_sales", "--horizon", "24", "--as-of", as_of, "--format", "json"])
    assert len(body["points"]) == 24
    backtest = body["method"]["backtest"]
    assert backtest["origins"] >= 2
    data = body["data"]
    assert data["as_of"] == as_of
    assert date.fromisoformat(data["last_published"]) <= date.fromisoformat(as_of)
    assert date.fromisoformat(body["points"][0]["ds"]) > date.fromisoformat(data["last_observation"])
    if as_of == "2013-12-03":
        assert any("origins" in n for n in body["notes"])


def test_too_little_history_is_refused_with_the_minimum() -> None:
    r = CliRunner().invoke(app, ["forecast", "wsts_worldwide_sales", "--as-of", "2012-06-01"])
    assert r.exit_code == 2
    assert "at least 36 needed" in r.output


def test_cli_json_equals_the_api_body() -> None:
    """Same request, same numbers and field names through the CLI and over HTTP (model metadata aside)."""
    sid = "wsts_memory_sales_annual"
    cli = _json(["forecast", sid, "--format", "json", "--level", "80", "--level", "90"])
    result = train(list(served_with(sid)), data_dir=REAL_DATA_DIR)  # the memory market comes with its makers
    loaded = LoadedModel(result.forecaster, "1", "run-1", "champion", datetime.now(UTC).isoformat())
    with TestClient(create_app(Settings(), model_loader=lambda: loaded, models_lister=list,
                               retrainer=lambda: None)) as client:
        api = client.get(f"/v1/forecasts/{sid}", params=[("level", 80), ("level", 90)]).json()
    assert api["model"]["version"] == "1" and cli["model"] is None
    api.pop("model"), cli.pop("model")
    assert api == cli


@pytest.mark.parametrize(("args", "msg"), [
    (["--horizon", "999"], "horizon must be between 1 and 36"),
    (["--level", "150"], "levels must be between"),
    (["--as-of", "2100-01-01"], "is after today"),
])
def test_forecast_refuses_what_it_cannot_serve_before_training(monkeypatch: pytest.MonkeyPatch, args: list[str],
                                                               msg: str) -> None:
    """An as-of forecast trains for minutes: a request it would refuse anyway must be refused first."""
    import forecasting.cli

    def no_training(*_: object, **__: object) -> None:
        raise AssertionError("trained before refusing")

    monkeypatch.setattr(forecasting.cli, "_train_with_progress", no_training)
    r = CliRunner().invoke(app, ["forecast", "wsts_worldwide_sales", *args])
    assert r.exit_code == 2, r.output
    assert msg in r.output


def test_a_backtest_with_nothing_to_evaluate_fails_saying_why() -> None:
    """It printed {} and exited 0 (and logged an empty MLflow run)."""
    r = CliRunner().invoke(app, ["backtest", "wsts_worldwide_sales", "--as-of", "2011-01-01", "--json"])
    assert r.exit_code == 2, r.output
    assert "nothing to backtest" in r.output and "wsts_worldwide_sales" in r.output
