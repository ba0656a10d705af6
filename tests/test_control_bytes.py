"""The control-character check reads bytes (inputs/_control.py text_bytes): it answers as the
regex test per value did, and the columns it calls spaceless hold no whitespace, so the id
trim and the blank check may skip them."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import attribution
from attribution.inputs import _control
from attribution.inputs._control import CONTROL_CLASS, text_bytes

#: Characters around every edge of the rule: C0 controls and the whitespace among them, DEL,
#: C1 controls and NEL, NBSP, two-byte characters whose second byte is 80-9F (U+0100...),
#: zero-width and wide characters.
EDGES = [
    *map(chr, range(0x00, 0x22)), "~", "\x7f", "\x80", "\x84", "\x85", "\x86", "\x9f", "\xa0",
    "\xc2", "\u0100", "\u011f", "\u0180", "\u200b", "\u2028", "\u3000", "\U0001f600", "a", "Z",
]  # fmt: skip
values = st.lists(st.one_of(st.none(), st.text(st.sampled_from(EDGES), max_size=14)), max_size=40)


def _regex(series: pl.Series) -> bool:
    return bool(series.str.contains(CONTROL_CLASS).any())


@given(values, st.integers(0, 5), st.sampled_from([1, 3, 64]))
@example(["a b", "cd"], 0, 1)
@example(["ab", "c\x00"], 1, 64)
def test_the_byte_scan_answers_as_the_regex(cells: list[str | None], cut: int, piece: int) -> None:
    """Chunked, sliced (an offset into the buffers) and exported in pieces of ``piece``
    values, the scan finds a control character exactly where the regex does."""
    series = pl.concat(
        [pl.Series("c", cells[:cut], pl.String), pl.Series("c", cells[cut:], pl.String)],
        rechunk=False,
    ).slice(min(cut, 1))
    old = _control._SLICE
    _control._SLICE = piece
    try:
        scan = text_bytes(series)
    finally:
        _control._SLICE = old
    assert scan.control == _regex(series)
    if scan.spaceless:  # no whitespace: nothing to trim, no value ending in a space
        assert series.str.strip_chars().equals(series)
        assert not series.str.ends_with(" ").any()
        assert not series.str.contains(r"\s").any()


@pytest.mark.parametrize(
    ("cell", "control"),
    [("link\x00edin", True), ("a\x08", True), ("a\x0e", True), ("\x1f", True), ("a\x7f", True),
     ("\x80", True), ("x\x9fy", True), ("a\tb\n\x0b\x0c\r", False), ("\x85", False),
     ("\xa0", False), ("\u0100\u011f", False), ("caf\u00e9", False), ("", False)],
)  # fmt: skip
def test_each_edge_of_the_rule(cell: str, control: bool) -> None:
    series = pl.Series("c", ["linkedin", cell, None])
    assert text_bytes(series).control is control
    assert _regex(series) is control


def test_a_padded_id_is_still_trimmed_and_counted(tmp_path: Path) -> None:
    """The scan spares a column the trim only when it holds no whitespace: a padded id in an
    otherwise clean Parquet column (statistics say nothing starts with a space) is trimmed."""
    pl.DataFrame(
        {
            "touch_id": ["t1", "t2", "t3"],
            "contact_id": ["c1", "c1 ", "c2"],
            "channel": ["email", "email ", "web"],
            "timestamp": ["2025-03-01T09:00:00Z", "2025-03-02T09:00:00Z", "2025-03-03T09:00:00Z"],
        }
    ).write_parquet(tmp_path / "t.parquet")
    pl.DataFrame(
        {"contact_id": ["c1", "c2"], "stage": ["closed_won", "closed_won"],
         "timestamp": ["2025-03-10T00:00:00Z", "2025-03-10T00:00:00Z"]}
    ).write_parquet(tmp_path / "s.parquet")  # fmt: skip
    result = attribution.attribute(tmp_path / "t.parquet", tmp_path / "s.parquet",
                                   models=["linear"])  # fmt: skip
    rec = result.manifest["reconciliation"]
    assert rec["ids_trimmed"] == {"touches.contact_id": 1}, rec["ids_trimmed"]
    assert sorted(result.channel_credit.get_column("channel").to_list()) == ["email", "web"]
    assert result.channel_credit.get_column("conversions").sum() == pytest.approx(2.0)
