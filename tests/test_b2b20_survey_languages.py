"""A German user's survey answers (new-user report, session 20): German "How did you hear
about us?" answers were left uncoded (``weiß nicht``, ``Empfehlung eines Kollegen``,
``Messe``...), so the benchmark compared fewer conversions and the dark funnel lost its
word of mouth. The shipped rules now code German, and common French and Spanish, answers
to the project's channel names; each is checked here, as free text and as a pick-list
label, as a survey tool exports them."""

from __future__ import annotations

import polars as pl
import pytest

from attribution.surveys import code_answers

CASES = [
    # German (new-user report: left uncoded)
    ("weiß nicht", "other"),
    ("Weiss nicht", "other"),
    ("Weiß ich nicht mehr", "other"),
    ("keine Ahnung", "other"),
    ("k.A.", "other"),
    ("Empfehlung eines Kollegen", "word_of_mouth"),
    ("Empfehlung", "word_of_mouth"),
    ("Ein Kollege hat euch empfohlen", "word_of_mouth"),
    ("Mundpropaganda", "word_of_mouth"),
    ("über einen Bekannten", "word_of_mouth"),
    ("Empfehlung von unserem IT-Partner", "partner_referral"),
    ("Messe", "events"),
    ("auf der Messe in Stuttgart", "events"),
    ("LogiMAT Fachmesse", "events"),
    ("Messestand", "events"),
    ("Konferenz", "events"),
    ("Google-Suche", "search"),
    ("Google Suche", "search"),
    ("Suchmaschine", "search"),
    ("Google-Anzeige", "google_ads"),
    ("Werbung bei Google", "google_ads"),
    ("LinkedIn-Anzeige", "linkedin"),
    ("Podcast", "podcast"),
    ("Webinar", "webinar"),
    ("Online-Seminar", "webinar"),
    ("Facebook Messenger", "organic_social"),
    # French
    ("je ne sais pas", "other"),
    ("Je sais pas", "other"),
    ("aucune idée", "other"),
    ("bouche à oreille", "word_of_mouth"),
    ("Bouche-à-oreille", "word_of_mouth"),
    ("recommandation d'un collègue", "word_of_mouth"),
    ("salon", "events"),
    ("sur un salon professionnel", "events"),
    ("recherche Google", "search"),
    ("webinaire", "webinar"),
    # Spanish
    ("no sé", "other"),
    ("No lo sé", "other"),
    ("no se", "other"),
    ("recomendación", "word_of_mouth"),
    ("Recomendacion de un colega", "word_of_mouth"),
    ("boca a boca", "word_of_mouth"),
    ("feria", "events"),
    ("en una feria del sector", "events"),
    ("búsqueda en Google", "search"),
    ("anuncio en Google", "google_ads"),
]

#: the phrases of the report that the rules coded before (kept here as a guard)
CODED_BEFORE = {"Google-Suche", "Google Suche", "LinkedIn-Anzeige", "Podcast", "Webinar",
                "Empfehlung von unserem IT-Partner", "Facebook Messenger", "recherche Google",
                "búsqueda en Google"}  # fmt: skip


def _coded(answers: list[str], pick_list: bool = False) -> pl.DataFrame:
    column = "channel" if pick_list else "response"
    frame = pl.DataFrame({"contact_id": [f"K{i}" for i in range(len(answers))],
                          column: answers})  # fmt: skip
    return code_answers(frame).frame


@pytest.mark.parametrize("pick_list", [False, True])
def test_german_french_and_spanish_answers_are_coded(pick_list: bool) -> None:
    coded = _coded([a for a, _ in CASES], pick_list)
    got = dict(zip([a for a, _ in CASES], coded.get_column("channel"), strict=True))
    assert got == dict(CASES)
    # a don't-know answer is a rule's "other" (counted as such), not an unmatched one (a
    # pick-list label no rule codes is counted as blank)
    by = dict(zip([a for a, _ in CASES], coded.get_column("coded_by"), strict=True))
    assert {a for a, how in by.items() if how in ("unmatched", "blank")} == set()


def test_the_new_rules_code_what_was_left_unmatched() -> None:
    """The report's phrases the rules did not code before are coded now (the guard that
    the cases above test the new rules, not the old ones)."""
    new = [a for a, _ in CASES if a not in CODED_BEFORE]
    coded = _coded(new)
    assert coded.filter(pl.col("coded_by") == "unmatched").height == 0
    assert len(new) >= 35


@pytest.mark.parametrize(
    ("answer", "channel"),
    [
        ("Messenger", "other"),  # not a trade fair ('Messe')
        ("college friend", "word_of_mouth"),
        ("ka", "other"),
        ("kahoot", "other"),  # 'k.A.' only as the whole answer
        ("Google Ads", "google_ads"),
        ("Google-Ads", "google_ads"),
    ],
)
def test_the_new_patterns_do_not_overreach(answer: str, channel: str) -> None:
    assert _coded([answer]).get_column("channel").item() == channel
