"""Control characters in names and ids: a damaged export, refused.

A NUL byte inside ``linkedin`` (a truncated or damaged export, a binary column pasted into
a CSV) prints as ``linkedin`` and would be a channel of its own, with credit, that nobody
can tell from the real one; an id with one would be a contact of its own. The HTTP service
refuses control characters in ids and channels (422); a run refuses them too, naming the
file, the user's column and the lines, in every id column, ``channel`` and ``stage``.

Refused: the C0 and C1 control characters (U+0000-U+001F, U+007F-U+009F) that are not
whitespace. Tab, line feed, carriage return, vertical tab, form feed and NEL are whitespace
in a file's cell, as before: trimmed, and folded to one space inside a channel or stage name
(``linked<TAB>in`` is ``linked in``). The service, whose JSON has no reason to hold them,
refuses those too. Invisible format characters (zero-width space, ...) are not controls:
the channel, stage and campaign spellings remove them.

The check is one vectorised regex test per column (no per-row Python).
"""

from __future__ import annotations

import polars as pl

from attribution.exceptions import InputError
from attribution.inputs._ids import ID_COLUMNS
from attribution.inputs._sources import Source

__all__ = ["CONTROL_CLASS", "NAME_COLUMNS", "refuse_control_characters"]

#: The control characters a name or id may not hold (not whitespace): a regex class.
CONTROL_CLASS = r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]"
#: The columns (ours) checked: ids, channels, stages.
NAME_COLUMNS = (*ID_COLUMNS, "channel", "stage")


def refuse_control_characters(
    frame: pl.DataFrame,
    table: str,
    source: Source,
    row: str,
    shown: int = 5,
) -> None:
    """An :class:`InputError` naming the column and the first ``shown`` rows (``row``: the
    0-based source rows) when a text column of :data:`NAME_COLUMNS` in ``frame`` holds a
    control character (:data:`CONTROL_CLASS`)."""
    text = [c for c in NAME_COLUMNS if c in frame.columns and frame.schema[c] == pl.String]
    if not text or frame.height == 0:
        return
    if source.path is None and source.sql is None:
        # a frame built in memory is the caller's own data, not an export: the scoring
        # engine marks its internal rows with control characters no request can hold
        # (engine._journey_request SEP and CONVERSION_STAGE; the service refuses them)
        return
    hits = frame.select(pl.col(c).str.contains(CONTROL_CLASS).any() for c in text).row(0)
    for column, hit in zip(text, hits, strict=True):
        if not hit:
            continue
        bad = frame.filter(pl.col(column).str.contains(CONTROL_CLASS))
        found = sorted(
            {f"U+{ord(ch):04X}" for v in bad.get_column(column).head(shown).to_list()
             for ch in v if ch in _CONTROLS}
        )
        raise InputError(
            f"{bad.height} value(s) hold a control character ({', '.join(found)}): a damaged "
            "export; a name or id with one would look like another one and be counted apart",
            table=table,
            source=source.name,
            column=column,
            numbering=source.numbering,
            rows=bad.get_column(row).head(shown).to_list(),
            hint="remove the control characters (NUL, ...) from the file or export it again",
        )


_CONTROLS = frozenset(
    chr(c) for c in (*range(0x00, 0x09), *range(0x0E, 0x20), *range(0x7F, 0x85), *range(0x86, 0xA0))
)


