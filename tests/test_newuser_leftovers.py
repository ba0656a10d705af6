"""The last new-user test's leftovers: each a counted drop or an error naming the file and
its 1-based lines, the same whichever way a run is made (full or incremental, run or
import), and figures printed as they are (a CAC under $1 is not "$0")."""

from __future__ import annotations

from pathlib import Path

import attribution

TOUCHES_CSV = (
    "touch_id,timestamp,channel,contact_id\n"
    "t1,2025-03-01,linkedin,c1\n"
    "t2,2025-03-02,webinar,c1\n"
    "t3,2025-03-02,email,c2\n"
)
STAGES_CSV = "timestamp,stage,contact_id\n2025-03-05,closed_won,c1\n2025-03-06,closed_won,c2\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ------------------------------------------------------------- blank rows, incremental runs
def test_incremental_runs_count_blank_rows_as_a_full_run_does(tmp_path: Path) -> None:
    touches = _write(tmp_path / "t.csv", TOUCHES_CSV + ",,,\n")
    stages = _write(tmp_path / "s.csv", STAGES_CSV + "\n")
    state = tmp_path / "state"

    def both() -> tuple[dict, dict]:
        got = attribution.attribute_incremental(touches, stages, state=state, models=["linear"])
        full = attribution.attribute(touches, stages, models=["linear"])
        return got.manifest["reconciliation"], full.manifest["reconciliation"]

    got, full = both()  # the first run reads everything
    assert full["blank_rows_dropped"] == {"touches": 1, "stages": 1}
    assert got["blank_rows_dropped"] == full["blank_rows_dropped"]
    # a night later: new rows and another blank line appended to the touches
    _write(touches, touches.read_text() + "t4,2025-03-04,email,c3\n\n")
    _write(stages, stages.read_text() + "2025-03-07,closed_won,c3\n")
    got, full = both()
    assert full["blank_rows_dropped"] == {"touches": 2, "stages": 1}
    assert got["blank_rows_dropped"] == full["blank_rows_dropped"]
    assert got == full


# ------------------------------------------------------------------ blank rows in an import
HS_UI = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "hubspot_ui"


def test_import_counts_blank_rows_as_blank_rows_not_as_records_without_ids(
    tmp_path: Path,
) -> None:
    clean = attribution.import_hubspot(HS_UI / "contacts.csv", HS_UI / "deals.csv").report
    contacts = (HS_UI / "contacts.csv").read_text()
    width = contacts.splitlines()[0].count(",")
    head, first, rest = contacts.split("\n", 2)
    # a blank line and a row of bare commas inside the file, a trailing blank line at its end
    padded = _write(tmp_path / "c.csv", f"{head}\n{first}\n\n{',' * width}\n{rest}\n")
    deals = _write(tmp_path / "d.csv", (HS_UI / "deals.csv").read_text() + "\n")
    report = attribution.import_hubspot(padded, deals).report
    drops = {(d["file"], d["reason"]): d["count"] for d in report["drops"]}
    blank = "blank row (every cell empty)"
    assert drops.pop(("contacts", blank)) == 3
    assert drops.pop(("deals", blank)) == 1
    assert drops == {(d["file"], d["reason"]): d["count"] for d in clean["drops"]}
    for label, added in (("contacts", 3), ("deals", 1)):
        assert report["files"][label]["rows_read"] == clean["files"][label]["rows_read"] + added
        assert report["files"][label]["rows_kept"] == clean["files"][label]["rows_kept"]
    assert report["outputs"] == clean["outputs"]


# ------------------------------------------------------------------- NDJSON lines, blank lines
def test_ndjson_value_errors_name_file_lines_past_blank_lines(tmp_path: Path) -> None:
    import pytest

    from attribution import InputError

    rows = [
        '{"timestamp": "2025-03-01", "channel": "linkedin", "contact_id": "c1"}',
        "",
        "   ",
        '{"timestamp": "2025-03-02", "channel": "email", "contact_id": "c1"}',
        "",
        '{"timestamp": "yesterday", "channel": "email", "contact_id": "c2"}',
        '{"timestamp": "2025-03-03", "channel": "email", "contact_id": "c2"}',
        "\t",
        '{"timestamp": "soon", "channel": "email", "contact_id": "c2"}',
    ]
    touches = _write(tmp_path / "t.ndjson", "\n".join(rows) + "\n")
    stages = _write(tmp_path / "s.csv", STAGES_CSV)
    with pytest.raises(InputError) as caught:
        attribution.attribute(touches, stages, models=["linear"])
    assert caught.value.lines == [6, 9]
    assert caught.value.rows == [2, 4]  # 0-based among the file's rows
    assert "(first offending lines: 6, 9)" in str(caught.value)
    # without blank lines, the lines are the rows + 1, as before
    plain = _write(tmp_path / "p.ndjson", "\n".join(r for r in rows if r.strip()) + "\n")
    with pytest.raises(InputError) as caught:
        attribution.attribute(plain, stages, models=["linear"])
    assert caught.value.lines == [3, 5]
