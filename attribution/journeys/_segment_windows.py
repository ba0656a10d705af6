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
the contact's account in the contacts table, else the ``account_id`` on its touches (the
smallest when they differ). Every touch carries its entity's window (one vectorised join),
and the journeys stage compares each touch with ``T - window`` as it does with the single
window; the single-window path is unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

import polars as pl

from attribution.exceptions import InputError
from attribution.inputs._account_inputs import segment_spelling
from attribution.inputs._durations import parse_duration

__all__ = ["DEFAULT_KEY", "SEGMENT_LOOKBACK", "WINDOW", "check_lookback", "touch_windows"]

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
    value: Any, level_default: str
) -> tuple[timedelta, dict[str, timedelta] | None]:
    """``lookback`` as written -> (the single window, the windows by segment or None).

    A duration (``"90d"``, a ``timedelta``) is the single window. A mapping, the text
    ``"seg=dur,seg=dur"`` or ``"segments"`` gives windows by segment: the documented
    defaults updated by the mapping (segment names spelled as the accounts table's are:
    trimmed, lower case, spaces and hyphens as ``_``); its ``default`` key, else
    ``level_default``, is the single window. Errors name the segment."""
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
    return single, {**SEGMENT_LOOKBACK, **given}


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


def _spelling(key: str) -> str:
    """A segment name in the accounts table's one spelling (the loader's own expression)."""
    return str(pl.select(segment_spelling(pl.lit(key))).item())


def touch_windows(
    touches: pl.DataFrame,
    *,
    key: str,
    contacts: pl.DataFrame | None,
    segments: pl.DataFrame,
    windows: Mapping[str, timedelta],
    single: timedelta,
) -> pl.Series:
    """Each touch's window (``WINDOW``, a duration): that of the segment of its entity's
    account (``segments``: ``account_id``, ``segment``), else ``single``. ``key`` is the
    entity key of the touches (``contact_id`` or ``account_id``)."""
    if key == "account_id":
        accounts = touches.select(pl.col("account_id").alias("_acct"))
    else:
        accounts = touches.select("contact_id").join(
            _contact_accounts(touches, contacts), on="contact_id", how="left",
            maintain_order="left",
        ).select("_acct")
    table = pl.DataFrame(
        {"segment": list(windows), WINDOW: list(windows.values())},
        schema={"segment": pl.String, WINDOW: pl.Duration("us")},
    )
    lookup = (
        segments.select(pl.col("account_id").alias("_acct"), "segment")
        .join(table, on="segment", how="inner")
        .select("_acct", WINDOW)
    )
    return (
        accounts.join(lookup, on="_acct", how="left", maintain_order="left")
        .get_column(WINDOW)
        .fill_null(single)
        .cast(pl.Duration("us"))
    )


def _contact_accounts(touches: pl.DataFrame, contacts: pl.DataFrame | None) -> pl.DataFrame:
    """``contact_id`` -> ``_acct``: the contacts table's account, else the smallest
    ``account_id`` on the contact's touches."""
    def firsts(frame: pl.DataFrame) -> pl.DataFrame:
        return (
            frame.lazy()
            .filter(pl.col("contact_id").is_not_null() & pl.col("account_id").is_not_null())
            .group_by("contact_id")
            .agg(pl.col("account_id").min().alias("_acct"))
            .collect()
        )

    from_touches = (
        firsts(touches)
        if "account_id" in touches.columns
        else pl.DataFrame(schema={"contact_id": pl.String, "_acct": pl.String})
    )
    if contacts is None or "account_id" not in contacts.columns:
        return from_touches
    listed = firsts(contacts)
    return (
        listed.join(from_touches, on="contact_id", how="full", coalesce=True, suffix="_t")
        .select("contact_id", pl.coalesce("_acct", "_acct_t").alias("_acct"))
    )
