"""One run at a time on a state directory (``--state``): two nightly runs that overlap (a
cron or Airflow retry while the slow night still runs) would read and compact each other's
files. The first takes an exclusive lock on ``<state>/.lock`` (``flock``: released by the
operating system when its process ends, however it ends, so a killed run leaves no stale
lock); the second stops at once with :class:`StateInUseError` naming the holder.

The lock is re-entrant within a thread, so the command line holds it from reading the state
to writing the run directory and the write-back (the result reads state files until then),
and the library call inside takes it again without waiting on itself.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from attribution.exceptions import ConfigError

__all__ = ["LOCK_FILE", "StateInUseError", "state_lock"]

#: the lock file in the state directory (its content: who holds it, for the message)
LOCK_FILE = ".lock"

_held: dict[tuple[Path, int], list[int]] = {}  # (directory, thread) -> [fd, depth]
_guard = threading.Lock()


class StateInUseError(ConfigError):
    """Another run holds the state directory."""


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode() or "{}")
    except (OSError, ValueError):
        return "another run"
    pid, host, started = info.get("pid"), info.get("host"), info.get("started")
    return f"another run (pid {pid} on {host}, started {started})"


@contextmanager
def state_lock(directory: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the state directory ``directory`` (created if missing) for one run."""
    path = Path(directory).resolve()
    key = (path, threading.get_ident())
    with _guard:
        entry = _held.get(key)
        if entry is not None:
            entry[1] += 1
        else:
            try:
                path.mkdir(parents=True, exist_ok=True)
                fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:  # /proc/x, a file in the way, no permission: one line
                raise ConfigError(
                    f"state '{directory}': cannot create or open it ({exc.strerror or exc}"
                    f"{f': {exc.filename}' if exc.filename else ''}): give a directory this "
                    "user can write (--state)"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                raise StateInUseError(
                    f"state '{directory}' is in use by {holder}: two runs must not share a "
                    "state directory, and this one read and wrote nothing. Run it again when "
                    "that run has finished (a killed run releases the state at once)"
                ) from None
            stamp = {
                "pid": os.getpid(),
                "host": socket.gethostname(),
                "started": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(stamp).encode(), 0)
            _held[key] = [fd, 1]
    try:
        yield
    finally:
        with _guard:
            entry = _held[key]
            entry[1] -= 1
            if entry[1] == 0:
                del _held[key]
                fcntl.flock(entry[0], fcntl.LOCK_UN)
                os.close(entry[0])
