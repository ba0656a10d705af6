"""review20 #5, ``import pipedrive``: an e-mail cell listing two addresses (``a@x.com,
b@y.com`` or ``;``-separated) was the contacts' ``email`` whole; its first address is the
key and the ``email``, the others counted and noted."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from attribution import import_pipedrive
from attribution.surveys._emails import contacts_from_emails, email_contacts
from tests.test_import_pipedrive import HEADER, export
from tests.test_import_pipedrive_status import _deal


def test_an_email_cell_with_two_addresses_is_its_first(tmp_path: Path) -> None:
    """review20 #5: 'Ann@Acme.com, ann.lee@home.org' was the contacts' email as a whole, so a
    survey answer from ann@acme.com found no contact; no count said the second address."""
    deals = export(
        tmp_path / "deals.csv",
        HEADER,
        [_deal("1", "won", "2025-02-01 10:00:00", "", "Ann@Acme.com, ann.lee@home.org", "Acme"),
         _deal("2", "won", "2025-02-02 10:00:00", "", "bo@beta.com;bo@old.org; b@x.io", "Beta"),
         _deal("3", "won", "2025-02-03 10:00:00", "", "cy@gamma.com", "Gamma")],
    )  # fmt: skip
    result = import_pipedrive(deals)
    contacts = result.contacts.sort("contact_id").select("contact_id", "email").rows()
    assert contacts == [
        ("ann@acme.com", "Ann@Acme.com"), ("bo@beta.com", "bo@beta.com"),
        ("cy@gamma.com", "cy@gamma.com"),
    ]  # fmt: skip
    assert result.report["counts"]["deals_emails_with_several_addresses"] == 2
    (note,) = [n for n in result.report["notes"] if "several addresses" in n]
    assert "2 e-mail cell(s)" in note
    assert "file line(s) 2, 3" in note
    assert "the 3 other address(es) are not used" in note
    # the survey join reads the contacts' email: Ann's answer reaches her deal's contact
    answers = pl.DataFrame({"email": [" ANN@acme.com"], "response": ["LinkedIn"]})
    coded, counts = contacts_from_emails(answers, email_contacts({"contacts": result.contacts}))
    assert counts["answers_contact_from_email"] == 1
    assert coded.get_column("contact_id").to_list() == ["ann@acme.com"]


def test_a_persons_export_cell_with_two_addresses_is_counted_too(tmp_path: Path) -> None:
    deals = export(
        tmp_path / "deals.csv",
        ["ID", "Value", "Currency", "Status", "Won time", "Deal created", "Contact person ID",
         "Organization"],
        [["7", "100", "USD", "won", "2025-02-01 10:00:00", "2025-01-01 10:00:00", "501", "Acme"]],
    )  # fmt: skip
    persons = export(
        tmp_path / "persons.csv",
        ["Person - ID", "Person - Name", "Person - Email - Work", "Person - Organization"],
        [["501", "Ann Lee", "ann@acme.com; ann@old.org", "Acme"]],
    )
    result = import_pipedrive(deals, persons=persons)
    assert result.stages.get_column("contact_id").unique().to_list() == ["ann@acme.com"]
    assert result.contacts.select("contact_id", "email").rows() == [
        ("ann@acme.com", "ann@acme.com")
    ]
    assert result.report["counts"]["persons_emails_with_several_addresses"] == 1
