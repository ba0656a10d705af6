"""The funnel against the benchmark ranges: every step's range and gap, the biggest
conversion gap beside the data's own weakest step, segment rows, and the KPIs by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.b2b._retention import retention

DAY0 = datetime(2025, 1, 6, tzinfo=UTC)


def at(d: float) -> datetime:
    return DAY0 + timedelta(days=d)


def stage_rows() -> list[tuple[str, str, str, float, float | None]]:
    rows = [  # contact, account, stage, day, value
        ("c1", "A1", "lead", 0, None), ("c1", "A1", "mql", 1, None),
        ("c1", "A1", "sql", 2, None), ("c1", "A1", "opportunity", 10, None),
        ("c1", "A1", "closed_won", 40, 1000.0),
        ("c2", "A2", "lead", 0, None), ("c2", "A2", "mql", 1, None),
        ("c2", "A2", "sql", 3, None), ("c2", "A2", "opportunity", 12, None),
        ("c2", "A2", "closed_lost", 30, None),
        ("c3", "A3", "lead", 0, None), ("c3", "A3", "mql", 2, None),
        ("c3", "A3", "sql", 4, None), ("c3", "A3", "opportunity", 20, None),
        ("c3", "A3", "closed_won", 80, 9000.0),
        ("c4", "A3", "lead", 1, None), ("c4", "A3", "mql", 3, None),
        ("c5", "A4", "lead", 1, None),
        ("c6", "A2", "lead", 2, None), ("c6", "A2", "mql", 3, None),
        ("c7", "A1", "lead", 2, None),
    ]  # fmt: skip
    rows += [(f"m{i}", "A5", s, d, None) for i in range(20) for s, d in (("lead", 5), ("mql", 6))]
    rows += [(f"l{i}", "A6", "lead", 7, None) for i in range(200)]
    return rows


@pytest.fixture
def stages() -> pl.DataFrame:
    return pl.DataFrame(
        [(c, a, s, at(d), v) for c, a, s, d, v in stage_rows()],
        schema={"contact_id": pl.String, "account_id": pl.String, "stage": pl.String,
                "timestamp": pl.Datetime("us", "UTC"), "value": pl.Float64},
        orient="row",
    )  # fmt: skip


@pytest.fixture
def touches() -> pl.DataFrame:
    rows = [  # c1 sourced by marketing; c2 by sales, influenced; c3 marketing only after opp
        ("t1", "c1", "email", "email_open", -1),
        ("t2", "c2", "outbound", "sales_call", 5),
        ("t3", "c2", "linkedin", "ad_click", 6),
        ("t4", "c3", "outbound", "Sales_Email ", 1),
        ("t5", "c3", "linkedin", "ad_click", 30),
    ]
    return pl.DataFrame(
        [(t, c, ch, tt, at(d)) for t, c, ch, tt, d in rows],
        schema=["touch_id", "contact_id", "channel", "touch_type", "timestamp"],
        orient="row",
    )


@pytest.fixture
def accounts() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": ["A1", "A2", "A3", "A5"],
            "segment": ["SMB", "smb", "Enterprise", "Mid-Market"],
        }
    )


def row(frame: pl.DataFrame, **where: object) -> dict[str, object]:
    hit = frame.filter(pl.all_horizontal(pl.col(k) == v for k, v in where.items()))
    assert hit.height == 1, where
    return hit.row(0, named=True)


def test_every_step_gets_its_range_and_gap(stages) -> None:
    f = attribution.funnel(stages)
    mql = row(f.table, dimension="all", from_stage="mql")
    assert (mql["entered"], mql["advanced"]) == (25, 3)
    assert (mql["benchmark_low"], mql["benchmark_high"]) == (0.15, 0.25)
    assert mql["benchmark_gap"] == pytest.approx(0.12 / 0.15 - 1)  # 12% vs 15-25%: -20%
    sql = row(f.table, dimension="all", from_stage="sql")
    assert sql["benchmark_gap"] == pytest.approx(1.0 / 0.60 - 1)  # 100% vs 40-60%: above
    lead = row(f.table, dimension="all", from_stage="lead")
    assert lead["rate"] == pytest.approx(25 / 227)
    assert lead["benchmark_low"] is None  # visitor -> MQL is not lead -> MQL: no range
    assert lead["benchmark_gap"] is None
    # the cohort rows are judged too
    cohort = f.table.filter((pl.col("dimension") == "cohort") & (pl.col("from_stage") == "mql"))
    assert cohort.get_column("benchmark_low").to_list() == [0.15]
    # the biggest gap is the step furthest below its range, the lowest rate beside it
    w = f.weakest
    assert (w["from_stage"], w["to_stage"], w["below_range"]) == ("mql", "sql", True)
    assert w["benchmark_gap"] == pytest.approx(-0.2)
    assert w["data_weakest"]["from_stage"] == "lead"
    assert w["data_weakest"]["rate"] == pytest.approx(25 / 227)
    text = f.summary()
    assert (
        "Biggest conversion gap: mql -> sql at 12% vs a target of 15-25% (3.0 points (20%) below "
        "it, short)"
        in text
    )
    assert "weakest step (lowest rate): lead -> mql at 11%" in text


def test_no_step_below_its_range_says_so(stages) -> None:
    bench = attribution.load_benchmarks(targets={"mql_to_sql": [0.05, 0.10]})
    f = attribution.funnel(stages, benchmarks=bench)
    assert f.weakest["below_range"] is False
    assert f.weakest["from_stage"] == "lead"  # the data's lowest rate
    assert "none of the 3 step(s) with a benchmark range is below it" in f.summary()


def test_segment_rows_and_their_own_ranges(stages, accounts) -> None:
    bench = attribution.load_benchmarks(targets={"segment": {"smb": {"mql_to_sql": [0.5, 0.6]}}})
    f = attribution.funnel(stages, accounts=accounts, benchmarks=bench)
    seg = f.table.filter((pl.col("dimension") == "segment") & (pl.col("from_stage") == "mql"))
    got = {r["group"]: r for r in seg.iter_rows(named=True)}
    assert set(got) == {"smb", "enterprise", "mid_market"}  # A4, A6 reach no MQL
    smb = got["smb"]  # c1, c2, c6 entered; c1, c2 advanced
    assert (smb["entered"], smb["advanced"]) == (3, 2)
    assert (smb["benchmark_low"], smb["benchmark_high"]) == (0.5, 0.6)  # its own row
    assert smb["benchmark_gap"] == pytest.approx((2 / 3) / 0.6 - 1)
    mid = got["mid_market"]  # falls back to the row for every segment
    assert (mid["rate"], mid["benchmark_low"], mid["benchmark_gap"]) == (0.0, 0.15, -1.0)
    # the biggest gap per segment: mid_market's MQLs never reach SQL (0% vs 15-25%)
    assert list(f.weakest["by_segment"]) == ["mid_market"]
    assert f.weakest["by_segment"]["mid_market"]["from_stage"] == "mql"
    assert "Biggest gap by segment: mid_market: mql -> sql at 0% vs a target of 15-25%" in (
        f.summary()
    )
    leads = f.table.filter((pl.col("dimension") == "segment") & (pl.col("from_stage") == "lead"))
    assert dict(leads.select("group", "entered").rows()) == {
        "smb": 4, "enterprise": 2, "mid_market": 20, "unknown": 201,
    }  # fmt: skip


def test_kpis_by_hand(stages, touches, accounts) -> None:
    f = attribution.funnel(
        stages, touches, accounts=accounts, top_customers=1, nrr={"all": 1.05, "smb": 0.97}
    )
    k = f.kpis
    kpi = {r["kpi"]: r for r in k.filter(pl.col("dimension") == "all").iter_rows(named=True)}
    assert kpi["average_deal_size"]["value"] == pytest.approx(5000.0)  # (1000 + 9000) / 2
    assert kpi["time_to_close_days"]["value"] == pytest.approx(45.0)  # (30 + 60) / 2
    assert kpi["time_to_close_days"]["benchmark_gap"] == pytest.approx(-(45 / 90 - 1))
    assert kpi["sales_cycle_months"]["value"] == pytest.approx(45 / 30.4375)
    assert kpi["win_rate"]["value"] == pytest.approx(2 / 3)
    assert kpi["win_rate"]["benchmark_gap"] == pytest.approx((2 / 3) / 0.30 - 1)
    # open days 30 + 18 + 60 over an 80-day span, x 2/3 x $5,000 / 45 days
    assert kpi["pipeline_velocity_per_day"]["value"] == pytest.approx(108 / 80 * 2 / 3 * 5000 / 45)
    conc = kpi["customer_concentration"]
    assert conc["value"] == pytest.approx(0.9)  # A3's $9,000 of $10,000
    assert conc["detail"] == "top 1 of 2 customers"
    assert kpi["marketing_sourced_share"]["value"] == pytest.approx(1 / 3)  # c1 only
    assert kpi["marketing_influenced_share"]["value"] == pytest.approx(2 / 3)  # c1, c2
    assert kpi["marketing_sourced_share"]["benchmark_low"] == 0.30
    assert kpi["nrr"]["value"] == 1.05
    assert kpi["nrr"]["benchmark_low"] is None  # NRR ranges are per segment
    smb = {r["kpi"]: r for r in k.filter(pl.col("group") == "smb").iter_rows(named=True)}
    assert smb["win_rate"]["value"] == 0.5
    assert smb["average_deal_size"]["value"] == 1000.0
    assert smb["sales_cycle_months"]["benchmark_low"] == 1.0  # SMB: 1-3 months
    assert smb["sales_cycle_months"]["benchmark_gap"] == pytest.approx(1 - (30 / 30.4375) / 1)
    assert (smb["nrr"]["value"], smb["nrr"]["benchmark_low"]) == (0.97, 1.0)
    assert smb["nrr"]["benchmark_gap"] == pytest.approx(0.97 / 1.0 - 1)
    ent = {r["kpi"]: r for r in k.filter(pl.col("group") == "enterprise").iter_rows(named=True)}
    assert ent["sales_cycle_months"]["benchmark_low"] == 6.0
    text = f.summary()
    assert "win rate                       66.7% vs a target of 20-30%" in text
    assert "customer concentration         90% (top 1 of 2 customers)" in text


def test_nrr_comes_from_the_retention_stage(stages, accounts) -> None:
    subs = pl.DataFrame(
        {
            "account_id": ["A1", "A1", "A3", "A3"],
            "month": ["2025-01-01", "2025-02-01", "2025-01-01", "2025-02-01"],
            "mrr": [100.0, 110.0, 200.0, 200.0],
        }
    )
    kept = retention(subs, accounts)
    f = attribution.funnel(stages, accounts=accounts, nrr=kept)
    nrr = f.kpis.filter(pl.col("kpi") == "nrr")
    assert dict(nrr.select("group", "value").rows()) == pytest.approx(
        {s: kept.nrr(s) for s in kept.table.get_column("segment").to_list()}
    )
    assert dict(nrr.select("group", "value").rows())["smb"] == pytest.approx(1.1**12)


def test_written_columns_and_json(stages, touches, tmp_path: Path) -> None:
    f = attribution.funnel(stages, touches)
    f.write(tmp_path)
    table = pl.read_parquet(tmp_path / "funnel.parquet")
    assert {"benchmark_low", "benchmark_high", "benchmark_gap", "benchmark_source"} <= set(
        table.columns
    )
    kpis = pl.read_parquet(tmp_path / "funnel_kpis.parquet")
    assert kpis.columns[:4] == ["dimension", "group", "kpi", "value"]
    meta = json.loads((tmp_path / "funnel.json").read_text())
    assert meta["weakest_stage"]["from_stage"] == "mql"
    assert meta["weakest_stage"]["data_weakest"]["from_stage"] == "lead"
    assert {k["kpi"] for k in meta["kpis"]} >= {"win_rate", "customer_concentration"}


def test_cli_summary_shows_the_gap_with_numbers(stages, touches, accounts, tmp_path) -> None:
    stages.write_parquet(tmp_path / "stages.parquet")
    touches.write_parquet(tmp_path / "touches.parquet")
    accounts.write_parquet(tmp_path / "accounts.parquet")
    pl.DataFrame(
        {"channel": ["email", "linkedin"], "month": ["2025-01-01"] * 2, "amount": [500.0, 500.0]}
    ).write_parquet(tmp_path / "spend.parquet")
    proc = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "run", "--touches", "touches.parquet",
         "--stages", "stages.parquet", "--spend", "spend.parquet", "--accounts",
         "accounts.parquet", "-m", "linear", "--out", "runs"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Biggest conversion gap: mql -> sql at 12% vs a target of 15-25%" in proc.stdout
    assert "smb: average deal size $1,000" in proc.stdout
    (run,) = (tmp_path / "runs").iterdir()
    seg = pl.read_parquet(run / "funnel.parquet").filter(pl.col("dimension") == "segment")
    assert seg.height > 0
    page = (run / "report.html").read_text()
    # the answer at the top of the page: the step, its rate and its benchmark target
    gap = page[page.index('<dd elementtiming="answer-4">') :]
    gap = gap[: gap.index("</dd>")]
    assert "<b>MQL → SQL</b>: 12.0% advance (" in gap
    assert "against a benchmark target of <b>" in gap


def test_channel_kpis_against_the_channels_rows(stages, touches) -> None:
    spend = pl.DataFrame(
        {"channel": ["Email", "linkedin"], "month": ["2025-01-01"] * 2, "amount": [500.0, 80.0]}
    )
    bench = attribution.load_benchmarks(
        targets={"channel": {"email": {"cpl": [0, 100], "mql_rate": [0.2, 0.4]}}}
    )
    f = attribution.funnel(stages, touches, spend, benchmarks=bench)
    k = f.kpis.filter(pl.col("dimension") == "channel")
    email = {r["kpi"]: r for r in k.filter(pl.col("group") == "email").iter_rows(named=True)}
    assert email["mql_rate"]["value"] == 1.0  # c1: its one sourced lead became an MQL
    assert email["mql_rate"]["benchmark_gap"] == pytest.approx(1.0 / 0.4 - 1)
    assert email["cost_per_lead"]["value"] == 500.0
    assert email["cost_per_lead"]["benchmark_gap"] == pytest.approx(-(500 / 100 - 1))
    assert email["cost_per_mql"]["benchmark_low"] is None
    outbound = k.filter(pl.col("group") == "outbound")  # c2, c3; no spend: no costs
    # the rates of its sourced leads, and no cost row
    assert outbound.get_column("kpi").to_list() == ["mql_rate", "sql_conversion"]
    assert outbound.item(0, "benchmark_low") is None  # no row for the channel
    no_touch = k.filter((pl.col("group") == "(no touch)") & (pl.col("kpi") == "mql_rate"))
    assert no_touch.item(0, "value") == pytest.approx(22 / 224)
    assert "email: MQL rate of sourced leads 100% vs a target of 20-40%" in f.summary()


def test_a_touch_made_by_a_sales_team_is_not_marketing(stages, touches) -> None:
    # c1's only touch was an SDR's (owner_team set): its opportunity is not marketing's
    owned = touches.with_columns(
        pl.when(pl.col("touch_id") == "t1").then(pl.lit("sdr_east")).alias("owner_team")
    )
    kpi = dict(
        attribution.funnel(stages, owned)
        .kpis.filter(pl.col("dimension") == "all")
        .select("kpi", "value")
        .rows()
    )
    assert kpi["marketing_sourced_share"] == 0.0  # c2, c3 start with sales touches too
    assert kpi["marketing_influenced_share"] == pytest.approx(1 / 3)  # c2's LinkedIn click
