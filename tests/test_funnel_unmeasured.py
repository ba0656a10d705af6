"""Steps and KPIs whose stages the data does not have are "not measured", never a judged rate.

A CRM export with only ``lead`` and ``closed_won`` used to read mql -> sql 100%, win rate 100%
"better" than 20-30% and marketing-sourced pipeline 100%: a later stage implies the earlier
ones, so every step before a stage of the data was passed by construction.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution

STEPS = ["lead", "mql", "sql", "opportunity", "closed_won"]
LOST = "closed_lost"
ORIGIN = datetime(2025, 1, 1, tzinfo=UTC)


def only_lead_and_won(make_stages, n: int = 20, won: int = 12) -> pl.DataFrame:
    rows = [(f"c{i}", "lead", i % 7, None) for i in range(n)]
    rows += [(f"c{i}", "closed_won", 30 + i, 1000.0 + i) for i in range(won)]
    return make_stages(rows)


def test_lead_and_won_only_measure_nothing_between(make_stages, make_touches) -> None:
    stages = only_lead_and_won(make_stages)
    touches = make_touches([(f"t{i}", f"c{i}", "linkedin", 0) for i in range(20)])
    f = attribution.funnel(stages, touches)
    overall = f.overall()
    assert overall.get_column("rate").null_count() == overall.height  # no step measured
    assert overall.get_column("benchmark_gap").null_count() == overall.height
    reasons = dict(overall.select("from_stage", "not_measured").rows())
    assert "no 'mql' event" in reasons["lead"]
    assert "no 'mql' or 'sql' event" in reasons["mql"]
    assert "'opportunity' or 'closed_lost'" in reasons["opportunity"]
    # the leads are real; the MQLs "reached" by implication are not counted
    assert dict(overall.select("from_stage", "entered").rows()) == {
        "lead": 20, "mql": None, "sql": None, "opportunity": None,
    }  # fmt: skip
    kpis = {r["kpi"]: r for r in f.kpis.filter(pl.col("dimension") == "all").iter_rows(named=True)}
    for kpi in ("win_rate", "pipeline_velocity_per_day", "marketing_sourced_share",
                "marketing_influenced_share", "time_to_close_days"):  # fmt: skip
        assert kpis[kpi]["value"] is None, kpi
        assert kpis[kpi]["benchmark_gap"] is None, kpi
        assert kpis[kpi]["not_measured"].startswith("not measured: the data has no"), kpi
    assert "closed_lost" in kpis["win_rate"]["not_measured"]
    # what the data does have is still measured
    assert kpis["average_deal_size"]["value"] == pytest.approx(1005.5)
    assert kpis["customer_concentration"]["not_measured"] is None
    mql_rate = f.kpis.filter(pl.col("kpi") == "mql_rate")
    assert mql_rate.height
    assert mql_rate.get_column("value").null_count() == mql_rate.height
    assert f.pipeline is None  # only won deals: no created pipeline to judge per dollar
    # nor is a weekly series of them tested (lead -> mql would read "leads that won")
    weekly = set(f.weekly.get_column("metric").to_list())
    assert "lead_volume" in weekly
    assert not weekly & {"lead_to_mql", "mql_to_sql", "win_rate", "cost_per_mql", "mql_volume"}
    assert f.velocity.filter(pl.col("dimension") == "all").item(0, "win_rate") is None
    text = f.summary()
    assert "100%" not in text
    assert "win rate                       not measured" in text
    assert "better" not in text


def test_lost_without_opportunity_still_measures_the_win_rate(make_stages) -> None:
    stages = make_stages(
        [("a", "lead", 0, None), ("a", "closed_won", 9, 10.0), ("b", "lead", 1, None),
         ("b", "closed_lost", 9, None), ("c", "lead", 2, None), ("c", "closed_lost", 8, None)]
    )  # fmt: skip
    f = attribution.funnel(stages)
    rates = dict(f.overall().select("from_stage", "rate").rows())
    assert rates["opportunity"] == pytest.approx(1 / 3)  # a lost deal was an opportunity
    assert rates["sql"] is None
    assert rates["lead"] is None
    win = f.kpis.filter((pl.col("kpi") == "win_rate") & (pl.col("dimension") == "all"))
    assert win.item(0, "value") == pytest.approx(1 / 3)
    assert win.item(0, "not_measured") is None


@st.composite
def crm(draw: st.DrawFn) -> pl.DataFrame:
    """Entities with a random path through a random subset of the stages a CRM records."""
    recorded = draw(st.sets(st.sampled_from([*STEPS, LOST]), min_size=1))
    rows = []
    for i in range(draw(st.integers(1, 12))):
        depth = draw(st.integers(0, len(STEPS) - 1))
        lost = depth == len(STEPS) - 2 and draw(st.booleans())
        path = STEPS[: depth + 1] + ([LOST] if lost else [])
        kept = [s for s in path if s in recorded]
        rows += [(f"e{i}", s, float(k), None) for k, s in enumerate(kept)]
    if not rows:
        s = sorted(recorded)[0]
        rows = [("e0", s, 0.0, None)]
    return pl.DataFrame(
        [(c, s, ORIGIN + timedelta(days=d), v) for c, s, d, v in rows],
        schema={"contact_id": pl.String, "stage": pl.String,
                "timestamp": pl.Datetime("us", "UTC"), "value": pl.Float64},
        orient="row",
    )  # fmt: skip


@given(stages=crm())
@settings(max_examples=80, deadline=None)
def test_a_step_is_measured_exactly_when_the_data_has_both_its_stages(stages) -> None:
    f = attribution.funnel(stages)
    seen = set(stages.get_column("stage").to_list())
    depth = {s: i for i, s in enumerate(STEPS)} | {LOST: len(STEPS) - 2}
    deepest = (
        stages.with_columns(pl.col("stage").replace_strict(depth).alias("d"))
        .group_by("contact_id")
        .agg(pl.col("d").max())
        .get_column("d")
    )
    for i, r in enumerate(f.overall().iter_rows(named=True)):
        a, b = STEPS[i], STEPS[i + 1]

        def has(s: str, j: int) -> bool:
            return s in seen or (j == len(STEPS) - 2 and LOST in seen)

        if has(a, i) and has(b, i + 1):
            entered, advanced = int((deepest >= i).sum()), int((deepest >= i + 1).sum())
            assert r["not_measured"] is None
            assert (r["entered"], r["advanced"]) == (entered, advanced)
            assert r["rate"] == (pytest.approx(advanced / entered) if entered else None)
        else:
            assert r["rate"] is None
            assert r["advanced"] is None
            assert r["benchmark_gap"] is None
            assert r["not_measured"].startswith("not measured: the data has no")
    # a KPI that is not measured has no value and no verdict, whatever the data
    unmeasured = f.kpis.filter(pl.col("not_measured").is_not_null())
    assert unmeasured.get_column("value").null_count() == unmeasured.height
    assert unmeasured.get_column("benchmark_gap").null_count() == unmeasured.height
    win = f.kpis.filter((pl.col("kpi") == "win_rate") & (pl.col("dimension") == "all"))
    if LOST not in seen:
        assert win.item(0, "value") is None


def test_cli_and_report_say_not_measured(make_stages, make_touches, tmp_path: Path) -> None:
    only_lead_and_won(make_stages).write_parquet(tmp_path / "stages.parquet")
    make_touches([(f"t{i}", f"c{i}", "linkedin", 0) for i in range(20)]).write_parquet(
        tmp_path / "touches.parquet"
    )
    pl.DataFrame(
        {"channel": ["linkedin"], "month": ["2025-01-01"], "amount": [5000.0]}
    ).write_parquet(tmp_path / "spend.parquet")
    proc = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "run", "--touches", "touches.parquet",
         "--stages", "stages.parquet", "--spend", "spend.parquet", "-m", "linear",
         "--out", "runs"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    funnel_part = proc.stdout[proc.stdout.index("Funnel of ") : proc.stdout.index("Alerts:")]
    assert "100%" not in funnel_part
    assert "mql -> sql" in funnel_part
    assert "not measured" in funnel_part
    assert "win rate                       not measured" in funnel_part
    (run,) = (tmp_path / "runs").iterdir()
    page = (run / "report.html").read_text()
    gap = page[page.index('<dd elementtiming="answer-4">') :]
    gap = gap[: gap.index("</dd>")]
    assert "No funnel step can be measured" in gap
    assert "No funnel in this run" not in gap
    section = page[page.index('id="funnel"') :]
    assert "No funnel step is measured: lead → MQL: not measured" in section[:3000]
    assert "Weakest stage:" not in section[:3000]
    tiles = page[page.index('aria-label="Key figures"') :]
    assert "Win rate" not in tiles[: tiles.index("</div></div>") + 200]
