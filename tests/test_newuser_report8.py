"""Defects a growth lead found with a HubSpot export and a finance spend sheet (new-user
report 8): a header-only spend file was a traceback after the whole run; spend on channels
whose names match no touch channel printed "Guardrail breaches: none" as if judged."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.exceptions import InputError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


@pytest.fixture(scope="module")
def result() -> attribution.AttributionResult:
    return attribution.attribute(
        SAMPLE / "touches.parquet", SAMPLE / "stages.parquet", models=["linear"]
    )


def test_a_header_only_spend_file_is_an_error_naming_it(result, tmp_path) -> None:
    empty = tmp_path / "spend.csv"
    empty.write_text("channel,month,amount\n")
    with pytest.raises(InputError, match=r"spend.*spend\.csv.*no data rows"):
        attribution.unit_economics(result, empty)
    blank = tmp_path / "blank.csv"
    blank.write_text("channel,month,amount\n,,\n")
    with pytest.raises(InputError, match=r"blank\.csv"):
        attribution.unit_economics(result, blank)
    # an empty frame stays an empty table (nothing to read wrong)
    frame = pl.read_csv(empty, schema_overrides={"month": pl.Date, "amount": pl.Float64})
    with pytest.raises(InputError):  # no spend at all: refused, not a traceback
        attribution.unit_economics(result, frame)


def test_the_cli_says_so_in_one_line(tmp_path) -> None:
    empty = tmp_path / "spend.csv"
    empty.write_text("channel,month,amount\n")
    done = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "run", "--touches",
         str(SAMPLE / "touches.parquet"), "--stages", str(SAMPLE / "stages.parquet"),
         "-m", "linear", "--spend", str(empty), "--out", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert "spend.csv" in done.stderr
    assert "no data rows" in done.stderr


def test_spend_matching_no_touch_channel_is_not_judged_as_no_breach(result, tmp_path) -> None:
    spend = pl.read_parquet(SAMPLE / "spend.parquet").with_columns(
        pl.col("channel") + " Ads"  # finance's names, no [channels] mapping yet
    )
    text = attribution.unit_economics(result, spend).summary("linear")
    line = next(x for x in text.splitlines() if x.startswith("Guardrail breaches under"))
    assert "none judged" in line
    total = spend.get_column("amount").sum()
    assert f"${total:,.0f} of ${total:,.0f}" in line
    # mapped, the same spend is judged: a verdict, not "none judged"
    judged = attribution.unit_economics(
        result, pl.read_parquet(SAMPLE / "spend.parquet")
    ).summary("linear")
    assert "none judged" not in judged


def test_the_funnel_never_suggests_mapping_an_imports_customer_stage() -> None:
    """An import writes the contacts' lifecycle 'customer' dates beside the deals' won
    events; the funnel's hint told the user to map 'customer' into the funnel, which counts
    each win twice (47 conversions became 94, payback past its target)."""
    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    won = stages.filter(pl.col("stage") == "closed_won")
    lifecycle = won.with_columns(pl.lit("customer").alias("stage"))
    extra = stages.filter(pl.col("stage") == "lead").head(3).with_columns(
        pl.lit("Evangelist").alias("stage")
    )
    both = pl.concat([stages, lifecycle, extra])
    result = attribution.attribute(touches, both, models=["linear"])
    inputs = attribution.B2BInputs(touches=touches, stages=both, spend=SAMPLE / "spend.parquet")
    analysis = attribution.analyse(result, inputs)
    funnel = next(x for x in analysis.extras if type(x).__name__ == "Funnel")
    summary = funnel.summary()  # type: ignore[attr-defined]
    assert '= ["customer"]' not in summary
    assert f"'customer' ({won.height:,} events, the contacts' lifecycle date) is left out" in (
        summary
    )
    # another stage the funnel does not know still gets its mapping line
    assert '[stage_names] <our stage> = ["Evangelist"]' in summary


def test_a_later_stage_dated_before_the_earlier_one_has_no_negative_days() -> None:
    """A HubSpot contact added to a deal after its creation has its opportunity event (the
    deal's create date) before its own SQL date: the funnel printed 'sql -> opportunity
    -15.1 days'. Such entities are left out of the days in stage, and counted."""
    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    opp = stages.filter(pl.col("stage") == "opportunity").get_column("contact_id").unique()
    moved = opp.head(40)
    sql_at = stages.filter((pl.col("stage") == "sql") & pl.col("contact_id").is_in(moved.implode()))
    late = sql_at.get_column("contact_id").unique()
    shifted = stages.with_columns(
        pl.when((pl.col("stage") == "sql") & pl.col("contact_id").is_in(late.implode()))
        .then(pl.col("timestamp") + pl.duration(days=400))
        .otherwise(pl.col("timestamp"))
        .alias("timestamp")
    )
    result = attribution.attribute(touches, shifted, models=["linear"])
    inputs = attribution.B2BInputs(touches=touches, stages=shifted, spend=SAMPLE / "spend.parquet")
    funnel = next(x for x in attribution.analyse(result, inputs).extras
                  if type(x).__name__ == "Funnel")  # fmt: skip
    table = funnel.overall()  # type: ignore[attr-defined]
    assert table.get_column("median_days_in_stage").drop_nulls().min() >= 0
    assert table.get_column("p75_days_in_stage").drop_nulls().min() >= 0
    counted = funnel.counts["steps_out_of_order"]  # type: ignore[attr-defined]
    assert counted.get("sql -> opportunity", 0) >= late.len() > 0
    assert "Left out of the days in stage" in funnel.summary()  # type: ignore[attr-defined]


def test_won_deals_without_an_amount_are_said_beside_ltv() -> None:
    """7 of 47 won deals without an Amount counted as $0 revenue in ARPA: LTV 15% low, and
    the economics did not say so."""
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    blank = pl.col("contact_id").hash(0) % 7 == 0
    stages = stages.with_columns(
        pl.when(blank).then(None).otherwise(pl.col("value")).alias("value")
    )
    result = attribution.attribute(SAMPLE / "touches.parquet", stages, models=["linear"])
    econ = attribution.unit_economics(result, SAMPLE / "spend.parquet")
    z = econ.parameters["customers_at_zero_value"]
    credited = result.conversions.filter(pl.col("n_touches") > 0)
    assert z["customers"] == credited.height
    assert z["at_zero"] == credited.filter(pl.col("value") <= 0).height > 0
    assert f"{z['at_zero']:,} of {z['customers']:,} credited customers" in econ.summary()
    assert "counts them at $0" in econ.summary()
    # every deal with an amount: no such line
    full = attribution.unit_economics(
        attribution.attribute(SAMPLE / "touches.parquet", SAMPLE / "stages.parquet",
                              models=["linear"]),
        SAMPLE / "spend.parquet",
    )  # fmt: skip
    assert full.parameters["customers_at_zero_value"] is None
    assert "are won deals at $0" not in full.summary()


def test_a_reps_logged_email_is_a_sales_touch_not_the_email_channel(tmp_path) -> None:
    """HubSpot's EMAIL / CALL / MEETING activities without UTM fields (a rep's own 1:1
    work) became the channels email / call / meeting: 16% of the marketing email channel's
    credit went to reps' e-mails, and the plan's default sales exclusion (sales_call,
    sales_email, meeting) missed them. Now they are sales touches by type and channel; an
    EMAIL activity with UTM fields (a marketing e-mail click) keeps its UTM channel."""
    import shutil

    folder = tmp_path / "hs"
    shutil.copytree(ROOT / "tests" / "fixtures" / "hubspot_ui", folder)
    with (folder / "engagements.csv").open("a") as f:
        f.write("E12,EMAIL,2025-02-26 10:00,102,,,\nE13,CALL,2025-02-27 10:00,101,,,\n")
    found = attribution.import_hubspot(
        folder / "contacts.csv", folder / "deals.csv", engagements=folder / "engagements.csv",
        out=tmp_path / "crm",
    )  # fmt: skip
    touches = pl.read_parquet(tmp_path / "crm" / "touches.parquet")
    by_id = {r["touch_id"]: r for r in touches.iter_rows(named=True)}
    assert (by_id["E12"]["channel"], by_id["E12"]["touch_type"]) == ("sales_email", "sales_email")
    assert (by_id["E13"]["channel"], by_id["E13"]["touch_type"]) == ("sales_call", "sales_call")
    assert (by_id["E3"]["channel"], by_id["E3"]["touch_type"]) == ("meeting", "meeting")
    assert by_id["E4"]["channel"] == "email"  # EMAIL with UTM hubspot / email: marketing
    assert found is not None


def test_plan_reads_the_configs_inputs_as_run_does(tmp_path) -> None:
    """`attribution plan plan.toml -c run.toml` ignored the config's [inputs] and answered
    'without data' (exit 0, 0 flags) where the same config's run measured the plan."""
    config = tmp_path / "run.toml"
    config.write_text(
        "[inputs]\n"
        f'touches = "{SAMPLE / "touches.parquet"}"\n'
        f'stages = "{SAMPLE / "stages.parquet"}"\n'
        f'spend = "{SAMPLE / "spend.parquet"}"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "plan", str(SAMPLE / "plan.toml"),
         "-c", str(config), "-m", "linear", "--out", str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "without data" not in done.stdout
    assert "buys about" in done.stdout  # measured at the data's CACs


def test_small_wordings_a_growth_lead_tripped_on(result, tmp_path) -> None:
    """Report 8 #12, #14, #18: a blank spend cell says what to write; the channel nearest
    the guardrail from below is 'closest inside the line' (not the one just over it); an
    unquoted '750k' in a plan says how amounts are written."""
    blank = tmp_path / "spend.csv"
    blank.write_text("channel,month,amount\nlinkedin,2025-01-01,100\nemail,2025-01-01,\n")
    with pytest.raises(InputError, match="a month without spend: write 0"):
        attribution.unit_economics(result, blank)
    text = attribution.unit_economics(result, SAMPLE / "spend.parquet").summary("linear")
    assert "Closest inside the line:" in text
    assert "Closest to the line" not in text
    plan = tmp_path / "plan.toml"
    plan.write_text("[budget]\nlinkedin = 750k\n")
    with pytest.raises(attribution.ConfigError, match=r"750000 or 750_000, not 750k"):
        attribution.check_plan(plan)


def test_a_finance_amount_and_a_misspelled_plan_channel_say_what_to_do(result, tmp_path) -> None:
    """Report 8 #11: '$24,379.07' in a spend sheet got the comma-decimal locale's hint;
    #17: a misspelled budget channel's did-you-mean was only in the assumptions list."""
    money = tmp_path / "spend.csv"
    # '$24,379.07' reads now (tests/test_fix10_money.py); another sign keeps a hint that
    # says what a money column reads
    money.write_text('channel,month,amount\nlinkedin,2025-01-01,"₹24,379.07"\n')
    with pytest.raises(InputError, match=r"'₹' is a currency sign.*also reads \$24,379.07"):
        attribution.unit_economics(result, money)
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    check = attribution.check_plan(
        {"budget": {"linkedn": 1000, "google_ads": 2000}, "targets": {"customers": 100}},
        result, pl.read_parquet(SAMPLE / "spend.parquet"), stages,
    )  # fmt: skip
    verdict = next(x for x in check.summary().splitlines() if x.startswith("Verdict"))
    assert "Did you mean: linkedn -> linkedin?" in verdict
