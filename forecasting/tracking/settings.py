"""Where runs and registered models live. No mlflow import here, and no environment changes at import."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field

from pipelines.config import PROJECT_ROOT, DataSettings

#: applied when a client is created, only where the operator has not set them: a tracking server that is
#: down should be noticed in seconds (then the local champion copy serves), not after minutes of retries
MLFLOW_CLIENT_DEFAULTS = {
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}


class TrackingSettings(DataSettings):
    mlflow_tracking_uri: str | None = Field(
        default=None,
        validation_alias=AliasChoices("CHIPCAST_MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_URI"),
        description="tracking server URI; default: sqlite store under the state dir",
    )
    models_dir: Path = Field(default=PROJECT_ROOT / "models", description="artifact root for the local store")
    experiment: str = "chipcast"
    registered_model: str = "chipcast_forecaster"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{(self.state_dir / 'mlflow.db').resolve()}"

    @property
    def is_local(self) -> bool:
        return self.tracking_uri.startswith(("sqlite:", "file:")) or "://" not in self.tracking_uri

    @property
    def champion_cache(self) -> Path:
        """Directory of local champion copies (see ``forecasting.tracking.cache``); may be its own volume."""
        return self.state_dir / "champion_cache"

    @property
    def scratch_root(self) -> Path:
        """Where tracking code makes its temporary directories (``chipcast-<kind>-<pid>-*``)."""
        return self.state_dir / "tmp"


@lru_cache
def get_tracking_settings() -> TrackingSettings:
    return TrackingSettings()


def apply_client_defaults() -> None:
    """Set MLflow's client timeouts for this process unless the operator chose their own."""
    for key, value in MLFLOW_CLIENT_DEFAULTS.items():
        os.environ.setdefault(key, value)
