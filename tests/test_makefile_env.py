"""``make env`` / ``make demo`` install the package without setuptools' nine-line
"Editable installation." notice (new-user reports 3 and 4, defect 16), and only that: the
install's environment carries one Python warnings filter on that message, so every other
warning of pip and setuptools still prints.

The recipe is the Makefile's own (``make -n -B env``), run here with the install replaced by
a Python that emits the notice (as pip re-emits the build backend's warning) and another
warning.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTALL = "-m pip install --quiet -e '.[test]'"
EMIT = (
    "import warnings\n"
    "warnings.warn('Editable installation.\\n!!\\n\\n  Please be careful with folders in "
    "your working directory with the same\\n  name as your package ...', UserWarning)\n"
    "warnings.warn('License classifiers are deprecated.', UserWarning)\n"
)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("outer", [None, "default"])
def test_the_editable_install_notice_is_filtered_and_nothing_else(outer: str | None) -> None:
    dry = subprocess.run(
        ["make", "-n", "-B", "env"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    (line,) = [x for x in dry.stdout.splitlines() if x.endswith(INSTALL)]
    prefix = line[: -len(INSTALL)].rstrip().rpartition(" ")[0]  # the environment
    command = f"{prefix} {sys.executable} -c \"$EMIT\""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    env["EMIT"] = EMIT
    if outer is not None:
        env["PYTHONWARNINGS"] = outer  # a user's own filter is kept
    done = subprocess.run(
        ["sh", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "License classifiers are deprecated." in done.stderr
    assert "Editable installation" not in done.stderr
    assert "Please be careful" not in done.stderr
