"""Who owns a batch run and whether that owner is still alive: a lease, not a PID.

A server process is one *instance*: its host name, the kernel's boot id
(``/proc/sys/kernel/random/boot_id``), its PID namespace, its PID and its process start time
(``/proc/<pid>/stat``, clock ticks since boot). A PID alone says nothing: a server restarted
in a container is PID 1 again, and another host's PIDs mean nothing here.

Each run's status file holds a lease, ``{"owner": <instance>, "renewed_at", "expires_at"}``,
renewed by the owner's heartbeat. Another instance reading the run decides (:func:`verdict`):

* the lease expired: the owner is gone (any host);
* same host, different boot id: the machine rebooted, the owner is gone;
* same host, same boot and PID namespace: the owner is gone unless a process with its PID
  and start time still runs (so a restarted PID 1 is not mistaken for its predecessor);
* otherwise (another host, or a PID namespace this process cannot look into): alive until
  the lease expires.

Hosts sharing a runs directory therefore need clocks that agree to well within the lease.
"""

from __future__ import annotations

import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

_PROC = Path("/proc")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def process_start(pid: int | str) -> int | None:
    """Start time of process ``pid`` (or ``"self"``) in clock ticks since boot, or None
    (no such process, or no ``/proc``)."""
    stat = _read(_PROC / str(pid) / "stat")
    if stat is None:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces or parentheses; field 22 is starttime
    fields = stat[stat.rfind(")") + 2:].split()
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


@dataclass(frozen=True)
class Instance:
    """The identity of one server process (see the module docstring)."""

    host: str
    boot_id: str | None
    pid_ns: str | None
    pid: int
    started: int | None

    @classmethod
    def current(cls) -> Instance:
        try:
            pid_ns: str | None = os.readlink(_PROC / "self" / "ns" / "pid")
        except OSError:
            pid_ns = None
        return cls(host=socket.gethostname(),
                   boot_id=_read(_PROC / "sys" / "kernel" / "random" / "boot_id"),
                   pid_ns=pid_ns, pid=os.getpid(), started=process_start("self"))

    def record(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def sees_own_pids(self) -> bool:
        """Whether ``/proc/<pid>`` here shows this PID namespace's processes (it does not
        after ``unshare --pid`` without remounting ``/proc``)."""
        return self.started is not None and process_start(self.pid) == self.started


def verdict(owner: dict[str, Any], expires_at: float | None, me: Instance,
            now: float) -> str | None:
    """Why the owner of a run is gone, or None when it may still be alive.

    ``owner`` is an :meth:`Instance.record`, maybe with more keys (or, from older status
    files, only host and pid);
    ``expires_at`` is the lease's expiry (Unix time) or None when unknown. The caller handles
    runs owned by ``me`` itself: it knows which of them it is running.
    """
    if expires_at is not None and now > expires_at:
        return "its lease expired: the server running it stopped renewing it"
    if owner.get("host") != me.host:
        return None  # another host: only the lease can tell
    pid = owner.get("pid")
    if "started" not in owner:  # a status file from before leases: the PID is all there is
        if pid == me.pid:
            return "the server running it has stopped"
        try:
            os.kill(int(str(pid)), 0)
        except (OSError, TypeError, ValueError):
            return "the server running it has stopped"
        return None
    if owner.get("boot_id") and me.boot_id and owner["boot_id"] != me.boot_id:
        return "the host restarted since"
    if owner.get("pid_ns") != me.pid_ns or owner.get("started") is None or not me.sees_own_pids:
        return None  # a PID namespace this process cannot look into: wait for the lease
    if not isinstance(pid, int) or process_start(pid) != owner["started"]:
        return "the server running it has stopped"
    return None
