"""Survey answers keyed by e-mail join the contact that carries it (the contacts table,
else the touches), compared trimmed and case-insensitively; an e-mail on two contacts is
dropped with the reason, one on none counted; counted and said in the summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

import attribution
from attribution import B2BInputs, InputError, RunOptions, analyse

T0 = datetime(2025, 1, 1, tzinfo=UTC)
TOUCHES = pl.DataFrame(
    {
        "contact_id": ["C1", "C1", "C2", "C3", "C4"],
        "channel": ["linkedin", "email", "webinar", "google_ads", "linkedin"],
        "timestamp": [T0 + timedelta(days=d) for d in (1, 5, 2, 3, 4)],
    }
)
STAGES = pl.DataFrame(
    {
        "contact_id": ["C1", "C2", "C3", "C4"],
        "stage": ["closed_won"] * 4,
        "timestamp": [T0 + timedelta(days=20)] * 4,
    }
)
CONTACTS = pl.DataFrame(
    {
        "contact_id": ["C1", "C2", "C3", "C4"],
        "account_id": ["A1", "A2", "A3", "A4"],
        # C3 and C4 share an inbox: an answer from it cannot say whose it is
        "email": ["ana@example.com", "Bo@Example.com", "team@corp.io", "TEAM@corp.io"],
    }
)
ANSWERS = pl.DataFrame(
    {
        "email": ["  Ana@Example.COM ", "bo@example.com", "team@corp.io", "nobody@x.org"],
        "response": ["LinkedIn", "a webinar", "google", "LinkedIn"],
    }
)
MODELS = ["linear", "last_touch"]


def _contact_result() -> attribution.AttributionResult:
    return attribution.attribute(TOUCHES, STAGES, models=MODELS)


def test_answers_keyed_by_email_join_the_contact_of_their_email() -> None:
    bench = attribution.compare_surveys(
        _contact_result(), ANSWERS, contacts=CONTACTS, bootstrap=20
    )
    joined = bench.coded.filter(pl.col("conversion_id").is_not_null())
    assert sorted(joined.get_column("contact_id").to_list()) == ["C1", "C2"]
    assert set(joined.get_column("joined_on").to_list()) == {"contact_id"}
    assert bench.counts["answers_contact_from_email"] == 2
    assert bench.counts["answers_email_unknown"] == 1
    assert bench.counts["answers_email_ambiguous_dropped"] == 1
    assert bench.counts["email_source"] == "contacts"
    assert bench.counts["answers"] == 3  # the shared inbox's answer is dropped
    assert "team@corp.io" not in bench.coded.get_column("email").to_list()
    text = bench.summary()
    assert (
        "Answers keyed by e-mail: 2 given the contact of their e-mail (contacts table; trimmed, "
        "case-insensitive); 1 with an e-mail no contact carries; 1 dropped: their e-mail is on "
        "two or more contacts"
    ) in text


def test_the_touches_give_the_emails_when_the_contacts_do_not() -> None:
    touches = TOUCHES.with_columns(
        pl.col("contact_id").replace({"C1": "ana@example.com", "C2": "bo@example.com",
                                      "C3": "c3@x.org", "C4": "c4@x.org"}).alias("email")
    )  # fmt: skip
    bench = attribution.compare_surveys(
        _contact_result(), ANSWERS, touches=touches, bootstrap=20
    )
    assert bench.counts["email_source"] == "touches"
    assert bench.counts["answers_contact_from_email"] == 2
    assert bench.counts["answers_email_unknown"] == 2  # team@corp.io is on no touch here
    assert bench.counts["answers_joined"] == 2


def test_answers_keyed_by_email_alone_without_a_table_carrying_one_are_an_error() -> None:
    with pytest.raises(InputError, match="keyed by e-mail alone, and neither the contacts"):
        attribution.compare_surveys(
            _contact_result(), ANSWERS, contacts=CONTACTS.drop("email"), bootstrap=20
        )


def test_a_run_joins_email_answers_through_contacts_to_accounts() -> None:
    """analyse (the run's B2B stage) at account level: e-mail -> contact -> account."""
    options = RunOptions(level="account", models=MODELS)
    result = attribution.attribute(TOUCHES, STAGES, contacts=CONTACTS, options=options)
    bench = analyse(
        result, B2BInputs(surveys=ANSWERS, contacts=CONTACTS, touches=TOUCHES), options=options
    ).survey_benchmark
    assert bench is not None
    assert bench.counts["answers_contact_from_email"] == 2
    assert bench.counts["answers_account_from_contact"] == 2
    assert bench.counts["answers_joined"] == 2
    joined = bench.coded.filter(pl.col("conversion_id").is_not_null())
    assert sorted(joined.get_column("account_id").to_list()) == ["A1", "A2"]
