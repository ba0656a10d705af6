"""New-user report 22, import side: S4 (renewal pipelines and accounts winning again),
M13 (a contact with 1,000 touches or more), M4 (the drill-down note's pairs add up to its
count), M5 (repeated contact rows are not e-mails on several contacts), M6 (a deals export
given as the contacts), M12 (a won deal without a close date is not a dropped row). On
copies of the HubSpot UI fixture (tests/fixtures/hubspot_ui)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import attribution
from attribution.cli import app

ROOT = Path(__file__).resolve().parents[1]
HS = ROOT / "tests" / "fixtures" / "hubspot_ui"
#: a renewal of Acme (account 9001, won 5001 on 2025-03-15) in its own pipeline
RENEWAL = "5006,Acme renewal,Closed Won,20000,2025-05-01 10:00,2025-05-20 12:00,101,9001,Renewals\n"


def _deals(tmp_path: Path, extra: str = RENEWAL) -> Path:
    path = tmp_path / "deals.csv"
    path.write_text((HS / "deals.csv").read_text() + extra)
    return path


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["import", "hubspot", *args])
    return result.exit_code, result.output


# ---------------------------------------------------------------- S4: pipelines, repeat wins
def test_deals_per_pipeline_and_accounts_winning_again_are_reported(tmp_path) -> None:
    result = attribution.import_hubspot(HS / "contacts.csv", _deals(tmp_path))
    report = result.report
    assert report["pipelines"] == {"column": "Pipeline", "deals": {
        "Sales Pipeline": {"deals": 4, "won": 2}, "Renewals": {"deals": 1, "won": 1}}}
    assert report["counts"]["accounts_winning_again"] == 1
    assert report["counts"]["won_deals_after_the_accounts_first"] == 1
    note = next(n for n in report["notes"] if "win again" in n)
    assert "1 account(s) win again after their first won deal (1 later won deal(s) in " \
        "'Renewals' (1), e.g. account '9001')" in note
    assert "'Renewals' read as renewals / upsells: keep the new-business ones with " \
        "--pipeline 'Sales Pipeline'" in note
    # the fixture alone: one pipeline, no account wins twice, nothing said
    plain = attribution.import_hubspot(HS / "contacts.csv", HS / "deals.csv").report
    assert plain["counts"]["accounts_winning_again"] == 0
    assert not any("win again" in n for n in plain["notes"])
    code, out = _cli("--contacts", str(HS / "contacts.csv"), "--deals",
                     str(_deals(tmp_path)), "--out", str(tmp_path / "all"))  # fmt: skip
    assert code == 0, out
    assert "deals by pipeline: 'Sales Pipeline' 4 (2 won), 'Renewals' 1 (1 won)" in out


def test_a_deal_without_a_pipeline_is_listed_as_such(tmp_path) -> None:
    blank = RENEWAL + ("5007,Beta upsell,Closed Won,3000,2025-05-01 10:00,2025-06-01 12:00,"
                       "103,9002,\n")
    report = attribution.import_hubspot(HS / "contacts.csv", _deals(tmp_path, blank)).report
    assert list(report["pipelines"]["deals"].items())[1:] == [
        ("Renewals", {"deals": 1, "won": 1}), ("(no pipeline)", {"deals": 1, "won": 1})]
    assert report["counts"]["accounts_winning_again"] == 1  # Beta's first win is 5007


def test_pipeline_keeps_only_the_deals_of_the_pipelines_named(tmp_path) -> None:
    deals = _deals(tmp_path)
    result = attribution.import_hubspot(HS / "contacts.csv", deals, pipelines=["sales pipeline"])
    ids = set(result.stages.get_column("opportunity_id").drop_nulls().to_list())
    assert "5006" not in ids
    assert {"5001", "5002", "5003"} <= ids
    assert {"file": "deals", "reason": "a deal of another pipeline than --pipeline "
            "('Renewals' 1)", "count": 1} in result.report["drops"]  # fmt: skip
    assert result.report["counts"]["accounts_winning_again"] == 0
    # the CLI: repeatable, a name the export lacks is an error listing its pipelines
    code, out = _cli("--contacts", str(HS / "contacts.csv"), "--deals", str(deals),
                     "--pipeline", "Sales Pipeline", "--out", str(tmp_path / "new"))  # fmt: skip
    assert code == 0, out
    assert "dropped 1 deals row(s): a deal of another pipeline than --pipeline" in out
    assert "closed-won deals: 2;" in out  # 5001, 5003 (5005 has no contact nor company)
    code, out = _cli("--contacts", str(HS / "contacts.csv"), "--deals", str(deals),
                     "--pipeline", "New Business", "--out", str(tmp_path / "bad"))  # fmt: skip
    assert code == 2, out
    assert "'New Business' names no pipeline" in out
    assert "'Renewals', 'Sales Pipeline'" in out
    assert not (tmp_path / "bad").exists()


# ---------------------------------------------------------------- M13: a busy contact
def test_a_contact_with_a_thousand_touches_is_named(tmp_path) -> None:
    engagements = tmp_path / "engagements.csv"
    text = (HS / "engagements.csv").read_text()
    bot = "".join(f"B{i},FORM_SUBMISSION,2025-02-0{1 + i % 9} 10:{i % 60:02d},102,google,cpc,\n"
                  for i in range(1_000))  # fmt: skip
    engagements.write_text(text + bot)
    result = attribution.import_hubspot(HS / "contacts.csv", HS / "deals.csv",
                                        engagements=engagements)  # fmt: skip
    assert result.report["counts"]["busy_contacts"] == 1
    note = next(n for n in result.report["notes"] if "touches or more" in n)
    assert "1 contact(s) have 1,000 touches or more (the most: contact '102' " \
        "('ben@acme.example', account '9001'), 1,00" in note
    assert "of them google_ads" in note
    quiet = attribution.import_hubspot(HS / "contacts.csv", HS / "deals.csv",
                                       engagements=HS / "engagements.csv")  # fmt: skip
    assert not any("touches or more" in n for n in quiet.report["notes"])


# ---------------------------------------------------------------- M4: the pairs add up
def test_the_drill_down_note_counts_the_pairs_it_does_not_list(tmp_path) -> None:
    pairs = [("Paid Search", "Google"), ("PAID_SEARCH", "Google"), ("paid search", "Google"),
             ("Paid search", "Google"), ("Paid Social", "LinkedIn"), ("paid social", "LinkedIn")]
    lines = ["Record ID,Email,Create Date,Original Source,Original Source Drill-Down 1"]
    lines += [f"{i},c{i}@x.com,2025-01-0{i} 10:00,{s},{d}" for i, (s, d) in enumerate(pairs, 1)]
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("\n".join(lines) + "\n")
    report = attribution.import_hubspot(contacts).report
    note = next(n for n in report["notes"] if "paid source" in n)
    assert note.startswith("contacts: 6 touch(es) of a paid source")
    assert ", and 2 more pair(s) (2; all in import_report.json value_mappings)" in note
    assert len(report["value_mappings"]["channel (HubSpot paid source + drill-down 1)"]) == 6


# ---------------------------------------------------------------- M5: repeated contact rows
def test_repeated_contact_rows_are_not_e_mails_on_several_contacts(tmp_path) -> None:
    contacts = tmp_path / "contacts.csv"
    text = (HS / "contacts.csv").read_text()
    contacts.write_text(text + text.splitlines()[2] + "\n")  # contact 102's row again
    forms = tmp_path / "forms.csv"
    forms.write_text("Conversion Date,Email,UTM Source,UTM Medium\n"
                     "2025-01-16 10:00,ben@acme.example,google,cpc\n")  # fmt: skip
    result = attribution.import_hubspot(contacts, HS / "deals.csv", engagements=forms)
    assert result.report["counts"]["emails_on_several_contacts"] == 0
    assert not any("several contacts" in n for n in result.report["notes"])
    # two contacts sharing an e-mail still are
    shared = tmp_path / "shared.csv"
    shared.write_text(text.replace("cara@beta.example", "ben@acme.example"))
    again = attribution.import_hubspot(shared, HS / "deals.csv", engagements=forms)
    assert again.report["counts"]["emails_on_several_contacts"] == 1


# ---------------------------------------------------------------- M6: deals as contacts
def test_a_deals_export_given_as_the_contacts_is_refused(tmp_path) -> None:
    with pytest.raises(attribution.InputError) as caught:
        attribution.import_hubspot(HS / "deals.csv", HS / "deals.csv")
    text = str(caught.value)
    assert "deals.csv" in text
    assert "looks like a deals export, not a contacts one" in text
    assert "'Deal Stage', 'Amount', 'Close Date'" in text
    code, out = _cli("--contacts", str(HS / "deals.csv"), "--deals", str(HS / "deals.csv"),
                     "--out", str(tmp_path / "o"))  # fmt: skip
    assert code == 2, out
    assert "Traceback" not in out


def test_an_import_without_touches_prints_no_run_that_would_fail(tmp_path) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("Record ID,Email,Primary Associated Company ID\n"
                        "101,ana@acme.example,9001\n102,ben@acme.example,9001\n")  # fmt: skip
    code, out = _cli("--contacts", str(contacts), "--deals", str(HS / "deals.csv"),
                     "--out", str(tmp_path / "o"))  # fmt: skip
    assert code == 0, out
    assert "no touch was written" in out
    assert "next: attribution run" not in out


# ---------------------------------------------------------------- M12: a won deal undated
def test_a_won_deal_without_a_close_date_is_named_not_dropped(tmp_path) -> None:
    deals = tmp_path / "deals.csv"
    deals.write_text((HS / "deals.csv").read_text().replace(
        "2025-02-10 10:00,2025-03-15 16:00", "2025-02-10 10:00,"))  # fmt: skip
    result = attribution.import_hubspot(HS / "contacts.csv", deals)
    report = result.report
    assert not [d for d in report["drops"] if "close date" in d["reason"]]
    assert report["files"]["deals"]["rows_kept"] == 4  # 5005: no contact nor company
    assert report["counts"]["deals_closed_without_close_date"] == 1
    note = next(n for n in report["notes"] if "without a close date" in n)
    assert "1 won / lost deal(s) without a close date in 'Close Date' (e.g. '5001' " \
        "(file line 2)): kept as opportunities, with no won / lost event, so 1 won deal(s)" \
        in note
    won = result.stages.filter(pl.col("stage") == "closed_won")
    assert "5001" not in won.get_column("opportunity_id").to_list()
