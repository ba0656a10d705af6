"""CPM, CPC and CTR per channel from spend rows that carry impressions and clicks, against
the channel's published ranges."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution

STAGES = pl.DataFrame(
    {"contact_id": ["c1", "c1"], "stage": ["lead", "mql"],
     "timestamp": ["2025-01-02", "2025-01-05"]}
)  # fmt: skip
SPEND = pl.DataFrame(
    {
        "channel": ["LinkedIn", "linkedin", "programmatic", "google_ads", "email"],
        "month": ["2025-01-01", "2025-02-01", "2025-01-01", "2025-01-01", "2025-01-01"],
        "amount": [3_000.0, 1_000.0, 2_000.0, 500.0, 100.0],
        "impressions": [60_000.0, None, 40_000.0, None, None],
        "clicks": [300.0, 100.0, 20.0, 50.0, None],
    }
)


def media(flow: attribution.Funnel) -> dict[tuple[str, str], dict[str, object]]:
    rows = flow.kpis.filter(pl.col("kpi").is_in(["cpm", "cpc", "ctr"]))
    return {(r["group"], r["kpi"]): r for r in rows.iter_rows(named=True)}


def test_cpm_cpc_ctr_by_hand_against_the_channel_ranges() -> None:
    got = media(attribution.funnel(STAGES, spend=SPEND))
    # linkedin: CPM over the row with impressions, CPC over both rows with clicks
    assert got[("linkedin", "cpm")]["value"] == pytest.approx(3_000 / 60_000 * 1_000)
    assert got[("linkedin", "cpc")]["value"] == pytest.approx(4_000 / 400)
    assert got[("linkedin", "ctr")]["value"] == pytest.approx(300 / 60_000)
    for kpi, (low, high) in {"cpm": (30, 80), "cpc": (5, 15), "ctr": (0.003, 0.008)}.items():
        row = got[("linkedin", kpi)]
        assert (row["benchmark_low"], row["benchmark_high"]) == (low, high)
        assert row["benchmark_gap"] == 0.0
    assert got[("linkedin", "cpm")]["detail"] == "$3000 spend / 60000 impressions"
    # programmatic: CPM $50 against $10-30, lower is better: short by 50 / 30 - 1
    cpm = got[("programmatic", "cpm")]
    assert cpm["value"] == pytest.approx(50.0)
    assert cpm["benchmark_gap"] == pytest.approx(-(50 / 30 - 1))
    assert got[("programmatic", "ctr")]["benchmark_gap"] == 0.0  # 0.05%: the low end
    # no range for google_ads' CPC; no counts at all for email: no rows
    assert got[("google_ads", "cpc")]["benchmark_low"] is None
    assert ("google_ads", "cpm") not in got
    assert not any(group == "email" for group, _ in got)
    lines = "\n".join(attribution.funnel(STAGES, spend=SPEND).summary().splitlines())
    assert "programmatic: CPM $50 vs a target of $10-$30 (67% above it, short)" in lines
    # a spend table without the counts has no media rows
    assert media(attribution.funnel(STAGES, spend=SPEND.drop("impressions", "clicks"))) == {}


def test_negative_counts_name_the_file_column_and_line(tmp_path: Path) -> None:
    path = tmp_path / "spend.csv"
    SPEND.with_columns(
        pl.when(pl.col("channel") == "email").then(-5.0).otherwise(pl.col("clicks"))
        .alias("clicks")
    ).rename({"clicks": "Clicks"}).write_csv(path)  # fmt: skip
    with pytest.raises(attribution.InputError) as err:
        attribution.funnel(STAGES, spend=path, columns={"spend": {"clicks": "Clicks"}})
    text = str(err.value)
    assert "column 'Clicks' (ours: 'clicks')" in text
    assert "spend.csv" in text
    assert "1 negative clicks (first offending lines: 6)" in text  # header + the fifth row


@given(
    rows=st.lists(
        st.tuples(st.floats(1, 1e5), st.integers(1, 10**6), st.integers(1, 10**4)),
        min_size=1,
        max_size=8,
        unique=True,  # rows equal in every column are one spend row (README: spend)
    )
)
@settings(max_examples=40, deadline=None)
def test_cpm_is_cpc_times_ctr(rows) -> None:
    spend = pl.DataFrame(
        {
            "channel": ["linkedin"] * len(rows),
            "month": ["2025-01-01"] * len(rows),
            "amount": [r[0] for r in rows],
            "impressions": [float(r[1]) for r in rows],
            "clicks": [float(r[2]) for r in rows],
        }
    )
    got = media(attribution.funnel(STAGES, spend=spend))
    cpm, cpc, ctr = (got[("linkedin", k)]["value"] for k in ("cpm", "cpc", "ctr"))
    assert cpm == pytest.approx(1_000 * cpc * ctr, rel=1e-9)
    assert cpm * sum(r[1] for r in rows) / 1_000 == pytest.approx(sum(r[0] for r in rows))


def test_sourced_sql_conversion_and_leads_per_click() -> None:
    # four leads sourced by content syndication: three MQLs, one SQL; two by paid search
    people = [f"p{i}" for i in range(6)]
    stages = pl.DataFrame(
        {
            "contact_id": people + ["p0", "p1", "p2", "p0"] + ["p4"],
            "stage": ["lead"] * 6 + ["mql", "mql", "mql", "sql"] + ["mql"],
            "timestamp": ["2025-01-02"] * 6 + ["2025-01-05"] * 4 + ["2025-01-05"],
        }
    )
    touches = pl.DataFrame(
        {
            "contact_id": people,
            "channel": ["content_syndication"] * 4 + ["paid_search"] * 2,
            "timestamp": ["2025-01-01"] * 6,
        }
    )
    spend = pl.DataFrame(
        {"channel": ["paid_search", "paid_search"], "month": ["2025-01-01", "2025-02-01"],
         "amount": [400.0, 100.0], "clicks": [40.0, None]}
    )  # fmt: skip
    kpis = attribution.funnel(stages, touches, spend).kpis.filter(
        pl.col("dimension") == "channel"
    )
    got = {(r["group"], r["kpi"]): r for r in kpis.iter_rows(named=True)}
    syndication = got[("content_syndication", "sql_conversion")]
    assert syndication["value"] == pytest.approx(1 / 3)
    assert (syndication["benchmark_low"], syndication["benchmark_high"]) == (0.10, 0.20)
    assert syndication["benchmark_gap"] == pytest.approx(1 / 3 / 0.20 - 1)
    assert syndication["detail"] == "1 of 3 sourced MQLs"
    per_click = got[("paid_search", "conversion_rate")]
    assert per_click["value"] == pytest.approx(2 / 40)
    assert per_click["benchmark_gap"] == 0.0  # 5%: the low end of 5-15%
    assert per_click["detail"] == "2 sourced leads / 40 clicks"
    # paid search's CPC: no range of its own (brand or generic is not known)
    assert got[("paid_search", "cpc")]["value"] == pytest.approx(400 / 40)
    assert got[("paid_search", "cpc")]["benchmark_low"] is None
    # without clicks there is no leads-per-click row
    bare = attribution.funnel(stages, touches, spend.drop("clicks")).kpis
    assert bare.filter(pl.col("kpi") == "conversion_rate").height == 0
