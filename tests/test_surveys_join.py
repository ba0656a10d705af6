"""How survey answers join conversions (new-user report 3, defects 20 and 23) and what an
empty benchmark writes.

- At account level, an answer keyed by contact joins its contact's account (the run's
  contacts table), and answers keyed by a contact without an account are counted; a survey
  that joins nothing says so on the decision line.
- An answer given within ``post_purchase_days`` after a conversion is about that conversion
  (a post-purchase survey), else it joins the next one; ``join_rule`` says which.
- A benchmark that compared no conversion ranks no model: no leaderboard rows of NaN.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution
from attribution import B2BInputs, InputError, ModelParameterError, RunOptions, analyse
from attribution.b2b._decision import decide
from attribution.surveys._join import join_answers

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _at(days: float) -> datetime:
    return T0 + timedelta(days=days)


# --- account level: contact-keyed answers (defect 20) -----------------------------------

TOUCHES = pl.DataFrame(
    {
        "contact_id": ["C1", "C1", "C2", "C3"],
        "channel": ["linkedin", "email", "webinar", "google_ads"],
        "timestamp": [_at(1), _at(5), _at(2), _at(3)],
    }
)
STAGES = pl.DataFrame(
    {
        "contact_id": ["C1", "C2", "C3"],
        "stage": ["closed_won"] * 3,
        "timestamp": [_at(20), _at(20), _at(20)],
    }
)
CONTACTS = pl.DataFrame(
    {"contact_id": ["C1", "C2", "C3", "C4"], "account_id": ["A1", "A2", "A3", None]}
)
ANSWERS = pl.DataFrame(
    {
        "contact_id": ["C1", "C2", "C3", "C4"],
        "response": ["LinkedIn", "a webinar", "google", "LinkedIn"],
    }
)
ACCOUNT = RunOptions(level="account", models=["linear", "last_touch"])


def _account_result() -> attribution.AttributionResult:
    return attribution.attribute(TOUCHES, STAGES, contacts=CONTACTS, options=ACCOUNT)


def test_account_level_answers_keyed_by_contact_join_through_the_contacts_table() -> None:
    result = _account_result()
    assert "contact_id" not in result.conversions.columns  # account-level conversions
    bench = attribution.compare_surveys(result, ANSWERS, contacts=CONTACTS, bootstrap=20)
    joined = bench.coded.filter(pl.col("conversion_id").is_not_null())
    assert sorted(joined.get_column("contact_id").to_list()) == ["C1", "C2", "C3"]
    assert set(joined.get_column("joined_on").to_list()) == {"account_id"}
    assert joined.sort("contact_id").get_column("account_id").to_list() == ["A1", "A2", "A3"]
    assert bench.counts["answers_account_from_contact"] == 3
    assert bench.counts["answers_contact_without_account"] == 1  # C4 has no account
    assert bench.empty is None
    assert bench.unusable is None
    assert "3 answers keyed by a contact joined by the contact's account" in bench.summary()


def test_account_level_without_contacts_says_the_survey_is_unusable() -> None:
    result = _account_result()
    bench = attribution.compare_surveys(result, ANSWERS, bootstrap=20)
    assert bench.counts["answers_joined"] == 0
    assert bench.counts["answers_contact_without_account"] == 4
    assert bench.empty is not None
    assert "4 answer(s) keyed by a contact alone; give their account_id, or the contacts " in (
        bench.empty
    )
    assert bench.unusable == (
        "0 of 4 answers joined a conversion, 4 of them keyed by a contact without an account "
        "(account level: give account_id, or --contacts)"
    )


def test_analyse_at_account_level_maps_answers_with_the_runs_contacts() -> None:
    """The B2B stage passes the run's contacts table: the survey joins and chooses (or not)
    on evidence; without the table, the decision line says the survey is unusable."""
    with_table = _account_result()
    bench = analyse(
        with_table, B2BInputs(surveys=ANSWERS, contacts=CONTACTS), options=ACCOUNT
    ).survey_benchmark
    assert bench is not None
    assert bench.counts["answers_joined"] == 3
    assert "unusable" not in str(with_table.manifest["decision_model_reason"])

    without = _account_result()
    analyse(without, B2BInputs(surveys=ANSWERS), options=ACCOUNT)
    assert without.manifest["decision_model_source"] == "default"
    assert without.manifest["decision_model_reason"].startswith(
        "the survey is unusable: 0 of 4 answers joined a conversion"
    )


def test_decide_says_an_unusable_survey_and_does_not_read_its_board() -> None:
    board = pl.DataFrame(
        {"rank": [1, 2], "model": ["markov", "linear"], "conversions": [500, 500],
         "agreement": [0.9, 0.1], "p_best": [1.0, 0.0]}
    )  # fmt: skip
    assert decide(["markov", "linear"], leaderboard=board)[:2] == ("markov", "survey agreement")
    model, source, reason = decide(
        ["markov", "linear"], leaderboard=board, survey_unusable="0 of 2 answers joined"
    )
    assert (model, source) == ("linear", "default")
    assert reason == "the survey is unusable: 0 of 2 answers joined"


# --- post-purchase answers (defect 23) ---------------------------------------------------

T23 = pl.DataFrame(
    {
        "contact_id": ["c1", "c1", "c1", "c1", "c2", "c2"],
        "channel": ["linkedin", "email", "webinar", "google_ads", "google_ads", "email"],
        "timestamp": ["2025-01-01T10:00:00Z", "2025-02-01T10:00:00Z", "2025-06-01T10:00:00Z",
                      "2025-07-01T10:00:00Z", "2025-01-05T10:00:00Z", "2025-01-06T10:00:00Z"],
    }
)  # fmt: skip
S23 = pl.DataFrame(
    {
        "contact_id": ["c1", "c1", "c2"],
        "stage": ["closed_won"] * 3,
        "timestamp": ["2025-03-01T10:00:00Z", "2025-08-01T10:00:00Z", "2025-02-01T10:00:00Z"],
        "value": [1000.0, 5000.0, 2000.0],
    }
)
A23 = pl.DataFrame(
    {
        "contact_id": ["c1", "c2"],
        "timestamp": ["2025-03-02T00:00:00Z", "2025-02-02T00:00:00Z"],
        "response": ["LinkedIn", "google"],
    }
)


def test_an_answer_the_day_after_a_deal_closed_is_about_that_deal() -> None:
    result = attribution.attribute(T23, S23, models=["first_touch", "last_touch"])
    bench = attribution.compare_surveys(result, A23, bootstrap=20)
    c1 = bench.coded.filter(pl.col("contact_id") == "c1").row(0, named=True)
    assert (c1["conversion_id"], c1["join_rule"]) == ("c1#1", "after_conversion")
    # linkedin is a touch of the March deal: not dark funnel, and first_touch agrees
    dark = bench.dark_funnel.filter(pl.col("channel") == "(all)").item(0, "dark_funnel_rate")
    assert dark == 0.0
    assert bench.counts["join_rules"]["after_conversion"] == 2
    assert bench.parameters["post_purchase_days"] == 30
    assert "2 within 30 days after a conversion (post-purchase)" in bench.summary()
    # without the window, the answer goes to the next deal (August), where it is dark
    before = attribution.compare_surveys(result, A23, bootstrap=20, post_purchase_days=0)
    c1 = before.coded.filter(pl.col("contact_id") == "c1").row(0, named=True)
    assert (c1["conversion_id"], c1["join_rule"]) == ("c1#2", "next_conversion")
    pooled = before.dark_funnel.filter(pl.col("channel") == "(all)")
    assert pooled.item(0, "dark_funnel_rate") == 0.5


@pytest.mark.parametrize("bad", [-1, 3651, 1.5, True, "30"])
def test_the_post_purchase_window_is_checked_where_it_is_set(bad: object) -> None:
    with pytest.raises(InputError, match="survey_post_purchase_days must be a whole number") as e:
        RunOptions(survey_post_purchase_days=bad)  # type: ignore[arg-type]
    assert e.value.option == "survey_post_purchase_days"
    result = attribution.attribute(T23, S23, models=["last_touch"])
    with pytest.raises(ModelParameterError, match="post_purchase_days must be a whole number"):
        attribution.compare_surveys(result, A23, post_purchase_days=bad)  # type: ignore[arg-type]


def _reference(
    answers: list[tuple[int, str, float | None]],
    conversions: list[tuple[str, str, float]],
    window: int,
) -> dict[int, tuple[str | None, str | None]]:
    """The join rule written out per answer (row -> (conversion_id, join_rule))."""
    out: dict[int, tuple[str | None, str | None]] = {}
    for row, key, t in answers:
        mine = [c for c in conversions if c[1] == key]
        if not mine:
            out[row] = (None, None)
            continue
        if t is None:
            first = min(mine, key=lambda c: (c[2], c[0]))
            out[row] = (first[0], "untimed")
            continue
        after = [c for c in mine if 0 <= t - c[2] <= window]
        nxt = [c for c in mine if c[2] > t]
        if after:
            pick = min(after, key=lambda c: (t - c[2], c[0]))
            out[row] = (pick[0], "after_conversion")
        elif nxt:
            pick = min(nxt, key=lambda c: (c[2] - t, c[0]))
            out[row] = (pick[0], "next_conversion")
        else:
            pick = min(mine, key=lambda c: (t - c[2], c[0]))
            out[row] = (pick[0], "previous_conversion")
    return out


@settings(max_examples=60, deadline=None)
@given(
    conv_days=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 200)), min_size=0, max_size=8
    ),
    answer_days=st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", "z"]), st.one_of(st.none(), st.integers(0, 220))),
        min_size=1,
        max_size=10,
    ),
    window=st.integers(0, 60),
)
def test_join_answers_follows_the_rule_for_any_answers(
    conv_days: list[tuple[str, int]],
    answer_days: list[tuple[str, int | None]],
    window: int,
) -> None:
    """Each answer joins at most one conversion of its key, chosen as the rule says: the
    latest within ``window`` days before it, else the next one, else the last one; the
    first one when the answer has no time."""
    conversions = [(f"{k}#{i}", k, float(d)) for i, (k, d) in enumerate(conv_days)]
    answers = [(i, k, None if d is None else float(d)) for i, (k, d) in enumerate(answer_days)]
    conv = pl.DataFrame(
        {
            "conversion_id": [c[0] for c in conversions],
            "contact_id": [c[1] for c in conversions],
            "timestamp": [_at(c[2]) for c in conversions],
        },
        schema={"conversion_id": pl.String, "contact_id": pl.String,
                "timestamp": pl.Datetime("us", "UTC")},
    )  # fmt: skip
    coded = pl.DataFrame(
        {
            "_row": [a[0] for a in answers],
            "contact_id": [a[1] for a in answers],
            "timestamp": [None if a[2] is None else _at(a[2]) for a in answers],
        },
        schema={"_row": pl.Int64, "contact_id": pl.String, "timestamp": pl.Datetime("us", "UTC")},
    )
    out = join_answers(coded, conv, post_purchase_days=window)
    assert out.height == coded.height
    got = {r: (c, j) for r, c, j in out.select("_row", "conversion_id", "join_rule").rows()}
    assert got == _reference(answers, conversions, window)


# --- an empty benchmark ranks no model (item 3) ------------------------------------------


def test_an_empty_benchmark_writes_no_ranked_rows(tmp_path: Path) -> None:
    result = attribution.attribute(T23, S23, models=["first_touch", "last_touch"])
    nobody = pl.DataFrame({"contact_id": ["ZZ1"], "response": ["LinkedIn"]})
    bench = attribution.compare_surveys(result, nobody, bootstrap=20)
    assert bench.empty is not None
    assert bench.leaderboard.height == 0
    assert "rank" in bench.leaderboard.columns  # the same columns, no row
    bench.write(tmp_path)
    board = pl.read_parquet(tmp_path / "survey_leaderboard.parquet")
    assert board.height == 0
    assert pl.read_parquet(tmp_path / "survey_benchmark.parquet").height == 0
    assert "Leaderboard by" not in bench.summary()


# --- messy exports: Salesforce ids in two forms, repeated rows (item 4) -------------------


def _opportunity_result(ids: list[str]) -> attribution.AttributionResult:
    touches = pl.DataFrame(
        {"contact_id": ["c1", "c2"], "channel": ["linkedin", "google_ads"],
         "timestamp": ["2025-01-01T10:00:00Z", "2025-01-02T10:00:00Z"]}
    )  # fmt: skip
    stages = pl.DataFrame(
        {"contact_id": ["c1", "c2"], "opportunity_id": ids, "stage": ["closed_won"] * 2,
         "timestamp": ["2025-03-01T10:00:00Z", "2025-02-01T10:00:00Z"]}
    )  # fmt: skip
    return attribution.attribute(touches, stages, models=["last_touch"])


def test_salesforce_ids_meet_in_their_15_and_18_character_forms() -> None:
    """A survey tool's 18-character opportunity ids join the 15-character ids of a report
    export (defect 18b: 0 joined, exit 0), and the other way round."""
    short = ["0065g00000AbCdE", "0065g00000XyZwQ"]
    long_ = ["0065g00000AbCdEAAV", "0065g00000XyZwQAAV"]
    for conv_ids, answer_ids in ((short, long_), (long_, short)):
        answers = pl.DataFrame({"opportunity_id": answer_ids, "response": ["LinkedIn", "google"]})
        bench = attribution.compare_surveys(_opportunity_result(conv_ids), answers, bootstrap=0)
        assert bench.counts["answers_joined"] == 2
        assert bench.counts["answers_joined_by_15_character_id"] == 2
        assert bench.coded.get_column("id_15").to_list() == [True, True]
        assert "2 answers joined by the 15-character form" in bench.summary()


def test_an_id_found_as_it_is_wins_over_its_15_character_form() -> None:
    conv_ids = ["0065g00000AbCdE", "0065g00000AbCdEAAV"]  # both forms are conversions' ids
    answers = pl.DataFrame({"opportunity_id": ["0065g00000AbCdEAAV"], "response": ["LinkedIn"]})
    result = _opportunity_result(conv_ids)
    bench = attribution.compare_surveys(result, answers, bootstrap=0)
    row = bench.coded.row(0, named=True)
    by_opportunity = dict(result.conversions.select("opportunity_id", "conversion_id").rows())
    assert row["conversion_id"] == by_opportunity["0065g00000AbCdEAAV"]
    assert row["id_15"] is False
    # an 18-character id not shaped like Salesforce's (lower-case checksum) is not cut
    odd = pl.DataFrame({"opportunity_id": ["0065g00000XyZwQaav"], "response": ["google"]})
    other = attribution.compare_surveys(_opportunity_result(["0065g00000XyZwQ", "x"]), odd)
    assert other.counts["answers_joined"] == 0


def test_exact_repeats_of_an_answer_count_once_and_different_answers_stay() -> None:
    result = attribution.attribute(T23, S23, models=["first_touch", "last_touch"])
    answers = pl.DataFrame(
        {
            "contact_id": ["c2", "c2", "c2", "c1"],
            "timestamp": ["2025-02-02T00:00:00Z"] * 2 + ["2025-02-03T00:00:00Z",
                                                         "2025-03-02T00:00:00Z"],
            "response": ["google", "google", "email", "LinkedIn"],
        }
    )  # fmt: skip
    bench = attribution.compare_surveys(result, answers, bootstrap=0)
    assert bench.counts["duplicate_answers_dropped"] == 1
    assert bench.coded.height == 3
    assert bench.counts["conversions_with_several_answers"] == 1  # c2: google and email
    assert "1 answer(s) repeating an earlier row exactly" in bench.summary()
