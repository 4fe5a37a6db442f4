"""The app as a whole: OpenAPI, the dashboard, default registry callables and `chipcast serve`."""

from __future__ import annotations

import re
import sys
import types
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import service.main as main_module
import service.server as server_module
from service import cli
from service.config import get_settings
from service.routes.dashboard import STATIC_DIR
from tests.service.conftest import make_loaded, settings_for

V1_ROUTES = {
    ("get", "/v1/series"),
    ("get", "/v1/series/{series_id}/history"),
    ("get", "/v1/forecasts/{series_id}"),
    ("get", "/v1/forecasts/{series_id}/outlook"),
    ("get", "/v1/forecasts/{series_id}.png"),
    ("get", "/v1/backtests/{series_id}"),
    ("get", "/v1/models"),
    ("get", "/v1/models/hbm/assumptions"),
    ("post", "/v1/scenarios"),
    ("post", "/v1/admin/reload"),
    ("post", "/v1/admin/retrain"),
    ("get", "/v1/admin/jobs/{job_id}"),
}


def test_openapi_documents_every_route_with_examples(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    ops = {(m, p) for p, item in schema["paths"].items() for m in item}
    assert ops >= V1_ROUTES | {("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics"), ("get", "/dashboard")}
    assert schema["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
    components = schema["components"]["schemas"]
    for name in ("ForecastResponse", "OutlookResponse", "BacktestResponse", "SeriesResponse", "ModelsResponse",
                 "NamedScenarioRequest", "CustomScenarioRequest", "ScenarioResponse", "JobResponse", "ErrorResponse",
                 "HistoryResponse", "HbmAssumptionsResponse"):
        assert components[name].get("examples"), name
    for method, path in V1_ROUTES:
        op = schema["paths"][path][method]
        assert op.get("summary"), path
        assert "429" in op["responses"] and "401" in op["responses"], path
    scen = schema["paths"]["/v1/scenarios"]["post"]
    assert "exactly one of" in scen["description"] and "422" in scen["responses"]
    examples = scen["requestBody"]["content"]["application/json"]["examples"]
    assert examples["named"]["value"]["scenario"] == "bull"
    assert examples["relative"]["value"]["capex"]["mode"] == "relative_to_baseline_pct"
    # every scenario target answers in one shape: the stored baseline beside the scenario
    result = components["ScenarioResponse"]["properties"]["targets"]["additionalProperties"]
    assert result["$ref"].endswith("/ScenarioTarget")
    assert "404" in schema["paths"]["/v1/models/hbm/assumptions"]["get"]["responses"]


def test_dashboard_is_self_contained(client: TestClient) -> None:
    root = client.get("/", follow_redirects=False)  # the server's address opens the dashboard (was a bare 404)
    assert root.status_code == 307 and root.headers["location"] == "dashboard"
    assert client.get("/").url.path == "/dashboard"
    r = client.get("/dashboard")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    html = r.text
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert not asset.startswith(("http:", "https:", "//")), asset
        served = client.get("/" + asset)
        assert served.status_code == 200, asset
    for f in STATIC_DIR.iterdir():
        text = f.read_text()
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", text), f.name  # no CDN, fonts or trackers
        assert "@import" not in text and "fonts.googleapis" not in text
    js = client.get("/static/dashboard.js").text
    for endpoint in ("v1/series?forecast=true", "v1/forecasts/", "/outlook", "v1/backtests/", "/history"):
        assert endpoint in js


def test_default_callables_import_tracking_lazily(monkeypatch: pytest.MonkeyPatch, trained: Any) -> None:
    calls: list[str] = []
    def load_model(alias: str = "champion") -> Any:
        calls.append(f"load:{alias}")
        return make_loaded(trained, "42")

    def list_models() -> list[dict[str, Any]]:
        calls.append("list")
        return [{"version": "42", "aliases": ["champion"]}]

    def retrain_and_register() -> None:
        calls.append("retrain")

    fake = types.ModuleType("forecasting.tracking")
    fake.load_model = load_model  # type: ignore[attr-defined]
    fake.list_models = list_models  # type: ignore[attr-defined]
    fake.retrain_and_register = retrain_and_register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "forecasting.tracking", fake)
    assert main_module._default_model_loader().version == "42"
    assert main_module._default_models_lister()[0]["version"] == "42"
    main_module._default_retrainer()
    assert calls == ["load:champion", "list", "retrain"]


def test_service_never_imports_mlflow() -> None:
    for path in STATIC_DIR.parent.rglob("*.py"):
        source = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+mlflow", source, re.M), path


def test_create_app_defaults_read_settings_from_env(monkeypatch: pytest.MonkeyPatch, trained: Any) -> None:
    monkeypatch.setenv("CHIPCAST_RATE_LIMIT_PER_MINUTE", "2")
    get_settings.cache_clear()
    try:
        app = main_module.create_app(model_loader=lambda: make_loaded(trained))
        with TestClient(app) as c:
            # default panel loader reads the real snapshot (and the per-test empty store)
            assert c.get("/v1/series/capex_meta/history").status_code == 200
            assert c.get("/v1/series/capex_meta/history").status_code == 200
            assert c.get("/v1/series/capex_meta/history").status_code == 429
    finally:
        get_settings.cache_clear()


def test_run_serves_the_factory_app_with_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class FakeServer:
        def __init__(self, config: Any) -> None:
            seen["config"] = config

        def run(self) -> None:
            seen["ran"] = True

    monkeypatch.setattr(server_module.uvicorn, "Server", FakeServer)
    settings = settings_for(keep_alive_timeout=7, max_header_bytes=4096, max_url_bytes=1024, header_timeout=3.5,
                            max_connections=50, trusted_proxies=["10.0.0.0/8"])
    main_module.run("127.0.0.1", 8123, settings)
    config = seen["config"]
    assert seen["ran"] and config.host == "127.0.0.1" and config.port == 8123
    assert config.app.title == "chipcast" and config.app.state.settings is settings
    assert config.timeout_keep_alive == 7 and config.ws == "none"
    assert config.proxy_headers is True and config.forwarded_allow_ips == "10.0.0.0/8"
    limits = config.http.limits
    assert (limits.max_header_bytes, limits.max_url_bytes, limits.header_timeout, limits.max_connections) == \
        (4096, 1024, 3.5, 50)
    # without trusted proxies uvicorn's proxy-header middleware is off: the TCP peer is the client
    main_module.run("127.0.0.1", 8124, settings_for())
    assert seen["config"].proxy_headers is False


def test_serve_command_passes_its_options_as_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr(main_module, "run", lambda host, port, settings: seen.update(host=host, port=port,
                                                                                        settings=settings))
    monkeypatch.setenv("CHIPCAST_COMPUTE_QUEUE", "3")
    result = CliRunner().invoke(cli.app, ["serve", "--port", "9001", "--max-body-bytes", "1000", "--header-timeout",
                                          "2.5", "--trusted-proxy", "10.1.2.3", "--trusted-proxy", "10.9.0.0/16"])
    assert result.exit_code == 0, result.output
    s = seen["settings"]
    assert seen["port"] == 9001 and s.max_body_bytes == 1000 and s.header_timeout == 2.5
    assert s.trusted_proxies == ["10.1.2.3", "10.9.0.0/16"] and s.compute_queue == 3  # the rest from the env
    assert CliRunner().invoke(cli.app, ["serve", "--trusted-proxy", "not-an-ip"]).exit_code != 0
    text = CliRunner().invoke(cli.app, ["serve", "--help"], env={"COLUMNS": "200"}).output
    for option in ("--max-body-bytes", "--max-header-bytes", "--max-url-bytes", "--header-timeout", "--body-timeout",
                   "--keep-alive-timeout", "--max-connections", "--compute-workers", "--compute-queue",
                   "--trusted-proxy", "CHIPCAST_MAX_BODY_BYTES", "CHIPCAST_TRUSTED_PROXIES"):
        assert option in text, option
