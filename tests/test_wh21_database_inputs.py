"""New-user report 17 (a nightly job reading PostgreSQL), the inputs:

- M12: the spend, accounts (every B2B table read from a query or a file) are in the
  manifest's ``inputs`` as the touches are: the full query, rows and a sha256;
- M6: the spend's duplicate note counts a query's "rows", not "lines";
- M2: ``ATTRIBUTION_DATABASE_URI`` that loses to the config's URI is said (a note; and in
  the error when the connection fails);
- M13: a refused login whose pasted password holds ``%`` and two hex digits says that they
  were read as percent-encoded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from attribution.exceptions import ConfigError
from attribution.inputs._database import SqlTable, open_database, result_hash

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
SPEND_SQL = "SELECT month, channel, campaign, amount\nFROM spend_rows -- every row\n"
ACCOUNTS_SQL = "SELECT account_id, segment FROM crm_accounts"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB warehouse: 300 contacts of the sample, the spend with 2 rows loaded twice,
    the accounts and contacts."""
    where = tmp_path_factory.mktemp("wh21db") / "wh.duckdb"
    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    contacts = touches.get_column("contact_id").unique().sort().head(300).implode()
    spend = pl.read_parquet(SAMPLE / "spend.parquet")
    tables = {
        "web": touches.filter(pl.col("contact_id").is_in(contacts)),
        "crm_stages": pl.read_parquet(SAMPLE / "stages.parquet").filter(
            pl.col("contact_id").is_in(contacts)
        ),
        "spend_rows": pl.concat([spend, spend.head(2)]),
        "crm_accounts": pl.read_parquet(SAMPLE / "accounts.parquet"),
        "crm_contacts": pl.read_parquet(SAMPLE / "contacts.parquet"),
    }
    with duckdb.connect(str(where)) as con:
        for name, frame in tables.items():
            con.register("f", frame.to_arrow())
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM f")
            con.unregister("f")
    return where


def _config(where: Path, uri: str) -> Path:
    config = where / "wh.toml"
    config.write_text(
        "[inputs.database]\n"
        f'uri = "{uri}"\n'
        'touches = "SELECT * FROM web"\n'
        'stages = "SELECT * FROM crm_stages"\n'
        'contacts = "SELECT contact_id, account_id FROM crm_contacts"\n'
        f"spend = {json.dumps(SPEND_SQL)}\n"
        f'accounts = "{ACCOUNTS_SQL}"\n'
    )
    return config


def _run(config: Path, where: Path, **env: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "attribution.cli", "run", "--config", str(config),
               "-m", "linear", "--out", str(where / "runs")]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "COLUMNS": "200", **env})  # fmt: skip


def test_the_b2b_queries_are_in_the_manifest_and_rows_are_rows(
    warehouse: Path, tmp_path: Path
) -> None:
    uri = f"duckdb://{warehouse}"
    other = f"duckdb://{tmp_path / 'staging.duckdb'}"
    proc = _run(_config(tmp_path, uri), tmp_path, ATTRIBUTION_DATABASE_URI=other)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    inputs = json.loads((run_dir / "manifest.json").read_text())["inputs"]
    for name, query in (("spend", SPEND_SQL), ("accounts", ACCOUNTS_SQL)):
        frame = SqlTable(uri, query).frame()
        assert inputs[name] == {
            "source": uri, "query": query, "rows": frame.height, "sha256": result_hash(frame)
        }  # fmt: skip
    assert inputs["spend"]["rows"] == 506  # the 2 rows loaded twice are read (then dropped)
    # a query's rows are rows (1-based in its result), not a file's lines
    assert "Spend: 2 exact duplicate row(s) dropped" in proc.stdout
    assert "; rows 505, 506)" in proc.stdout
    assert "lines 505" not in proc.stdout
    # the variable that lost to the config's URI is said
    assert (
        f"note: ATTRIBUTION_DATABASE_URI ({other}) is not used: the queries read {uri}"
        in proc.stderr
    )


def test_a_spend_file_keeps_its_lines(warehouse: Path, tmp_path: Path) -> None:
    spend = pl.read_parquet(SAMPLE / "spend.parquet")
    pl.concat([spend, spend.head(1)]).write_csv(tmp_path / "spend.csv")
    config = _config(tmp_path, f"duckdb://{warehouse}")
    config.write_text(
        config.read_text().replace(f"spend = {json.dumps(SPEND_SQL)}\n", "")
        + f'\n[inputs]\nspend = "{tmp_path / "spend.csv"}"\n'
    )
    proc = _run(config, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"; lines {spend.height + 2})" in proc.stdout
    (run_dir,) = (tmp_path / "runs").iterdir()
    inputs = json.loads((run_dir / "manifest.json").read_text())["inputs"]
    assert inputs["spend"]["source"] == str(tmp_path / "spend.csv")
    assert inputs["spend"]["rows"] == spend.height + 1
    assert len(inputs["spend"]["sha256"]) == 64


# --- PostgreSQL logins ------------------------------------------------------------------------

PASSWORD = "p@ss?w:rd%2F#1"  # generated, with a literal '%2F' in it


@pytest.fixture(scope="module")
def login(postgres_uri: str) -> str:
    """The session's server with a role ``wh21_pw`` that logs in with ``PASSWORD`` (scram,
    a line of its own before the trust lines of pg_hba.conf); its URI without a password."""
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(postgres_uri) as con, con.cursor() as cursor:
        cursor.execute("SELECT current_setting('hba_file')")
        hba = cursor.fetchone()[0]  # type: ignore[index]
        cursor.execute(f"SELECT pg_read_file('{hba}')")
        lines = [x for x in cursor.fetchone()[0].splitlines() if x.strip()]  # type: ignore[index]
        if not any("wh21_pw" in x for x in lines):
            lines = ["host all wh21_pw 127.0.0.1/32 scram-sha-256", *lines]
            values = ", ".join("(" + "'" + x.replace("'", "''") + "')" for x in lines)
            cursor.execute(f"COPY (VALUES {values}) TO '{hba}'")
            cursor.execute("SELECT pg_reload_conf()")
        cursor.execute("DROP ROLE IF EXISTS wh21_pw")
        cursor.execute("SET password_encryption = 'scram-sha-256'")
        cursor.execute(f"CREATE ROLE wh21_pw LOGIN PASSWORD '{PASSWORD}'")
        con.commit()
    return postgres_uri.replace("attribution@", "wh21_pw@")


def test_a_literal_percent_in_a_refused_password_is_said(login: str) -> None:
    with open_database(login.replace("wh21_pw@", "wh21_pw:p@ss?w:rd%252F#1@")):
        pass  # encoded as the error says: logs in
    with pytest.raises(ConfigError) as caught:
        open_database(login.replace("wh21_pw@", f"wh21_pw:{PASSWORD}@"))
    text = str(caught.value)
    assert "password authentication failed" in text
    assert "holds '%' and two hex digits, which are read as a percent-encoded character" in text
    assert "write it as %25" in text
    assert "PGPASSWORD" in text
    assert "rd%2F" not in text
    assert "p@ss" not in text
    with pytest.raises(ConfigError) as plain:  # a wrong password without '%': nothing added
        open_database(login.replace("wh21_pw@", "wh21_pw:wrong-password@"))
    assert "percent-encoded" not in str(plain.value)


def test_the_unused_variable_is_said_when_the_connection_fails(
    login: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = login.replace("wh21_pw@", f"wh21_pw:{PASSWORD.replace('%', '%25')}@")
    monkeypatch.setenv("ATTRIBUTION_DATABASE_URI", full)
    with pytest.raises(ConfigError) as caught:
        SqlTable(login, "SELECT 1 AS n").frame("touches")  # the config's URI: no password
    text = str(caught.value)
    assert "no password supplied" in text
    assert "ATTRIBUTION_DATABASE_URI is set (postgresql://wh21_pw:***@" in text
    assert "but was not used" in text
    assert '--database "$ATTRIBUTION_DATABASE_URI"' in text
    assert "p@ss" not in text
    assert SqlTable(full, "SELECT 1 AS n").frame().item() == 1  # the variable's URI works
