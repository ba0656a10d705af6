"""A deal counts once in the funnel's deal KPIs, and an account-level funnel counts accounts
(new-user report 8 #6: a HubSpot import writes a deal's events once per associated contact;
the funnel read 47 won of 118 closed deals as 82 of 207)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from attribution import funnel
from attribution.exceptions import ConfigError


def _at(day: int) -> datetime:
    return datetime(2025, 1, 1, tzinfo=UTC).replace(day=day)


def _stages() -> pl.DataFrame:
    """Deal o1 (won, 10,000) on contacts a1, a2 of account A; deal o2 (lost) on b1, b2, b3 of
    B; deal o3 (open) on c1 of C. Every contact was a lead first; HubSpot's lifecycle
    'opportunity' (no opportunity_id) echoes the deals on each contact; d1 has only a
    lifecycle opportunity (a deal of its own, no id)."""
    rows: list[tuple[str, str | None, str | None, str, int, float | None]] = []
    contacts = {"a1": ("A", "o1"), "a2": ("A", "o1"), "b1": ("B", "o2"), "b2": ("B", "o2"),
                "b3": ("B", "o2"), "c1": ("C", "o3"), "d1": ("D", None)}  # fmt: skip
    for i, (contact, (_, opp)) in enumerate(contacts.items()):
        rows.append((contact, None, None, "lead", 1 + i, None))
        rows.append((contact, None, None, "opportunity", 10, None))  # the lifecycle echo
        if opp is not None:
            rows.append((contact, contacts[contact][0], opp, "opportunity", 10, None))
        if opp == "o1":
            rows.append((contact, "A", opp, "closed_won", 20, 10_000.0))
        if opp == "o2":
            rows.append((contact, "B", opp, "closed_lost", 18, 4_000.0))
    return pl.DataFrame(
        {
            "contact_id": [r[0] for r in rows],
            "account_id": [r[1] for r in rows],
            "opportunity_id": [r[2] for r in rows],
            "stage": [r[3] for r in rows],
            "timestamp": [_at(r[4]) for r in rows],
            "value": [r[5] for r in rows],
        }
    )


CONTACTS = pl.DataFrame(
    {
        "contact_id": ["a1", "a2", "b1", "b2", "b3", "c1", "d1"],
        "account_id": ["A", "A", "B", "B", "B", "C", "D"],
    }
)


def _kpi(flow, kpi: str) -> dict:  # type: ignore[no-untyped-def]
    return flow.kpis.filter((pl.col("dimension") == "all") & (pl.col("kpi") == kpi)).row(
        0, named=True
    )


def test_contact_level_deal_kpis_count_each_deal_once() -> None:
    flow = funnel(_stages())
    assert flow.parameters["key"] == "contact_id"
    # the step rates count contacts: 7 reached opportunity (lifecycle), 2 of them won
    opp = flow.overall().filter(pl.col("from_stage") == "opportunity").row(0, named=True)
    assert (opp["entered"], opp["advanced"]) == (7, 2)
    # the deal KPIs count deals: o1 won, o2 lost, o3 and d1's own open
    assert _kpi(flow, "win_rate")["value"] == pytest.approx(0.5)
    assert _kpi(flow, "win_rate")["detail"].startswith("1 won of 2 closed deals")
    assert _kpi(flow, "average_deal_size")["value"] == pytest.approx(10_000.0)
    overall = flow.velocity.filter(pl.col("dimension") == "all").row(0, named=True)
    assert (overall["opportunities_total"], overall["won"], overall["lost"]) == (4, 1, 1)
    assert flow.counts["deals"] == 4
    assert flow.counts["deals_on_several_entities"] == 2
    assert "Deals counted once: 2 of 4 deals have events on several contacts" in flow.summary()
    assert flow.summary().startswith("Funnel of contacts")


def test_customer_concentration_counts_a_deal_once() -> None:
    flow = funnel(_stages(), top_customers=1)
    row = _kpi(flow, "customer_concentration")
    assert row["detail"] == "top 1 of 1 customers"
    assert row["value"] == pytest.approx(1.0)


def test_account_level_counts_accounts() -> None:
    stages = _stages().drop("account_id")  # the contacts table gives each contact's account
    flow = funnel(stages, contacts=CONTACTS, level="account")
    assert flow.parameters["key"] == "account_id"
    assert flow.counts["entities"] == 4
    opp = flow.overall().filter(pl.col("from_stage") == "opportunity").row(0, named=True)
    assert (opp["entered"], opp["advanced"]) == (4, 1)
    assert _kpi(flow, "win_rate")["detail"].startswith("1 won of 2 closed deals")
    assert flow.counts["deals_on_several_entities"] == 0
    assert flow.summary().startswith("Funnel of accounts")


def test_account_level_sourced_channel_is_the_accounts_first_touch() -> None:
    touches = pl.DataFrame(
        {
            "touch_id": ["t1", "t2"],
            "contact_id": ["a2", "a1"],
            "channel": ["webinar", "linkedin"],
            "timestamp": [_at(2), _at(3)],
        }
    )
    flow = funnel(_stages(), touches, contacts=CONTACTS, level="account")
    channels = flow.velocity.filter(pl.col("dimension") == "channel")
    assert channels.filter(pl.col("group") == "webinar").row(0, named=True)["won"] == 1
    assert "linkedin" not in channels.get_column("group").to_list()
    # the marketing shares are of deals: 4, not 7 contacts; A's deal is sourced by a touch
    assert _kpi(flow, "marketing_sourced_share")["detail"] == "1 of 4 opportunities"


def test_contact_level_marketing_shares_are_of_deals() -> None:
    touches = pl.DataFrame(
        {"touch_id": ["t1"], "contact_id": ["b3"], "channel": ["webinar"], "timestamp": [_at(2)]}
    )
    flow = funnel(_stages(), touches)
    # o2's first touch is b3's (b1, its primary contact, has none): sourced and influenced
    assert _kpi(flow, "marketing_sourced_share")["detail"] == "1 of 4 opportunities"
    assert _kpi(flow, "marketing_influenced_share")["detail"] == "1 of 4 opportunities"
    lost = flow.velocity.filter((pl.col("dimension") == "channel") & (pl.col("group") == "webinar"))
    assert lost.row(0, named=True)["lost"] == 1


def test_account_level_without_accounts_is_an_error() -> None:
    with pytest.raises(ConfigError, match="account-level funnel needs"):
        funnel(_stages().drop("account_id"), level="account")
    with pytest.raises(ConfigError, match="level must be one of"):
        funnel(_stages(), level="opportunity")


def test_one_contact_per_deal_is_unchanged() -> None:
    """Without shared deals the deal KPIs equal the entities' (no line in the summary)."""
    stages = _stages().filter(pl.col("contact_id").is_in(["a1", "b1", "c1"]))
    flow = funnel(stages)
    assert flow.counts["deals_on_several_entities"] == 0
    assert "Deals counted once" not in flow.summary()
    overall = flow.velocity.filter(pl.col("dimension") == "all").row(0, named=True)
    assert (overall["opportunities_total"], overall["won"], overall["lost"]) == (3, 1, 1)
