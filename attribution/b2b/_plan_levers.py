"""Levers that hold across models: each channel's plan action (grow / keep / cut, the plan
check's ``action``, with ``drop`` counted as a cut) under every model of the run, and how many
models agree.

The lever of a channel is the action most models give it (ties: the decision model's, then
grow, keep, cut in that order); it is ``recommended`` when at least :data:`LEVER_AGREEMENT`
(75%) of the models give it, else ``contested``: the advice depends on the model, so it is
not a recommendation. With the bootstrap (``RunOptions(bootstrap=N)``), ``draw_agreement`` is
the share of the draws in which the decision model gives the channel its action of the point
estimate (``decision_action``): the plan is projected again with each draw's CAC; it is the
direction of the move that agrees, not its size. ``votes`` keeps which model gave what
(``first_touch: grow, linear: cut, ...``), ``dissenting`` the models against the lever, named
in its line (``grow google_ads: 7 of 8 models (first_touch: cut)``); ``spend_multiple`` and
``extrapolated`` (:mod:`attribution.b2b._plan_extrapolation`) say when a grow lever's
reallocation is beyond the spend its CAC was measured at. Written to ``levers.parquet``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from attribution.b2b._plan_extrapolation import lever_caveat
from attribution.b2b._plan_reallocation import project_plan

if TYPE_CHECKING:
    from attribution.b2b._plan_file import Plan

__all__ = [
    "LEVER_AGREEMENT",
    "LEVER_COLUMNS",
    "draw_actions",
    "lever_lines",
    "lever_sentence",
    "lever_table",
    "levers_with_value",
    "with_draw_agreement",
]

#: The share of the run's models that must give a channel the same action for it to be
#: recommended.
LEVER_AGREEMENT = 0.75

LEVER_COLUMNS = (
    "channel",
    "action",
    "models_agreeing",
    "models",
    "agreement",
    "status",
    "decision_action",
    "actions",
    "draw_agreement",
    "dissenting",
    "votes",
)
_ORDER = {"grow": 0, "keep": 1, "cut": 2}


def lever_table(actions: pl.DataFrame, decision: str) -> pl.DataFrame:
    """``actions``: one row per model and channel (``model``, ``channel``, ``action`` as the
    plan writes it); the levers, one row per channel in the plan's order (see the module). A
    channel the data does not have (action ``no_data``) is no lever: no model judged it."""
    long = actions.filter(pl.col("action") != "no_data").with_columns(
        pl.col("action").replace({"drop": "cut"}).alias("lever")
    )
    n_models = long.get_column("model").n_unique()
    mine = (
        long.filter(pl.col("model") == decision)
        .with_row_index("_pos")
        .select("channel", pl.col("lever").alias("decision_action"), "_pos")
    )
    counts = (
        long.group_by("channel", "lever")
        .agg(pl.len().alias("models_agreeing"))
        .join(mine, on="channel", how="left")
        .with_columns(
            (pl.col("lever") == pl.col("decision_action")).alias("_mine"),
            pl.col("lever").replace_strict(_ORDER, default=3).alias("_rank"),
        )
    )
    spelled = (
        counts.sort("channel", "models_agreeing", "_rank", descending=[False, True, False])
        .group_by("channel", maintain_order=True)
        .agg(
            (pl.col("lever") + " " + pl.col("models_agreeing").cast(pl.String))
            .str.join(", ")
            .alias("actions")
        )
    )
    top = (
        counts.sort(
            "channel", "models_agreeing", "_mine", "_rank", descending=[False, True, True, False]
        )
        .group_by("channel", maintain_order=True)
        .first()
    )
    votes = (  # which model voted what (levers.parquet), and the dissenters by name
        long.join(top.select("channel", pl.col("lever").alias("_top")), on="channel")
        .group_by("channel", maintain_order=True)
        .agg(
            (pl.col("model") + ": " + pl.col("lever")).str.join(", ").alias("votes"),
            (pl.col("model") + ": " + pl.col("lever"))
            .filter(pl.col("lever") != pl.col("_top"))
            .str.join(", ")
            .alias("dissenting"),
        )
    )
    return (
        top.join(spelled, on="channel")
        .join(votes, on="channel", how="left")
        .with_columns(
            pl.col("lever").alias("action"),
            pl.lit(n_models, pl.Int64).alias("models"),
            pl.col("models_agreeing").cast(pl.Int64),
            (pl.col("models_agreeing") / n_models).alias("agreement"),
        )
        .with_columns(
            pl.when(pl.col("agreement") >= LEVER_AGREEMENT - 1e-12)
            .then(pl.lit("recommended"))
            .otherwise(pl.lit("contested"))
            .alias("status"),
            pl.lit(None, pl.Float64).alias("draw_agreement"),
        )
        .sort("_pos")
        .select(*LEVER_COLUMNS)
    )


def with_draw_agreement(levers: pl.DataFrame, draw_actions: pl.DataFrame) -> pl.DataFrame:
    """``levers`` with ``draw_agreement``: of the draws in ``draw_actions`` (``draw``,
    ``channel``, ``action`` of the decision model, as the plan writes it), the share whose
    action for the channel is its ``decision_action``."""
    if draw_actions.height == 0:
        return levers
    n_draws = draw_actions.get_column("draw").n_unique()
    agree = (
        draw_actions.with_columns(pl.col("action").replace({"drop": "cut"}).alias("_lever"))
        .join(levers.select("channel", "decision_action"), on="channel", how="inner")
        .group_by("channel")
        .agg(((pl.col("_lever") == pl.col("decision_action")).sum() / n_draws).alias("_share"))
    )
    return (
        levers.join(agree, on="channel", how="left", maintain_order="left")
        .with_columns(pl.col("_share").alias("draw_agreement"))
        .select(*LEVER_COLUMNS)
    )


def draw_actions(
    p: Plan,
    draws: pl.DataFrame,
    model: str,
    total_budget: float,
    mql_to_customer: float | None,
) -> pl.DataFrame:
    """``draw``, ``channel``, ``action``: the plan projected with each bootstrap draw's CAC
    under ``model`` (one projection per draw; the channels are few)."""
    rows = draws.filter((pl.col("model") == model) & (pl.col("segment") == "all"))
    return pl.concat(
        [
            project_plan(p, one, total_budget, mql_to_customer)[0]
            .select("channel", "action")
            .with_columns(pl.lit(draw, pl.Int32).alias("draw"))
            for (draw,), one in rows.partition_by("draw", as_dict=True, maintain_order=True).items()
        ]
        or [pl.DataFrame(schema={"channel": pl.String, "action": pl.String, "draw": pl.Int32})]
    )


def lever_lines(levers: pl.DataFrame) -> list[str]:
    """One line per channel whose lever is to move it (grow or cut) or is contested:
    ``cut linkedin: 11 of 13 models`` / ``linkedin: contested (cut 7, grow 6 of 13)``."""
    return [line for r in levers.iter_rows(named=True) if (line := _line(r))]


def _line(r: dict[str, Any]) -> str:
    if r["status"] == "contested":
        return (
            f"{r['channel']}: contested ({r['actions']} of {r['models']} models; not "
            f"recommended){_draws(r)}"
        )
    if r["action"] == "keep":
        return ""
    agreeing = f"{r['models_agreeing']} of {r['models']} models"
    if r.get("dissenting"):  # who dissents, by name: 'first_touch: cut'
        agreeing += f" ({r['dissenting']})"
    caveat = f"; {said}" if (said := lever_caveat(r)) else ""
    return f"{r['action']} {r['channel']}: {agreeing}{_draws(r)}{caveat}"


def _draws(r: dict[str, Any]) -> str:
    """``, 92% of draws`` (the decision model's action is the lever's), or what the decision
    model does in the draws; empty without the bootstrap."""
    share = r.get("draw_agreement")
    if share is None:
        return ""
    if r["status"] != "contested" and r["decision_action"] == r["action"]:
        return f", {share:.0%} of draws"
    return f"; the decision model's {r['decision_action']} in {share:.0%} of draws"


def lever_sentence(levers: pl.DataFrame) -> str:
    """The levers in one sentence for the plan's verdict (empty with fewer than two models)."""
    if levers.height == 0 or int(levers.get_column("models")[0]) < 2:
        return ""
    n = int(levers.get_column("models")[0])
    moves = levers.filter((pl.col("status") == "recommended") & (pl.col("action") != "keep"))
    contested = levers.filter(pl.col("status") == "contested").get_column("channel").to_list()
    parts = []
    if moves.height:
        parts.append(
            "recommended: "
            + ", ".join(
                f"{r['action']} {r['channel']} ({r['models_agreeing']} of {n}{_draws(r)}"
                + (f"; {said}" if (said := lever_caveat(r)) else "")
                + ")"
                for r in moves.iter_rows(named=True)
            )
        )
    if contested:
        parts.append(
            "contested (the advice flips with the model, not recommended): " + ", ".join(contested)
        )
    if not parts:
        return f"Across the run's {n} models, every channel's action is to keep it."
    return f"Across the run's {n} models, " + "; ".join(parts) + "."


def levers_with_value(levers: pl.DataFrame, table: pl.DataFrame, model: str) -> pl.DataFrame:
    """``levers`` with ``ltv_to_cac`` (the channel's, under the decision ``model``) and
    ``value_caveat``: for a cut lever whose channel returns more per dollar (LTV/CAC) than a
    channel the levers grow, that the plan counts customers, not their value (new-user report
    22, M18: "cut linkedin" at LTV/CAC 10.6 to grow google_ads at 5.0, since the reallocation
    buys the cheapest customers first and the plan's target is a count). Null otherwise."""
    value = table.filter((pl.col("model") == model) & (pl.col("segment") == "all")).select(
        "channel", "ltv_to_cac")
    out = levers.join(value, on="channel", how="left", maintain_order="left")
    grown = out.filter((pl.col("action") == "grow") & (pl.col("status") == "recommended")
                       & pl.col("ltv_to_cac").is_not_null()).sort("ltv_to_cac", "channel")
    if not grown.height:
        return out.with_columns(pl.lit(None, pl.String).alias("value_caveat"))
    low = grown.row(0, named=True)
    ratio = pl.col("ltv_to_cac").round(1).cast(pl.String)
    return out.with_columns(
        pl.when((pl.col("action") == "cut") & (pl.col("ltv_to_cac") > low["ltv_to_cac"]))
        .then(pl.format(
            "the plan counts customers, not their value: {} returns LTV/CAC {}, {} (grown) "
            f"{low['ltv_to_cac']:.1f}; weigh the value before cutting it",
            pl.col("channel"), ratio, pl.lit(low["channel"])))
        .alias("value_caveat")
    )
