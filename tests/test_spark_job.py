"""The Spark job's command line without Spark: ``python -m attribution.spark --help`` (the
README's way to list the job's options) prints every option; it raised a TypeError from
argparse on the ``%`` of "90% intervals" (newuser-report3 #12). No pyspark needed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from attribution.engine._spark import NOT_ON_SPARK
from attribution.engine._spark_job import job_parser, main
from attribution.options import option_flags


def test_the_job_help_lists_every_option_with_its_text() -> None:
    text = " ".join(job_parser().format_help().split())
    for name, flag in option_flags():
        if name in NOT_ON_SPARK:
            continue
        assert flag.flags[0] in text
        if flag.help:  # as written, a % as itself
            assert " ".join(flag.help.split()) in text, name
    assert "90% intervals" in text  # --bootstrap's help


def test_python_m_attribution_spark_help_exits_0() -> None:
    done = subprocess.run([sys.executable, "-m", "attribution.spark", "--help"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "--touches" in done.stdout
    assert "--bootstrap" in done.stdout


@pytest.mark.parametrize(("touches", "says"), [
    ("nope.parquet", "--touches '{p}': no such file or directory"),
    ("t.csv", "--touches '{p}' is not a Parquet file: the Spark job reads Parquet"),
])
def test_a_missing_or_csv_input_is_one_line_before_spark_starts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], touches: str, says: str) -> None:
    """newuser-report3 #19 / #19b: a missing input and a CSV were a 7-frame Python traceback
    and 283 lines of Java stack, exit 1, after the JVM started. Now one line, exit 2,
    checked before Spark (so no pyspark is needed here)."""
    pl.DataFrame({"contact_id": ["c"], "channel": ["email"],
                  "timestamp": ["2025-01-01"]}).write_csv(tmp_path / "t.csv")
    pl.DataFrame({"contact_id": ["c"]}).write_parquet(tmp_path / "stages.parquet")
    path = str(tmp_path / touches)
    code = main(["--touches", path, "--stages", str(tmp_path / "stages.parquet"),
                 "--out", str(tmp_path / "run"), "--model", "linear"])
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert err.startswith(f"error: {says.format(p=path)}")
    assert not (tmp_path / "run").exists()
    file_uri = main(["--touches", "file://" + path, "--stages",
                     str(tmp_path / "stages.parquet"), "--out", str(tmp_path / "run"),
                     "--model", "linear"])
    assert file_uri == 2
