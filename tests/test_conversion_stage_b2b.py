"""The B2B steps read the run's conversion stage (new-user report 5 #20-#22, #24): a
conversion stage named as the data names it is the funnel's won stage; one before the won
stage (``opportunity``) gives no unit economics (its conversions are not customers); and
``analyse`` without options reads the inputs as the run did."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution import B2BInputs, analyse, attribute

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


@pytest.fixture(scope="module")
def renamed() -> tuple[pl.DataFrame, pl.DataFrame]:
    """The sample touches, and its stages as a Salesforce-like export names two of them."""
    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    stages = pl.read_parquet(SAMPLE / "stages.parquet").with_columns(
        pl.col("stage").replace({"closed_won": "Closed Won", "opportunity": "Opportunity Created"})
    )
    return touches, stages


def _kpi(funnel: object, kpi: str) -> dict[str, object]:
    kpis = funnel.kpis  # type: ignore[attr-defined]
    row = kpis.filter((pl.col("dimension") == "all") & (pl.col("kpi") == kpi))
    return row.row(0, named=True)


def _extra(analysis: attribution.Analysis, kind: str) -> object:
    return next(x for x in analysis.extras if type(x).__name__ == kind)


def test_a_conversion_stage_named_as_the_data_names_it_is_the_funnels_won_stage(
    renamed: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    touches, stages = renamed
    result = attribute(touches, stages, models=["linear"], conversion_stage="Closed Won")
    analysis = analyse(result, B2BInputs(touches=touches, stages=stages,
                                         spend=SAMPLE / "spend.parquet"))
    funnel = _extra(analysis, "Funnel")
    win = _kpi(funnel, "win_rate")
    # 521 won of 521 + 1,815 closed (before: "no closed_won event", a 0% win rate)
    assert win["not_measured"] is None
    assert win["value"] == pytest.approx(521 / (521 + 1815))
    summary = funnel.summary()  # type: ignore[attr-defined]
    assert "no 'closed_won' event" not in summary
    # the stage it does not know is named, with how to map it
    assert "'Opportunity Created' (2,797)" in summary
    assert '[stage_names] <our stage> = ["Opportunity Created"]' in summary
    assert funnel.counts["other_stages"] == {"Opportunity Created": 2797}  # type: ignore[attr-defined]
    # the biggest gap line is a sentence, never a Python dict (#22)
    assert "{" not in "\n".join(line for line in summary.splitlines() if "gap" in line)


def test_analyse_without_options_reads_the_stages_as_the_run_did(
    renamed: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    touches, stages = renamed
    names = {"closed_won": "Closed Won", "opportunity": "Opportunity Created"}
    result = attribute(touches, stages, models=["linear"], stage_names=names)
    assert result.options is not None
    assert result.options.stage_names == names
    inputs = B2BInputs(touches=touches, stages=stages, spend=SAMPLE / "spend.parquet")
    funnel = _extra(analyse(result, inputs), "Funnel")
    given = _extra(analyse(result, inputs, options=result.options), "Funnel")
    assert _kpi(funnel, "win_rate")["value"] == pytest.approx(521 / (521 + 1815))
    assert funnel.table.equals(given.table)  # type: ignore[attr-defined]
    assert not funnel.counts["other_stages"]  # type: ignore[attr-defined]


def test_column_mappings_of_the_run_are_used_by_analyse() -> None:
    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    stages = pl.read_parquet(SAMPLE / "stages.parquet").rename({"timestamp": "when"})
    result = attribute(touches, stages, models=["linear"],
                       columns={"stages": {"timestamp": "when"}})
    funnel = _extra(analyse(result, B2BInputs(touches=touches, stages=stages,
                                              spend=SAMPLE / "spend.parquet")), "Funnel")
    assert _kpi(funnel, "win_rate")["value"] == pytest.approx(521 / (521 + 1815))


def test_an_opportunity_run_gives_no_cac(tmp_path: Path) -> None:
    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    result = attribute(touches, stages, models=["linear"], conversion_stage="opportunity")
    analysis = analyse(result, B2BInputs(touches=touches, stages=stages,
                                         spend=SAMPLE / "spend.parquet"))
    kinds = [type(x).__name__ for x in analysis.extras]
    assert "UnitEconomics" not in kinds
    assert "Funnel" in kinds
    said = [x.summary() for x in analysis.extras if type(x).__name__ == "Said"]
    assert len(said) == 1
    assert "not computed" in said[0]
    assert "'opportunity'" in said[0]
    assert said[0].removeprefix("Note: ").rstrip(".") in result.manifest["notes"]
    # a campaign table of an opportunity run has no CAC (its "customers" are opportunities)
    campaigns = [x for x in analysis.extras if type(x).__name__ == "CampaignEconomics"]
    assert campaigns
    assert all(
        c.table.get_column("cac").null_count() == c.table.height  # type: ignore[attr-defined]
        for c in campaigns
    )
    out = result.write(tmp_path, also=analysis.outputs)
    assert not (out / "economics.parquet").exists()
    from attribution.report import write_report

    html = write_report(out).read_text()
    assert "No unit economics in this run: unit economics (CAC" in html
    assert "give the spend table" not in html
    # a plan is checked against customers: refused, saying why
    with pytest.raises(attribution.ConfigError, match="conversion stage is 'opportunity'"):
        analyse(result, B2BInputs(touches=touches, stages=stages,
                                  spend=SAMPLE / "spend.parquet",
                                  plan=SAMPLE / "plan.toml"))
