"""What the service needs from a trained model, without knowing where it was stored."""

from __future__ import annotations

from dataclasses import dataclass

from forecasting.artifact import Forecaster

#: ``LoadedModel.source`` when the registry could not be reached and the local champion copy was loaded
LOCAL_CACHE = "local-cache"


@dataclass
class LoadedModel:
    """A champion as the service holds it: the forecaster plus the registry facts it reports."""

    forecaster: Forecaster
    version: str
    run_id: str
    alias: str
    loaded_at: str = ""
    source: str = "registry"  # "registry", or LOCAL_CACHE when the tracking server is unreachable

    def metadata(self) -> dict[str, str]:
        """Registry facts shown beside every forecast (the ``model`` field of the one result shape)."""
        meta = self.forecaster.meta
        return {"version": self.version, "run_id": self.run_id, "alias": self.alias, "trained_at": meta.trained_at,
                "data_hash": meta.data_hash, "as_of": meta.as_of, "source": self.source,
                "loaded_at": self.loaded_at}
