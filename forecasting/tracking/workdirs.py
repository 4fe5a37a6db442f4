"""Scratch directories under the state dir, named so that a later start can tell abandoned ones.

Every temporary directory the tracking code makes is ``<state>/tmp/chipcast-<kind>-<pid>-<random>``. A
process killed with SIGKILL cannot clean up after itself; the next start (``chipcast train`` or the
server's first model load) removes every such directory whose process is gone. Directories of live
processes (another server sharing the state dir) are never touched. Process ids are only meaningful on
one host, so a state dir shared between hosts keeps abandoned directories until a start on their host.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger("chipcast.tracking")

PREFIX = "chipcast-"
_tempdir_lock = threading.Lock()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (a zombie counts as alive until reaped)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def scratch_dir(root: Path, kind: str) -> Path:
    """A new ``<root>/chipcast-<kind>-<pid>-<random>`` directory."""
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}{kind}-{os.getpid()}-", dir=root))


def owner_pid(path: Path) -> int | None:
    parts = path.name.split("-")
    if len(parts) < 4 or not path.name.startswith(PREFIX):
        return None
    try:
        return int(parts[2])
    except ValueError:
        return None


def clean_abandoned(root: Path) -> list[Path]:
    """Remove scratch directories whose process is gone; returns what was removed."""
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for path in root.iterdir():
        pid = owner_pid(path)
        if pid is None or pid == os.getpid() or pid_alive(pid):
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    if removed:
        log.info("removed %d scratch directories left by processes that are gone: %s", len(removed),
                 ", ".join(p.name for p in removed))
    return removed


@contextmanager
def scratch(root: Path, kind: str, *, capture_tempfiles: bool = False) -> Iterator[Path]:
    """A scratch directory for the duration of a block, removed afterwards.

    With ``capture_tempfiles`` the process-wide ``tempfile.tempdir`` points into it for the block, so the
    temporary directories MLflow makes while saving and logging a model (a copy of the whole model, 1-2 MB)
    also live under the known prefix and are cleaned by the next start if this process is killed. One
    capture at a time per process (a lock), because ``tempfile.tempdir`` is global.
    """
    path = scratch_dir(root, kind)
    held = False
    old = tempfile.tempdir
    try:
        if capture_tempfiles:
            _tempdir_lock.acquire()
            held = True
            mlflow_tmp = path / "tmp"
            mlflow_tmp.mkdir()
            tempfile.tempdir = str(mlflow_tmp)
        yield path
    finally:
        if held:
            tempfile.tempdir = old
            _tempdir_lock.release()
        shutil.rmtree(path, ignore_errors=True)
