"""API keys with read/admin scopes and a per-client token-bucket rate limit.

Keys are looked up by SHA-256 digest (see :class:`KeyRing`) and never stored outside the settings object:
buckets and logs only ever see a short hash of a key.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from service.config import Settings
from service.errors import ApiError

READ = "read"
ADMIN = "admin"
ADMIN_DISABLED = "admin API disabled: set CHIPCAST_API_KEYS_ADMIN"


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()


def key_id(presented: str) -> str:
    """A short, non-reversible name for a key: safe as a bucket id or in a log line."""
    return "key:" + _digest(presented).hex()[:12]


@dataclass(frozen=True)
class Principal:
    """Who is calling: a key (by hash) or an anonymous client (by IP), and what they may do."""

    client_id: str
    scopes: frozenset[str]
    authenticated: bool
    key_valid: bool = True

    @property
    def can_read(self) -> bool:
        return self.key_valid and READ in self.scopes


READ_SCOPES = frozenset({READ})
ADMIN_SCOPES = frozenset({READ, ADMIN})


class KeyRing:
    """The configured keys, held as SHA-256 digests with their scopes: one hash and one lookup per request.

    A presented key is hashed and its digest looked up, so the time taken depends on the digest, never on how
    much of a real key was guessed (finding a key from its digest is what SHA-256 makes infeasible), and the
    cost does not grow with the number of keys. Keys themselves are never kept here.
    """

    def __init__(self, settings: Settings) -> None:
        self._scopes: dict[bytes, frozenset[str]] = {_digest(k): READ_SCOPES for k in settings.api_keys_read}
        self._scopes.update({_digest(k): ADMIN_SCOPES for k in settings.api_keys_admin})
        self._anonymous = READ_SCOPES if settings.read_open else frozenset()

    def __contains__(self, presented: str) -> bool:
        return _digest(presented) in self._scopes

    def identify(self, presented: str | None, client_ip: str) -> Principal:
        """Scopes for the presented key; an unknown key is marked invalid but still gets a rate-limit identity."""
        if not presented:
            return Principal(f"ip:{client_ip}", self._anonymous, authenticated=False)
        digest = _digest(presented)
        scopes = self._scopes.get(digest)
        if scopes is None:
            # unknown keys share the caller's IP bucket, so guessing keys is rate limited too
            return Principal(f"ip:{client_ip}", frozenset(), authenticated=False, key_valid=False)
        return Principal("key:" + digest.hex()[:12], scopes, authenticated=True)


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

    def acquire(self, client_id: str, cost: float = 1.0) -> float:
        """Take ``cost`` tokens (1 per request; more for work beyond a cached read, see ``service.deps.Meter``).

        Returns 0 if allowed, else the seconds until that many tokens will be available (nothing is taken).
        A cost above the bucket size is charged as a full bucket, so it stays possible.
        """
        cost = min(cost, self.burst)
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(client_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= cost:
                self._buckets[client_id] = (tokens - cost, now)
                wait = 0.0
            else:
                self._buckets[client_id] = (tokens, now)
                wait = (cost - tokens) / self.rate
            self._buckets.move_to_end(client_id)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait

    def check(self, client_id: str) -> None:
        wait = self.acquire(client_id)
        if wait > 0:
            raise rate_limited(wait)


def rate_limited(wait: float) -> ApiError:
    """The 429 for a client whose next token is ``wait`` seconds away."""
    retry = max(1, math.ceil(wait))
    return ApiError(429, "rate_limited", f"rate limit exceeded; retry in {retry} s", {"retry_after_seconds": retry},
                    headers={"Retry-After": str(retry)})
