"""A tab or line break inside a channel or stage cell of a file is refused, as the HTTP
service refuses it (422, tests/test_service_closed.py): one rule for the two readers. Before,
a file's ``Paid<LF>Search`` was folded to ``paid search`` and took credit, exit 0."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.exceptions import InputError
from tests.test_no_silent_empty import _cli, _error_line

STAGES = "contact_id,stage,timestamp,value\nc1,closed_won,2025-03-10T00:00:00Z,100\n"


def _touches(channel: str) -> str:
    return (
        "touch_id,contact_id,channel,timestamp\n"
        "t1,c1,email,2025-03-01T09:00:00Z\n"
        f'"t2","c1","{channel}",2025-03-02T09:00:00Z\n'
        "t3,c1,web,2025-03-03T09:00:00Z\n"
    )


@pytest.mark.parametrize(
    ("cell", "char"),
    [("Paid\nSearch", "U+000A"), ("linked\tin", "U+0009"), ("Paid\r\nSearch", "U+000D"),
     ("email\t", "U+0009"), ("web\x85", "U+0085"), ("a\x0bb", "U+000B")],
)  # fmt: skip
def test_a_tab_or_line_break_in_a_channel_cell_is_refused(
    tmp_path: Path, cell: str, char: str
) -> None:
    (tmp_path / "t.csv").write_text(_touches(cell), newline="")
    (tmp_path / "s.csv").write_text(STAGES)
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear",
                "--out", "out")  # fmt: skip
    line = _error_line(proc)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "t.csv" in line, line
    assert "column 'channel'" in line, line
    assert "lines: 3)" in line, line  # the header is line 1, t1 line 2
    assert char in line, line
    assert "tab or line break" in line, line
    assert not (tmp_path / "out").exists()


def test_a_line_break_in_a_stage_cell_names_the_file_line(tmp_path: Path) -> None:
    """A quoted stage cell spanning two lines: the error names the line its row starts on."""
    (tmp_path / "t.csv").write_text(_touches("email"))
    stages = STAGES + 'c1,"closed\nwon",2025-03-11T00:00:00Z,50\n'
    (tmp_path / "s.csv").write_text(stages)
    with pytest.raises(InputError) as info:
        attribution.attribute(tmp_path / "t.csv", tmp_path / "s.csv", models=["linear"])
    message = str(info.value)
    assert "s.csv" in message, message
    assert "'stage'" in message, message
    assert "U+000A" in message, message
    assert "lines: 3)" in message, message


def test_ids_and_in_memory_labels_keep_their_rules(tmp_path: Path) -> None:
    """A tab in an id is still padding (trimmed, counted), and a frame passed in memory is
    the caller's own data: its ``linked<TAB>in`` is folded to ``linked_in`` (a space is a ``_``)."""
    (tmp_path / "t.csv").write_text(
        "touch_id,contact_id,channel,timestamp\n"
        "t1,\tc1,email,2025-03-01T09:00:00Z\n"
        "t2,c1,web,2025-03-02T09:00:00Z\n"
    )
    (tmp_path / "s.csv").write_text(STAGES)
    result = attribution.attribute(tmp_path / "t.csv", tmp_path / "s.csv", models=["linear"])
    assert result.manifest["reconciliation"]["ids_trimmed"] == {"touches.contact_id": 1}
    frame = pl.read_csv(tmp_path / "t.csv").with_columns(
        pl.lit("linked\tin").alias("channel"), pl.col("contact_id").str.strip_chars()
    )
    result = attribution.attribute(frame, pl.read_csv(tmp_path / "s.csv"), models=["linear"])
    assert result.channel_credit.get_column("channel").to_list() == ["linked_in"]  # a '_' 
