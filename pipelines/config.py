"""Settings shared by every layer: where the data snapshot and the mutable state live."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: the project root when running from a checkout (editable install); data/ ships there.
PROJECT_ROOT = Path(__file__).resolve().parents[1]


class DataSettings(BaseSettings):
    """Paths and API credentials; every field can be set with a ``CHIPCAST_`` environment variable."""

    model_config = SettingsConfigDict(env_prefix="CHIPCAST_", extra="ignore")

    data_dir: Path = Field(default=PROJECT_ROOT / "data", description="immutable raw snapshot (data/)")
    state_dir: Path = Field(default=PROJECT_ROOT / ".state", description="local store, MLflow store, caches")
    fred_api_key: str | None = Field(default=None, description="FRED API key for `chipcast data fetch-fred`")
    sec_user_agent: str = Field(
        default="chipcast research contact@example.invalid",
        description="SEC EDGAR asks every client to identify itself with a User-Agent",
    )
    max_ingest_bytes: int = Field(default=5_000_000, gt=0, description="largest CSV `data ingest` accepts")

    @property
    def store_dir(self) -> Path:
        return self.state_dir / "store"


@lru_cache
def get_data_settings() -> DataSettings:
    return DataSettings()
