"""The Spark job's command line without Spark: ``python -m attribution.spark --help`` (the
README's way to list the job's options) prints every option; it raised a TypeError from
argparse on the ``%`` of "90% intervals" (newuser-report3 #12). No pyspark needed."""

from __future__ import annotations

import subprocess
import sys

from attribution.engine._spark import NOT_ON_SPARK
from attribution.engine._spark_job import job_parser
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
