"""New-user report 11, minor #7: a libpq error broke the one-line rule of stderr (a closed
port: a second line ``\tIs the server running on that host ...?``; a connect timeout: a
trailing empty line). A driver's message is now joined into one line wherever a database
error becomes ours (connecting, a query, the write-back); the lines that point into the SQL
(``LINE 1: ...`` and its carets) are left out."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import attribution
from attribution.inputs._database import open_database


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_connection_is_one_line_on_stderr(tmp_path) -> None:
    pytest.importorskip("adbc_driver_postgresql")
    uri = f"postgresql://etl:Tr1cky-Pass-w0rd@127.0.0.1:{_free_port()}/wh"  # nothing listens
    command = [sys.executable, "-m", "attribution.cli", "run", "--database", uri,
               "--touches-sql", "SELECT * FROM touches", "--stages-sql", "SELECT * FROM stages",
               "--out", str(tmp_path / "runs")]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Connection refused; Is the server running on that host" in proc.stderr
    *stages, error, end = proc.stderr.split("\n")  # the stage lines, then one error line
    assert end == ""
    assert error.startswith("error: cannot connect to postgresql://etl:***@127.0.0.1:")
    assert all(line.startswith("[") for line in stages), proc.stderr
    assert "Tr1cky" not in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_connect_timeout_is_one_line() -> None:
    pytest.importorskip("adbc_driver_postgresql")
    with socket.socket() as listener:  # accepts the connection, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        with pytest.raises(attribution.ConfigError) as caught:
            open_database(f"postgresql://etl@127.0.0.1:{port}/wh?connect_timeout=2")
    text = str(caught.value)
    assert "timeout expired" in text
    assert "\n" not in text
    assert text == text.strip()


def test_a_query_error_keeps_the_drivers_advice_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "wh.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE touches (a INTEGER)")
    with pytest.raises(attribution.InputError) as caught:
        attribution.SqlTable(f"duckdb://{path}", "SELECT * FROM touchez").frame("touches")
    text = str(caught.value)
    assert 'does not exist! Did you mean "touches"?' in text
    with pytest.raises(attribution.InputError) as caught:
        attribution.SqlTable(f"duckdb://{path}", "SELECT CAST('x' AS INT)").frame("touches")
    text = str(caught.value)
    assert "Could not convert string 'x' to INT32" in text
    assert "\n" not in text
    assert "LINE 1" not in text  # the pointer into the SQL: not ours to show


def test_a_postgres_query_error_is_one_line_without_the_sql(postgres_uri) -> None:
    """The ADBC driver's message ends with ``LINE 1: ...``, a caret line and ``Query was:
    <the SQL>`` (the engine's wrapper, for a night's query): none of it is ours to show."""
    with pytest.raises(attribution.InputError) as caught:
        attribution.SqlTable(postgres_uri, "SELECT CAST('x' AS bigint)\n  AS a").frame("touches")
    text = str(caught.value)
    assert 'invalid input syntax for type bigint: "x"; SQLSTATE: 22P02' in text
    assert "\n" not in text
    assert "Query was" not in text
    assert "LINE 1" not in text
