"""Messy cells of real exports, as the second new-user test found them (defects 5-11, 17,
21): every one either an error naming the file, the user's column and the 1-based lines,
or a documented normalisation counted in the manifest; never exit 0 with a wrong answer.
The checks live in the shared reading layer (``attribution.inputs``), so the CLI, the
library, the partitioned executor and the service's batch runs all get them."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.inputs import MAX_AMOUNT
from tests.test_no_silent_empty import _cli, _error_line

TOUCHES = "timestamp,channel,contact_id\n2025-03-01,linkedin,c1\n2025-03-01,linkedin,c2\n" \
    "2025-03-01,email,c3\n"


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


# ----------------------------------------------------------- 21: numbers beyond 1e15
HUGE_STAGES = (
    "timestamp,stage,contact_id,value\n"
    "2025-03-05,closed_won,c1,1e308\n"
    "2025-03-05,closed_won,c2,1e308\n"
    "2025-03-05,closed_won,c3,5\n"
)


def test_a_huge_deal_value_is_an_error_naming_the_lines_not_inf_credit(tmp_path: Path) -> None:
    _write(tmp_path, "t.csv", TOUCHES)
    _write(tmp_path, "s.csv", HUGE_STAGES)
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear",
                "-m", "markov", "--out", "runs")
    assert proc.returncode == 2, proc.stderr
    line = _error_line(proc)
    assert "source 's.csv', column 'value'" in line
    assert "2 value(s) above 1e15" in line
    assert "(first offending lines: 2, 3)" in line
    assert "RuntimeWarning" not in proc.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("value", [1.000001e15, -2e15, math.inf, 1e308])
def test_every_reader_bounds_numbers(tmp_path: Path, value: float) -> None:
    touches = pl.read_csv(TOUCHES.encode())
    stages = pl.DataFrame({"timestamp": ["2025-03-05"] * 2, "stage": ["closed_won"] * 2,
                           "contact_id": ["c1", "c2"], "value": [5.0, value]})
    with pytest.raises(attribution.InputError, match=r"column 'value': 1 value\(s\) above 1e15"):
        attribution.attribute(touches, stages, models=["linear"])
    stages.write_parquet(tmp_path / "s.parquet")
    with pytest.raises(attribution.InputError, match=r"first offending rows, 1-based: 2\)"):
        attribution.attribute_partitioned(touches, tmp_path / "s.parquet", models=["linear"],
                                          partitions=2)
    spend = pl.DataFrame({"channel": ["linkedin"], "month": ["2025-03"], "amount": [value]})
    with pytest.raises(attribution.InputError, match="column 'amount'"):
        attribution.B2BInputs(spend=spend).check()


def test_the_bound_itself_is_accepted_and_credit_stays_finite() -> None:
    touches = pl.read_csv(TOUCHES.encode())
    stages = pl.DataFrame({"timestamp": ["2025-03-05"] * 3, "stage": ["closed_won"] * 3,
                           "contact_id": ["c1", "c2", "c3"], "value": [MAX_AMOUNT] * 2 + [5.0]})
    result = attribution.attribute(touches, stages, models=["linear", "markov"])
    credit = result.channel_credit
    assert credit.get_column("value").is_finite().all()
    for model in ("linear", "markov"):
        total = credit.filter(pl.col("model") == model).get_column("value").sum()
        assert total == pytest.approx(2 * MAX_AMOUNT + 5.0, rel=1e-12)


# ----------------------------------------------------------- 11: two-digit years
def test_a_two_digit_year_under_a_four_digit_pattern_is_an_error_with_the_y_hint(
    tmp_path: Path,
) -> None:
    _write(tmp_path, "t.csv", "timestamp,channel,contact_id\n3/5/25,linkedin,c1\n"
           "3/6/2025,email,c1\n3/7/25 7:41 AM,email,c1\n")
    _write(tmp_path, "s.csv", "timestamp,stage,contact_id\n3/20/2025,closed_won,c1\n")
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear",
                "--timestamp-format", "%m/%d/%Y %I:%M %p", "--timestamp-format", "%m/%d/%Y",
                "--out", "runs")
    assert proc.returncode == 2, proc.stderr
    line = _error_line(proc)
    assert "source 't.csv', column 'timestamp': 2 value(s) cannot be read as timestamp" in line
    assert "(first offending lines: 2, 4)" in line
    assert "two-digit year" in line
    assert "'%m/%d/%y %I:%M %p'" in line
    # with %y the same file reads as 2025
    ok = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear",
              "--timestamp-format", "%m/%d/%y %I:%M %p", "--timestamp-format", "%m/%d/%y",
              "--timestamp-format", "%m/%d/%Y", "--out", "runs")
    assert ok.returncode == 0, ok.stderr
    assert "dated before 1990" not in ok.stdout


@pytest.mark.parametrize("text", ["25-03-05", "0025-03-05", "3/5/25"])
def test_no_pattern_reads_a_year_before_1000(text: str) -> None:
    from attribution.inputs import parse_timestamp

    parsed = pl.select(parse_timestamp(pl.lit(text), ["%m/%d/%Y", "%Y-%m-%d"])).item()
    assert parsed is None


def test_typed_dates_before_1990_are_counted_and_printed(tmp_path: Path) -> None:
    from datetime import datetime

    touches = pl.DataFrame({"timestamp": [datetime(1925, 3, 5), datetime(2025, 3, 6)],
                            "channel": ["linkedin", "email"], "contact_id": ["c1", "c1"]})
    stages = pl.DataFrame({"timestamp": [datetime(1970, 1, 1), datetime(2025, 3, 20)],
                           "stage": ["closed_won"] * 2, "contact_id": ["c2", "c1"]})
    touches.write_parquet(tmp_path / "t.parquet")
    stages.write_parquet(tmp_path / "s.parquet")
    result = attribution.attribute(touches, stages, models=["linear"])
    assert result.manifest["reconciliation"]["dated_before_1990"] == {
        "touches": 1, "conversions": 1}
    proc = _cli(tmp_path, "run", "--touches", "t.parquet", "--stages", "s.parquet", "-m",
                "linear", "--out", "runs", "--allow-empty")
    assert proc.returncode == 0, proc.stderr
    assert "dated before 1990 (kept: check the year) {'touches': 1, 'conversions': 1}" in \
        proc.stdout


# ----------------------------------------------------------- 5: stage names by case / space
DRIFTED_STAGES = (
    "\ufefftimestamp,stage,contact_id,value\r\n"
    "2025-03-05,closed_won,c1,100\r\n"
    "2025-03-05, closed_won,c2,200\r\n"
    "2025-03-05,Closed_Won,c3,300\r\n"
    "2025-03-04,Opportunity ,c3,\r\n"
    "2025-03-04,Closed Won,c4,400\r\n"
)


def test_stage_names_differing_by_case_or_spaces_are_the_conversion_stage(tmp_path: Path) -> None:
    _write(tmp_path, "t.csv", TOUCHES + "2025-03-01,email,c4\n")
    _write(tmp_path, "s.csv", DRIFTED_STAGES)
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear",
                "--out", "runs")
    assert proc.returncode == 0, proc.stderr
    assert "conversions 3: attributed 3" in proc.stdout
    assert "stage values renamed 3 (3 events: ' closed_won' -> 'closed_won', 'Closed_Won' -> " \
        "'closed_won', 'Opportunity ' -> 'opportunity')" in proc.stdout
    (run,) = (tmp_path / "runs").iterdir()
    import json

    rec = json.loads((run / "manifest.json").read_text())["reconciliation"]
    # 'Closed Won' (a space for the underscore) is no name the run knows: kept, not guessed
    assert rec["stage_counts"] == {"closed_won": 3, "Closed Won": 1, "opportunity": 1}
    assert rec["stage_events_renamed"] == 3
    credit = pl.read_parquet(run / "channel_credit.parquet")
    assert credit.get_column("value").sum() == pytest.approx(600.0)


def test_stage_names_are_folded_toward_the_runs_own_spelling() -> None:
    touches = pl.read_csv(TOUCHES.encode())
    stages = pl.DataFrame({"timestamp": ["2025-03-05"] * 3, "contact_id": ["c1", "c2", "c3"],
                           "stage": ["Won", "WON ", "Deal Won"]})
    # a conversion stage given as the user spells it, and a mapping compared in that spelling
    options = attribution.RunOptions(models=["linear"], conversion_stage="Won",
                                     stage_names={"Won": ["deal  won"]})
    result = attribution.attribute(touches, stages, options=options)
    rec = result.manifest["reconciliation"]
    assert rec["conversions"] == 3
    assert rec["stage_values_renamed"] == {"Deal Won": "Won", "WON ": "Won"}
    # the B2B steps read the stages with the same spellings
    from attribution.b2b._shared import load_stage_events

    _, frame, _ = load_stage_events(stages.with_columns(pl.lit("Closed_Won ").alias("stage")),
                                    stage_names=None, columns=None, timestamp_formats=None)
    assert frame.get_column("stage").unique().to_list() == ["closed_won"]


# ----------------------------------------------------------- 7: null tokens
@pytest.mark.parametrize("token", ["null", "N/A", "#N/A", "NaN", "None", "-", "NULL", "n/a"])
def test_null_tokens_are_missing_values_not_a_channel(tmp_path: Path, token: str) -> None:
    _write(tmp_path, "t.csv", f"timestamp,channel,contact_id\n2025-03-01,linkedin,c1\n"
           f"2025-03-02,{token},c1\n2025-03-02,email,{token}\n")
    _write(tmp_path, "s.csv", f"timestamp,stage,contact_id,value\n2025-03-05,closed_won,c1,"
           f"{token}\n")
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear",
                "--out", "runs")
    assert proc.returncode == 2, proc.stderr
    line = _error_line(proc)
    assert "column 'channel': 1 touches have no channel (first offending lines: 3)" in line
    # without the token channel: the token contact id is a touch without a contact, the
    # token value a conversion without a value
    _write(tmp_path, "t.csv", f"timestamp,channel,contact_id\n2025-03-01,linkedin,c1\n"
           f"2025-03-02,email,{token}\n")
    result = attribution.attribute(tmp_path / "t.csv", tmp_path / "s.csv", models=["linear"])
    rec = result.manifest["reconciliation"]
    assert rec["touches_dropped"] == {"missing_contact_id": 1}
    assert rec["conversions_without_value"] == 1
    assert result.channel_credit.get_column("channel").to_list() == ["linkedin"]


def test_null_tokens_are_found_in_parquet_whatever_the_statistics(tmp_path: Path) -> None:
    # ids whose bounds exclude every token skip the exact look; a channel column cannot
    touches = pl.DataFrame({"timestamp": ["2025-03-01", "2025-03-02"], "channel": ["a", "nan"],
                            "contact_id": ["C1", "C2"]})
    touches.write_parquet(tmp_path / "t.parquet")
    with pytest.raises(attribution.InputError, match=r"1 touches have no channel \(first "
                       r"offending rows, 1-based: 2\)"):
        # a stage row: an empty stages frame is an error of its own (report 5 #4)
        attribution.attribute(tmp_path / "t.parquet", pl.read_csv(HUGE_STAGES.encode()).tail(1),
                              models=["linear"])
    from attribution.inputs._reading import token_free

    assert token_free("C0001", "C9999")
    assert not token_free("direct", "webinar")
    assert not token_free("0000", "ffff")  # 'N/A' sorts between digits and letters


# ----------------------------------------------------------- 9, 22, 23: cells and dates bounded
def test_a_huge_cell_is_an_error_naming_the_line_before_any_work(tmp_path: Path) -> None:
    _write(tmp_path, "t.csv", "timestamp,channel,contact_id\n2025-03-01," + "x" * 2_000_000
           + ",c1\n2025-03-02,email,c1\n")
    _write(tmp_path, "s.csv", "timestamp,stage,contact_id\n2025-03-05,closed_won,c1\n")
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear",
                "--out", "runs")
    assert proc.returncode == 2, proc.stderr
    line = _error_line(proc)
    assert "column 'channel': 1 value(s) longer than 128 characters (the longest 2,000,000 " \
        "characters" in line
    assert "(first offending lines: 2)" in line
    assert len(line) < 1_000


@pytest.mark.parametrize(("column", "limit"), [("contact_id", 256), ("channel", 128),
                                               ("campaign", 4096)])
def test_cell_limits_count_characters_not_bytes(column: str, limit: int) -> None:
    base = {"timestamp": ["2025-03-01"] * 2, "channel": ["a", "b"], "contact_id": ["c1", "c2"],
            "campaign": ["x", "y"]}
    stages = pl.DataFrame({"timestamp": ["2025-03-05"], "stage": ["closed_won"],
                           "contact_id": ["c1"]})
    at_limit = {**base, column: [base[column][0], "é" * limit]}  # 2 bytes a character
    attribution.attribute(pl.DataFrame(at_limit), stages, models=["linear"])
    over = {**base, column: [base[column][0], "é" * (limit + 1)]}
    with pytest.raises(attribution.InputError, match=rf"column '{column}': 1 value\(s\) longer "
                       rf"than {limit:,} characters .*\(first offending rows, 0-based: 1\)"):
        attribution.attribute(pl.DataFrame(over), stages, models=["linear"])


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59Z", "1899-12-31", "2100-01-01"])
def test_dates_out_of_range_are_an_error_not_centuries_of_weeks(tmp_path: Path, when: str) -> None:
    _write(tmp_path, "t.csv", "timestamp,channel,contact_id\n2025-03-01,linkedin,c1\n")
    _write(tmp_path, "s.csv", f"timestamp,stage,contact_id\n2025-03-05,closed_won,c1\n"
           f"{when},closed_won,c2\n")
    _write(tmp_path, "sp.csv", "channel,month,amount\nlinkedin,2025-03,100\n")
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "--spend", "sp.csv",
                "-m", "linear", "--out", "runs")
    assert proc.returncode == 2, proc.stderr
    line = _error_line(proc)
    assert "source 's.csv', column 'timestamp': 1 date(s) before 1900 or from 2100 on" in line
    assert "(first offending lines: 3)" in line


def test_a_year_one_placeholder_says_so(tmp_path: Path) -> None:
    _write(tmp_path, "t.csv", "timestamp,channel,contact_id\n0001-01-01T00:00:00Z,a,c1\n")
    _write(tmp_path, "s.csv", "timestamp,stage,contact_id\n2025-03-05,closed_won,c1\n")
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear",
                "--out", "runs")
    assert proc.returncode == 2, proc.stderr
    assert "0001-01-01: a placeholder for no date?" in _error_line(proc)


# ----------------------------------------------------------- 10: an unclosed quote
def test_an_unclosed_quote_names_its_line_and_column(tmp_path: Path) -> None:
    _write(tmp_path, "t.csv", 'timestamp,channel,contact_id\n2025-03-01,"a,b",c1\n'
           '2025-03-01,"linkedin,c1\n2025-03-02,email,c1\n2025-03-03,email,c1\n')
    _write(tmp_path, "s.csv", "timestamp,stage,contact_id\n2025-03-05,closed_won,c1\n")
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear",
                "--out", "runs")
    assert proc.returncode == 2, proc.stderr
    line = _error_line(proc)
    assert "source 't.csv': a quote opened in column 'channel' is never closed: the rest of " \
        "the file is inside one cell (first offending lines: 3)" in line


# ----------------------------------------------------------- 17: conversions without their id
def test_an_empty_account_id_column_says_so_not_did_you_mean(tmp_path: Path) -> None:
    _write(tmp_path, "t.csv", "timestamp,channel,contact_id,account_id\n"
           "2025-03-01,linkedin,c1,\n2025-03-02,email,c2,\n")
    _write(tmp_path, "s.csv", "timestamp,stage,contact_id,account_id\n"
           "2025-03-05,closed_won,c1,\n2025-03-06,closed_won,c2,\n")
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "--level", "account",
                "-m", "linear", "--out", "runs")
    assert proc.returncode == 3, proc.stderr
    line = _error_line(proc)
    assert "no conversion: all 2 'closed_won' event(s) have no account_id" in line
    assert "give --contacts to map contacts to accounts" in line
    assert "Did you mean" not in line


# ----------------------------------------------------------- 8: a header written twice
def test_a_header_written_twice_is_an_error_when_the_run_reads_it(tmp_path: Path) -> None:
    _write(tmp_path, "t.csv", "timestamp,channel,contact_id,channel,Notes,Notes\n"
           "2025-03-01,a,c1,b,x,y\n")
    _write(tmp_path, "s.csv", "timestamp,stage,contact_id\n2025-03-05,closed_won,c1\n")
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear",
                "--out", "runs")
    assert proc.returncode == 2, proc.stderr
    assert "source 't.csv', column 'channel': the header 'channel' is written twice (columns 2 " \
        "and 4)" in _error_line(proc)
    # a repeated column the run does not read is fine
    _write(tmp_path, "t.csv", "timestamp,channel,contact_id,Notes,Notes\n2025-03-01,a,c1,x,y\n")
    ok = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear",
              "--out", "runs")
    assert ok.returncode == 0, ok.stderr
