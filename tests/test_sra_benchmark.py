"""Self-reported attribution benchmark (attribution.surveys._benchmark): hand-computed metrics on
tiny cases, joins and counts, the seeded bootstrap, the hybrid, truth scoring, and the sample
data end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import attribution
from attribution import InputError, ModelParameterError
from attribution.surveys import (
    METRICS,
    SurveyClassifier,
    bootstrap_means,
    compare_surveys,
    jensen_shannon,
    join_answers,
    score_against_truth,
    spearman,
    total_variation,
)

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"

# ------------------------------------------------------------------------ distances


def test_total_variation_hand_computed():
    assert total_variation(np.array([0.5, 0.5, 0.0]), np.array([0.0, 0.5, 0.5])) == 0.5
    assert total_variation(np.array([0.2, 0.8]), np.array([0.2, 0.8])) == 0.0
    assert total_variation(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == 1.0


def test_jensen_shannon_in_bits_hand_computed():
    # m = (.25, .25, .5): KL(p||m) = .5 log2(2) + .5 log2(1) = .5, same for q
    assert jensen_shannon(np.array([0.5, 0.0, 0.5]), np.array([0.0, 0.5, 0.5])) == 0.5
    assert jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == 1.0
    assert jensen_shannon(np.array([0.3, 0.7]), np.array([0.3, 0.7])) == 0.0
    # p = (1, 0), q = (.5, .5): m = (.75, .25); KL(p||m) = log2(4/3),
    # KL(q||m) = .5 log2(2/3) + .5 log2(2)
    expected = 0.5 * math.log2(4 / 3) + 0.5 * (0.5 * math.log2(2 / 3) + 0.5)
    assert jensen_shannon(np.array([1.0, 0.0]), np.array([0.5, 0.5])) == pytest.approx(expected)


def test_spearman_hand_computed():
    assert spearman(np.array([0.1, 0.2, 0.3]), np.array([0.9, 0.5, 0.1])) == pytest.approx(-1.0)
    # ties get average ranks: x ranks (2.5, 2.5, 1), y ranks (3, 2, 1)
    # centred: (.5, .5, -1) . (1, 0, -1) = 1.5; norms 1.5 and 2 -> 1.5 / sqrt(3)
    got = spearman(np.array([0.5, 0.5, 0.0]), np.array([0.7, 0.2, 0.1]))
    assert got == pytest.approx(1.5 / math.sqrt(3))
    assert math.isnan(spearman(np.array([0.2, 0.2]), np.array([0.1, 0.9])))
    assert math.isnan(spearman(np.array([1.0]), np.array([1.0])))


def test_bootstrap_is_seeded_and_blocking_does_not_change_it():
    scores = np.random.default_rng(1).random((50, 3))
    a = bootstrap_means(scores, resamples=200, seed=4)
    assert a.shape == (200, 3)
    assert np.array_equal(a, bootstrap_means(scores, resamples=200, seed=4))
    assert np.array_equal(a, bootstrap_means(scores, resamples=200, seed=4, block=120))
    assert not np.array_equal(a, bootstrap_means(scores, resamples=200, seed=5))
    assert np.allclose(a.mean(axis=0), scores.mean(axis=0), atol=0.03)


# ------------------------------------------------------------------------ tiny case

MODELS = ["last_touch", "linear", "first_touch"]


@pytest.fixture
def tiny(make_touches, make_stages):
    """Seven answers, six conversions.

    c1 linkedin, email      answers 'LinkedIn'            compared
    c2 google_ads           answers a podcast (dark)      joined, not compared
    c3 g2, linkedin, g2     answers 'G2'                  compared
    c4 email                no answer
    c5 linkedin (lost)      answers 'LinkedIn'            no conversion
    c6 linkedin             answers 'asdf' (other)        joined, not compared
    c7 linkedin             answers 'your newsletter'     compared; no email touch
    c99                     answers 'LinkedIn'            no such contact
    """
    touches = make_touches(
        [
            ("t1", "c1", "linkedin", 0),
            ("t2", "c1", "email", 5),
            ("t3", "c2", "google_ads", 0),
            ("t4", "c3", "g2_capterra", 0),
            ("t5", "c3", "linkedin", 1),
            ("t6", "c3", "g2_capterra", 2),
            ("t7", "c4", "email", 0),
            ("t8", "c5", "linkedin", 0),
            ("t9", "c6", "linkedin", 0),
            ("t10", "c7", "linkedin", 0),
        ]
    )
    stages = make_stages(
        [(c, "closed_won", 10, 100.0) for c in ("c1", "c2", "c3", "c4", "c6", "c7")]
        + [("c5", "closed_lost", 10, None)]
    )
    result = attribution.attribute(touches, stages, models=MODELS)
    surveys = pl.DataFrame(
        {
            "contact_id": ["c1", "c2", "c3", "c5", "c6", "c7", "c99"],
            "response": [
                "LinkedIn",
                "heard you on a podcast",
                "G2",
                "LinkedIn",
                "asdf",
                "your newsletter",
                "LinkedIn",
            ],
        }
    )
    return result, surveys


def _row(frame: pl.DataFrame, **where) -> dict:
    out = frame.filter(*[pl.col(k) == v for k, v in where.items()])
    assert out.height == 1
    return out.row(0, named=True)


def test_counts_keep_answers_without_a_conversion(tiny):
    bench = compare_surveys(*tiny, bootstrap=0)
    assert bench.counts == {
        "answers": 7,
        "answers_joined": 5,
        "answers_without_conversion": 2,
        "answers_without_key": 0,
        "joined_on": {"opportunity_id": 0, "contact_id": 5, "account_id": 0},
        "join_rules": {  # no answer time: the first conversion of the key
            "after_conversion": 0,
            "next_conversion": 0,
            "previous_conversion": 0,
            "untimed": 5,
        },
        "answers_joined_by_15_character_id": 0,
        "conversions": 6,
        "conversions_with_answer": 5,
        "conversions_without_answer": 1,
        "conversions_with_several_answers": 0,
        "conversions_answer_other_only": 1,
        "conversions_answer_dark": 1,
        "conversions_unattributed_with_answer": 0,
        "conversions_compared": 3,
        "duplicate_answers_dropped": 0,
    }
    coded = bench.coded
    assert coded.height == 7  # nothing is lost
    lost = coded.filter(pl.col("conversion_id").is_null()).get_column("contact_id").sort()
    assert lost.to_list() == ["c5", "c99"]
    assert _row(coded, contact_id="c6")["coded_by"] == "unmatched"
    assert bench.coverage["other_reasons"]["unmatched"] == 1


def test_top1_agreement_and_mean_credit_hand_computed(tiny):
    metrics = compare_surveys(*tiny, bootstrap=0).metrics
    # compared: c1 (linkedin), c3 (g2), c7 (email)
    # last_touch -> email, g2, linkedin: hits 0, 1, 0
    last = _row(metrics, model="last_touch")
    assert last["conversions"] == 3
    assert last["top1_agreement"] == pytest.approx(1 / 3)
    assert last["mean_credit_reported"] == pytest.approx(1 / 3)
    # linear: c1 ties linkedin/email at .5 (half a hit); c3 g2 2/3 (hit); c7 email 0
    lin = _row(metrics, model="linear")
    assert lin["top1_agreement"] == pytest.approx((0.5 + 1 + 0) / 3)
    assert lin["mean_credit_reported"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    # first_touch -> linkedin, g2, linkedin: hits 1, 1, 0
    first = _row(metrics, model="first_touch")
    assert first["top1_agreement"] == pytest.approx(2 / 3)
    assert first["mean_credit_reported"] == pytest.approx(2 / 3)


def test_share_distances_hand_computed(tiny):
    bench = compare_surveys(*tiny, bootstrap=0)
    shares = bench.shares.filter(pl.col("tracked")).sort("channel")
    assert shares.get_column("channel").to_list() == ["email", "g2_capterra", "linkedin", "search"]
    p = [1 / 3, 1 / 3, 1 / 3, 0.0]
    assert shares.get_column("sra_share").to_list() == pytest.approx(p)
    q_linear = [1 / 6, 2 / 9, 11 / 18, 0.0]  # (c1 .5/.5, c3 2/3 g2 + 1/3 li, c7 li) / 3
    assert shares.get_column("linear").to_list() == pytest.approx(q_linear)
    assert shares.get_column("last_touch").to_list() == pytest.approx(p)

    metrics = bench.metrics
    last, lin = _row(metrics, model="last_touch"), _row(metrics, model="linear")
    assert last["tvd"] == pytest.approx(0.0)
    assert last["jsd"] == pytest.approx(0.0)
    assert last["spearman"] == pytest.approx(1.0)
    assert lin["tvd"] == pytest.approx(0.5 * (1 / 6 + 1 / 9 + 5 / 18))
    m = [(a + b) / 2 for a, b in zip(p, q_linear, strict=True)]
    kl_p = sum(a * math.log2(a / c) for a, c in zip(p, m, strict=True) if a)
    kl_q = sum(b * math.log2(b / c) for b, c in zip(q_linear, m, strict=True) if b)
    assert lin["jsd"] == pytest.approx(0.5 * kl_p + 0.5 * kl_q)
    # ranks: sra (3, 3, 3, 1), linear (2, 3, 4, 1) -> 3 / sqrt(3 * 5)
    assert lin["spearman"] == pytest.approx(3 / math.sqrt(15))
    first = _row(metrics, model="first_touch")
    assert first["tvd"] == pytest.approx(1 / 3)  # first_touch: li 2/3, g2 1/3

    dark = _row(bench.shares, channel="podcast")
    assert dark["tracked"] is False
    assert dark["sra_share"] is None
    assert dark["sra_share_incl_dark"] == pytest.approx(1 / 4)  # of the 4 non-other answers


def test_dark_funnel_rate_hand_computed(tiny):
    dark = compare_surveys(*tiny, bootstrap=0).dark_funnel
    rates = dict(dark.select("channel", "dark_funnel_rate").iter_rows())
    assert rates == {
        "podcast": 1.0,
        "email": 1.0,
        "g2_capterra": 0.0,
        "linkedin": 0.0,
        "(all)": 0.5,
    }
    assert _row(dark, channel="podcast")["tracked"] is False
    assert _row(dark, channel="email")["tracked"] is True  # tracked, but not in c7's journey
    assert dark.get_column("channel").to_list()[-1] == "(all)"


def test_hybrid_moves_dark_answers_credit(tiny):
    bench = compare_surveys(*tiny, bootstrap=0)
    last = bench.hybrid.filter(pl.col("model") == "last_touch")
    podcast = _row(last, channel="podcast")
    assert podcast["dark"] is True
    assert (podcast["model_credit"], podcast["hybrid_credit"]) == (0.0, 1.0)
    gads = _row(last, channel="google_ads")
    assert (gads["model_credit"], gads["hybrid_credit"]) == (1.0, 0.0)
    assert last.get_column("hybrid_credit").sum() == pytest.approx(6.0)  # totals kept
    assert last.get_column("hybrid_share").sum() == pytest.approx(1.0)

    half = compare_surveys(*tiny, bootstrap=0, hybrid_dark_share=0.5).hybrid
    assert _row(half, model="linear", channel="podcast")["hybrid_credit"] == 0.5
    assert _row(half, model="linear", channel="google_ads")["hybrid_credit"] == 0.5


def test_leaderboard_order_and_seeded_bootstrap(tiny):
    a = compare_surveys(*tiny, bootstrap=300, seed=11)
    board = a.leaderboard
    assert board.get_column("model").to_list() == ["first_touch", "linear", "last_touch"]
    assert board.get_column("rank").to_list() == [1, 2, 3]
    assert (board["agreement_low"] <= board["agreement"]).all()
    assert (board["agreement"] <= board["agreement_high"]).all()
    assert board.get_column("p_best").sum() == pytest.approx(1.0)
    b = compare_surveys(*tiny, bootstrap=300, seed=11)
    assert_frame_equal(a.leaderboard, b.leaderboard)
    none = compare_surveys(*tiny, bootstrap=0).leaderboard
    assert none.get_column("agreement_low").is_nan().all()


def test_independent_of_survey_row_order(tiny):
    result, surveys = tiny
    a = compare_surveys(result, surveys, bootstrap=200, seed=1)
    b = compare_surveys(result, surveys.reverse(), bootstrap=200, seed=1)
    assert_frame_equal(a.leaderboard, b.leaderboard)
    assert_frame_equal(a.shares, b.shares)


def test_no_answer_joins(tiny):
    result, _ = tiny
    bench = compare_surveys(
        result, pl.DataFrame({"contact_id": ["zz"], "response": ["G2"]}), bootstrap=50
    )
    assert bench.counts["answers_without_conversion"] == 1
    assert bench.counts["conversions_without_answer"] == 6
    assert bench.metrics.get_column("top1_agreement").is_nan().all()
    assert "Leaderboard" in bench.summary()


def test_bad_arguments(tiny):
    result, surveys = tiny
    with pytest.raises(ModelParameterError, match="'bootstrap' parameter"):
        compare_surveys(result, surveys, bootstrap=-1)
    with pytest.raises(ModelParameterError, match="'hybrid_dark_share' parameter"):
        compare_surveys(result, surveys, hybrid_dark_share=2.0)
    paths = attribution.attribute_paths(
        pl.DataFrame({"path": ["a > b"], "conversions": [1]}), models=["linear"]
    )
    with pytest.raises(InputError, match="attribute_paths"):
        compare_surveys(paths, surveys)
    with pytest.raises(InputError, match="needs at least one of 'contact_id'"):
        compare_surveys(result, pl.DataFrame({"response": ["G2"]}))


# ------------------------------------------------------------------------ joins


def test_join_prefers_the_most_specific_key_without_fallback():
    conversions = pl.DataFrame(
        {
            "conversion_id": ["k1", "k2"],
            "contact_id": ["c1", "c2"],
            "opportunity_id": ["O1", "O2"],
        }
    )
    coded = pl.DataFrame(
        {
            "_row": [0, 1, 2],
            "contact_id": ["c1", "c1", "c2"],
            "opportunity_id": ["O1", "O9", None],  # O9 was lost: no fallback to c1's won deal
        }
    )
    out = join_answers(coded, conversions)
    assert out.get_column("conversion_id").to_list() == ["k1", None, "k2"]
    assert out.get_column("joined_on").to_list() == [
        "opportunity_id",
        "opportunity_id",
        "contact_id",
    ]


def test_join_by_account_takes_the_next_conversion_else_the_last(day):
    conversions = pl.DataFrame(
        {
            "conversion_id": ["a#1", "a#2", "b#1"],
            "account_id": ["A", "A", "B"],
            "timestamp": [day(10), day(50), day(10)],
        }
    )
    coded = pl.DataFrame(
        {
            "_row": [0, 1, 2, 3],
            "account_id": ["A", "A", "A", "C"],
            "timestamp": [day(5), day(20), day(60), day(1)],
        }
    )
    # without a post-purchase window: the next conversion, else the last one
    out = join_answers(coded, conversions, post_purchase_days=0)
    assert out.get_column("conversion_id").to_list() == ["a#1", "a#2", "a#2", None]
    assert out.get_column("join_rule").to_list() == [
        "next_conversion",
        "next_conversion",
        "previous_conversion",
        None,
    ]
    # the default window (30 days): day 20 is 10 days after a#1, a post-purchase answer
    out = join_answers(coded, conversions)
    assert out.get_column("conversion_id").to_list() == ["a#1", "a#1", "a#2", None]
    assert out.get_column("join_rule").to_list() == [
        "next_conversion",
        "after_conversion",
        "after_conversion",
        None,
    ]


# ------------------------------------------------------------------------ truth


def test_score_against_truth_hand_computed(make_touches, make_stages):
    result = attribution.attribute(
        make_touches([("t1", "c1", "linkedin", 0), ("t2", "c1", "email", 5)]),
        make_stages([("c1", "closed_won", 10, 1.0)]),
        models=["linear", "first_touch"],
    )
    truth = {"incremental_share": {"linkedin": 0.7, "email": 0.2, "webinar": 0.1}}
    out = score_against_truth(result, truth)
    lin = _row(out, model="linear")  # shares .5/.5/0 vs .7/.2/.1
    assert lin["truth_mae"] == pytest.approx((0.2 + 0.3 + 0.1) / 3)
    assert lin["truth_max_error"] == pytest.approx(0.3)
    assert lin["truth_spearman"] == pytest.approx(1.5 / math.sqrt(3))
    assert lin["channels"] == 3
    first = _row(out, model="first_touch")  # 1/0/0 vs .7/.2/.1
    assert first["truth_mae"] == pytest.approx((0.3 + 0.2 + 0.1) / 3)
    with pytest.raises(attribution.ConfigError, match="incremental_share"):
        score_against_truth(result, {"shares": {}})


# ------------------------------------------------------------------------ sample data


@pytest.fixture(scope="module")
def sample_result():
    return attribution.attribute(
        SAMPLE / "touches.parquet",
        SAMPLE / "stages.parquet",
        models=["last_touch", "first_touch", "linear", "w_shaped", "markov"],
    )


def test_sample_end_to_end(sample_result, tmp_path):
    bench = compare_surveys(
        sample_result,
        SAMPLE / "surveys.parquet",
        truth=SAMPLE / "truth.json",
        bootstrap=500,
        seed=0,
    )
    counts = bench.counts
    assert counts["answers"] == 1297
    assert counts["answers_joined"] + counts["answers_without_conversion"] == 1297
    assert counts["joined_on"]["opportunity_id"] == counts["answers_joined"]
    assert counts["conversions"] == 521
    assert counts["conversions_with_answer"] + counts["conversions_without_answer"] == 521
    assert bench.coverage["coded_share"] > 0.85
    assert bench.coverage["other_reasons"]["unmatched"] == 0

    board = bench.leaderboard
    assert board.height == 5
    agreement = board.get_column("agreement").to_list()
    assert agreement == sorted(agreement, reverse=True)
    assert (board["agreement_low"] < board["agreement_high"]).all()
    assert board.get_column("truth_mae").is_not_null().all()
    # the survey names dark channels the touch log never records
    untracked = bench.dark_funnel.filter(pl.col("tracked").not_().fill_null(False))
    assert {"podcast", "word_of_mouth", "community", "freight_broker"} <= set(
        untracked.get_column("channel")
    )
    assert (untracked.get_column("dark_funnel_rate") == 1.0).all()
    hybrid = bench.hybrid.group_by("model").agg(pl.col("model_credit", "hybrid_credit").sum())
    assert np.allclose(hybrid["model_credit"], hybrid["hybrid_credit"])

    out = bench.write(tmp_path / "run")
    names = {p.name for p in out.iterdir()}
    assert {
        "survey_benchmark.parquet",
        "survey_leaderboard.parquet",
        "survey_shares.parquet",
        "survey_coded.parquet",
        "survey_dark_funnel.parquet",
        "survey_hybrid.parquet",
        "survey_truth.parquet",
        "survey_benchmark.json",
        "survey_summary.txt",
    } == names
    long = pl.read_parquet(out / "survey_benchmark.parquet")
    assert long.columns == ["model", "rank", "metric", "value", "ci_low", "ci_high", "conversions"]
    assert set(long.get_column("metric")) == set(METRICS)
    assert long.height == 5 * len(METRICS)
    top = long.filter((pl.col("rank") == 1) & (pl.col("metric") == "top1_agreement"))
    assert top.item(0, "value") == board.item(0, "agreement")
    assert json.loads((out / "survey_benchmark.json").read_text())["counts"] == counts
    summary = (out / "survey_summary.txt").read_text()
    assert "Leaderboard by top-1 agreement" in summary
    assert board.item(0, "model") in summary


def test_sample_with_classifier(sample_result):
    labels = SAMPLE / "survey_labels.csv"
    bench = compare_surveys(
        sample_result, SAMPLE / "surveys.parquet", classifier=labels, bootstrap=0
    )
    clf = bench.coverage["classifier"]
    assert clf["n_splits"] == 5
    assert 0.5 < clf["cv_accuracy"] <= 1.0
    assert "CV accuracy" in bench.summary()
    only = compare_surveys(
        sample_result,
        SAMPLE / "surveys.parquet",
        classifier=SurveyClassifier().fit(labels),
        coding="classifier_only",
        bootstrap=0,
    )
    assert only.coverage["coded_by"]["rule"] == 0
    assert only.coverage["coded_by"]["classifier"] > 200
