"""Tests of the seeded synthetic-data generator (attribution.datasets._synth)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from attribution.datasets import (
    DARK_CHANNELS,
    SALES_CHANNEL,
    STAGES,
    TRACKED_CHANNELS,
    SyntheticData,
    synthesize,
    write_synthetic,
)

TABLES = ("accounts", "contacts", "touches", "stages", "spend", "surveys", "subscriptions")
SALES_TYPES = {"sales_call", "sales_email", "meeting"}
UTC_US = pl.Datetime("us", "UTC")
SCHEMAS = {
    "accounts": {
        "account_id": pl.String,
        "name": pl.String,
        "industry": pl.String,
        "metro": pl.String,
        "region": pl.String,
        "employees": pl.Int64,
        "segment": pl.String,
    },
    "contacts": {
        "contact_id": pl.String,
        "account_id": pl.String,
        "role": pl.String,
        "title": pl.String,
    },
    "touches": {
        "touch_id": pl.String,
        "contact_id": pl.String,
        "account_id": pl.String,
        "timestamp": UTC_US,
        "channel": pl.String,
        "campaign": pl.String,
        "touch_type": pl.String,
        "utm_source": pl.String,
        "utm_medium": pl.String,
        "cost": pl.Float64,
        "owner_team": pl.String,
    },
    "stages": {
        "contact_id": pl.String,
        "account_id": pl.String,
        "opportunity_id": pl.String,
        "stage": pl.String,
        "timestamp": UTC_US,
        "value": pl.Float64,
    },
    "spend": {
        "month": pl.Date,
        "channel": pl.String,
        "campaign": pl.String,
        "amount": pl.Float64,
    },
    "surveys": {
        "contact_id": pl.String,
        "account_id": pl.String,
        "opportunity_id": pl.String,
        "timestamp": UTC_US,
        "response": pl.String,
        "channel": pl.String,
    },
    "subscriptions": {"account_id": pl.String, "month": pl.Date, "mrr": pl.Float64},
}


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    # Spans several 36,000-touch blocks, so block seams are exercised too.
    return synthesize(120_000, seed=11)


@pytest.fixture(scope="module")
def big() -> SyntheticData:
    return synthesize(240_000, seed=5, shuffle=False)


def _assert_same(a: SyntheticData, b: SyntheticData) -> None:
    for name in TABLES:
        assert_frame_equal(getattr(a, name), getattr(b, name))
    assert a.truth == b.truth


# --- determinism ---
def test_same_seed_gives_equal_data() -> None:
    _assert_same(synthesize(40_000, seed=3), synthesize(40_000, seed=3))


def test_different_seed_gives_different_data() -> None:
    a, b = synthesize(40_000, seed=3), synthesize(40_000, seed=4)
    assert not a.touches.equals(b.touches)
    assert not a.stages.equals(b.stages)
    assert a.truth["incremental_share"] != b.truth["incremental_share"]


@pytest.mark.parametrize("n", [1, 7, 35_999, 36_000, 36_001, 100_003])
def test_exact_number_of_touches(n: int) -> None:
    d = synthesize(n, seed=1)
    marketing = d.touches.filter(pl.col("channel") != SALES_CHANNEL).height
    assert marketing == n
    assert d.truth["counts"]["marketing_touches"] == n
    assert d.truth["counts"]["touches"] == d.touches.height
    assert d.contacts.height >= 1
    assert d.accounts.height >= 1


# --- schemas and keys ---
@pytest.mark.parametrize("name", TABLES)
def test_schema(data: SyntheticData, name: str) -> None:
    frame = getattr(data, name)
    assert dict(frame.schema) == SCHEMAS[name]
    assert frame.height > 0


def test_ids_unique_and_formatted(data: SyntheticData) -> None:
    assert data.touches["touch_id"].is_unique().all()
    assert data.contacts["contact_id"].is_unique().all()
    assert data.accounts["account_id"].is_unique().all()
    assert data.accounts["account_id"].str.contains(r"^A\d{7}$").all()
    assert data.contacts["contact_id"].str.contains(r"^C\d{8}$").all()
    assert data.touches["touch_id"].str.contains(r"^T\d{10}$").all()
    assert data.touches.null_count().row(0, named=True) == {
        **{c: 0 for c in SCHEMAS["touches"]},
        "account_id": data.touches["account_id"].null_count(),
        "owner_team": data.touches["owner_team"].null_count(),
    }


def test_no_duplicate_touch_rows(data: SyntheticData) -> None:
    assert data.touches.drop("touch_id").is_duplicated().sum() == 0


def test_every_touch_has_its_contact_and_account(data: SyntheticData) -> None:
    joined = data.touches.join(
        data.contacts.select("contact_id", contact_account="account_id"),
        on="contact_id",
        how="left",
    )
    assert joined.height == data.touches.height
    assert joined["contact_account"].null_count() == data.touches["account_id"].null_count()
    same = joined.filter(pl.col("account_id").is_not_null())
    assert (same["account_id"] == same["contact_account"]).all()
    assert set(data.contacts["account_id"].drop_nulls()) <= set(data.accounts["account_id"])
    assert set(data.contacts["contact_id"]) == set(data.touches["contact_id"])


def test_contacts_per_account_and_orphans(data: SyntheticData) -> None:
    orphans = data.contacts["account_id"].null_count() / data.contacts.height
    assert 0.005 < orphans < 0.02
    per_account = data.contacts.height / data.accounts.height
    assert 2.7 < per_account < 3.3
    assert data.touches["account_id"].null_count() > 0
    assert set(data.contacts["role"]) == {
        "decision_maker",
        "champion",
        "influencer",
        "user",
        "finance",
        "unknown",
    }
    assert set(data.accounts["segment"]) == {"smb", "mid_market", "enterprise"}


def test_touches_per_contact_average_six(data: SyntheticData) -> None:
    marketing = data.touches.filter(pl.col("channel") != SALES_CHANNEL).height
    per_contact = marketing / data.contacts.height
    assert 5.8 < per_contact < 6.2
    # the sales follow-up on top: one to a few touches per MQL
    sales = data.touches.height - marketing
    mqls = data.stages.filter(pl.col("stage") == "mql").height
    assert 1.2 < sales / mqls < 3.0


# --- touches ---
def test_channels_are_exactly_the_tracked_ones(data: SyntheticData) -> None:
    assert set(data.touches["channel"]) == {*TRACKED_CHANNELS, SALES_CHANNEL}
    assert not set(data.touches["channel"]) & set(DARK_CHANNELS)


def test_utm_consistent_with_channel(data: SyntheticData) -> None:
    pairs = data.touches.select("channel", "utm_source", "utm_medium").unique()
    by_channel = {
        ch: set(zip(g["utm_source"], g["utm_medium"], strict=True))
        for (ch,), g in pairs.group_by("channel")
    }
    assert by_channel["linkedin"] == {("linkedin", "paid_social")}
    assert by_channel["google_ads"] == {("google", "cpc")}
    assert by_channel["g2_capterra"] == {("g2", "review"), ("capterra", "review")}
    assert by_channel["partner_referral"] == {("partner", "referral")}
    assert by_channel["direct"] == {("(direct)", "(none)")}
    assert by_channel["organic_search"] == {("google", "organic"), ("bing", "organic")}
    assert by_channel["outbound"] == {("outreach", "outbound"), ("apollo", "outbound")}
    assert by_channel[SALES_CHANNEL] == {("crm", "sales")}
    assert by_channel["email"] <= {("newsletter", "email"), ("hubspot", "email")}
    # a (source, medium) pair never belongs to two channels
    assert pairs.select("utm_source", "utm_medium").is_duplicated().sum() == 0


def test_cost_only_on_paid_channels(data: SyntheticData) -> None:
    cost = data.touches.group_by("channel").agg(total=pl.col("cost").sum())
    totals = dict(zip(cost["channel"], cost["total"], strict=True))
    assert (data.touches["cost"] >= 0).all()
    for ch in ("organic_search", "direct", "email", "webinar", "events", SALES_CHANNEL):
        assert totals[ch] == 0
    for ch in (
        "linkedin", "google_ads", "partner_referral", "g2_capterra", "direct_mail", "outbound"
    ):
        assert totals[ch] > 0


def test_shuffle_false_sorts_by_time_and_keeps_rows(big: SyntheticData) -> None:
    assert big.touches["timestamp"].is_sorted()
    shuffled = synthesize(240_000, seed=5, shuffle=True).touches
    assert not shuffled["timestamp"].is_sorted()
    assert_frame_equal(shuffled.sort("touch_id"), big.touches.sort("touch_id"))


def test_everything_inside_the_window(data: SyntheticData) -> None:
    lo = datetime(2025, 1, 1, tzinfo=UTC)
    hi = lo + timedelta(days=365)
    for name in ("touches", "stages", "surveys"):
        ts = getattr(data, name)["timestamp"]
        assert ts.min() >= lo, name  # type: ignore[operator]
        assert ts.max() < hi, name  # type: ignore[operator]


def test_start_and_days_move_the_window() -> None:
    d = synthesize(20_000, seed=2, start="2024-07-15T00:00:00+02:00", days=90)
    lo = datetime(2024, 7, 14, 22, tzinfo=UTC)
    assert d.touches["timestamp"].min() >= lo  # type: ignore[operator]
    assert d.stages["timestamp"].max() < lo + timedelta(days=90)  # type: ignore[operator]
    assert d.spend["month"].min() == date(2024, 7, 1)
    assert d.spend["month"].max() == date(2024, 10, 1)


# --- stages ---
def test_stage_values(data: SyntheticData) -> None:
    st = data.stages
    assert set(st["stage"]) == set(STAGES)
    early = st.filter(pl.col("stage").is_in(["lead", "mql", "sql"]))
    late = st.filter(~pl.col("stage").is_in(["lead", "mql", "sql"]))
    assert early["opportunity_id"].null_count() == early.height
    assert early["value"].null_count() == early.height
    assert late["opportunity_id"].null_count() == 0
    assert late["value"].null_count() == 0
    assert (late["value"] > 0).all()
    assert st.select("contact_id", "stage").is_duplicated().sum() == 0


def test_stage_order_is_monotone_and_nested(data: SyntheticData) -> None:
    rank = {s: i for i, s in enumerate(STAGES)}
    st = data.stages.with_columns(
        rank=pl.col("stage").replace_strict(rank, return_dtype=pl.Int8)
    ).sort("contact_id", "rank")
    check = st.group_by("contact_id").agg(
        increasing=pl.col("timestamp").diff().drop_nulls().min() > timedelta(0),
        n=pl.len(),
        top=pl.col("rank").max(),
        ranks=pl.col("rank").sum(),
        won_and_lost=pl.col("stage").is_in(["closed_won"]).any()
        & pl.col("stage").is_in(["closed_lost"]).any(),
    )
    assert check["increasing"].fill_null(True).all()
    assert not check["won_and_lost"].any()
    # nested: reaching stage k means every earlier stage (lost skips won)
    nested = check.with_columns(
        expected=pl.when(pl.col("top") == 5)
        .then(pl.lit(0 + 1 + 2 + 3 + 5))
        .otherwise(pl.col("top") * (pl.col("top") + 1) // 2)
    )
    assert (nested["ranks"] == nested["expected"]).all()
    assert set(data.stages["contact_id"]) <= set(data.contacts["contact_id"])


def test_funnel_rates(big: SyntheticData) -> None:
    counts = big.stages["stage"].value_counts()
    c = dict(zip(counts["stage"], counts["count"], strict=True))
    # STEP_SPLIT at the default conversion_rate 0.04: about 66%, 56%, 62%, 21%
    assert 0.55 <= c["mql"] / c["lead"] <= 0.75
    assert 0.45 <= c["sql"] / c["mql"] <= 0.70
    assert 0.50 <= c["opportunity"] / c["sql"] <= 0.75
    assert 0.15 <= c["closed_won"] / c["opportunity"] <= 0.30


@pytest.mark.parametrize(("n", "rate"), [(240_000, 0.04), (90_000, 0.10)])
def test_conversion_rate_near_requested(n: int, rate: float, big: SyntheticData) -> None:
    d = big if (n, rate) == (240_000, 0.04) else synthesize(n, seed=9, conversion_rate=rate)
    won = d.stages.filter(pl.col("stage") == "closed_won").height
    realised = won / d.contacts.height
    assert realised == pytest.approx(rate, rel=0.12)
    assert d.truth["expected"]["closed_won"] / d.contacts.height == pytest.approx(rate, rel=0.05)


def test_converting_journeys_precede_closed_won(big: SyntheticData) -> None:
    won = big.stages.filter(pl.col("stage") == "closed_won").select("contact_id", won="timestamp")
    lead = big.stages.filter(pl.col("stage") == "lead").select("contact_id", lead="timestamp")
    opp = big.stages.filter(pl.col("stage") == "opportunity").select("contact_id", opp="timestamp")
    per = (
        big.touches.join(won, on="contact_id")
        .join(lead, on="contact_id")
        .join(opp, on="contact_id")
        .group_by("contact_id")
        .agg(
            last=pl.col("timestamp").max(),
            won=pl.col("won").first(),
            after_lead=(pl.col("timestamp") > pl.col("lead")).any(),
            after_opp=(pl.col("timestamp") > pl.col("opp")).any(),
        )
    )
    assert (per["last"] < per["won"]).all()
    recent = (per["won"] - per["last"]) <= timedelta(days=90)
    assert recent.mean() > 0.9  # type: ignore[operator]
    # milestone touches matter: touches go on after lead and opportunity creation
    assert per["after_lead"].mean() > 0.8  # type: ignore[operator]
    assert per["after_opp"].mean() > 0.3  # type: ignore[operator]


def test_deal_amounts_by_segment(big: SyntheticData) -> None:
    won = (
        big.stages.filter(pl.col("stage") == "closed_won")
        .join(big.accounts.select("account_id", "segment"), on="account_id")
        .group_by("segment")
        .agg(pl.col("value").median())
    )
    median = dict(zip(won["segment"], won["value"], strict=True))
    # ARR = 12 x MRR: SMB ~$100 a month, mid-market ~$600, enterprise ~$2,500
    assert 900 <= median["smb"] <= 1_600
    assert 5_000 <= median["mid_market"] <= 10_000
    assert 20_000 <= median["enterprise"] <= 45_000
    values = big.stages.get_column("value").drop_nulls()
    assert (values % 60 == 0).all()  # 12 x an MRR in whole $5


# --- truth ---
def test_truth_shares(data: SyntheticData) -> None:
    truth = data.truth
    json.dumps(truth)  # serialisable
    shares = truth["incremental_share"]
    assert set(shares) == {*TRACKED_CHANNELS, SALES_CHANNEL}
    assert shares[SALES_CHANNEL] == 0.0  # follow-up after the MQL causes nothing
    assert set(truth["calibration"]["segment_effect"]) == {"smb", "mid_market", "enterprise"}
    assert "segment_effect" in truth["model"]
    assert all(v >= 0 for v in shares.values())
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-12)
    every = [v["share_incl_dark"] for v in truth["channels"].values()] + [
        v["share_incl_dark"] for v in truth["dark_funnel"]["channels"].values()
    ]
    assert sum(every) == pytest.approx(1.0, abs=1e-12)
    assert set(truth["dark_funnel"]["channels"]) == set(DARK_CHANNELS)
    assert 0 < truth["dark_funnel"]["dark_share"] < 0.5
    assert isinstance(truth["method"], str)
    assert "removed" in truth["method"]
    for ch in TRACKED_CHANNELS:
        assert truth["channels"][ch]["lift"] >= 0


def test_truth_encodes_incremental_vs_intent_channels(data: SyntheticData) -> None:
    shares = data.truth["incremental_share"]
    touches = data.touches["channel"].value_counts(normalize=True)
    touch_share = dict(zip(touches["channel"], touches["proportion"], strict=True))
    # rare but incremental channels get far more true credit than their touch share...
    assert shares["partner_referral"] > 3 * touch_share["partner_referral"]
    assert shares["g2_capterra"] > 2 * touch_share["g2_capterra"]
    # ...while intent-capturing channels get far less
    assert shares["direct"] < 0.3 * touch_share["direct"]
    assert shares["organic_search"] < 0.5 * touch_share["organic_search"]


def test_truth_counts_match_tables(data: SyntheticData) -> None:
    counts = data.truth["counts"]
    assert counts["accounts"] == data.accounts.height
    assert counts["contacts"] == data.contacts.height
    assert counts["surveys"] == data.surveys.height
    stage_counts = data.stages["stage"].value_counts()
    assert counts["stages"] == dict(zip(stage_counts["stage"], stage_counts["count"], strict=True))
    by_channel = data.touches["channel"].value_counts()
    for ch, n in zip(by_channel["channel"], by_channel["count"], strict=True):
        assert data.truth["channels"][ch]["touches"] == n


# --- the sample world's story: partner MQLs, sales follow-up, regions, subscriptions ---
def _first_channel(d: SyntheticData) -> pl.DataFrame:
    return (
        d.touches.filter(pl.col("channel") != SALES_CHANNEL)
        .sort("timestamp")
        .group_by("contact_id")
        .agg(first=pl.col("channel").first())
    )


def test_partner_sourced_mqls_reach_opportunity_far_more_often(big: SyntheticData) -> None:
    reached = big.stages.pivot(on="stage", index="contact_id", values="timestamp").join(
        _first_channel(big), on="contact_id"
    )
    mql = reached.filter(pl.col("mql").is_not_null())
    rate = mql.group_by(pl.col("first") == "partner_referral").agg(
        rate=pl.col("opportunity").is_not_null().mean(),
        sql=pl.col("sql").is_not_null().mean(),
        n=pl.len(),
    )
    by = {r["first"]: r for r in rate.iter_rows(named=True)}
    assert 0.55 <= by[True]["rate"] <= 0.75  # PARTNER_MQL_TO_OPP = 0.65
    assert by[False]["rate"] < 0.45
    assert by[True]["sql"] >= by[True]["rate"]  # still nested: every opportunity was an SQL
    assert by[True]["n"] > 200


def test_sales_touches_follow_the_mql(big: SyntheticData) -> None:
    t = big.touches
    sales = t.filter(pl.col("channel") == SALES_CHANNEL)
    assert set(sales["touch_type"]) == SALES_TYPES
    assert not set(t.filter(pl.col("channel") != SALES_CHANNEL)["touch_type"]) & SALES_TYPES
    assert set(sales["owner_team"]) == {
        "sdr_east", "sdr_central", "sdr_west", "ae_smb", "ae_mid_market", "ae_enterprise"
    }  # fmt: skip
    assert (sales["cost"] == 0).all()
    assert (sales["campaign"] == "(sales)").all()
    # marketing touches have no owner, except the SDRs' outbound prospecting
    owned = t.filter(pl.col("owner_team").is_not_null() & (pl.col("channel") != SALES_CHANNEL))
    assert set(owned["channel"]) == {"outbound"}
    assert set(owned["owner_team"]) == {"sdr_east", "sdr_central", "sdr_west"}
    assert t.filter(pl.col("channel") == "outbound")["owner_team"].null_count() == 0
    # every sales touch is after the contact's MQL and before its close
    st = big.stages.pivot(on="stage", index="contact_id", values="timestamp")
    joined = sales.join(st, on="contact_id", how="left")
    assert joined["mql"].null_count() == 0
    assert (joined["timestamp"] > joined["mql"]).all()
    closed = joined.filter(pl.col("closed_won").is_not_null() | pl.col("closed_lost").is_not_null())
    assert closed.select(
        (pl.col("timestamp") < pl.coalesce("closed_won", "closed_lost")).all()
    ).item()
    # speed to lead: most MQLs answered within a day, some after several days, a few never
    first = sales.group_by("contact_id").agg(
        pl.col("timestamp").min(), pl.col("owner_team").sort_by("timestamp").first()
    )
    lag = first.join(st.select("contact_id", "mql"), on="contact_id").with_columns(
        hours=(pl.col("timestamp") - pl.col("mql")).dt.total_seconds() / 3600
    )
    assert 0.55 < (lag["hours"] <= 24).mean() < 0.9  # type: ignore[operator]
    assert (lag["hours"] > 72).mean() > 0.03  # type: ignore[operator]
    median = dict(lag.group_by("owner_team").agg(pl.col("hours").median()).iter_rows())
    assert median["sdr_east"] < median["sdr_central"] < median["sdr_west"]
    assert 0.9 < lag.height / st["mql"].drop_nulls().len() < 1.0


def test_segments_regions_and_sales_owners(big: SyntheticData) -> None:
    acc = big.accounts
    share = dict(acc["segment"].value_counts(normalize=True).iter_rows())
    assert share["smb"] > 0.65
    assert share["enterprise"] < 0.1
    assert set(acc["region"]) == {"east", "central", "west"}
    assert acc.select("metro", "region").unique()["metro"].is_unique().all()
    ae = (
        big.touches.filter(pl.col("owner_team").str.starts_with("ae_"))
        .join(acc.select("account_id", "segment"), on="account_id")
        .select((pl.col("owner_team") == pl.lit("ae_") + pl.col("segment")).all())
        .item()
    )
    assert ae


def test_subscriptions(big: SyntheticData) -> None:
    sub = big.subscriptions
    assert (sub["month"].dt.day() == 1).all()
    assert (sub["mrr"] > 0).all()
    assert sub.select("account_id", "month").is_duplicated().sum() == 0
    assert set(sub["account_id"]) <= set(big.accounts["account_id"])
    assert sub["month"].max() == date(2025, 12, 1)
    assert sub["month"].min() == date(2023, 1, 1)  # the base of customers before the window
    # every won deal of an account starts its revenue in its close month at MRR = ARR / 12
    won = (
        big.stages.filter((pl.col("stage") == "closed_won") & pl.col("account_id").is_not_null())
        .with_columns(month=pl.col("timestamp").dt.date().dt.month_start())
        .group_by("account_id")
        .agg(pl.col("month").min(), (pl.col("value") / 12).sort_by("timestamp").first())
    )
    started = won.join(sub, on=["account_id", "month"], how="left")
    assert started["mrr"].null_count() == 0
    assert (started["mrr"] >= started["value"] - 1e-6).all()
    # rows are consecutive months until churn: no gaps within an account's subscription
    span = sub.group_by("account_id").agg(
        n=pl.len(),
        months=(pl.col("month").max().dt.year() * 12 + pl.col("month").max().dt.month())
        - (pl.col("month").min().dt.year() * 12 + pl.col("month").min().dt.month())
        + 1,
    )
    assert (span["n"] <= span["months"]).all()
    assert (span["n"] == span["months"]).mean() > 0.97  # type: ignore[operator]
    # net revenue retention over 2025 of the customers of December 2024, by segment
    seg = big.accounts.select("account_id", "segment")
    start = sub.filter(pl.col("month") == date(2024, 12, 1)).join(seg, on="account_id")
    end = sub.filter(pl.col("month") == date(2025, 12, 1)).select("account_id", end="mrr")
    nrr = (
        start.join(end, on="account_id", how="left")
        .group_by("segment")
        .agg(
            nrr=pl.col("end").fill_null(0).sum() / pl.col("mrr").sum(),
            churn=pl.col("end").is_null().mean(),
        )
    )
    by = {r["segment"]: r for r in nrr.iter_rows(named=True)}
    assert 0.30 < by["smb"]["churn"] < 0.50
    assert by["enterprise"]["churn"] < 0.2
    assert 0.85 < by["smb"]["nrr"] < 1.15
    assert 0.95 < by["mid_market"]["nrr"] < 1.30
    assert 1.0 < by["enterprise"]["nrr"] < 1.45


# --- spend and surveys ---
def test_spend_calibrated_and_proportional() -> None:
    small = synthesize(90_000, seed=7).spend  # 5,000 accounts: the design's company
    total = small["amount"].sum()
    assert 600_000 < total < 750_000
    by = small.group_by("channel").agg(pl.col("amount").sum())
    amount = dict(zip(by["channel"], by["amount"], strict=True))
    assert 215_000 < amount["linkedin"] < 265_000
    assert 85_000 < amount["google_ads"] < 115_000
    assert 130_000 < amount["outbound"] < 170_000
    assert set(amount) == {
        "linkedin",
        "google_ads",
        "partner_referral",
        "g2_capterra",
        "direct_mail",
        "industry_publications",
        "events",
        "webinar",
        "email",
        "outbound",
    }
    assert (small["month"].dt.day() == 1).all()
    assert small["month"].n_unique() == 12
    assert (small["amount"] >= 0).all()
    assert small["campaign"].null_count() > 0
    double = synthesize(180_000, seed=7).spend["amount"].sum()
    assert double / total == pytest.approx(2.0, rel=0.05)


def test_surveys(big: SyntheticData) -> None:
    sv = big.surveys
    won = set(big.stages.filter(pl.col("stage") == "closed_won")["contact_id"])
    answered_won = len(won & set(sv["contact_id"])) / len(won)
    assert 0.6 < answered_won < 0.8
    assert sv["contact_id"].is_unique().all()
    null_share = sv["channel"].null_count() / sv.height
    assert 0.3 < null_share < 0.5
    allowed = {*TRACKED_CHANNELS, *DARK_CHANNELS, "other"}
    assert set(sv["channel"].drop_nulls()) <= allowed
    assert set(sv["channel"].drop_nulls()) & set(DARK_CHANNELS)
    # free text and/or a pick-list value, never neither
    assert 0 < sv["response"].null_count() < 0.1 * sv.height
    assert sv.filter(pl.col("response").is_null() & pl.col("channel").is_null()).height == 0
    text = sv["response"].drop_nulls()
    assert text.str.contains("(?i)podcast").any()
    assert text.str.contains("(?i)broker").any()
    assert (text != text.str.to_lowercase()).any()
    assert (text == text.str.to_lowercase()).any()
    assert text.n_unique() > 60
    # every answer belongs to an opportunity of the same contact
    opps = big.stages.filter(pl.col("stage") == "opportunity").select(
        "contact_id", "opportunity_id"
    )
    assert sv.join(opps, on=["contact_id", "opportunity_id"]).height == sv.height


# --- writing ---
def _read(paths: dict[str, Path]) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(paths[name]) for name in TABLES}


def test_write_synthetic_is_byte_identical_and_matches_synthesize(tmp_path: Path) -> None:
    a = write_synthetic(tmp_path / "a", 50_000, seed=4)
    b = write_synthetic(tmp_path / "b", 50_000, seed=4)
    assert sorted(a) == sorted([*TABLES, "truth"])
    for name in a:
        assert a[name].read_bytes() == b[name].read_bytes(), name
    mem = synthesize(50_000, seed=4)
    for name, frame in _read(a).items():
        assert_frame_equal(frame, getattr(mem, name))
    assert json.loads(a["truth"].read_text()) == mem.truth
    # nothing but the seven files: temporaries were renamed or removed
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(
        [f"{t}.parquet" for t in TABLES] + ["truth.json"]
    )


def test_chunking_does_not_change_the_rows(tmp_path: Path) -> None:
    one = write_synthetic(tmp_path / "one", 80_000, seed=6, chunk_touches=10_000_000)
    many = write_synthetic(tmp_path / "many", 80_000, seed=6, chunk_touches=1)
    for name in TABLES:
        x, y = pl.read_parquet(one[name]), pl.read_parquet(many[name])
        assert_frame_equal(x.sort(x.columns, nulls_last=True), y.sort(y.columns, nulls_last=True))
    assert one["truth"].read_text() == many["truth"].read_text()
    # chunked output is itself deterministic
    again = write_synthetic(tmp_path / "again", 80_000, seed=6, chunk_touches=1)
    assert again["touches"].read_bytes() == many["touches"].read_bytes()


def test_write_csv(tmp_path: Path) -> None:
    paths = write_synthetic(tmp_path, 5_000, seed=2, fmt="csv", chunk_touches=1)
    mem = synthesize(5_000, seed=2)
    touches = pl.read_csv(paths["touches"], try_parse_dates=True)
    assert touches.height == mem.touches.height
    assert touches.filter(pl.col("channel") != SALES_CHANNEL).height == 5_000
    assert set(touches["touch_id"]) == set(mem.touches["touch_id"])
    assert paths["truth"].name == "truth.json"


def test_write_overwrites_existing_files(tmp_path: Path) -> None:
    write_synthetic(tmp_path, 3_000, seed=1)
    paths = write_synthetic(tmp_path, 4_000, seed=1)
    touches = pl.read_parquet(paths["touches"])
    assert touches.filter(pl.col("channel") != SALES_CHANNEL).height == 4_000


# --- arguments ---
@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_touches": 0},
        {"n_touches": -5},
        {"n_touches": 1.5},
        {"n_touches": 10, "seed": -1},
        {"n_touches": 10, "conversion_rate": 0.0},
        {"n_touches": 10, "conversion_rate": 0.9},
        {"n_touches": 10, "days": 7},
        {"n_touches": 10, "start": "yesterday"},
    ],
)
def test_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must|ISO"):
        synthesize(**kwargs)  # type: ignore[arg-type]


def test_write_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="unexpected keyword"):
        write_synthetic(tmp_path, 10, conversion=0.1)
    with pytest.raises(ValueError, match="fmt"):
        write_synthetic(tmp_path, 10, fmt="json")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chunk_touches"):
        write_synthetic(tmp_path, 10, chunk_touches=0)
    assert not any(tmp_path.iterdir())
