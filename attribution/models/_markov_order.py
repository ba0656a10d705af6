"""Choosing the Markov order: held-out ROC AUC of each order's conversion predictions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from attribution.exceptions import ModelParameterError
from attribution.models._allocation import eager_frame, validate_paths
from attribution.models._markov_chain import SEPARATOR
from attribution.models._registry import Param, get_model

if TYPE_CHECKING:
    from attribution.models._markov import MarkovModel

__all__ = ["select_order"]


def _order_param() -> Param:
    """The Markov model's ``order`` parameter, whose range the compared orders keep to."""
    (order,) = (p for p in get_model("markov").params if p.name == "order")
    return order


def _is_order(value: Any) -> bool:
    try:
        _order_param().check(value, owner="select_order")
    except ModelParameterError:
        return False
    return True


def _check_journeys(journeys: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    needs = " Required: 'path' (list[str]) and 'converted' (bool), one row per journey."
    journeys = eager_frame(journeys, "select_order", "journey", ("path", "converted"), needs)
    if journeys.schema["converted"] != pl.Boolean:
        raise ValueError(
            "The 'converted' column given to select_order must be bool. "
            f"Got {journeys.schema['converted']} instead."
        )
    if journeys["converted"].null_count():
        raise ValueError("The 'converted' column given to select_order holds nulls.")
    table = journeys.select(
        "path",
        pl.col("converted").cast(pl.Float64).alias("conversions"),
        (~pl.col("converted")).cast(pl.Float64).alias("nulls"),
    )
    checked, _ = validate_paths(table, model="select_order")
    return checked


def _collapse_paths(table: pl.DataFrame) -> pl.DataFrame:
    """Collapse consecutive repeats inside each ``path`` list, keeping row order."""
    return table.with_columns(
        pl.col("path").list.eval(
            pl.element().filter((pl.element() != pl.element().shift(1)).fill_null(True))
        )
    )


def _journey_scores(
    model: MarkovModel, test: pl.DataFrame, score: str, base_rate: float
) -> np.ndarray:
    """Score each test journey from its last state, backing off to shorter suffixes."""
    column = "end_conversion_rate" if score == "exit" else "conversion_probability"
    lookup = (
        model.states_.filter(pl.col("kind") == "channel")
        .select("state", pl.col(column).alias("score"))
        .drop_nulls()
    )
    paths = _collapse_paths(test) if model.collapse_repeats else test
    scored = paths.select(pl.col("path"))
    suffix_scores = []
    for length in range(int(model.order), 0, -1):
        key = scored.select(pl.col("path").list.slice(-length).list.join(SEPARATOR).alias("state"))
        suffix_scores.append(
            key.join(lookup, on="state", how="left", maintain_order="left")["score"]
        )
    return (
        pl.DataFrame({f"s{i}": s for i, s in enumerate(suffix_scores)})
        .select(pl.coalesce(pl.all(), pl.lit(base_rate)))
        .to_series()
        .to_numpy()
    )


def select_order(
    journeys: pl.DataFrame | pl.LazyFrame,
    *,
    orders: Iterable[int] = (1, 2, 3, 4),
    seed: int = 0,
    test_size: float = 0.3,
    collapse_repeats: bool = True,
    score: Literal["exit", "absorption"] = "exit",
) -> tuple[pl.DataFrame, int]:
    """Compare Markov orders by held-out ROC AUC of predicting conversion per journey.

    Journeys are split (stratified by ``converted``, seeded) into train and test; a chain
    of each order is fitted on the training journeys and scores each test journey from
    the state its path ends in:

    - ``score="exit"`` (default): the chain's probability that a journey ending in that
      state converts, ``P(s -> conversion) / (P(s -> conversion) + P(s -> null))``. This
      is the exact conditional conversion probability under the chain given the whole
      observed path (the probability of reaching ``s`` along the path cancels out).
    - ``score="absorption"``: the absorption probability into ``conversion`` from that
      state, as if the journey could still go on.

    A last state not seen in training backs off to the longest seen suffix of the path,
    then to the training conversion rate.

    Parameters
    ----------
    journeys
        One row per journey: ``path`` (list[str]) and ``converted`` (bool).
    orders
        Orders to compare, each in [1, 4].
    seed, test_size
        Split seed and held-out share in (0, 1).
    collapse_repeats
        Passed to :class:`MarkovModel`.
    score
        ``"exit"`` or ``"absorption"``, see above.

    Returns
    -------
    (DataFrame, int)
        ``order``, ``auc``, ``n_states`` (channel states of the fitted chain), and the
        suggested order: the best AUC, ties (within 1e-12) going to the lower order.
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    # imported here: the model module imports this one (select_order is re-exported there)
    from attribution.models._markov import MarkovModel

    orders = list(orders)
    if not orders or not all(_is_order(k) for k in orders):
        raise ValueError(
            "The 'orders' parameter of select_order must be a non-empty list of ints in "
            f"[{_order_param().low}, {_order_param().high}]. Got {orders!r} instead."
        )
    if not (isinstance(test_size, float) and 0.0 < test_size < 1.0):
        raise ValueError(
            "The 'test_size' parameter of select_order must be a float in (0, 1). "
            f"Got {test_size!r} instead."
        )
    if score not in ("exit", "absorption"):
        raise ValueError(
            "The 'score' parameter of select_order must be a str among "
            f"{{'exit', 'absorption'}}. Got {score!r} instead."
        )
    table = _check_journeys(journeys)
    y = table["conversions"].to_numpy() > 0
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if min(n_pos, n_neg) < 2:
        raise ValueError(
            "select_order needs at least 2 converting and 2 non-converting journeys with "
            f"touches to measure AUC. Got {n_pos} converting and {n_neg} non-converting."
        )
    idx_train, idx_test = train_test_split(
        np.arange(table.height), test_size=test_size, random_state=seed, stratify=y
    )
    train, test = table[np.sort(idx_train)], table[np.sort(idx_test)]
    y_test = y[np.sort(idx_test)]
    base_rate = float(train["conversions"].mean())  # type: ignore[arg-type]
    rows = []
    for k in sorted(set(orders)):
        model = MarkovModel(order=k, collapse_repeats=collapse_repeats).fit(train)
        scores = _journey_scores(model, test, score, base_rate)
        rows.append(
            {"order": k, "auc": float(roc_auc_score(y_test, scores)), "n_states": model.n_states_}
        )
    result = pl.DataFrame(rows, schema={"order": pl.Int64, "auc": pl.Float64, "n_states": pl.Int64})
    best_auc = result["auc"].max()
    best = int(result.filter(pl.col("auc") >= best_auc - 1e-12)["order"].min())  # type: ignore[operator, arg-type]
    return result, best
