"""The warehouses' text forms of an aware timestamp that every reader takes: one table for
the files' reader (Polars, :mod:`attribution.inputs._reading`) and the HTTP service's
request reader (one value in Python, :func:`warehouse_iso`)."""

from __future__ import annotations

import re

__all__ = ["WAREHOUSE_FORMS", "warehouse_iso"]

#: The warehouses' own text forms of an aware timestamp, written as ISO 8601 before a second
#: read: PostgreSQL's ``2025-03-05 10:00:00+00`` (an offset of whole hours, ``+hh``: what
#: psql and ``COPY ... TO CSV`` write for a timestamptz) gets its ``:00``, BigQuery's
#: ``2025-03-05 10:00:00 UTC`` (its CSV / JSON exports) is ``+00:00``, and so is ``GMT``
#: (one offset, as UTC: what JavaScript's toUTCString and e-mail dates write). Only those
#: zone names: ``EST`` or ``CET`` name several offsets, and stay unreadable.
_STAMP_TEXT = r"(\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?)"
WAREHOUSE_FORMS = (
    ("^" + _STAMP_TEXT + r"([+-]\d\d)$", "${1}${2}:00"),
    ("^" + _STAMP_TEXT + r" (?:UTC|GMT)$", "${1}+00:00"),
)
#: the same forms for one value in Python (the HTTP service's request reader)
_WAREHOUSE_RE = tuple(
    (re.compile(pattern), replacement.replace("${", "\\g<").replace("}", ">"))
    for pattern, replacement in WAREHOUSE_FORMS
)


def warehouse_iso(text: str) -> str:
    """``text`` in ISO 8601 when it is one of the warehouses' forms a file's reader reads
    (:data:`WAREHOUSE_FORMS`), else as it is: one value, as the HTTP service reads it.

    >>> warehouse_iso("2025-01-02 14:10:15.742226+00"), warehouse_iso("2025-03-01 UTC")
    ('2025-01-02 14:10:15.742226+00:00', '2025-03-01 UTC')
    """
    for pattern, replacement in _WAREHOUSE_RE:
        if pattern.fullmatch(text):
            return pattern.sub(replacement, text)
    return text
