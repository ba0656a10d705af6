"""review20 #7: the e-mail contact key was computed in four places (Pipedrive, GA4, HubSpot
form submissions, the survey join), which disagreed on a cell listing two addresses; one
function (``importers._emails.email_key``) now gives the key everywhere: the first address,
trimmed (NBSP too) and lower-cased."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from attribution import import_ga4, import_hubspot, import_pipedrive
from attribution.importers import _emails, _ga4, _hubspot_engagements, _pipedrive
from attribution.surveys import _emails as survey_emails
from tests.test_import_ga4 import HEADER as GA4_HEADER
from tests.test_import_ga4 import event
from tests.test_import_ga4 import export as ga4_export
from tests.test_import_pipedrive import HEADER as PD_HEADER
from tests.test_import_pipedrive import export
from tests.test_importers_crm_exports import FORMS, _hs_contacts, _hs_deals

#: one person's address as four files may write it
CELLS = [" Ann@Acme.example ", "ANN@acme.example; ann@home.org", "\u00a0ann@ACME.example, x@y.z"]
KEY = "ann@acme.example"


def test_one_function_is_the_key_in_every_place() -> None:
    assert _pipedrive.email_key is _emails.email_key
    assert _hubspot_engagements.email_key is _emails.email_key
    assert _ga4.email_key is _emails.email_key
    frame = pl.DataFrame({"e": [*CELLS, "", "  ", None]})
    expected = [KEY, KEY, KEY, None, None, None]
    assert frame.select(_emails.email_key(pl.col("e"))).to_series().to_list() == expected
    assert frame.select(survey_emails.normalise_email(pl.col("e"))).to_series().to_list() == (
        expected
    )


def test_pipedrive_keys_each_cell_alike(tmp_path: Path) -> None:
    rows = [
        [str(i), "t", "100", "USD", "Won", "won", "2025-03-01 10:00:00", "",
         "2025-02-01 10:00:00", "M", cell, "", "Acme"]
        for i, cell in enumerate(CELLS)
    ]  # fmt: skip
    result = import_pipedrive(export(tmp_path / "deals.csv", PD_HEADER, rows))
    assert set(result.stages.get_column("contact_id")) == {KEY}


def test_ga4_keys_each_user_id_alike(tmp_path: Path) -> None:
    rows = [
        event(i * 60, "login", f"p{i}", cell, "google", "cpc", "s1")
        for i, cell in enumerate(CELLS)
    ]
    result = import_ga4(ga4_export(tmp_path / "events.csv", rows, GA4_HEADER))
    assert set(result.touches.get_column("contact_id")) == {KEY}


def test_hubspot_form_submissions_find_the_contact_of_each_cell(tmp_path: Path) -> None:
    rows = [
        [f"2025-03-0{i + 3} 10:00", "https://acme.example/demo", cell, "Ann", "google", "cpc"]
        for i, cell in enumerate(CELLS)
    ]
    forms = export(tmp_path / "forms.csv", FORMS, rows)
    result = import_hubspot(_hs_contacts(tmp_path), _hs_deals(tmp_path), engagements=forms)
    assert result.touches.get_column("contact_id").to_list() == ["51001"] * len(CELLS)


@pytest.mark.parametrize("written", CELLS)
def test_survey_answers_join_the_contact_of_each_cell(written: str) -> None:
    contacts = pl.DataFrame({"contact_id": ["C1", "C2"], "email": [written, "bo@beta.example"]})
    answers = pl.DataFrame({"email": CELLS, "response": ["LinkedIn"] * len(CELLS)})
    pairs = survey_emails.email_contacts({"contacts": contacts})
    coded, counts = survey_emails.contacts_from_emails(answers, pairs)
    assert coded.get_column("contact_id").to_list() == ["C1"] * len(CELLS)
    assert counts["answers_contact_from_email"] == len(CELLS)
