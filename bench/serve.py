"""Throughput of ``GET /v1/forecasts/capex_meta`` in chipcast vs a bare FastAPI app serving the same bytes.

Each round starts two uvicorn servers on loopback, one after the other, each in a fresh subprocess with
one worker, ``log_level="warning"`` and the access log off:

* **chipcast**: ``create_app`` with a small champion trained on the real data (``capex_meta`` and
  ``wsts_memory_sales_annual``), precomputed, injected through ``model_loader``;
* **bare**: a plain FastAPI app whose single route returns the exact JSON bytes chipcast returned.

Both are driven by the same bounded load generator (httpx.AsyncClient, loopback only) and the script
prints req/s and p50/p99 latency per server per round, then the median throughput ratio chipcast/bare.
The ratio is chipcast's per-request overhead (routing, auth, rate limit, ETag, metrics, middleware).

    .venv/bin/python bench/serve.py                                  # 3 rounds, 3000 requests, 32 concurrent
    .venv/bin/python bench/serve.py --rounds 1 --requests 500 --concurrency 8
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PATH = "/v1/forecasts/capex_meta"
TARGET_RATIO = 0.8

CHIPCAST_APP = r"""
import sys
from datetime import UTC, datetime

import uvicorn

from forecasting.serving import LoadedModel
from forecasting.train import train
from pipelines.config import PROJECT_ROOT
from service.config import Settings
from service.main import create_app

port = int(sys.argv[1])
result = train(["capex_meta", "wsts_memory_sales_annual"], data_dir=PROJECT_ROOT / "data")
result.forecaster.precompute()
loaded = LoadedModel(
    forecaster=result.forecaster,
    version="1",
    run_id="bench",
    alias="champion",
    leaderboards={sid: bt.leaderboard for sid, bt in result.backtests.items()},
    loaded_at=datetime.now(UTC).isoformat(),
    source="registry",
)
# a single loopback client makes every request: lift the per-client rate limit out of the way
settings = Settings(read_open=True, rate_limit_per_minute=100_000_000, cors_origins=[])
app = create_app(settings, model_loader=lambda: loaded, models_lister=lambda: [], retrainer=lambda: None)
uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)
"""

BARE_APP = r"""
import sys

import uvicorn
from fastapi import FastAPI, Response

port, payload_file = int(sys.argv[1]), sys.argv[2]
with open(payload_file, "rb") as f:
    PAYLOAD = f.read()
app = FastAPI()


@app.get("/v1/forecasts/{series_id}")
def forecast(series_id: str) -> Response:
    return Response(PAYLOAD, media_type="application/json")


@app.get("/healthz")
def healthz() -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)
"""


@dataclass
class Result:
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(code: str, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code, str(port), *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise RuntimeError(f"server exited with {proc.returncode}:\n{err[-3000:]}")
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(proc)
    raise RuntimeError("server did not come up within 180 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
    if proc.stderr:
        proc.stderr.close()


async def _load(base: str, n: int, concurrency: int, max_seconds: float) -> Result:
    latencies: list[float] = []
    errors = 0
    issued = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        # warm up: open the connections and the server's code paths before the clock starts
        await asyncio.gather(*(client.get(PATH) for _ in range(concurrency)))
        start_t = time.perf_counter()
        deadline = start_t + max_seconds

        async def worker() -> None:
            nonlocal issued, errors
            while issued < n and time.perf_counter() < deadline:
                issued += 1
                t0 = time.perf_counter()
                try:
                    r = await client.get(PATH)
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - t0)
                errors += not ok

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start_t
    lat = sorted(latencies)
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else lat * 99
    return Result(len(lat), errors, elapsed, q[49] * 1000, q[98] * 1000)


def drive(base: str, n: int, concurrency: int, max_seconds: float) -> Result:
    return asyncio.run(_load(base, n, concurrency, max_seconds))


def capture_payload(base: str) -> bytes:
    r = httpx.get(base + PATH, timeout=30)
    r.raise_for_status()
    return r.content


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=3000, help="requests per server per round")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--max-seconds", type=float, default=15.0, help="stop a run after this long")
    args = ap.parse_args()

    ratios: list[float] = []
    with tempfile.TemporaryDirectory(prefix="chipcast-bench-") as tmp:
        payload_file = Path(tmp) / "payload.json"
        for rnd in range(1, args.rounds + 1):
            results: dict[str, Result] = {}
            proc, base = start(CHIPCAST_APP)
            try:
                payload = capture_payload(base)
                payload_file.write_bytes(payload)
                results["chipcast"] = drive(base, args.requests, args.concurrency, args.max_seconds)
            finally:
                stop(proc)
            proc, base = start(BARE_APP, str(payload_file))
            try:
                if capture_payload(base) != payload:
                    raise RuntimeError("bare server does not return the same bytes")
                results["bare"] = drive(base, args.requests, args.concurrency, args.max_seconds)
            finally:
                stop(proc)
            for name, r in results.items():
                print(f"round {rnd} {name:8s} {r.requests:6d} req in {r.seconds:6.2f} s  {r.rps:8.1f} req/s  "
                      f"p50 {r.p50_ms:7.2f} ms  p99 {r.p99_ms:7.2f} ms  errors {r.errors}  "
                      f"({len(payload)} B body)", flush=True)
            ratio = results["chipcast"].rps / results["bare"].rps
            ratios.append(ratio)
            print(f"round {rnd} ratio chipcast/bare {ratio:.3f}", flush=True)
    med = statistics.median(ratios)
    verdict = "OK" if med >= TARGET_RATIO else "BELOW TARGET"
    print(f"median throughput ratio chipcast/bare over {len(ratios)} rounds: {med:.3f} "
          f"(target >= {TARGET_RATIO}) {verdict}")


if __name__ == "__main__":
    main()
