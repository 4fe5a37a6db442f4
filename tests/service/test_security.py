"""API keys, scopes, rate limits and CORS."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from service.config import Settings
from service.security import KeyRing, RateLimiter, key_id
from tests.service.conftest import ADMIN_KEY, READ_KEY, AppFactory, settings_for


def test_open_reads_need_no_key_but_reject_a_wrong_one(client: TestClient) -> None:
    assert client.get("/v1/series").status_code == 200
    r = client.get("/v1/series", headers={"X-API-Key": "wrong-key-0123456789"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


def test_closed_reads_require_a_read_or_admin_key(make_app: AppFactory) -> None:
    with TestClient(make_app(read_open=False)) as c:
        r = c.get("/v1/forecasts/capex_meta")
        assert r.status_code == 401 and "X-API-Key" in r.json()["error"]["message"]
        assert c.get("/v1/forecasts/capex_meta", headers={"X-API-Key": "x" * 20}).status_code == 401
        assert c.get("/v1/forecasts/capex_meta", headers={"X-API-Key": READ_KEY}).status_code == 200
        assert c.get("/v1/forecasts/capex_meta", headers={"X-API-Key": ADMIN_KEY}).status_code == 200
        assert c.post("/v1/scenarios", json={"scenario": "bull"}).status_code == 401
        # probes stay open
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").status_code == 200


@pytest.mark.parametrize(("method", "path"), [("post", "/v1/admin/reload"), ("post", "/v1/admin/retrain"),
                                              ("get", "/v1/admin/jobs/abc")])
def test_admin_routes_need_an_admin_key(client: TestClient, method: str, path: str) -> None:
    r = getattr(client, method)(path)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = getattr(client, method)(path, headers={"X-API-Key": "not-a-key-0123456789"})
    assert r.status_code == 401
    r = getattr(client, method)(path, headers={"X-API-Key": READ_KEY})
    assert r.status_code == 403 and r.json()["error"]["message"] == "this API key lacks the admin scope"


def test_admin_disabled_without_admin_keys(make_app: AppFactory) -> None:
    with TestClient(make_app(api_keys_admin=[])) as c:
        for headers in ({}, {"X-API-Key": READ_KEY}, {"X-API-Key": ADMIN_KEY}):
            r = c.post("/v1/admin/reload", headers=headers)
            assert r.status_code == 403
            assert r.json()["error"] == {"code": "admin_disabled",
                                         "message": "admin API disabled: set CHIPCAST_API_KEYS_ADMIN",
                                         "detail": None}


def test_rate_limit_answers_429_with_retry_after(make_app: AppFactory) -> None:
    with TestClient(make_app(rate_limit_per_minute=3)) as c:
        for _ in range(3):
            assert c.get("/v1/series?forecast=true").status_code == 200
        r = c.get("/v1/series?forecast=true")
        assert r.status_code == 429
        assert r.headers["retry-after"] == "20"
        assert r.json()["error"]["code"] == "rate_limited"
        # a keyed client has its own bucket; probes are never limited
        assert c.get("/v1/series?forecast=true", headers={"X-API-Key": READ_KEY}).status_code == 200
        assert c.get("/healthz").status_code == 200
        # guessing keys spends the caller's IP bucket
        assert c.get("/v1/series", headers={"X-API-Key": "guess-0123456789abcdef"}).status_code == 429


def test_token_bucket_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert limiter.acquire("a") == 0 and limiter.acquire("a") == 0
    assert limiter.acquire("a") == pytest.approx(1.0)
    assert limiter.acquire("b") == 0
    now[0] = 1.0
    assert limiter.acquire("a") == 0


def test_bucket_memory_is_bounded() -> None:
    limiter = RateLimiter(per_minute=60, burst=1, max_clients=3)
    for i in range(10):
        limiter.acquire(f"c{i}")
    assert len(limiter._buckets) == 3


def test_key_ring() -> None:
    ring = KeyRing(settings_for(read_open=False))
    assert READ_KEY in ring and ADMIN_KEY in ring and READ_KEY[:-1] not in ring
    reader, admin = ring.identify(READ_KEY, "10.0.0.1"), ring.identify(ADMIN_KEY, "10.0.0.1")
    assert reader.can_read and reader.scopes == {"read"} and reader.client_id == key_id(READ_KEY)
    assert admin.can_read and admin.scopes == {"read", "admin"}
    guess = ring.identify(READ_KEY[:-1], "10.0.0.1")
    assert not guess.can_read and not guess.key_valid and guess.client_id == "ip:10.0.0.1"
    assert not ring.identify(None, "10.0.0.1").can_read  # reads closed
    assert ring.identify("", "10.0.0.2").client_id == "ip:10.0.0.2"
    assert KeyRing(settings_for()).identify(None, "10.0.0.1").can_read  # reads open
    assert READ_KEY not in KeyRing(settings_for(api_keys_read=[]))


def test_cors_closed_by_default_and_configurable(client: TestClient, make_app: AppFactory) -> None:
    r = client.get("/v1/series", headers={"Origin": "https://dash.example"})
    assert "access-control-allow-origin" not in r.headers
    with TestClient(make_app(cors_origins=["https://dash.example"])) as c:
        r = c.get("/v1/series", headers={"Origin": "https://dash.example"})
        assert r.headers["access-control-allow-origin"] == "https://dash.example"
        pre = c.options("/v1/forecasts/capex_meta", headers={
            "Origin": "https://dash.example", "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "X-API-Key"})
        assert pre.status_code == 200
        r = c.get("/v1/series", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHIPCAST_API_KEYS_READ", f"{READ_KEY}, {ADMIN_KEY}")
    monkeypatch.setenv("CHIPCAST_API_KEYS_ADMIN", f'["{ADMIN_KEY}"]')
    monkeypatch.setenv("CHIPCAST_CORS_ORIGINS", "https://a.example,http://localhost:3000")
    monkeypatch.setenv("CHIPCAST_READ_OPEN", "false")
    monkeypatch.setenv("CHIPCAST_RATE_LIMIT_PER_MINUTE", "120")
    s = Settings()
    assert s.api_keys_read == [READ_KEY, ADMIN_KEY] and s.api_keys_admin == [ADMIN_KEY]
    assert s.cors_origins == ["https://a.example", "http://localhost:3000"]
    assert s.read_open is False and s.rate_limit_per_minute == 120 and s.bucket_size == 120


def test_settings_refuse_unsafe_values() -> None:
    with pytest.raises(ValidationError, match="shorter than 16") as info:
        settings_for(api_keys_admin=["tiny-key"])
    assert "tiny-key" not in str(info.value)  # settings errors end up in logs: never echo a key
    with pytest.raises(ValidationError, match="nobody could read"):
        Settings(read_open=False, api_keys_read=[], api_keys_admin=[])
    with pytest.raises(ValidationError, match="http"):
        settings_for(cors_origins=["dash.example"])


def test_uncached_computations_cost_more_tokens_than_cached_reads(make_app: AppFactory,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A caller flooding uncached horizon/level combinations runs dry COMPUTE_COST times sooner than one polling
    a cached read, the 429 comes before any work, and /healthz is never limited or slowed."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from service import logic
    from service.deps import COMPUTE_COST

    computed: list[int] = []
    real = logic.forecast_result

    def counting(*args: object, **kwargs: object) -> object:
        computed.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(logic, "forecast_result", counting)
    budget = 60
    with TestClient(make_app(rate_limit_per_minute=budget)) as c:
        # one client polls the same (cached) forecast, another floods new combinations
        cached_ok = 0
        while c.get("/v1/forecasts/capex_meta", headers={"X-API-Key": READ_KEY}).status_code == 200:
            cached_ok += 1
            assert cached_ok < 3 * budget
        computed.clear()  # the first poll built the default forecast once
        combos = [(h, lv) for lv in range(50, 100) for h in range(1, 13)]
        uncached_ok = 0
        first_429 = None
        for h, lv in combos:
            r = c.get("/v1/forecasts/capex_meta", params={"horizon": h, "level": lv})
            if r.status_code == 429:
                first_429 = r
                break
            assert r.status_code == 200
            uncached_ok += 1
        assert first_429 is not None and int(first_429.headers["retry-after"]) >= 1
        assert cached_ok >= budget - 2  # one token each
        assert uncached_ok <= budget // COMPUTE_COST + 1  # five tokens each
        assert len(computed) == uncached_ok  # refused before the work, not after
        # a repeat of a computed combination is a cached read again: the flooder can still poll it
        time.sleep(1.1)
        assert c.get("/v1/forecasts/capex_meta", params={"horizon": 1, "level": 50}).status_code == 200
        assert len(computed) == uncached_ok

        # under a concurrent flood of uncached requests, /healthz answers at once
        def flood(i: int) -> int:
            return c.get("/v1/forecasts/nvidia_datacenter_revenue", params={"horizon": 1 + i % 12,
                                                                             "level": 50 + i // 12}).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = pool.map(flood, range(200))
            probes = []
            for _ in range(20):
                t0 = time.perf_counter()
                assert c.get("/healthz").status_code == 200
                probes.append(time.perf_counter() - t0)
            assert set(statuses) <= {200, 429, 503}
        assert max(probes) < 0.5, probes


def test_token_bucket_charges_a_cost() -> None:
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=6, clock=lambda: now[0])
    assert limiter.acquire("a", 5) == 0
    assert limiter.acquire("a", 5) == pytest.approx(4.0)  # 1 token left, 4 more needed at 1/s; nothing taken
    assert limiter.acquire("a") == 0
    now[0] = 5.0
    assert limiter.acquire("a", 5) == 0
    assert limiter.acquire("b", 100) == 0  # more than a bucket costs a full bucket
    assert limiter.acquire("b") == pytest.approx(1.0)
