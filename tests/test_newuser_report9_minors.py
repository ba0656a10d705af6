"""New-user report 9's minor defects (a RevOps analyst with Salesforce exports): each test
fails on the code before its fix."""

from __future__ import annotations

from pathlib import Path

from tests.test_newuser_leftovers import PLAN_SPEND, PLAN_STAGES, PLAN_TOML, _plan_json, _write


# ---------------------------------------- #5: no sales follow-up caveat without sales touches
def test_the_plan_names_no_sales_follow_ups_when_the_touches_have_none(tmp_path: Path) -> None:
    touches = (  # an import's campaign responses: no sales_call / sales_email / meeting
        "touch_id,timestamp,channel,contact_id,touch_type\n"
        "t1,2025-03-01,email,c1,Responded\nt2,2025-03-02,email,c2,Attended\n"
        "t3,2025-03-03,linkedin,c3,Responded\n"
    )
    for name, text in (("t.csv", touches), ("s.csv", PLAN_STAGES),
                       ("spend.csv", PLAN_SPEND), ("plan.toml", PLAN_TOML)):
        _write(tmp_path / name, text)
    plan, printed = _plan_json(tmp_path)
    assert plan["touch_types_left_out"]["sales_types_in_data"] == []
    flat = " ".join(printed.split())
    assert "(CAC measured on every touch)" in flat
    assert "sales follow-up" not in flat
    assert "sales_call" not in flat


# ------------------------------- #7: the report says the survey's tie as the run printed it
def test_the_report_says_a_tie_at_the_top_of_the_survey_as_the_cli_does(tmp_path: Path) -> None:
    import polars as pl

    from attribution.report._context import Context
    from attribution.report._surveys import survey_section
    from attribution.surveys._leader import survey_doubt

    board = pl.DataFrame({
        "rank": [1, 2, 3], "model": ["shapley", "markov", "linear"],
        "conversions": [78, 78, 78], "agreement": [0.526, 0.526, 0.434],
        "p_best": [0.38, 0.38, 0.05],
    })  # fmt: skip
    board.write_parquet(tmp_path / "survey_leaderboard.parquet")
    ctx = Context(run_dir=tmp_path, manifest={})
    assert survey_section(ctx) is not None
    (finding,) = [f for f in ctx.findings if f.startswith("Survey benchmark")]
    doubt = survey_doubt(board)  # the sentence the run printed, from the same rule
    assert doubt is not None
    assert "shapley and markov tie on agreement at 0.526" in doubt
    assert finding == f"Survey benchmark: {doubt}."
    assert "agrees best" not in finding
    # a clear leader keeps its sentence
    clear = board.with_columns(pl.Series("agreement", [0.6, 0.5, 0.4]),
                               pl.Series("p_best", [0.9, 0.1, 0.0]))  # fmt: skip
    clear.write_parquet(tmp_path / "survey_leaderboard.parquet")
    ctx = Context(run_dir=tmp_path, manifest={})
    survey_section(ctx)
    assert any("<b>shapley</b> agrees best" in f for f in ctx.findings)


# --------------------------------- #4: a repeated CampaignMember row is one touch, counted
def test_a_repeated_campaign_member_row_is_one_touch_counted(tmp_path: Path) -> None:
    from attribution import import_salesforce
    from tests.test_importers_crm_exports import OPP_REPORT, export

    header = ["Campaign ID", "Campaign Name", "Campaign Type", "Member Status", "Responded",
              "First Responded Date", "Created Date", "Contact ID", "Lead ID", "Account ID"]
    c1, c2, a1 = "0035g00000Xk9p1", "0035g00000Xk9p2", "0015g00000Mn3a1"
    webinar = ["7015g0000000002", "FY25 Webinar 02", "Webinar", "Attended", "1"]
    rows = [
        [*webinar, "6/22/2025", "6/20/2025 3:43 PM", c1, "", a1],
        [*webinar, "6/22/2025", "6/20/2025 3:43 PM", c2, "", a1],
        [*webinar, "6/22/2025", "6/20/2025 3:43 PM", c1, "", a1],  # line 4 repeats line 2
        [*webinar, "7/22/2025", "7/20/2025 3:43 PM", c1, "", a1],  # other dates: a touch
    ]  # fmt: skip
    members = export(tmp_path / "CampaignMember.csv", header, rows)
    opps = export(tmp_path / "opp.csv", OPP_REPORT, [[
        "0065g00000Oz7a1", "Acme", a1, "Closed Won", "48,000.00", "8/20/2025", "2/5/2025",
        "1", "1", c2]])  # fmt: skip
    result = import_salesforce(members, opps)
    touches = result.touches.sort("timestamp")
    assert touches.height == 3
    assert touches.get_column("touch_id").to_list() == [
        "campaign-member-line-2", "campaign-member-line-3", "campaign-member-line-5",
    ]
    (drop,) = [d for d in result.report["drops"] if "repeated member" in d["reason"]]
    assert drop["file"] == "campaign_members"
    assert drop["count"] == 1
    assert "line 4 repeats line 2" in drop["reason"]
    files = result.report["files"]["campaign_members"]
    dropped = sum(d["count"] for d in result.report["drops"] if d["file"] == "campaign_members")
    assert files["rows_read"] == files["rows_kept"] + dropped  # read = kept + dropped


# ------------------------------------- #8: amounts written with their ISO code ('USD 146,200.00')
def _coded_opps(tmp_path: Path, amounts: list[str], currencies: list[str] | None) -> Path:
    from tests.test_importers_crm_exports import export

    header = ["Opportunity ID", "Opportunity Name", "Account ID", "Stage", "Amount",
              *(["Amount Currency"] if currencies is not None else []),
              "Close Date", "Created Date", "Won", "Closed", "Contact ID"]  # fmt: skip
    rows = [
        [f"0065g00000Oz7c{i}", f"Opp {i}", "0015g00000Mn3a1", "Closed Won", amount,
         *([currencies[i]] if currencies is not None else []),
         "3/20/2025", "2/5/2025", "1", "1", "0035g00000Xk9p2"]
        for i, amount in enumerate(amounts)
    ]  # fmt: skip
    return export(tmp_path / "opp_coded.csv", header, rows)


def test_amounts_written_with_their_currency_code_are_read(tmp_path: Path) -> None:
    import polars as pl
    import pytest

    from attribution import SchemaError, import_salesforce
    from tests.test_importers_crm_exports import _members

    def won(result: object) -> dict[str, float]:
        stages = result.stages  # type: ignore[attr-defined]
        rows = stages.filter(pl.col("stage") == "closed_won").select("opportunity_id", "value")
        return dict(rows.iter_rows())

    # a multi-currency org's report: the code beside the Amount Currency it repeats
    amounts = ["USD 146,200.00", "USD 38,700", "46100", "12,000.50 USD"]
    result = import_salesforce(_members(tmp_path), _coded_opps(tmp_path, amounts,
                                                               ["USD", "usd", "USD", ""]))
    assert won(result) == {"0065g00000Oz7c0": 146_200.0, "0065g00000Oz7c1": 38_700.0,
                           "0065g00000Oz7c2": 46_100.0, "0065g00000Oz7c3": 12_000.5}
    assert result.report["currency"]["currency"] == "USD"
    assert any("written with their currency code" in n for n in result.report["notes"])
    # a code that is not the currency beside it: an error naming the lines, never a misread
    with pytest.raises(SchemaError) as caught:
        import_salesforce(_members(tmp_path), _coded_opps(
            tmp_path, ["USD 1,000.00", "EUR 2,000.00"], ["USD", "USD"]))
    text = str(caught.value)
    assert "opp_coded.csv" in text
    assert "'Amount'" in text
    assert "'EUR 2,000.00' beside 'USD'" in text
    assert "file line(s) 3" in text
    # no currency column: the codes are the currency (one recorded; several refused)
    one = import_salesforce(_members(tmp_path), _coded_opps(tmp_path, ["EUR 10", "EUR 20"], None))
    assert one.report["currency"]["currency"] == "EUR"
    assert sorted(won(one).values()) == [10.0, 20.0]
    with pytest.raises(SchemaError, match="2 currencies.*EUR 1, USD 1"):
        import_salesforce(_members(tmp_path), _coded_opps(tmp_path, ["EUR 10", "USD 20"], None))


# ----------------- #2: a Data Loader Account.csv (18-character ids) meets an import's 15
def test_a_data_loader_accounts_table_meets_an_imports_15_character_ids() -> None:
    import polars as pl

    from attribution.b2b._economics_joins import accounts_match, join_lines
    from attribution.inputs import load_accounts

    accounts = load_accounts(pl.DataFrame({
        "account_id": ["0015g0000000001JGJ", "0015g0000000002FUJ", "0015g0000000003",
                       "0015g0000000003AAA", "0015g0000000005abc"],
        "segment": ["Enterprise", "Mid-Market", "SMB", "Strategic", "SMB"],
    }))  # fmt: skip
    keys = pl.DataFrame({"account_id": [
        "0015g0000000001",  # the 15-character form of a Data Loader id: that account
        "0015g0000000002FUJ",  # the id as it is
        "0015g0000000003",  # its own row wins over an 18-character id of the same form
        "0015g0000000005",  # not shaped like an 18-character id (lower-case checksum)
        "0015g0000000009",
    ]})  # fmt: skip
    segments = accounts.attach(keys).get_column("segment").to_list()
    assert segments == ["enterprise", "mid_market", "smb", "unknown", "unknown"]
    # counted and said where the economics name the accounts table's match
    credit = pl.DataFrame({
        "model": ["linear"] * 3, "conversion_id": ["o1", "o2", "o3"],
        "account_id": ["0015g0000000001", "0015g0000000002FUJ", "0015g0000000009"],
    })  # fmt: skip
    match = accounts_match(accounts, credit)
    assert match is not None
    assert (match["matched"], match["matched_by_15_character_id"]) == (2, 1)
    (note,) = [line for line in join_lines({"accounts_match": match}) if "15-character" in line]
    assert note.startswith("NOTE: 1 of 3 customers' accounts met the accounts table by")


def test_accounts_keyed_by_other_ids_name_the_length_as_the_cause() -> None:
    import polars as pl

    from attribution.b2b._economics_joins import accounts_match, join_lines
    from attribution.inputs import load_accounts

    # a report's 15-character ids against a run keyed by 18-character ones: no 15-form alias
    accounts = load_accounts(pl.DataFrame({"account_id": ["0015g0000000001", "0015g0000000002"],
                                           "segment": ["SMB", "SMB"]}))  # fmt: skip
    credit = pl.DataFrame({"model": ["linear"], "conversion_id": ["o1"],
                           "account_id": ["0015g0000000001JGJ"]})  # fmt: skip
    (warning,) = join_lines({"accounts_match": accounts_match(accounts, credit)})
    assert warning.startswith("WARNING: 0 of 1 customers' accounts are in the accounts table")
    assert "The ids differ in length (18 characters in the run, 15 in the accounts table)" in (
        warning
    )


# --------------------- #6: `attribution surveys --config`, and the did-you-mean of 'response'
def test_surveys_reads_a_config_as_run_does(tmp_path: Path) -> None:
    from tests.test_surveys_cli_level import ANSWERS, _bench, _files, _invoke

    common = _files(tmp_path)
    # a survey tool's export: its own headers, a respondent id beside the answer
    survey = ANSWERS.rename({"contact_id": "Contact", "response": "How did you hear about us?"})
    survey.insert_column(0, survey.get_column("Contact").str.replace("C", "R_0000").alias(
        "Response ID")).write_csv(tmp_path / "survey_tool.csv")
    touches, stages = (common[common.index(f) + 1] for f in ("--touches", "--stages"))
    (tmp_path / "run.toml").write_text(
        f'[inputs]\ntouches = "{touches}"\nstages = "{stages}"\n'
        f'surveys = "{tmp_path / "survey_tool.csv"}"\n'
        '[run]\nmodels = ["linear", "last_touch"]\n'
        '[columns.surveys]\ncontact_id = "Contact"\nresponse = "How did you hear about us?"\n'
    )
    got = _invoke("surveys", "--config", str(tmp_path / "run.toml"), "--out", str(tmp_path / "s"))
    assert got.exit_code == 0, got.output
    bench = _bench(tmp_path / "s")
    assert bench["counts"]["answers_joined"] == 3
    # the same benchmark as run --config
    ran = _invoke("run", "--config", str(tmp_path / "run.toml"), "--out", str(tmp_path / "r"))
    assert ran.exit_code == 0, ran.output
    same = _bench(tmp_path / "r")
    for key in ("counts", "leaderboard"):
        assert bench[key] == same[key], key
    # without [columns.surveys] response: the hint names the answer column, never the id
    (tmp_path / "run.toml").write_text(
        (tmp_path / "run.toml").read_text().replace(
            'response = "How did you hear about us?"\n', "")
    )
    bad = _invoke("surveys", "-c", str(tmp_path / "run.toml"), "--out", str(tmp_path / "t"))
    assert bad.exit_code == 2
    text = " ".join(bad.output.split())
    assert "did you mean 'How did you hear about us?'" in text
    assert 'response = "How did you hear about us?"' in text
    assert "Response ID'?" not in text
    assert "Traceback" not in text
    # no surveys anywhere: a usage error naming the flag
    none = _invoke("surveys", "--touches", touches, "--stages", stages,
                   "--out", str(tmp_path / "u"))  # fmt: skip
    assert none.exit_code == 2
    assert "--surveys" in none.output


def test_the_response_did_you_mean_never_names_an_id_column() -> None:
    from attribution.inputs._read_errors import missing_column_hint

    found = ["Response ID", "Submitted At", "email", "Company", "How did you hear about us?"]
    hint = missing_column_hint("surveys", ["response", "channel"], found)
    assert hint.startswith("did you mean 'How did you hear about us?'?")
    assert "Response ID" not in hint
    # an id column alone: no did-you-mean, the columns there are
    hint = missing_column_hint("surveys", ["response"], ["Response ID", "email"])
    assert hint.startswith("available: 'Response ID', 'email'")
    # an id is still suggested for an id of ours
    assert "did you mean 'Contact ID'?" in missing_column_hint(
        "surveys", ["contact_id"], ["Contact ID", "email"])


# ------------------- #9: the committee size of each won deal, from the contacts it names
def test_the_committee_size_of_each_won_deal_is_reported(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    import polars as pl

    from tests.test_surveys_cli_level import _invoke

    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    touches = pl.DataFrame({
        "contact_id": ["c1", "c2", "c3", "c4", "c5"],
        "channel": ["webinar", "email", "linkedin", "email", "webinar"],
        "timestamp": [t0 + timedelta(days=d) for d in (1, 2, 3, 4, 5)],
    })  # fmt: skip
    won = t0 + timedelta(days=30)
    stages = pl.DataFrame({  # o1 names three contacts (its contact roles), o2 none
        "contact_id": ["c1", "c2", "c3", None],
        "account_id": ["A1", "A1", "A1", "A2"],
        "opportunity_id": ["o1", "o1", "o1", "o2"],
        "stage": ["closed_won"] * 4,
        "timestamp": [won] * 4,
        "value": [1000.0, 1000.0, 1000.0, 500.0],
    })  # fmt: skip
    contacts = pl.DataFrame({"contact_id": ["c1", "c2", "c3", "c4", "c5"],
                             "account_id": ["A1", "A1", "A1", "A1", "A2"]})  # fmt: skip
    for name, frame in (("t", touches), ("s", stages), ("c", contacts)):
        frame.write_csv(tmp_path / f"{name}.csv")
    got = _invoke("run", "--touches", str(tmp_path / "t.csv"), "--stages", str(tmp_path / "s.csv"),
                  "--contacts", str(tmp_path / "c.csv"), "--level", "account", "-m", "linear",
                  "--out", str(tmp_path / "runs"))  # fmt: skip
    assert got.exit_code == 0, got.output
    (run,) = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]
    conversions = pl.read_parquet(run / "conversions.parquet").sort("opportunity_id")
    assert conversions.get_column("deal_contacts").to_list() == [3, 0]
    assert conversions.get_column("contacts_in_journey").to_list() == [4, 1]  # the account's
    text = " ".join(got.output.split())
    assert ("buying committee: 3.0 contacts per deal (median 3, max 3) named on the deal "
            "itself") in text  # fmt: skip
    assert "of the 1 deals naming any; 1 of 2 deals name none" in text
