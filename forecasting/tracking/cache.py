"""The local copy of the last champion loaded, so the service keeps serving through a registry outage.

Layout of ``<state>/champion_cache/`` (a directory that may be its own small volume)::

    v<version>-<random>/      a forecaster directory plus registry.json (version, run id, alias)
    current -> v<version>-<random>   symlink, replaced atomically with os.replace
    .lock                     flock: writers take it exclusively (swap and clean-up), readers shared
    .tmp-<pid>-<random>/      a copy being written; abandoned ones are removed once their process is gone

Invariants:

* **Never on the critical path.** :func:`write_async` copies in a background thread after the model has
  been handed to the caller; a failure (full disk, read-only volume, a racing writer) is logged and never
  blocks serving the model that was just loaded.
* **Never half-written.** A copy is written under a unique name, renamed into place and only then made
  ``current`` by one atomic symlink replacement, under the lock; readers see the old copy or the new one.
* **Many writers.** Two servers sharing a state dir write different temporary names and serialize only
  the swap, so concurrent reloads never fail each other.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from forecasting.artifact import Forecaster
from forecasting.tracking.workdirs import pid_alive

log = logging.getLogger("chipcast.tracking")

CURRENT = "current"
INFO = "registry.json"

_pending: set[threading.Thread] = set()
_pending_lock = threading.Lock()


@contextmanager
def _locked(root: Path, *, shared: bool) -> Iterator[None]:
    """flock on ``root/.lock``; a reader on a volume where the lock file cannot be created reads unlocked."""
    try:
        fh = (root / ".lock").open("a")
    except OSError:
        if not shared:
            raise
        yield
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        fh.close()


def _tmp_owner(name: str) -> int | None:
    parts = name.split("-")
    if len(parts) >= 3 and name.startswith(".tmp-"):
        try:
            return int(parts[1])
        except ValueError:
            return None
    return None


def write(src: Path, info: dict[str, str], root: Path) -> Path:
    """Copy a forecaster directory into the cache and make it ``current``; returns the new copy."""
    root.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    tmp = root / f".tmp-{os.getpid()}-{token}"
    try:
        shutil.copytree(src, tmp)
        (tmp / INFO).write_text(json.dumps(info))
        final = root / f"v{info['version']}-{token}"
        with _locked(root, shared=False):
            tmp.rename(final)
            link = root / f".current-{token}"
            os.symlink(final.name, link)
            os.replace(link, root / CURRENT)
            _remove_stale(root, keep=final.name)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _remove_stale(root: Path, keep: str) -> None:
    """Under the exclusive lock: older copies, and temporary copies of processes that are gone."""
    for p in root.iterdir():
        if p.name in (keep, CURRENT, ".lock"):
            continue
        if p.name.startswith("v") and p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        elif p.name.startswith(".current-") and p.is_symlink():
            p.unlink(missing_ok=True)
        elif (pid := _tmp_owner(p.name)) is not None and pid != os.getpid() and not pid_alive(pid):
            shutil.rmtree(p, ignore_errors=True)


def write_async(src: Path, info: dict[str, str], root: Path, *, cleanup: Path | None = None) -> threading.Thread:
    """Write the copy in a background thread; ``cleanup`` (the download dir) is removed afterwards."""

    def run() -> None:
        try:
            write(src, info, root)
        except Exception as exc:
            log.warning("could not refresh the local champion copy in %s (serving is not affected): %s: %s",
                        root, type(exc).__name__, exc)
        finally:
            if cleanup is not None:
                shutil.rmtree(cleanup, ignore_errors=True)
            with _pending_lock:
                _pending.discard(threading.current_thread())

    thread = threading.Thread(target=run, name="chipcast-champion-cache")
    with _pending_lock:
        _pending.add(thread)
    thread.start()
    return thread


def wait(timeout: float = 60.0) -> None:
    """Wait for background copies started by this process (tests; a CLI about to exit)."""
    with _pending_lock:
        threads = list(_pending)
    for t in threads:
        t.join(timeout)


def read(root: Path) -> tuple[Forecaster, dict[str, Any]]:
    """The current copy and its registry facts; FileNotFoundError if there is none."""
    link = root / CURRENT
    with _locked(root, shared=True):
        if not link.exists():
            raise FileNotFoundError(f"no local champion copy in {root}")
        target = link.resolve()
        info = json.loads((target / INFO).read_text())
        return Forecaster.load(target), info
