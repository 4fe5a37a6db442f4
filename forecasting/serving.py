"""What the service needs from a trained model, without knowing where it was stored."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from forecasting.forecaster import Forecaster


@dataclass
class LoadedModel:
    """A champion as the service holds it: the forecaster plus the registry facts it reports."""

    forecaster: Forecaster
    version: str
    run_id: str
    alias: str
    leaderboards: dict[str, pl.DataFrame] = field(default_factory=dict)
    loaded_at: str = ""
    source: str = "registry"  # "registry" or "local-cache" when the tracking server is unreachable
