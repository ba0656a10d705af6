"""New-user report 9 (a RevOps analyst with Salesforce exports, ABM at account level): each
test fails on the code the report was written against."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl

from attribution import import_salesforce

ROOT = Path(__file__).resolve().parents[1]
SF = ROOT / "tests" / "fixtures" / "salesforce"


def _signed_export(tmp_path: Path) -> Path:
    """The Opportunity export with no IsWon / IsClosed (as many reports) and Acme's won deal
    in a renamed won stage, 'Contract Signed'."""
    opps = pl.read_csv(SF / "Opportunity.csv", infer_schema=False).drop("IsWon", "IsClosed")
    opps = opps.with_columns(
        pl.when(pl.col("Id") == "006A")
        .then(pl.lit("Contract Signed"))
        .otherwise(pl.col("StageName"))
        .alias("StageName")
    )
    path = tmp_path / "Opportunity.csv"
    opps.write_csv(path, quote_style="always")
    return path


def test_salesforce_says_how_each_stage_was_read_and_names_a_closed_looking_open_stage(
    tmp_path: Path,
) -> None:
    """#3: a renamed won stage without the word 'won' read as open in silence: the
    Salesforce import now records the stage mapping under the key the CLI prints and notes
    the open stages that carry close dates, the likeliest closed one first."""
    result = import_salesforce(
        SF / "CampaignMember.csv",
        _signed_export(tmp_path),
        contacts=SF / "Contact.csv",
        campaigns=SF / "Campaign.csv",
    )
    mapping = result.report["value_mappings"]["deal_stage"]
    assert mapping["Contract Signed"] == "open"
    assert mapping["Closed Won"] == "closed_won"
    (note,) = [n for n in result.report["notes"] if "read as open" in n]
    # 'Contract Signed' closed on 2025-03-20, before the last closed deal (2025-04-10);
    # Negotiation/Review's expected close, 2025-06-30, is after it
    assert "'Contract Signed' (1; 1 dated no later than the last closed deal), " in note
    assert note.index("Contract Signed") < note.index("Negotiation/Review")


def test_the_cli_prints_the_salesforce_deal_stages(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "import", "salesforce",
         "--campaign-members", str(SF / "CampaignMember.csv"),
         "--opportunities", str(_signed_export(tmp_path)), "--campaigns",
         str(SF / "Campaign.csv"), "--out", str(tmp_path / "crm")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert "deal stages: " in out
    assert "'Contract Signed' -> open" in out
    assert "carry a close date but read as open" in out


HS = ROOT / "tests" / "fixtures" / "hubspot_ui"


def _sf_with_emails(tmp_path: Path, out: Path | None = None):  # type: ignore[no-untyped-def]
    """The Salesforce fixture, its Contact export with an Email column."""
    contacts = pl.read_csv(SF / "Contact.csv", infer_schema=False).with_columns(
        (pl.col("FirstName").str.to_lowercase() + "@example.com").alias("Email")
    )
    contacts.write_csv(tmp_path / "Contact.csv", quote_style="always")
    return import_salesforce(
        SF / "CampaignMember.csv", SF / "Opportunity.csv", campaigns=SF / "Campaign.csv",
        contacts=tmp_path / "Contact.csv", contact_roles=SF / "OpportunityContactRole.csv",
        out=out,
    )  # fmt: skip


def test_the_imports_keep_each_contacts_email(tmp_path: Path) -> None:
    """#2: a survey tool's export is keyed by e-mail; the imports dropped the contacts'
    e-mail, so such answers could not join an import without a hand-built contacts table."""
    from attribution import import_hubspot

    hub = import_hubspot(HS / "contacts.csv", HS / "deals.csv")
    emails = dict(hub.contacts.select("contact_id", "email").iter_rows())
    assert emails["101"] == "ana@acme.example"
    assert hub.report["files"]["contacts"]["columns"]["email"] == "Email"
    sf = _sf_with_emails(tmp_path)
    assert dict(sf.contacts.select("contact_id", "email").iter_rows())["003A1"] == "ana@example.com"


def test_a_survey_keyed_by_email_maps_its_column_in_the_config_and_joins(tmp_path: Path) -> None:
    """#2: '[columns.surveys] email = "Email"' (the README's advice, and the error's own
    hint) was an unknown key; the same in Python's columns=."""
    import attribution
    from attribution.inputs._config import load_config

    config = tmp_path / "run.toml"
    config.write_text(
        '[columns.surveys]\nresponse = "How did you hear about us?"\nemail = "Email"\n'
        '[columns.contacts]\nemail = "E-mail address"\n'
    )
    assert load_config(config).columns["surveys"]["email"] == "Email"
    options = attribution.RunOptions(columns={"surveys": {"email": "Email"}})
    assert options.columns["surveys"]["email"] == "Email"
    # end to end: an import's contacts carry the e-mails, the answers name them
    crm = _sf_with_emails(tmp_path, out=tmp_path / "crm")
    won = crm.stages.filter(pl.col("stage") == "closed_won").drop_nulls("contact_id")
    assert won.height
    email = crm.contacts.filter(pl.col("contact_id") == won.item(0, "contact_id")).item(0, "email")
    surveys = tmp_path / "survey.csv"
    pl.DataFrame({"Email": [email.upper()], "How did you hear about us?": ["a webinar"]}).write_csv(
        surveys
    )
    (tmp_path / "run.toml").write_text(
        f'[inputs]\nimport = "{tmp_path / "crm"}"\nsurveys = "{surveys}"\n'
        '[run]\nmodels = ["linear"]\n'
        '[columns.surveys]\nresponse = "How did you hear about us?"\nemail = "Email"\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "run", "--config", str(tmp_path / "run.toml"),
         "--out", str(tmp_path / "runs")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Answers keyed by e-mail: 1 given the contact of their e-mail (contacts table" in (
        proc.stdout
    )


def test_a_second_role_on_one_deal_is_a_counted_merge_keeping_the_higher_role(
    tmp_path: Path,
) -> None:
    """Minor #1: 990 role rows read, 885 kept, and no reason for the 105: a second role of
    one contact on one opportunity is now counted, and the higher role is the one kept
    (the first row's was, whatever it was)."""
    roles = pl.read_csv(SF / "OpportunityContactRole.csv", infer_schema=False)
    first = roles.row(0, named=True)
    extra = {**first, "Id": "00KX", "Role": "Decision Maker"}
    low = {**first, "Role": "Technical Buyer"}  # the contact's first row: the lower role
    roles = pl.concat([pl.DataFrame([low]), roles.slice(1), pl.DataFrame([extra])])
    roles.write_csv(tmp_path / "roles.csv", quote_style="always")
    got = import_salesforce(
        SF / "CampaignMember.csv", SF / "Opportunity.csv", campaigns=SF / "Campaign.csv",
        contact_roles=tmp_path / "roles.csv",
    )  # fmt: skip
    drops = {d["reason"]: d["count"] for d in got.report["drops"] if d["file"] == "contact_roles"}
    merged = [n for r, n in drops.items() if "second role of one contact on one opportunity" in r]
    assert merged == [1]
    # every role row read is kept or counted with its reason
    files = got.report["files"]["contact_roles"]
    assert files["rows_read"] - files["rows_kept"] == sum(drops.values())
    role = got.contacts.filter(pl.col("contact_id") == first["ContactId"]).item(0, "role")
    assert role == "decision_maker"
