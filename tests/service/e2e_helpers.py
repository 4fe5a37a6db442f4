"""Helpers for the end-to-end service tests: free loopback ports, uvicorn in a thread, a real mlflow server."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_in_thread(app: FastAPI, timeout: float = 30.0) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free loopback port in a daemon thread; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False,
                            lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-e2e", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive():
                pytest.fail("uvicorn exited before it started serving")
            if time.monotonic() > deadline:
                pytest.fail(f"uvicorn did not start within {timeout:.0f} s")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextmanager
def mlflow_server(tmp_path: Path, timeout: float = 90.0) -> Iterator[str]:
    """A real ``mlflow server`` on loopback with a sqlite backend and proxied artifacts under ``tmp_path``."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
        "--artifacts-destination", str(tmp_path / "server-artifacts"),
        "--serve-artifacts", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]
    log = tmp_path / "mlflow-server.log"  # a file, not a pipe: a full pipe would block the server
    log_file = log.open("wb")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log_file, env={**os.environ})
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited with {proc.returncode}: {log.read_text(errors='replace')[-4000:]}")
            try:
                if httpx.get(f"{uri}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not answer /health within {timeout:.0f} s: "
                            f"{log.read_text(errors='replace')[-4000:]}")
            time.sleep(0.5)
        yield uri
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log_file.close()


CHROMIUM = Path("/usr/bin/chromium")
#: Debian's Chromium, headless, with the background traffic this closed network would refuse switched off
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def require_browser() -> None:
    """Skip without Playwright or Chromium locally; fail under CI, where .ci/run installs them."""
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append("the 'playwright' Python package (pip install playwright)")
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if missing:
        msg = "dashboard e2e test needs " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(msg + "; CI is set, so this is a failure, not a skip", pytrace=False)
        pytest.skip(msg)
