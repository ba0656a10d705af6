"""The Spark job's setup errors, one line and exit 2 before Spark starts (new-user report
6): no Java (#7), a bad --master (#7), an --out that cannot be written (#13), a local input
directory holding a file that is not Parquet (#16); and the job's file for spark-submit
(#6). No Spark session is started here (the checks run before it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

pytest.importorskip("pyspark")

from attribution.engine._spark_job import main  # noqa: E402
from attribution.engine._spark_start import start_spark  # noqa: E402


@pytest.fixture
def inputs(tmp_path: Path) -> list[str]:
    pl.DataFrame({"contact_id": ["c"], "channel": ["email"]}).write_parquet(
        tmp_path / "touches.parquet")
    pl.DataFrame({"contact_id": ["c"]}).write_parquet(tmp_path / "stages.parquet")
    return ["--touches", str(tmp_path / "touches.parquet"), "--stages",
            str(tmp_path / "stages.parquet"), "-m", "linear"]


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_no_java_is_one_line_exit_2(inputs: list[str], tmp_path: Path) -> None:
    """It was a Python traceback (JAVA_GATEWAY_EXITED), exit 1."""
    env = {**os.environ, "JAVA_HOME": "/nonexistent"}
    env.pop("PYSPARK_GATEWAY_PORT", None)
    done = subprocess.run([sys.executable, "-m", "attribution.spark", *inputs, "--out",
                           str(tmp_path / "run"), "--master", "local[1]"],
                          capture_output=True, text=True, env=env, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "error: Spark could not start: no Java at JAVA_HOME=/nonexistent "
        "(/nonexistent/bin/java is not there): install Java 17+ or set JAVA_HOME to it")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("master", ["bogus://x", "local[abc]"])
def test_a_bad_master_is_one_line_exit_2(inputs: list[str], tmp_path: Path, master: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*inputs, "--out", str(tmp_path / "run"), "--master", master]) == 2
    err = one_line(capsys)
    assert err.startswith(f"error: Spark could not start: --master {master!r} is not a Spark")


def test_a_failed_start_says_why_naming_java_and_master(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the checks cannot foresee (the JVM exits, Spark refuses the conf): one line."""
    from pyspark.errors import PySparkRuntimeError
    from pyspark.sql import SparkSession

    def fail(self: Any) -> Any:
        raise PySparkRuntimeError(errorClass="JAVA_GATEWAY_EXITED", messageParameters={})

    monkeypatch.setattr(SparkSession.Builder, "getOrCreate", fail)
    monkeypatch.setenv("JAVA_HOME", "/opt/jdk")
    said = start_spark("local[2]")
    assert isinstance(said, str)
    assert said.startswith("[JAVA_GATEWAY_EXITED] Java gateway process exited")
    assert "JAVA_HOME / java: /opt/jdk; --master local[2]" in said


def test_an_out_under_a_file_is_refused_before_spark(
        inputs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """#13: it ran the whole job, then a Java traceback; checked without a B2B input too."""
    (tmp_path / "afile").write_text("x")
    for out in (str(tmp_path / "afile" / "sub"), f"file://{tmp_path}/afile/sub"):
        assert main([*inputs, "--out", out]) == 2
        err = one_line(capsys)
        assert f"'{tmp_path / 'afile' / 'sub'}' is not a directory ('{tmp_path / 'afile'}' " \
            "is a file)" in err


def test_a_directory_input_with_a_file_not_parquet_names_it(
        inputs: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """#16: a directory written by `attribution synth` (Parquet tables and truth.json) was
    a traceback mid-job; hidden files (_SUCCESS, .crc) are Spark's and are left alone."""
    folder = tmp_path / "synth"
    (folder / "part").mkdir(parents=True)
    pl.DataFrame({"contact_id": ["c"]}).write_parquet(folder / "part" / "a.parquet")
    (folder / "_SUCCESS").write_text("")
    (folder / ".a.parquet.crc").write_text("crc")
    (folder / "part" / "truth.json").write_text("{}\n")
    args = [*inputs, "--out", str(tmp_path / "run")]
    args[1] = str(folder)
    assert main(args) == 2
    err = one_line(capsys)
    assert err.startswith(f"error: --touches '{folder}': 'part/truth.json' in it is not a "
                          "Parquet file")


def test_the_submit_file_runs_the_job(tmp_path: Path) -> None:
    """#6: spark-submit takes a Python file, not -m; the job's file is printed, alone in its
    directory (the package's own holds typing.py, which would shadow the standard one)."""
    done = subprocess.run([sys.executable, "-m", "attribution.spark", "--submit-file"],
                          capture_output=True, text=True, timeout=120, check=True)
    path = Path(done.stdout.strip())
    assert path.is_file()
    assert sorted(p.name for p in path.parent.glob("*.py")) == [
        "__init__.py", "attribution_spark_job.py"]
    ran = subprocess.run([sys.executable, str(path), "--help"], capture_output=True,
                         text=True, timeout=120, check=False, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "--touches" in ran.stdout


# --- a failure during the job (new-user report 6 #16, #19: Py4J traces, exit 1) ----------

_PY4J = "\n".join([
    "An error occurred while calling o295.collectToPython.",
    ": org.apache.spark.SparkException: Job aborted due to stage failure: Task 1 in stage "
    "38.0 failed 1 times",
    "org.apache.spark.api.python.PythonException: Traceback (most recent call last):",
    '  File "/x/attribution/engine/_spark.py", line 230, in _task',
    '  File "/x/attribution/journeys/_journeys.py", line 228, in build_journeys',
    "attribution.exceptions.InputError: table 'touches', source 'part-0': column 'when' "
    "(timestamp), line 3: not a time",
    "\tat org.apache.spark.api.python.BasePythonRunner.handlePythonException("
    "PythonRunner.scala:572)",
])

_READ = "\n".join([
    "An error occurred while calling o88.collectToPython.",
    ": org.apache.spark.SparkException: Job aborted due to stage failure",
    "Caused by: java.lang.RuntimeException: file:/data/t/part-1.parquet is not a Parquet "
    "file. Expected magic number at tail, but found [1, 2, 3, 4]",
    "\tat org.apache.parquet.hadoop.ParquetFileReader.readFooter(ParquetFileReader.java:557)",
])


def test_a_tasks_attribution_error_is_its_own_line_exit_2() -> None:
    from attribution.engine._spark_failure import job_failure

    line, code = job_failure(RuntimeError(_PY4J))
    assert line == (
        "table 'touches', source 'part-0': column 'when' (timestamp), line 3: not a time"
    )
    assert code == 2
    empty = _PY4J.replace("InputError: table", "EmptyResultError: table")
    assert job_failure(RuntimeError(empty))[1] == 3


def test_a_read_spark_cannot_do_during_the_job_is_one_line_exit_2() -> None:
    from attribution.engine._spark_failure import job_failure

    line, code = job_failure(RuntimeError(_READ))
    assert line == (
        "Spark cannot read the inputs: file:/data/t/part-1.parquet is not a Parquet file. "
        "Expected magic number at tail, but found [1, 2, 3, 4]"
    )
    assert code == 2


def test_any_other_failure_is_one_line_exit_1_naming_its_kind() -> None:
    from attribution.engine._spark_failure import job_failure

    line, code = job_failure(MemoryError("Java heap space"))
    assert line.startswith("the Spark job failed: MemoryError: Java heap space")
    assert "\n" not in line
    assert code == 1
