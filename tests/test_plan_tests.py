"""Channel tests: the readout at each monthly checkpoint, its intervals, the go / no-go rule,
the plan file's [tests] and the CLI, by hand on tiny frames and against the sample."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import attribution
from attribution.b2b._plan_tests import channel_tests, poisson_interval, rate_interval
from attribution.exceptions import ConfigError

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def world() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Webinar sources c1-c5; c6 is sourced by ads; c0 became an MQL before the test."""
    stages = [
        ("c0", "mql", "2025-02-20"),
        ("c1", "mql", "2025-03-02"),
        ("c1", "sql", "2025-03-05"),
        ("c1", "closed_won", "2025-03-20"),  # 18 days after its MQL
        ("c2", "mql", "2025-03-10"),
        ("c2", "sql", "2025-04-10"),
        ("c3", "mql", "2025-03-25"),
        ("c4", "mql", "2025-04-05"),
        ("c4", "sql", "2025-04-06"),
        ("c4", "closed_won", "2025-05-15"),  # 40 days after its MQL
        ("c5", "mql", "2025-05-02"),  # after the 60-day window
        ("c6", "mql", "2025-03-03"),
        ("c6", "closed_won", "2025-06-30"),  # the data's last day; 119 days
    ]
    touches = [(c, "webinar", "2025-01-15") for c in ("c0", "c1", "c2", "c3", "c4", "c5")]
    touches += [("c6", "ads", "2025-01-15"), ("c6", "webinar", "2025-02-15")]
    spend = pl.DataFrame(
        {
            "channel": ["webinar"] * 4 + ["ads"],
            "month": ["2025-02-01", "2025-03-01", "2025-04-01", "2025-05-01", "2025-03-01"],
            "amount": [280.0, 310.0, 300.0, 310.0, 999.0],  # 10 a day from March
        }
    )
    return (
        pl.DataFrame(stages, schema=["contact_id", "stage", "timestamp"], orient="row"),
        pl.DataFrame(touches, schema=["contact_id", "channel", "timestamp"], orient="row"),
        spend,
    )


def plan(**test: object) -> dict[str, object]:
    spec = {"start": "2025-03-01", "validation_days": 60, "cost_per_mql": 200.0} | test
    return {"budget": {"webinar": 1000}, "tests": {"webinar": spec}}


def test_the_readout_counts_the_cohort_by_hand() -> None:
    t = channel_tests(plan(), *world())
    rows = t.table.rows(named=True)
    # checkpoints: a month after the start, then the window's end (day 60)
    assert [(r["checkpoint"], r["day"], r["final"]) for r in rows] == [
        (date(2025, 4, 1), 31, False),
        (date(2025, 4, 30), 60, True),
    ]
    first, last = rows
    # before 2025-04-01: c1, c2, c3 (c0 before the start, c6 sourced by ads); c1 an SQL
    assert (first["mqls"], first["sqls"]) == (3, 1)
    assert first["spend"] == pytest.approx(310.0)
    assert first["cost_per_mql"] == pytest.approx(310.0 / 3)
    # by 2025-04-30: c4 too; c2 and c4 became SQLs; spend 310 + 29 days x 10
    assert (last["mqls"], last["sqls"]) == (4, 3)
    assert last["spend"] == pytest.approx(600.0)
    assert last["mql_to_sql"] == pytest.approx(0.75)
    # median MQL -> won over the data: 18, 40, 119 days -> 40; day 31 is too early
    assert t.parameters["median_days_mql_to_won"] == pytest.approx(40.0, abs=1.0)
    assert first["customers"] is None
    assert first["cac"] is None
    assert last["customers"] == 1  # c1 won; c4 only on 2025-05-15
    assert last["cac"] == pytest.approx(600.0)
    # the projected volume at the pace so far: 3 MQLs in 31 days over 60 days
    assert first["projected_mqls"] == pytest.approx(3 * 60 / 31)


def test_intervals_are_the_exact_poisson_and_binomial_ones() -> None:
    row = channel_tests(plan(), *world()).table.row(1, named=True)
    assert row["mqls_low"] == pytest.approx(stats.gamma.ppf(0.05, 4))
    assert row["mqls_high"] == pytest.approx(stats.gamma.ppf(0.95, 5))
    assert row["cost_per_mql_low"] == pytest.approx(600.0 / row["mqls_high"])
    assert row["cost_per_mql_high"] == pytest.approx(600.0 / row["mqls_low"])
    assert row["mql_to_sql_low"] == pytest.approx(stats.beta.ppf(0.05, 3, 2))
    assert row["mql_to_sql_high"] == pytest.approx(stats.beta.ppf(0.95, 4, 1))
    assert row["cac_low"] == pytest.approx(600.0 / stats.gamma.ppf(0.95, 2))


@pytest.mark.parametrize(
    ("test", "status", "decision"),
    [
        ({"cost_per_mql": 5000.0}, "met", "go"),  # 150 a MQL, at most ~440 at 90%
        ({"cost_per_mql": 20.0}, "missed", "no-go"),  # at least ~66 at 90%
        ({"cost_per_mql": 200.0}, "on track", "extend"),  # straddled, estimate within
        ({"cost_per_mql": 120.0}, "behind", "extend"),  # straddled, estimate above
    ],
)
def test_the_call_follows_the_rule(test: dict[str, float], status: str, decision: str) -> None:
    last = channel_tests(plan(**test), *world()).table.row(1, named=True)
    assert last["cost_per_mql_status"] == status
    assert last["decision"] == decision
    assert last["on_track"] is (status in ("met", "on track"))


def test_every_target_must_be_met_for_a_go_and_one_miss_is_a_no_go() -> None:
    both = channel_tests(plan(cost_per_mql=5000.0, mqls=1.0), *world()).table.row(1, named=True)
    assert (both["mqls_status"], both["decision"]) == ("met", "go")
    more = channel_tests(plan(cost_per_mql=5000.0, mqls=50.0), *world()).table.row(1, named=True)
    assert (more["mqls_status"], more["decision"]) == ("missed", "no-go")


def test_a_cac_target_too_early_to_read_extends_and_earlier_checkpoints_are_pending() -> None:
    t = channel_tests(plan(validation_days=31, cac=100.0), *world()).table
    assert t.get_column("checkpoint").to_list() == [date(2025, 4, 1)]
    row = t.row(0, named=True)
    assert row["cac_status"] == "too early"
    assert row["cost_per_mql_status"] == "on track"  # 310 / 3 against 200
    assert row["on_track"] is True  # too early does not count against it
    assert row["decision"] == "extend"
    behind = channel_tests(plan(validation_days=31, cac=100.0, cost_per_mql=90.0), *world())
    assert behind.table.row(0, named=True)["on_track"] is False
    longer = channel_tests(plan(), *world()).table
    assert longer.get_column("decision").to_list() == ["pending", "extend"]


def test_a_window_past_the_data_stays_pending_and_a_later_start_has_no_row() -> None:
    t = channel_tests(plan(validation_days=365), *world())
    assert t.table.get_column("decision").to_list() == ["pending"] * 4  # Apr..Jul 1
    assert t.table.get_column("final").to_list() == [False] * 4
    assert "has not ended" in t.summary()
    later = channel_tests(plan(start="2025-08-01"), *world())
    assert later.table.height == 0
    assert "no checkpoint yet: the data ends 2025-06-30" in later.summary()


def test_a_channel_the_data_does_not_know_is_said() -> None:
    spec = {"start": "2025-03-01", "validation_days": 60, "cost_per_mql": 200.0}
    t = channel_tests({"budget": {"a": 1}, "tests": {"webinar": spec, "webnar": spec}}, *world())
    assert t.parameters["tests"]["webinar"]["in_data"] is True
    assert t.parameters["tests"]["webnar"]["in_data"] is False
    assert "no spend and no sourced MQL of 'webnar' in the data" in t.summary()
    assert "of 'webinar'" not in t.summary()
    none = t.table.filter(pl.col("channel") == "webnar").row(1, named=True)
    assert (none["mqls"], none["spend"], none["cost_per_mql_status"]) == (0, 0.0, "no data")
    assert none["decision"] == "extend"


def test_write_and_summary(tmp_path: Path) -> None:
    t = channel_tests(plan(cost_per_mql=5000.0), *world())
    t.write(tmp_path)
    assert pl.read_parquet(tmp_path / "tests.parquet").equals(t.table)
    assert t.calls() == {"webinar": "go"}
    text = t.summary()
    assert "webinar: from 2025-03-01 for 60 days" in text
    assert "call: GO" in text


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"start": "2025-13-01"}, "start must be a date"),
        ({"validation_days": 0}, "validation_days must be a whole number"),
        ({"validation_days": 3651}, "validation_days must be a whole number of days in [1, 3,650]"),
        ({"validation_days": 30.5}, "validation_days must be a whole number"),
        ({"cost_per_mql": -1.0}, "cost_per_mql must be a number > 0"),
        ({"cost_per_mql": None, "cac": None}, "needs a target: cost_per_mql or cac"),
        ({"cost_per_mq": 5.0}, "unknown key 'cost_per_mq'"),
    ],
)
def test_bad_tests_are_named(spec: dict[str, object], message: str) -> None:
    test = {"start": "2025-03-01", "validation_days": 60, "cost_per_mql": 200.0} | spec
    test = {k: v for k, v in test.items() if v is not None}
    with pytest.raises(ConfigError, match=r"\[tests.webinar\] " if "unknown" not in message
                       else "in \\[tests.webinar\\]") as err:  # fmt: skip
        attribution.read_plan({"budget": {"a": 1}, "tests": {"webinar": test}})
    assert message in str(err.value)


@given(k=st.integers(0, 10_000))
def test_the_poisson_interval_holds_the_count(k: int) -> None:
    low, high = poisson_interval(np.array([k]))
    assert 0.0 <= low[0] <= k <= high[0]


@given(n=st.integers(1, 5_000), share=st.floats(0.0, 1.0))
def test_the_rate_interval_holds_the_rate_within_0_and_1(n: int, share: float) -> None:
    x = round(share * n)
    low, high = rate_interval(np.array([x]), np.array([n]))
    assert 0.0 <= low[0] <= x / n <= high[0] <= 1.0


def test_the_sample_plan_reads_out_g2_capterra_as_counted_by_hand() -> None:
    t = channel_tests(
        SAMPLE / "plan.toml",
        SAMPLE / "stages.parquet",
        SAMPLE / "touches.parquet",
        SAMPLE / "spend.parquet",
    )
    final = t.table.filter((pl.col("channel") == "g2_capterra") & pl.col("final"))
    assert final.height == 1
    # by hand: contacts whose first touch is g2_capterra, MQL in [May 1, Jul 30)
    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    first = touches.sort("timestamp").group_by("contact_id").agg(pl.col("channel").first())
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    mqls = (
        stages.filter(pl.col("stage") == "mql")
        .group_by("contact_id")
        .agg(pl.col("timestamp").min().dt.date())
        .join(first, on="contact_id")
        .filter(
            (pl.col("channel") == "g2_capterra")
            & pl.col("timestamp").is_between(date(2025, 5, 1), date(2025, 7, 30), closed="left")
        )
    )
    assert final.item(0, "mqls") == mqls.height
    spend = pl.read_parquet(SAMPLE / "spend.parquet").filter(
        (pl.col("channel") == "g2_capterra") & pl.col("month").is_in(
            [date(2025, 5, 1), date(2025, 6, 1), date(2025, 7, 1)]
        )
    )  # fmt: skip
    by_month = spend.group_by("month").agg(pl.col("amount").sum()).sort("month")
    may, june, july = by_month.get_column("amount").to_list()
    assert final.item(0, "spend") == pytest.approx(may + june + july * 29 / 31)


def test_the_report_shows_the_calls_and_the_plan_risk(tmp_path: Path) -> None:
    from attribution.report._page import render_report

    channel_tests(plan(cost_per_mql=5000.0), *world()).write(tmp_path)
    risk = pl.DataFrame(
        {
            "scenario": ["as planned", "<b>x</b> delivers half its projected customers"],
            "customers": [120.0, 90.0],
            "customers_low": [100.0, 70.0],
            "customers_high": [140.0, 110.0],
            "cac": [16.0, 21.0],
            "p_target": [0.62, 0.05],
        }
    )
    risk.write_parquet(tmp_path / "plan_risk.parquet")
    sentence = "62% chance of reaching 130 customers at <= $16 CAC (3,000 draws)."
    (tmp_path / "plan.json").write_text(json.dumps({"risk": {"sentence": sentence}}))
    page = render_report(tmp_path, manifest={})
    assert 'id="tests"' in page
    assert "<b>Calls.</b> webinar: go" in page
    assert "Channel tests: webinar: go." in page  # a finding at the top
    assert "62% chance of reaching 130 customers at &lt;= $16 CAC" in page
    assert "&lt;b&gt;x&lt;/b&gt; delivers half" in page
    assert "<b>x</b>" not in page
    assert ">62%<" in page  # p_target as a percentage


def test_the_report_notes_a_readout_missing_its_columns(tmp_path: Path) -> None:
    from attribution.report._page import render_report

    pl.DataFrame({"channel": ["webinar"]}).write_parquet(tmp_path / "tests.parquet")
    page = render_report(tmp_path, manifest={})
    assert "The readout not drawn: column(s) checkpoint, decision missing" in page


@settings(max_examples=25)
@given(
    mql_days=st.lists(st.integers(0, 200), min_size=1, max_size=30),
    sql_after=st.lists(st.one_of(st.none(), st.integers(0, 60)), min_size=30, max_size=30),
    won_after=st.lists(st.one_of(st.none(), st.integers(0, 120)), min_size=30, max_size=30),
    start=st.integers(0, 150),
    window=st.integers(1, 200),
    target=st.floats(1.0, 1000.0),
)
def test_readout_invariants(
    mql_days: list[int],
    sql_after: list[int | None],
    won_after: list[int | None],
    start: int,
    window: int,
    target: float,
) -> None:
    origin = date(2025, 1, 1)
    rows = []
    for i, d in enumerate(mql_days):
        rows.append((f"c{i}", "mql", origin + timedelta(days=d)))
        if sql_after[i] is not None:
            rows.append((f"c{i}", "sql", origin + timedelta(days=d + sql_after[i])))
        if won_after[i] is not None:
            rows.append((f"c{i}", "closed_won", origin + timedelta(days=d + won_after[i])))
    stages = pl.DataFrame(rows, schema=["contact_id", "stage", "timestamp"], orient="row")
    touches = pl.DataFrame(
        {"contact_id": [f"c{i}" for i in range(len(mql_days))], "channel": "webinar",
         "timestamp": [origin] * len(mql_days)}
    )  # fmt: skip
    spend = pl.DataFrame(
        {"channel": "webinar", "month": [date(2025, m, 1) for m in range(1, 13)],
         "amount": [100.0 * m for m in range(1, 13)]}
    )  # fmt: skip
    spec = {
        "start": (origin + timedelta(days=start)).isoformat(),
        "validation_days": window,
        "cost_per_mql": target,
        "mqls": 3.0,
    }
    t = channel_tests(
        {"budget": {"webinar": 1}, "tests": {"webinar": spec}}, stages, touches, spend
    )
    table = t.table
    if table.height == 0:
        return
    for c in ("mqls", "spend"):
        values = table.get_column(c).to_list()
        assert values == sorted(values)  # so far: never falls from one checkpoint to the next
    for r in table.iter_rows(named=True):
        assert 0 <= r["sqls"] <= r["mqls"]
        assert r["mqls_low"] <= r["mqls"] <= r["mqls_high"]
        if r["cost_per_mql"] is not None and r["cost_per_mql_high"] is not None:
            assert r["cost_per_mql_low"] <= r["cost_per_mql"] <= r["cost_per_mql_high"]
        if r["customers"] is not None:
            assert r["customers"] <= r["mqls"]
        assert (r["decision"] == "pending") is (not r["final"])
        if r["decision"] == "go":
            assert r["cost_per_mql_status"] == "met"
            assert r["mqls_status"] == "met"
        if r["decision"] == "no-go":
            assert "missed" in (r["cost_per_mql_status"], r["mqls_status"])
