"""Control characters in names and ids: a damaged export, refused.

A NUL byte inside ``linkedin`` (a truncated or damaged export, a binary column pasted into
a CSV) prints as ``linkedin`` and would be a channel of its own, with credit, that nobody
can tell from the real one; an id with one would be a contact of its own. The HTTP service
refuses control characters in ids and channels (422); a run refuses them too, naming the
file, the user's column and the lines, in every id column, ``channel`` and ``stage``.

Refused: the C0 and C1 control characters (U+0000-U+001F, U+007F-U+009F) that are not
whitespace, in ids, channels and stages; and in a channel or stage, the whitespace ones too
-- tab, line feed, carriage return, vertical tab, form feed, NEL (:data:`LABEL_COLUMNS`,
:data:`BREAK_CLASS`) -- anywhere in the cell, as the HTTP service refuses them in these
fields (422): ``Paid<LF>Search`` is a cell edited with Alt+Enter or pasted from two cells, a
name nobody typed; folded to ``paid search`` it took credit under a name the CRM does not
have. A cell of whitespace only is still a missing value, and an id keeps its rule (padding,
tabs included, trimmed and counted; a control character inside refused). Invisible format
characters (zero-width space, ...) are not controls: the channel, stage and campaign
spellings remove them.

The check reads a column's bytes, not its values (:func:`scan_text`): the column is exported
to Arrow a slice at a time (its text copied into one buffer, about 5 ms per million ids) and
the buffer tested with NumPy, its lowest and highest byte first -- printable ASCII, the usual
id or name, holds no control -- else the control bytes themselves (a C1 control is the UTF-8
pair ``C2 80``-``C2 9F``). A regex test per value (``str.contains``) cost 25-35 ms per
million values and column: 0.10 s of CPU per million touches. The same scan tells the id
trim (:mod:`._ids`) and the blank check
(:func:`~attribution.inputs._reading.frame_blanks_as_null`) which columns hold no whitespace
at all, which spares them their ``ends_with(" ")`` pass. The lines are looked up (one regex
pass) only when a column holds a control character.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl
import pyarrow as pa

from attribution.exceptions import InputError
from attribution.inputs._ids import ID_COLUMNS
from attribution.inputs._sources import Source

__all__ = [
    "BREAK_CLASS",
    "CONTROL_CLASS",
    "LABEL_COLUMNS",
    "NAME_COLUMNS",
    "TextBytes",
    "holds_control",
    "refuse_control_characters",
    "scan_text",
    "spaceless",
    "text_bytes",
]

#: The control characters a name or id may not hold (not whitespace): a regex class.
CONTROL_CLASS = r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]"
#: The whitespace control characters (tab, line feed, VT, FF, carriage return, NEL): refused
#: in a :data:`LABEL_COLUMNS` cell, as the service refuses them.
BREAK_CLASS = r"[\x09-\x0d\x85]"
#: The columns (ours) checked: ids, channels, stages.
NAME_COLUMNS = (*ID_COLUMNS, "channel", "stage")
#: The names among them, where :data:`BREAK_CLASS` is refused too.
LABEL_COLUMNS = ("channel", "stage")
_LABEL_CLASS = r"[\x00-\x1f\x7f-\x9f]"  # CONTROL_CLASS and BREAK_CLASS


@dataclass(frozen=True)
class TextBytes:
    """What the values of a text column hold, byte-wise (:func:`scan_text`): the lowest and
    highest byte (``low > high`` when there is none) and whether a character of
    :data:`CONTROL_CLASS` (``control``) or :data:`BREAK_CLASS` (``breaks``) is among them."""

    low: int
    high: int
    control: bool
    breaks: bool = False

    @property
    def spaceless(self) -> bool:
        """No whitespace character in any value: every byte is ASCII above the space
        (Unicode's other White_Space characters are not ASCII)."""
        return self.low > 0x20 and self.high < 0x80


def checked(source: Source) -> bool:
    """Whether a table read from ``source`` is checked for control characters: a file or
    a query, not a frame built in memory, which is the caller's own data, not an export (the
    scoring engine marks its internal rows with control characters no request can hold:
    engine._journey_request SEP and CONVERSION_STAGE; the service refuses them)."""
    return source.path is not None or source.sql is not None


def scan_text(frame: pl.DataFrame, source: Source) -> dict[str, TextBytes]:
    """:class:`TextBytes` of ``frame``'s text id columns, and of its ``channel`` and
    ``stage`` when ``source`` is :func:`checked`."""
    names = NAME_COLUMNS if checked(source) else ID_COLUMNS
    return {
        c: text_bytes(frame.get_column(c))
        for c in names
        if c in frame.columns and frame.schema[c] == pl.String
    }


def spaceless(scans: Mapping[str, TextBytes]) -> set[str]:
    """The columns of ``scans`` that hold no whitespace (:attr:`TextBytes.spaceless`)."""
    return {c for c, scan in scans.items() if scan.spaceless}


def text_bytes(series: pl.Series) -> TextBytes:
    """:class:`TextBytes` of ``series`` (text) from the bytes of its Arrow export."""
    low, high, control, breaks = 0x100, -1, False, False
    for start in range(0, series.len(), _SLICE):
        array = series.slice(start, _SLICE).to_arrow(compat_level=pl.CompatLevel.oldest())
        if not isinstance(array, pa.LargeStringArray):  # pragma: no cover - another layout
            return TextBytes(0, 0xFF, bool(series.str.contains(CONTROL_CLASS).any()),
                             bool(series.str.contains(BREAK_CLASS).any()))  # fmt: skip
        data = _data_bytes(array)
        if data.size == 0:
            continue
        lowest, highest = int(data.min()), int(data.max())
        low, high = min(low, lowest), max(high, highest)
        control = control or _control_bytes(data, lowest, highest)
        breaks = breaks or _break_bytes(data, lowest, highest)
    return TextBytes(low, high, control, breaks)


#: Values exported at a time: a slice of the column is one Arrow array (its text in one
#: buffer) small enough to stay in the cache for the NumPy pass. At 12.3M ids (CPU ms, on a
#: busy machine): 60 in slices of 2**16-2**18 values, 85 of 2**21, 130-260 in one array (a
#: fresh 135 MB buffer's page faults), 55-65 one array per chunk of the column.
_SLICE = 1 << 17


def holds_control(series: pl.Series) -> bool:
    """Whether a value of ``series`` (text) holds a character of :data:`CONTROL_CLASS`: the
    answer of ``series.str.contains(CONTROL_CLASS).any()``, from its bytes."""
    return text_bytes(series).control


def _data_bytes(array: pa.LargeStringArray) -> np.ndarray:
    """The bytes of ``array``'s values one after the other (its data buffer, as far as its
    offsets reach; a missing value has none)."""
    buffers = array.buffers()
    if len(array) == 0 or buffers[2] is None:
        return np.empty(0, np.uint8)
    offsets = np.frombuffer(buffers[1], np.int64, len(array) + 1, array.offset * 8)
    return np.frombuffer(buffers[2], np.uint8)[offsets[0] : offsets[-1]]


def _control_bytes(data: np.ndarray, low: int, high: int) -> bool:
    """Whether UTF-8 ``data`` (lowest byte ``low``, highest ``high``) holds a character of
    :data:`CONTROL_CLASS`: a byte 00-08, 0E-1F or 7F, or a C1 control (``C2`` then 80-84 or
    86-9F; ``C2 85`` is NEL, whitespace). ``C2`` only ever starts a character of two bytes."""
    if low >= 0x20 and high < 0x7F:  # printable ASCII
        return False
    if low < 0x20 and bool(((data < 0x09) | ((data > 0x0D) & (data < 0x20))).any()):
        return True
    if high >= 0x7F and bool((data == 0x7F).any()):
        return True
    if high >= 0xC2:
        second = data[np.flatnonzero(data[:-1] == 0xC2) + 1]
        return bool(((second < 0xA0) & (second != 0x85)).any())
    return False


def _break_bytes(data: np.ndarray, low: int, high: int) -> bool:
    """Whether UTF-8 ``data`` (lowest byte ``low``, highest ``high``) holds a character of
    :data:`BREAK_CLASS`: a byte 09-0D, or NEL (``C2 85``)."""
    if low < 0x20 and bool(((data >= 0x09) & (data <= 0x0D)).any()):
        return True
    if high >= 0xC2:
        return bool((data[np.flatnonzero(data[:-1] == 0xC2) + 1] == 0x85).any())
    return False


def refuse_control_characters(
    frame: pl.DataFrame,
    table: str,
    source: Source,
    row: str,
    scans: Mapping[str, TextBytes] | None = None,
    shown: int = 5,
) -> None:
    """An :class:`InputError` naming the column and the first ``shown`` rows (``row``: the
    0-based source rows) when a text column of :data:`NAME_COLUMNS` in ``frame`` holds a
    control character (:data:`CONTROL_CLASS`; in a :data:`LABEL_COLUMNS` column, or a tab
    or line break: :data:`BREAK_CLASS`). ``scans``: :func:`scan_text` of the frame or
    of an earlier state of it whose values held these (rows since dropped, values trimmed or
    made null: a clean scan stays clean); a column not in it is scanned here."""
    text = [c for c in NAME_COLUMNS if c in frame.columns and frame.schema[c] == pl.String]
    if not text or frame.height == 0 or not checked(source):
        return
    for column in text:
        label = column in LABEL_COLUMNS
        scan = (scans or {}).get(column) or text_bytes(frame.get_column(column))
        if not (scan.control or (label and scan.breaks)):
            continue
        bad = frame.filter(pl.col(column).str.contains(_LABEL_CLASS if label else CONTROL_CLASS))
        if bad.height == 0:  # held by a row dropped since the scan
            continue
        refused = _LABEL_CHARACTERS if label else _CONTROLS
        values = bad.get_column(column).head(shown).to_list()
        found = sorted({f"U+{ord(ch):04X}" for v in values for ch in v if ch in refused})
        breaks = not any(ch in _CONTROLS for v in values for ch in v)
        raise InputError(
            f"{bad.height:,} value(s) hold a control character ({', '.join(found)}): "
            + (
                "a tab or line break inside a name (a cell edited with Alt+Enter, or pasted "
                "from two cells); the HTTP service refuses it too"
                if breaks
                else "a damaged export; a name or id with one would look like another one and "
                "be counted apart"
            ),
            table=table,
            source=source.name,
            column=column,
            numbering=source.numbering,
            rows=bad.get_column(row).head(shown).to_list(),
            hint="write the name on one line, without tabs, in the file or the CRM"
            if breaks
            else "remove the control characters (NUL, ...) from the file or export it again",
        )


_CONTROLS = frozenset(
    chr(c) for c in (*range(0x00, 0x09), *range(0x0E, 0x20), *range(0x7F, 0x85), *range(0x86, 0xA0))
)
_LABEL_CHARACTERS = frozenset(chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0)))
