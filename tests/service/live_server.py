"""A real chipcast server in a subprocess on a loopback port, and raw-socket helpers, for the live tests.

Used by ``test_limits_live.py`` (no conftest fixtures: each test states the settings it runs with).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from pipelines.config import PROJECT_ROOT


@dataclass
class LiveServer:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss(self) -> int:
        return int(psutil.Process(self.proc.pid).memory_info().rss)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(tmp_path: Path, model: str = "none", startup_timeout: float = 60.0,
                **settings: object) -> Iterator[LiveServer]:
    """Start ``tests.service.live_app`` with ``CHIPCAST_<NAME>=value`` for each setting; stop it on exit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIPCAST_") and k != "FORWARDED_ALLOW_IPS"}
    env.update({"PYTHONPATH": str(PROJECT_ROOT), "CHIPCAST_STATE_DIR": str(tmp_path / "state"),
                "CHIPCAST_MODELS_DIR": str(tmp_path / "models"), "CHIPCAST_CORS_ORIGINS": ""})
    env.update({f"CHIPCAST_{name.upper()}": str(value) for name, value in settings.items()})
    port = free_port()
    log = tmp_path / f"server-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "tests.service.live_app", str(port), model], cwd=PROJECT_ROOT,
                                env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    server = LiveServer(proc, port, log)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log_tail()}")
            try:
                if httpx.get(server.base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not up within {startup_timeout:g} s:\n{server.log_tail()}")
            time.sleep(0.1)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def connect(server: LiveServer, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_response(sock: socket.socket, timeout: float) -> bytes:
    """Whatever the server sends until it closes the connection or ``timeout`` passes (b"" if nothing)."""
    sock.settimeout(0.2)
    data = b""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data


def read_one(sock: socket.socket, timeout: float = 5.0) -> bytes:
    """One complete response (head and Content-Length body) from a keep-alive connection."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def status_of(response: bytes) -> int | None:
    """The status code of a raw HTTP/1.1 response, or None if there is none."""
    if not response.startswith(b"HTTP/1."):
        return None
    return int(response.split(b" ", 2)[1])


def poll(sock: socket.socket) -> tuple[bytes, bool]:
    """What the server has sent so far on this connection, and whether it has closed it (EOF or reset)."""
    sock.settimeout(0.0)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data, True
            data += chunk
    except BlockingIOError:
        return data, False
    except OSError:
        return data, True
