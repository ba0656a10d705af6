"""HubSpot's ``Referrals`` source with the drill-down ``g2.com`` (or ``capterra.com``) was
the channel ``referral``, while a run reading the same visit's referrer gives it
``g2_capterra`` (inp20's ``[[referrer]]`` host rules; imp21's leftover). A Referrals touch
whose drill-down is a host now takes the channel those rules give it (the run's rules file
with ``channel_rules``), counted and said; another host, or a drill-down that is no host,
stays ``referral``."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from attribution import import_hubspot
from tests.test_import_ads import write

_TEXT = (
    "Record ID,Create Date,Original Source,Original Source Drill-Down 1\n"
    "401,01/05/2026 10:00,Referrals,g2.com\n"
    "402,01/05/2026 10:00,Referrals,https://www.capterra.co.uk/p/123\n"
    "403,01/05/2026 10:00,Referrals,partner-blog.io\n"
    "404,01/05/2026 10:00,Referrals,Offline\n"
    "405,01/05/2026 10:00,Referrals,\n"
    "406,01/05/2026 10:00,Organic Search,g2.com\n"
)
_FORMATS = ["%m/%d/%Y %H:%M"]


def _channels(touches: pl.DataFrame) -> dict[str, str]:
    return dict(touches.select("contact_id", "channel").iter_rows())


def test_a_referral_host_takes_the_referrer_rules_channel(tmp_path: Path) -> None:
    result = import_hubspot(write(tmp_path / "c.csv", _TEXT), timestamp_formats=_FORMATS)
    assert _channels(result.touches) == {
        "401": "g2_capterra",
        "402": "g2_capterra",  # a URL: its host
        "403": "referral",  # a host no rule names
        "404": "referral",  # no host
        "405": "referral",
        "406": "organic_search",  # only Referrals read their drill-down host
    }
    report = result.report
    assert report["counts"]["touches_channel_from_referral_host"] == 2
    assert report["value_mappings"]["channel (HubSpot Referrals + drill-down host)"] == {
        "g2.com": "g2_capterra",
        "https://www.capterra.co.uk/p/123": "g2_capterra",
    }
    note = next(n for n in report["notes"] if "Referrals touch(es)" in n)
    assert "2 Referrals touch(es)" in note
    assert "'Original Source Drill-Down 1'" in note


def test_the_runs_channel_rules_decide(tmp_path: Path) -> None:
    rules = write(
        tmp_path / "rules.toml",
        '[[rule]]\nchannel = "paid"\nmedium = "^cpc$"\n'
        '[[referrer]]\nchannel = "review_sites"\nhost = "(^|\\\\.)g2\\\\.com$"\n'
        '[[referrer]]\nchannel = "partners"\nhost = "partner-blog\\\\.io$"\n',
    )
    result = import_hubspot(write(tmp_path / "c.csv", _TEXT), timestamp_formats=_FORMATS,
                            channel_rules=rules)  # fmt: skip
    got = _channels(result.touches)
    assert (got["401"], got["402"], got["403"]) == ("review_sites", "referral", "partners")
