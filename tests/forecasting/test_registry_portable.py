"""The registered model is portable: its code, pinned requirements and full signature travel with it."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from forecasting.tracking import TrackingSettings, load_pyfunc, log_training, promote
from forecasting.tracking.flavor import predict_requests
from forecasting.tracking.packaging import MODEL_DISTRIBUTIONS, OPTIONAL_IMPORTS, locked_versions, pip_requirements
from forecasting.train import TrainResult
from pipelines.config import PROJECT_ROOT


def _imported_top_level(pkg: str) -> set[str]:
    names = set()
    for path in (PROJECT_ROOT / pkg).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def test_requirements_cover_every_import_of_the_shipped_code_pinned_as_locked() -> None:
    third_party = {n for pkg in ("forecasting", "pipelines") for n in _imported_top_level(pkg)
                   if n not in sys.stdlib_module_names and n not in ("forecasting", "pipelines", "__future__")}
    assert third_party - OPTIONAL_IMPORTS == set(MODEL_DISTRIBUTIONS)
    lock = locked_versions()
    reqs = pip_requirements()
    assert {r.split("==")[0] for r in reqs} == set(MODEL_DISTRIBUTIONS.values())
    for r in reqs:
        name, version = r.split("==")
        assert lock[name.lower()] == version
        assert importlib.metadata.version(name) == version  # the lock is what is installed here


@pytest.fixture(scope="module")
def registered(small_train: TrainResult, tmp_path_factory: pytest.TempPathFactory) -> TrackingSettings:
    root = tmp_path_factory.mktemp("portable")
    s = TrackingSettings(state_dir=root / "state", models_dir=root / "models")
    log_training(small_train, s)
    promote(settings=s)
    return s


def _model_dir(s: TrackingSettings) -> Path:
    return next(s.models_dir.rglob("MLmodel")).parent


def test_logged_model_ships_code_requirements_and_signature(registered: TrackingSettings) -> None:
    d = _model_dir(registered)
    assert (d / "code" / "forecasting" / "artifact.py").exists() and (d / "code" / "pipelines" / "catalog.py").exists()
    assert not list((d / "code").rglob("__pycache__"))
    reqs = (d / "requirements.txt").read_text().split()
    assert reqs == pip_requirements()
    assert not any(r.startswith("chipcast") for r in reqs)
    mlmodel = yaml.safe_load((d / "MLmodel").read_text())
    sig = mlmodel["signature"]
    inputs = {c["name"]: c for c in json.loads(sig["inputs"])}
    assert inputs["unique_id"]["required"] and not inputs["h"]["required"] and not inputs["level"]["required"]
    assert [c["name"] for c in json.loads(sig["outputs"])] == ["series_id", "ds", "value", "intervals"]
    params = {p["name"]: p for p in json.loads(sig["params"])}
    assert params["level"]["default"] == "80,95" and params["h"]["default"] is None


def test_pyfunc_defaults_optional_inputs_and_refuses_bad_requests(
    registered: TrackingSettings, small_train: TrainResult
) -> None:
    model = load_pyfunc("champion", registered)
    out = model.predict(pd.DataFrame({"unique_id": ["capex_meta"]}))
    default = small_train.forecaster.result("capex_meta")
    assert len(out) == default.horizon and list(out.columns) == ["series_id", "ds", "value", "intervals"]
    short = model.predict(pd.DataFrame({"unique_id": ["capex_meta"]}), params={"h": 3, "level": "90"})
    assert len(short) == 3 and [iv["level"] for iv in short["intervals"][0]] == [90]
    expected = predict_requests(small_train.forecaster, pd.DataFrame({"unique_id": ["capex_meta"], "h": [3],
                                                                      "level": ["90"]}))
    assert short["value"].tolist() == expected["value"].tolist()
    with pytest.raises(Exception, match="unique_id"):
        model.predict(pd.DataFrame({"series": ["capex_meta"]}))


FRESH_SCRIPT = """
import json, sys, time
try:
    import forecasting  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("forecasting is importable before the model is loaded: not a fresh environment")
import mlflow, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
t0 = time.perf_counter()
model = mlflow.pyfunc.load_model("models:/chipcast_forecaster@champion")
load_s = time.perf_counter() - t0
out = model.predict(pd.DataFrame({"unique_id": ["capex_meta", "wsts_memory_sales_annual"], "h": [3, 2]}))
import forecasting
print(json.dumps({"load_s": load_s, "values": out["value"].tolist(), "forecasting_from": forecasting.__file__}))
"""


@pytest.mark.slow
def test_champion_loads_and_predicts_in_a_fresh_virtualenv_without_the_repository(
    registered: TrackingSettings, small_train: TrainResult, tmp_path: Path
) -> None:
    """A venv whose packages come from the project's venv through a .pth file, minus the editable chipcast.

    A path added by a ``.pth`` line is not itself scanned for ``.pth`` files, so the editable finder that
    maps ``forecasting`` to this checkout never runs there; the script checks ``import forecasting``
    fails before the model is loaded and that it then comes from the model's own ``code/`` directory.
    """
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    t0 = time.perf_counter()
    done = subprocess.run([str(py), "-c", FRESH_SCRIPT, registered.tracking_uri], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    total = time.perf_counter() - t0
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert "/code/forecasting/" in got["forecasting_from"] and str(PROJECT_ROOT) not in got["forecasting_from"]
    expected = predict_requests(small_train.forecaster, pd.DataFrame(
        {"unique_id": ["capex_meta", "wsts_memory_sales_annual"], "h": [3, 2]}))
    assert got["values"] == expected["value"].tolist()
    print(f"fresh venv: model load {got['load_s']:.2f} s, whole subprocess {total:.1f} s")
