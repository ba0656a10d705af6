"""What the Spark job checks before Spark starts, and Spark's start itself, so that a
setup error is one line (exit 2) instead of a Python and Java traceback: the local
``--out`` (writable, as the CLI checks it), a local input directory (Parquet files only),
the ``--master`` and a Java to start Spark with."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from attribution.exceptions import ConfigError

__all__ = [
    "check_out_uri",
    "check_spark_start",
    "first_line",
    "local_path",
    "parquet_directory_problem",
    "start_spark",
]

_PARQUET_MAGIC = b"PAR1"
#: How a Spark master URL starts (Spark's own rule: yarn, or spark, k8s or local), and
#: the local forms Spark parses (local, local[N], local[*], local[N,F], local-cluster[...]).
_MASTERS = ("spark://", "k8s://")
_LOCAL = re.compile(r"local(\[(\*|\d+)(,\d+)?\]|-cluster\[\d+,\d+,\d+\])?")


def local_path(uri: str) -> Path | None:
    """``uri`` as a local path (a path or a ``file:`` URI), else None (``s3a://``, ...)."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and uri[1:3] == ":\\"):
        return Path(uri)
    return None


def check_out_uri(out: str) -> None:
    """A local ``--out`` (a path or a ``file:`` URI) is a directory, or can be made in a
    writable directory, checked as the CLI checks its ``--out`` (a ConfigError naming it);
    other URIs are Spark's to write (a write that fails is one line, exit 2)."""
    from attribution.cli._app import check_out

    local = local_path(out)
    if local is not None:
        check_out(local)


def parquet_directory_problem(directory: Path) -> str | None:
    """Why the local input ``directory`` is not one Spark can read as Parquet (a file in it
    that is not Parquet, named), or None. Spark reads every file of the directory and its
    subdirectories but hidden ones (names starting ``_`` or ``.``: ``_SUCCESS``, ``.crc``)."""
    for root, folders, files in os.walk(directory):
        folders[:] = sorted(f for f in folders if not f.startswith(("_", ".")))
        for name in sorted(files):
            if name.startswith(("_", ".")):
                continue
            path = Path(root) / name
            shown = path.relative_to(directory)
            try:
                with path.open("rb") as handle:
                    magic = handle.read(4)
            except OSError as exc:
                return f"'{shown}' in it cannot be read ({exc.strerror})"
            if magic != _PARQUET_MAGIC:
                return (
                    f"'{shown}' in it is not a Parquet file: Spark reads every file of an "
                    "input directory but hidden ones (_*, .*); move it out, or give the "
                    "Parquet file itself")
    return None


def check_spark_start(master: str | None) -> None:
    """A ConfigError when Spark cannot start: a ``--master`` that is not a Spark master
    URL, or no Java (``JAVA_HOME`` naming none, or no ``java`` on the PATH). Java is not
    looked for when the job runs inside a Spark that is up (``spark-submit``, a session
    already started)."""
    if master is not None and not (
        master == "yarn" or master.startswith(_MASTERS) or _LOCAL.fullmatch(master)
    ):
        raise ConfigError(
            f"Spark could not start: --master {master!r} is not a Spark master URL (local[N], "
            "spark://HOST:PORT, yarn, k8s://HOST:PORT)")
    if os.environ.get("PYSPARK_GATEWAY_PORT"):
        return  # spark-submit started the JVM
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:
        return
    home = os.environ.get("JAVA_HOME")
    if home:
        java = Path(home) / "bin" / "java"
        if not (java.is_file() and os.access(java, os.X_OK)):
            raise ConfigError(
                f"Spark could not start: no Java at JAVA_HOME={home} ({java} is not there): "
                "install Java 17+ or set JAVA_HOME to it")
    elif shutil.which("java") is None:
        raise ConfigError(
            "Spark could not start: no Java (JAVA_HOME is not set and there is no java on "
            "the PATH): install Java 17+ or set JAVA_HOME to it")


def first_line(exc: BaseException) -> str:
    """The line of a Spark or Py4J error that says what went wrong (a Java exception's
    own message, not Py4J's 'An error occurred while calling ...')."""
    for line in str(exc).splitlines():
        line = line.strip().lstrip(": ").strip()
        if line and not line.startswith("An error occurred while calling"):
            return line
    return type(exc).__name__


def start_spark(master: str | None) -> Any:
    """The job's Spark session (time zone UTC), or why it could not start (a str naming
    JAVA_HOME and the master)."""
    from pyspark.sql import SparkSession

    # executors must run this interpreter (a job entry point, like the CLI, may read it)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("attribution").config(
        "spark.sql.session.timeZone", "UTC"
    )
    if master:
        builder = builder.master(master)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 -- the JVM's or Py4J's: said in one line
        java = os.environ.get("JAVA_HOME") or shutil.which("java") or "none found"
        return (f"{first_line(exc)} (JAVA_HOME / java: {java}; --master "
                f"{master or 'the default'}): check Java 17+ and the master URL")
