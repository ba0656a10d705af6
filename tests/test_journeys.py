"""Journeys (attribution.journeys): windows, conversion assignment, null paths,
milestones, account level and the reconciliation of every input touch."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import attribution
from attribution.datasets._synth import synthesize
from attribution.inputs._durations import parse_duration
from attribution.journeys import _order as order_module

LOOKBACK = timedelta(days=90)
US = timedelta(microseconds=1)


def _run(touches, stages, models=("linear",), **kwargs):
    return attribution.attribute(touches, stages, models=list(models), **kwargs)


def _reconciles(rec: dict) -> bool:
    dropped = sum(rec["touches_dropped"].values())
    unattributed = rec["conversions_unattributed"] + rec["conversions_same_timestamp"]
    return (
        rec["touches_in"] == (rec["touches_in_journeys"] + rec["touches_in_null_paths"] + dropped)
        and rec["conversions"] == rec["conversions_attributed"] + unattributed
    )


def _assignment(result) -> dict[str, str]:
    """touch_id -> conversion_id under the (single) model run."""
    return dict(result.touch_credit.select("touch_id", "conversion_id").iter_rows())


# --------------------------------------------------------------------------- window edges
def test_window_edges(make_touches, make_stages, day) -> None:
    T = day(100)
    touches = make_touches(
        [
            ("t_edge", "c1", "a", T - LOOKBACK),  # exactly T - lookback: in
            ("t_early", "c1", "b", T - LOOKBACK - US),  # 1 us earlier: out
            ("t_at_T", "c1", "c", T),  # exactly T: in
            ("t_after", "c1", "d", T + US),  # after the conversion: null path
        ]
    )
    stages = make_stages([("c1", "closed_won", T, 10.0)])
    result = _run(touches, stages)
    assert _assignment(result) == {"t_edge": "c1#1", "t_at_T": "c1#1"}
    rec = result.manifest["reconciliation"]
    # the null path is the unassigned touches within one lookback before the last of them
    # (t_after): t_early lies 90 days + 2 us before it, so it is dropped, not lost
    assert rec["touches_in_journeys"] == 2
    assert rec["touches_in_null_paths"] == 1
    assert rec["touches_dropped"] == {"outside_lookback": 1}
    assert rec["touches_in"] == 4
    assert _reconciles(rec)


def test_touch_just_outside_the_window_joins_the_null_path(make_touches, make_stages, day) -> None:
    T = day(100)
    touches = make_touches(
        [("t_edge", "c1", "a", T - LOOKBACK), ("t_early", "c1", "b", T - LOOKBACK - US)]
    )
    stages = make_stages([("c1", "closed_won", T, 10.0)])
    result = _run(touches, stages)
    assert _assignment(result) == {"t_edge": "c1#1"}
    rec = result.manifest["reconciliation"]
    assert (rec["touches_in_null_paths"], rec["touches_dropped"]) == (1, {})
    assert result.paths.sort("conversions").to_dicts() == [
        {"path": ["b"], "conversions": 0.0, "nulls": 1.0, "value": 0.0},
        {"path": ["a"], "conversions": 1.0, "nulls": 0.0, "value": 10.0},
    ]


def test_lookback_parameter_moves_the_window(make_touches, make_stages) -> None:
    touches = make_touches([("t1", "c1", "a", 0), ("t2", "c1", "b", 25)])
    stages = make_stages([("c1", "closed_won", 30, 1.0)])
    assert set(_assignment(_run(touches, stages))) == {"t1", "t2"}
    short = _run(touches, stages, lookback="10d")
    assert set(_assignment(short)) == {"t2"}
    assert short.manifest["parameters"]["lookback_seconds"] == 10 * 86400
    assert short.manifest["reconciliation"]["touches_in_null_paths"] == 1


def test_touches_after_the_conversion_form_a_null_path(make_touches, make_stages) -> None:
    touches = make_touches(
        [("t1", "c1", "a", 0), ("t2", "c1", "b", 20), ("t3", "c1", "c", 21), ("t4", "c2", "a", 5)]
    )
    stages = make_stages([("c1", "closed_won", 10, 1.0)])
    result = _run(touches, stages)
    assert _assignment(result) == {"t1": "c1#1"}
    rec = result.manifest["reconciliation"]
    assert rec["touches_in_null_paths"] == 3
    assert rec["null_paths"] == 2  # one per entity: c1 (t2, t3) and c2 (t4)
    nulls = result.paths.filter(pl.col("nulls") > 0).sort("path")
    assert nulls.get_column("path").to_list() == [["a"], ["b", "c"]]


def test_null_path_is_one_lookback_before_the_last_unassigned_touch(
    make_touches, make_stages
) -> None:
    touches = make_touches(
        [
            ("t1", "c1", "a", 0),
            ("t2", "c1", "b", 50),
            ("t3", "c1", "c", 100),
            ("t4", "c1", "d", 150),
            ("t5", "c1", "e", 60),
        ]
    )
    stages = make_stages([("c1", "lead", 10, None)])  # nothing converts
    with pytest.raises(attribution.EmptyResultError, match="no conversion"):
        _run(touches, stages)  # no answer in silence (report 5 #3)
    result = _run(touches, stages, allow_empty=True)  # the null path, counted all the same
    rec = result.manifest["reconciliation"]
    assert rec["touches_in_null_paths"] == 3  # days 60, 100, 150: within 90 days of day 150
    assert rec["touches_dropped"] == {"outside_lookback": 2}
    assert result.paths.to_dicts() == [
        {"path": ["e", "c", "d"], "conversions": 0.0, "nulls": 1.0, "value": 0.0}
    ]


def test_touches_of_other_entities_stay_out(make_touches, make_stages) -> None:
    touches = make_touches([("t1", "c1", "a", 0), ("t2", "c2", "b", 1)])
    stages = make_stages([("c1", "closed_won", 2, 1.0), ("c2", "closed_won", 2, 1.0)])
    assert _assignment(_run(touches, stages)) == {"t1": "c1#1", "t2": "c2#1"}


def test_ties_in_time_are_broken_by_touch_id(make_touches, make_stages) -> None:
    touches = make_touches([("t2", "c1", "b", 1), ("t1", "c1", "a", 1), ("t3", "c1", "c", 1)])
    stages = make_stages([("c1", "closed_won", 2, 1.0)])
    result = _run(touches, stages, models=["first_touch"])
    assert result.touch_credit.get_column("touch_id").to_list() == ["t1", "t2", "t3"]
    assert result.touch_credit.get_column("credit").to_list() == [1.0, 0.0, 0.0]


# --------------------------------------------------------------------------- conversions
def test_two_conversions_each_touch_credited_once(make_touches, make_stages) -> None:
    touches = make_touches(
        [("t1", "c1", "a", 10), ("t2", "c1", "b", 20), ("t3", "c1", "c", 40), ("t4", "c1", "d", 50)]
    )
    stages = make_stages([("c1", "closed_won", 30, 100.0), ("c1", "closed_won", 60, 200.0)])
    result = _run(touches, stages)
    assert _assignment(result) == {"t1": "c1#1", "t2": "c1#1", "t3": "c1#2", "t4": "c1#2"}
    assert result.touch_credit.height == 4
    assert result.touch_credit.get_column("value").to_list() == [50.0, 50.0, 100.0, 100.0]
    conv = result.conversions.select("conversion_id", "value", "n_touches")
    expected = pl.DataFrame(
        {"conversion_id": ["c1#1", "c1#2"], "value": [100.0, 200.0], "n_touches": [2, 2]}
    )
    assert_frame_equal(conv, expected)


def test_touch_at_the_first_conversion_goes_to_it(make_touches, make_stages) -> None:
    touches = make_touches([("t1", "c1", "a", 30), ("t2", "c1", "b", 30.5)])
    stages = make_stages([("c1", "closed_won", 30, 1.0), ("c1", "closed_won", 60, 1.0)])
    assert _assignment(_run(touches, stages)) == {"t1": "c1#1", "t2": "c1#2"}


def test_two_conversions_at_the_same_time(make_touches, make_stages) -> None:
    touches = make_touches([("t1", "c1", "a", 1), ("t2", "c1", "b", 2)])
    stages = make_stages(
        [("c1", "closed_won", 5, 100.0), ("c1", "closed_won", 5, 300.0)]
    ).with_columns(opportunity_id=pl.Series(["o1", "o2"]))
    result = _run(touches, stages)
    assert _assignment(result) == {"t1": "c1#1", "t2": "c1#1"}
    conv = result.conversions.select("conversion_id", "opportunity_id", "n_touches")
    assert conv.rows() == [("c1#1", "o1", 2), ("c1#2", "o2", 0)]
    rec = result.manifest["reconciliation"]
    # the second is reported as sharing the first's time, not as a conversion without touches
    assert (
        rec["conversions"],
        rec["conversions_attributed"],
        rec["conversions_unattributed"],
        rec["conversions_same_timestamp"],
    ) == (2, 1, 0, 1)
    assert result.manifest["totals"] == {"conversions_value": 400.0, "attributed_value": 100.0}


def test_conversion_without_touches_is_unattributed(make_touches, make_stages) -> None:
    touches = make_touches([("t1", "c1", "a", 1)])
    stages = make_stages([("c1", "closed_won", 2, 10.0), ("c2", "closed_won", 2, 99.0)])
    result = _run(touches, stages, models=["linear", "w_shaped"])
    assert set(result.touch_credit.get_column("conversion_id")) == {"c1#1"}
    rec = result.manifest["reconciliation"]
    assert (rec["conversions_attributed"], rec["conversions_unattributed"]) == (1, 1)
    unattributed = result.conversions.filter(pl.col("n_touches") == 0)
    assert unattributed.get_column("conversion_id").to_list() == ["c2#1"]
    totals = result.channel_credit.group_by("model").agg(pl.col("conversions", "value").sum())
    assert sorted(totals.rows()) == [("linear", 1.0, 10.0), ("w_shaped", 1.0, 10.0)]


def test_conversion_stage_is_chosen_per_run(make_touches, make_stages) -> None:
    touches = make_touches([("t1", "c1", "a", 1), ("t2", "c1", "b", 3)])
    stages = make_stages([("c1", "mql", 2, None), ("c1", "closed_won", 4, 5.0)])
    result = _run(touches, stages, conversion_stage="mql")
    assert _assignment(result) == {"t1": "c1#1"}
    assert result.manifest["reconciliation"]["touches_in_null_paths"] == 1
    assert result.manifest["reconciliation"]["conversions_without_value"] == 1


# --------------------------------------------------------------------------- reconciliation
def test_exact_duplicates_are_removed_and_counted(make_touches, make_stages) -> None:
    touches = make_touches(
        [("t1", "c1", "a", 1), ("t1", "c1", "a", 1), ("t1", "c1", "a", 1), ("t2", "c1", "b", 2)]
    )
    stages = make_stages([("c1", "closed_won", 3, 1.0)])
    result = _run(touches, stages)
    rec = result.manifest["reconciliation"]
    assert rec["touches_in"] == 4
    assert rec["touches_dropped"] == {"exact_duplicate": 2}
    assert rec["touches_in_journeys"] == 2
    assert _reconciles(rec)
    assert result.touch_credit.get_column("credit").to_list() == [0.5, 0.5]


def test_every_touch_is_accounted_for(make_touches, make_stages, day) -> None:
    touches = make_touches(
        [
            ("t1", "c1", "a", 0),  # outside c1#1's window and > lookback before t5: dropped
            ("t2", "c1", "b", 100),  # c1#1
            ("t3", "c1", "c", 150),  # c1#1
            ("t4", "c1", "c", 150),  # exact duplicate of nothing (different id): c1#1
            ("t5", "c1", "d", 200),  # after the last conversion: null path
            ("t6", "c2", "a", 10),  # no conversion: null path
            ("t6", "c2", "a", 10),  # exact duplicate
        ]
    ).vstack(
        pl.DataFrame(
            {"touch_id": ["t7"], "contact_id": [None], "channel": ["a"], "timestamp": [day(5)]},
            schema=make_touches([]).schema,
        )
    )  # no contact: dropped as missing_contact_id
    stages = make_stages([("c1", "closed_won", 160, 1.0)])
    rec = _run(touches, stages).manifest["reconciliation"]
    assert rec["touches_in"] == 8
    assert rec["touches_in_journeys"] == 3
    assert rec["touches_in_null_paths"] == 2
    assert rec["touches_dropped"] == {
        "missing_contact_id": 1,
        "outside_lookback": 1,
        "exact_duplicate": 1,
    }
    assert rec["null_paths"] == 2
    assert _reconciles(rec)


# --------------------------------------------------------------------------- milestones
def test_second_deal_does_not_reuse_the_first_deals_lead(make_touches, make_stages) -> None:
    touches = make_touches(
        [("t1", "c1", "a", 1), ("t2", "c1", "b", 5), ("t3", "c1", "c", 12), ("t4", "c1", "d", 20)]
    )
    stages = make_stages(
        [
            ("c1", "lead", 0, None),
            ("c1", "closed_won", 10, 1.0),
            ("c1", "mql", 15, None),  # second cycle's lead: LC = t3
            ("c1", "closed_won", 30, 1.0),
        ]
    )
    result = _run(touches, stages, models=["u_shaped"])
    conv = result.conversions.sort("conversion_id")
    assert conv.get_column("lead_at").to_list() == [
        stages.get_column("timestamp")[0],
        stages.get_column("timestamp")[2],
    ]
    got = dict(result.touch_credit.select("touch_id", "credit").iter_rows())
    # deal 1: the lead precedes t1, so no touch holds the lead role: first 0.4, others 0.2
    # deal 2: t3 is first and LC (0.8), t4 others (0.2)
    assert got == pytest.approx({"t1": 2 / 3, "t2": 1 / 3, "t3": 0.8, "t4": 0.2}, abs=1e-12)


def test_second_deal_without_its_own_lead_has_none(make_touches, make_stages) -> None:
    touches = make_touches([("t1", "c1", "a", 1), ("t2", "c1", "b", 12), ("t3", "c1", "c", 20)])
    stages = make_stages(
        [
            ("c1", "lead", 2, None),
            ("c1", "closed_won", 10, 1.0),
            ("c1", "closed_won", 30, 1.0),
        ]
    )
    result = _run(touches, stages, models=["u_shaped"])
    conv = result.conversions.sort("conversion_id")
    assert conv.get_column("lead_at").null_count() == 1
    assert conv.get_column("lead_at")[1] is None
    got = dict(result.touch_credit.select("touch_id", "credit").iter_rows())
    assert got == pytest.approx({"t1": 1.0, "t2": 2 / 3, "t3": 1 / 3}, abs=1e-12)


def test_custom_milestone_stages(make_touches, make_stages) -> None:
    touches = make_touches([("t1", "c1", "a", 1), ("t2", "c1", "b", 3), ("t3", "c1", "c", 5)])
    stages = make_stages([("c1", "sql", 4, None), ("c1", "closed_won", 6, 1.0)])
    default = _run(touches, stages, models=["u_shaped"])
    assert default.touch_credit.get_column("credit").to_list() == pytest.approx(
        [0.4 / 0.6, 0.1 / 0.6, 0.1 / 0.6]
    )
    custom = _run(touches, stages, models=["u_shaped"], milestones={"lead": ["sql"]})
    assert custom.touch_credit.get_column("credit").to_list() == pytest.approx([0.4, 0.4, 0.2])


def test_milestones_for_one_role_keep_the_other_defaults(worked) -> None:
    touches, stages = worked
    # a role given a stage no event has is an error (new-user report 5 #28: a typo dropped
    # the milestone in silence)
    with pytest.raises(attribution.InputError, match=r"milestones: lead = \['sql'\]"):
        _run(touches, stages, models=["w_shaped"], milestones={"lead": ["sql"]})
    # lead marked by `sql` (another contact's event, none of c1's): no LC; opportunity keeps
    # its default stage (OC = t4)
    stages = pl.concat([stages, stages.head(1).with_columns(
        pl.lit("c2").alias("contact_id"), pl.lit("sql").alias("stage"))])
    for lead in (["sql"], "sql"):
        result = _run(touches, stages, models=["w_shaped"], milestones={"lead": lead})
        assert result.touch_credit.get_column("credit").to_list() == pytest.approx(
            [0.3 / 0.7, 0.1 / 3 / 0.7, 0.1 / 3 / 0.7, 0.3 / 0.7, 0.1 / 3 / 0.7], abs=1e-12
        )
    # a role mapped to no stage is never reached
    result = _run(touches, stages, models=["w_shaped"], milestones={"opportunity": []})
    assert result.touch_credit.get_column("credit").to_list() == pytest.approx(
        [0.3 / 0.7, 0.3 / 0.7, 0.1 / 3 / 0.7, 0.1 / 3 / 0.7, 0.1 / 3 / 0.7], abs=1e-12
    )


# --------------------------------------------------------------------------- account level
@pytest.fixture
def accounts(make_touches, make_stages):
    touches = make_touches(
        [
            ("t1", "c1", "linkedin", 1),
            ("t2", "c2", "email", 2),
            ("t3", "c1", "webinar", 3),
            ("t4", "c3", "direct", 2),  # c3 has no account
            ("t5", "c4", "direct", 2),  # c4 is not in the contacts table
            ("t6", "c5", "events", 2),  # account B, which does not convert
        ]
    )
    stages = make_stages([("c2", "closed_won", 4, 900.0)])  # a contact event -> account A
    contacts = pl.DataFrame(
        {
            "contact_id": ["c1", "c2", "c3", "c5"],
            "account_id": ["A", "A", None, "B"],
            "role": ["champion", "decision_maker", None, None],
        }
    )
    return touches, stages, contacts


def test_account_level_journeys(accounts) -> None:
    touches, stages, contacts = accounts
    result = _run(touches, stages, level="account", contacts=contacts)
    tc = result.touch_credit.select(
        "conversion_id", "touch_id", "contact_id", "account_id", "credit"
    )
    expected = pl.DataFrame(
        {
            "conversion_id": ["A#1"] * 3,
            "touch_id": ["t1", "t2", "t3"],
            "contact_id": ["c1", "c2", "c1"],
            "account_id": ["A", "A", "A"],
            "credit": [1 / 3] * 3,
        }
    )
    assert_frame_equal(tc, expected)
    rec = result.manifest["reconciliation"]
    assert rec["touches_dropped"] == {"missing_account_id": 2}
    assert rec["touches_in_null_paths"] == 1  # t6, account B
    assert _reconciles(rec)
    assert result.manifest["parameters"]["lookback_seconds"] == 180 * 86400
    assert result.conversions.get_column("account_id").to_list() == ["A"]


def test_account_level_from_files(accounts, tmp_path) -> None:
    touches, stages, contacts = accounts
    base = _run(touches, stages, level="account", contacts=contacts)
    touches.write_parquet(tmp_path / "touches.parquet")
    stages.write_ndjson(tmp_path / "stages.ndjson")
    contacts.write_csv(tmp_path / "contacts.csv")
    files = _run(
        tmp_path / "touches.parquet",
        tmp_path / "stages.ndjson",
        level="account",
        contacts=tmp_path / "contacts.csv",
    )
    assert_frame_equal(files.touch_credit, base.touch_credit)
    assert files.manifest["reconciliation"] == base.manifest["reconciliation"]
    assert files.manifest["inputs"]["contacts"]["rows"] == 4


def test_account_level_without_accounts_is_an_error(accounts) -> None:
    touches, stages, _ = accounts
    with pytest.raises(attribution.ColumnNotFoundError, match="account_id"):
        _run(touches, stages, level="account")


def test_account_level_contact_rows_without_account_do_not_hide_one(accounts) -> None:
    touches, stages, contacts = accounts
    # c3 listed twice: once without an account, once with B; row order must not matter
    extra = pl.DataFrame(
        {"contact_id": ["c3"], "account_id": ["B"], "role": [None]}, schema=contacts.schema
    )
    for table in (pl.concat([contacts, extra]), pl.concat([extra, contacts])):
        result = _run(touches, stages, level="account", contacts=table)
        rec = result.manifest["reconciliation"]
        assert rec["touches_dropped"] == {"missing_account_id": 1}  # only c4's touch
        assert rec["touches_in_null_paths"] == 2  # t4 (c3) and t6 (c5), account B


def test_account_level_contact_in_two_accounts_is_an_error(accounts) -> None:
    touches, stages, contacts = accounts
    extra = pl.DataFrame(
        {"contact_id": ["c1"], "account_id": ["B"], "role": [None]}, schema=contacts.schema
    )
    with pytest.raises(attribution.DuplicateKeyError, match="several accounts") as info:
        _run(touches, stages, level="account", contacts=pl.concat([contacts, extra]))
    assert (info.value.table, info.value.rows) == ("contacts", [0, 4])


def test_contact_level_ignores_accounts(accounts) -> None:
    touches, stages, contacts = accounts
    result = _run(touches, stages, contacts=contacts)
    assert _assignment(result) == {"t2": "c2#1"}


# --------------------------------------------------------------------------- lookback parsing
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        ("30m", timedelta(minutes=30)),
        ("2w", timedelta(weeks=2)),
        ("45s", timedelta(seconds=45)),
        (" 1.5D ", timedelta(hours=36)),
        (timedelta(days=3), timedelta(days=3)),
    ],
)
def test_parse_duration(text, expected) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "d",
        "abc",
        "90 days",
        "0d",
        "-1d",
        "nan",
        "inf",
        "1e30d",
        # a number without a unit: an error, not seconds (issue 14: --lookback 90)
        "3600",
        "90",
        86400,
        0.5,
        0,
        -5.0,
        float("inf"),
        float("nan"),
        True,
        None,
        [90],
    ],
)
def test_parse_duration_rejects(bad) -> None:
    with pytest.raises(attribution.InputError, match="lookback"):
        parse_duration(bad)


@pytest.mark.parametrize("text", ["1000000000d", "99999999999999d", "1e400d", "inf d"])
def test_too_long_duration_says_so(text) -> None:
    # a duration beyond timedelta's range is well formed: the error gives the maximum
    # (report 6 #1: it said "must be a duration like '90d'" of '1000000000d')
    with pytest.raises(attribution.InputError, match=r"'half_life' is too long: at most "
                       r"999,999,999 days \('999999999d'\)"):
        parse_duration(text, name="half_life")
    assert parse_duration("999999999d", name="half_life").days == 999_999_999


def test_negative_duration_is_not_positive() -> None:
    with pytest.raises(attribution.InputError, match="'lookback' must be positive"):
        parse_duration("-infd")


def test_number_without_unit_names_the_fix() -> None:
    with pytest.raises(
        attribution.InputError, match=r"needs a unit; got '90' \(for 90 days write '90d'\)"
    ):
        parse_duration("90")


def test_bad_lookback_through_attribute(worked) -> None:
    with pytest.raises(attribution.InputError, match="90d"):
        attribution.attribute(*worked, models=["linear"], lookback="ninety days")


@pytest.mark.parametrize(
    ("level", "scope"), [("contact", "account"), ("account", "account"), ("account", "primary")]
)
@pytest.mark.parametrize("colliding", [lambda keys: keys.hash() % 3, lambda keys: keys.hash() * 0])
def test_entity_hash_collisions_change_nothing(monkeypatch, level, scope, colliding) -> None:
    """Entities are keyed by a hash; when two keys share one, exact ids take over."""
    data = synthesize(3000, seed=3, conversion_rate=0.2)
    kwargs = dict(models=["linear", "markov"], level=level, contacts=data.contacts)
    if level == "account":
        kwargs["contact_scope"] = scope
    expected = attribution.attribute(data.touches, data.stages, **kwargs)
    monkeypatch.setattr(order_module, "_hash_ids", colliding)
    got = attribution.attribute(data.touches, data.stages, **kwargs)
    assert_frame_equal(got.touch_credit, expected.touch_credit)
    assert_frame_equal(got.paths, expected.paths, check_row_order=False)
    assert got.manifest["reconciliation"] == expected.manifest["reconciliation"]
    assert expected.manifest["reconciliation"]["touches_in_null_paths"] > 0


@pytest.mark.parametrize(
    ("touch_checks", "conv_ids", "conv_checks", "collides"),
    [
        ([1, 1, 2, 3], [5, 9], [2, 8], False),  # conversions agree with the touches, or are new
        ([1, 7, 2, 3], [5], [2], True),  # id 3 stands for two keys among the touches
        ([1, 1, 2, 3], [5], [4], True),  # a conversion's key differs from its id's touches
        ([1, 1, 2, 3], [9, 9], [8, 6], True),  # two conversion keys share an id
        ([1, 1, 2, 3], [0, 99], [4, 4], False),  # ids before and after every touch id
        ([1, 1, 2, 3], [2**64 - 1], [9], True),  # the top of the range (unsigned order)
        ([1, 1, 2, 3], [2**63 + 1], [2], False),
    ],
)
def test_collision_check(touch_checks, conv_ids, conv_checks, collides) -> None:
    u64 = pl.UInt64
    work = pl.DataFrame(
        {
            "_idx": pl.Series([0, 1, 2, 3], dtype=pl.UInt32),
            order_module.ENTITY_ID: pl.Series([3, 3, 5, 2**64 - 1], dtype=u64),
        }
    )
    got = order_module._collides(
        work,
        pl.Series(touch_checks, dtype=u64),
        pl.Series(conv_ids, dtype=u64),
        pl.Series(conv_checks, dtype=u64),
    )
    assert got is collides


@settings(max_examples=200)
@given(
    st.lists(st.integers(0, 30), max_size=40),
    st.integers(1, 8),
    st.permutations(range(40)),
)
def test_collision_check_finds_every_shared_id(keys, width, shuffle) -> None:
    """Rows in any order, ids that merge some keys (``key // width``), checks a 64-bit
    hash of the key: the sums of :func:`_collides` say an id is shared exactly when two
    distinct keys of the touches have it."""
    u64 = pl.UInt64
    rows = [i for i in shuffle if i < len(keys)]  # the rows in id order
    keyed = pl.Series("k", keys, dtype=u64)
    ids = keyed // width
    order = pl.DataFrame({"_idx": pl.Series(rows, dtype=pl.UInt32)}).with_columns(
        ids.gather(pl.Series(rows, dtype=pl.UInt32)).alias("sort_id")
    )
    order = order.sort("sort_id", maintain_order=True)
    work = order.select("_idx", pl.col("sort_id").alias(order_module.ENTITY_ID))
    none = pl.Series([], dtype=u64)
    got = order_module._collides(work, keyed.hash(7), none, none)
    shared = pl.DataFrame({"k": keyed, "id": ids}).unique().get_column("id").is_duplicated()
    assert got is bool(shared.any())


# ----------------------------------------------------------------- the (entity, time) sort
@st.composite
def _sort_inputs(draw):
    n = draw(st.integers(0, 60))
    # ids close together or spread over 64 bits; times with ties and quantisation ties
    tops = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    lows = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    wide = draw(st.booleans())  # ids up to 2**64 - 1 (hashes) or small (dense ids)
    # wide: the top of the u64 range too (the sort key must order them unsigned)
    ids = [
        ((2**64 - 1 - (t << 61)) - low) if wide else t * 3 + low
        for t, low in zip(tops, lows, strict=True)
    ]
    span = draw(st.sampled_from([10, 2**31, 2**40, 2**50, 2**62]))  # 2**62: quantised
    times = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    touch = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n))
    return ids, [t * span // 4 for t in times], touch


@settings(max_examples=200)
@given(_sort_inputs())
def test_entity_time_order_is_the_full_sort(data) -> None:
    ids, micros, touch = data
    frame = pl.DataFrame(
        {
            "id": pl.Series(ids, dtype=pl.UInt64),
            "timestamp": pl.Series(micros, dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
            "touch_id": touch,
        }
    ).with_row_index("_row")
    got = order_module.entity_time_order(
        frame.get_column("id"), frame.get_column("timestamp"), frame, ("touch_id", "_row")
    )
    expected = frame.sort(["id", "timestamp", "touch_id", "_row"])
    assert got.get_column("_idx").to_list() == expected.get_column("_row").to_list()
    assert got.get_column("id").to_list() == expected.get_column("id").to_list()
    times = got.get_column("time").to_physical().to_list()
    assert times == expected.get_column("timestamp").to_physical().to_list()


@settings(max_examples=200)
@given(_sort_inputs(), st.lists(st.integers(0, 12), min_size=60, max_size=60))
def test_entity_time_order_with_times_in_the_key_is_the_full_sort(data, code_values) -> None:
    """``time_in_key``: times and codes read back from the key where they fit beside the ids
    and rows (exact), gathered where not (wide ids and a wide span): the same rows, times and
    codes as the full sort either way."""
    ids, micros, touch = data
    names = [f"ch{k:02d}" for k in range(13)]
    frame = pl.DataFrame(
        {
            "id": pl.Series(ids, dtype=pl.UInt64),
            "timestamp": pl.Series(micros, dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
            "touch_id": touch,
            "_ch": pl.Series([names[k] for k in code_values[: len(ids)]], dtype=pl.Enum(names)),
        }
    ).with_row_index("_row")
    got = order_module.entity_time_order(
        frame.get_column("id"),
        frame.get_column("timestamp"),
        frame,
        ("touch_id", "_row"),
        codes=frame.get_column("_ch"),
        time_in_key=True,
    )
    expected = frame.sort(["id", "timestamp", "touch_id", "_row"])
    assert got.columns == ["_idx", "id", "time", "_ch"]
    assert got.get_column("_idx").to_list() == expected.get_column("_row").to_list()
    assert got.get_column("id").to_list() == expected.get_column("id").to_list()
    assert got.get_column("time").dtype == pl.Datetime("us", "UTC")
    times = got.get_column("time").to_physical().to_list()
    assert times == expected.get_column("timestamp").to_physical().to_list()
    assert got.get_column("_ch").dtype == pl.Enum(names)
    assert got.get_column("_ch").to_list() == expected.get_column("_ch").to_list()


def test_exact_key_bits() -> None:
    """The ids' share of an exact key: 128 less the time span's, the rows' and the codes'
    bits (a span of 2**45 - 1 microseconds, 2**24 rows, codes up to 12)."""
    times = pl.Series([0, 2**45 - 1], dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))
    codes = pl.Series([0, 12], dtype=pl.UInt8)
    assert order_module.exact_id_bits(times, 2**24, codes) == 128 - 45 - 24 - 4
    assert order_module.exact_id_bits(times, 2**24) == 128 - 45 - 24


def test_entity_time_order_resorts_only_unsettled_ids(monkeypatch) -> None:
    """Many settled entities, one id with a tie in time and one with two times closer than
    the time quantum: the partial re-sort path (not the whole-table fallback) gives the full
    sort, and sorts only those two ids' rows."""
    ids = [k for k in range(40) for _ in range(3)] + [99, 99, 98, 98]
    micros = [k * 2**40 + j * 2**30 for k in range(40) for j in range(3)]
    micros += [5, 5, 2**61 - 61, 2**61 - 63]
    touch = [f"t{i}" for i in range(len(ids))]
    touch[-4], touch[-3] = "z", "a"  # id 99 at time 5 twice: tie broken by touch_id
    frame = pl.DataFrame(
        {
            "id": pl.Series(ids, dtype=pl.UInt64),
            "timestamp": pl.Series(micros, dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
            "touch_id": touch,
        }
    ).with_row_index("_row")
    sorts = []
    original = pl.DataFrame.sort
    monkeypatch.setattr(
        pl.DataFrame,
        "sort",
        lambda self, *a, **k: sorts.append(self.height) or original(self, *a, **k),
    )
    got = order_module.entity_time_order(
        frame.get_column("id"), frame.get_column("timestamp"), frame, ("touch_id", "_row")
    )
    monkeypatch.undo()
    expected = frame.sort(["id", "timestamp", "touch_id", "_row"])
    assert got.get_column("_idx").to_list() == expected.get_column("_row").to_list()
    times = got.get_column("time").to_physical().to_list()
    assert times == expected.get_column("timestamp").to_physical().to_list()
    assert sorts == [4]  # only the two unsettled ids were sorted again


def test_entity_time_order_takes_times_python_cannot_hold() -> None:
    """Years before 1 and after 9999 are valid Polars datetimes; the sort works on integers."""
    micros = [-70_000_000_000_000_000, 300_000_000_000_000_000, 0, -70_000_000_000_000_000]
    frame = pl.DataFrame(
        {
            "id": pl.Series([5, 5, 5, 1], dtype=pl.UInt64),
            "timestamp": pl.Series(micros, dtype=pl.Int64).cast(pl.Datetime("us", "UTC")),
            "touch_id": ["a", "b", "c", "d"],
        }
    ).with_row_index("_row")
    got = order_module.entity_time_order(
        frame.get_column("id"), frame.get_column("timestamp"), frame, ("touch_id", "_row")
    )
    assert got.get_column("_idx").to_list() == [3, 0, 2, 1]


def test_known_channels_give_the_codes_a_search_gives() -> None:
    """The validate stage's channels spare the journeys a search of the log; the channel
    codes are the same as found by the search, also when touches without a contact (whose
    channel is in no journey) were dropped."""
    from attribution.inputs._schema import TOUCHES, load
    from attribution.journeys._journeys import build_journeys

    touches = load(
        pl.DataFrame(
            {
                "touch_id": ["t1", "t2", "t3", "t4"],
                "contact_id": ["c1", "c1", None, "c2"],
                "channel": ["email", "linkedin", "ghost", "email"],
                "timestamp": ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"],
            }
        ),
        TOUCHES,
    ).frame
    stages = pl.DataFrame(
        {"contact_id": ["c1"], "stage": ["closed_won"], "value": [1.0], "_row": [0]}
    ).with_columns(pl.lit("2025-01-10").str.to_datetime(time_zone="UTC").alias("timestamp"))
    for frame in (touches, touches.filter(pl.col("contact_id").is_not_null())):
        names = frame.get_column("channel").unique().sort().to_list()
        searched = build_journeys(frame, stages)
        given = build_journeys(frame, stages, channels=names)
        assert given.null_touches.schema == searched.null_touches.schema
        assert searched.null_touches.schema["channel"].categories.to_list() == ["email", "linkedin"]
        assert_frame_equal(given.touches, searched.touches)
        assert_frame_equal(given.null_touches, searched.null_touches)
