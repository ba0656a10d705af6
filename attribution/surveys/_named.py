"""Every channel an answer names: "Google and LinkedIn" is coded to one channel (the first
rule that matches the whole answer wins), and ``channels_named`` keeps the trace.

The answer is cut into its parts at ``and``, ``then``, ``or``, ``&``, ``+``, commas,
semicolons, slashes and bars; each part is coded with the same ordered rules, and the
channels the parts name (after the rules file's ``[groups]``, ``other`` left out) follow
the answer's own channel. Cutting first keeps one phrase one channel: "referral from a
partner" is a partner referral (not also word of mouth for "referral"), "LinkedIn group" a
community, "the FreightWaves podcast" a podcast; "a trade show, then reviews on G2, then I
googled you" names events, g2_capterra and search.
"""

from __future__ import annotations

import polars as pl

from attribution.inputs._schema import ROW
from attribution.surveys._rules import OTHER, SurveyRules, rule_channel, rule_number_expr

__all__ = ["SEPARATORS", "channels_named"]

#: Where an answer is cut into parts (a regex on the normalised answer).
SEPARATORS = r"\s+(?:and|then|or|&|\+)\s+|[,;/|]"
_CUT = "\x1f"


def channels_named(frame: pl.DataFrame, rules: SurveyRules) -> pl.Series:
    """``channels_named`` (a list per row of ``frame``, in ``ROW`` order of ``frame``): the
    row's ``channel`` first (unless ``other``), then every other channel a part of its
    ``answer`` names, compared as the ``[groups]`` say."""
    group_of = rules.compare_map()
    parts = (
        frame.select(
            ROW,
            pl.col("answer").str.replace_all(SEPARATORS, _CUT).str.split(_CUT).alias("_part"),
        )
        .explode("_part")
        .with_columns(pl.col("_part").str.strip_chars())
        .filter(pl.col("_part").fill_null("") != "")
        .with_columns(rule_channel(rules, rule_number_expr(rules, pl.col("_part"))).alias("_ch"))
        .filter(pl.col("_ch").is_not_null() & (pl.col("_ch") != OTHER))
        .group_by(ROW, maintain_order=True)
        .agg(pl.col("_ch").replace(group_of))
    )
    own = pl.when(pl.col("channel") != OTHER).then(pl.col("channel").replace(group_of))
    named = (
        frame.select(ROW, "channel")
        .join(parts, on=ROW, how="left", maintain_order="left")
        .select(
            pl.concat_list(own, pl.col("_ch").fill_null(pl.lit([], dtype=pl.List(pl.String))))
            .list.drop_nulls()
            .list.unique(maintain_order=True)
            .alias("channels_named")
        )
    )
    return named.to_series()
