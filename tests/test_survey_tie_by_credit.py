"""Models that crown the same touch tie on survey agreement by construction; the tie is
broken by mean credit on the reported channel, as the leaderboard's rank is (new-user report
22, M17: first_touch, u_shaped, inverse_j and w_shaped tied at 0.669, p_best 0.19 each, "the
survey cannot choose", and the run fell back to linear, 5th on the same board)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from attribution.surveys._leader import survey_doubt
from attribution.surveys._scores import leaderboard_table


def _board(credit_first: float, credit_u: float) -> pl.DataFrame:
    n = 200
    rng = np.random.default_rng(7)
    hit = (rng.random(n) < 0.6).astype(float)  # both crown the reported touch alike
    linear = (rng.random(n) < 0.3).astype(float)
    top1 = np.column_stack([hit, hit, linear])
    mean_credit = np.column_stack([hit * credit_first, hit * credit_u, linear * 0.3])
    metrics = pl.DataFrame({
        "model": ["first_touch", "u_shaped", "linear"], "conversions": [n] * 3,
        "top1_agreement": top1.mean(axis=0), "mean_credit_reported": mean_credit.mean(axis=0)})
    return leaderboard_table(metrics, top1, mean_credit, bootstrap=500, seed=0)


def test_a_tie_on_agreement_is_broken_by_credit() -> None:
    board = _board(1.0, 0.8)
    assert board.get_column("model").to_list() == ["first_touch", "u_shaped", "linear"]
    p_best = dict(board.select("model", "p_best").iter_rows())
    assert p_best["first_touch"] == pytest.approx(1.0)  # was 0.5: half of each tied draw
    assert p_best["u_shaped"] == pytest.approx(0.0)
    assert survey_doubt(board) is None  # first_touch is chosen


def test_a_tie_on_both_still_cannot_choose() -> None:
    board = _board(0.8, 0.8)
    assert survey_doubt(board) == (
        "the survey cannot choose: first_touch and u_shaped tie on agreement at "
        f"{board.get_column('agreement')[0]:.3f}, p_best 0.50 / 0.50")
