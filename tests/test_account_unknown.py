"""At account level, touches and deals without an account reach no journey: the economics
do not charge their spend to an ``unknown`` segment (which then read "spend, no customers:
BREACH"), they count it; the funnel calls such deals ``(no account)``, so ``unknown`` means
the same in both (an account the accounts table lacks); the report never names a segment
"over the line at –" (new-user report 4, defect 3)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

import attribution
from attribution.b2b._economics import UnitEconomics
from attribution.b2b._funnel import Funnel


def _day(d: int) -> datetime:
    return datetime(2025, 3, 1, tzinfo=UTC).replace(day=d)


TOUCHES = pl.DataFrame(
    {
        "touch_id": ["t1", "t2", "t3", "t4", "t5"],
        "contact_id": ["a1", "a1", "b1", "x1", "x1"],
        "channel": ["linkedin", "linkedin", "linkedin", "linkedin", "email"],
        "timestamp": [_day(2), _day(3), _day(4), _day(5), _day(6)],
    }
)
STAGES = pl.DataFrame(
    {
        "contact_id": ["a1", "a1", "b1", "b1", "x1", "x1"],
        "stage": ["opportunity", "closed_won", "opportunity", "closed_won", "opportunity",
                  "closed_won"],  # fmt: skip
        "timestamp": [_day(8), _day(10), _day(8), _day(11), _day(8), _day(12)],
        "value": [1000.0, 1000.0, 3000.0, 3000.0, 500.0, 500.0],
    }
)
CONTACTS = pl.DataFrame({"contact_id": ["a1", "b1"], "account_id": ["A", "B"]})  # x1: none
ACCOUNTS = pl.DataFrame({"account_id": ["A", "B"], "segment": ["smb", "enterprise"]})
SPEND = pl.DataFrame(
    {"channel": ["linkedin", "email"], "month": [date(2025, 3, 1)] * 2, "amount": [1000.0, 100.0]}
)


@pytest.fixture(scope="module")
def analysed() -> tuple[UnitEconomics, Funnel]:
    options = attribution.RunOptions(level="account", models=["linear"])
    result = attribution.attribute(TOUCHES, STAGES, contacts=CONTACTS, options=options)
    assert result.manifest["reconciliation"]["touches_dropped"]["missing_account_id"] == 2
    inputs = attribution.B2BInputs(
        touches=TOUCHES, stages=STAGES, contacts=CONTACTS, spend=SPEND, accounts=ACCOUNTS
    )
    extras = attribution.analyse(result, inputs, options=options).extras
    (econ,) = [x for x in extras if isinstance(x, UnitEconomics)]
    (flow,) = [x for x in extras if isinstance(x, Funnel)]
    return econ, flow


def test_spend_of_touches_without_an_account_is_counted_not_a_segment(analysed) -> None:
    econ, _ = analysed
    found = econ.parameters["touches_without_account"]
    assert found["touches"] == 2
    # linkedin: 1 of its 4 touches has no account; email: its only touch has none
    assert found["spend"] == pytest.approx(1000.0 / 4 + 100.0)
    assert {r["channel"]: r["spend"] for r in found["by_channel"]} == pytest.approx(
        {"linkedin": 250.0, "email": 100.0}
    )
    segments = econ.segments
    assert "unknown" not in segments.get_column("segment").to_list()
    # the segments still add up to each channel's spend; linkedin by its touches there: 2 : 1
    spend = dict(segments.group_by("channel").agg(pl.col("spend").sum()).rows())
    assert spend == pytest.approx({"linkedin": 1000.0, "email": 100.0})
    linkedin = dict(
        segments.filter(pl.col("channel") == "linkedin").select("segment", "spend").rows()
    )
    assert linkedin == pytest.approx({"smb": 2000.0 / 3, "enterprise": 1000.0 / 3})
    assert "Touches without an account: 2" in econ.summary()


def test_the_account_funnel_leaves_out_a_deal_without_an_account_and_says_so(analysed) -> None:
    """At account level the funnel's unit is the account: a contact without one (x1) is
    left out, as the run leaves it out of its journeys, counted and said."""
    _, flow = analysed
    assert flow.parameters["key"] == "account_id"
    groups = set(flow.kpis.filter(pl.col("dimension") == "segment").get_column("group"))
    assert groups == {"smb", "enterprise"}
    without = flow.counts["rows_without_key"]
    assert without > 0
    assert f"Left out: {without:,} stage event(s) without an account_id" in flow.summary()


def test_contact_level_keeps_unknown(analysed) -> None:
    """At contact level a contact without an account has a journey and its deal is in
    ``unknown`` in both the economics and the funnel, as before; a contact the contacts
    table gives an account (the touches carry none) has that account's segment in the touch
    credit, the economics and the funnel (new-user report 14, S4: every customer was
    ``unknown`` and the real segments read "spend, no customers: BREACH")."""
    options = attribution.RunOptions(models=["linear"])
    result = attribution.attribute(TOUCHES, STAGES, contacts=CONTACTS, options=options)
    owners = dict(result.touch_credit.select("contact_id", "account_id").unique().rows())
    assert owners == {"a1": "A", "b1": "B", "x1": None}
    inputs = attribution.B2BInputs(
        touches=TOUCHES, stages=STAGES, contacts=CONTACTS, spend=SPEND, accounts=ACCOUNTS
    )
    extras = attribution.analyse(result, inputs, options=options).extras
    (econ,) = [x for x in extras if isinstance(x, UnitEconomics)]
    (flow,) = [x for x in extras if isinstance(x, Funnel)]
    assert "touches_without_account" not in econ.parameters
    customers = dict(
        econ.segments.group_by("segment").agg(pl.col("customers").sum()).rows()
    )
    assert customers == pytest.approx({"smb": 1.0, "enterprise": 1.0, "unknown": 1.0})
    assert not econ.segments.filter(pl.col("segment") != "unknown")["breach"].any()
    kpis = flow.kpis.filter(pl.col("dimension") == "segment")
    assert set(kpis.get_column("group")) == {"smb", "enterprise", "unknown"}


def test_a_contact_with_two_accounts_at_contact_level(tmp_path) -> None:
    """A touch's account is its contact's at either level: at contact level a contact
    listed under two accounts is the error naming the contacts file and its lines when the
    run is given an accounts table (whose segment the conversion would take); without one
    the run reads no account, so its touches keep none and the run goes on (review19 #10:
    such a run ran before the contact-level fill)."""
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("contact_id,account_id\na1,A\nb1,B\na1,C\n")
    with pytest.raises(attribution.InputError) as caught:
        attribution.attribute(TOUCHES, STAGES, contacts=contacts, accounts=ACCOUNTS,
                              models=["linear"])  # fmt: skip
    text = str(caught.value)
    assert "contacts.csv" in text
    assert "several accounts" in text
    assert "2, 4" in text  # the file lines of a1's two rows
    result = attribution.attribute(TOUCHES, STAGES, contacts=contacts, models=["linear"])
    owners = dict(result.touch_credit.select("contact_id", "account_id").unique().rows())
    assert owners == {"a1": None, "b1": "B", "x1": None}


def test_answers_never_name_a_segment_over_the_line_at_a_dash() -> None:
    """A segment with spend and no credited customer (a breach with no share to show) is
    named with what it lacks, in the guardrail and the payback answers."""
    from attribution.report._answers import _EconomicsView, _guardrail, _payback

    paid = pl.DataFrame(
        {"channel": ["linkedin"], "status": ["paid"], "loaded_cac": [500.0],
         "guardrail_share": [0.1], "guardrail_limit": [0.3]}
    )  # fmt: skip
    blended = pl.DataFrame(
        {
            "segment": ["all", "smb", "enterprise"],
            "spend": [1000.0, 600.0, 400.0],
            "breach": [False, True, False],
            "guardrail_share": [0.1, None, 0.05],
            "ltv_to_cac": [9.0, None, 12.0],
            "payback_months": [4.0, None, 3.0],
            "payback_target_months": [18.0, 18.0, 24.0],
        }
    )
    view = _EconomicsView("linear", "linear", paid, blended, {"guardrail_limit": 0.3}, True)
    text = _guardrail(view)
    assert "By segment, over the line: <b>smb</b> (spend $600, no credited customer)." in text
    assert "at –" not in text
    pay = _payback(view)
    assert "smb: no credited customer (spend $600)" in pay
    assert "–×" not in pay
    assert "enterprise 12.0×, payback 3.0 months vs 24" in pay
