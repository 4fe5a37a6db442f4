"""MLflow tracking, split the way mlforecast separates its flavor.

* ``settings``: where runs and models live (no mlflow import, no environment changes at import);
* ``flavor``: the pyfunc model class and its request/response contract;
* ``packaging``: the code and pinned requirements a registered model carries;
* ``merge``: partial retrains carry the champion's other series;
* ``gate``: the promotion evidence (champion as registered vs challenger, on data neither was chosen on);
* ``cache``: the local champion copy, written off the critical path;
* ``workdirs``: scratch directories that a later start can clean;
* ``registry``: logging runs, registering versions, aliases, loading and promotion.

Only this package imports mlflow; ``forecasting.train`` produces the finished artifact it logs. Names are
imported lazily, so loading a registered model (``model_code.py`` -> ``flavor``) does not import the
training code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from forecasting.tracking.registry import (
        ModelUnavailableError,
        PromotionResult,
        RegisteredRun,
        RegistryUnreachableError,
        list_models,
        load_model,
        load_pyfunc,
        log_backtest,
        log_forecast,
        log_training,
        promote,
        recover,
        retrain_and_register,
        set_alias,
    )
    from forecasting.tracking.settings import TrackingSettings, get_tracking_settings

_SETTINGS = ("TrackingSettings", "get_tracking_settings")
_REGISTRY = (
    "ModelUnavailableError",
    "PromotionResult",
    "RegisteredRun",
    "RegistryUnreachableError",
    "list_models",
    "load_model",
    "load_pyfunc",
    "log_backtest",
    "log_forecast",
    "log_training",
    "promote",
    "recover",
    "retrain_and_register",
    "set_alias",
)
__all__ = [
    "ModelUnavailableError",
    "PromotionResult",
    "RegisteredRun",
    "RegistryUnreachableError",
    "TrackingSettings",
    "get_tracking_settings",
    "list_models",
    "load_model",
    "load_pyfunc",
    "log_backtest",
    "log_forecast",
    "log_training",
    "promote",
    "recover",
    "retrain_and_register",
    "set_alias",
]


def __getattr__(name: str) -> Any:
    if name in _SETTINGS:
        return getattr(importlib.import_module("forecasting.tracking.settings"), name)
    if name in _REGISTRY:
        return getattr(importlib.import_module("forecasting.tracking.registry"), name)
    raise AttributeError(f"module 'forecasting.tracking' has no attribute '{name}'")
