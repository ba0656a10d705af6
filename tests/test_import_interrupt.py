"""Ctrl-C during ``attribution import``: one line saying what was and was not written, exit
130 (128 + SIGINT), no traceback; the import directory is whole or absent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import attribution.cli._import as cli_import
from attribution.cli._app import app

ROOT = Path(__file__).resolve().parents[1]
HS_UI = ROOT / "tests" / "fixtures" / "hubspot_ui"


def _hubspot(out: Path) -> Any:
    return CliRunner().invoke(
        app,
        [
            "import", "hubspot",
            "--contacts", str(HS_UI / "contacts.csv"),
            "--deals", str(HS_UI / "deals.csv"),
            "--out", str(out),
        ],
    )  # fmt: skip


def test_ctrl_c_while_importing_writes_nothing_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_import, "import_hubspot", interrupted)
    out = tmp_path / "hs"
    result = _hubspot(out)
    assert result.exit_code == 130, result.output
    assert "interrupted: nothing was written" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()


def test_ctrl_c_after_the_import_is_written_names_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_import, "_print", interrupted)
    out = tmp_path / "hs"
    result = _hubspot(out)
    assert result.exit_code == 130, result.output
    assert f"interrupted: the import directory {out} was written" in result.output
    assert (out / "import_report.json").is_file()
    assert "Traceback" not in result.output
