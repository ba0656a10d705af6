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

from attribution import SchemaError, import_hubspot, import_salesforce

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
    rows = [
        ["Q1 Webinar", "Webinar", "Attended", "1", "1/10/2025", "1/9/2025", "0035g00000Xk9p1", "", "0015g00000Mn3a1"],
        ["Q1 Newsletter", "Email", "Responded", "1", "1/12/2025", "1/9/2025", "0035g00000Xk9p2", "", "0015g00000Mn3a1"],
        ["SaaStr booth", "Trade Show", "Responded", "1", "2/16/2025", "2/15/2025", "0035g00000Xk9p3", "", "0015g00000Mn3a2"],
        ["SaaStr booth", "Trade Show", "Responded", "1", "2/16/2025", "2/15/2025", "", "00Q5g00000Ab001", ""],
    ]  # fmt: skip
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
        tmp_path / "Contact.csv", ["Contact ID", "Account ID"], [["0035g00000Xk9p3", "0015g00000Mn3a9"]]
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
