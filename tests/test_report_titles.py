"""Ad-platform reports with title lines above the header, and their total rows (new-user
report 13, minor #2): Google Ads starts a downloaded report with its name and date range and
ends it with 'Total: Account' rows; LinkedIn Campaign Manager starts with six lines of report
facts. Read from the header, said, with every line number still the file's own."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.inputs._preamble import title_lines
from tests.test_no_silent_empty import _cli, _error_line

GOOGLE = 'Campaign report\n"January 1, 2025 - March 31, 2025"\n'
LINKEDIN = ("Campaign Performance Report (in UTC)\nReport Start: 01/01/2025, 12:00 AM\n"
            "Report End: 03/31/2025, 11:59 PM\nDate Generated: 04/05/2025, 9:14 AM\n"
            "Time Zone: UTC\n\n")
TOUCHES = ("timestamp,channel,contact_id\n2025-03-01,linkedin,c1\n2025-03-02,email,c1\n"
           "2025-03-01,email,c2\n")
STAGES = "timestamp,stage,contact_id,value\n2025-03-05,closed_won,c1,100\n" \
    "2025-03-06,closed_won,c2,50\n"
SPEND = "month,channel,amount\n2025-03,linkedin,300\n2025-03,email,100\n"


@pytest.mark.parametrize(("text", "skipped"), [
    (GOOGLE + "Day,Campaign,Cost\n2025-01-01,a,1\n2025-01-02,b,2\n", 2),
    (LINKEDIN + "Start Date (in UTC),Campaign Name,Total Spent\n01/01/2025,x,1\n", 6),
    ('Campaign report,,\n"Jan 1, 2025 - Mar 31, 2025",,\nDay,Campaign,Cost\n2025-01-01,a,1\n', 2),
    ("a,b,c\n1,2,3\n", 0),  # a header
    ("answer,channel\nfrom a podcast,podcast\n", 0),  # a header of two columns
    ("answer,channel\nx,y,z\nx,y,z\n", 0),  # a two-column header, wider rows: not a title
    ("contact_id\nc1\nc2\n", 0),  # a one-column table
    ("Title\n1,2,3\n4,5,6\n", 0),  # numbers are not a header
])
def test_title_lines_are_found_only_above_a_header(tmp_path: Path, text: str,
                                                   skipped: int) -> None:
    path = tmp_path / "f.csv"
    path.write_text(text)
    assert title_lines(path, ",") == skipped


def test_a_table_below_a_title_reads_as_the_table_and_errors_name_the_file_s_lines(
        tmp_path: Path) -> None:
    (tmp_path / "plain.csv").write_text(TOUCHES)
    (tmp_path / "titled.csv").write_text(LINKEDIN + TOUCHES)
    stages = pl.read_csv(STAGES.encode())
    plain = attribution.attribute(tmp_path / "plain.csv", stages, models=["linear"])
    titled = attribution.attribute(tmp_path / "titled.csv", stages, models=["linear"])
    assert titled.channel_credit.equals(plain.channel_credit)
    entry = titled.manifest["inputs"]["touches"]
    assert entry["title_lines_skipped"] == {"lines": 6,
                                            "first": "Campaign Performance Report (in UTC)"}
    (tmp_path / "bad.csv").write_text(LINKEDIN + TOUCHES.replace("2025-03-02", "yesterday"))
    with pytest.raises(attribution.InputError) as caught:
        attribution.attribute(tmp_path / "bad.csv", stages, models=["linear"])
    assert "(first offending lines: 9)" in str(caught.value)  # 6 title lines, the header, 2


def test_the_run_says_it_and_a_total_row_is_named(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text(TOUCHES)
    (tmp_path / "s.csv").write_text(STAGES)
    (tmp_path / "spend.csv").write_text(GOOGLE + SPEND)
    args = ("run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear", "--spend",
            "spend.csv", "--out", "runs")
    done = _cli(tmp_path, *args)
    assert done.returncode == 0, done.stderr
    assert ("NOTE: spend 'spend.csv': its first 2 line(s) ('Campaign report', ...) are a "
            "report's title, not a table: read from line 3, its header") in done.stderr
    (tmp_path / "t.csv").write_text(LINKEDIN + TOUCHES)  # said for the touches too
    (tmp_path / "spend.csv").write_text(GOOGLE + SPEND + "Total: Account,,400\n")
    failed = _cli(tmp_path, *args)
    assert failed.returncode == 2, failed.stderr
    line = _error_line(failed)
    assert "source 'spend.csv', column 'month'" in line
    assert "(first offending lines: 6)" in line
    assert "'Total: Account' looks like the export's total row" in line
    done = _cli(tmp_path, *args[:7], "--out", "runs2")  # no spend: the touches' note
    assert done.returncode == 0, done.stderr
    assert ("NOTE: touches 't.csv': its first 6 line(s) ('Campaign Performance Report (in "
            "UTC)', ...) are a report's title") in done.stderr
