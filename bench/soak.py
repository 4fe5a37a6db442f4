"""Soak test: chipcast under uvicorn on loopback, driven at a fixed request rate for a fixed time.

The server runs in a subprocess, served as ``chipcast serve`` serves it (one uvicorn worker, access log off),
with a small champion trained on the real embedded data, keys and a rate limit set through the usual
``CHIPCAST_*`` environment variables,
and a model loader that hands out a new version on every load, so the admin reload in the middle of the
run really swaps the model (and every ETag changes).

The load is open-loop: request ``i`` is due at ``i / rate`` seconds, whatever happened before, with at
most ``--concurrency`` in flight (a saturated server shows up as schedule lag, not as a lower rate). The
mix is what dashboards and scripts do: forecast, outlook and history GETs that revalidate with
``If-None-Match``, the series list, and scenario POSTs whose body is the example the live OpenAPI
schema gives. Traffic is spread over enough read keys that no key goes above half its limit; at the end
one other key sends a burst above its bucket, which must meet 429s.

Reported: requests, errors (5xx or connection errors; must be 0), 304 ratio, p50/p99 latency and server
RSS per window, 429s, the reload, the burst. Exit status 1 if there were errors, the reload failed or the
burst was not limited.

    .venv/bin/python bench/soak.py                         # 50 req/s for 600 s
    .venv/bin/python bench/soak.py --duration 60 --window 10
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
#: the service tests' two champions in one: an annual series, quarterly ones, one with a capex driver, and
#: the capex and memory series the HBM scenarios need
SERIES = ("wsts_memory_sales_annual", "capex_meta", "nvidia_datacenter_revenue", "capex_hyperscalers_total",
          "micron_revenue", "skhynix_revenue")
#: request mix (kind -> weight); scenario POSTs are dropped if the schema offers no example body
MIX = {"forecast": 40, "outlook": 20, "history": 20, "series": 10, "scenario": 10}
REQUEST_TIMEOUT = 30.0

LAUNCHER = r"""
import itertools
import sys
from datetime import UTC, datetime

from forecasting.serving import LoadedModel
from forecasting.train import train
from pipelines.config import PROJECT_ROOT
from pipelines.panel import load_panel
from service.config import Settings
from service.main import create_app
from service.server import serve_app

port, series = int(sys.argv[1]), sys.argv[2].split(",")
data_dir = PROJECT_ROOT / "data"
result = train(series, data_dir=data_dir)  # a finished artifact: nothing left to precompute
versions = itertools.count(1)


def load_model() -> LoadedModel:
    version = str(next(versions))  # every (re)load is a new version, so a reload changes every ETag
    return LoadedModel(
        forecaster=result.forecaster,
        version=version,
        run_id=f"soak-{version}",
        alias="champion",
        loaded_at=datetime.now(UTC).isoformat(),
        source="registry",
    )


# keys, read_open, the rate limit and the connection limits come from CHIPCAST_* in the environment
settings = Settings()
app = create_app(settings, model_loader=load_model, models_lister=lambda: [], retrainer=lambda: None,
                 panel_loader=lambda: load_panel(data_dir=data_dir))
serve_app(app, settings, "127.0.0.1", port, log_level="warning", access_log=False)  # as `chipcast serve` does
"""


@dataclass(frozen=True)
class SoakConfig:
    rate: float = 50.0
    duration: float = 600.0
    concurrency: int = 16
    window: float = 60.0
    rate_limit_per_minute: int = 600
    rate_limit_burst: int = 60
    series: tuple[str, ...] = SERIES
    startup_timeout: float = 300.0
    #: seconds after the start of traffic; default: the middle of the run
    reload_at: float | None = None

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.duration <= 0 or self.window <= 0:
            raise ValueError("rate, duration and window must be positive")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.rate * self.duration > 1_000_000:
            raise ValueError("more than 1,000,000 requests: lower --rate or --duration")

    @property
    def keys_needed(self) -> int:
        """Read keys so that each one stays at or below half of its per-minute limit."""
        return max(1, math.ceil(self.rate * 60 / (0.5 * self.rate_limit_per_minute)))


@dataclass(frozen=True)
class Sample:
    at: float  # scheduled time (s from the start of traffic)
    kind: str
    status: int  # 0: connection error or timeout
    latency: float
    conditional: bool = False


@dataclass
class WindowStats:
    start: float
    end: float
    requests: int
    errors: int
    not_modified: int
    p50_ms: float
    p99_ms: float
    rss_mb: float | None


@dataclass
class SoakReport:
    config: SoakConfig
    samples: list[Sample] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)
    rss_start: int = 0
    rss_end: int = 0
    elapsed: float = 0.0
    max_lag: float = 0.0
    read_keys: int = 0
    scenario_body: Any = None
    reload_status: int | None = None
    reload_from: str | None = None
    reload_to: str | None = None
    reload_at: float | None = None
    burst_size: int = 0
    burst_status: Counter[int] = field(default_factory=Counter)
    burst_retry_after: bool = False
    server_log_tail: str = ""

    # ------------------------------------------------------------------------------------- derived numbers

    @property
    def total(self) -> int:
        return len(self.samples)

    @property
    def errors(self) -> int:
        return sum(1 for s in self.samples if s.status == 0 or s.status >= 500)

    @property
    def connection_errors(self) -> int:
        return sum(1 for s in self.samples if s.status == 0)

    @property
    def soak_429(self) -> int:
        return sum(1 for s in self.samples if s.status == 429)

    @property
    def scenario_4xx(self) -> int:
        return sum(1 for s in self.samples if s.kind == "scenario" and 400 <= s.status < 500 and s.status != 429)

    @property
    def unexpected_4xx(self) -> int:
        """4xx other than 429 outside the scenario route: a broken request mix or a changed route."""
        return sum(1 for s in self.samples if s.kind != "scenario" and 400 <= s.status < 500 and s.status != 429)

    @property
    def conditional(self) -> int:
        return sum(1 for s in self.samples if s.conditional)

    @property
    def not_modified(self) -> int:
        return sum(1 for s in self.samples if s.status == 304)

    @property
    def ratio_304(self) -> float:
        return self.not_modified / self.conditional if self.conditional else 0.0

    @property
    def burst_429(self) -> int:
        return self.burst_status.get(429, 0)

    @property
    def rss_growth(self) -> float:
        return (self.rss_end - self.rss_start) / self.rss_start if self.rss_start else 0.0

    @property
    def reloaded(self) -> bool:
        return self.reload_status == 200 and self.reload_to is not None and self.reload_to != self.reload_from

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.reloaded and self.burst_429 > 0

    def by_kind(self) -> dict[str, Counter[int]]:
        out: dict[str, Counter[int]] = {}
        for s in self.samples:
            out.setdefault(s.kind, Counter())[s.status] += 1
        return out

    def windows(self) -> list[WindowStats]:
        w = self.config.window
        n = max(1, math.ceil(self.config.duration / w))
        out = []
        for i in range(n):
            lo, hi = i * w, min((i + 1) * w, self.config.duration)
            inside = [s for s in self.samples if lo <= s.at < hi]
            lat = sorted(s.latency for s in inside if s.status != 0)
            rss = [r for t, r in self.rss if lo <= t < hi]
            out.append(WindowStats(
                lo, hi, len(inside),
                sum(1 for s in inside if s.status == 0 or s.status >= 500),
                sum(1 for s in inside if s.status == 304),
                percentile(lat, 50) * 1000, percentile(lat, 99) * 1000,
                rss[-1] / 2**20 if rss else None,
            ))
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.total,
            "errors": self.errors,
            "connection_errors": self.connection_errors,
            "ratio_304": round(self.ratio_304, 4),
            "soak_429": self.soak_429,
            "scenario_4xx": self.scenario_4xx,
            "unexpected_4xx": self.unexpected_4xx,
            "reloaded": self.reloaded,
            "reload_versions": [self.reload_from, self.reload_to],
            "burst_size": self.burst_size,
            "burst_429": self.burst_429,
            "rss_start_mb": round(self.rss_start / 2**20, 1),
            "rss_end_mb": round(self.rss_end / 2**20, 1),
            "rss_growth_pct": round(100 * self.rss_growth, 1),
            "max_schedule_lag_ms": round(self.max_lag * 1000, 1),
            "ok": self.ok,
        }

    def format(self) -> str:
        c = self.config
        lines = [
            f"soak: {self.total} requests in {self.elapsed:.1f} s (target {c.rate:g} req/s for {c.duration:g} s), "
            f"concurrency {c.concurrency}, {self.read_keys} read key(s), limit {c.rate_limit_per_minute}/min "
            f"burst {c.rate_limit_burst}",
            f"{'window':>13} {'reqs':>6} {'errors':>6} {'304':>6} {'p50 ms':>8} {'p99 ms':>8} {'rss MB':>8}",
        ]
        for ws in self.windows():
            rss = f"{ws.rss_mb:8.1f}" if ws.rss_mb is not None else f"{'-':>8}"
            lines.append(f"{f'{ws.start:g}-{ws.end:g}s':>13} {ws.requests:6d} {ws.errors:6d} {ws.not_modified:6d} "
                         f"{ws.p50_ms:8.1f} {ws.p99_ms:8.1f} {rss}")
        for kind, statuses in sorted(self.by_kind().items()):
            lat = sorted(s.latency for s in self.samples if s.kind == kind and s.status != 0)
            counts = ", ".join(f"{k or 'conn-error'}: {v}" for k, v in sorted(statuses.items()))
            lines.append(f"  {kind:9s} p50 {percentile(lat, 50) * 1000:6.1f} ms  "
                         f"p99 {percentile(lat, 99) * 1000:6.1f} ms  {counts}")
        lines += [
            f"errors (5xx or connection): {self.errors} (connection/timeouts {self.connection_errors})",
            f"304 ratio of conditional GETs: {self.ratio_304:.3f} ({self.not_modified}/{self.conditional})",
            f"429 during soak traffic: {self.soak_429}",
            f"scenario 4xx (body refused by the route): {self.scenario_4xx}; body "
            + (json.dumps(self.scenario_body) if self.scenario_body is not None
               else "none (no example body in the schema: scenarios skipped)"),
            f"unexpected 4xx on other routes: {self.unexpected_4xx}",
            f"reload at {self.reload_at if self.reload_at is not None else float('nan'):.1f} s: "
            f"status {self.reload_status}, version {self.reload_from} -> {self.reload_to}",
            f"burst from one key: {self.burst_size} requests -> "
            + ", ".join(f"{k or 'conn-error'}: {v}" for k, v in sorted(self.burst_status.items()))
            + f"; Retry-After on every 429: {'yes' if self.burst_retry_after else 'no'}",
            f"server RSS: start {self.rss_start / 2**20:.1f} MB, end {self.rss_end / 2**20:.1f} MB "
            f"({100 * self.rss_growth:+.1f}%), max {max((r for _, r in self.rss), default=0) / 2**20:.1f} MB",
            f"max schedule lag: {self.max_lag * 1000:.1f} ms",
            f"RESULT: {'OK' if self.ok else 'FAIL'}",
        ]
        if not self.ok and self.server_log_tail:
            lines += ["server log (tail):", self.server_log_tail]
        return "\n".join(lines)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    k = max(0, math.ceil(q / 100 * len(sorted_values)) - 1)
    return sorted_values[min(k, len(sorted_values) - 1)]


# ------------------------------------------------------------------------------------------ the server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base: str
    log_path: Path
    read_keys: list[str]
    burst_key: str
    admin_key: str

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def start_server(cfg: SoakConfig, workdir: Path) -> Server:
    read_keys = [f"soak-read-{secrets.token_hex(12)}" for _ in range(cfg.keys_needed)]
    burst_key = f"soak-burst-{secrets.token_hex(12)}"
    admin_key = f"soak-admin-{secrets.token_hex(12)}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CHIPCAST_STATE_DIR": str(workdir / "state"),
        "CHIPCAST_MODELS_DIR": str(workdir / "models"),
        "CHIPCAST_API_KEYS_READ": ",".join([*read_keys, burst_key]),
        "CHIPCAST_API_KEYS_ADMIN": admin_key,
        "CHIPCAST_READ_OPEN": "false",
        "CHIPCAST_RATE_LIMIT_PER_MINUTE": str(cfg.rate_limit_per_minute),
        "CHIPCAST_RATE_LIMIT_BURST": str(cfg.rate_limit_burst),
        "CHIPCAST_CORS_ORIGINS": "",
    }
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "CHIPCAST_MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    port = free_port()
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:  # a file, not a pipe: a full pipe would stall the server mid-soak
        proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(port), ",".join(cfg.series)],
                                cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    server = Server(proc, f"http://127.0.0.1:{port}", log_path, read_keys, burst_key, admin_key)
    deadline = time.monotonic() + cfg.startup_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            if httpx.get(server.base + "/readyz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    stop_server(server)
    raise RuntimeError(f"server not ready within {cfg.startup_timeout:g} s:\n{server.log_tail()}")


def stop_server(server: Server) -> None:
    proc = server.proc
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


# ------------------------------------------------------------------------------------------ the load


def scenario_bodies(openapi: dict[str, Any]) -> list[Any]:
    """Every example body the live schema documents for POST /v1/scenarios (empty if it documents none)."""
    op = openapi.get("paths", {}).get("/v1/scenarios", {}).get("post")
    if not op:
        return []
    media = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    bodies = [ex["value"] for ex in media.get("examples", {}).values() if "value" in ex]
    if "example" in media:
        bodies.append(media["example"])
    ref = media.get("schema", {}).get("$ref", "")
    schema = openapi.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[-1], {}) if ref else {}
    bodies += schema.get("examples") or ([schema["example"]] if "example" in schema else [])
    return bodies


def request_plan(cfg: SoakConfig, body: Any) -> list[tuple[str, str, str]]:
    """One cycle of (kind, method, path), interleaved so each kind recurs at an even pace."""
    paths = {
        "forecast": [f"/v1/forecasts/{s}" for s in cfg.series],
        "outlook": [f"/v1/forecasts/{s}/outlook" for s in cfg.series],
        "history": [f"/v1/series/{s}/history" for s in cfg.series],
        "series": ["/v1/series"],
        "scenario": ["/v1/scenarios"] if body is not None else [],
    }
    slots: list[tuple[float, str, str, str]] = []
    for kind, weight in MIX.items():
        for j in range(weight if paths[kind] else 0):
            path = paths[kind][j % len(paths[kind])]
            slots.append(((j + 0.5) / weight, kind, "POST" if kind == "scenario" else "GET", path))
    return [(kind, method, path) for _, kind, method, path in sorted(slots)]


async def _sample_rss(pid: int, t0: float, out: list[tuple[float, int]], stop: asyncio.Event) -> None:
    proc = psutil.Process(pid)
    while not stop.is_set():
        try:
            out.append((time.monotonic() - t0, proc.memory_info().rss))
        except psutil.Error:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)


async def _burst(client: httpx.AsyncClient, server: Server, cfg: SoakConfig, report: SoakReport,
                 path: str) -> None:
    """More requests than one key's bucket holds, as fast as the concurrency allows."""
    n = cfg.rate_limit_burst + max(20, cfg.rate_limit_burst // 2)
    sem = asyncio.Semaphore(cfg.concurrency)
    retry_after: list[bool] = []

    async def one() -> None:
        async with sem:
            try:
                r = await client.get(path, headers={"X-API-Key": server.burst_key})
            except httpx.HTTPError:
                report.burst_status[0] += 1
                return
            report.burst_status[r.status_code] += 1
            if r.status_code == 429:
                retry_after.append("retry-after" in r.headers)

    await asyncio.gather(*(one() for _ in range(n)))
    report.burst_size = n
    report.burst_retry_after = bool(retry_after) and all(retry_after)


async def _drive(server: Server, cfg: SoakConfig, report: SoakReport) -> None:
    limits = httpx.Limits(max_connections=cfg.concurrency + 2, max_keepalive_connections=cfg.concurrency + 2)
    async with httpx.AsyncClient(base_url=server.base, limits=limits, timeout=REQUEST_TIMEOUT) as client:
        admin = {"X-API-Key": server.admin_key}
        warm = {"X-API-Key": server.read_keys[0]}
        openapi = (await client.get("/openapi.json", headers=warm)).json()
        # the first documented example the route accepts; else the first one (its 4xx are counted apart)
        bodies = scenario_bodies(openapi)
        body = bodies[0] if bodies else None
        for candidate in bodies:
            if (await client.post("/v1/scenarios", headers=warm, json=candidate)).status_code == 200:
                body = candidate
                break
        report.scenario_body = body
        plan = request_plan(cfg, body)
        etags: dict[str, str] = {}
        # warm up every route once (first render, connection setup); primes the ETags a dashboard would hold
        for kind, method, path in dict.fromkeys(plan):
            r = await client.request(method, path, headers=warm, json=body if method == "POST" else None)
            if kind != "scenario" and "etag" in r.headers:
                etags[path] = r.headers["etag"]

        loop = asyncio.get_running_loop()
        t0 = loop.time()
        mono0 = time.monotonic()
        stop_rss = asyncio.Event()
        rss_task = asyncio.create_task(_sample_rss(server.proc.pid, mono0, report.rss, stop_rss))
        report.rss_start = psutil.Process(server.proc.pid).memory_info().rss
        sem = asyncio.Semaphore(cfg.concurrency)
        pending: set[asyncio.Task[None]] = set()
        reload_at = cfg.duration / 2 if cfg.reload_at is None else cfg.reload_at

        async def one(i: int, at: float) -> None:
            kind, method, path = plan[i % len(plan)]
            key = server.read_keys[i % len(server.read_keys)]
            headers = {"X-API-Key": key}
            conditional = method == "GET" and path in etags
            if conditional:
                headers["If-None-Match"] = etags[path]
            start = loop.time()
            try:
                r = await client.request(method, path, headers=headers, json=body if method == "POST" else None)
                status = r.status_code
                if status == 200 and "etag" in r.headers and method == "GET":
                    etags[path] = r.headers["etag"]
            except httpx.HTTPError:
                status = 0
            finally:
                sem.release()
            report.samples.append(Sample(at, kind, status, loop.time() - start, conditional))

        async def reload() -> None:
            report.reload_at = loop.time() - t0
            try:
                r = await client.post("/v1/admin/reload", headers=admin)
            except httpx.HTTPError:
                report.reload_status = 0
                return
            report.reload_status = r.status_code
            if r.status_code == 200:
                data = r.json()
                report.reload_from, report.reload_to = data.get("previous_version"), data["model"]["version"]

        n = round(cfg.rate * cfg.duration)
        reload_task: asyncio.Task[None] | None = None
        for i in range(n):
            at = i / cfg.rate
            delay = t0 + at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if reload_task is None and at >= reload_at:
                reload_task = asyncio.create_task(reload())
            await sem.acquire()
            report.max_lag = max(report.max_lag, loop.time() - (t0 + at))
            task = asyncio.create_task(one(i, at))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(set(pending), timeout=REQUEST_TIMEOUT + 5)
        if reload_task is None:
            reload_task = asyncio.create_task(reload())
        await reload_task
        report.elapsed = loop.time() - t0
        report.rss_end = psutil.Process(server.proc.pid).memory_info().rss
        stop_rss.set()
        await rss_task
        # after the soak, so the burst cannot disturb its latencies
        await _burst(client, server, cfg, report, f"/v1/forecasts/{cfg.series[0]}")


def run_soak(cfg: SoakConfig) -> SoakReport:
    """Start the server, drive it, stop it; every exit path stops the subprocess."""
    report = SoakReport(config=cfg, read_keys=cfg.keys_needed)
    with tempfile.TemporaryDirectory(prefix="chipcast-soak-") as tmp:
        server = start_server(cfg, Path(tmp))
        try:
            asyncio.run(asyncio.wait_for(_drive(server, cfg, report), timeout=cfg.duration * 2 + 300))
            if server.proc.poll() is not None:
                report.samples.append(Sample(cfg.duration, "server-exit", 0, 0.0))
        finally:
            stop_server(server)
            report.server_log_tail = server.log_tail()
    return report


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=50.0, help="requests per second (fixed schedule)")
    ap.add_argument("--duration", type=float, default=600.0, help="seconds of traffic")
    ap.add_argument("--concurrency", type=int, default=16, help="most requests in flight")
    ap.add_argument("--window", type=float, default=60.0, help="seconds per latency/RSS window")
    ap.add_argument("--rate-limit", type=int, default=600, help="server's per-key requests per minute")
    ap.add_argument("--burst", type=int, default=60, help="server's per-key bucket size")
    ap.add_argument("--json", type=Path, default=None, help="also write the summary as JSON here")
    args = ap.parse_args(argv)
    cfg = SoakConfig(rate=args.rate, duration=args.duration, concurrency=args.concurrency, window=args.window,
                     rate_limit_per_minute=args.rate_limit, rate_limit_burst=args.burst)
    report = run_soak(cfg)
    print(report.format(), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report.summary(), indent=2) + "\n")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
