"""`attribution import` and `run` tell naive from zoned times by one rule
(attribution.inputs._time_zones.zone_masks): a date alone is neither, so an export whose
close dates are dates (Salesforce's `CloseDate`, a HubSpot sheet saved with dates) beside
an event log in UTC gets no "dates without a time zone ... import again with --timezone"
note, which invited a re-import that changes nothing (new-user report 15, minor 10)."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

import attribution
from attribution.inputs._time_zones import zone_masks

HS = Path(__file__).parent / "fixtures" / "hubspot_ui"


def _copy(tmp_path: Path, name: str, edit) -> Path:
    path = tmp_path / name
    path.write_text(edit((HS / name).read_text()))
    return path


def test_the_rule() -> None:
    values = pl.DataFrame({"t": ["2025-03-05 09:00", "2025-03-05T09:00:00Z", "2025-03-05",
                                 "1741165200000", "2025-03-05 09:00:00 UTC",
                                 "2025-03-05 09:00+01", None]})  # fmt: skip
    naive, zoned = zone_masks(pl.col("t"))
    got = values.select(naive.alias("n"), zoned.alias("z"))
    assert got.get_column("n").to_list() == [True, False, False, False, False, False, None]
    assert got.get_column("z").to_list() == [False, True, False, False, True, True, None]


def test_dates_alone_beside_utc_times_get_no_note_in_an_import(tmp_path: Path) -> None:
    def dates_only(text: str) -> str:
        return re.sub(r"(\d{4}-\d\d-\d\d) \d\d:\d\d(:\d\d)?", r"\1", text)

    def zulu(text: str) -> str:
        return re.sub(r"(\d{4}-\d\d-\d\d) (\d\d:\d\d)", r"\1T\2:00.000Z", text)

    done = attribution.import_hubspot(
        _copy(tmp_path, "contacts.csv", dates_only),
        _copy(tmp_path, "deals.csv", dates_only),
        engagements=_copy(tmp_path, "engagements.csv", zulu),
    )
    assert not [n for n in done.report["notes"] if "without a time zone" in n]
