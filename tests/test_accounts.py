"""Account level (b2b.md): contact scopes, buying-committee weighting, the account view,
per-deal credit and sourced vs influenced pipeline, on hand-built accounts.

The main fixture, one account A with two opportunities (days after the conftest origin)::

    contacts  a1 decision_maker, a2 champion, a3 user, a4 (no role)   account A
              b1 champion, b2 finance                                 account B
              x1                                                      no account
    touches   t1 a1 linkedin 0   t2 a2 email 5   t3 a4 webinar 10     (before O1 is created)
              t4 a1 events 25    t5 a3 google_ads 28                  (after O1 is created)
              t9 a3 direct 33                                         (before O2 is created)
              t8 a3 partner_referral 40                               (after O2 is created)
              t6 x1 direct 5 (no account)   t7 b1 g2_capterra 3 (B never converts)
    stages    O1: a1 + a2 opportunity day 20 (1000), a1 closed_won day 30 (1200)
              O2: a3 opportunity day 35 (500),         a3 closed_won day 45 (600)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest
from conftest import at
from polars.testing import assert_frame_equal

import attribution
from attribution.models._rules import DEFAULT_ROLE_MULTIPLIERS

TOL = 1e-12
RULES = ["linear", "position_based", "w_shaped", "time_decay", "first_touch", "last_touch"]
DATA = ["markov", "shapley", "counterfactual"]


def touches_frame(rows: Sequence[tuple[str, str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        [(tid, cid, ch, at(d)) for tid, cid, ch, d in rows],
        schema={
            "touch_id": pl.String,
            "contact_id": pl.String,
            "channel": pl.String,
            "timestamp": pl.Datetime("us", "UTC"),
        },
        orient="row",
    )


def stages_frame(
    rows: Sequence[tuple[str | None, str | None, str | None, str, float, float | None]],
) -> pl.DataFrame:
    """Rows: contact_id, account_id, opportunity_id, stage, day, value."""
    return pl.DataFrame(
        [(c, a, o, s, at(d), v) for c, a, o, s, d, v in rows],
        schema={
            "contact_id": pl.String,
            "account_id": pl.String,
            "opportunity_id": pl.String,
            "stage": pl.String,
            "timestamp": pl.Datetime("us", "UTC"),
            "value": pl.Float64,
        },
        orient="row",
    )


def contacts_frame(rows: Sequence[tuple[str, str | None, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"contact_id": pl.String, "account_id": pl.String, "role": pl.String},
        orient="row",
    )


@pytest.fixture
def committee() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    touches = touches_frame(
        [
            ("t1", "a1", "linkedin", 0),
            ("t2", "a2", "email", 5),
            ("t3", "a4", "webinar", 10),
            ("t4", "a1", "events", 25),
            ("t5", "a3", "google_ads", 28),
            ("t6", "x1", "direct", 5),
            ("t7", "b1", "g2_capterra", 3),
            ("t8", "a3", "partner_referral", 40),
            ("t9", "a3", "direct", 33),
        ]
    )
    stages = stages_frame(
        [
            ("a1", None, None, "lead", 1, None),
            ("a1", None, "O1", "opportunity", 20, 1000.0),
            ("a2", None, "O1", "opportunity", 20, 1000.0),
            ("a1", None, "O1", "closed_won", 30, 1200.0),
            ("a3", None, "O2", "opportunity", 35, 500.0),
            ("a3", None, "O2", "closed_won", 45, 600.0),
        ]
    )
    contacts = contacts_frame(
        [
            ("a1", "A", "decision_maker"),
            ("a2", "A", "Champion "),  # normalised like every role
            ("a3", "A", "user"),
            ("a4", "A", None),
            ("b1", "B", "champion"),
            ("b2", "B", "finance"),
            ("x1", None, None),
        ]
    )
    return touches, stages, contacts


def _run(data, models=("linear",), **kwargs) -> attribution.AttributionResult:
    touches, stages, contacts = data
    return attribution.attribute(
        touches, stages, contacts=contacts, models=list(models), level="account", **kwargs
    )


def _journeys(result) -> dict[str, list[str]]:
    """conversion_id -> its touch ids in time order (first model)."""
    tc = result.touch_credit.filter(pl.col("model") == pl.col("model").first())
    out: dict[str, list[str]] = {}
    for conv, tid in (
        tc.sort("conversion_id", "timestamp").select("conversion_id", "touch_id").rows()
    ):
        out.setdefault(conv, []).append(tid)
    return out


def _credits(result, model: str) -> dict[str, float]:
    tc = result.touch_credit.filter(pl.col("model") == model)
    return dict(tc.select("touch_id", "credit").iter_rows())


def _reconciles(rec: dict) -> bool:
    dropped = sum(rec["touches_dropped"].values())
    unattributed = rec["conversions_unattributed"] + rec["conversions_same_timestamp"]
    return (
        rec["touches_in"] == rec["touches_in_journeys"] + rec["touches_in_null_paths"] + dropped
        and rec["conversions"] == rec["conversions_attributed"] + unattributed
    )


# --------------------------------------------------------------------------- contact scopes
def test_account_scope_takes_every_contact(committee) -> None:
    result = _run(committee)
    assert _journeys(result) == {"A#1": ["t1", "t2", "t3", "t4", "t5"], "A#2": ["t9", "t8"]}
    rec = result.manifest["reconciliation"]
    assert rec["touches_dropped"] == {"missing_account_id": 1}  # t6: x1 has no account
    assert rec["touches_in_null_paths"] == 1  # t7: account B never converts
    assert "conversions_scope_fallback" not in rec
    assert _reconciles(rec)
    assert result.manifest["parameters"]["contact_scope"] == "account"
    assert result.manifest["parameters"]["lookback_seconds"] == 180 * 86400


def test_opportunity_roles_scope(committee) -> None:
    result = _run(committee, contact_scope="opportunity_roles")
    # O1's contacts are a1 and a2 (on its stage events); t5 (a3, day 28) is before A#1 but a3
    # is on O2 only, so it joins A#2; t3 (a4, on no opportunity) is dropped, and counted
    assert _journeys(result) == {"A#1": ["t1", "t2", "t4"], "A#2": ["t5", "t9", "t8"]}
    rec = result.manifest["reconciliation"]
    assert rec["touches_dropped"] == {"missing_account_id": 1, "outside_contact_scope": 1}
    assert rec["conversions_scope_fallback"] == 0
    assert result.conversions.get_column("scope_fallback").to_list() == [False, False]
    assert _reconciles(rec)


def test_primary_scope(committee) -> None:
    result = _run(committee, contact_scope="primary")
    # the closed_won events are a1's (O1) and a3's (O2)
    assert _journeys(result) == {"A#1": ["t1", "t4"], "A#2": ["t5", "t9", "t8"]}
    rec = result.manifest["reconciliation"]
    assert rec["touches_dropped"] == {"missing_account_id": 1, "outside_contact_scope": 2}
    assert _reconciles(rec)


@pytest.mark.parametrize("scope", ["opportunity_roles", "primary"])
def test_scope_falls_back_to_account_without_opportunity_or_contact(committee, scope) -> None:
    touches, _, contacts = committee
    # an account-keyed conversion: no contact on the event, no opportunity_id
    stages = stages_frame([(None, "A", None, "closed_won", 30, 100.0)])
    result = _run((touches, stages, contacts), contact_scope=scope)
    assert _journeys(result) == {"A#1": ["t1", "t2", "t3", "t4", "t5"]}
    rec = result.manifest["reconciliation"]
    assert rec["conversions_scope_fallback"] == 1
    assert "outside_contact_scope" not in rec["touches_dropped"]
    assert result.conversions.get_column("scope_fallback").to_list() == [True]
    assert _reconciles(rec)


def test_two_opportunities_closing_at_the_same_time_keep_their_own_contacts() -> None:
    touches = touches_frame([("t1", "a1", "linkedin", 1), ("t2", "a2", "email", 2)])
    stages = stages_frame(
        [
            ("a1", None, "O1", "closed_won", 10, 100.0),
            ("a2", None, "O2", "closed_won", 10, 200.0),
        ]
    )
    contacts = contacts_frame([("a1", "A", None), ("a2", "A", None)])
    data = (touches, stages, contacts)
    assert _journeys(_run(data, contact_scope="opportunity_roles")) == {
        "A#1": ["t1"],
        "A#2": ["t2"],
    }
    # at account scope, conversions sharing a time: the touches go to the first of them
    assert _journeys(_run(data)) == {"A#1": ["t1", "t2"]}


@pytest.mark.parametrize("scope", ["account", "opportunity_roles", "primary"])
def test_two_opportunities_no_touch_credited_twice(committee, scope) -> None:
    result = _run(committee, models=[*RULES, *DATA], contact_scope=scope)
    for _, part in result.touch_credit.group_by("model"):
        assert part.get_column("touch_id").is_unique().all()
    assert result.conversions.get_column("conversion_id").to_list() == ["A#1", "A#2"]
    assert result.conversions.get_column("opportunity_id").to_list() == ["O1", "O2"]


def test_scope_needs_account_level(committee) -> None:
    touches, stages, _ = committee
    with pytest.raises(attribution.InputError, match="level='account'"):
        attribution.attribute(touches, stages, models=["linear"], contact_scope="primary")
    with pytest.raises(attribution.InputError, match="contact_scope must be one of"):
        _run(committee, contact_scope="committee")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- role multipliers
def test_role_multipliers_linear_by_hand(committee) -> None:
    result = _run(committee, role_multipliers=DEFAULT_ROLE_MULTIPLIERS)
    # A#1: a1 decision maker 2, a2 champion 1.5, a4 unknown 1, a1 2, a3 user 0.5 (sum 7)
    expected = {"t1": 2 / 7, "t2": 1.5 / 7, "t3": 1 / 7, "t4": 2 / 7, "t5": 0.5 / 7}
    # A#2: both touches are a3's (user): the multiplier cancels out
    expected |= {"t9": 0.5, "t8": 0.5}
    assert _credits(result, "linear") == pytest.approx(expected, abs=TOL)
    assert result.manifest["parameters"]["role_multipliers"] == dict(DEFAULT_ROLE_MULTIPLIERS)


def test_role_multipliers_position_based_by_hand(committee) -> None:
    result = _run(committee, models=["position_based"], role_multipliers=DEFAULT_ROLE_MULTIPLIERS)
    middle = 0.2 / 3
    raw = {"t1": 0.4 * 2, "t2": middle * 1.5, "t3": middle * 1, "t4": middle * 2, "t5": 0.4 * 0.5}
    total = sum(raw.values())
    expected = {k: v / total for k, v in raw.items()} | {"t9": 0.5, "t8": 0.5}
    assert _credits(result, "position_based") == pytest.approx(expected, abs=TOL)


def test_role_multipliers_unlisted_roles_take_unknown(committee) -> None:
    result = _run(committee, role_multipliers={"Decision Maker": 3, "unknown": 0})
    credits = _credits(result, "linear")
    assert credits == pytest.approx(
        {"t1": 0.5, "t2": 0.0, "t3": 0.0, "t4": 0.5, "t5": 0.0, "t9": 0.0, "t8": 1.0}, abs=TOL
    )  # A#2 has only zero-weight (user) touches: all weights 0 -> its last touch


def test_role_multipliers_all_zero_fall_back_to_last_touch(committee) -> None:
    result = _run(committee, role_multipliers={"unknown": 0})
    credits = _credits(result, "linear")
    assert credits["t5"] == 1.0
    assert credits["t8"] == 1.0
    assert sum(credits.values()) == pytest.approx(2.0, abs=TOL)


def test_role_multipliers_first_touch_unchanged_and_data_models_noted(committee) -> None:
    base = _run(committee, models=["first_touch", "markov"])
    weighted = _run(
        committee, models=["first_touch", "markov"], role_multipliers=DEFAULT_ROLE_MULTIPLIERS
    )
    assert_frame_equal(weighted.touch_credit, base.touch_credit)
    assert any(
        n.startswith("markov: role_multipliers not applied") for n in weighted.manifest["notes"]
    )
    assert not any("role_multipliers" in n for n in base.manifest["notes"])


@pytest.mark.parametrize(
    ("multipliers", "match"),
    [
        ({"user": -1}, "finite number >= 0"),
        ({"user": math.inf}, "finite number >= 0"),
        ({"user": "lots"}, "finite number >= 0"),
    ],
)
def test_bad_role_multipliers(committee, multipliers, match) -> None:
    with pytest.raises(attribution.InputError, match=match):
        _run(committee, role_multipliers=multipliers)


def test_role_multipliers_need_account_level(committee) -> None:
    touches, stages, contacts = committee
    with pytest.raises(attribution.InputError, match="level='account'"):
        attribution.attribute(
            touches, stages, contacts=contacts, models=["linear"], role_multipliers={"user": 2}
        )


def test_contact_with_two_roles_is_an_error(committee) -> None:
    touches, stages, contacts = committee
    extra = contacts_frame([("a1", "A", "user"), ("a3", "A", "")])  # blank: no role, fine
    with pytest.raises(attribution.DuplicateKeyError, match="several roles") as info:
        _run((touches, stages, pl.concat([contacts, extra])))
    assert (info.value.table, info.value.rows) == ("contacts", [0, 7])


# --------------------------------------------------------------------------- sum to 1, >= 0
@pytest.mark.parametrize("scope", ["account", "opportunity_roles", "primary"])
@pytest.mark.parametrize("multipliers", [None, DEFAULT_ROLE_MULTIPLIERS, {"champion": 0.0}])
def test_credit_sums_to_one_never_negative(committee, scope, multipliers) -> None:
    result = _run(
        committee, models=[*RULES, *DATA], contact_scope=scope, role_multipliers=multipliers
    )
    tc = result.touch_credit
    assert tc.get_column("credit").min() >= 0
    sums = tc.group_by("model", "conversion_id").agg(pl.col("credit").sum())
    assert sums.height == len(RULES + DATA) * 2
    assert (sums.get_column("credit") - 1).abs().max() <= TOL
    ac = result.account_credit
    assert ac.get_column("credit").min() >= 0
    per_dim = ac.group_by("model", "conversion_id", "dimension").agg(pl.col("credit").sum())
    assert per_dim.height == len(RULES + DATA) * 2 * 3
    assert (per_dim.get_column("credit") - 1).abs().max() <= 1e-9
    assert _reconciles(result.manifest["reconciliation"])


# --------------------------------------------------------------------------- account credit
def test_account_credit_by_channel_contact_and_role(committee) -> None:
    result = _run(committee, role_multipliers=DEFAULT_ROLE_MULTIPLIERS)
    ac = result.account_credit.filter(pl.col("conversion_id") == "A#1")
    by = {
        (d, k): (c, v, n)
        for d, k, c, v, n in ac.select("dimension", "key", "credit", "value", "touches").rows()
    }
    assert by[("contact", "a1")] == pytest.approx((4 / 7, 4 / 7 * 1200, 2))
    assert by[("contact", "a4")] == pytest.approx((1 / 7, 1200 / 7, 1))
    assert by[("role", "decision_maker")] == pytest.approx((4 / 7, 4 / 7 * 1200, 2))
    assert by[("role", "unknown")] == pytest.approx((1 / 7, 1200 / 7, 1))
    assert by[("channel", "linkedin")] == pytest.approx((2 / 7, 2 / 7 * 1200, 1))
    roles = dict(ac.filter(pl.col("dimension") == "contact").select("key", "role").rows())
    assert roles == {"a1": "decision_maker", "a2": "champion", "a3": "user", "a4": "unknown"}
    assert set(ac.get_column("opportunity_id")) == {"O1"}
    assert set(ac.get_column("account_id")) == {"A"}


# --------------------------------------------------------------------------- coverage
def test_deal_coverage_in_conversions(committee) -> None:
    full = _run(committee).conversions
    assert full.get_column("contacts_in_journey").to_list() == [4, 1]
    assert full.get_column("roles_in_journey").to_list() == [
        ["champion", "decision_maker", "user"],
        ["user"],
    ]
    assert full.get_column("coverage").to_list() == ["3 of 4", "1 of 4"]
    scoped = _run(committee, contact_scope="opportunity_roles").conversions
    assert scoped.get_column("coverage").to_list() == ["2 of 4", "1 of 4"]


def test_account_view_coverage_and_contacts(committee) -> None:
    accounts = _run(committee).accounts
    assert accounts.get_column("account_id").to_list() == ["A", "B"]  # x1 has no account
    a, b = accounts.to_dicts()
    assert (a["contacts"], a["contacts_engaged"], a["touches"]) == (4, 4, 7)
    assert a["roles_engaged"] == ["champion", "decision_maker", "user"]
    assert (a["required_roles_covered"], a["coverage"], a["missing_roles"]) == (
        3,
        "3 of 4",
        ["finance"],
    )
    assert (a["conversions"], a["conversions_attributed"], a["conversion_value"]) == (2, 2, 1800.0)
    assert a["opportunity_ids"] == ["O1", "O2"]
    assert (b["contacts"], b["contacts_engaged"], b["coverage"]) == (2, 1, "1 of 4")
    assert b["missing_roles"] == ["decision_maker", "finance", "user"]
    assert (b["conversions"], b["conversion_value"], b["opportunity_ids"]) == (0, 0.0, [])


def test_required_roles_are_configurable(committee) -> None:
    result = _run(committee, required_roles=["Decision Maker", "finance"])
    a = result.accounts.row(0, named=True)
    assert (a["coverage"], a["missing_roles"]) == ("1 of 2", ["finance"])
    assert result.manifest["parameters"]["required_roles"] == ["decision_maker", "finance"]
    with pytest.raises(attribution.InputError, match="required_roles"):
        _run(committee, required_roles=[])


# --------------------------------------------------------------------------- pipeline
def test_sourced_and_influenced_by_hand(committee) -> None:
    result = _run(committee)
    deals = result.conversions.select(
        "conversion_id",
        "sourced_channel",
        "opportunity_created_at",
        "influencing_channels",
        "pipeline_value",
        "revenue",
    )
    expected = pl.DataFrame(
        {
            "conversion_id": ["A#1", "A#2"],
            "sourced_channel": ["linkedin", "direct"],
            "opportunity_created_at": [at(20), at(35)],
            # O1 created day 20: t1, t2, t3 touched before it; t4 and t5 after
            "influencing_channels": [["email", "linkedin", "webinar"], ["direct"]],
            "pipeline_value": [1000.0, 500.0],  # the opportunity amounts
            "revenue": [1200.0, 600.0],  # the closed-won values
        },
        schema_overrides={"opportunity_created_at": pl.Datetime("us", "UTC")},
    )
    assert_frame_equal(deals, expected)

    rows = {
        (m, c): (d, p, r, ps)
        for m, c, d, p, r, ps in result.pipeline.select(
            "measure", "channel", "deals", "pipeline", "revenue", "pipeline_share"
        ).rows()
    }
    assert rows == {
        ("sourced", "linkedin"): (1, 1000.0, 1200.0, pytest.approx(2 / 3)),
        ("sourced", "direct"): (1, 500.0, 600.0, pytest.approx(1 / 3)),
        ("influenced", "email"): (1, 1000.0, 1200.0, pytest.approx(2 / 3)),
        ("influenced", "linkedin"): (1, 1000.0, 1200.0, pytest.approx(2 / 3)),
        ("influenced", "webinar"): (1, 1000.0, 1200.0, pytest.approx(2 / 3)),
        ("influenced", "direct"): (1, 500.0, 600.0, pytest.approx(1 / 3)),
    }
    pipe = result.pipeline
    sourced = pipe.filter(pl.col("measure") == "sourced")
    influenced = pipe.filter(pl.col("measure") == "influenced")
    assert sourced.get_column("pipeline_share").sum() == pytest.approx(1.0)
    assert influenced.get_column("pipeline_share").sum() == pytest.approx(7 / 3)
    assert sourced.get_column("sums_to_total").all()
    assert not influenced.get_column("sums_to_total").any()
    assert influenced.get_column("note").str.contains("does NOT sum to 100%").all()
    assert pipe.get_column("measure").to_list()[:2] == ["sourced", "sourced"]


def test_pipeline_on_an_opportunity_run_and_unattributed_deals() -> None:
    touches = touches_frame([("t1", "a1", "linkedin", 1), ("t2", "a1", "email", 12)])
    stages = stages_frame(
        [
            ("a1", None, "O1", "opportunity", 10, 1000.0),
            ("a1", None, "O1", "closed_won", 20, 1500.0),
            ("b1", None, "O2", "opportunity", 10, 300.0),  # B has no touch
        ]
    )
    contacts = contacts_frame([("a1", "A", None), ("b1", "B", None)])
    result = _run((touches, stages, contacts), conversion_stage="opportunity")
    conv = result.conversions.select(
        "conversion_id", "sourced_channel", "pipeline_value", "revenue"
    )
    assert conv.rows() == [("A#1", "linkedin", 1000.0, 1500.0), ("B#1", None, 300.0, 0.0)]
    sourced = result.pipeline.filter(pl.col("measure") == "sourced")
    assert dict(sourced.select("channel", "pipeline").rows()) == {
        "linkedin": 1000.0,
        "(no touches)": 300.0,
    }
    influenced = result.pipeline.filter(pl.col("measure") == "influenced")
    assert influenced.select("channel", "pipeline", "revenue").rows() == [
        ("linkedin", 1000.0, 1500.0)
    ]


# --------------------------------------------------------------------------- engagement
def test_engagement_scores_and_tiers_by_hand() -> None:
    ref = 200
    rows: list[tuple[str, str, str, float]] = []
    plan = {  # account: ages in days of its touches (before the reference day)
        "P": [0] * 12,
        "Q": [0, 0, 0],
        "R": [0, 0],
        "S": [0],
        "T": [30],  # half-life 30 days: weighs 0.5, inside every window
        "U": [45],  # outside the 30-day window
        "V": [120],  # outside every window: score 0, cold
    }
    for account, ages in plan.items():
        rows += [(f"{account}{i}", account.lower(), "email", ref - a) for i, a in enumerate(ages)]
    touches = touches_frame(rows)
    stages = stages_frame([("p", None, None, "lead", ref, None)])
    contacts = contacts_frame([(a.lower(), a, None) for a in plan] + [("w", "W", None)])
    # no conversion (a lead alone): the engagement is scored all the same, allow_empty says
    # an empty attribution is expected
    result = _run((touches, stages, contacts), allow_empty=True)
    acc = {r["account_id"]: r for r in result.accounts.to_dicts()}
    assert result.manifest["parameters"]["engagement"]["reference_time"] == at(ref).isoformat()

    scores = {"P": 12, "Q": 3, "R": 2, "S": 1, "T": 0.5, "U": 2**-1.5, "V": 0, "W": 0}
    for account, score in scores.items():
        assert acc[account]["engagement_score"] == pytest.approx(score, abs=TOL)
        assert acc[account]["engagement_90d"] == pytest.approx(score, abs=TOL)
    assert (acc["T"]["engagement_30d"], acc["U"]["engagement_30d"]) == (pytest.approx(0.5), 0.0)
    assert acc["U"]["engagement_60d"] == pytest.approx(2**-1.5)
    assert acc["V"]["touches"] == 1
    assert acc["W"]["touches"] == 0

    x = {k: math.log1p(v) for k, v in scores.items()}
    mean = sum(x.values()) / len(x)
    std = math.sqrt(sum((v - mean) ** 2 for v in x.values()) / len(x))
    z = {k: (v - mean) / std for k, v in x.items()}
    for account in scores:
        assert acc[account]["engagement_z"] == pytest.approx(z[account], abs=1e-9)
        expected = (
            "cold"
            if scores[account] == 0 or z[account] <= -0.5
            else "hot"
            if z[account] >= 1
            else "warm"
        )
        assert acc[account]["tier"] == expected, account
    assert {acc[a]["tier"] for a in scores} == {"hot", "warm", "cold"}
    assert acc["P"]["tier"] == "hot"
    assert acc["V"]["tier"] == "cold"
    assert result.accounts.get_column("account_id").to_list()[0] == "P"  # by score


def test_engagement_weights_touch_types() -> None:
    touches = touches_frame(
        [("t1", "a1", "email", 10), ("t2", "a1", "email", 10), ("t3", "b1", "email", 10)]
    ).with_columns(pl.Series("touch_type", ["meeting", "View", None]))
    stages = stages_frame([("a1", None, None, "lead", 10, None)])
    contacts = contacts_frame([("a1", "A", None), ("b1", "B", None)])
    acc = dict(
        _run((touches, stages, contacts), allow_empty=True)  # a lead alone: no conversion
        .accounts.select("account_id", "engagement_score")
        .rows()
    )
    assert acc == {"A": 3.0 + 0.5, "B": 1.0}


def test_single_account_is_warm_not_nan() -> None:
    touches = touches_frame([("t1", "a1", "email", 1)])
    stages = stages_frame([("a1", None, None, "closed_won", 2, 10.0)])
    accounts = _run((touches, stages, contacts_frame([("a1", "A", None)]))).accounts
    assert accounts.select("engagement_z", "tier").rows() == [(0.0, "warm")]


# --------------------------------------------------------------------------- runs, invariance
def test_run_directory_holds_the_account_files(committee, tmp_path: Path) -> None:
    result = _run(committee, models=["linear", "markov"])
    run_dir = result.write(tmp_path)
    for name in ("accounts", "account_credit", "pipeline"):
        assert_frame_equal(pl.read_parquet(run_dir / f"{name}.parquet"), getattr(result, name))
    conv = pl.read_parquet(run_dir / "conversions.parquet")
    assert conv.get_column("coverage").to_list() == ["3 of 4", "1 of 4"]
    touches, stages, _ = committee
    contact_level = attribution.attribute(touches, stages, models=["linear"])
    assert contact_level.accounts.width == 0
    assert contact_level.pipeline.width == 0
    files = {p.name for p in contact_level.write(tmp_path).iterdir()}
    assert not files & {"accounts.parquet", "account_credit.parquet", "pipeline.parquet"}


@pytest.mark.parametrize("scope", ["account", "opportunity_roles", "primary"])
def test_invariant_to_input_row_order(committee, scope) -> None:
    kwargs = {"contact_scope": scope, "role_multipliers": DEFAULT_ROLE_MULTIPLIERS}
    base = _run(committee, models=["w_shaped", "markov"], **kwargs)
    shuffled = tuple(f.sample(fraction=1.0, shuffle=True, seed=3) for f in committee)
    other = _run(shuffled, models=["w_shaped", "markov"], **kwargs)
    keys = ["model", "conversion_id", "touch_id"]
    assert_frame_equal(other.touch_credit.sort(keys), base.touch_credit.sort(keys), abs_tol=TOL)
    for name in ("accounts", "account_credit", "pipeline", "conversions"):
        assert_frame_equal(getattr(other, name), getattr(base, name), abs_tol=TOL)
    assert other.manifest["reconciliation"] == base.manifest["reconciliation"]


def test_account_keyed_data_without_contacts() -> None:
    touches = pl.DataFrame(
        {
            "account_id": ["A", "A", "B"],
            "channel": ["linkedin", "email", "events"],
            "timestamp": [at(1), at(5), at(2)],
        }
    )
    stages = pl.DataFrame(
        {"account_id": ["A"], "stage": ["closed_won"], "timestamp": [at(10)], "value": [50.0]}
    )
    result = attribution.attribute(touches, stages, models=["linear"], level="account")
    accounts = result.accounts.select("account_id", "contacts", "contacts_engaged", "touches")
    assert accounts.rows() == [("A", 0, 0, 2), ("B", 0, 0, 1)]
    assert result.conversions.get_column("coverage").to_list() == ["0 of 4"]
    sourced = result.pipeline.filter(pl.col("measure") == "sourced")
    assert sourced.select("channel", "pipeline").rows() == [("linkedin", 50.0)]
    contacts = result.account_credit.filter(pl.col("dimension") == "contact")
    assert contacts.select("key", "role", "credit").rows() == [(None, "unknown", 1.0)]
