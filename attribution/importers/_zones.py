"""Dates with and without a time zone in one import: a HubSpot UI export writes the portal's
local time without an offset while its engagement (API) export writes UTC with ``Z``; read
without ``--timezone`` the naive side is taken as UTC and shifted by the portal's offset
against the other. The import counts both kinds per column (:func:`count_zones`) and says so
in a note (:func:`naive_zone_note`): stderr, ``import_report.json`` ``notes``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import polars as pl

from attribution.inputs._reading import NAIVE_ZONE
from attribution.inputs._time_zones import zone_masks

if TYPE_CHECKING:
    from attribution.importers._read import Export

__all__ = ["count_zones", "naive_zone_note"]

def count_zones(export: Export, column: str) -> None:
    """Count ``column``'s values written with a zone and without one, with an example of
    each, into ``export.zones``: ``run``'s rule (:func:`zone_masks`: a date alone, as a
    Salesforce ``CloseDate``, and epoch milliseconds, as HubSpot's API writes, are
    neither)."""
    value = pl.col(column)
    naive, zoned = zone_masks(value)
    counts = export.frame.select(
        zoned.sum().alias("zoned"),
        naive.sum().alias("naive"),
        value.filter(naive).first().alias("naive_example"),
        value.filter(zoned).first().alias("zoned_example"),
    ).row(0, named=True)
    if counts["zoned"] or counts["naive"]:
        export.zones[column] = (
            int(counts["naive"]),
            int(counts["zoned"]),
            counts["naive_example"],
            counts["zoned_example"],
        )


def naive_zone_note(exports: Sequence[Export]) -> str | None:
    """A note when the import read dates without a zone as UTC (no ``--timezone``) beside
    dates written with one: the naive side is probably the CRM's local time."""
    if NAIVE_ZONE.get() is not None:
        return None
    found = [(e.label, c, *v) for e in exports for c, v in e.zones.items()]
    naive = [(label, c, n, ex) for label, c, n, _, ex, _ in found if n]
    zoned = [(label, c, z, ex) for label, c, _, z, _, ex in found if z]
    if not naive or not zoned:
        return None
    n, z = sum(x[2] for x in naive), sum(x[2] for x in zoned)
    (nl, nc, _, nex), (zl, zc, _, zex) = naive[0], zoned[0]
    return (
        f"{n:,} date(s) without a time zone (e.g. {nl} '{nc}': {nex!r}) were read as UTC, "
        f"beside {z:,} written with one (e.g. {zl} '{zc}': {zex!r}): a CRM's UI export "
        "(HubSpot's contacts and deals) writes the portal's local time without an offset, so "
        "read as UTC those dates are off by the portal's UTC offset against the others; if "
        "they are local times, import again with --timezone ZONE (the portal's zone, "
        "HubSpot: Settings > Account Defaults, e.g. --timezone America/New_York)"
    )
