"""Service settings: who may call the API, how fast, from which browser origins, how long to cache, and what
one request, one connection and one process may use.

Every field is read from a ``CHIPCAST_`` environment variable. List fields accept either JSON
(``["a","b"]``) or a comma-separated string, because that is what people type into a shell or a compose
file. Validators refuse settings that would silently weaken access control.
"""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: shorter keys are guessable within a rate-limit window's lifetime; refuse them at startup.
MIN_API_KEY_LENGTH = 16
KIB = 1024
MIB = 1024 * KIB


def _split_list(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """HTTP-facing configuration; data and model locations live in the pipelines/tracking settings."""

    model_config = SettingsConfigDict(env_prefix="CHIPCAST_", extra="ignore", hide_input_in_errors=True)

    api_keys_read: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="keys allowed to call read (GET /v1/...) routes"
    )
    api_keys_admin: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="keys allowed to call /v1/admin/*; empty disables the admin API"
    )
    read_open: bool = Field(
        default=True, description="allow anonymous reads (local demo); set false to require a read or admin key"
    )
    rate_limit_per_minute: int = Field(default=600, gt=0, description="sustained requests per minute per client")
    rate_limit_burst: int | None = Field(
        default=None, gt=0, description="bucket size; defaults to rate_limit_per_minute"
    )
    rate_limit_max_clients: int = Field(
        default=10_000, gt=0, description="buckets kept in memory before idle ones are evicted"
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="browser origins allowed by CORS; empty means closed"
    )
    forecast_max_age: int = Field(
        default=60, ge=0, description="Cache-Control max-age (s) for forecasts, outlooks, backtests, models"
    )
    catalog_max_age: int = Field(default=300, ge=0, description="Cache-Control max-age (s) for the catalog and history")
    max_levels: int = Field(default=4, ge=1, le=10, description="most interval levels one forecast request may ask")
    scenario_cache_entries: int = Field(
        default=128, ge=1, le=10_000, description="scenario results kept per process (LRU, cleared on reload)"
    )
    scenario_cache_bytes: int = Field(default=32 * MIB, ge=0, description="bytes of scenario results kept (LRU)")
    response_cache_entries: int = Field(
        default=1024, ge=1, description="serialized read responses kept (LRU, cleared on reload); also bounds the "
                                        "index of raw requests answered straight from those bytes"
    )
    response_cache_bytes: int = Field(default=64 * MIB, ge=0, description="bytes of serialized read responses kept")
    chart_cache_entries: int = Field(default=64, ge=1, description="PNG charts kept (LRU, cleared on reload)")
    chart_cache_bytes: int = Field(default=32 * MIB, ge=0, description="bytes of PNG charts kept")

    # ---- what one request and one connection may use (enforced before the body is parsed or a key checked)
    max_body_bytes: int = Field(default=64 * KIB, ge=0, description="largest request body; larger answers 413")
    max_header_bytes: int = Field(
        default=32 * KIB, ge=1 * KIB, description="largest request head (request line + headers); larger answers 431"
    )
    max_url_bytes: int = Field(default=8 * KIB, ge=256, description="longest request target; longer answers 414")
    header_timeout: float = Field(
        default=10.0, gt=0, description="seconds a client has to complete a request head, from its first byte "
                                        "(or from connecting); then 408 and the connection is closed"
    )
    body_timeout: float = Field(
        default=30.0, gt=0, description="seconds a client has to send a whole request body; then 408 and close"
    )
    keep_alive_timeout: int = Field(default=5, ge=1, description="seconds an idle keep-alive connection is kept")
    max_connections: int = Field(
        default=1024, ge=1, description="open connections per process; more are answered 503 and closed at once"
    )
    compute_workers: int = Field(
        default=1, ge=1, le=64, description="threads running on-demand model work (uncached forecasts, charts, "
                                            "scenarios); nothing else runs there"
    )
    compute_queue: int = Field(
        default=8, ge=0, description="on-demand computations allowed to wait for a compute thread; beyond it 503 "
                                     "with Retry-After"
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For "
                                          "and X-Forwarded-Proto are believed; empty: the TCP peer is the client"
    )

    @field_validator("api_keys_read", "api_keys_admin", "cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _lists_from_env(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("api_keys_read", "api_keys_admin")
    @classmethod
    def _keys_long_enough(cls, keys: list[str]) -> list[str]:
        short = [k for k in keys if len(k) < MIN_API_KEY_LENGTH]
        if short:
            # never echo the key itself: settings errors end up in logs
            raise ValueError(f"{len(short)} API key(s) shorter than {MIN_API_KEY_LENGTH} characters")
        return keys

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_urls(cls, origins: list[str]) -> list[str]:
        bad = [o for o in origins if o != "*" and not o.startswith(("http://", "https://"))]
        if bad:
            raise ValueError(f"CORS origins must start with http:// or https://, got {bad}")
        return origins

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, proxies: list[str]) -> list[str]:
        bad = []
        for p in proxies:
            if p == "*":
                continue
            try:
                ipaddress.ip_network(p, strict=False)
            except ValueError:
                bad.append(p)
        if bad:
            raise ValueError(f"trusted proxies must be IP addresses, CIDR networks or '*', got {bad}")
        return proxies

    @model_validator(mode="after")
    def _url_fits_in_head(self) -> Settings:
        if self.max_url_bytes > self.max_header_bytes:
            raise ValueError(f"max_url_bytes ({self.max_url_bytes}) exceeds max_header_bytes ({self.max_header_bytes})")
        return self

    @model_validator(mode="after")
    def _closed_reads_need_keys(self) -> Settings:
        if not self.read_open and not (self.api_keys_read or self.api_keys_admin):
            raise ValueError("read_open is false but no API keys are configured: nobody could read")
        return self

    @property
    def bucket_size(self) -> int:
        return self.rate_limit_burst or self.rate_limit_per_minute


@lru_cache
def get_settings() -> Settings:
    return Settings()
