"""New-user report 8, minor findings: the B2B inputs (spend, plan...) checked before the
attribution runs (#13), one touch-type default for a plan's CAC (#16), date and amount
hints that fit the value shown (#19, #20), the naive-beside-UTC note of an import (#21),
a spend sheet's repeated header and months-as-columns said (#22), a plan's extrapolation
in its verdict's first sentence (#23)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.exceptions import InputError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attribution.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_bad_spend_file_is_an_error_before_the_attribution_runs(command, tmp_path) -> None:
    """#13: a spend typo was said after every model had run ([load] ... [done], then the
    error): it is said before the engine's first stage, exit 2."""
    spend = tmp_path / "spend.csv"
    spend.write_text("channel,month,amount\nlinkedin,2025-01-01,lots\n")
    data = ["--touches", str(SAMPLE / "touches.parquet"), "--stages",
            str(SAMPLE / "stages.parquet"), "--spend", str(spend), "--out", str(tmp_path / "r")]
    if command == "run":
        done = _cli("run", "-m", "linear", *data, "--plan", str(SAMPLE / "plan.toml"))
    else:
        done = _cli("plan", str(SAMPLE / "plan.toml"), *data)
    assert done.returncode == 2, done.stderr
    assert "spend.csv" in done.stderr
    assert "'lots'" in done.stderr
    assert "[load]" not in done.stderr  # no engine stage ran
    assert "Traceback" not in done.stderr


def test_a_plan_file_error_comes_before_the_attribution(tmp_path) -> None:
    """#13: the plan TOML is read before the run too (a typo in it: seconds, not a run)."""
    plan = tmp_path / "plan.toml"
    plan.write_text('[budget]\nlinkedin = "750k"\n')
    done = _cli("run", "-m", "linear", "--touches", str(SAMPLE / "touches.parquet"),
                "--stages", str(SAMPLE / "stages.parquet"), "--spend",
                str(SAMPLE / "spend.parquet"), "--plan", str(plan), "--out", str(tmp_path / "r"))
    assert done.returncode == 2, done.stderr
    assert "plan.toml" in done.stderr
    assert "[load]" not in done.stderr


def test_the_b2b_stage_reads_the_spend_file_once(tmp_path) -> None:
    """#13: B2BInputs.read holds the spend as read: the stage checks it again from memory,
    not from the file (deleted here), with the same figures as from the file."""
    result = attribution.attribute(
        SAMPLE / "touches.parquet", SAMPLE / "stages.parquet", models=["linear"]
    )
    spend = tmp_path / "spend.csv"
    pl.read_parquet(SAMPLE / "spend.parquet").write_csv(spend)
    given = attribution.B2BInputs(stages=SAMPLE / "stages.parquet", spend=spend)
    from_file = attribution.analyse(result, given).summaries()
    held = given.read(result.options)
    spend.unlink()
    assert attribution.analyse(result, held).summaries() == from_file
    # a bad row found later in the stage still names the file and its 1-based line
    bad = tmp_path / "bad.csv"
    bad.write_text("channel,month,amount\nlinkedin,2025-01-01,-5\n")
    held = attribution.B2BInputs(spend=bad).read()
    assert held.spend is not bad  # read, and held
    with pytest.raises(InputError, match=r"bad\.csv.*'amount'.*lines: 2\b"):
        attribution.analyse(result, held)


def _plan_json(runs: Path) -> dict:
    import json

    return json.loads(next(runs.glob("*/plan.json")).read_text())


def test_run_plan_and_plan_measure_one_cac_by_default(tmp_path) -> None:
    """#16: `attribution plan` left the sales follow-ups out of the plan's CAC while `run
    --plan` credited every touch: one plan, two CACs. One default now, for both."""
    data = ["--touches", str(SAMPLE / "touches.parquet"), "--stages",
            str(SAMPLE / "stages.parquet"), "--spend", str(SAMPLE / "spend.parquet")]
    plan = str(SAMPLE / "plan.toml")
    alone = _cli("plan", plan, *data, "--out", str(tmp_path / "plan"))
    in_run = _cli("run", "-m", "linear", *data, "--plan", plan, "--out", str(tmp_path / "run"))
    assert alone.returncode == 0, alone.stderr
    assert in_run.returncode == 0, in_run.stderr
    left_out = _plan_json(tmp_path / "plan")["touch_types_left_out"]
    assert left_out["types"] == ["sales_call", "sales_email", "meeting"]
    assert _plan_json(tmp_path / "run")["touch_types_left_out"] == left_out
    cac = _plan_json(tmp_path / "plan")["projected"]["cac"]
    assert _plan_json(tmp_path / "run")["projected"]["cac"] == pytest.approx(cac)
    assert "note: the plan's CAC is measured without the sales touch types" in in_run.stderr
    # 'none' credits every touch, in a run as in plan: another CAC, said
    every = _cli("run", "-m", "linear", *data, "--plan", plan, "--exclude-touch-types",
                 "none", "--out", str(tmp_path / "every"))
    assert every.returncode == 0, every.stderr
    assert _plan_json(tmp_path / "every")["touch_types_left_out"]["types"] == []
    assert _plan_json(tmp_path / "every")["projected"]["cac"] > cac * 1.2


def test_a_quarter_plan_says_extrapolation_in_its_first_sentence(tmp_path) -> None:
    """#23: the demo plan with period_months = 3 spends 4-8x what each channel's CAC was
    measured at; the per-channel flags said so, the verdict's first sentence (all a CFO
    reads, and the report's finding) presented 356 customers as a projection."""
    result = attribution.attribute(
        SAMPLE / "touches.parquet", SAMPLE / "stages.parquet", models=["linear"],
        exclude_touch_types=["sales_call", "sales_email", "meeting"],
    )
    text = (SAMPLE / "plan.toml").read_text()
    quarter = tmp_path / "quarter.toml"
    quarter.write_text(text.replace("period_months = 12", "period_months = 3", 1))
    check = attribution.check_plan(
        quarter, result, SAMPLE / "spend.parquet", SAMPLE / "stages.parquet"
    )
    first = check.verdict.split(". ")[0]
    assert "an extrapolation: 7 of its channels get 3.8-7.7x the spend" in first
    assert "scaled to 3 months" in first
    year = attribution.check_plan(
        SAMPLE / "plan.toml", result, SAMPLE / "spend.parquet", SAMPLE / "stages.parquet"
    )
    # the year's budget is near the data's spend; the reallocation the tool recommends is
    # not, and says so as the plan's own split would (new-user report 13, S3)
    assert "extrapolation" not in year.verdict.split(". ")[0]
    assert "the best allocation within the caps buys 492 customers at $1,526 (an " \
        "extrapolation: 4 of its channels get 2.1-3.2x the spend" in year.verdict


# ------------------------------------------------------------ import hints (#19, #20, #21)
HS = ROOT / "tests" / "fixtures" / "hubspot_ui"


def _hubspot(tmp_path: Path, name: str, edit) -> Path:
    """A copy of the HubSpot fixture's export ``name`` with its text edited."""
    path = tmp_path / name
    path.write_text(edit((HS / name).read_text()))
    return path


def _import(contacts: Path, deals: Path, **kw) -> attribution.ImportResult:
    return attribution.import_hubspot(contacts, deals, **kw)


def _hint(contacts: Path, deals: Path, **kw) -> str:
    with pytest.raises(attribution.SchemaError) as info:
        _import(contacts, deals, **kw)
    return str(info.value)


def test_import_date_hints_fit_the_value_shown(tmp_path) -> None:
    """#19: dotted day-first dates got the slash pattern; a US value under a day-first
    --timestamp-format got the day-first hint again; a two-digit year got no %y."""
    import re

    dotted = _hubspot(tmp_path, "contacts.csv",
                      lambda t: re.sub(r"(\d{4})-(\d\d)-(\d\d) ", r"\3.\2.\1 ", t))
    text = _hint(dotted, HS / "deals.csv")
    assert re.search(r"e\.g\. '\d\d\.\d\d\.2025 \d\d:\d\d'", text)
    assert "--timestamp-format '%d.%m.%Y %H:%M'" in text
    assert "%d/%m" not in text
    # the contacts read day-first; the deals' US value gets the US pattern, not day-first
    us = _hubspot(tmp_path, "deals.csv",
                  lambda t: t.replace("2025-02-10 10:00", "5/16/2025 10:19 PM"))
    text = _hint(dotted, us, timestamp_formats=["%d.%m.%Y %H:%M"])
    assert "'5/16/2025 10:19 PM'" in text
    assert "this looks like a US date: try --timestamp-format '%m/%d/%Y %I:%M %p'" in text
    assert "'%d/%m" not in text
    # a two-digit year: %y, in the value's own order and clock
    short = _hubspot(tmp_path, "contacts.csv",
                     lambda t: t.replace("2025-01-05 09:00", "3/5/25 9:00 AM"))
    text = _hint(short, HS / "deals.csv")
    assert "two-digit year" in text
    assert "'%m/%d/%y %I:%M %p'" in text


def test_a_currency_sign_in_an_amount_is_named_as_the_problem(tmp_path) -> None:
    """#20: '24.000,00 €' with --decimal-comma got the decimal-comma hint, whose example it
    matches but for the sign. £ and € are read now (new-user report 16, M3: tests/
    test_fix21_money_signs.py), so a sign an amount is not read with ('₹') stands for it."""
    deals = _hubspot(tmp_path, "deals.csv", lambda t: t.replace(",24000,", ',"24.000,00 ₹",'))
    text = _hint(HS / "contacts.csv", deals, decimal_comma=True)
    assert "'24.000,00 ₹'" in text
    assert "'₹' is a currency sign" in text
    assert "'24.000,00 ₹' is then '24.000,00'" in text
    # every amount with the sign: read, EUR (one '€' among unsigned amounts is an error
    # since new-user report 22, S1: tests/test_newuser_report22_import.py)
    euro = _hubspot(tmp_path, "deals.csv", lambda t: re.sub(
        r",(\d+),(2025-)", r',"\1,00 €",\2', t.replace(",24000,", ',"24.000,00 €",')))
    read = _import(HS / "contacts.csv", euro, decimal_comma=True)
    assert 24000.0 in read.stages.get_column("value").to_list()
    assert read.report["currency"]["currency"] == "EUR"  # the sign's
    # without the sign the value reads, as the hint says
    plain = _hubspot(tmp_path, "deals.csv", lambda t: t.replace(",24000,", ',"24.000,00",'))
    done = _import(HS / "contacts.csv", plain, decimal_comma=True)
    assert 24000.0 in done.stages.get_column("value").to_list()


def test_naive_dates_beside_utc_ones_are_noted(tmp_path) -> None:
    """#21: naive UI dates (contacts, deals) were read as UTC beside the engagements' Z dates
    without a word: a counted note names both and --timezone, in the report's notes."""
    import re

    from attribution.inputs._reading import naive_zone

    zulu = _hubspot(tmp_path, "engagements.csv",
                    lambda t: re.sub(r"(\d{4}-\d\d-\d\d) (\d\d:\d\d)", r"\1T\2:00.000Z", t))
    done = _import(HS / "contacts.csv", HS / "deals.csv", engagements=zulu)
    notes = [n for n in done.report["notes"] if "without a time zone" in n]
    assert len(notes) == 1
    assert "were read as UTC, beside" in notes[0]
    assert "engagements 'Activity date'" in notes[0]
    assert "--timezone" in notes[0]
    # the same import in the portal's zone, or with every date naive: no note
    with naive_zone("America/New_York"):
        zoned = _import(HS / "contacts.csv", HS / "deals.csv", engagements=zulu)
    naive = _import(HS / "contacts.csv", HS / "deals.csv", engagements=HS / "engagements.csv")
    for quiet in (zoned, naive):
        assert not [n for n in quiet.report["notes"] if "without a time zone" in n]


# --------------------------------------------------------------------- spend sheets (#22)
def test_a_repeated_header_row_and_months_as_columns_are_said(tmp_path) -> None:
    """#22: 'Month' cannot be read as date at line 41 is the header repeated; a wide sheet
    (Channel,Jan-25,Feb-25,...) needs one row per channel and month: errors saying so."""
    spend = tmp_path / "spend.csv"
    spend.write_text("Month,Channel,Spend\n2025-01,linkedin,100\nMonth,Channel,Spend\n"
                     "2025-02,linkedin,120\n")
    columns = {"spend": {"month": "Month", "channel": "Channel", "amount": "Spend"}}
    options = attribution.RunOptions(columns=columns)
    with pytest.raises(InputError, match=r"line.*\b3\b.*the header row repeated: 'Month'"):
        attribution.B2BInputs(spend=spend).read(options)
    wide = tmp_path / "wide.csv"
    wide.write_text("Channel,Jan-25,Feb-25,Mar-25\nlinkedin,100,120,90\n")
    for given in (options, None):  # mapped to a Month column it lacks, or our names
        with pytest.raises(InputError) as info:
            attribution.B2BInputs(spend=wide).read(given)
        text = str(info.value)
        assert "wide.csv" in text
        assert "months as columns ('Jan-25', 'Feb-25', 'Mar-25', ...: 3 of them)" in text
        assert "one row per channel and month is needed" in text


# ------------------------------------------------------- the demo's assumptions shipped (#15)
def test_the_shipped_demo_config_gives_the_demo_figures(demo_run, tmp_path) -> None:
    """#15: the README's plan command told another story than the demo on the same data
    (the demo's costs, margin, bootstrap and survey-chosen model were hard-coded):
    sample_data/demo.toml holds them, and `run -c` on it gives the demo's figures."""
    import json

    from polars.testing import assert_frame_equal

    assert demo_run.proc.returncode == 0, demo_run.proc.stderr
    (demo,) = [p.parent for p in (demo_run.out / "runs").glob("*/plan.json")]
    done = _cli("run", "-c", str(SAMPLE / "demo.toml"), "--out", str(tmp_path / "runs"))
    assert done.returncode == 0, done.stderr
    (ran,) = [p.parent for p in (tmp_path / "runs").glob("*/plan.json")]
    manifests = [json.loads((d / "manifest.json").read_text()) for d in (demo, ran)]
    assert [m["decision_model"] for m in manifests] == ["last_non_direct"] * 2
    plans = [json.loads((d / "plan.json").read_text()) for d in (demo, ran)]
    assert plans[0]["verdict"] == plans[1]["verdict"]
    assert plans[0]["verdict"].startswith(
        "At measured CACs the $750,000 budget buys about 390 customers at $1,923 each"
    )
    for name in ("economics.parquet", "plan.parquet", "levers.parquet"):
        assert_frame_equal(pl.read_parquet(demo / name), pl.read_parquet(ran / name))


def test_survey_labels_are_checked_before_the_attribution(tmp_path) -> None:
    """#13: the survey classifier's labelled answers are read before the run too."""
    labels = tmp_path / "labels.csv"
    labels.write_text("answer,channel\nfrom a podcast,podcast\n")  # no 'response' column
    done = _cli("run", "-m", "linear", "--touches", str(SAMPLE / "touches.parquet"),
                "--stages", str(SAMPLE / "stages.parquet"), "--surveys",
                str(SAMPLE / "surveys.parquet"), "--survey-labels", str(labels),
                "--out", str(tmp_path / "r"))
    assert done.returncode == 2, done.stderr
    assert "labels.csv" in done.stderr
    assert "response" in done.stderr
    assert "[load]" not in done.stderr
