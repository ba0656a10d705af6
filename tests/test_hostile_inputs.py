"""Hostile input files (the new-user test's findings): every one either a one-line error
naming the file and its 1-based lines (exit 2), or a documented, counted drop; never a
traceback, never a silent change."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution
from attribution import InputError, import_hubspot
from attribution.cli._output import reconciliation_lines
from attribution.engine._empty import empty_reason
from attribution.inputs import _read_errors
from attribution.inputs._read_errors import utf8_problem
from attribution.inputs._schema import PATHS, TOUCHES, load
from tests.test_no_silent_empty import _cli, _error_line

ROOT = Path(__file__).resolve().parents[1]
HS_UI = ROOT / "tests" / "fixtures" / "hubspot_ui"

TOUCHES_CSV = (
    "touch_id,timestamp,channel,contact_id\n"
    "t1,2025-03-01,linkedin,c1\n"
    "t2,2025-03-02,Médias sociaux,c1\n"
    "t3,2025-03-02,email,c2\n"
)
STAGES_CSV = "timestamp,stage,contact_id\n2025-03-05,closed_won,c1\n2025-03-06,closed_won,c2\n"


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# ------------------------------------------------------------------------------- encoding
def test_latin1_touches_are_an_error_naming_the_line_in_cli_and_library(tmp_path: Path) -> None:
    _write(tmp_path / "t.csv", TOUCHES_CSV, "latin-1")
    _write(tmp_path / "s.csv", STAGES_CSV)
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear")
    assert proc.returncode == 2
    line = _error_line(proc)
    assert "'t.csv'" in line
    assert "not UTF-8" in line
    assert "lines: 3" in line
    assert f"byte offset {len(TOUCHES_CSV.split('é')[0].encode('latin-1'))}" in line
    assert "save the file as UTF-8" in line
    with pytest.raises(InputError) as caught:
        attribution.attribute(tmp_path / "t.csv", tmp_path / "s.csv", models=["linear"])
    assert caught.value.lines == [3]
    assert caught.value.rows == [1]


def test_a_bad_byte_in_a_column_the_run_does_not_read_is_found(tmp_path: Path) -> None:
    text = TOUCHES_CSV.replace("touch_id,", "campaign,touch_id,").replace("\nt", "\nspring,t")
    text = text.replace("spring,t3", "Café,t3").replace("Médias sociaux", "social")
    _write(tmp_path / "t.csv", text, "cp1252")
    with pytest.raises(InputError, match="not UTF-8") as caught:
        attribution.attribute(tmp_path / "t.csv", _write(tmp_path / "s.csv", STAGES_CSV),
                              models=["linear"])
    assert caught.value.lines == [4]


def test_import_refuses_a_cp1252_export_instead_of_storing_replacement_chars(
    tmp_path: Path,
) -> None:
    text = (HS_UI / "contacts.csv").read_text().replace("Ana,", "Anaïs,", 1)
    contacts = _write(tmp_path / "contacts.csv", text, "cp1252")
    with pytest.raises(InputError, match="not UTF-8") as caught:
        import_hubspot(contacts, HS_UI / "deals.csv")
    assert caught.value.lines == [2]
    assert caught.value.source == str(contacts)
    proc = _cli(tmp_path, "import", "hubspot", "--contacts", str(contacts), "--deals",
                str(HS_UI / "deals.csv"), "--out", "crm")
    assert proc.returncode == 2
    assert "lines: 2" in _error_line(proc)
    assert not (tmp_path / "crm").exists()


@settings(max_examples=60, deadline=None)
@given(
    head=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40),
    bad=st.sampled_from([b"\xe9", b"\xff", b"\xc3", b"\xe2\x82", b"\x80"]),
    tail=st.text(max_size=5).filter(lambda t: not t or t[0] not in "\x80\xbf"),
    block=st.integers(1, 9),
)
def test_utf8_problem_finds_the_first_bad_byte_at_any_block_size(
    tmp_path_factory: pytest.TempPathFactory, head: str, bad: bytes, tail: str, block: int
) -> None:
    data = head.encode() + bad + b"\n" + tail.encode()
    path = tmp_path_factory.mktemp("u") / "f.csv"
    path.write_bytes(data)
    try:
        data.decode("utf-8")
        expected = None
    except UnicodeDecodeError as exc:
        expected = (data[: exc.start].count(b"\n") + 1, exc.start)
    old = _read_errors._BLOCK
    _read_errors._BLOCK = block
    try:
        found = utf8_problem(path)
    finally:
        _read_errors._BLOCK = old
    assert (found[:2] if found else None) == expected


# ------------------------------------------------------------------- CSV / NDJSON syntax
def test_a_ragged_csv_line_is_named_with_the_delimiter_hint(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "t.csv",
        'timestamp,channel,contact_id\n2025-03-01,"a, b",c1\n2025-03-01,linkedin,c1,extra\n',
    )
    with pytest.raises(InputError) as caught:
        load(path, TOUCHES)
    assert caught.value.lines == [3]
    assert "more fields than the header's 3" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_semicolon_files_are_read_or_named_in_run_and_import(tmp_path: Path) -> None:
    # new-user report 2 (smaller list): an unambiguous ';' file (its header has ';' and no
    # comma: Excel in a comma-decimal locale) is read as such and said; before, a hint
    _write(tmp_path / "t.csv", TOUCHES_CSV.replace(",", ";"))
    _write(tmp_path / "s.csv", STAGES_CSV)
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear")
    assert proc.returncode == 0, proc.stderr
    assert "note: touches 't.csv': read as ';'-separated" in proc.stderr
    deals = (HS_UI / "deals.csv").read_text().replace(",", ";").replace("24000", "24000,00")
    _write(tmp_path / "deals.csv", deals)
    proc = _cli(tmp_path, "import", "hubspot", "--contacts", str(HS_UI / "contacts.csv"),
                "--deals", "deals.csv", "--out", "crm")
    assert proc.returncode == 2
    line = _error_line(proc)
    assert "'deals.csv'" in line
    assert "lines: 2" in line  # an unquoted ';' inside a cell: the id list '101;102'
    assert "a cell holding ';' must be quoted" in line
    assert "truncate_ragged_lines" not in proc.stderr


def test_an_ndjson_syntax_error_names_its_line(tmp_path: Path) -> None:
    rows = [{"timestamp": "2025-03-01", "channel": "linkedin", "contact_id": f"c{i}"}
            for i in range(5)]
    lines = [json.dumps(r) for r in rows]
    lines[3] = lines[3][:-1]  # the closing brace lost
    path = _write(tmp_path / "t.ndjson", "\n".join(lines) + "\n")
    with pytest.raises(InputError, match="not valid JSON") as caught:
        load(path, TOUCHES)
    assert caught.value.lines == [4]


# ----------------------------------------------------------------------- 1-based lines
def test_validate_stage_errors_give_1_based_file_lines(tmp_path: Path) -> None:
    stages = _write(tmp_path / "s.csv", STAGES_CSV)
    blank_channel = _write(tmp_path / "t.csv", TOUCHES_CSV.replace("Médias sociaux", ""))
    with pytest.raises(InputError, match="no channel") as caught:
        attribution.attribute(blank_channel, stages, models=["linear"])
    assert caught.value.lines == [3]
    assert "first offending lines: 3" in str(caught.value)
    repeated = _write(tmp_path / "d.csv", TOUCHES_CSV + "t1,2025-03-04,email,c1\n")
    with pytest.raises(InputError, match="share a touch_id") as caught:
        attribution.attribute(repeated, stages, models=["linear"])
    assert caught.value.lines == [2, 5]


def test_path_table_errors_give_1_based_lines_and_refuse_an_empty_channel(
    tmp_path: Path,
) -> None:
    negative = _write(tmp_path / "n.csv", "path,conversions\na > b,1\nb,-1\n")
    with pytest.raises(InputError, match="non-negative") as caught:
        attribution.attribute_paths(negative, models=["linear"])
    assert caught.value.lines == [3]
    gap = _write(tmp_path / "g.csv", "path,conversions\na > b,1\nlinkedin >  > email,2\n")
    with pytest.raises(InputError, match="empty channel") as caught:
        attribution.attribute_paths(gap, models=["linear"])
    assert caught.value.lines == [3]
    assert load(gap, PATHS).frame.height == 2  # the table itself reads


def test_paths_with_nothing_attributed_exit_3_like_run(tmp_path: Path) -> None:
    _write(tmp_path / "p.csv", "path,conversions,nulls\nlinkedin > email,0,90\n")
    proc = _cli(tmp_path, "paths", "p.csv", "-m", "linear", "-o", "runs")
    assert proc.returncode == 3
    assert _error_line(proc).startswith("error: no conversion was attributed: the path table")
    assert not (tmp_path / "runs").exists()
    proc = _cli(tmp_path, "paths", "p.csv", "-m", "linear", "-o", "runs", "--allow-empty")
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- counted drops
def test_a_conversion_without_its_contact_is_a_counted_drop(tmp_path: Path) -> None:
    stages = _write(tmp_path / "s.csv", STAGES_CSV + "2025-03-07,closed_won,\n")
    touches = _write(tmp_path / "t.csv", TOUCHES_CSV)
    result = attribution.attribute(touches, stages, models=["linear"])
    rec = result.manifest["reconciliation"]
    assert rec["stages_dropped"] == {"missing_contact_id": 1}
    assert rec["conversions"] == 2
    assert rec["stage_counts"] == {"closed_won": 3}
    assert "stage events dropped {'missing_contact_id': 1}" in " ".join(reconciliation_lines(rec))


def test_trailing_blank_lines_are_dropped_and_counted_not_an_error(tmp_path: Path) -> None:
    stages = _write(tmp_path / "s.csv", STAGES_CSV)
    clean = attribution.attribute(_write(tmp_path / "t.csv", TOUCHES_CSV), stages,
                                  models=["linear"])
    padded = _write(tmp_path / "b.csv", TOUCHES_CSV.replace("\n", "\r\n") + "\r\n,,,\n\n")
    result = attribution.attribute(padded, stages, models=["linear"])
    rec = result.manifest["reconciliation"]
    assert rec["blank_rows_dropped"] == {"touches": 3}  # "", ",,," and ""
    assert rec["touches_in"] == clean.manifest["reconciliation"]["touches_in"] == 3
    assert result.manifest["inputs"]["touches"]["rows"] == 6
    assert result.channel_credit.equals(clean.channel_credit)
    assert "blank rows dropped {'touches': 3}" in " ".join(reconciliation_lines(rec))
    # a row with only its timestamp missing is still an error naming its line
    holed = _write(tmp_path / "h.csv", TOUCHES_CSV + "t4,,email,c2\n")
    with pytest.raises(InputError, match="empty value") as caught:
        attribution.attribute(holed, stages, models=["linear"])
    assert caught.value.lines == [5]


def test_a_row_blank_but_in_a_column_the_run_does_not_read_is_not_blank(tmp_path: Path) -> None:
    text = "timestamp,channel,contact_id,campaign\n2025-03-01,linkedin,c1,x\n,,,spring\n"
    with pytest.raises(InputError, match="empty value") as caught:
        load(_write(tmp_path / "t.csv", text), TOUCHES, keep=lambda p: ["timestamp", "channel"])
    assert caught.value.lines == [3]
    table = load(_write(tmp_path / "u.csv", text.replace("spring", "")), TOUCHES,
                 keep=lambda p: ["timestamp", "channel"])
    assert (table.frame.height, table.blank_rows, table.rows_in) == (1, 1, 2)


def test_a_sub_day_lookback_is_said_in_its_unit() -> None:
    counts = {"conversions_attributed": 0, "conversions": 1, "touches_in": 1,
              "touches_dropped": {"outside_lookback": 1}, "stage_counts": {"closed_won": 1}}
    reason = empty_reason({"lookback_seconds": 1.0}, counts)
    assert reason is not None
    assert "(1 second before each conversion" in reason
    assert "e-05" not in reason


# ------------------------------------------------------------------------------------ spend
SPEND_CSV = (
    "month,channel,amount\n2025-02,linkedin,1000\n2025-03,linkedin,1000\n2025-03,email,500\n"
)


def _spend(econ: attribution.UnitEconomics) -> dict[str, float]:
    rows = econ.table.filter(pl.col("model") == "linear")
    return dict(zip(rows["channel"], rows["spend"], strict=True))


def test_spend_pasted_twice_is_counted_once_and_said(tmp_path: Path) -> None:
    result = attribution.attribute(_write(tmp_path / "t.csv", TOUCHES_CSV),
                                   _write(tmp_path / "s.csv", STAGES_CSV), models=["linear"])
    clean = attribution.unit_economics(result, _write(tmp_path / "sp.csv", SPEND_CSV))
    body = SPEND_CSV.split("\n", 1)[1]
    doubled = attribution.unit_economics(
        result, _write(tmp_path / "dup.csv", SPEND_CSV + body)
    )
    expected = {"linkedin": 2000.0, "email": 500.0, "médias_sociaux": 0.0}  # words: one '_' 
    assert _spend(doubled) == _spend(clean) == expected
    found = doubled.parameters["spend_checks"]["exact_duplicate"]
    assert found == {"rows": 3, "amount": 2500.0, "lines": [5, 6, 7]}
    assert "3 exact duplicate row(s) dropped ($2,500; lines 5, 6, 7)" in doubled.summary()
    assert "spend_checks" not in clean.parameters or not clean.parameters["spend_checks"]


def test_spend_dated_outside_the_conversions_period_is_flagged(tmp_path: Path) -> None:
    result = attribution.attribute(_write(tmp_path / "t.csv", TOUCHES_CSV),
                                   _write(tmp_path / "s.csv", STAGES_CSV), models=["linear"])
    text = SPEND_CSV + "2030-01,linkedin,1000\n2024-01,email,250\n"
    econ = attribution.unit_economics(result, _write(tmp_path / "sp.csv", text))
    checks = econ.parameters["spend_checks"]
    assert checks["after_last_conversion"] == {
        "rows": 1, "amount": 1000.0, "month": "2025-03", "lines": [5]
    }
    assert checks["before_lookback_window"]["lines"] == [6]
    assert "dated after the last conversion's month (2025-03; lines 5)" in econ.summary()
    assert _spend(econ)["linkedin"] == 3000.0  # kept in CAC, and said


# ------------------------------------------------------------------------------------ dates
def test_a_day_first_date_gets_the_day_first_pattern_in_its_hint(tmp_path: Path) -> None:
    text = TOUCHES_CSV.replace("2025-03-02,Médias", "21/02/2025,Médias")
    with pytest.raises(InputError, match="cannot be read as timestamp") as caught:
        load(_write(tmp_path / "t.csv", text), TOUCHES)
    assert "day-first date: try --timestamp-format '%d/%m/%Y %H:%M'" in str(caught.value)
    assert caught.value.lines == [3]


def _us_dates(text: str, day: str | None) -> str:
    """The fixture's ISO dates written month-first; every day ``day`` when given."""
    import re

    def us(m: re.Match[str]) -> str:
        return f"{m[2]}/{day or m[3]}/{m[1]} {m[4]}"

    return re.sub(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}:\d{2})", us, text)


@pytest.mark.parametrize(("day", "noted"), [("05", True), (None, False)])
def test_import_says_when_no_date_confirms_month_first(
    tmp_path: Path, day: str | None, noted: bool
) -> None:
    contacts = _write(tmp_path / "c.csv", _us_dates((HS_UI / "contacts.csv").read_text(), day))
    deals = _write(tmp_path / "d.csv", _us_dates((HS_UI / "deals.csv").read_text(), day))
    assert "/2025 " in contacts.read_text()
    notes = import_hubspot(contacts, deals).report["notes"]
    said = [n for n in notes if "read month-first" in n]
    assert bool(said) is noted, notes
    if noted:
        assert "--timestamp-format '%d/%m/%Y %H:%M'" in said[0]


# ------------------------------------------------------------------------ partitioned runs
def test_partitioned_runs_say_the_same_about_hostile_files(tmp_path: Path) -> None:
    from attribution.engine._partitioned import attribute_partitioned

    stages = _write(tmp_path / "s.csv", STAGES_CSV)
    padded = _write(tmp_path / "b.csv", TOUCHES_CSV + "\n,,,\n")
    result = attribute_partitioned(padded, stages, partitions=2, models=["linear"])
    assert result.manifest["reconciliation"]["blank_rows_dropped"] == {"touches": 2}
    assert result.manifest["reconciliation"]["conversions_attributed"] == 2
    latin = _write(tmp_path / "l.csv", TOUCHES_CSV, "latin-1")
    with pytest.raises(InputError, match="not UTF-8") as caught:
        attribute_partitioned(latin, stages, partitions=2, models=["linear"])
    assert caught.value.lines == [3]
    ragged = _write(tmp_path / "r.csv", TOUCHES_CSV + "t9,2025-03-03,email,c1,extra\n")
    with pytest.raises(InputError, match="more fields") as caught:
        attribute_partitioned(ragged, stages, partitions=2, models=["linear"])
    assert caught.value.lines == [5]


def test_touches_and_conversions_dated_in_the_future_are_counted(tmp_path: Path) -> None:
    text = TOUCHES_CSV.replace("2025-03-02,email", "2031-03-02,email")
    touches = _write(tmp_path / "t.csv", text)
    stages = _write(tmp_path / "s.csv", STAGES_CSV.replace("2025-03-06", "2031-03-06"))
    rec = attribution.attribute(touches, stages, models=["linear"]).manifest["reconciliation"]
    assert rec["dated_in_the_future"] == {"touches": 1, "conversions": 1}
    assert "dated in the future (kept: check the year)" in " ".join(reconciliation_lines(rec))
    clean = attribution.attribute(_write(tmp_path / "c.csv", TOUCHES_CSV),
                                  _write(tmp_path / "d.csv", STAGES_CSV), models=["linear"])
    assert "dated_in_the_future" not in clean.manifest["reconciliation"]


def test_a_contact_of_two_accounts_names_the_contacts_file_lines(tmp_path: Path) -> None:
    contacts = _write(tmp_path / "c.csv", "contact_id,account_id\nc1,a1\nc2,a2\nc1,a3\n")
    touches = _write(tmp_path / "t.csv", TOUCHES_CSV)
    stages = _write(tmp_path / "s.csv", STAGES_CSV)
    with pytest.raises(InputError, match="several accounts") as caught:
        attribution.attribute(touches, stages, contacts=contacts, level="account",
                              models=["linear"])
    assert caught.value.lines == [2, 4]
    assert caught.value.source == str(contacts)
