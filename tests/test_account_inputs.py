"""The accounts and subscriptions input tables: loading, normalising and the errors a user
sees (file, their column, 1-based lines), in Python and on the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from attribution.exceptions import ColumnNotFoundError, DuplicateKeyError, InputError
from attribution.inputs._account_inputs import (
    UNKNOWN,
    load_accounts,
    load_subscriptions,
)
from attribution.inputs._config import load_config

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def test_accounts_are_normalised_and_attached(tmp_path: Path) -> None:
    path = tmp_path / "acc.csv"
    path.write_text(
        "Account,Tier,metro,employees\n"
        "a1, SMB ,Chicago ,12\n"
        "a2,Mid Market,Dallas,400\n"
        "a3,,Atlanta,\n"
        "a4,mid-market,,2000\n"
    )
    acc = load_accounts(path, columns={"account_id": "Account", "segment": "Tier"})
    assert acc.attributes == ("segment", "metro", "employees")
    assert acc.frame.get_column("segment").to_list() == ["smb", "mid_market", None, "mid_market"]
    assert acc.frame.get_column("metro").to_list() == ["Chicago", "Dallas", "Atlanta", None]
    assert acc.frame.get_column("employees").to_list() == [12.0, 400.0, None, 2000.0]
    keys = pl.DataFrame({"account_id": ["a4", "a3", "zz", None], "n": [1, 2, 3, 4]})
    out = acc.attach(keys, ("segment", "metro", "region"))
    assert out.get_column("n").to_list() == [1, 2, 3, 4]  # order and rows kept
    assert out.get_column("segment").to_list() == ["mid_market", UNKNOWN, UNKNOWN, UNKNOWN]
    assert out.get_column("metro").to_list() == [UNKNOWN, "Atlanta", UNKNOWN, UNKNOWN]
    assert out.get_column("region").to_list() == [UNKNOWN] * 4  # not in the file
    assert acc.has("metro")
    assert not acc.has("region")


def test_accounts_errors_name_file_column_and_lines(tmp_path: Path) -> None:
    path = tmp_path / "acc.csv"
    path.write_text("Account,segment\na1,smb\na2,smb\na1,enterprise\n")
    with pytest.raises(DuplicateKeyError) as info:
        load_accounts(path, columns={"account_id": "Account"})
    text = str(info.value)
    assert "acc.csv" in text
    assert "'Account'" in text
    assert "lines: 2, 4" in text  # the file's own lines (header = line 1)
    (tmp_path / "none.csv").write_text("id,segment\nx,smb\n")
    with pytest.raises(ColumnNotFoundError, match="account_id"):
        load_accounts(tmp_path / "none.csv")
    (tmp_path / "empty.csv").write_text("account_id,segment\n")
    with pytest.raises(InputError, match="no data rows"):
        load_accounts(tmp_path / "empty.csv")
    (tmp_path / "neg.csv").write_text("account_id,employees\na,5\nb,-3\n")
    with pytest.raises(InputError, match="negative headcount") as neg:
        load_accounts(tmp_path / "neg.csv")
    assert "lines: 3" in str(neg.value)


def test_subscriptions_arr_months_and_merges(tmp_path: Path) -> None:
    path = tmp_path / "subs.csv"
    path.write_text(
        "account_id,month,ARR\n"
        "a1,2025-01-01,1200\n"
        "a1,2025-01-20,2400\n"  # a second product in January: summed
        "a1,2025-02-01,3600\n"
        "a2,2025-02-03,600\n"
    )
    subs = load_subscriptions(path, columns={"arr": "ARR"})
    assert subs.amount == "arr"
    assert subs.rows_in == 4
    assert subs.months_merged == 1
    assert subs.frame.select("account_id", "month", "mrr").rows() == [
        ("a1", date(2025, 1, 1), 300.0),
        ("a1", date(2025, 2, 1), 300.0),
        ("a2", date(2025, 2, 1), 50.0),
    ]
    # mrr wins where both are given; arr / 12 fills the rows without an mrr
    both = load_subscriptions(
        pl.DataFrame(
            {"account_id": ["a", "b"], "month": ["2025-01-01"] * 2, "mrr": [10.0, None],
             "arr": [999.0, 120.0]}  # fmt: skip
        )
    )
    assert both.frame.get_column("mrr").to_list() == [10.0, 10.0]


def test_subscriptions_errors(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("account_id,month,revenue\na,2025-01-01,5\n")
    with pytest.raises(ColumnNotFoundError, match="'mrr' or 'arr'"):
        load_subscriptions(tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("account_id,month,mrr\na,2025-01-01,5\nb,2025-01-01,-1\n")
    with pytest.raises(InputError, match="negative amount") as neg:
        load_subscriptions(tmp_path / "b.csv")
    assert "lines: 3" in str(neg.value)
    assert "b.csv" in str(neg.value)
    (tmp_path / "c.csv").write_text("account_id,month,mrr\na,2025-01-01,\n")
    with pytest.raises(InputError, match="without an amount"):
        load_subscriptions(tmp_path / "c.csv")
    (tmp_path / "d.csv").write_text("account_id,Month,mrr\na,Jan 2025,5\na,someday,5\n")
    with pytest.raises(InputError) as bad_date:
        load_subscriptions(tmp_path / "d.csv", columns={"month": "Month"})
    assert "'Month'" in str(bad_date.value)
    assert "lines: 2, 3" in str(bad_date.value)


def test_config_takes_the_new_inputs_and_their_columns(tmp_path: Path) -> None:
    (tmp_path / "run.toml").write_text(
        '[inputs]\naccounts = "acc.csv"\nsubscriptions = "subs.parquet"\n'
        '[columns.accounts]\nsegment = "Tier"\n[columns.subscriptions]\nmrr = "MRR"\n'
    )
    cfg = load_config(tmp_path / "run.toml")
    assert cfg.inputs["accounts"] == (tmp_path / "acc.csv").resolve()
    assert cfg.inputs["subscriptions"] == (tmp_path / "subs.parquet").resolve()
    assert cfg.columns["accounts"] == {"segment": "Tier"}
    (tmp_path / "bad.toml").write_text('[columns.accounts]\nsegmnt = "Tier"\n')
    with pytest.raises(Exception, match="did you mean 'segment'"):
        load_config(tmp_path / "bad.toml")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "attribution.cli", *args],
        cwd=cwd, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_cli_flags_read_the_tables_and_report_bad_ones(tmp_path: Path) -> None:
    base = ["run", "--touches", str(SAMPLE / "touches.parquet"), "--stages",
            str(SAMPLE / "stages.parquet"), "--spend", str(SAMPLE / "spend.parquet"),
            "--model", "linear", "--out", "runs"]  # fmt: skip
    (tmp_path / "acc.csv").write_text("account_id,segment\nA1,smb\nA1,smb\n")
    proc = _cli(*base, "--accounts", "acc.csv", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip().splitlines()[-1]
    assert err.startswith("error:")
    assert "acc.csv" in err
    assert "account_id" in err
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists()
    proc = _cli(*base, "--subscriptions", "missing.parquet", cwd=tmp_path)
    assert proc.returncode == 2
    assert "missing.parquet" in proc.stderr
    assert "Traceback" not in proc.stderr
