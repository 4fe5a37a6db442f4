"""What a registered model carries so it loads anywhere: its code and its pinned requirements.

* **Code.** The ``forecasting`` and ``pipelines`` packages are shipped with the model (MLflow
  ``code_paths``, copied without ``__pycache__``), so ``models:/chipcast_forecaster@champion`` loads in an
  environment that has the requirements installed but not this repository.
* **Requirements.** Every distribution the shipped packages import, pinned to the version in
  ``requirements.lock`` (the lock ``make install`` installs). Optional extras imported lazily (Dask for
  ``--engine dask``) are not required to load or predict. If the lock is not next to the code (an
  installed, non-editable chipcast), the installed versions are pinned instead and a warning says so.
  ``tests/forecasting/test_registry_portable.py`` checks the list against the imports of the code.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
import shutil
from pathlib import Path

from pipelines.config import PROJECT_ROOT

log = logging.getLogger("chipcast.tracking")

#: the packages shipped with the model
CODE_PACKAGES = ("forecasting", "pipelines")
#: distributions imported by the shipped packages (import name -> distribution)
MODEL_DISTRIBUTIONS = {
    "mlflow": "mlflow",
    "polars": "polars",
    "numpy": "numpy",
    "pandas": "pandas",
    "statsforecast": "statsforecast",
    "utilsforecast": "utilsforecast",
    "pydantic": "pydantic",
    "pydantic_settings": "pydantic-settings",
    "matplotlib": "matplotlib",
    "httpx": "httpx",
    "typer": "typer",
    "rich": "rich",
}
#: imported only inside functions that need them (``--engine dask``); not needed to load or predict
OPTIONAL_IMPORTS = frozenset({"dask", "distributed"})
LOCK_FILE = PROJECT_ROOT / "requirements.lock"


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(lock: Path = LOCK_FILE) -> dict[str, str]:
    """``name==version`` lines of a pip lock file, by normalized name."""
    out = {}
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            out[_normal(name)] = version.strip()
    return out


def pip_requirements(lock: Path = LOCK_FILE) -> list[str]:
    """``dist==version`` for every model distribution, pinned as in the lock file."""
    dists = sorted(set(MODEL_DISTRIBUTIONS.values()))
    if lock.exists():
        pins = locked_versions(lock)
        missing = [d for d in dists if _normal(d) not in pins]
        if missing:
            raise RuntimeError(f"{lock} has no pin for {', '.join(missing)}: update the lock file")
        return [f"{d}=={pins[_normal(d)]}" for d in dists]
    log.warning("%s not found: pinning the model's requirements to the installed versions", lock)
    return [f"{d}=={importlib.metadata.version(d)}" for d in dists]


def stage_code(dst: Path) -> list[str]:
    """Copy the shipped packages (without caches) under ``dst``; returns the paths for ``code_paths``."""
    paths = []
    for pkg in CODE_PACKAGES:
        src = PROJECT_ROOT / pkg
        if not (src / "__init__.py").exists():
            import importlib

            src = Path(importlib.import_module(pkg).__file__ or "").parent
        target = dst / pkg
        shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        paths.append(str(target))
    return paths
