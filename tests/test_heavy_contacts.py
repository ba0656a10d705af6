"""A contact far more active than the others does not carry its channels' spend to its
account's segment, and a journey cut by the touch cap is named on the command line
(new-user report 22, S3: 30,000 form submissions of one scanner contact on a customer's
company sent 98.7% of Google's spend to enterprise, enterprise loaded CAC 3.7x, exit 0, the
only trace ``{'journey_too_long': 20004}``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

import attribution
from attribution.b2b._economics import UnitEconomics
from attribution.b2b._economics_heavy import bound_heavy_contacts, heavy_contacts_lines
from attribution.cli._output import reconciliation_lines

START = datetime(2025, 3, 1, tzinfo=UTC)
BOT = 3_000  # the bot's touches: google_ads, on enterprise account E


def _world(bot: bool) -> tuple[pl.DataFrame, ...]:
    """20 accounts (10 smb, 10 enterprise), one contact each, each touched by google_ads and
    linkedin alike and winning a deal; with ``bot``, a scanner contact on enterprise account
    E0 with BOT google_ads touches and no deal of its own."""
    touches, stages, contacts, accounts = [], [], [], []
    for a in range(20):
        account, contact = f"{'S' if a < 10 else 'E'}{a % 10}", f"c{a}"
        contacts.append({"contact_id": contact, "account_id": account})
        accounts.append({"account_id": account, "segment": "smb" if a < 10 else "enterprise"})
        for k, channel in enumerate(["google_ads", "linkedin", "google_ads", "linkedin"]):
            touches.append({"touch_id": f"t{a}-{k}", "contact_id": contact, "channel": channel,
                            "timestamp": START + timedelta(days=k + a % 5)})
        stages.append({"contact_id": contact, "stage": "closed_won", "value": 10_000.0,
                       "timestamp": START + timedelta(days=20)})
    if bot:
        contacts.append({"contact_id": "scanner", "account_id": "E0"})
        touches += [{"touch_id": f"b{k}", "contact_id": "scanner", "channel": "google_ads",
                     "timestamp": START + timedelta(minutes=k)} for k in range(BOT)]
    return tuple(pl.DataFrame(x) for x in (touches, stages, contacts, accounts))


SPEND = pl.DataFrame({"channel": ["google_ads", "linkedin"], "month": [date(2025, 3, 1)] * 2,
                      "amount": [20_000.0, 20_000.0]})


def _economics(bot: bool) -> UnitEconomics:
    touches, stages, contacts, accounts = _world(bot)
    options = attribution.RunOptions(level="account", models=["linear"])
    result = attribution.attribute(touches, stages, contacts=contacts, options=options)
    inputs = attribution.B2BInputs(touches=touches, stages=stages, contacts=contacts,
                                   spend=SPEND, accounts=accounts)
    extras = attribution.analyse(result, inputs, options=options).extras
    (econ,) = [x for x in extras if isinstance(x, UnitEconomics)]
    return econ


def _google_spend(econ: UnitEconomics) -> dict[str, float]:
    rows = econ.segments.filter((pl.col("channel") == "google_ads")
                                & (pl.col("model") == "linear"))
    return dict(rows.select("segment", "spend").iter_rows())


def test_a_bot_contact_does_not_carry_the_spend_to_its_segment() -> None:
    clean, botted = _economics(False), _economics(True)
    assert _google_spend(clean) == pytest.approx({"smb": 10_000.0, "enterprise": 10_000.0})
    # the scanner weighs as the busiest other contact (4 touches): enterprise 24 of 44
    # google_ads touches (before: 3,020 of 3,040, 99.3% of the spend)
    assert _google_spend(botted) == pytest.approx(
        {"smb": 20_000.0 * 20 / 44, "enterprise": 20_000.0 * 24 / 44})
    found = botted.parameters["contacts_bounded"]
    assert (found["contacts"], found["touches"], found["counted_as"]) == (1, BOT, 4.0)
    assert found["listed"][0] == {"contact_id": "scanner", "account_id": "E0",
                                  "top_channel": "google_ads", "top_channel_touches": BOT,
                                  "touches": BOT}
    assert "contacts_bounded" not in clean.parameters
    (line,) = heavy_contacts_lines(botted.parameters)  # the summary's sentence
    assert "the busiest, scanner, account E0, has 3,000, 3,000 of them google_ads" in line
    assert heavy_contacts_lines(clean.parameters) == []


def test_bounding_follows_the_long_journey_rule() -> None:
    """At least 1,000 touches and 20 times the others' median: a busy account of real people
    (900 touches each) is not bounded, nor 1,000 touches against a median of 60."""
    def exposure(counts: dict[str, int]) -> pl.DataFrame:
        return pl.DataFrame({"channel": ["email"] * len(counts), "account_id": list(counts),
                             "contact_id": list(counts),
                             "touches": [float(n) for n in counts.values()]})
    busy = exposure({f"p{k}": 900 for k in range(5)})
    assert bound_heavy_contacts(busy) == (busy, None)
    high_median = exposure({"bot": 1_000, **{f"p{k}": 60 for k in range(5)}})
    assert bound_heavy_contacts(high_median)[1] is None
    bounded, found = bound_heavy_contacts(exposure({"bot": 1_000, "p0": 40, "p1": 50}))
    assert found is not None
    assert found["contacts"] == 1
    assert dict(bounded.select("contact_id", "touches").iter_rows()) == {
        "bot": 50.0, "p0": 40.0, "p1": 50.0}


def test_a_journey_cut_by_the_cap_is_named_on_the_command_line() -> None:
    touches, stages, contacts, _ = _world(True)
    options = attribution.RunOptions(level="account", models=["linear"],
                                     max_touches_per_journey=1_000)
    result = attribution.attribute(touches, stages, contacts=contacts, options=options)
    said = ("1 journey(s) over max_touches_per_journey (1000) kept only their last touches; "
            "2,004 touches dropped; the longest, conversion E0#1 of account_id E0, had 3,004 "
            "touches: a bot, a tracking loop or a shared login?")
    lines = reconciliation_lines(result.manifest["reconciliation"], 1_000)
    assert any(said in line for line in lines)
    assert any(said in note for note in result.manifest["notes"])
