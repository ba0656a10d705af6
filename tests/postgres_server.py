"""A throwaway PostgreSQL server for the tests: Debian's ``postgresql`` binaries
(``.ci/install-postgres.sh``), a fresh cluster in a temporary directory, listening on
127.0.0.1 at a free port and a socket beside it, fsync off, stopped and removed at the end.

:func:`start` returns the running :class:`Server`, or the reason it cannot start (the tests
then skip with it, as the browser and Spark tests do).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

USER = "attribution"


def _bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4])
    )
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    bindir: Path
    directory: Path
    port: int
    as_user: list[str]

    @property
    def uri(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run(
            [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.directory / "data"),
             "-m", "immediate", "-w", "stop"],
            capture_output=True, timeout=60, check=False,
        )
        shutil.rmtree(self.directory, ignore_errors=True)


def start() -> Server | str:
    """A running server, or why there is none."""
    bindir = _bindir()
    if bindir is None:
        return "PostgreSQL is not installed (bash .ci/install-postgres.sh installs it)"
    as_user: list[str] = []
    directory = Path(tempfile.mkdtemp(prefix="attribution-pg-"))
    if os.geteuid() == 0:  # the server refuses to run as root: Debian's postgres user runs it
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run PostgreSQL"
        os.chown(directory, owner.pw_uid, owner.pw_gid)
        directory.chmod(0o755)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    server = Server(bindir, directory, port, as_user)
    steps = [
        [str(bindir / "initdb"), "-D", str(directory / "data"), "-A", "trust", "-U", USER,
         "-E", "UTF8", "--no-sync"],
        [str(bindir / "pg_ctl"), "-D", str(directory / "data"), "-l", str(directory / "log"),
         "-w", "-t", "60", "-o",
         f"-k {directory} -p {port} -h 127.0.0.1 -c fsync=off -c full_page_writes=off",
         "start"],
    ]
    for step in steps:
        try:
            proc = subprocess.run(
                [*as_user, *step], capture_output=True, text=True, timeout=120, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            server.stop()
            return f"PostgreSQL could not start: {exc}"
        if proc.returncode != 0:
            log = (directory / "log").read_text() if (directory / "log").exists() else ""
            server.stop()
            tail = (proc.stderr or proc.stdout or log).strip().splitlines()[-3:]
            return f"PostgreSQL could not start ({Path(step[0]).name}): {' '.join(tail)}"
    return server
