"""API keys with read/admin scopes and a per-client token-bucket rate limit.

Keys are compared in constant time (over digests, so a key's length does not leak either) and never
stored outside the settings object: buckets and logs only ever see a short hash of a key.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from service.config import Settings
from service.errors import ApiError

READ = "read"
ADMIN = "admin"
ADMIN_DISABLED = "admin API disabled: set CHIPCAST_API_KEYS_ADMIN"


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def key_matches(presented: str, keys: Sequence[str]) -> bool:
    """True if ``presented`` equals any of ``keys``; every key is compared, so timing says nothing."""
    p = _digest(presented)
    found = False
    for k in keys:
        found |= hmac.compare_digest(p, _digest(k))
    return found


def key_id(presented: str) -> str:
    """A short, non-reversible name for a key: safe as a bucket id or in a log line."""
    return "key:" + hashlib.sha256(presented.encode("utf-8")).hexdigest()[:12]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key (by hash) or an anonymous client (by IP), and what they may do."""

    client_id: str
    scopes: frozenset[str]
    authenticated: bool
    key_valid: bool = True


def identify(presented: str | None, client_ip: str, settings: Settings) -> Principal:
    """Scopes for the presented key; an unknown key is marked invalid but still gets a rate-limit identity."""
    if not presented:
        scopes = frozenset({READ}) if settings.read_open else frozenset()
        return Principal(f"ip:{client_ip}", scopes, authenticated=False)
    if key_matches(presented, settings.api_keys_admin):
        return Principal(key_id(presented), frozenset({READ, ADMIN}), authenticated=True)
    if key_matches(presented, settings.api_keys_read):
        return Principal(key_id(presented), frozenset({READ}), authenticated=True)
    # unknown keys share the caller's IP bucket, so guessing keys is rate limited too
    return Principal(f"ip:{client_ip}", frozenset(), authenticated=False, key_valid=False)


def require_read(principal: Principal) -> None:
    if not principal.key_valid:
        raise ApiError(401, "unauthorized", "invalid API key in X-API-Key")
    if READ not in principal.scopes:
        raise ApiError(401, "unauthorized", "an API key with read scope is required in X-API-Key")


def require_admin(principal: Principal, settings: Settings) -> None:
    """Admin routes are never open: with no admin key configured they are refused outright."""
    if not settings.api_keys_admin:
        raise ApiError(403, "admin_disabled", ADMIN_DISABLED)
    if not principal.key_valid:
        raise ApiError(401, "unauthorized", "invalid API key in X-API-Key")
    if not principal.authenticated:
        raise ApiError(401, "unauthorized", "an API key with admin scope is required in X-API-Key")
    if ADMIN not in principal.scopes:
        raise ApiError(403, "forbidden", "this API key lacks the admin scope")


class RateLimiter:
    """Token buckets per client: ``per_minute`` sustained, ``burst`` at once.

    Memory is bounded: the least recently seen buckets are dropped past ``max_clients`` (a dropped
    client simply starts again with a full bucket).
    """

    def __init__(
        self,
        per_minute: int,
        burst: int,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, client_id: str) -> float:
        """Take one token; returns 0 if allowed, else the seconds until a token will be available."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(client_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[client_id] = (tokens - 1.0, now)
                wait = 0.0
            else:
                self._buckets[client_id] = (tokens, now)
                wait = (1.0 - tokens) / self.rate
            self._buckets.move_to_end(client_id)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait

    def check(self, client_id: str) -> None:
        wait = self.acquire(client_id)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise ApiError(
                429,
                "rate_limited",
                f"rate limit exceeded; retry in {retry} s",
                {"retry_after_seconds": retry},
                headers={"Retry-After": str(retry)},
            )
