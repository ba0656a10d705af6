"""CRM importers (HubSpot, Salesforce): exports shaped like real ones in tests/fixtures, end
to end through ``attribution import`` and ``attribution run`` in real subprocesses, the
import report's counts, and errors naming the file, the user's column and file lines."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import attribution
from attribution import InputError, import_hubspot, import_salesforce
from attribution.importers._read import LINE, read_export, timestamp_expr

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
HS_UI, HS_API, SF = FIXTURES / "hubspot_ui", FIXTURES / "hubspot_api", FIXTURES / "salesforce"
CLI = [sys.executable, "-m", "attribution.cli"]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run(
        [*CLI, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )


def run_dir(runs: Path) -> Path:
    (found,) = [p for p in runs.iterdir() if not p.name.startswith(".")]
    return found


def credit_by_touch(run: Path, model: str) -> dict[str, float]:
    touch = pl.read_parquet(run / "touch_credit.parquet")  # wide: a credit column per model
    return dict(touch.select("touch_id", f"credit:{model}").iter_rows())


def hubspot_import(out: Path, folder: Path = HS_UI, **kw: object) -> attribution.ImportResult:
    return import_hubspot(
        folder / "contacts.csv",
        folder / "deals.csv",
        engagements=folder / "engagements.csv",
        out=out,
        **kw,  # type: ignore[arg-type]
    )


def salesforce_import(out: Path | None = None, **kw: object) -> attribution.ImportResult:
    return import_salesforce(
        SF / "CampaignMember.csv",
        SF / "Opportunity.csv",
        contact_roles=SF / "OpportunityContactRole.csv",
        contacts=SF / "Contact.csv",
        campaigns=SF / "Campaign.csv",
        opportunity_history=SF / "OpportunityHistory.csv",
        leads=SF / "Lead.csv",
        out=out,
        **kw,  # type: ignore[arg-type]
    )


# --- end to end through the command line ------------------------------------------------


@pytest.mark.slow
def test_hubspot_export_imports_and_runs_at_account_level(tmp_path: Path) -> None:
    out = tmp_path / "hs"
    proc = run_cli(
        "import", "hubspot",
        "--contacts", str(HS_UI / "contacts.csv"),
        "--deals", str(HS_UI / "deals.csv"),
        "--engagements", str(HS_UI / "engagements.csv"),
        "--self-reported", "How did you hear about us?",
        "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "dropped 1 deals row(s): no associated contact and no company" in proc.stdout
    for name in ("touches", "stages", "contacts", "surveys"):
        assert (out / f"{name}.parquet").is_file()
    proc = run_cli(
        "run",
        "--touches", str(out / "touches.parquet"),
        "--stages", str(out / "stages.parquet"),
        "--contacts", str(out / "contacts.parquet"),
        "--surveys", str(out / "surveys.parquet"),
        "--level", "account", "-m", "linear", "-m", "w_shaped",
        "--out", str(tmp_path / "runs"),
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    run = run_dir(tmp_path / "runs")
    conv = pl.read_parquet(run / "conversions.parquet").sort("account_id")
    # two won deals: 5001 (two contacts, one conversion of account 9001) and 5003 (no
    # company on the deal: the contact's company 9003); the lost and open deals convert nothing
    assert conv.get_column("account_id").to_list() == ["9001", "9003"]
    assert conv.get_column("opportunity_id").to_list() == ["5001", "5003"]
    assert conv.get_column("value").to_list() == [24000.0, 12000.0]
    assert conv.get_column("n_touches").to_list() == [6, 2]
    assert conv.get_column("lead_at").null_count() == 0
    assert conv.get_column("opportunity_at").null_count() == 0
    # W-shaped: E1 is first touch and lead touch (0.3 + 0.3), the meeting E3 the last touch
    # before the opportunity (0.3), the other four share 0.1; linear gives each 1/6
    w = credit_by_touch(run, "w_shaped")
    lin = credit_by_touch(run, "linear")
    assert w["E1"] == pytest.approx(0.6)
    assert w["E3"] == pytest.approx(0.3)
    assert w["E2:102"] == pytest.approx(0.025)
    assert lin["E1"] == pytest.approx(1 / 6)
    channel = pl.read_parquet(run / "channel_credit.parquet")
    total = channel.group_by("model").agg(pl.col("value").sum())
    assert total.get_column("value").to_list() == pytest.approx([36000.0, 36000.0])
    assert (run / "survey_benchmark.parquet").is_file()
    # the CRM's own source (the deals carry none: their first contact's Original Source)
    crm = pl.read_parquet(run / "pipeline.parquet").filter(pl.col("measure") == "crm_sourced")
    assert dict(crm.select("channel", "pipeline").iter_rows()) == {
        "Organic Search": 24000.0,
        "Email Marketing": 12000.0,
    }
    assert crm.get_column("sums_to_total").all()


@pytest.mark.slow
def test_salesforce_export_imports_and_runs_at_account_level(tmp_path: Path) -> None:
    out = tmp_path / "sf"
    proc = run_cli(
        "import", "salesforce",
        "--campaign-members", str(SF / "CampaignMember.csv"),
        "--opportunities", str(SF / "Opportunity.csv"),
        "--contact-roles", str(SF / "OpportunityContactRole.csv"),
        "--contacts", str(SF / "Contact.csv"),
        "--campaigns", str(SF / "Campaign.csv"),
        "--opportunity-history", str(SF / "OpportunityHistory.csv"),
        "--leads", str(SF / "Lead.csv"),
        "--self-reported", "How_Did_You_Hear__c",
        "--out", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "dropped 2 campaign_members row(s): did not respond" in proc.stdout
    config = tmp_path / "run.toml"
    config.write_text(
        '[inputs]\nimport = "sf"\n[run]\nmodels = ["linear", "w_shaped"]\nout = "runs"\n'
    )
    proc = run_cli("run", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = run_dir(tmp_path / "runs")
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["parameters"]["level"] == "account"
    conv = pl.read_parquet(run / "conversions.parquet").sort("account_id")
    assert conv.get_column("opportunity_id").to_list() == ["006A", "006C"]
    assert conv.get_column("value").to_list() == [50000.0, 15000.0]
    assert conv.get_column("n_touches").to_list() == [4, 1]
    assert conv.get_column("opportunity_at").null_count() == 0
    # 001A: the lead event (1/3) precedes the journey, so W-shaped has first + opportunity
    # (both 00v1: 0.6) and three others (0.1 / 3), renormalised over 0.7
    w = credit_by_touch(run, "w_shaped")
    assert w["00v1"] == pytest.approx(6 / 7)
    assert w["00v2"] == pytest.approx(1 / 21)
    assert credit_by_touch(run, "linear")["00v1"] == pytest.approx(0.25)
    assert (run / "survey_benchmark.parquet").is_file()  # surveys came with the import
    crm = pl.read_parquet(run / "pipeline.parquet").filter(pl.col("measure") == "crm_sourced")
    assert dict(crm.select("channel", "deals").iter_rows()) == {"Webinar": 1, "Web": 1}
    assert conv.get_column("crm_source").to_list() == ["Webinar", "Web"]


@pytest.mark.slow
def test_import_errors_name_file_column_and_line(tmp_path: Path) -> None:
    members = tmp_path / "CampaignMember.csv"
    members.write_text(
        '"Id","CampaignId","ContactId","LeadId","Status","HasResponded",'
        '"FirstRespondedDate","CreatedDate","Description"\n'
        '"00v1","701W","003A1","","Attended","true","1/10/2025 10:00 AM","1/8/2025 9:00 AM",'
        '"two\nlines"\n'
        '"00v2","701W","003A2","","Attended","true","21.02.2025 13:19","1/8/2025 9:00 AM",""\n'
    )
    args = [
        "import", "salesforce", "--campaign-members", str(members),
        "--opportunities", str(SF / "Opportunity.csv"), "--campaigns", str(SF / "Campaign.csv"),
    ]  # fmt: skip
    proc = run_cli(*args, "--out", str(tmp_path / "a"), cwd=tmp_path)
    assert proc.returncode == 2
    message = " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr
    assert str(members) in message
    assert "column 'FirstRespondedDate' (ours: 'timestamp')" in message
    assert "line(s) 4" in message  # the quoted cell of row 1 spans lines 2-3
    assert not (tmp_path / "a").exists()
    # given patterns replace the defaults; several are tried in order, row by row
    formats = ["--timestamp-format", "%m/%d/%Y %I:%M %p", "--timestamp-format", "%d.%m.%Y %H:%M"]
    proc = run_cli(*args, *formats, "--out", str(tmp_path / "b"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    touches = pl.read_parquet(tmp_path / "b" / "touches.parquet")
    assert str(touches.filter(pl.col("touch_id") == "00v2").get_column("timestamp").item()) == (
        "2025-02-21 13:19:00+00:00"
    )


# --- the library: semantics and the report ----------------------------------------------


def test_hubspot_ui_labels_and_api_names_give_the_same_tables(tmp_path: Path) -> None:
    ui = hubspot_import(tmp_path / "ui")
    api = hubspot_import(tmp_path / "api", HS_API)
    # the CRM's source values are spelled differently (Organic Search / ORGANIC_SEARCH)
    assert_frame_equal(ui.stages.drop("lead_source"), api.stages.drop("lead_source"))
    assert_frame_equal(ui.touches, api.touches)
    assert_frame_equal(ui.contacts.drop("lead_source"), api.contacts.drop("lead_source"))
    assert api.report["files"]["deals"]["columns"]["contact_id"] == "associatedcontactids"
    assert ui.report["files"]["deals"]["columns"]["contact_id"] == "Associated Contact IDs"


def test_hubspot_report_counts_and_mappings(tmp_path: Path) -> None:
    result = hubspot_import(tmp_path / "hs")
    report = json.loads((tmp_path / "hs" / "import_report.json").read_text())
    assert report == json.loads(json.dumps(result.report, default=str))
    files = report["files"]
    assert (files["contacts"]["rows_read"], files["contacts"]["rows_kept"]) == (6, 5)
    assert (files["deals"]["rows_read"], files["deals"]["rows_kept"]) == (5, 4)
    assert (files["engagements"]["rows_read"], files["engagements"]["rows_kept"]) == (11, 9)
    drops = {(d["file"], d["reason"]): d["count"] for d in report["drops"]}
    assert drops == {
        ("contacts", "no contact id in 'Record ID'"): 1,
        ("deals", "no associated contact and no company"): 1,
        ("engagements", "no date in 'Activity date'"): 1,
        ("engagements", "no associated contact in 'Associated Contact IDs'"): 1,
    }
    maps = report["value_mappings"]
    assert maps["stage"]["Became a Marketing Qualified Lead Date"] == "mql"
    assert maps["deal_stage"] == {
        "Appointment Scheduled": "open",
        "Closed Lost": "closed_lost",
        "Closed Won": "closed_won",
    }
    assert maps["channel (utm_source / utm_medium)"]["linkedin / paid_social"] == "linkedin"
    assert maps["role"]["End user"] == "user"
    assert report["outputs"]["touches.parquet"] == result.touches.height == 10
    # the multi-contact engagement E2 is one touch per contact, with distinct ids
    assert result.touches.filter(pl.col("touch_id").str.starts_with("E2")).height == 2
    # the contact's "Became a Customer Date" is `customer`, not a second closed_won
    won = result.stages.filter(pl.col("stage") == "closed_won")
    assert won.get_column("opportunity_id").unique().sort().to_list() == ["5001", "5003"]
    deal = won.filter(pl.col("opportunity_id") == "5001")
    assert deal.get_column("contact_id").sort().to_list() == ["101", "102"]
    # a deal without a company takes its contact's
    assert won.filter(pl.col("opportunity_id") == "5003").get_column("account_id").item() == "9003"
    # a whitespace-only role is missing, reported as unknown
    role = result.contacts.filter(pl.col("contact_id") == "105").get_column("role").item()
    assert role == "unknown"


def test_hubspot_without_engagements_uses_original_source(tmp_path: Path) -> None:
    result = import_hubspot(HS_UI / "contacts.csv", HS_UI / "deals.csv")
    touches = result.touches
    assert touches.height == 5  # one per contact with an id and an original source
    assert dict(touches.select("contact_id", "channel").iter_rows())["101"] == "organic_search"
    assert any("no engagements file" in n for n in result.report["notes"])


def test_salesforce_semantics(tmp_path: Path) -> None:
    result = salesforce_import(tmp_path / "sf", self_reported_column="How_Did_You_Hear__c")
    touches, stages, contacts = result.touches, result.stages, result.contacts
    # lead 00Q1 converted to 003A1: its campaign membership is 003A1's touch
    assert touches.filter(pl.col("touch_id") == "00v1").get_column("contact_id").item() == "003A1"
    # Data Loader's US time with a 12-hour clock
    at = touches.filter(pl.col("touch_id") == "00v2").get_column("timestamp").item()
    assert str(at) == "2025-02-21 13:19:00+00:00"
    assert dict(touches.select("touch_id", "channel").iter_rows())["00v2"] == "events"
    assert "00v3" not in touches.get_column("touch_id").to_list()  # did not respond
    roles = dict(contacts.select("contact_id", "role").iter_rows())
    assert roles == {
        "003A1": "decision_maker",
        "003A2": "influencer",
        "003B1": "finance",
        "003C1": "user",
        "003X": "champion",
        "00Q2": None,
    }
    history = stages.filter(pl.col("opportunity_id") == "006A").get_column("stage").unique()
    assert set(history) == {"opportunity", "prospecting", "qualification", "negotiation_review",
                            "closed_won"}  # fmt: skip
    assert stages.filter(pl.col("opportunity_id") == "006D").get_column("stage").to_list() == [
        "opportunity"
    ]  # open: no close event
    report = result.report
    drops = {(d["file"], d["reason"]): d["count"] for d in report["drops"]}
    assert drops[("campaign_members", "did not respond (HasResponded false)")] == 2
    assert drops[("campaign_members", "no ContactId and no LeadId")] == 1
    assert drops[("opportunities", "no contact (roles, ContactId) and no AccountId")] == 1
    assert drops[("contact_roles", "opportunity not in the Opportunity file")] == 1
    assert report["value_mappings"]["role"]["Technical Buyer"] == "influencer"
    surveys = result.surveys
    assert surveys is not None
    # a blank ("  ") answer is no answer; the lead's answer follows it to its contact
    assert sorted(surveys.get_column("contact_id").to_list()) == ["003A1", "003A1", "003C1", "00Q2"]
    included = salesforce_import(include_non_responders=True).touches
    late = included.filter(pl.col("touch_id") == "00v3").get_column("timestamp").item()
    assert str(late) == "2025-02-01 07:00:00+00:00"  # at CreatedDate
    assert included.height == touches.height + 2


def test_campaign_type_on_the_member_needs_no_campaign_file(tmp_path: Path) -> None:
    source = pl.read_csv(SF / "CampaignMember.csv", infer_schema=False)
    types = pl.read_csv(SF / "Campaign.csv", infer_schema=False)
    labelled = source.join(
        types.select(pl.col("ID").alias("CampaignId"), pl.col("TYPE").alias("Campaign.Type")),
        on="CampaignId",
        how="left",
    )
    path = tmp_path / "members.csv"
    labelled.write_csv(path, quote_style="always")
    result = import_salesforce(path, SF / "Opportunity.csv")
    report = result.report["files"]["campaign_members"]["columns"]
    assert report["channel"] == "Campaign.Type"
    assert set(result.touches.get_column("channel")) == {
        "webinar", "events", "email", "partner_referral", "advertisement"
    }  # fmt: skip
    with pytest.raises(InputError, match=r"Campaign\.Type"):
        import_salesforce(SF / "CampaignMember.csv", SF / "Opportunity.csv")


def test_quoted_blanks_are_missing_and_lines_are_file_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b'"a","b"\n"1",""\n"  ","multi\nline"\n"\xc2\xa0x\xc2\xa0","3"\n')
    export = read_export(path, "x")
    assert export.frame.get_column("a").to_list() == ["1", None, "x"]
    assert export.frame.get_column("b").to_list() == [None, "multi\nline", "3"]
    assert export.frame.get_column(LINE).to_list() == [2, 3, 5]


def test_negative_amount_is_an_error_naming_column_and_line(tmp_path: Path) -> None:
    deals = tmp_path / "deals.csv"
    text = (HS_UI / "deals.csv").read_text().replace(",Closed Lost,8000,", ",Closed Lost,-8000,")
    deals.write_text(text)
    with pytest.raises(InputError, match=r"column 'Amount'.*negative.*line\(s\) 3"):
        import_hubspot(HS_UI / "contacts.csv", deals)


def test_missing_column_names_the_file_and_suggests(tmp_path: Path) -> None:
    deals = tmp_path / "deals.csv"
    deals.write_text((HS_UI / "deals.csv").read_text().replace("Deal Stage", "Deal Stag"))
    with pytest.raises(InputError, match="Deal Stag") as info:
        import_hubspot(HS_UI / "contacts.csv", deals)
    assert str(deals) in str(info.value)


def test_write_is_atomic_and_refuses_an_existing_directory(tmp_path: Path) -> None:
    result = salesforce_import()
    out = tmp_path / "out"
    result.write(out)
    assert sorted(p.name for p in out.iterdir()) == [
        "contacts.parquet", "import_report.json", "stages.parquet", "touches.parquet"
    ]  # fmt: skip
    with pytest.raises(FileExistsError):
        result.write(out)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary left behind
    shutil.rmtree(out)


def test_the_readme_config_for_a_custom_export_runs(tmp_path: Path) -> None:
    """The README's "custom export" config, on the HubSpot fixture's tables written under
    other names, gives the same conversions as the import."""
    from typer.testing import CliRunner

    from attribution.cli import app

    readme = (ROOT / "README.md").read_text()
    begin = readme.index("```toml\n", readme.index("**A custom export**")) + len("```toml\n")
    config = readme[begin : readme.index("```", begin)]
    result = hubspot_import(tmp_path / "hs")
    theirs = {"closed_won": "Won", "closed_lost": "Lost", "opportunity": "Demo Scheduled"}
    result.touches.select(
        pl.col("timestamp").alias("Activity Date"), pl.col("contact_id").alias("Person ID"),
        pl.col("utm_source").alias("UTM Source"), pl.col("utm_medium").alias("UTM Medium"),
    ).write_csv(tmp_path / "marketing_activity.csv")  # fmt: skip
    result.stages.select(
        pl.col("timestamp").alias("Changed At"),
        pl.col("stage").replace(theirs).alias("Stage"),
        pl.col("contact_id").alias("Person ID"),
        pl.col("opportunity_id").alias("Deal ID"),
        pl.col("value").alias("Deal Value"),
    ).drop_nulls("Person ID").write_csv(tmp_path / "deal_stage_changes.csv")
    result.contacts.select(
        pl.col("contact_id").alias("Person ID"),
        pl.col("account_id").alias("Organization ID"),
        pl.col("role").alias("Buying Role"),
    ).write_csv(tmp_path / "people.csv")
    path = tmp_path / "custom.toml"
    path.write_text(config.replace("[run]\n", '[run]\nout = "runs"\n'))
    outcome = CliRunner().invoke(app, ["run", "--config", str(path)])
    assert outcome.exit_code == 0, outcome.output
    conv = pl.read_parquet(run_dir(tmp_path / "runs") / "conversions.parquet").sort("account_id")
    assert conv.get_column("opportunity_id").to_list() == ["5001", "5003"]
    assert conv.get_column("value").to_list() == [24000.0, 12000.0]
    assert conv.get_column("opportunity_at").null_count() == 0


def test_hubspot_company_names_map_to_ids_through_the_companies_file(tmp_path: Path) -> None:
    deals = pl.read_csv(HS_UI / "deals.csv", infer_schema=False)
    names = pl.read_csv(HS_UI / "companies.csv", infer_schema=False)
    named = deals.join(
        names.select(
            pl.col("Record ID").alias("Associated Company IDs"),
            pl.col("Company name").alias("Associated Company"),
        ),
        on="Associated Company IDs",
        how="left",
    ).drop("Associated Company IDs")
    path = tmp_path / "deals.csv"
    named.write_csv(path)
    with_ids = import_hubspot(HS_UI / "contacts.csv", path, companies=HS_UI / "companies.csv")
    won = with_ids.stages.filter(pl.col("stage") == "closed_won")
    assert sorted(set(won.get_column("account_id"))) == ["9001", "9003"]
    assert with_ids.report["files"]["deals"]["columns"]["account_id"] == "Associated Company"
    # names in the deals, ids in the contacts: they would never meet
    with pytest.raises(InputError, match="--companies"):
        import_hubspot(HS_UI / "contacts.csv", path)
    contacts = pl.read_csv(HS_UI / "contacts.csv", infer_schema=False)
    named_contacts = tmp_path / "contacts.csv"
    contacts.join(
        names.select(
            pl.col("Record ID").alias("Primary Associated Company ID"),
            pl.col("Company name").alias("Company Name"),
        ),
        on="Primary Associated Company ID",
        how="left",
    ).drop("Primary Associated Company ID").write_csv(named_contacts)
    as_names = import_hubspot(named_contacts, path)
    won = as_names.stages.filter(pl.col("opportunity_id") == "5001")
    assert set(won.get_column("account_id")) == {"Acme Freight"}
    assert any("company name" in n for n in as_names.report["notes"])


def test_salesforce_15_and_18_character_ids_meet(tmp_path: Path) -> None:
    """A report export (15-character ids) and a Data Loader export (18) of the same records."""
    members = tmp_path / "members.csv"
    members.write_text(
        '"Id","ContactId","HasResponded","FirstRespondedDate","Campaign Type"\n'
        '"00v5g00000Xy1ab","0035g00000AbCdE","true","2/21/2025 1:19 PM","Webinar"\n'
    )
    contacts = tmp_path / "contacts.csv"
    contacts.write_text('"Id","AccountId"\n"0035g00000AbCdEAAQ","0015g00000ZzZzZAAB"\n')
    opps = tmp_path / "opps.csv"
    opps.write_text(
        '"Id","AccountId","Amount","CloseDate","CreatedDate","IsWon","IsClosed"\n'
        '"0065g00000QqQqQAAA","0015g00000ZzZzZAAB","1000","3/1/2025","2/25/2025","true","true"\n'
    )
    result = import_salesforce(members, opps, contacts=contacts)
    assert result.touches.get_column("account_id").to_list() == ["0015g00000ZzZzZ"]
    assert set(result.stages.get_column("account_id")) == {"0015g00000ZzZzZ"}
    assert result.touches.get_column("touch_id").to_list() == ["00v5g00000Xy1ab"]


def test_repeated_contact_rows_are_noted_and_merged(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    rows = (HS_UI / "contacts.csv").read_text().splitlines()
    # a second row for contact 102 with its company blank: the first non-blank value is kept
    contacts.write_text("\n".join([*rows, '102,Ben,ben@acme.example,"",,,,,,,,,']) + "\n")
    result = import_hubspot(contacts, HS_UI / "deals.csv")
    ben = result.contacts.filter(pl.col("contact_id") == "102")
    assert ben.get_column("account_id").to_list() == ["9001"]
    assert any("1 row(s) repeat an id in 'Record ID'" in n for n in result.report["notes"])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.datetimes(min_value=datetime(2002, 1, 1), max_value=datetime(2035, 12, 31)),
            st.sampled_from(
                [
                    "%m/%d/%Y %I:%M %p",
                    "%m/%d/%Y %H:%M",
                    "%Y-%m-%d %H:%M",
                    "%Y-%m-%dT%H:%M:%S.000Z",
                    "%Y-%m-%dT%H:%M:%S+00:00",
                    "epoch",
                    " %m/%d/%Y %I:%M %p\u00a0",
                    "blank",
                ]
            ),
        ),
        max_size=30,
    )
)
def test_timestamps_in_mixed_formats_read_back(values: list[tuple[datetime, str]]) -> None:
    """Every value reads back to its minute, whatever mix of export formats a column holds;
    blanks are missing. (Epoch milliseconds have 13 digits from September 2001 on.)"""
    text, expected = [], []
    for moment, fmt in values:
        moment = moment.replace(second=0, microsecond=0)
        if fmt == "blank":
            text.append("  ")
            expected.append(None)
            continue
        if fmt == "epoch":
            text.append(str(int(moment.replace(tzinfo=UTC).timestamp() * 1000)))
        else:
            text.append(moment.strftime(fmt))
        expected.append(moment.replace(tzinfo=UTC))
    frame = pl.DataFrame({"t": text}, schema={"t": pl.String})
    parsed = frame.select(timestamp_expr("t")).to_series().to_list()
    assert parsed == expected


def test_salesforce_report_labels_give_the_same_tables(tmp_path: Path) -> None:
    """Report exports label columns ("First Responded Date", "Opportunity ID", "Stage") where
    Data Loader writes API names; both import to the same tables."""
    labels = {
        "CampaignMember": {
            "Id": "Campaign Member ID", "CampaignId": "Campaign ID", "ContactId": "Contact ID",
            "LeadId": "Lead ID", "Status": "Member Status", "HasResponded": "Responded",
            "FirstRespondedDate": "First Responded Date", "CreatedDate": "Created Date",
        },
        "Opportunity": {
            "Id": "Opportunity ID", "AccountId": "Account ID", "Name": "Opportunity Name",
            "StageName": "Stage", "CloseDate": "Close Date", "CreatedDate": "Created Date",
            "IsWon": "Won", "IsClosed": "Closed",
        },
        "OpportunityContactRole": {
            "Id": "Contact Role ID", "OpportunityId": "Opportunity ID", "ContactId": "Contact ID",
            "Role": "Contact Role", "IsPrimary": "Primary",
        },
        "Contact": {"Id": "Contact ID", "AccountId": "Account ID", "LeadSource": "Lead Source"},
        "Lead": {"Id": "Lead ID", "ConvertedContactId": "Converted Contact ID",
                 "ConvertedAccountId": "Converted Account ID", "CreatedDate": "Create Date"},
        "OpportunityHistory": {"OpportunityId": "Opportunity ID", "StageName": "To Stage",
                               "CreatedDate": "Edit Date"},
        "Campaign": {"ID": "Campaign ID", "NAME": "Campaign Name", "TYPE": "Campaign Type"},
    }  # fmt: skip
    for name, renames in labels.items():
        frame = pl.read_csv(SF / f"{name}.csv", infer_schema=False)
        frame.rename(renames).write_csv(tmp_path / f"{name}.csv", quote_style="always")
    api = salesforce_import()
    ui = import_salesforce(
        tmp_path / "CampaignMember.csv",
        tmp_path / "Opportunity.csv",
        contact_roles=tmp_path / "OpportunityContactRole.csv",
        contacts=tmp_path / "Contact.csv",
        campaigns=tmp_path / "Campaign.csv",
        opportunity_history=tmp_path / "OpportunityHistory.csv",
        leads=tmp_path / "Lead.csv",
    )
    assert_frame_equal(ui.touches, api.touches)
    assert_frame_equal(ui.stages, api.stages)
    assert_frame_equal(ui.contacts, api.contacts)
    assert ui.report["files"]["campaign_members"]["columns"]["timestamp"] == "First Responded Date"


def test_deal_contacts_missing_from_the_contacts_file_are_noted(tmp_path: Path) -> None:
    deals = tmp_path / "deals.csv"
    deals.write_text((HS_UI / "deals.csv").read_text().replace(",101;102,", ",101;102;999,"))
    result = import_hubspot(HS_UI / "contacts.csv", deals)
    assert any("1 associated contact id(s) are not" in n for n in result.report["notes"])
    ghost = result.stages.filter(pl.col("contact_id") == "999")
    assert set(ghost.get_column("account_id")) == {"9001"}


def test_crm_sourced_pipeline_is_the_same_partitioned(tmp_path: Path) -> None:
    result = salesforce_import(tmp_path / "sf")
    args = dict(
        touches=tmp_path / "sf" / "touches.parquet",
        stages=tmp_path / "sf" / "stages.parquet",
        contacts=tmp_path / "sf" / "contacts.parquet",
        models=["linear"],
        level="account",
    )
    memory = attribution.attribute(**args)  # type: ignore[arg-type]
    split = attribution.attribute_partitioned(partitions=3, **args)  # type: ignore[arg-type]
    crm = memory.pipeline.filter(pl.col("measure") == "crm_sourced")
    # 006A (Webinar) and 006C (Web) are the won deals; the lost and open ones do not convert
    assert dict(crm.select("channel", "pipeline").iter_rows()) == {
        "Webinar": 50000.0,
        "Web": 15000.0,
    }
    assert_frame_equal(memory.pipeline, split.pipeline)
    assert result.stages.get_column("lead_source").null_count() < result.stages.height
