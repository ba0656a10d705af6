"""review20 #6, ``import pipedrive``: a person on deals of two organizations kept the first
silently; a contact belongs to one account (a run refuses one listed under two), so the first
is kept, counted and noted with examples."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from attribution import import_pipedrive
from attribution.cli._app import app
from tests.test_import_pipedrive import HEADER, export
from tests.test_import_pipedrive_status import _deal


def test_a_person_on_deals_of_two_organizations_is_counted_and_said(tmp_path: Path) -> None:
    """review20 #6: ann@acme.com on a deal of Acme and one of Globex was Acme's contact
    silently. A contact belongs to one account (a run refuses one listed under two): the
    first organization is kept, counted, and the note names the persons and organizations."""
    deals = export(
        tmp_path / "deals.csv",
        HEADER,
        [_deal("1", "won", "2025-02-01 10:00:00", "", "ann@acme.com", "Acme"),
         _deal("2", "won", "2025-03-01 10:00:00", "", "ANN@acme.com", "Globex"),
         _deal("3", "open", "", "", "bo@beta.com", "Beta"),
         _deal("4", "open", "", "", "bo@beta.com", "Beta")],
    )  # fmt: skip
    out = tmp_path / "crm"
    cli = CliRunner().invoke(app, ["import", "pipedrive", "--deals", str(deals),
                                   "--out", str(out)])  # fmt: skip
    assert cli.exit_code == 0, cli.output
    report = json.loads((out / "import_report.json").read_text())
    assert report["counts"]["persons_on_several_organizations"] == 1
    (note,) = [n for n in report["notes"] if "several organizations" in n]
    assert "1 person(s)" in note
    assert "'ann@acme.com': 'Acme', 'Globex'" in note
    assert "several organizations" in " ".join(cli.output.split())
    contacts = pl.read_parquet(out / "contacts.parquet").select("contact_id", "account_id")
    assert sorted(contacts.rows()) == [("ann@acme.com", "Acme"), ("bo@beta.com", "Beta")]
    # each deal's events keep their own organization
    stages = pl.read_parquet(out / "stages.parquet").filter(pl.col("stage") == "closed_won")
    assert sorted(stages.select("opportunity_id", "account_id").rows()) == [
        ("1", "Acme"), ("2", "Globex"),
    ]  # fmt: skip


@pytest.mark.parametrize("persons_org", ["Acme", "Globex"])
def test_the_persons_export_organization_is_the_one_kept(
    tmp_path: Path, persons_org: str
) -> None:
    deals = export(
        tmp_path / "deals.csv",
        HEADER,
        [_deal("1", "won", "2025-02-01 10:00:00", "", "ann@acme.com", "Acme")],
    )
    persons = export(
        tmp_path / "persons.csv",
        ["Person - ID", "Person - Name", "Person - Email", "Person - Organization"],
        [["501", "Ann", "ann@acme.com", persons_org]],
    )
    result = import_pipedrive(deals, persons=persons)
    assert result.contacts.get_column("account_id").to_list() == [persons_org]
    several = 0 if persons_org == "Acme" else 1
    assert result.report["counts"]["persons_on_several_organizations"] == several
