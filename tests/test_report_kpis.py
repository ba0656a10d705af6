"""The report's funnel KPI section: every KPI of funnel_kpis.parquet beside its range."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

import attribution
from attribution.report._page import render_report
from tests.test_economics_ranges import STAGES, TOUCHES
from tests.test_media_kpis import SPEND
from tests.test_segment_economics import ACCOUNTS, three_deals  # noqa: F401


def test_the_kpi_section_shows_each_kpi_with_its_range(tmp_path: Path) -> None:
    flow = attribution.funnel(
        STAGES, TOUCHES, SPEND, accounts=ACCOUNTS, nrr={"all": 1.02, "smb": 0.9}
    )
    flow.write(tmp_path)
    page = render_report(tmp_path, manifest={})
    start = page.index('<section id="kpis"')
    section = page[start : page.index("</section>", start)]
    assert "Funnel KPIs against their ranges" in section
    for title in ("Overall", "By segment", "By channel"):
        assert f"<h3>{title}</h3>" in section
    kpis = pl.read_parquet(tmp_path / "funnel_kpis.parquet")
    # every KPI row of the file is a row of the page
    assert section.count("<tr") - 3 == kpis.height  # three header rows
    # smb's NRR of 90% against 100-115%: short, marked; win rate 0 of 1 closed: short too
    cells = re.sub(r' class=""', "", section)
    assert (
        '<tr class="bad"><td>smb</td><td>NRR</td><td>90%</td><td>100-115%</td>'
        '<td>10.0 points (10%) below it</td><td>short</td>' in cells
    )
    assert "<td>enterprise</td><td>sales cycle</td><td>-</td><td>6-18 months</td>" in cells
    assert "<td>linkedin</td><td>CPM</td><td>$50</td><td>$30-$80</td>" in cells
    short = kpis.filter(pl.col("benchmark_gap") < 0).height
    judged = kpis.filter(pl.col("benchmark_gap").is_not_null()).height
    assert (
        f"Of the funnel KPIs (the KPI tables), <b>{short} of {judged}</b> with a range fall "
        "short of it" in page
    )
    # a run without the file has no such section
    (tmp_path / "funnel_kpis.parquet").unlink()
    assert 'id="kpis"' not in render_report(tmp_path, manifest={})


def test_the_economics_section_judges_segments_against_their_ranges(
    three_deals,  # noqa: F811
    tmp_path: Path,
) -> None:
    pipeline = attribution.funnel(STAGES, TOUCHES, accounts=ACCOUNTS).pipeline
    econ = attribution.unit_economics(
        three_deals, SPEND.select("channel", "month", "amount"), accounts=ACCOUNTS,
        pipeline=pipeline,
    )  # fmt: skip
    econ.write(tmp_path)
    page = render_report(tmp_path, manifest={})
    start = page.index('<section id="economics"')
    section = re.sub(r' class=""', "", page[start : page.index("</section>", start)])
    assert "Pipeline created per $</th>" in section  # the column, with its label
    blended = {r["segment"]: r for r in econ.blended.iter_rows(named=True)}
    smb = blended["smb"]
    assert smb["pipeline_per_dollar_judgement"] == "short"
    shown = f"{smb['created_pipeline_per_dollar']:.1f}×"  # ratios with × in every table
    assert re.search(rf'<tr class="bad"><td>smb</td>.*?<td class="num">{shown}</td>', section)
    assert "Short: smb (pipeline per $)" in section
