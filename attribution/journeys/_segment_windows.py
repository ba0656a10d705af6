"""The lookback per account segment (``RunOptions.lookback`` given per segment).

B2B consideration windows differ by segment (SMB 30-90 days, mid-market 90-180, enterprise
180-365, strategic 365+), so a journey's window can be taken from the segment of its
entity's account (the accounts table's ``segment``):

- ``lookback = {smb = "90d", enterprise = "365d"}`` (a mapping; on a command line
  ``--lookback smb=90d,enterprise=365d``) sets those segments; every other segment of
  :data:`SEGMENT_LOOKBACK` keeps its documented default; ``lookback = "segments"`` takes the
  defaults for all of them;
- the key ``default`` is the window of an entity whose account has no segment, a segment not
  listed, or no account row (and of an entity with no account at all); without it, the
  level's single default (90 days for contacts, 180 for accounts).

The entity's account: at account level the entity is the account; at contact level it is
the ``account_id`` on the contact's touches, filled from the contacts table where a touch has
none (as account-level runs fill it). Each touch looks its account's window up (one
vectorised join), the touches of one entity take the longest of their windows (a contact
whose touches name accounts of several segments), and the journeys stage compares each touch
with ``T - window`` as it does with the single window; the single-window path is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from difflib import get_close_matches
from typing import Any, Final

import polars as pl

from attribution.exceptions import InputError
from attribution.inputs._account_inputs import segment_spelling
from attribution.inputs._durations import parse_duration
from attribution.journeys._contacts import attach_accounts
from attribution.journeys._order import ENTITY_ID

__all__ = [
    "DEFAULT_KEY",
    "SEGMENT_LOOKBACK",
    "WINDOW",
    "check_lookback",
    "check_lookback_segments",
    "entity_windows",
    "touch_windows",
]

#: The default window of each segment: the top of its published consideration window (SMB
#: 30-90 days, mid-market 90-180, enterprise 180-365); strategic (365+, no top) takes 540
#: days, the top of the published enterprise sales cycle (6-18 months).
SEGMENT_LOOKBACK: Final[Mapping[str, timedelta]] = {
    "smb": timedelta(days=90),
    "mid_market": timedelta(days=180),
    "enterprise": timedelta(days=365),
    "strategic": timedelta(days=540),
}
#: The key of the window for an entity without a (listed) segment.
DEFAULT_KEY: Final = "default"
#: The work-table column holding each touch's window.
WINDOW: Final = "_lookback"
_KEYWORD = "segments"


def check_lookback(
    value: Any, level_default: str, *, aliases: Mapping[str, Sequence[str]] | None = None
) -> tuple[timedelta, dict[str, timedelta] | None]:
    """``lookback`` as written -> (the single window, the windows by segment or None).

    A duration (``"90d"``, a ``timedelta``) is the single window. A mapping, the text
    ``"seg=dur,seg=dur"`` or ``"segments"`` gives windows by segment: the documented
    defaults updated by the mapping (segment names spelled as the accounts table's are:
    trimmed, lower case, spaces and hyphens as ``_``); its ``default`` key, else
    ``level_default``, is the single window. ``aliases`` (``RunOptions.segment_aliases``:
    published segment -> the user's names) give each name its published segment's window
    unless the lookback names it itself. Errors name the segment."""
    if value is None:
        return parse_duration(level_default), None
    if isinstance(value, str):
        text = value.strip()
        if text.lower() == _KEYWORD:
            value = {}
        elif "=" in text:
            value = _pairs(text)
    if not isinstance(value, Mapping):
        return parse_duration(value), None
    given: dict[str, timedelta] = {}
    for key, duration in value.items():
        if not isinstance(key, str) or not key.strip():
            raise InputError(f"lookback by segment takes segment names as keys; got {key!r}")
        name = _spelling(key)
        if name in given:
            raise InputError(f"lookback names segment '{name}' twice (as {key!r})")
        given[name] = parse_duration(duration, name=f"lookback.{name}")
    single = given.pop(DEFAULT_KEY, None) or parse_duration(level_default)
    windows = {**SEGMENT_LOOKBACK, **given}
    for published, names in (aliases or {}).items():
        window = windows.get(_spelling(published))
        if window is None:  # a segment of the user's benchmark table, not of the lookback
            continue
        for name in map(_spelling, names):  # the lookback's own entry wins
            windows.setdefault(name, window)
    return single, windows


def check_lookback_segments(
    value: Any, segments: pl.Series, aliases: Mapping[str, Sequence[str]] | None = None
) -> None:
    """Each segment ``lookback`` names (``default`` aside) is the ``segment`` of some account
    (``segments``: the accounts table's, spelled), or the published segment of one by the
    built-in names or ``aliases`` (``RunOptions.segment_aliases``): a typo (``enterprize``)
    would give the real segment its default window in silence. The error has a
    did-you-mean."""
    if isinstance(value, str) and "=" in value:
        value = _pairs(value.strip())
    if not isinstance(value, Mapping):
        return
    have = set(segments.drop_nulls().unique().to_list())
    have |= {alias["as"] for alias in _read_as(have, value).values()}  # KMU: smb
    for published, names in (aliases or {}).items():  # the user's own names of it
        if have & set(map(_spelling, names)):
            have.add(_spelling(published))
    for key in value:
        name = _spelling(str(key))
        if name == DEFAULT_KEY or name in have:
            continue
        close = get_close_matches(name, sorted(have), n=2, cutoff=0.6)
        error = InputError(
            f"lookback names segment '{name}', which no account has"
            + ("; did you mean " + " or ".join(f"'{c}'" for c in close) + "?" if close else "")
            + f" (the accounts' segments: {', '.join(map(repr, sorted(have))) or 'none'})"
        )
        error.option = "lookback"
        raise error


def _pairs(text: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in (i.strip() for i in text.split(",")):
        if not item:
            continue
        segment, sep, duration = item.partition("=")
        if not sep or not segment.strip():
            raise InputError(
                f"lookback by segment is written segment=duration,...; got {item!r} in {text!r}"
                " (e.g. smb=90d,mid_market=180d,enterprise=365d)"
            )
        pairs[segment.strip()] = duration.strip()
    return pairs


def _read_as(segments: Iterable[str], named: Iterable[Any]) -> dict[str, dict[str, str]]:
    """The accounts' ``segments`` read as a published segment by the economics' one rule
    (:func:`attribution.b2b._segment_aliases.read_as`, built-in names): those the lookback
    (``named``: its segments) does not name itself."""
    from attribution.b2b._segment_aliases import read_as

    own = {_spelling(str(k)) for k in named}
    return read_as(segments, own, known=(*own, *SEGMENT_LOOKBACK))


def _spelling(key: str) -> str:
    """A segment name in the accounts table's one spelling (the loader's own expression)."""
    return str(pl.select(segment_spelling(pl.lit(key))).item())


def touch_windows(
    touches: pl.DataFrame,
    *,
    contacts: pl.DataFrame | None,
    segments: pl.DataFrame,
    windows: Mapping[str, timedelta],
) -> pl.Series:
    """Each touch's window (``WINDOW``, a duration; null when its account has no segment of
    ``windows``): that of the segment (``segments``: ``account_id``, ``segment``) of the
    touch's account, its ``account_id`` filled from the contacts table where it has none.
    :func:`entity_windows` then gives every touch of an entity the same window."""
    if contacts is not None:
        touches = attach_accounts(touches.select("contact_id", "account_id"), contacts, "touches")
    table = pl.DataFrame(
        {"segment": list(windows), WINDOW: list(windows.values())},
        schema={"segment": pl.String, WINDOW: pl.Duration("us")},
    )
    # a segment the lookback does not name reads as its published one (KMU: smb's window)
    names = segments.get_column("segment").drop_nulls().unique().to_list()
    read = {name: alias["as"] for name, alias in _read_as(names, windows).items()}
    lookup = (
        segments.with_columns(pl.col("segment").replace(read))
        .join(table, on="segment", how="inner")
        .select("account_id", WINDOW)
    )
    return (
        touches.select("account_id")
        .join(lookup, on="account_id", how="left", maintain_order="left")
        .get_column(WINDOW)
    )


def entity_windows(single: timedelta) -> pl.Expr:
    """The work table's ``WINDOW`` made one per entity: the longest of its touches' windows
    (the accounts named on one contact's touches may fall in several segments), ``single``
    when none has one."""
    return pl.col(WINDOW).max().over(ENTITY_ID).fill_null(single).alias(WINDOW)
