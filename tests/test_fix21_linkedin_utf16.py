"""New-user report 16, M5: LinkedIn Campaign Manager's "CSV" is UTF-16, tab-separated, with
title lines above its header. The UTF-16 file got the iconv hint; after iconv the ``.csv``
got "more fields than the header's 1" without saying tabs; renamed ``.tsv`` it failed
because title lines were skipped in CSVs only. ``import ads`` now reads all three forms (the
UTF-16 file decoded in memory); ``run`` says "tabs" of a tab-separated ``.csv`` below a
title."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import attribution
from attribution import import_ads
from attribution.cli._app import app
from tests.test_import_ads import LINKEDIN

TABBED = (
    LINKEDIN.replace(",", "\t")
    .replace("Report Start: 01/01/2025\t", "Report Start: 01/01/2025, ")
    .replace("Report End: 01/02/2025\t", "Report End: 01/02/2025, ")
    .replace("Date Generated: 01/05/2026\t", "Date Generated: 01/05/2026, ")
    .replace("\n", "\r\n")
)
EXPECTED = {("li_abm", 158.75), ("li_demo", 324.18)}


def _spend(result: attribution.ImportResult) -> set[tuple[str, float]]:
    return set(result.spend.select("campaign", "amount").iter_rows())


@pytest.mark.parametrize(
    ("name", "encoding"),
    [("report.csv", "utf-16"), ("report.csv", "utf-16-le"), ("report-utf8.csv", "utf-8"),
     ("report.tsv", "utf-8"), ("report.tsv", "utf-16")],
)  # fmt: skip
def test_every_form_of_the_report_imports(tmp_path: Path, name: str, encoding: str) -> None:
    path = tmp_path / name
    path.write_bytes(TABBED.encode(encoding))
    result = import_ads(linkedin_ads=path)
    assert _spend(result) == EXPECTED
    notes = result.report["notes"]
    assert any("6 title line(s)" in n for n in notes), notes
    assert any("UTF-16" in n for n in notes) == encoding.startswith("utf-16")


def test_an_error_in_a_decoded_report_names_the_file_and_its_line(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_bytes(TABBED.replace("324.18", "abc").encode("utf-16"))
    with pytest.raises(attribution.SchemaError) as caught:
        import_ads(linkedin_ads=path)
    assert caught.value.source == str(path)
    assert "line(s) 9" in str(caught.value)  # the file's own line: 6 above the header


def test_run_says_tabs_of_a_tab_separated_csv_below_a_title(tmp_path: Path) -> None:
    spend = tmp_path / "report-utf8.csv"
    spend.write_text(TABBED)
    stages = tmp_path / "stages.csv"
    stages.write_text("timestamp,contact_id,stage\n2025-01-05T10:00:00Z,a,closed_won\n")
    for table in ("--spend", "--touches"):
        args = ["run", "--touches", str(spend if table == "--touches" else stages),
                "--stages", str(stages), "--out", str(tmp_path / "runs")]  # fmt: skip
        if table == "--spend":
            args = ["run", "--touches", str(tmp_path / "t.csv"), "--stages", str(stages),
                    "--spend", str(spend), "--out", str(tmp_path / "runs")]  # fmt: skip
            (tmp_path / "t.csv").write_text("timestamp,contact_id,channel\n"
                                            "2025-01-01T10:00:00Z,a,linkedin\n")  # fmt: skip
        cli = CliRunner().invoke(app, args)
        assert cli.exit_code == 2, cli.output
        assert "looks delimited by tabs" in cli.output
        assert "its header is line 7" in cli.output
        assert ".tsv extension" in cli.output
