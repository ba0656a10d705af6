"""The economics against the published segment ranges (created pipeline per dollar, CAC
recovery) and the monthly re-rating per segment: hand-computed figures and properties."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution
from attribution.b2b._economics_ranges import judgement, with_ranges
from tests.test_segment_economics import (  # the three_deals fixture too
    ACCOUNTS,
    SPEND,
    result_from_touches,
    seg,
    three_deals,  # noqa: F401
)

# c1 (a1 smb): linkedin, opportunity worth 10,000, won; c2 (a2 enterprise): linkedin, an
# opportunity without an amount, lost at 30,000; c3 (a3 smb): its first touch came after
# its opportunity (5,000): sourced by no channel; c4 (a1): a lead only
STAGES = pl.DataFrame(
    {
        "contact_id": ["c1", "c1", "c1", "c2", "c2", "c2", "c3", "c3", "c4"],
        "account_id": ["a1", "a1", "a1", "a2", "a2", "a2", "a3", "a3", "a1"],
        "stage": ["lead", "opportunity", "closed_won", "lead", "opportunity", "closed_lost",
                  "lead", "opportunity", "lead"],
        "timestamp": ["2025-01-02", "2025-01-10", "2025-02-01", "2025-01-05", "2025-01-06",
                      "2025-02-10", "2025-01-20", "2025-02-01", "2025-01-03"],
        "value": [None, 10_000.0, 12_000.0, None, None, 30_000.0, None, 5_000.0, None],
    }
)  # fmt: skip
TOUCHES = pl.DataFrame(
    {
        "contact_id": ["c1", "c2", "c3", "c4"],
        "channel": ["linkedin", "LinkedIn", "google_ads", "google_ads"],
        "timestamp": ["2025-01-01", "2025-01-05", "2025-03-01", "2025-01-01"],
    }
)


def test_created_pipeline_by_sourced_channel_and_segment() -> None:
    flow = attribution.funnel(STAGES, TOUCHES, accounts=ACCOUNTS)
    got = {(r["segment"], r["channel"]): (r["opportunities"], r["pipeline"])
           for r in flow.pipeline.iter_rows(named=True)}  # fmt: skip
    assert got == {
        ("all", "linkedin"): (2, 40_000.0),
        ("smb", "linkedin"): (1, 10_000.0),
        ("enterprise", "linkedin"): (1, 30_000.0),
    }
    # without touches there is no sourced channel, so no pipeline to credit
    assert attribution.funnel(STAGES).pipeline.height == 0
    assert "first touch" in flow.notes["pipeline"]


def test_pipeline_per_dollar_and_cac_recovery_against_the_segment_ranges(three_deals) -> None:  # noqa: F811
    pipeline = attribution.funnel(STAGES, TOUCHES, accounts=ACCOUNTS).pipeline
    econ = attribution.unit_economics(
        three_deals, SPEND, accounts=ACCOUNTS, costs={"sales": 1_200.0}, gross_margin=0.8,
        annual_churn=0.2, pipeline=pipeline,
    )  # fmt: skip
    # linkedin's 3,000 split 5/6 smb, 1/6 enterprise by its touches (test_segment_economics)
    li_smb, li_ent = seg(econ, "smb", "linkedin"), seg(econ, "enterprise", "linkedin")
    assert li_smb["pipeline_created"] == 10_000.0
    assert li_smb["created_pipeline_per_dollar"] == pytest.approx(10_000 / 2_500)
    assert (li_smb["pipeline_per_dollar_low"], li_smb["pipeline_per_dollar_high"]) == (15, 40)
    assert li_smb["pipeline_per_dollar_gap"] == pytest.approx(4 / 15 - 1)
    assert li_smb["pipeline_per_dollar_judgement"] == "short"
    assert li_ent["created_pipeline_per_dollar"] == pytest.approx(60.0)
    assert li_ent["pipeline_per_dollar_gap"] == pytest.approx(60 / 15 - 1)
    assert li_ent["pipeline_per_dollar_judgement"] == "better"
    # google_ads sourced nothing: 0x, the whole range short
    google = seg(econ, "smb", "google_ads")
    assert (google["opportunities"], google["created_pipeline_per_dollar"]) == (0, 0.0)
    assert google["pipeline_per_dollar_gap"] == pytest.approx(-1.0)
    # the won part stays as it was: credited revenue / spend
    assert li_smb["pipeline_per_dollar"] == pytest.approx(18_000 / 2_500)
    # CAC recovery: payback (2,500 + 600) / 1.5 / (12,000 / 12 x 0.8) against SMB's 3-9
    payback = (3_100 / 1.5) / 800
    assert li_smb["payback_months"] == pytest.approx(payback)
    assert (li_smb["cac_payback_low"], li_smb["cac_payback_high"]) == (3, 9)
    assert li_smb["cac_payback_gap"] == pytest.approx(-(payback / 3 - 1))
    assert li_smb["cac_payback_judgement"] == "better"
    assert (li_ent["cac_payback_low"], li_ent["cac_payback_high"]) == (12, 24)
    # the 'all' rows have the pipeline of every segment and no range
    li_all = econ.table.filter(pl.col("channel") == "linkedin").row(0, named=True)
    assert li_all["pipeline_created"] == 40_000.0
    assert li_all["created_pipeline_per_dollar"] == pytest.approx(40_000 / 3_000)
    assert li_all["pipeline_per_dollar_low"] is None
    assert li_all["pipeline_per_dollar_judgement"] is None
    # blended per segment: every channel's pipeline of the segment over its spend
    blended = {r["segment"]: r for r in econ.blended.iter_rows(named=True)}
    assert blended["smb"]["created_pipeline_per_dollar"] == pytest.approx(10_000 / 3_500)
    assert blended["smb"]["pipeline_per_dollar_judgement"] == "short"
    assert blended["enterprise"]["pipeline_per_dollar_judgement"] == "better"
    assert blended["all"]["opportunities"] == 2
    summary = econ.summary()
    assert "Segments against the published ranges" in summary
    assert "smb          pipeline per $ 2.86x vs a target of 15-40x (81% below it, short)" in (
        summary
    )
    assert "pipeline/$" in summary
    assert "pipeline_per_dollar" in econ.notes["ranges"]


def test_your_segment_targets_move_the_ranges(three_deals) -> None:  # noqa: F811
    pipeline = attribution.funnel(STAGES, TOUCHES, accounts=ACCOUNTS).pipeline
    bench = attribution.load_benchmarks(
        targets={
            "segment": {"smb": {"pipeline_per_dollar": [2, 5], "cac_payback_months": [1, 2]}}
        }  # fmt: skip
    )
    econ = attribution.unit_economics(
        three_deals, SPEND, accounts=ACCOUNTS, pipeline=pipeline, benchmarks=bench
    )
    li_smb = seg(econ, "smb", "linkedin")
    assert (li_smb["pipeline_per_dollar_low"], li_smb["pipeline_per_dollar_high"]) == (2, 5)
    assert li_smb["pipeline_per_dollar_judgement"] == "within"
    assert li_smb["cac_payback_high"] == 2
    # without the created pipeline (no stages and touches) the columns are there, null
    bare = attribution.unit_economics(three_deals, SPEND, accounts=ACCOUNTS)
    row = seg(bare, "smb", "linkedin")
    assert row["pipeline_created"] is None
    assert row["pipeline_per_dollar_judgement"] is None
    assert row["cac_payback_judgement"] is not None  # payback needs no pipeline
    assert bare.parameters["pipeline"] is None


@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["smb", "mid_market", "enterprise", "all", "unknown"]),
            st.one_of(st.none(), st.floats(0, 1e6)),
            st.one_of(st.just(0.0), st.floats(0.01, 1e5)),
            st.one_of(st.none(), st.floats(0, 60)),
        ),
        min_size=1,
        max_size=12,
    )
)
@settings(max_examples=60, deadline=None)
def test_judgement_follows_the_range(rows) -> None:
    frame = pl.DataFrame(
        rows, schema=["segment", "pipeline_created", "spend", "payback_months"], orient="row"
    )
    out = with_ranges(frame, attribution.load_benchmarks())
    for r in out.iter_rows(named=True):
        for figure, prefix, higher in (
            ("created_pipeline_per_dollar", "pipeline_per_dollar", True),
            ("payback_months", "cac_payback", False),
        ):
            value, low, high = r[figure], r[f"{prefix}_low"], r[f"{prefix}_high"]
            verdict, gap = r[f"{prefix}_judgement"], r[f"{prefix}_gap"]
            if r["segment"] in ("all", "unknown") or value is None:
                assert verdict is None
                assert gap is None
                continue
            if low <= value <= high:
                assert (verdict, gap) == ("within", 0.0)
            elif (value < low) == higher:
                assert verdict == "short"
                assert gap < 0
            else:
                assert verdict == "better"
                assert gap >= 0
        if r["spend"] > 0 and r["pipeline_created"] is not None:
            assert r["created_pipeline_per_dollar"] * r["spend"] == pytest.approx(
                r["pipeline_created"]
            )
        else:
            assert r["created_pipeline_per_dollar"] is None


def test_judgement_words() -> None:
    gaps = pl.DataFrame({"gap": [-0.5, 0.0, 0.2, None]})
    assert gaps.select(judgement(pl.col("gap"))).to_series().to_list() == [
        "short", "within", "better", None
    ]  # fmt: skip


def monthly_world() -> tuple[attribution.AttributionResult, pl.DataFrame, pl.DataFrame]:
    # c1 (a1, smb) closes in January with 1,200 a year; c2 (a2, enterprise) in March with
    # 120,000; an email deal on 31 May (a2) makes May whole
    res = result_from_touches(
        [("c1", "t1", "a1", "linkedin", 1.0, 1_200.0),
         ("c2", "t2", "a2", "linkedin", 1.0, 120_000.0),
         ("c3", "t3", "a2", "email", 1.0, 0.0)],
        closed={"c1": "2025-01-20", "c2": "2025-03-10", "c3": "2025-05-31"},
    )  # fmt: skip
    spend = pl.DataFrame(
        {"channel": ["linkedin"] * 4,
         "month": ["2025-01-01", "2025-02-01", "2025-03-01", "2025-04-01"],
         "amount": [1_000.0] * 4}
    )  # fmt: skip
    return res, spend, ACCOUNTS


def test_monthly_rerate_per_segment() -> None:
    res, spend, accounts = monthly_world()
    econ = attribution.unit_economics(
        res, spend, accounts=accounts, gross_margin=0.8, annual_churn=0.2, monthly_lag_months=0
    )
    li = econ.monthly.filter(pl.col("channel") == "linkedin").sort("segment", "month")
    rows = {(r["segment"], r["month"]): r for r in li.iter_rows(named=True)}
    march, april = date(2025, 3, 1), date(2025, 4, 1)
    # linkedin's spend split half and half (one touch on each account): smb's March window
    # holds 1,500 of spend and c1 (LTV 1,200 x 0.8 x 5 = 4,800): 31% of it, a breach
    smb_march, smb_april = rows[("smb", march)], rows[("smb", april)]
    assert smb_march["spend"] == pytest.approx(1_500.0)
    assert smb_march["customers"] == 1.0
    assert smb_march["guardrail_share"] == pytest.approx(1_500 / 4_800)
    assert smb_march["breach"] is True
    assert smb_april["status"] == "no_customers"
    assert (smb_april["breach_streak"], smb_april["rerate"]) == (2, True)
    # enterprise's and every segment's rows stay inside the line: the smb breach is hidden
    assert not rows[("enterprise", march)]["breach"]
    assert not rows[("all", march)]["breach"]
    assert rows[("all", april)]["rerate"] is False
    assert rows[("enterprise", april)]["payback_target_months"] == 24.0
    summary = econ.summary()
    assert "Re-rating (guardrail breached two months running, trailing three months): none." in (
        summary
    )
    # April, the month re-rated, had spend and no customer of the segment: said beside it
    assert "  by segment: smb: linkedin (from 2025-04-01; no customers in those windows)." in (
        summary
    )


@st.composite
def monthly_worlds(draw: st.DrawFn):
    rows, closed = [], {}
    for conv in range(draw(st.integers(1, 8))):
        account = draw(st.sampled_from(["a1", "a2", "a3", None]))
        channel = draw(st.sampled_from(["linkedin", "google_ads", "email"]))
        rows.append((f"c{conv}", f"t{conv}", account, channel, 1.0,
                     draw(st.floats(0, 50_000))))  # fmt: skip
        closed[f"c{conv}"] = f"2025-0{draw(st.integers(1, 5))}-1{draw(st.integers(0, 9))}"
    rows.append(("end", "tend", "a1", "email", 1.0, 0.0))
    closed["end"] = "2025-05-31"
    months = [f"2025-0{m}-01" for m in range(1, 6)]
    spend = pl.DataFrame(
        {"channel": ["linkedin"] * 5 + ["google_ads"] * 5, "month": months * 2,
         "amount": draw(st.lists(st.floats(0, 1e4), min_size=10, max_size=10))}
    )  # fmt: skip
    return result_from_touches(rows, closed), spend


@given(world=monthly_worlds(), allocation=st.sampled_from(["customers", "spend"]))
@settings(max_examples=30, deadline=None)
def test_monthly_segments_add_up_to_the_all_rows(world, allocation) -> None:
    res, spend = world
    econ = attribution.unit_economics(
        res, spend, accounts=ACCOUNTS, costs={"x": 900.0}, allocation=allocation,
        monthly_lag_months=0,
    )  # fmt: skip
    monthly = econ.monthly
    keys = ["model", "channel", "month"]
    parts = (
        monthly.filter(pl.col("segment") != "all")
        .group_by(keys)
        .agg(pl.col("customers", "revenue", "spend", "non_media_cost").sum())
    )
    whole = monthly.filter(pl.col("segment") == "all").join(
        parts, on=keys, how="full", coalesce=True, suffix="_seg"
    )
    for col in ("customers", "revenue", "spend", "non_media_cost"):
        assert whole.get_column(f"{col}_seg").fill_null(0.0).to_list() == pytest.approx(
            whole.get_column(col).fill_null(0.0).to_list(), rel=1e-9, abs=1e-6
        )
    # a streak counts consecutive breaches of its own series
    for (_, _, _), part in monthly.group_by("model", "segment", "channel"):
        streak = 0
        for r in part.sort("month").iter_rows(named=True):
            streak = streak + 1 if r["breach"] else 0
            assert r["breach_streak"] == streak
            assert r["rerate"] == (streak >= 2)


def test_gross_margin_per_segment(three_deals) -> None:  # noqa: F811
    margins = {"SMB": 0.5, "Enterprise": 0.9, "all": 0.8}
    econ = attribution.unit_economics(
        three_deals, SPEND, accounts=ACCOUNTS, gross_margin=margins, annual_churn=0.2
    )
    li_smb, li_ent = seg(econ, "smb", "linkedin"), seg(econ, "enterprise", "linkedin")
    assert (li_smb["gross_margin"], li_ent["gross_margin"]) == (0.5, 0.9)
    assert li_smb["ltv"] == pytest.approx(12_000 * 0.5 / 0.2)
    assert li_ent["ltv"] == pytest.approx(24_000 * 0.9 / 0.2)
    assert li_ent["payback_months"] == pytest.approx(500 / (2_000 * 0.9))
    li_all = econ.table.filter(pl.col("channel") == "linkedin").row(0, named=True)
    assert li_all["gross_margin"] == 0.8
    assert li_all["ltv"] == pytest.approx(42_000 / 2.5 * 0.8 / 0.2)
    blended = {r["segment"]: r for r in econ.blended.iter_rows(named=True)}
    assert blended["smb"]["gross_margin"] == 0.5
    assert econ.parameters["gross_margin"] == {
        "value": 0.8, "source": "given for all", "by_segment": {"smb": 0.5, "enterprise": 0.9}
    }  # fmt: skip
    inputs = {r["segment"]: r for r in econ.parameters["ltv_inputs"]}
    assert inputs["smb"]["gross_margin_source"] == "given for smb"
    assert inputs["all"]["gross_margin_source"] == "given for all"
    assert "LTV = ARPA x 80% margin (smb 50%, enterprise 90%) / annual churn" in econ.summary()
    # the monthly segment rows use their segment's margin too
    res, spend, accounts = monthly_world()
    monthly = attribution.unit_economics(
        res, spend, accounts=accounts, gross_margin={"smb": 0.4}, monthly_lag_months=0
    ).monthly
    got = dict(monthly.select("segment", "gross_margin").unique().iter_rows())
    assert got == {"all": 0.75, "smb": 0.4, "enterprise": 0.75}
    with pytest.raises(attribution.ModelParameterError, match="gross_margin"):
        attribution.unit_economics(three_deals, SPEND, gross_margin={"smb": 1.5})


def test_config_takes_a_gross_margin_per_segment(tmp_path) -> None:
    from attribution.inputs._config import load_config

    cfg = tmp_path / "run.toml"
    cfg.write_text('[economics]\ngross_margin = {smb = 0.7, all = 0.8}\n')
    assert load_config(cfg).economics == {"gross_margin": {"smb": 0.7, "all": 0.8}}
    cfg.write_text('[economics]\ngross_margin = {smb = "high"}\n')
    with pytest.raises(attribution.ConfigError, match=r"\[economics\] gross_margin must be"):
        load_config(cfg)
