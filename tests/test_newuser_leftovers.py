"""The last new-user test's leftovers: each a counted drop or an error naming the file and
its 1-based lines, the same whichever way a run is made (full or incremental, run or
import), and figures printed as they are (a CAC under $1 is not "$0")."""

from __future__ import annotations

from pathlib import Path

import attribution

TOUCHES_CSV = (
    "touch_id,timestamp,channel,contact_id\n"
    "t1,2025-03-01,linkedin,c1\n"
    "t2,2025-03-02,webinar,c1\n"
    "t3,2025-03-02,email,c2\n"
)
STAGES_CSV = "timestamp,stage,contact_id\n2025-03-05,closed_won,c1\n2025-03-06,closed_won,c2\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ------------------------------------------------------------- blank rows, incremental runs
def test_incremental_runs_count_blank_rows_as_a_full_run_does(tmp_path: Path) -> None:
    touches = _write(tmp_path / "t.csv", TOUCHES_CSV + ",,,\n")
    stages = _write(tmp_path / "s.csv", STAGES_CSV + "\n")
    state = tmp_path / "state"

    def both() -> tuple[dict, dict]:
        got = attribution.attribute_incremental(touches, stages, state=state, models=["linear"])
        full = attribution.attribute(touches, stages, models=["linear"])
        return got.manifest["reconciliation"], full.manifest["reconciliation"]

    got, full = both()  # the first run reads everything
    assert full["blank_rows_dropped"] == {"touches": 1, "stages": 1}
    assert got["blank_rows_dropped"] == full["blank_rows_dropped"]
    # a night later: new rows and another blank line appended to the touches
    _write(touches, touches.read_text() + "t4,2025-03-04,email,c3\n\n")
    _write(stages, stages.read_text() + "2025-03-07,closed_won,c3\n")
    got, full = both()
    assert full["blank_rows_dropped"] == {"touches": 2, "stages": 1}
    assert got["blank_rows_dropped"] == full["blank_rows_dropped"]
    assert got == full


# ------------------------------------------------------------------ blank rows in an import
HS_UI = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "hubspot_ui"


def test_import_counts_blank_rows_as_blank_rows_not_as_records_without_ids(
    tmp_path: Path,
) -> None:
    clean = attribution.import_hubspot(HS_UI / "contacts.csv", HS_UI / "deals.csv").report
    contacts = (HS_UI / "contacts.csv").read_text()
    width = contacts.splitlines()[0].count(",")
    head, first, rest = contacts.split("\n", 2)
    # a blank line and a row of bare commas inside the file, a trailing blank line at its end
    padded = _write(tmp_path / "c.csv", f"{head}\n{first}\n\n{',' * width}\n{rest}\n")
    deals = _write(tmp_path / "d.csv", (HS_UI / "deals.csv").read_text() + "\n")
    report = attribution.import_hubspot(padded, deals).report
    drops = {(d["file"], d["reason"]): d["count"] for d in report["drops"]}
    blank = "blank row (every cell empty)"
    assert drops.pop(("contacts", blank)) == 3
    assert drops.pop(("deals", blank)) == 1
    assert drops == {(d["file"], d["reason"]): d["count"] for d in clean["drops"]}
    for label, added in (("contacts", 3), ("deals", 1)):
        assert report["files"][label]["rows_read"] == clean["files"][label]["rows_read"] + added
        assert report["files"][label]["rows_kept"] == clean["files"][label]["rows_kept"]
    assert report["outputs"] == clean["outputs"]


# ------------------------------------------------------------------- NDJSON lines, blank lines
def test_ndjson_value_errors_name_file_lines_past_blank_lines(tmp_path: Path) -> None:
    import pytest

    from attribution import InputError

    rows = [
        '{"timestamp": "2025-03-01", "channel": "linkedin", "contact_id": "c1"}',
        "",
        "   ",
        '{"timestamp": "2025-03-02", "channel": "email", "contact_id": "c1"}',
        "",
        '{"timestamp": "yesterday", "channel": "email", "contact_id": "c2"}',
        '{"timestamp": "2025-03-03", "channel": "email", "contact_id": "c2"}',
        "\t",
        '{"timestamp": "soon", "channel": "email", "contact_id": "c2"}',
    ]
    touches = _write(tmp_path / "t.ndjson", "\n".join(rows) + "\n")
    stages = _write(tmp_path / "s.csv", STAGES_CSV)
    with pytest.raises(InputError) as caught:
        attribution.attribute(touches, stages, models=["linear"])
    assert caught.value.lines == [6, 9]
    assert caught.value.rows == [2, 4]  # 0-based among the file's rows
    assert "(first offending lines: 6, 9)" in str(caught.value)
    # without blank lines, the lines are the rows + 1, as before
    plain = _write(tmp_path / "p.ndjson", "\n".join(r for r in rows if r.strip()) + "\n")
    with pytest.raises(InputError) as caught:
        attribution.attribute(plain, stages, models=["linear"])
    assert caught.value.lines == [3, 5]


# ------------------------------------------------------------------- small money in the plan
def test_money_under_a_dollar_is_never_shown_as_zero() -> None:
    from attribution.b2b._shared import money

    assert money(0) == "$0"
    assert money(0.2) == "$0.20"
    assert money(0.004) == "<$0.01"
    assert money(2.5) == "$2.50"
    assert money(3.0) == "$3"
    assert money(9.999) == "$10"
    assert money(1234.4) == "$1,234"
    assert money(-0.5) == "-$0.50"
    assert money(None) == "-"
    assert money(62.5, cents_below=100) == "$62.50"


def test_plan_with_cacs_under_a_dollar_prints_them(make_stages) -> None:
    import re

    import polars as pl

    from attribution.engine._memory import CHANNEL_CREDIT_SCHEMA, TOUCH_CREDIT_SCHEMA

    credit = pl.DataFrame(
        [("linear", c, n, 1.0, 0.0) for c, n in (("a", 10.0), ("b", 10.0), ("c", 5.0))],
        schema=CHANNEL_CREDIT_SCHEMA,
        orient="row",
    )
    result = attribution.AttributionResult(credit, pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA), {})
    # measured CAC: a $0.10, b $0.30, c $0.50
    spend = pl.DataFrame(
        {"channel": ["a", "b", "c"], "month": ["2025-01-01"] * 3, "amount": [1.0, 3.0, 2.5]}
    )
    rows = [(f"c{i}", "mql", 1, None) for i in range(10)]
    stages = make_stages([*rows, ("c0", "closed_won", 9, 10.0), ("c1", "closed_won", 9, 10.0)])
    plan = {"budget": {"a": 1, "b": 1, "c": 1}, "targets": {"customers": 30, "cac": 0.05}}
    check = attribution.check_plan(plan, result, spend, stages)
    cac = 3 / (10 + 1 / 0.3 + 2)
    assert f"about 15 customers at ${cac:.2f} each, against a target of 30 at $0.05" in (
        check.verdict
    )
    zero = re.compile(r"\$0(?![.\d])")
    assert not zero.search(check.verdict), check.verdict
    table = {
        line.split()[0]: line
        for line in check.summary().splitlines()
        if line.split()[:1] in (["a"], ["b"], ["c"], ["(total)"]) and "$" in line.split()[1]
    }
    for channel, shown in (("a", "$0.10"), ("b", "$0.30"), ("c", "$0.50")):
        assert shown in table[channel]
    assert f"${cac:.2f}" in table["(total)"]
    # the only $0 left is a real zero: channel c's budget after the reallocation
    shown = [line for line in check.summary().splitlines() if zero.search(line)]
    assert shown == [table["c"]], shown
    assert by_realloc(check)["c"] == 0


def by_realloc(check: attribution.PlanCheck) -> dict[str, float]:
    return dict(check.table.select("channel", "reallocated_budget").iter_rows())


# ------------------------------------------- the plan's CAC: sales touches, one default
PLAN_TOUCHES = (
    "touch_id,timestamp,channel,contact_id,touch_type\n"
    "t1,2025-03-01,linkedin,c1,ad_click\n"
    "t2,2025-03-02,sales,c1,sales_call\n"
    "t3,2025-03-02,email,c2,open\n"
    "t4,2025-03-03,sales,c2,meeting\n"
    "t5,2025-03-03,linkedin,c3,ad_click\n"
)
PLAN_STAGES = (
    "timestamp,stage,contact_id\n2025-03-01,mql,c1\n2025-03-01,mql,c2\n2025-03-01,mql,c3\n"
    "2025-03-05,closed_won,c1\n2025-03-06,closed_won,c2\n2025-03-06,closed_won,c3\n"
)
PLAN_SPEND = "channel,month,amount\nlinkedin,2025-03,2000\nemail,2025-03,500\n"
PLAN_TOML = (
    '[plan]\nmodel = "linear"\n[budget]\nlinkedin = 4000\nemail = 1000\n[targets]\ncac = 500\n'
)


def _plan_json(cwd: Path, *extra: str) -> tuple[dict, str]:
    import json

    from tests.test_no_silent_empty import _cli

    out = cwd / f"runs{len(list(cwd.glob('runs*')))}"
    proc = _cli(cwd, "plan", "plan.toml", "--touches", "t.csv", "--stages", "s.csv",
                "--spend", "spend.csv", "-o", str(out), *extra)
    assert proc.returncode == 0, proc.stderr
    (run,) = [p for p in out.iterdir() if not p.name.startswith(".")]
    return json.loads((run / "plan.json").read_text()), proc.stdout


def test_plan_leaves_sales_touches_out_by_default_as_the_demo_does(tmp_path: Path) -> None:
    for name, text in (("t.csv", PLAN_TOUCHES), ("s.csv", PLAN_STAGES),
                       ("spend.csv", PLAN_SPEND), ("plan.toml", PLAN_TOML)):
        _write(tmp_path / name, text)
    plan, printed = _plan_json(tmp_path)
    assert plan["touch_types_left_out"] == {  # the default sales types the touches have
        "types": ["sales_call", "meeting"], "touches": 2,  # (no touch is a sales_email)
    }
    # linear: c1 and c2 are each one marketing touch, c3 one linkedin touch: linkedin 2, email 1
    assert plan["projected"]["customers"] == 4000 / (2000 / 2) + 1000 / (500 / 1)
    assert "2 touches left out of the credit" in " ".join(printed.split())
    # every touch: the sales touches take half of c1's and c2's credit
    plan, printed = _plan_json(tmp_path, "--exclude-touch-types", "none")
    assert plan["touch_types_left_out"] == {
        "types": [], "touches": 0, "sales_types_in_data": ["sales_call", "meeting"],
    }
    assert plan["projected"]["customers"] == 4000 / (2000 / 1.5) + 1000 / (500 / 0.5)
    assert "CAC measured on every touch" in " ".join(printed.split())
    # a log without touch_type: nothing to leave out, no error
    _write(tmp_path / "t.csv", "\n".join(
        line.rsplit(",", 1)[0] for line in PLAN_TOUCHES.splitlines()) + "\n")
    plan, _ = _plan_json(tmp_path)
    assert plan["touch_types_left_out"] == {"types": [], "touches": 0, "sales_types_in_data": []}


# ------------------------------------- the plan step's errors: each interface, its own input
def test_a_missing_plan_input_is_named_as_each_interface_takes_it(tmp_path: Path) -> None:
    import pytest

    from attribution import B2BInputs, ConfigError, analyse
    from service.core.errors import describe_library_error
    from tests.test_no_silent_empty import _cli, _error_line

    for name, text in (("t.csv", PLAN_TOUCHES), ("s.csv", PLAN_STAGES),
                       ("spend.csv", PLAN_SPEND), ("plan.toml", PLAN_TOML)):
        _write(tmp_path / name, text)
    touches, stages, plan = tmp_path / "t.csv", tmp_path / "s.csv", tmp_path / "plan.toml"
    result = attribution.attribute(touches, stages, models=["linear"])
    # Python: the B2BInputs field
    with pytest.raises(ConfigError) as caught:
        analyse(result, B2BInputs(touches=touches, stages=stages, plan=plan))
    assert "the plan check needs a spend table (input 'spend')" in str(caught.value)
    assert "--" not in str(caught.value)
    assert caught.value.option == "spend"
    # HTTP: the run request's field, in the message and as the error's field
    kind, message, field = describe_library_error(caught.value)
    assert (kind, field) == ("config", "spend")
    assert "'spend'" in message
    assert "--" not in message
    # the command line: its flag and config key
    proc = _cli(tmp_path, "run", "--touches", "t.csv", "--stages", "s.csv", "--plan",
                "plan.toml", "-m", "linear", "-o", "runs")
    assert proc.returncode == 2
    assert "the plan check needs a spend table (--spend or [inputs] spend)" in _error_line(proc)
    # a plan with channel tests and no touch log (a unified event log): input 'stages'
    with pytest.raises(ConfigError) as caught:
        analyse(result, B2BInputs(events=touches, spend=tmp_path / "spend.csv", plan=plan))
    assert caught.value.option == "stages"
    assert "(input 'stages')" in str(caught.value)


# ------------------------------------------------- import headers: unnamed and repeated
def test_import_leaves_unnamed_columns_out_and_refuses_a_repeated_header_it_reads(
    tmp_path: Path,
) -> None:
    import pytest

    from attribution import InputError

    clean = attribution.import_hubspot(HS_UI / "contacts.csv", HS_UI / "deals.csv")
    lines = (HS_UI / "contacts.csv").read_text().splitlines()
    # Excel leaves empty header cells after deleted columns: one empty, one a space
    padded = "\n".join([lines[0] + ",, ", *(line + ",," for line in lines[1:])]) + "\n"
    got = attribution.import_hubspot(_write(tmp_path / "c.csv", padded), HS_UI / "deals.csv")
    assert got.contacts.equals(clean.contacts)
    assert got.stages.equals(clean.stages)
    # a header written twice that the import reads: which copy is the user's call
    deals = (HS_UI / "deals.csv").read_text().splitlines()
    position = deals[0].split(",").index("Amount") + 1
    twice = "\n".join([deals[0] + ",Amount", *(line + ",1" for line in deals[1:])]) + "\n"
    with pytest.raises(InputError) as caught:
        attribution.import_hubspot(HS_UI / "contacts.csv", _write(tmp_path / "d.csv", twice))
    text = str(caught.value)
    assert "d.csv" in text
    assert f"the header 'Amount' is written 2 times (columns {position}, " in text
    assert caught.value.column == "Amount"
    # a repeated header the import does not read is fine
    unused = "\n".join([deals[0] + ",Deal Name", *(line + ",x" for line in deals[1:])]) + "\n"
    other = attribution.import_hubspot(HS_UI / "contacts.csv", _write(tmp_path / "e.csv", unused))
    assert other.stages.equals(clean.stages)


# ------------------------------------------------------------ European amounts in an import
def test_import_refuses_a_decimal_comma_instead_of_misreading_it(tmp_path: Path) -> None:
    import pytest

    from attribution import InputError

    deals = (HS_UI / "deals.csv").read_text().splitlines()
    assert deals[1].split(",")[3] == "24000"

    def with_amount(text: str) -> Path:
        row = deals[1].split(",")
        row[3] = f'"{text}"'
        return _write(tmp_path / "d.csv", "\n".join([deals[0], ",".join(row), *deals[2:]]) + "\n")

    def value(text: str) -> float:
        stages = attribution.import_hubspot(HS_UI / "contacts.csv", with_amount(text)).stages
        won = stages.filter(stages["stage"] == "closed_won", stages["opportunity_id"] == "5001")
        return float(won.get_column("value")[0])

    for text, amount in (("$24,000.00", 24000.0), ("$ 24,000", 24000.0), ("24000.5", 24000.5),
                         ("1,024,000.25", 1024000.25), ("2.4E+04", 24000.0)):
        assert value(text) == amount, text
    for text in ("24.000,00", "1,5", "0,99", "12 000,00", "12,345,6", "24.000,00 €"):
        with pytest.raises(InputError) as caught:
            value(text)
        assert "d.csv" in str(caught.value)
        assert caught.value.their_column == "Amount"
        assert "file line(s) 2" in str(caught.value)
        assert "decimal comma" in str(caught.value)


# ------------------------------------------------ plan channels spelled as the data's are
def _plan_data(make_stages):  # type: ignore[no-untyped-def]
    import polars as pl

    from attribution.engine._memory import CHANNEL_CREDIT_SCHEMA, TOUCH_CREDIT_SCHEMA

    credit = pl.DataFrame(
        [("linear", c, n, 1.0, 0.0) for c, n in (("linkedin", 10.0), ("email", 5.0))],
        schema=CHANNEL_CREDIT_SCHEMA, orient="row",
    )  # fmt: skip
    result = attribution.AttributionResult(credit, pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA),
                                           {"parameters": {}})
    spend = pl.DataFrame({"channel": ["linkedin", "email"], "month": ["2025-01-01"] * 2,
                          "amount": [1000.0, 500.0]})  # fmt: skip
    rows = [(f"c{i}", "mql", 1, None) for i in range(10)]
    stages = make_stages([*rows, ("c0", "closed_won", 9, 10.0)])
    return result, spend, stages


def test_plan_channel_names_are_folded_and_aliased_like_the_data(make_stages) -> None:
    import pytest

    result, spend, stages = _plan_data(make_stages)
    plan = {"budget": {"linkedin": 2000, "email": 1000}, "targets": {"customers": 100},
            "caps": {"linkedin": 4000}, "floors": {"email": 500}}  # fmt: skip
    want = attribution.check_plan(plan, result, spend, stages)
    shown = {"budget": {"LinkedIn": 2000, " Email ": 1000}, "targets": {"customers": 100},
             "caps": {"LINKEDIN": 4000}, "floors": {"email": 500}}  # fmt: skip
    got = attribution.check_plan(shown, result, spend, stages)
    assert got.table.equals(want.table)
    assert got.verdict == want.verdict
    assert "cut LinkedIn" not in got.verdict
    # the run's [channels] aliases apply to the plan too
    result.manifest["parameters"]["channel_aliases"] = {"linkedin": ["LinkedIn Ads"]}
    aliased = {**plan, "budget": {"LinkedIn Ads": 2000, "email": 1000}}
    assert attribution.check_plan(aliased, result, spend, stages).table.equals(want.table)
    # one channel twice is an error naming both spellings
    with pytest.raises(attribution.ConfigError, match="names channel 'linkedin' twice"):
        attribution.read_plan({"budget": {"LinkedIn": 1, "linkedin": 2}})
    # a channel the data does not have: flagged with a did-you-mean
    typo = {**plan, "budget": {"linkdin": 2000, "email": 1000}, "caps": {}}
    notes = attribution.check_plan(typo, result, spend, stages).flags.get_column("note")
    assert any("linkdin" in n and "did you mean 'linkedin'" in n for n in notes), notes


def test_plan_figures_are_bounded(make_stages) -> None:
    import pytest

    for section, key in (("budget", "linkedin"), ("caps", "linkedin"), ("targets", "cac")):
        plan = {"budget": {"linkedin": 1000}, "targets": {"customers": 10}}
        plan[section] = {**plan.get(section, {}), key: 1e300}  # type: ignore[dict-item]
        with pytest.raises(attribution.ConfigError) as caught:
            attribution.read_plan(plan)
        assert f"[{section}] {key} must be a number" in str(caught.value)
        assert "at most 1,000,000,000,000" in str(caught.value)
    assert attribution.read_plan({"budget": {"linkedin": 1e12}}).budget == {"linkedin": 1e12}


# ------------------------------------------------ deal stages the word match cannot read
DEALS_BY_STAGE = (
    "Record ID,Deal Stage,Create Date,Close Date,Amount,Associated Contact IDs\n"
    "7000,Closed Won,2025-03-06 10:00,2025-03-09,1000,101\n"
    "7001,Contract Signed,2025-03-06 10:00,2025-03-19,5000,102\n"
    "7002,Abgeschlossen und gewonnen,2025-03-06 10:00,2025-03-19,5000,102\n"
    "7004,Not won,2025-03-06 10:00,2025-03-19,5000,102\n"
    "7005,Won/Lost Review,2025-03-06 10:00,,5000,102\n"
)


def test_deal_stages_with_a_negation_or_both_words_are_an_error_until_given(
    tmp_path: Path,
) -> None:
    import pytest

    from attribution import InputError

    deals = _write(tmp_path / "d.csv", DEALS_BY_STAGE)
    with pytest.raises(InputError) as caught:
        attribution.import_hubspot(HS_UI / "contacts.csv", deals)
    text = str(caught.value)
    assert "'Not won', 'Won/Lost Review' read neither as won nor as lost" in text
    assert "file line(s) 5, 6" in text
    assert "--won-stage 'Not won'" in text
    got = attribution.import_hubspot(
        HS_UI / "contacts.csv", deals, won_stages=["contract signed", "Abgeschlossen und gewonnen"],
        lost_stages=["Not won"], open_stages=["Won/Lost Review"],
    )  # fmt: skip
    mapping = got.report["value_mappings"]["deal_stage"]
    assert mapping == {
        "Abgeschlossen und gewonnen": "closed_won", "Closed Won": "closed_won",
        "Contract Signed": "closed_won", "Not won": "closed_lost", "Won/Lost Review": "open",
    }  # fmt: skip
    won = got.stages.filter(got.stages["stage"] == "closed_won")
    assert sorted(won.get_column("opportunity_id").unique()) == ["7000", "7001", "7002"]
    # a stage left open that carries a close date is noted, by stage
    left = attribution.import_hubspot(
        HS_UI / "contacts.csv", deals, lost_stages=["Not won"], open_stages=["Won/Lost Review"]
    )
    (note,) = [n for n in left.report["notes"] if "read as open" in n]
    assert "2 deal(s) carry a close date" in note
    dated = "1; 1 dated no later than the last closed deal"  # 'Not won' closed the same day
    assert f"'Contract Signed' ({dated}), 'Abgeschlossen und gewonnen' ({dated})" in note
    with pytest.raises(InputError, match="two of won, lost and open"):
        attribution.import_hubspot(HS_UI / "contacts.csv", deals, won_stages=["Not won"],
                                   lost_stages=["not-won"])  # fmt: skip


def test_ids_rounded_by_excel_are_an_error_not_merged_records(tmp_path: Path) -> None:
    import pytest

    from attribution import InputError

    deals = (HS_UI / "deals.csv").read_text().splitlines()
    header = deals[0].split(",")
    for column, value in (("Record ID", "4.5678E+10"), ("Associated Contact IDs", "101;1.2E+10")):
        rows = [line.split(",") for line in deals[1:]]
        rows[1][header.index(column)] = f'"{value}"'
        text = "\n".join([deals[0], *(",".join(r) for r in rows)]) + "\n"
        with pytest.raises(InputError) as caught:
            attribution.import_hubspot(HS_UI / "contacts.csv", _write(tmp_path / "d.csv", text))
        message = str(caught.value)
        assert f"column '{column}'" in message
        assert "written in scientific notation" in message
        assert "file line(s) 3" in message
    # a number that is not an id (an amount) in that form is read as before
    rows = [line.split(",") for line in deals[1:]]
    rows[0][header.index("Amount")] = "2.4E+04"
    text = "\n".join([deals[0], *(",".join(r) for r in rows)]) + "\n"
    attribution.import_hubspot(HS_UI / "contacts.csv", _write(tmp_path / "d.csv", text))


# ------------------------------------------------ a close date without a time of day
def test_a_date_only_close_date_closes_at_the_end_of_its_day(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    import polars as pl

    contacts = _write(tmp_path / "c.csv", (
        "Record ID,Create Date,Original Source,Latest Source,Latest Source Date,"
        "Primary Associated Company ID\n"
        "51001,3/1/2025 7:41 AM,Paid Search,Email Marketing,3/6/2025 9:00 AM,900\n"
    ))  # fmt: skip
    deals = _write(tmp_path / "d.csv", (
        "Record ID,Deal Stage,Create Date,Close Date,Amount,Associated Contact IDs\n"
        "7000,Closed Won,3/6/2025 10:00 AM,3/6/2025,1000,51001\n"
        "7001,Closed Won,3/6/2025 10:00 AM,3/7/2025 8:15 AM,1000,51001\n"
    ))  # fmt: skip
    imported = attribution.import_hubspot(contacts, deals)
    stages = imported.stages.filter(pl.col("stage") == "closed_won").sort("opportunity_id")
    assert stages.get_column("timestamp").to_list() == [
        datetime(2025, 3, 6, 23, 59, 59, 999999, tzinfo=UTC),  # the end of its day
        datetime(2025, 3, 7, 8, 15, tzinfo=UTC),  # a time of day is kept
    ]
    opened = imported.stages.filter(
        pl.col("stage") == "opportunity", pl.col("opportunity_id") == "7000"
    )
    assert opened.get_column("timestamp")[0] < stages.get_column("timestamp")[0]
    # the 9:00 email touch of the closing day is in the won deal's journey
    result = attribution.attribute(imported.touches, imported.stages, contacts=imported.contacts,
                                   level="account", models=["last_touch"])  # fmt: skip
    last = result.channel_credit.filter(pl.col("conversions") > 0)
    assert last.get_column("channel").to_list() == ["email"]


# ------------------------------------------ write-back into a table of another shape
def test_write_back_into_a_table_with_other_columns_says_which(tmp_path: Path) -> None:
    import duckdb
    import pytest

    touches = _write(tmp_path / "t.csv", TOUCHES_CSV)
    stages = _write(tmp_path / "s.csv", STAGES_CSV)
    result = attribution.attribute(touches, stages, models=["linear"])
    db = tmp_path / "bad.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE attribution_channel_credit(x INTEGER)")
    with pytest.raises(attribution.ConfigError) as caught:
        attribution.write_back(result, f"duckdb:///{db}")
    text = str(caught.value)
    assert "table attribution_channel_credit has the columns (x INTEGER)" in text
    assert "the run writes (run_id, model, channel, conversions, value, share)" in text
    assert "nothing was written" in text
    assert "TransactionContext" not in text
    with duckdb.connect(str(db)) as con:  # nothing written: no row, no second table
        assert con.sql("SELECT count(*) FROM attribution_channel_credit").fetchall() == [(0,)]
        tables = {r[0] for r in con.sql("SHOW TABLES").fetchall()}
    assert tables == {"attribution_channel_credit"}


# ------------------------------------------------ --state over queries: text timestamps
def test_incremental_queries_with_text_timestamps_or_bad_columns(tmp_path: Path) -> None:
    import duckdb
    import pytest

    from attribution import InputError, SqlTable

    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(f"CREATE TABLE touches AS SELECT * FROM read_csv('{_write(tmp_path / 't.csv', TOUCHES_CSV)}', all_varchar=true)")  # noqa: E501
        con.execute(f"CREATE TABLE stages AS SELECT * FROM read_csv('{_write(tmp_path / 's.csv', STAGES_CSV)}', all_varchar=true)")  # noqa: E501
    uri = f"duckdb:///{db}"

    def night(touches: str, stages: str = "SELECT * FROM stages") -> attribution.AttributionResult:
        return attribution.attribute_incremental(
            SqlTable(uri, touches), SqlTable(uri, stages), state=tmp_path / "state",
            models=["linear"],
        )  # fmt: skip

    text = "SELECT * FROM touches"  # every column VARCHAR, timestamps ISO text
    first = night(text)
    assert first.manifest["parameters"]["incremental"]["mode"] == "full"
    with duckdb.connect(str(db)) as con:
        con.execute("INSERT INTO touches VALUES ('t4', '2025-03-04', 'email', 'c2')")
    second = night(text)  # was: Binder Error comparing VARCHAR with a timestamp
    full = attribution.attribute(SqlTable(uri, text), SqlTable(uri, "SELECT * FROM stages"),
                                 models=["linear"])  # fmt: skip
    assert second.manifest["reconciliation"] == full.manifest["reconciliation"]
    assert second.channel_credit.sort("channel").equals(full.channel_credit.sort("channel"))
    # a query without the timestamp column: the error a full run gives, naming the query
    renamed = "SELECT touch_id, contact_id, timestamp AS event_time, channel FROM touches"
    with pytest.raises(InputError) as caught:
        night(renamed)
    message = str(caught.value)
    assert "required column is missing" in message
    assert "event_time" in message
    assert "count(*)" not in message
    assert "_attribution_q" not in message


# ------------------------------------------------ spend did-you-mean: paid stays paid
def test_spend_suggestions_never_book_paid_spend_on_an_unpaid_channel() -> None:
    from attribution.inputs._channels import unmatched_channels

    known = ["organic_search", "google_ads", "email", "linkedin", "direct"]
    hints = unmatched_channels(["paid search", "google ads", "direct mail", "linkdin"], known)
    assert hints["paid search"].startswith("did you mean 'google_ads'?")
    assert "organic_search" not in hints["paid search"]
    assert hints["google ads"].startswith("did you mean 'google_ads'?")
    assert "'direct'" not in hints["direct mail"]  # direct mail is paid, direct is not
    assert hints["linkdin"].startswith("did you mean 'linkedin'?")
    # a name that says organic may still be offered the organic channel
    assert "organic_search" in unmatched_channels(["organic searc"], known)["organic searc"]


# ------------------------------------------------ --out and --state checked, one line each
def test_out_and_state_that_cannot_be_written_or_read_are_one_line(tmp_path: Path) -> None:
    import sys

    from tests.test_no_silent_empty import _cli, _error_line

    _write(tmp_path / "t.csv", TOUCHES_CSV)
    _write(tmp_path / "s.csv", STAGES_CSV)
    _write(tmp_path / "afile", "not a directory\n")
    base = ["run", "--touches", "t.csv", "--stages", "s.csv", "-m", "linear"]
    # --out under a file: refused before the run starts
    proc = _cli(tmp_path, *base, "--out", "afile/sub")
    assert proc.returncode == 2
    assert _error_line(proc) == (
        "error: --out 'afile/sub' is not a directory ('afile' is a file): give a directory "
        "for the runs"
    )
    assert "[load]" not in proc.stderr  # nothing computed
    if sys.platform.startswith("linux"):  # a directory nothing can be made in, found late
        proc = _cli(tmp_path, *base, "--out", "/proc/attribution-runs")
        assert proc.returncode == 2
        assert "cannot write the run into --out '/proc/attribution-runs'" in _error_line(proc)
    # --state that is a file
    proc = _cli(tmp_path, *base, "--out", "runs", "--state", "afile")
    assert proc.returncode == 2
    assert _error_line(proc).startswith("error: --state 'afile' is not a directory")
    # a damaged state (a file truncated by a partial restore or a full disk)
    assert _cli(tmp_path, *base, "-m", "markov", "--out", "runs", "--state", "st").returncode == 0
    damaged = [p for p in (tmp_path / "st").rglob("*.arrow") if p.stat().st_size > 200]
    assert damaged
    for path in damaged:
        path.write_bytes(path.read_bytes()[:200])
    _write(tmp_path / "t.csv", TOUCHES_CSV + "t4,2025-03-04,email,c2\n")
    proc = _cli(tmp_path, *base, "-m", "markov", "--out", "runs", "--state", "st")
    assert proc.returncode == 2
    line = _error_line(proc)
    assert line.startswith("error: state 'st': cannot read or write its files")
    assert "pass a new --state" in line


def test_plan_floors_and_caps_hold_whatever_the_spelling(make_stages) -> None:
    import pytest

    result, spend, stages = _plan_data(make_stages)
    plan = {"budget": {"linkedin": 2500, "email": 1000}, "targets": {"cac": 50},
            "floors": {"LinkedIn": 2500}, "caps": {"Email": 1000}}  # fmt: skip
    check = attribution.check_plan(plan, result, spend, stages)
    rows = {r["channel"]: r for r in check.table.iter_rows(named=True)}
    assert set(rows) == {"linkedin", "email", "(total)"}  # no phantom 'Email' row
    assert rows["linkedin"]["reallocated_budget"] >= 2500  # the floor holds
    assert rows["email"]["reallocated_budget"] <= 1000  # the cap holds
    with pytest.raises(attribution.ConfigError) as caught:
        attribution.check_plan({**plan, "floors": {"linkdin": 2500}}, result, spend, stages)
    assert "[floors] linkdin: no such channel in [budget]; did you mean 'linkedin'" in str(
        caught.value
    )


def test_a_plan_channel_without_data_is_to_measure_not_to_cut(make_stages) -> None:
    result, spend, stages = _plan_data(make_stages)
    plan = {"budget": {"linkedin": 2000, "tiktok": 1000}, "targets": {"customers": 100}}
    verdict = attribution.check_plan(plan, result, spend, stages).verdict
    assert "cut tiktok" not in verdict
    assert "measure tiktok before deciding (no CAC in the data" in verdict


# ------------------------------------------ exports without a column: said, never silent
def test_an_export_without_amount_or_has_responded_says_so(tmp_path: Path) -> None:
    import polars as pl

    sf = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "salesforce"
    members = pl.read_csv(sf / "CampaignMember.csv", infer_schema=False).drop("HasResponded")
    opps = pl.read_csv(sf / "Opportunity.csv", infer_schema=False).drop("Amount")
    members.write_csv(tmp_path / "cm.csv")
    opps.write_csv(tmp_path / "opp.csv")
    report = attribution.import_salesforce(
        tmp_path / "cm.csv", tmp_path / "opp.csv", campaigns=sf / "Campaign.csv"
    ).report
    assert any("no 'Amount' column, so no deal has a value" in n for n in report["notes"])
    reasons = [d["reason"] for d in report["drops"] if d["file"] == "campaign_members"]
    assert "did not respond (HasResponded false)" not in reasons
    silent = [r for r in reasons if "did not respond" in r]
    assert all(r.startswith("did not respond (no HasResponded column") for r in silent)
    deals = (HS_UI / "deals.csv").read_text().splitlines()
    at = deals[0].split(",").index("Amount")
    text = "\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != at)
                     for line in deals) + "\n"  # fmt: skip
    hub = attribution.import_hubspot(HS_UI / "contacts.csv", _write(tmp_path / "d.csv", text))
    assert any("no 'Amount' column" in n for n in hub.report["notes"])


def test_history_of_an_opportunity_not_exported_is_a_counted_drop(tmp_path: Path) -> None:
    sf = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "salesforce"

    def files(history: Path) -> dict:
        return attribution.import_salesforce(
            sf / "CampaignMember.csv", sf / "Opportunity.csv", campaigns=sf / "Campaign.csv",
            opportunity_history=history,
        ).report  # fmt: skip

    clean = files(sf / "OpportunityHistory.csv")
    lines = (sf / "OpportunityHistory.csv").read_text().splitlines()
    row = lines[1].split(",")
    header = [h.strip('"') for h in lines[0].split(",")]
    row[header.index("OpportunityId")] = '"006NOTEXIST"'
    extra = _write(tmp_path / "h.csv", "\n".join([*lines, ",".join(row)]) + "\n")
    report = files(extra)
    info, before = report["files"]["opportunity_history"], clean["files"]["opportunity_history"]
    assert info["rows_read"] == before["rows_read"] + 1
    assert info["rows_kept"] == before["rows_kept"]
    drops = {d["reason"]: d["count"] for d in report["drops"] if d["file"] == "opportunity_history"}
    assert drops["opportunity not in the Opportunity export"] == 1
