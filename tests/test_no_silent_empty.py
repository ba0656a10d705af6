"""No silent empty or wrong result (issue 14): exit codes and messages of the CLI on messy
exports, run as a user runs it (subprocess), and the library counts behind them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.cli._output import reconciliation_lines
from attribution.inputs._config import load_config

pytestmark = pytest.mark.slow

# A CRM export as a RevOps analyst gets it: every field quoted, quoted blanks, US dates, the
# CRM's own stage names and channel spellings.
TOUCHES = """\
"Id","ContactId","Channel","Date"
"t1","c1","LinkedIn","2/1/2025 9:00 AM"
"t2","c1","linkedin ","2/10/2025 10:30 AM"
"t3","c1","Google Ads\u00a0","2/20/2025 1:19 PM"
"t4","c2","Linkedin","2/2/2025 8:00 AM"
"t5","c2","Google Ads","2/25/2025 4:45 PM"
"t6","c3","email","2/3/2025 11:00 AM"
"t7","","email","2/4/2025 11:00 AM"
"""
STAGES = """\
"ContactId","Stage","Date","Amount"
"c1","Lead","2/1/2025 9:05 AM",""
"c1","Closed Won","3/1/2025 12:00 PM","12000"
"c2","Lead","2/2/2025 8:05 AM",""
"c2","Closed Won","3/2/2025 12:00 PM",""
"c3","Lead","2/3/2025 11:05 AM",""
"""
CONFIG = """\
[inputs]
touches = "touches.csv"
stages = "stages.csv"

[run]
lookback = "90d"

[columns.touches]
touch_id = "Id"
contact_id = "ContactId"
channel = "Channel"
timestamp = "Date"

[columns.stages]
contact_id = "ContactId"
stage = "Stage"
timestamp = "Date"
value = "Amount"

[formats]
timestamp = ["%m/%d/%Y %I:%M %p", "%m/%d/%Y"]
"""
MAPPED = (
    CONFIG
    + """
[stage_names]
lead = "Lead"
closed_won = "Closed Won"
"""
)
SPEND = """\
"channel","month","amount"
"LinkedIn","2025-02","3000"
"google ads","2025-02","1000"
"Emial","2025-02","500"
"""


@pytest.fixture
def export(tmp_path: Path) -> Path:
    (tmp_path / "touches.csv").write_text(TOUCHES)
    (tmp_path / "stages.csv").write_text(STAGES)
    (tmp_path / "spend.csv").write_text(SPEND)
    (tmp_path / "run.toml").write_text(CONFIG)
    (tmp_path / "mapped.toml").write_text(MAPPED)
    return tmp_path


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attribution.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=180,
    )


def _error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, proc.stderr  # one line, whole
    return lines[0]


def _options(*models: str) -> attribution.RunOptions:
    return attribution.RunOptions(
        models=list(models),
        columns={
            "touches": {
                "touch_id": "Id",
                "contact_id": "ContactId",
                "channel": "Channel",
                "timestamp": "Date",
            },
            "stages": {
                "contact_id": "ContactId",
                "stage": "Stage",
                "timestamp": "Date",
                "value": "Amount",
            },
        },  # fmt: skip
        stage_names={"lead": "Lead", "closed_won": "Closed Won"},
        timestamp_formats=["%m/%d/%Y %I:%M %p"],
    )


def _manifest(cwd: Path) -> dict:
    (run,) = (cwd / "runs").iterdir()
    return json.loads((run / "manifest.json").read_text())


# --------------------------------------------------------------------------- empty results
def test_unmapped_stage_names_exit_3_with_the_stages_found(export: Path) -> None:
    proc = _cli(export, "run", "-c", "run.toml", "-m", "linear", "-o", "runs")
    assert proc.returncode == 3
    line = _error_line(proc)
    assert "no stage event is the conversion stage 'closed_won'" in line
    # the names found, with their counts ('Lead' is the stage 'lead' in the run's spelling;
    # 'Closed Won' is no name the run knows: kept as written)
    assert "'lead' 3, 'Closed Won' 2" in line
    assert "Did you mean 'Closed Won'?" in line
    assert '[stage_names] closed_won = ["Closed Won"]' in line  # brackets survive Rich
    assert "--allow-empty" in line
    assert not (export / "runs").exists()  # nothing written that looks like an answer


def test_wrong_conversion_stage_gets_a_did_you_mean(export: Path) -> None:
    proc = _cli(
        export, "run", "-c", "mapped.toml", "-m", "linear", "-o", "runs",
        "--conversion-stage", "won",
    )  # fmt: skip
    assert proc.returncode == 3
    line = _error_line(proc)
    assert "conversion stage 'won'" in line
    assert "Did you mean 'closed_won'? Give it with --conversion-stage closed_won" in line


def test_lookback_too_short_says_how_many_touches_fell_outside(export: Path) -> None:
    proc = _cli(
        export, "run", "-c", "mapped.toml", "-m", "linear", "-o", "runs", "--lookback", "1h"
    )
    assert proc.returncode == 3
    line = _error_line(proc)
    assert "2 conversion(s) of stage 'closed_won', none with a touch in its journey" in line
    # c1's t1, t2 and c2's t4; the last touch of each is in a non-converting path
    assert "3 touch(es) fell outside the lookback" in line
    assert "3 touch(es) are in non-converting paths" in line


def test_allow_empty_accepts_and_spend_on_an_empty_result_does_not_raise(export: Path) -> None:
    proc = _cli(
        export, "run", "-c", "mapped.toml", "-m", "linear", "-m", "markov", "-o", "runs",
        "--lookback", "1h", "--allow-empty", "--spend", "spend.csv",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    manifest = _manifest(export)
    assert manifest["reconciliation"]["conversions_attributed"] == 0
    assert manifest["parameters"]["allow_empty"] is True
    assert any("none with a touch in its journey" in n for n in manifest["notes"])
    run = next((export / "runs").iterdir())
    assert pl.read_parquet(run / "economics.parquet").get_column("customers").sum() == 0


def test_library_result_says_why_it_is_empty(export: Path) -> None:
    options = _options("linear").replace(stage_names=None)
    with pytest.raises(attribution.EmptyResultError, match="'Closed Won' 2"):  # report 5 #3
        attribution.attribute(export / "touches.csv", export / "stages.csv", options=options)
    allowed = attribution.attribute(
        export / "touches.csv", export / "stages.csv", options=options.replace(allow_empty=True)
    )
    rec = allowed.manifest["reconciliation"]
    assert rec["stage_counts"] == {"lead": 3, "Closed Won": 2}
    assert rec["stage_values_renamed"] == {"Lead": "lead"}
    assert allowed.require_conversions() is allowed
    with pytest.raises(attribution.EmptyResultError, match="'Closed Won' 2"):
        allowed.write(export / "refused", allow_empty=False)


# --------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("flag", ["--spend", "--surveys", "--plan"])
def test_a_missing_file_fails_before_any_work(export: Path, flag: str) -> None:
    proc = _cli(export, "run", "-c", "mapped.toml", "-m", "linear", "-o", "runs", flag, "nope.x")
    assert proc.returncode == 2
    line = _error_line(proc)
    assert "nope.x" in line
    assert "file not found" in line
    assert "[load]" not in proc.stderr  # no stage started


def test_duration_without_a_unit_is_an_error(export: Path) -> None:
    proc = _cli(
        export, "run", "-c", "mapped.toml", "-m", "linear", "-o", "runs", "--lookback", "90"
    )
    assert proc.returncode == 2
    line = _error_line(proc)
    assert "a number needs a unit" in line
    assert "'90d'" in line


def test_header_only_touches_file_is_an_error_naming_it(export: Path) -> None:
    (export / "touches.csv").write_text(TOUCHES.splitlines()[0] + "\n")
    proc = _cli(export, "run", "-c", "mapped.toml", "-m", "linear", "-o", "runs")
    assert proc.returncode == 2
    line = _error_line(proc)
    assert "touches.csv" in line
    assert "no data rows" in line


def test_empty_file_is_an_error_naming_it(export: Path) -> None:
    (export / "stages.csv").write_text("")
    proc = _cli(export, "run", "-c", "mapped.toml", "-m", "linear", "-o", "runs")
    assert proc.returncode == 2
    assert "stages.csv" in _error_line(proc)


def test_negative_deal_value_names_file_column_and_lines(export: Path) -> None:
    (export / "stages.csv").write_text(STAGES.replace('"12000"', '"-12000"'))
    proc = _cli(export, "run", "-c", "mapped.toml", "-m", "linear", "-o", "runs")
    assert proc.returncode == 2
    line = _error_line(proc)
    assert "stages.csv" in line
    assert "column 'Amount' (ours: 'value')" in line
    assert "negative" in line
    assert "first offending lines: 3" in line  # the header is line 1


@pytest.mark.parametrize("model", ["first_touch", "w_shaped", "time_decay", "markov", "shapley"])
def test_negative_deal_value_is_refused_by_every_model_set(export: Path, model: str) -> None:
    (export / "stages.csv").write_text(STAGES.replace('"12000"', '"-12000"'))
    with pytest.raises(attribution.InputError, match=r"'Amount' \(ours: 'value'\).*lines: 3"):
        attribution.attribute(
            export / "touches.csv", export / "stages.csv", options=_options(model)
        )


def test_duplicate_stage_rows_are_dropped_and_counted(export: Path) -> None:
    lines = STAGES.splitlines()
    (export / "stages.csv").write_text("\n".join([*lines, lines[2], lines[2]]) + "\n")
    result = attribution.attribute(
        export / "touches.csv", export / "stages.csv", options=_options("linear")
    )
    rec = result.manifest["reconciliation"]
    assert rec["stages_dropped"] == {"exact_duplicate": 2}
    assert rec["conversions"] == 2  # the duplicated win is one conversion
    assert "stage events dropped {'exact_duplicate': 2}" in reconciliation_lines(rec)[2]


def test_two_wins_at_one_time_are_reported_as_such(export: Path) -> None:
    second = '"c1","Closed Won","3/1/2025 12:00 PM","5000"'
    (export / "stages.csv").write_text(STAGES + second + "\n")
    result = attribution.attribute(
        export / "touches.csv", export / "stages.csv", options=_options("linear")
    )
    rec = result.manifest["reconciliation"]
    assert rec["conversions_same_timestamp"] == 1
    assert rec["conversions_unattributed"] == 0
    assert rec["conversions"] == 3
    line = reconciliation_lines(rec)[1]
    assert "without touches 0, at the same time as an earlier conversion of the entity 1" in line
    page = (result.write(export / "runs") / "report.html").read_text()
    assert "without touches 0, at the same time as an earlier conversion of the entity 1" in page


# --------------------------------------------------------------------------- channels
@pytest.fixture(scope="module")
def mapped_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict, Path]:
    """One successful CLI run of the export with --spend: (stdout, manifest, run dir)."""
    cwd = tmp_path_factory.mktemp("mapped")
    for name, text in (("touches.csv", TOUCHES), ("stages.csv", STAGES), ("spend.csv", SPEND),
                       ("mapped.toml", MAPPED)):  # fmt: skip
        (cwd / name).write_text(text)
    proc = _cli(
        cwd, "run", "-c", "mapped.toml", "-m", "linear", "-o", "runs", "--spend", "spend.csv"
    )
    assert proc.returncode == 0, proc.stderr
    (run,) = (cwd / "runs").iterdir()
    return proc.stdout, json.loads((run / "manifest.json").read_text()), run


def test_channel_spellings_are_one_channel_and_reported(mapped_run) -> None:
    stdout, manifest, run = mapped_run
    rec = manifest["reconciliation"]
    assert rec["touch_channels"] == ["email", "google_ads", "linkedin"]  # a space is a '_' 
    assert rec["channel_values_renamed"] == {
        "LinkedIn": "linkedin",
        "linkedin ": "linkedin",
        "Linkedin": "linkedin",
        "Google Ads\u00a0": "google_ads",
        "Google Ads": "google_ads",
    }
    assert rec["touches_channel_renamed"] == 5
    credit = pl.read_parquet(run / "channel_credit.parquet")
    assert sorted(credit.get_column("channel").to_list()) == ["google_ads", "linkedin"]
    assert credit.get_column("conversions").sum() == pytest.approx(2.0)
    assert "channel values renamed 5 (5 touches)" in stdout


def test_channels_table_maps_aliases(export: Path) -> None:
    options = _options("linear").replace(channel_aliases={"google_ads": ["Google Ads"]})
    result = attribution.attribute(export / "touches.csv", export / "stages.csv", options=options)
    rec = result.manifest["reconciliation"]
    assert rec["touch_channels"] == ["email", "google_ads", "linkedin"]
    assert result.manifest["parameters"]["channel_aliases"] == {"google_ads": ["Google Ads"]}
    (export / "aliases.toml").write_text(MAPPED + '\n[channels]\ngoogle_ads = ["Google Ads"]\n')
    assert load_config(export / "aliases.toml").options().channel_aliases == {
        "google_ads": ["Google Ads"]
    }


def test_spend_channel_spelling_and_unmatched_spend_are_not_breaches(mapped_run) -> None:
    stdout, _, run = mapped_run
    econ = pl.read_parquet(run / "economics.parquet").filter(pl.col("model") == "linear")
    status = dict(econ.select("channel", "status").iter_rows())
    breach = dict(econ.select("channel", "breach").iter_rows())
    # 'LinkedIn' spend meets 'linkedin' touches: customers, not a breach with 0 customers
    assert status["linkedin"] == "paid"
    assert econ.filter(pl.col("channel") == "linkedin").get_column("customers").item() > 0
    # 'Emial' matches no touch channel: reported as such, with a did-you-mean, no breach
    assert status["emial"] == "no_touches"
    assert breach["emial"] is False
    params = json.loads((run / "economics.json").read_text())["parameters"]
    assert "did you mean 'email'?" in params["spend_channels_without_touches"]["emial"]
    assert "Spend channel 'emial' matches no touch channel: did you mean 'email'?" in stdout
    assert 'map it in [channels] (email = ["emial"])' in stdout  # brackets survive Rich


# --------------------------------------------------------------------------- CLI output
def test_tables_and_lines_are_not_wrapped_in_logs(mapped_run) -> None:
    stdout, _, _ = mapped_run
    lines = stdout.splitlines()
    # the economics header is one line of over 80 columns, not broken at 80
    (header,) = [line for line in lines if line.startswith("Unit economics under linear")]
    assert len(header) > 80
    assert header.rstrip().endswith("per customer):")
    # every table row is whole: it starts and ends with the border
    rows = [line for line in lines if line.startswith("│")]
    assert rows
    assert all(line.rstrip().endswith("│") for line in rows)


def test_summary_shows_other_and_without_value(mapped_run) -> None:
    stdout, _, _ = mapped_run
    assert "without a value 1" in stdout  # c2's win has a quoted blank Amount
    assert "touches mapped to 'other' 0" in stdout
    assert "dropped 1 {'missing_contact_id': 1}" in stdout  # t7's quoted blank contact


def test_help_and_config_errors_keep_their_brackets(export: Path) -> None:
    helped = _cli(export, "run", "--help")
    assert helped.returncode == 0
    assert "[inputs] spend" in " ".join(helped.stdout.split())
    (export / "bad.toml").write_text('[run]\nlook_back = "90d"\n')
    proc = _cli(export, "run", "-c", "bad.toml")
    assert proc.returncode == 2
    assert "unknown key 'look_back' in [run]" in _error_line(proc)
