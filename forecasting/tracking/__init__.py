"""MLflow tracking, split the way mlforecast separates its flavor.

* ``settings``: where runs and models live (no mlflow import, no environment changes at import);
* ``flavor``: the pyfunc model class and its request/response contract;
* ``registry``: logging runs, registering versions, aliases, loading and promotion.

Only this package imports mlflow; ``forecasting.train`` produces the finished artifact it logs.
"""

from forecasting.tracking.registry import (
    ModelUnavailableError,
    PromotionResult,
    RegisteredRun,
    RegistryUnreachableError,
    list_models,
    load_model,
    load_pyfunc,
    log_training,
    promote,
    retrain_and_register,
    set_alias,
)
from forecasting.tracking.settings import TrackingSettings, get_tracking_settings

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
    "log_training",
    "promote",
    "retrain_and_register",
    "set_alias",
]
