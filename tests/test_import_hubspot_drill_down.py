"""New-user report 16, M1 and M9: HubSpot files LinkedIn ads traffic under ``Original Source``
= ``Paid Social`` with ``Original Source Drill-Down 1`` = ``LinkedIn``; the import made every
such touch ``paid_social``, so ``import ads``' spend on ``linkedin`` (57% of her spend) met no
touch. A paid source's touch now takes the taxonomy name of the ad platform its drill-down
names. And the contacts line said ``3,012 kept`` where 3,006 contacts were written (repeated
ids merged): it now says how many records the kept rows make."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from attribution import import_ads, import_hubspot
from attribution.cli._app import app
from tests.test_import_ads import LINKEDIN, write

_HEADER = (
    "Record ID,First Name,Email,Create Date,Original Source,Original Source Drill-Down 1,"
    "Original Source Drill-Down 2,Latest Source,Latest Source Drill-Down 1,Latest Source Date,"
    "Primary Associated Company ID"
)
# (id, original source, its drill-down 1, latest source, its drill-down 1, company)
_ROWS = [
    ("101", "Paid Social", "LinkedIn", "Paid Social", "LinkedIn", "9001"),
    ("102", "Paid Social", "Facebook", "Direct Traffic", "", "9001"),
    ("103", "Paid Search", "google", "Paid Search", "Bing", "9002"),
    ("104", "Social Media", "LinkedIn", "Organic Search", "google", "9002"),
    ("105", "Paid Social", "", "Referrals", "g2.com", "9003"),
    ("106", "Paid Social", "linkedin.com", "Email Marketing", "Newsletter", "9003"),
    ("106", "Paid Social", "linkedin.com", "Email Marketing", "Newsletter", "9003"),
]


def _contacts(tmp_path: Path) -> Path:
    """A contacts export as HubSpot's UI writes it: every cell quoted, UK dates."""
    lines = [",".join(f'"{h}"' for h in _HEADER.split(","))]
    for cid, src, drill, latest, latest_drill, company in _ROWS:
        i = int(cid) % 10  # a repeated row is the same row again, dates and all
        cells = [cid, "Ann", f"a{cid}@x.co.uk", f"1{i}/01/2026 09:30", src, drill, "",
                 latest, latest_drill, f"2{i}/02/2026 14:08", company]  # fmt: skip
        lines.append(",".join(f'"{c}"' for c in cells))
    return write(tmp_path / "hubspot-crm-exports-all-contacts.csv", "\n".join(lines) + "\n")


_FORMATS = ["%d/%m/%Y %H:%M"]


def _channels(touches: pl.DataFrame) -> dict[tuple[str, str], str]:
    return {
        (cid, kind): ch
        for cid, kind, ch in touches.select("contact_id", "touch_type", "channel").iter_rows()
    }


def test_a_paid_source_takes_the_ad_platform_its_drill_down_names(tmp_path: Path) -> None:
    result = import_hubspot(_contacts(tmp_path), timestamp_formats=_FORMATS)
    got = _channels(result.touches)
    assert got[("101", "original_source")] == "linkedin"
    assert got[("101", "latest_source")] == "linkedin"
    assert got[("106", "original_source")] == "linkedin"  # linkedin.com: the platform too
    assert got[("103", "original_source")] == "google_ads"
    assert got[("103", "latest_source")] == "microsoft_ads"  # the taxonomy's Bing name
    # a platform the taxonomy has no name for, or no drill-down: the family stays
    assert got[("102", "original_source")] == "paid_social"
    assert got[("105", "original_source")] == "paid_social"
    # unpaid sources keep their channel whatever the drill-down names
    assert got[("104", "original_source")] == "organic_social"
    assert got[("104", "latest_source")] == "organic_search"
    # Referrals + g2.com: the referrer host rules' review-site channel (tests/
    # test_fix21_hubspot_referrals.py; was 'referral')
    assert got[("105", "latest_source")] == "g2_capterra"
    report = result.report
    assert report["counts"]["touches_channel_from_drill_down"] == 5  # 101 x2, 103 x2, 106
    pairs = report["value_mappings"]["channel (HubSpot paid source + drill-down 1)"]
    assert pairs == {
        "Paid Social / LinkedIn": "linkedin",
        "Paid Social / linkedin.com": "linkedin",
        "Paid Search / google": "google_ads",
        "Paid Search / Bing": "microsoft_ads",
    }
    # the source's own mapping stays the family (one value per source)
    assert report["value_mappings"]["channel (HubSpot source)"]["Paid Social"] == "paid_social"
    note = next(n for n in report["notes"] if "take the ad platform" in n)
    assert "5 touch(es)" in note
    assert "'Original Source Drill-Down 1'" in note
    assert "'Facebook'" in note  # the drill-down that kept the family is named
    columns = report["files"]["contacts"]["columns"]
    assert columns["touch:original_source_drill_down"] == "Original Source Drill-Down 1"


def test_the_linkedin_spend_meets_the_linkedin_touches(tmp_path: Path) -> None:
    touches = import_hubspot(_contacts(tmp_path), timestamp_formats=_FORMATS).touches
    spend = import_ads(linkedin_ads=write(tmp_path / "li.csv", LINKEDIN)).spend
    spent_on = set(spend.get_column("channel").unique())
    assert spent_on == {"linkedin"}
    assert spent_on <= set(touches.get_column("channel").unique())


def test_api_property_names_and_values_take_the_platform_too(tmp_path: Path) -> None:
    text = (
        "hs_object_id,createdate,hs_analytics_source,hs_analytics_source_data_1\n"
        "201,2026-01-05T10:00:00Z,PAID_SOCIAL,LinkedIn\n"
        "202,2026-01-06T10:00:00Z,PAID_SOCIAL,Twitter\n"
        "203,2026-01-07T10:00:00Z,PAID_SEARCH,Microsoft Advertising\n"
    )
    result = import_hubspot(write(tmp_path / "api.csv", text))
    got = dict(result.touches.select("contact_id", "channel").iter_rows())
    assert got == {"201": "linkedin", "202": "paid_social", "203": "microsoft_ads"}
    assert result.report["counts"]["touches_channel_from_drill_down"] == 2


def test_without_a_drill_down_column_the_family_is_kept(tmp_path: Path) -> None:
    text = "Record ID,Create Date,Original Source\n301,01/05/2026 10:00,Paid Social\n"
    result = import_hubspot(write(tmp_path / "c.csv", text), timestamp_formats=["%m/%d/%Y %H:%M"])
    assert result.touches.get_column("channel").to_list() == ["paid_social"]
    assert result.report["counts"]["touches_channel_from_drill_down"] == 0
    assert not any("take the ad platform" in n for n in result.report["notes"])


def test_the_contacts_line_says_how_many_contacts_repeated_ids_make(tmp_path: Path) -> None:
    out = tmp_path / "crm"
    args = ["import", "hubspot", "--contacts", str(_contacts(tmp_path))]
    args += ["--timestamp-format", _FORMATS[0], "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    report = json.loads((out / "import_report.json").read_text())
    info = report["files"]["contacts"]
    written = pl.read_parquet(out / "contacts.parquet").height
    assert (info["rows_read"], info["rows_kept"], info["ids_kept"], info["rows_merged"]) == (
        7, 7, written, 1,
    )  # fmt: skip
    assert written == 6
    assert "contacts: 7 rows read, 7 kept (6 contacts: 1 row(s) repeating an id merged)" in (
        res.output
    )


def test_files_without_repeated_ids_keep_the_plain_line(tmp_path: Path) -> None:
    out = tmp_path / "ads"
    res = CliRunner().invoke(
        app, ["import", "ads", "--linkedin-ads", str(write(tmp_path / "li.csv", LINKEDIN)),
              "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    line = next(ln for ln in res.output.splitlines() if "rows read" in ln)
    assert line.endswith("kept")
    assert "merged" not in res.output
    text = "Record ID,Create Date,Original Source\n1,01/05/2026 10:00,Paid Social\n"
    solo = CliRunner().invoke(
        app, ["import", "hubspot", "--contacts", str(write(tmp_path / "c.csv", text)),
              "--out", str(tmp_path / "crm")],
    )  # fmt: skip
    assert solo.exit_code == 0, solo.output
    assert "contacts: 1 rows read, 1 kept\n" in solo.output
