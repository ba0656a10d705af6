"""Unit economics by segment, metro and month, the guardrail bases, and retention / NRR:
hand-computed figures, a reconciliation property and the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution
from attribution.b2b._retention import nrr, retention
from attribution.engine._result import CHANNEL_CREDIT_SCHEMA, TOUCH_CREDIT_SCHEMA
from attribution.inputs._config import load_config

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def result_from_touches(
    rows: list[tuple[str, str, str | None, str, float, float]],
    closed: dict[str, str] | None = None,
) -> attribution.AttributionResult:
    """A result from touch credit rows (conversion, touch, account, channel, credit, value);
    channel credit is their sum, as every executor's is."""
    touch = pl.DataFrame(
        [
            (conv, touch_id, None, account, channel, datetime(2025, 1, 1, tzinfo=UTC),
             "linear", credit, value)  # fmt: skip
            for conv, touch_id, account, channel, credit, value in rows
        ],
        schema=TOUCH_CREDIT_SCHEMA,
        orient="row",
    )
    channel = (
        touch.group_by("model", "channel")
        .agg(pl.col("credit").sum().alias("conversions"), pl.col("value").sum())
        .with_columns(share=pl.lit(0.0))
        .select(CHANNEL_CREDIT_SCHEMA.names())
        .cast(dict(CHANNEL_CREDIT_SCHEMA))
    )
    convs = touch.select("conversion_id").unique(maintain_order=True)
    stamps = [
        datetime.fromisoformat((closed or {}).get(c, "2025-01-15")).replace(tzinfo=UTC)
        for c in convs.get_column("conversion_id")
    ]
    conversions = convs.with_columns(pl.Series("timestamp", stamps))
    return attribution.AttributionResult(
        channel_credit=channel, touch_credit=touch, manifest={}, conversions=conversions
    )


@pytest.fixture
def three_deals() -> attribution.AttributionResult:
    # c1 (smb): linkedin + google_ads, 12,000; c2 (enterprise): linkedin, 24,000;
    # c3 (smb): four linkedin touches, 12,000
    return result_from_touches(
        [
            ("c1", "t1", "a1", "linkedin", 0.5, 6_000.0),
            ("c1", "t2", "a1", "google_ads", 0.5, 6_000.0),
            ("c2", "t3", "a2", "linkedin", 1.0, 24_000.0),
            *[("c3", f"t{4 + i}", "a3", "linkedin", 0.25, 3_000.0) for i in range(4)],
        ]
    )


ACCOUNTS = pl.DataFrame(
    {
        "account_id": ["a1", "a2", "a3"],
        "segment": ["SMB", "Enterprise", "smb"],
        "metro": ["Chicago", "Dallas", "Dallas"],
    }
)
SPEND = pl.DataFrame(
    {
        "channel": ["linkedin", "google_ads", "linkedin"],
        "month": ["2025-01-01", "2025-01-01", "2025-03-01"],
        "amount": [2_000.0, 1_000.0, 1_000.0],
    }
)


def seg(econ: attribution.UnitEconomics, segment: str, channel: str) -> dict[str, object]:
    rows = econ.segments.filter((pl.col("segment") == segment) & (pl.col("channel") == channel))
    assert rows.height == 1
    return rows.row(0, named=True)


def test_segment_rows_by_hand(three_deals) -> None:
    econ = attribution.unit_economics(
        three_deals, SPEND, accounts=ACCOUNTS, costs={"sales": 1_200.0}, gross_margin=0.8,
        annual_churn=0.2,
    )  # fmt: skip
    # linkedin: 6 touches in the won journeys, 5 on smb accounts, 1 on enterprise
    li_smb, li_ent = seg(econ, "smb", "linkedin"), seg(econ, "enterprise", "linkedin")
    assert li_smb["spend"] == pytest.approx(3_000 * 5 / 6)
    assert li_ent["spend"] == pytest.approx(3_000 * 1 / 6)
    assert li_smb["customers"] == pytest.approx(1.5)
    assert li_smb["cac"] == pytest.approx(2_500 / 1.5)
    assert li_ent["cac"] == pytest.approx(500.0)
    # non-media 1,200 by customers: 3 customers in all, 400 each
    assert li_smb["non_media_cost"] == pytest.approx(600.0)
    assert li_smb["loaded_cac"] == pytest.approx((2_500 + 600) / 1.5)
    assert li_smb["arpa"] == pytest.approx(18_000 / 1.5)
    assert li_ent["ltv"] == pytest.approx(24_000 * 0.8 / 0.2)
    assert li_ent["payback_target_months"] == 24.0
    assert li_smb["payback_target_months"] == 18.0
    assert li_ent["payback_months"] == pytest.approx(900 / (2_000 * 0.8))
    google = seg(econ, "smb", "google_ads")
    assert google["spend"] == pytest.approx(1_000.0)
    assert google["cac"] == pytest.approx(2_000.0)
    # blended per segment
    blended = {r["segment"]: r for r in econ.blended.iter_rows(named=True)}
    assert blended["smb"]["customers"] == pytest.approx(2.0)
    assert blended["smb"]["spend"] == pytest.approx(2_500 + 1_000)
    assert blended["all"]["loaded_cac"] == pytest.approx((4_000 + 1_200) / 3)
    assert blended["all"]["ltv_to_cac"] == pytest.approx(
        (48_000 / 3) * 0.8 / 0.2 / ((4_000 + 1_200) / 3)
    )
    summary = econ.summary()
    assert f"Blended under linear: LTV/CAC {blended['all']['ltv_to_cac']:.1f}" in summary
    assert "Loaded CAC by channel and segment" in summary
    # by customers instead: every segment has the channel's own CAC
    by_customers = attribution.unit_economics(
        three_deals, SPEND, accounts=ACCOUNTS, segment_spend="customers"
    )
    assert seg(by_customers, "smb", "linkedin")["cac"] == pytest.approx(3_000 / 2.5)
    assert seg(by_customers, "enterprise", "linkedin")["cac"] == pytest.approx(3_000 / 2.5)
    assert by_customers.parameters["segment_spend"] == "customers"


def test_spend_split_by_every_touch_of_the_log(three_deals, tmp_path: Path) -> None:
    # the log: linkedin 10 touches on a1 (smb), 2 on a2 (enterprise), 8 on a9 (no account
    # row: unknown, never converted); google_ads one on a1
    exposure = pl.DataFrame(
        {"channel": ["linkedin", "linkedin", "linkedin", "google_ads"],
         "account_id": ["a1", "a2", "a9", "a1"], "touches": [10.0, 2.0, 8.0, 1.0]}
    )  # fmt: skip
    econ = attribution.unit_economics(three_deals, SPEND, accounts=ACCOUNTS, exposure=exposure)
    assert seg(econ, "smb", "linkedin")["spend"] == pytest.approx(3_000 * 10 / 20)
    assert seg(econ, "smb", "linkedin")["cac"] == pytest.approx(1_500 / 1.5)
    assert seg(econ, "enterprise", "linkedin")["spend"] == pytest.approx(300.0)
    unknown = seg(econ, "unknown", "linkedin")
    assert (unknown["spend"], unknown["customers"]) == (pytest.approx(1_200.0), 0.0)
    assert unknown["status"] == "no_customers"
    assert unknown["breach"] is True
    assert econ.parameters["segment_spend_touches"] == "every touch of the touch log"
    # touch_exposure counts a log: the touch's account, else its contact's
    from attribution.b2b._economics_slices import touch_exposure

    log = tmp_path / "touches.csv"
    log.write_text(
        "contact_id,account_id,channel,timestamp\n"
        "c1,a1,LinkedIn,2025-01-01\nc2,,linkedin,2025-01-02\nc3,,linkedin,2025-01-03\n"
    )
    (tmp_path / "contacts.csv").write_text("contact_id,account_id\nc2,a2\n")
    counted = touch_exposure(log, tmp_path / "contacts.csv").sort("account_id", nulls_last=True)
    # per contact too: a contact far more active than the others is bounded after
    assert counted.rows() == [("linkedin", "a1", "c1", 1.0), ("linkedin", "a2", "c2", 1.0),
                              ("linkedin", None, "c3", 1.0)]  # fmt: skip


def test_metro_slices_and_unknown_accounts(three_deals) -> None:
    econ = attribution.unit_economics(three_deals, SPEND, accounts=ACCOUNTS.head(2))
    # a3 is not in the accounts table: its deal is in 'unknown'
    assert seg(econ, "unknown", "linkedin")["customers"] == pytest.approx(1.0)
    assert econ.parameters["customers_with_a_segment"] == pytest.approx(2 / 3)
    metro = econ.slices.filter((pl.col("dimension") == "metro") & (pl.col("channel") == "linkedin"))
    got = dict(metro.select("slice", "customers").iter_rows())
    assert got == pytest.approx({"Dallas": 1.0, "Chicago": 0.5, "unknown": 1.0})
    assert set(econ.slices.get_column("dimension")) == {"metro"}  # no region column


def test_guardrail_bases(three_deals) -> None:
    common = {"accounts": ACCOUNTS, "gross_margin": 0.5, "annual_churn": 0.25}
    lifetime = attribution.unit_economics(three_deals, SPEND, **common)
    first = attribution.unit_economics(
        three_deals, SPEND, guardrail_basis="first_year_gross_profit", **common
    )
    period = attribution.unit_economics(
        three_deals, SPEND, guardrail_basis="period_gross_profit", **common
    )
    pick = {
        e.parameters["guardrail_basis"]: e.table.filter(pl.col("channel") == "linkedin").row(
            0, named=True
        )
        for e in (lifetime, first, period)
    }
    arpa = 42_000 / 2.5
    loaded = 3_000 / 2.5
    assert pick["lifetime_gross_profit"]["gross_profit_per_customer"] == pytest.approx(
        arpa * 0.5 / 0.25
    )
    assert pick["first_year_gross_profit"]["guardrail_share"] == pytest.approx(
        loaded / (arpa * 0.5)
    )
    # the spend covers January to March: three months of gross profit
    assert period.parameters["period_months"] == 3.0
    assert pick["period_gross_profit"]["guardrail_share"] == pytest.approx(
        loaded / (arpa * 0.5 * 3 / 12)
    )
    assert set(first.table.get_column("guardrail_basis")) == {"first_year_gross_profit"}
    assert "first_year_gross_profit" in first.summary()
    with pytest.raises(attribution.ModelParameterError, match="guardrail_basis"):
        attribution.unit_economics(three_deals, SPEND, guardrail_basis="monthly")  # type: ignore[arg-type]
    with pytest.raises(attribution.ModelParameterError, match="payback_targets"):
        attribution.unit_economics(three_deals, SPEND, payback_targets={"smb": -1.0})


def test_monthly_trailing_window_and_rerate() -> None:
    # linkedin's one customer closes in January; an email deal on 31 May ends the data
    res = result_from_touches(
        [("c1", "t1", "a1", "linkedin", 1.0, 12_000.0), ("c2", "t2", "a2", "email", 1.0, 0.0)],
        closed={"c1": "2025-01-20", "c2": "2025-05-31"},
    )
    spend = pl.DataFrame(
        {"channel": ["linkedin"] * 4, "month": ["2025-01-01", "2025-02-01", "2025-03-01",
                                                 "2025-04-01"], "amount": [1_000.0] * 4}
    )  # fmt: skip
    econ = attribution.unit_economics(
        res, spend, ltv=5_000.0, costs={"sales": 400.0}, monthly_lag_months=0
    )
    monthly = econ.monthly.filter(pl.col("channel") == "linkedin").sort("month")
    assert monthly.get_column("month").to_list() == [date(2025, 3, 1), date(2025, 4, 1)]
    march, april = monthly.rows(named=True)
    assert march["spend"] == 3_000.0
    assert march["customers"] == 1.0
    # non-media costs of the window: 400 x 3 / 4 months, all on the one customer
    assert march["loaded_cac"] == pytest.approx(3_000 + 300)
    assert march["breach"] is True  # 3,300 / 5,000 > 30%
    assert (march["breach_streak"], march["rerate"]) == (1, False)
    assert april["status"] == "no_customers"
    assert (april["breach_streak"], april["rerate"]) == (2, True)
    assert "linkedin (from 2025-04-01)" in econ.summary()
    assert econ.parameters["monthly_lag_months"] == {"value": 0, "source": "given"}


def test_monthly_spend_lag_and_partial_last_month() -> None:
    # first touches on 1 January; closes 19 and 150 days later: median 84.5 days, 3 months
    res = result_from_touches(
        [("c1", "t1", "a1", "linkedin", 1.0, 12_000.0), ("c2", "t2", "a2", "email", 1.0, 0.0)],
        closed={"c1": "2025-01-20", "c2": "2025-05-31"},
    )
    spend = pl.DataFrame(
        {"channel": ["linkedin"] * 4, "month": ["2025-01-01", "2025-02-01", "2025-03-01",
                                                 "2025-04-01"], "amount": [1_000.0] * 4}
    )  # fmt: skip
    econ = attribution.unit_economics(res, spend, ltv=5_000.0)
    assert econ.parameters["monthly_lag_months"]["value"] == 3
    assert econ.parameters["monthly_lag_months"]["source"].startswith("data")
    assert econ.monthly.height == 0  # spend lagged to April-July, data end in May
    lagged = attribution.unit_economics(res, spend, ltv=5_000.0, monthly_lag_months=1)
    rows = lagged.monthly.filter(pl.col("channel") == "linkedin").sort("month")
    # spend of January-March against the conversions of February-April (none)
    assert rows.get_column("month").to_list() == [date(2025, 4, 1), date(2025, 5, 1)]
    assert rows.row(0, named=True)["spend"] == 3_000.0
    assert rows.row(0, named=True)["customers"] == 0.0
    # a deal on 30 May leaves May partial: the windows stop in April
    early = result_from_touches(
        [("c1", "t1", "a1", "linkedin", 1.0, 12_000.0), ("c2", "t2", "a2", "email", 1.0, 0.0)],
        closed={"c1": "2025-01-20", "c2": "2025-05-30"},
    )
    cut = attribution.unit_economics(early, spend, ltv=5_000.0, monthly_lag_months=1)
    assert cut.monthly.get_column("month").max() == date(2025, 4, 1)
    with pytest.raises(attribution.ModelParameterError, match="monthly_lag_months"):
        attribution.unit_economics(res, spend, monthly_lag_months=-1)


SUBS = pl.DataFrame(
    {
        "account_id": ["a1", "a1", "a1", "a2", "a2", "a3", "a3", "a3", "a4"],
        "month": ["2025-01-01", "2025-02-01", "2025-03-01", "2025-01-01", "2025-02-01",
                  "2025-01-01", "2025-02-01", "2025-03-01", "2025-02-01"],
        "mrr": [100.0, 100.0, 150.0, 1_000.0, 800.0, 100.0, 0.0, 0.0, 50.0],
    }
)  # fmt: skip


def test_retention_by_hand() -> None:
    ret = retention(SUBS, ACCOUNTS)
    rows = {r["segment"]: r for r in ret.table.iter_rows(named=True)}
    # Feb: a1 100->100, a2 1000->800 (contraction 200), a3 100->0 (churn); a4 new (50)
    # Mar: a1 100->150 (+50), a2 800->gone (churn), a4 50->gone (churn)
    all_ = rows["all"]
    assert all_["mrr_start"] == pytest.approx(1_200 + 950)
    assert all_["churned_mrr"] == pytest.approx(100 + 800 + 50)
    assert all_["contraction"] == pytest.approx(200.0)
    assert all_["expansion"] == pytest.approx(50.0)
    assert all_["new_mrr"] == pytest.approx(50.0)
    assert all_["monthly_nrr"] == pytest.approx(1 + (50 - 1_150) / 2_150)
    assert all_["nrr"] == pytest.approx((1 + (50 - 1_150) / 2_150) ** 12)
    assert all_["monthly_logo_churn"] == pytest.approx(3 / 6)
    assert all_["annual_churn"] == pytest.approx(1 - 0.5**12)
    assert all_["accounts"] == 4
    smb = rows["smb"]  # a1 and a3
    assert smb["monthly_grr"] == pytest.approx(1 - 100 / 300)
    assert smb["monthly_logo_churn"] == pytest.approx(1 / 3)
    assert rows["unknown"]["accounts"] == 1  # a4 has no account row
    assert ret.nrr("smb") == pytest.approx(smb["nrr"])
    assert nrr(SUBS, ACCOUNTS)["all"] == pytest.approx(all_["nrr"])
    cohort = ret.cohorts.filter(
        (pl.col("segment") == "all") & (pl.col("cohort") == date(2025, 1, 1))
    ).sort("month")
    assert cohort.get_column("age_months").to_list() == [0, 1, 2]
    assert cohort.get_column("nrr").to_list() == pytest.approx([1.0, 900 / 1_200, 150 / 1_200])
    assert cohort.get_column("grr").to_list() == pytest.approx([1.0, 900 / 1_200, 100 / 1_200])
    assert cohort.get_column("logo_retention").to_list() == pytest.approx([1.0, 2 / 3, 1 / 3])


def test_observed_churn_feeds_ltv(three_deals) -> None:
    econ = attribution.unit_economics(three_deals, SPEND, accounts=ACCOUNTS, subscriptions=SUBS)
    observed = retention(SUBS, ACCOUNTS).churn()
    assert econ.parameters["annual_churn"]["source"].startswith("observed")
    assert econ.parameters["annual_churn"]["value"] == pytest.approx(observed["all"])
    li_ent = seg(econ, "enterprise", "linkedin")
    assert li_ent["annual_churn"] == pytest.approx(observed["enterprise"])
    assert li_ent["ltv"] == pytest.approx(24_000 * 0.75 / observed["enterprise"])
    inputs = {r["segment"]: r for r in econ.parameters["ltv_inputs"]}
    assert inputs["enterprise"]["annual_churn_source"].startswith("observed (subscriptions")
    assert "NRR (annualised, subscriptions): all" in econ.summary()
    # a given churn wins over the observed one, and says so
    given = attribution.unit_economics(three_deals, SPEND, subscriptions=SUBS, annual_churn=0.1)
    assert given.parameters["annual_churn"] == {"value": 0.1, "source": "given"}


@st.composite
def worlds(draw: st.DrawFn) -> tuple[attribution.AttributionResult, pl.DataFrame, pl.DataFrame]:
    channels = ["a", "b", "c"]
    rows = []
    for conv in range(draw(st.integers(1, 8))):
        account = draw(st.sampled_from(["x1", "x2", "x3", None]))
        n = draw(st.integers(1, 4))
        picked = [draw(st.sampled_from(channels)) for _ in range(n)]
        value = draw(st.floats(0, 50_000))
        # linear credit, or first-touch credit (later touches with 0: rows without customers)
        credits = [1.0 if i == 0 else 0.0 for i in range(n)] if draw(st.booleans()) else [1 / n] * n
        rows += [(f"c{conv}", f"c{conv}t{i}", account, ch, credits[i], value * credits[i])
                 for i, ch in enumerate(picked)]  # fmt: skip
    accounts = pl.DataFrame(
        {"account_id": ["x1", "x2"], "segment": draw(st.lists(
            st.sampled_from(["smb", "enterprise"]), min_size=2, max_size=2))}  # fmt: skip
    )
    spent = draw(st.lists(st.sampled_from([*channels, "d"]), min_size=1, max_size=4))
    spend = pl.DataFrame(
        {"channel": spent, "month": ["2025-01-01"] * len(spent),
         # money in cents, as spend is written: a subnormal amount (4.9e-324, drawn by
         # the fresh-clone check's random profile) has no segment split that does not
         # underflow to 0, a float artefact and no spend
         "amount": draw(st.lists(st.floats(0, 1e5).map(lambda x: round(x, 2)),
                                 min_size=len(spent), max_size=len(spent)))}  # fmt: skip
    )
    return result_from_touches(rows), accounts, spend


@given(world=worlds(), how=st.sampled_from(["touches", "customers"]),
       allocation=st.sampled_from(["customers", "spend"]),
       log=st.lists(st.tuples(st.sampled_from(["a", "b", "d"]),
                              st.sampled_from(["x1", "x2", "x9", None]),
                              st.floats(1, 50)), max_size=6))  # fmt: skip
@settings(max_examples=40, deadline=None)
def test_segments_reconcile_to_all_rows(world, how, allocation, log) -> None:
    result, accounts, spend = world
    exposure = (
        pl.DataFrame(log, schema=["channel", "account_id", "touches"], orient="row")
        .group_by("channel", "account_id")
        .agg(pl.col("touches").sum())
        if log
        else None
    )
    econ = attribution.unit_economics(
        result, spend, accounts=accounts, segment_spend=how, allocation=allocation,
        costs={"x": 1_000.0}, exposure=exposure,
    )  # fmt: skip
    sums = econ.segments.group_by("model", "channel").agg(
        pl.col("customers", "spend", "revenue", "non_media_cost").sum()
    )
    joined = econ.table.join(sums, on=["model", "channel"], how="left", suffix="_seg")
    for col in ("customers", "spend", "revenue", "non_media_cost"):
        got = joined.get_column(f"{col}_seg").fill_null(0.0).to_list()
        assert got == pytest.approx(joined.get_column(col).to_list(), rel=1e-9, abs=1e-6)
    blended = econ.blended.filter(pl.col("segment") != "all").get_column("customers").sum()
    assert blended == pytest.approx(econ.table.get_column("customers").sum(), abs=1e-9)


def test_config_economics_choices(tmp_path: Path) -> None:
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        '[economics]\nguardrail_basis = "first_year_gross_profit"\nsegment_spend = "customers"'
        "\n"
    )
    assert load_config(cfg).economics == {
        "guardrail_basis": "first_year_gross_profit",
        "segment_spend": "customers",
    }
    cfg.write_text('[economics]\nguardrail_basis = "lifetime"\n')
    with pytest.raises(attribution.ConfigError, match="must be 'lifetime_gross_profit' or"):
        load_config(cfg)
    cfg.write_text('[economics]\nsegment_spend = "revenue"\n')
    with pytest.raises(attribution.ConfigError, match="segment_spend must be 'touches' or"):
        load_config(cfg)


def test_payback_targets_come_from_the_benchmark_table(three_deals, tmp_path: Path) -> None:
    shipped = attribution.load_benchmarks()
    econ = attribution.unit_economics(three_deals, SPEND, accounts=ACCOUNTS)
    targets = econ.parameters["payback_targets"]["value"]
    smb = shipped.get("payback_target_months", segment="smb")
    enterprise = shipped.get("payback_target_months", segment="enterprise")
    assert smb is not None
    assert enterprise is not None
    assert targets["smb"] == smb.high
    assert targets["enterprise"] == enterprise.high
    assert targets["mid_market"] == smb.high  # none in the table: SMB's
    assert targets["strategic"] == enterprise.high
    assert seg(econ, "enterprise", "linkedin")["payback_target_months"] == enterprise.high
    # a user's [targets] override the shipped row; unit_economics(payback_targets=) wins last
    cfg = tmp_path / "run.toml"
    cfg.write_text("[targets.segment.smb]\npayback_target_months = [6, 9]\n")
    mine = attribution.unit_economics(
        three_deals, SPEND, accounts=ACCOUNTS, benchmarks=load_config(cfg).benchmarks(),
        payback_targets={"enterprise": 30.0},
    )  # fmt: skip
    assert seg(mine, "smb", "linkedin")["payback_target_months"] == 9.0
    assert seg(mine, "enterprise", "linkedin")["payback_target_months"] == 30.0
    assert "given for enterprise" in mine.parameters["payback_targets"]["source"]


@pytest.mark.slow
def test_cli_run_with_accounts_and_subscriptions(tmp_path: Path) -> None:
    accounts = pl.read_parquet(SAMPLE / "accounts.parquet").rename({"segment": "Tier"})
    accounts.write_csv(tmp_path / "acc.csv")
    ids = accounts.get_column("account_id").head(300)
    subs = pl.DataFrame(
        {"account_id": ids.to_list() * 3,
         "month": [m for m in ("2025-01-01", "2025-02-01", "2025-03-01") for _ in range(300)],
         "arr": [1_200.0] * 300 + [1_200.0] * 280 + [0.0] * 20 + [1_500.0] * 300}
    )  # fmt: skip
    subs.write_parquet(tmp_path / "subs.parquet")
    (tmp_path / "run.toml").write_text(
        f'[inputs]\ntouches = "{SAMPLE / "touches.parquet"}"\n'
        f'stages = "{SAMPLE / "stages.parquet"}"\ncontacts = "{SAMPLE / "contacts.parquet"}"\n'
        f'spend = "{SAMPLE / "spend.parquet"}"\n[run]\nmodels = ["linear"]\n'
        '[columns.accounts]\nsegment = "Tier"\n'
        '[economics]\nguardrail_basis = "first_year_gross_profit"\n'
    )
    env = dict(os.environ, COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "run", "--config", "run.toml",
         "--accounts", "acc.csv", "--subscriptions", "subs.parquet", "--out", "runs"],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    econ = pl.read_parquet(run_dir / "economics.parquet")
    assert {"all", "smb", "mid_market", "enterprise"} <= set(econ.get_column("segment"))
    assert set(econ.get_column("guardrail_basis")) == {"first_year_gross_profit"}
    ret = pl.read_parquet(run_dir / "retention.parquet")
    assert "nrr" in ret.columns
    assert (run_dir / "retention_cohorts.parquet").exists()
    assert (run_dir / "economics_monthly.parquet").exists()
    # the sample accounts carry both a metro and a region
    assert set(pl.read_parquet(run_dir / "economics_slices.parquet").get_column("dimension")) == {
        "metro",
        "region",
    }
    meta = json.loads((run_dir / "economics.json").read_text())
    assert meta["parameters"]["annual_churn"]["source"].startswith("observed")
    assert meta["parameters"]["segment_spend_touches"] == "every touch of the touch log"
    for text in ("guardrail basis first_year_gross_profit", "Loaded CAC by channel and segment",
                 "NRR (annualised, subscriptions): all", "Retention (subscriptions",
                 "Segments against the published ranges", "pipeline per $"):  # fmt: skip
        assert text in proc.stdout
    # the created pipeline (the funnel's opportunities) reaches the segment rows
    smb = econ.filter(pl.col("segment") == "smb")
    assert smb.get_column("pipeline_created").sum() > 0
    assert set(smb.get_column("pipeline_per_dollar_low").drop_nulls()) == {15.0}
    assert "segment" in pl.read_parquet(run_dir / "economics_monthly.parquet").columns
    # each verdict sits beside the figure it judges: the payback against its target, the
    # guardrail share against its limit (a segment can pay back in time and still breach)
    lines = proc.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if "payback vs target" in line)
    blended = [r for r in meta["blended"] if r["model"] == "linear"]
    assert len(blended) >= 4  # all and every segment
    for row in blended:
        line = next(x for x in lines[start:] if x.startswith(f"  {row['segment']:<12} "))
        if row["payback_ok"] is not None:
            assert (" within target " if row["payback_ok"] else " over target ") in line
        verdict = "BREACH" if row["breach"] else "ok"
        assert f"{row['guardrail_share']:.1%} {verdict}" in line, line


def test_report_shows_segments_and_retention(tmp_path: Path) -> None:
    res = attribution.attribute(
        SAMPLE / "touches.parquet", SAMPLE / "stages.parquet",
        contacts=SAMPLE / "contacts.parquet", models=["linear"],
    )  # fmt: skip
    ids = pl.read_parquet(SAMPLE / "accounts.parquet").get_column("account_id").head(50)
    subs = pl.DataFrame(
        {"account_id": ids.to_list() * 2, "month": ["2025-01-01"] * 50 + ["2025-02-01"] * 50,
         "mrr": [100.0] * 50 + [100.0] * 45 + [0.0] * 5}  # fmt: skip
    )
    ret = retention(subs, SAMPLE / "accounts.parquet")
    econ = attribution.unit_economics(
        res, SAMPLE / "spend.parquet", accounts=SAMPLE / "accounts.parquet", subscriptions=ret
    )
    run_dir = res.write(tmp_path, also=[econ, ret])
    html = (run_dir / "report.html").read_text()
    assert "By segment under linear (every channel)" in html
    assert "Table: loaded CAC by channel and segment" in html
    assert "Retention (subscriptions)" in html
    assert "of lifetime gross profit per customer (basis lifetime_gross_profit;" in html
    written = pl.read_parquet(run_dir / "retention.parquet")
    assert written.filter(pl.col("segment") == "all").get_column("annual_churn").item() == (
        pytest.approx(1 - (1 - 5 / 50) ** 12)
    )


def test_retention_edges(three_deals) -> None:
    one_month = pl.DataFrame(
        {"account_id": ["a1", "a2"], "month": ["2025-01-01"] * 2, "mrr": [10.0, 20.0]}
    )
    ret = retention(one_month, ACCOUNTS)
    all_ = ret.table.filter(pl.col("segment") == "all").row(0, named=True)
    assert (all_["months"], all_["accounts"], all_["mrr_start"]) == (0, 2, 0.0)
    assert all_["nrr"] is None
    assert ret.churn() == {}
    assert "NRR       -" in ret.summary()
    # no churn observed: LTV keeps the default churn and says why
    econ = attribution.unit_economics(three_deals, SPEND, subscriptions=ret)
    assert econ.parameters["annual_churn"] == {
        "value": 0.15,
        "source": "default assumption (no churn observed in the subscriptions)",
    }
    with pytest.raises(attribution.InputError, match="no account has recurring revenue"):
        retention(one_month.with_columns(pl.lit(0.0).alias("mrr")))


def test_write_back_appends_what_economics_parquet_holds(three_deals, tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    from attribution.engine._writeback import write_back
    from attribution.inputs._database import SqlTable

    econ = attribution.unit_economics(three_deals, SPEND, accounts=ACCOUNTS)
    uri = f"duckdb://{tmp_path / 'results.duckdb'}"
    written = write_back(three_deals, uri, run_id="r1", extras=[econ])
    stored = SqlTable(uri, "SELECT * FROM attribution_economics").frame()
    assert written["attribution_economics"] == econ.frame.height
    assert econ.frame.height == econ.table.height + econ.segments.height
    assert set(stored.get_column("segment")) == {"all", "smb", "enterprise"}
    econ.write(tmp_path)
    assert stored.drop("run_id").equals(pl.read_parquet(tmp_path / "economics.parquet"))


def test_channel_without_customers_in_several_segments_keeps_its_spend_once() -> None:
    # first-touch credit: google_ads touches a1 (smb) and a2 (enterprise) after linkedin,
    # so it has touch rows in two segments and no customer anywhere
    res = result_from_touches(
        [
            ("c1", "t1", "a1", "linkedin", 1.0, 1_000.0),
            ("c1", "t2", "a1", "google_ads", 0.0, 0.0),
            ("c2", "t3", "a2", "linkedin", 1.0, 1_000.0),
            ("c2", "t4", "a2", "google_ads", 0.0, 0.0),
        ]
    )
    for how in ("customers", "touches"):
        econ = attribution.unit_economics(res, SPEND, accounts=ACCOUNTS, segment_spend=how)
        google = econ.segments.filter(pl.col("channel") == "google_ads")
        assert google.get_column("spend").sum() == pytest.approx(1_000.0)
        assert google.height == google.get_column("segment").n_unique()  # one row a segment
        assert set(google.get_column("status")) == {"no_customers"}


def test_cohorts_by_close_month() -> None:
    from attribution.b2b._retention import close_months

    closed = pl.DataFrame(
        {"account_id": ["a1", "a3", "a1"],
         "month": [date(2025, 2, 1), date(2025, 3, 1), date(2025, 5, 1)]}  # fmt: skip
    )
    ret = retention(SUBS, ACCOUNTS, close_months=closed)
    rows = {
        (r["cohort"], r["month"]): r
        for r in ret.cohorts.filter(pl.col("segment") == "all").iter_rows(named=True)
    }
    feb = rows[(date(2025, 2, 1), date(2025, 2, 1))]  # a1 (closed in February) and a4
    assert (feb["accounts"], feb["accounts_by_close"], feb["mrr_start"]) == (2, 1, 150.0)
    march = rows[(date(2025, 2, 1), date(2025, 3, 1))]
    assert march["nrr"] == pytest.approx(150 / 150)
    assert march["grr"] == pytest.approx(100 / 150)
    # a3 closed in March but has no MRR since: its first active month, January, with a2
    jan = rows[(date(2025, 1, 1), date(2025, 2, 1))]
    assert (jan["accounts"], jan["accounts_by_close"]) == (2, 0)
    assert jan["nrr"] == pytest.approx(800 / 1_100)
    assert "first won deal" in ret.notes["method"]["cohort"]
    # close months of a run: the first conversion month of each account
    res = result_from_touches(
        [("c1", "t1", "a1", "linkedin", 1.0, 1.0), ("c2", "t2", "a1", "email", 1.0, 1.0),
         ("c3", "t3", None, "email", 1.0, 1.0)],
        closed={"c1": "2025-04-03", "c2": "2025-02-20", "c3": "2025-01-05"},
    )  # fmt: skip
    assert close_months(res.touch_credit, res.conversions).rows() == [("a1", date(2025, 2, 1))]
