"""Whether a survey leaderboard has a leader: the minimum evidence for the survey to choose
a model (the run's decision model, :mod:`attribution.b2b._decision`).

The survey's rank 1 decides only when

- at least :data:`MIN_COMPARED_CONVERSIONS` conversions were compared (answers naming a
  tracked channel): with a handful, the percentile bootstrap resamples the same few
  answers (5 conversions have 126 distinct resamples) and one answer can put any model
  first with ``p_best`` 1;
- its agreement is above the second's, or equal and its mean credit on the reported channel
  above (models that crown the same touch tie on agreement by construction; a tie on both
  is broken by name order only, so it does not choose);
- it is first in at least :data:`MIN_P_BEST` of the bootstrap draws (``p_best``): below
  that it is more often *not* the best than the best, and another sample of buyers would
  likely pick another model (a leaderboard without draws, ``bootstrap=0``, is judged on
  the first two rules alone).

Otherwise the survey cannot choose, and :func:`survey_doubt` says why in one sentence.
"""

from __future__ import annotations

import math

import polars as pl

__all__ = ["MIN_COMPARED_CONVERSIONS", "MIN_P_BEST", "survey_doubt"]

#: The fewest compared conversions for the survey to choose the decision model.
MIN_COMPARED_CONVERSIONS = 30
#: The smallest ``p_best`` of the survey's rank 1 for it to choose the decision model.
MIN_P_BEST = 0.5
#: Agreements within this are a tie.
_TIE = 1e-9


def survey_doubt(leaderboard: pl.DataFrame, models: list[str] | None = None) -> str | None:
    """``None`` when the survey's rank 1 (among ``models``, default all) meets the minimum
    evidence, else why not, e.g. ``"the survey cannot choose: markov and shapley tie on
    agreement at 0.238, p_best 0.47 / 0.47"``.

    >>> board = pl.DataFrame({"rank": [1, 2], "model": ["a", "b"], "conversions": [3, 3],
    ...     "agreement": [1.0, 0.0], "p_best": [1.0, 0.0]})
    >>> survey_doubt(board)
    'the survey is too small to choose: 3 compared conversions, at least 30 needed'
    """
    board = leaderboard
    if models is not None:
        board = board.filter(pl.col("model").is_in(models))
    board = board.filter(pl.col("agreement").is_not_null() & pl.col("agreement").is_not_nan())
    board = board.sort("rank")
    if board.height == 0:
        return "the survey cannot choose: no answer names a tracked channel of a conversion"
    n = int(board.get_column("conversions")[0]) if "conversions" in board.columns else 0
    if n < MIN_COMPARED_CONVERSIONS:
        return (
            f"the survey is too small to choose: {n:,} compared conversion"
            f"{'' if n == 1 else 's'}, at least {MIN_COMPARED_CONVERSIONS} needed"
        )
    rows = board.to_dicts()
    top = rows[0]
    tied = [r for r in rows if r["agreement"] >= top["agreement"] - _TIE
            and not _credit_above(top, r)]
    if len(tied) > 1:
        names = [str(r["model"]) for r in tied]
        listed = (
            " and ".join(names)
            if len(names) <= 3
            else f"{', '.join(names[:3])} and {len(names) - 3} more"
        )
        return (
            f"the survey cannot choose: {listed} tie on agreement at {top['agreement']:.3f}"
            + (f", {shown}" if (shown := _p_best(tied[:3])) else "")
        )
    p_best = top.get("p_best")
    if p_best is not None and not math.isnan(p_best) and p_best < MIN_P_BEST:
        second = rows[1] if len(rows) > 1 else None
        nxt = ""
        if second is not None:
            nxt = f"; next {second['model']} at {second['agreement']:.3f}"
            nxt += f", {shown}" if (shown := _p_best([second])) else ""
        return (
            f"the survey cannot choose: its leader {top['model']} at {top['agreement']:.3f} "
            f"is first in {p_best:.0%} of the bootstrap draws, below the {MIN_P_BEST:.0%} "
            f"needed{nxt}"
        )
    return None


def _credit_above(top: dict[str, object], other: dict[str, object]) -> bool:
    """Whether ``top``'s mean credit on the reported channel is above ``other``'s: a tie on
    agreement is broken by it, as the rank is (models that crown the same touch, first_touch
    and u_shaped, tie on agreement by construction; new-user report 22, M17)."""
    a, b = top.get("mean_credit"), other.get("mean_credit")
    if not isinstance(a, float) or not isinstance(b, float) or math.isnan(a) or math.isnan(b):
        return False
    return a > b + _TIE


def _p_best(rows: list[dict[str, object]]) -> str:
    """``"p_best 0.47 / 0.47"`` of ``rows``; empty without draws."""
    values = [r.get("p_best") for r in rows]
    if not values or any(not isinstance(v, float) or math.isnan(v) for v in values):
        return ""
    return "p_best " + " / ".join(f"{v:.2f}" for v in values if isinstance(v, float))
