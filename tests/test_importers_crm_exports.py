"""CRM exports as real users hand them in (new-user report 2, "Smaller / docs"): a Campaign
Member report's own ``Account ID``, multi-currency amounts, HubSpot form-submission exports
keyed by e-mail, a HubSpot portal without deals, several lifecycle-date columns for one
stage, and long self-reported answers. Every fixture is written as the CRM writes it: a
UTF-8 BOM, CRLF line ends, the CRM's own header labels."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from attribution import (
    ColumnNotFoundError,
    InputError,
    SchemaError,
    import_hubspot,
    import_salesforce,
)

CLI = [sys.executable, "-m", "attribution.cli"]


def export(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """Write a CSV export as CRMs write them: a BOM, CRLF, every cell quoted."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))
    return path


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run(
        [*CLI, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )


# --- Salesforce: the Campaign Member report's own Account ID ------------------------------

MEMBER_REPORT = [
    "Campaign Name", "Campaign Type", "Member Status", "Responded", "First Responded Date",
    "Created Date", "Contact ID", "Lead ID", "Account ID",
]  # fmt: skip
OPP_REPORT = [
    "Opportunity ID", "Opportunity Name", "Account ID", "Stage", "Amount", "Close Date",
    "Created Date", "Won", "Closed", "Contact ID",
]  # fmt: skip


def _members(tmp_path: Path, account: bool = True) -> Path:
    c1, c2, c3, lead = "0035g00000Xk9p1", "0035g00000Xk9p2", "0035g00000Xk9p3", "00Q5g00000Ab001"
    a1, a2 = "0015g00000Mn3a1", "0015g00000Mn3a2"
    show = ["SaaStr booth", "Trade Show", "Responded", "1", "2/16/2025", "2/15/2025"]
    rows = [
        ["Q1 Webinar", "Webinar", "Attended", "1", "1/10/2025", "1/9/2025", c1, "", a1],
        ["Q1 Newsletter", "Email", "Responded", "1", "1/12/2025", "1/9/2025", c2, "", a1],
        [*show, c3, "", a2],
        [*show, "", lead, ""],
    ]
    header = MEMBER_REPORT if account else MEMBER_REPORT[:-1]
    return export(tmp_path / "cm.csv", header, [r if account else r[:-1] for r in rows])


def _opps(tmp_path: Path) -> Path:
    return export(
        tmp_path / "opp.csv",
        OPP_REPORT,
        [["0065g00000Oz7a1", "Acme", "0015g00000Mn3a1", "Closed Won", "48,000.00", "3/20/2025",
          "2/5/2025", "1", "1", "0035g00000Xk9p2"]],
    )  # fmt: skip


def test_member_report_account_id_maps_touches_to_accounts(tmp_path: Path) -> None:
    result = import_salesforce(_members(tmp_path), _opps(tmp_path))
    accounts = dict(result.touches.select("contact_id", "account_id").iter_rows())
    # without the members' own Account ID only the deal's contact had an account
    assert accounts == {
        "0035g00000Xk9p1": "0015g00000Mn3a1",
        "0035g00000Xk9p2": "0015g00000Mn3a1",
        "0035g00000Xk9p3": "0015g00000Mn3a2",
        "00Q5g00000Ab001": None,
    }
    contacts = dict(result.contacts.select("contact_id", "account_id").iter_rows())
    assert contacts["0035g00000Xk9p3"] == "0015g00000Mn3a2"
    assert result.report["accounts"]["contacts_account_from_campaign_members"] == 3
    assert result.report["accounts"]["touches_without_account"] == 1
    assert result.report["files"]["campaign_members"]["columns"]["account_id"] == "Account ID"


def test_member_account_yields_to_the_contact_export(tmp_path: Path) -> None:
    contacts = export(
        tmp_path / "Contact.csv",
        ["Contact ID", "Account ID"],
        [["0035g00000Xk9p3", "0015g00000Mn3a9"]],
    )
    result = import_salesforce(_members(tmp_path), _opps(tmp_path), contacts=contacts)
    accounts = dict(result.touches.select("contact_id", "account_id").iter_rows())
    assert accounts["0035g00000Xk9p3"] == "0015g00000Mn3a9"
    assert accounts["0035g00000Xk9p1"] == "0015g00000Mn3a1"
    assert result.report["accounts"]["contacts_account_from_campaign_members"] == 2


def test_member_report_without_account_column_still_imports(tmp_path: Path) -> None:
    result = import_salesforce(_members(tmp_path, account=False), _opps(tmp_path))
    assert result.report["accounts"]["touches_without_account"] == 3
    assert "contacts_account_from_campaign_members" not in result.report["accounts"]


# --- HubSpot: lifecycle dates, several columns for one stage; a portal without deals ------

HS_CONTACTS = [
    "Record ID", "First Name", "Email", "Create Date", "Original Source",
    "Primary Associated Company ID", "Became a Lead Date",
    'Date entered "Lead (Lifecycle Stage Pipeline)"', "hs_v2_date_entered_lead",
    "Became a Customer Date",
]  # fmt: skip
HS_DEALS = [
    "Record ID", "Deal Name", "Deal Stage", "Create Date", "Close Date", "Amount",
    "Associated Contact IDs",
]  # fmt: skip


def _hs_contacts(tmp_path: Path) -> Path:
    return export(
        tmp_path / "contacts.csv",
        HS_CONTACTS,
        [
            # three lead columns that disagree: Became a Lead Date wins
            ["51001", "Ann", "ann@acme.example", "3/1/2025 7:41 AM", "Paid Search", "9001",
             "3/1/2025", "3/2/2025 10:00 AM", "2025-03-03T00:00:00Z", "4/2/2025 9:00 AM"],
            # no Became a Lead Date: the next column gives it
            ["51002", "Ben", "Ben@Beta.example", "3/5/2025 8:00 AM", "Organic Search", "9002",
             "", "3/6/2025 10:00 AM", "2025-03-06T10:00:00Z", ""],
            # columns that agree: no disagreement
            ["51003", "Cy", "cy@acme.example", "3/7/2025 8:00 AM", "Paid Social", "9001",
             "3/7/2025 9:00 AM", "3/7/2025 9:00 AM", "2025-03-07T09:00:00Z", "4/20/2025"],
        ],
    )  # fmt: skip


def _hs_deals(tmp_path: Path, rows: bool = True) -> Path:
    data = [["7001", "Acme", "Closed Won", "3/20/2025 10:00 AM", "4/2/2025", "12,000.00", "51001"]]
    return export(tmp_path / "deals.csv", HS_DEALS, data if rows else [])


def test_one_lifecycle_column_per_stage_by_preference(tmp_path: Path) -> None:
    result = import_hubspot(_hs_contacts(tmp_path), _hs_deals(tmp_path))
    leads = dict(
        result.stages.filter(pl.col("stage") == "lead")
        .select("contact_id", pl.col("timestamp").dt.strftime("%Y-%m-%d %H:%M"))
        .iter_rows()
    )
    # one lead event per contact (before: 51001 had one per column, 3/2's column ignored)
    assert leads == {"51001": "2025-03-01 00:00", "51002": "2025-03-06 10:00",
                     "51003": "2025-03-07 09:00"}  # fmt: skip
    columns = result.report["files"]["contacts"]["columns"]
    assert columns["stage:lead"] == "Became a Lead Date"
    assert columns["stage:lead:where_blank"] == (
        'Date entered "Lead (Lifecycle Stage Pipeline)"; hs_v2_date_entered_lead'
    )
    assert result.report["counts"]["lifecycle_dates_disagree"] == 1
    assert result.report["counts"]["lifecycle_dates_from_other_columns"] == 1
    notes = " ".join(result.report["notes"])
    assert "1 contact(s) have a 'lead' date in" in notes
    assert "'Became a Lead Date' is used" in notes


def test_portal_without_deals_converts_on_customer_dates(tmp_path: Path) -> None:
    contacts = _hs_contacts(tmp_path)
    for deals in (_hs_deals(tmp_path, rows=False), None):  # header-only export, or none
        result = import_hubspot(contacts, deals)
        assert result.report["conversion_stage"] == "customer"
        assert result.report["conversions"] == 2
        assert result.report["conversions_closed_won"] == 0
        customers = result.stages.filter(pl.col("stage") == "customer")
        assert sorted(customers.get_column("contact_id")) == ["51001", "51003"]
        assert any("--conversion-stage customer" in n for n in result.report["notes"])
    with_deals = import_hubspot(contacts, _hs_deals(tmp_path))
    assert with_deals.report["conversion_stage"] == "closed_won"
    assert with_deals.report["conversions"] == 1


@pytest.mark.slow
def test_portal_without_deals_next_command_runs(tmp_path: Path) -> None:
    _hs_contacts(tmp_path)
    done = run_cli("import", "hubspot", "--contacts", "contacts.csv", "--out", "crm", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("customer conversions (lifecycle dates, no deals): 2; next: ")
    command = last.split("next: attribution ", 1)[1].split()
    assert "--conversion-stage" in command
    assert command[command.index("--conversion-stage") + 1] == "customer"
    ran = run_cli(*command, "-m", "linear", "--out", "runs", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "conversions 2" in ran.stdout


# --- HubSpot: a form-submission export keyed by e-mail ------------------------------------

FORMS = ["Conversion Date", "Page URL", "Email", "First Name", "utm_source", "utm_medium"]


def _forms(tmp_path: Path) -> Path:
    return export(
        tmp_path / "forms.csv",
        FORMS,
        [
            ["2025-03-03 10:00", "https://acme.example/demo", "ann@acme.example", "Ann",
             "linkedin", "paid_social"],
            # case and padding differ from the contacts export's 'Ben@Beta.example'
            ["2025-03-04 11:00", "https://acme.example/demo?utm_source=google&utm_medium=cpc",
             " BEN@beta.example ", "Ben", "", ""],
            ["2025-03-05 12:00", "https://acme.example/demo", "nobody@else.example", "Zed",
             "google", "cpc"],
            ["2025-03-06 12:00", "https://acme.example/demo", "", "Anon", "", ""],
        ],
    )  # fmt: skip


def test_form_submissions_join_contacts_on_email(tmp_path: Path) -> None:
    contacts, deals = _hs_contacts(tmp_path), _hs_deals(tmp_path)
    result = import_hubspot(contacts, deals, engagements=_forms(tmp_path))
    touches = result.touches.sort("timestamp")
    assert touches.get_column("contact_id").to_list() == ["51001", "51002"]
    assert touches.get_column("touch_type").to_list() == ["form_submission", "form_submission"]
    # the second row's UTM comes from its page URL (its UTM cells are blank)
    assert touches.get_column("utm_source").to_list() == ["linkedin", "google"]
    assert touches.get_column("account_id").to_list() == ["9001", "9002"]
    drops = {d["reason"]: d["count"] for d in result.report["drops"] if d["file"] == "engagements"}
    assert drops == {
        "no e-mail in 'Email'": 1,
        "e-mail in 'Email' matches no contact of the contacts export": 1,
    }
    eng = result.report["files"]["engagements"]
    assert (eng["rows_read"], eng["rows_kept"]) == (4, 2)
    assert eng["columns"]["contact_id"] == "Email -> contacts 'Email' -> 'Record ID'"


def test_form_submissions_need_the_contacts_email(tmp_path: Path) -> None:
    contacts = export(
        tmp_path / "c.csv", ["Record ID", "Create Date"], [["51001", "3/1/2025 7:41 AM"]]
    )
    with pytest.raises(ColumnNotFoundError) as caught:
        import_hubspot(contacts, _hs_deals(tmp_path), engagements=_forms(tmp_path))
    text = str(caught.value)
    assert "c.csv" in text
    assert "by e-mail ('Email')" in text
    assert "\n" not in text


# --- amounts in several currencies ---------------------------------------------------------

SF_MULTI = [
    "Opportunity ID", "Opportunity Name", "Account ID", "Stage", "Amount Currency", "Amount",
    "Close Date", "Created Date", "Won", "Closed", "Contact ID",
]  # fmt: skip


def _multi_opps(
    tmp_path: Path, currencies: tuple[str, ...] = ("USD", "EUR", "GBP", "eur ")
) -> Path:
    rows = [
        [f"0065g00000Oz7b{i}", f"Opp {i}", "0015g00000Mn3a1", "Closed Won", code, "10,000.00",
         "3/20/2025", "2/5/2025", "1", "1", "0035g00000Xk9p2"]
        for i, code in enumerate(currencies)
    ]  # fmt: skip
    return export(tmp_path / "opp_multi.csv", SF_MULTI, rows)


def test_several_currencies_are_refused_naming_them(tmp_path: Path) -> None:
    with pytest.raises(SchemaError) as caught:
        import_salesforce(_members(tmp_path), _multi_opps(tmp_path))
    text = str(caught.value)
    assert "opp_multi.csv" in text
    assert "'Amount Currency'" in text
    assert "3 currencies" in text
    assert "EUR 2, GBP 1, USD 1" in text
    assert "file line(s) 2, 4" in text  # rows not in the most common currency (EUR)
    assert "--currency-rates" in text
    assert "\n" not in text


def test_currency_rates_convert_to_the_reporting_currency(tmp_path: Path) -> None:
    rates = tmp_path / "rates.csv"
    rates.write_bytes(b"\xef\xbb\xbfcurrency,rate\r\nUSD,1\r\nEUR,1.08\r\nGBP,1.27\r\n")
    result = import_salesforce(_members(tmp_path), _multi_opps(tmp_path), currency_rates=rates)
    won = result.stages.filter(pl.col("stage") == "closed_won")
    values = dict(won.select("opportunity_id", "value").iter_rows())
    assert values == pytest.approx(
        {"0065g00000Oz7b0": 10_000.0, "0065g00000Oz7b1": 10_800.0,
         "0065g00000Oz7b2": 12_700.0, "0065g00000Oz7b3": 10_800.0}
    )  # fmt: skip
    assert result.report["currency"]["currency"] == "USD"
    assert result.report["currency"]["converted_from"] == {"EUR": 2, "GBP": 1, "USD": 1}
    # a currency the rates file lacks: an error naming it and its lines
    partial = tmp_path / "partial.csv"
    partial.write_text("currency,rate\nUSD,1\nEUR,1.08\n")
    with pytest.raises(SchemaError, match=r"1 amount\(s\) in GBP.*file line\(s\) 4"):
        import_salesforce(_members(tmp_path), _multi_opps(tmp_path), currency_rates=partial)
    no_base = tmp_path / "no_base.csv"
    no_base.write_text("currency,rate\nEUR,1.08\nGBP,1.27\nUSD,0.99\n")
    with pytest.raises(InputError, match="no currency has rate 1"):
        import_salesforce(_members(tmp_path), _multi_opps(tmp_path), currency_rates=no_base)


def test_one_currency_is_recorded(tmp_path: Path) -> None:
    result = import_salesforce(_members(tmp_path), _multi_opps(tmp_path, ("EUR", "eur")))
    assert result.report["currency"] == {
        "column": "Amount Currency", "currency": "EUR", "counts": {"EUR": 2}
    }  # fmt: skip
    assert result.stages.filter(pl.col("stage") == "closed_won").get_column("value").sum() == 20_000
    # with rates naming another reporting currency, one currency is converted too
    rates = tmp_path / "rates.csv"
    rates.write_text("currency,rate\nUSD,1\nEUR,1.08\n")
    usd = import_salesforce(
        _members(tmp_path), _multi_opps(tmp_path, ("EUR", "eur")), currency_rates=rates
    )
    won = usd.stages.filter(pl.col("stage") == "closed_won").get_column("value")
    assert won.to_list() == pytest.approx([10_800.0, 10_800.0])
    assert usd.report["currency"]["currency"] == "USD"


def test_the_crms_converted_amount_is_used_when_exported(tmp_path: Path) -> None:
    header = [*SF_MULTI, "Amount (converted) Currency", "Amount (converted)"]
    rows = [
        ["0065g00000Oz7c1", "A", "0015g00000Mn3a1", "Closed Won", "JPY", "10,000", "3/20/2025",
         "2/5/2025", "1", "1", "0035g00000Xk9p2", "USD", "83.86"],
        ["0065g00000Oz7c2", "B", "0015g00000Mn3a1", "Closed Won", "USD", "10,000.00",
         "3/20/2025", "2/5/2025", "1", "1", "0035g00000Xk9p2", "USD", "10,000.00"],
    ]  # fmt: skip
    opps = export(tmp_path / "opp_conv.csv", header, rows)
    result = import_salesforce(_members(tmp_path), opps)
    won = result.stages.filter(pl.col("stage") == "closed_won")
    assert sorted(won.get_column("value").to_list()) == [83.86, 10_000.0]
    assert result.report["currency"]["value_column"] == "Amount (converted)"
    assert result.report["currency"]["currency"] == "USD"


def test_hubspot_deal_currency_column(tmp_path: Path) -> None:
    header = [*HS_DEALS, "Currency"]
    rows = [
        ["7001", "Acme", "Closed Won", "3/20/2025 10:00 AM", "4/2/2025", "12,000.00", "51001",
         "USD"],
        ["7002", "Beta", "Closed Won", "3/21/2025 10:00 AM", "4/3/2025", "9,000.00", "51002",
         "EUR"],
    ]  # fmt: skip
    deals = export(tmp_path / "deals_cur.csv", header, rows)
    with pytest.raises(SchemaError, match=r"deals_cur\.csv.*'Currency'.*EUR 1, USD 1"):
        import_hubspot(_hs_contacts(tmp_path), deals)
    rates = tmp_path / "rates.csv"
    rates.write_text("currency,rate\nEUR,1\nUSD,0.9\n")
    result = import_hubspot(_hs_contacts(tmp_path), deals, currency_rates=rates)
    won = dict(
        result.stages.filter(pl.col("stage") == "closed_won")
        .select("opportunity_id", "value")
        .iter_rows()
    )
    assert won == pytest.approx({"7001": 10_800.0, "7002": 9_000.0})
    assert result.report["currency"]["currency"] == "EUR"


@pytest.mark.slow
def test_several_currencies_cli_is_one_line(tmp_path: Path) -> None:
    _members(tmp_path)
    _multi_opps(tmp_path)
    args = ["import", "salesforce", "--campaign-members", "cm.csv", "--opportunities",
            "opp_multi.csv"]  # fmt: skip
    done = run_cli(*args, "--out", "crm", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert "'Amount Currency'" in done.stderr
    (tmp_path / "rates.csv").write_text("currency,rate\nUSD,1\nEUR,1.08\nGBP,1.27\n")
    done = run_cli(*args, "--currency-rates", "rates.csv", "--out", "crm", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "converted to USD" in done.stdout


# --- self-reported answers: the run's own length limit, cut and counted --------------------


def test_long_self_reported_answers_are_cut_as_the_run_cuts_them(tmp_path: Path) -> None:
    from attribution.inputs import MAX_TEXT_CHARS

    header = ["Record ID", "Email", "Create Date", "How did you hear about us?"]
    pasted = "Hi team,\nI found you on LinkedIn. " + "x" * 6_000  # a pasted e-mail
    contacts = export(
        tmp_path / "contacts.csv",
        header,
        [["51001", "ann@acme.example", "3/1/2025 7:41 AM", "LinkedIn"],
         ["51002", "ben@beta.example", "3/2/2025 7:41 AM", pasted]],
    )  # fmt: skip
    result = import_hubspot(
        contacts, _hs_deals(tmp_path), self_reported_column="How did you hear about us?"
    )
    assert result.surveys is not None
    answers = dict(result.surveys.select("contact_id", "response").iter_rows())
    assert answers["51001"] == "LinkedIn"
    assert answers["51002"] == pasted[:MAX_TEXT_CHARS]
    assert result.report["counts"]["self_reported_answers_cut"] == 1
    note = next(n for n in result.report["notes"] if "cut to their first" in n)
    # the line the row starts on: the header is line 1, Ann line 2, Ben's answer line 3
    assert f"longest {len(pasted):,}; lines 3)" in note


def test_a_config_importing_a_portal_without_deals_converts_on_customer(tmp_path: Path) -> None:
    """``[inputs] import`` took the import's tables but not its conversion stage: a portal
    without deals' run looked for closed_won and found none."""
    from attribution.inputs._config import load_config

    import_hubspot(_hs_contacts(tmp_path), None).write(tmp_path / "crm")
    (tmp_path / "run.toml").write_text('[inputs]\nimport = "crm"\n')
    assert load_config(tmp_path / "run.toml").run["conversion_stage"] == "customer"
    (tmp_path / "own.toml").write_text(
        '[inputs]\nimport = "crm"\n[run]\nconversion_stage = "closed_won"\n'
    )
    assert load_config(tmp_path / "own.toml").run["conversion_stage"] == "closed_won"
    ran = run_cli("run", "--config", "run.toml", "-m", "linear", "--out", "runs", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "conversions 2" in ran.stdout
