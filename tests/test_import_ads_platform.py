"""review20 #1: an ad platform's report given as the other's (Google Ads' campaign report as
``--linkedin-ads``, LinkedIn's Campaign Performance Report as ``--google-ads``) was imported
as the wrong channel's spend with exit 0; each platform's export is recognised by its
headers and the other's is refused (exit 2, naming the file, what it looks like and the
right option)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from attribution import SchemaError, import_ads
from attribution.cli._app import app
from tests.test_import_ads import GOOGLE, LINKEDIN, write


def _ads(*args: str) -> object:
    return CliRunner().invoke(app, ["import", "ads", *args])


@pytest.mark.parametrize(
    ("given", "text", "looks_like", "right"),
    [
        ("--linkedin-ads", GOOGLE, "a Google Ads campaign report", "--google-ads"),
        ("--google-ads", LINKEDIN, "a LinkedIn Campaign Manager export", "--linkedin-ads"),
    ],
)
def test_a_report_given_as_the_other_platform_is_refused(
    tmp_path: Path, given: str, text: str, looks_like: str, right: str
) -> None:
    """review20 #1: Google's report as --linkedin-ads was linkedin spend, exit 0."""
    report = write(tmp_path / "report.csv", text)
    out = tmp_path / "ads"
    result = _ads(given, str(report), "--out", str(out))
    assert result.exit_code == 2, result.output
    line = " ".join(result.output.split())
    assert str(report) in line
    assert f"looks like {looks_like}" in line
    assert f"give it as {right} {report}" in line
    assert "Traceback" not in result.output
    assert not out.exists()


def test_each_report_given_as_its_own_platform_is_read(tmp_path: Path) -> None:
    google, linkedin = write(tmp_path / "g.csv", GOOGLE), write(tmp_path / "l.csv", LINKEDIN)
    result = import_ads(google_ads=google, linkedin_ads=linkedin)
    assert result.report["spend"] == {"google_ads": 1267.52, "linkedin": 482.93}
    with pytest.raises(SchemaError, match="looks like a LinkedIn"):
        import_ads(google_ads=linkedin, linkedin_ads=google)


def test_a_report_with_neither_platforms_headers_is_read_as_given(tmp_path: Path) -> None:
    """Only a file with the other platform's own headers and none of its own is refused: a
    plain Day / Campaign / Cost sheet given as LinkedIn stays LinkedIn's spend."""
    plain = write(tmp_path / "p.csv", "Day,Campaign,Cost\n2025-01-01,c1,10.50\n")
    assert import_ads(linkedin_ads=plain).report["spend"] == {"linkedin": 10.5}
