"""The touch types a plan's CAC leaves out, in one place for every command that checks a
plan (``attribution plan``, ``attribution run --plan``; ``attribution demo`` leaves out the
same): one plan on the same data gets one CAC, whichever command measured it.

A plan buys marketing channels; the sales team's own follow-ups (``[sla]
sales_touch_types``, default ``sales_call``, ``sales_email``, ``meeting``) come after the
MQL, where position-based models give them much of the credit, which would raise every
marketing channel's CAC. So by default the plan's credit leaves out those of them the
touches have (a touch log without a ``touch_type`` column has nothing to leave out);
``--exclude-touch-types a,b`` (``[run] exclude_touch_types``) leaves out others, and
``--exclude-touch-types none`` (``exclude_touch_types = []``) credits every touch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from attribution.b2b._sla_targets import DEFAULT_SALES_TOUCH_TYPES
from attribution.inputs._sources import TableLike, read_source

__all__ = ["NONE", "given_touch_types", "plan_touch_types", "sales_touch_types_of"]

#: ``--exclude-touch-types none``: credit every touch
NONE = "none"


def given_touch_types(types: Sequence[str]) -> tuple[str, ...]:
    """The touch types given (``--exclude-touch-types``), ``none`` read as none."""
    parts = tuple(t.strip() for t in types if t.strip())
    return () if [t.lower() for t in parts] == [NONE] else parts


def sales_touch_types_of(sla: Any) -> Sequence[str]:
    """A config's ``[sla] sales_touch_types``, else the default sales follow-ups."""
    given = sla.get("sales_touch_types") if isinstance(sla, Mapping) else None
    return tuple(given) if given else DEFAULT_SALES_TOUCH_TYPES


def plan_touch_types(
    touches: TableLike,
    *,
    column: str = "touch_type",
    sales: Sequence[str] | None = None,
) -> tuple[str, ...]:
    """The touch types a plan's CAC leaves out by default: the ``sales`` touch types
    (default ``sales_call``, ``sales_email``, ``meeting``; a config's ``[sla]
    sales_touch_types``) that the touches have in their ``column`` (the user's name of
    ``touch_type``), none when they have no such column (a run refuses to leave out a type
    no touch has). Give them as ``RunOptions(exclude_touch_types=...)`` to the run that
    measures the plan, as ``attribution plan`` and ``attribution run --plan`` do.

    >>> import polars as pl
    >>> touches = pl.DataFrame({"touch_type": ["ad_click", "Meeting", "sales_call"]})
    >>> plan_touch_types(touches)
    ('sales_call', 'meeting')
    """
    sales = DEFAULT_SALES_TOUCH_TYPES if sales is None else sales
    frame = read_source(touches, table="touches").frame
    if column not in frame.collect_schema().names():
        return ()
    value = pl.col(column).cast(pl.String).str.strip_chars().str.to_lowercase()
    found = set(frame.select(value.unique()).collect().to_series().to_list())
    return tuple(t for t in sales if t.strip().lower() in found)
