"""The tables of the synthetic world, built from its blocks' numeric arrays.

Identifiers are numbers until here (``A0000001``, ``C00000001``... are made in one vectorised
string expression per column); categorical columns are codes into the world's tables, looked up
at the end. The surveys' free text gets its typing variants (case, stray punctuation) here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from attribution.datasets._answers import SURVEY_CATEGORIES, SURVEY_LIST
from attribution.datasets._block import Block
from attribution.datasets._world import (
    CAMPAIGNS,
    INDUSTRIES,
    METROS,
    NAME_CORE,
    NAME_FIRST,
    NAME_SUFFIX,
    OWNER_TEAMS,
    REGIONS,
    ROLES,
    SALES_CAMPAIGN,
    SALES_CHANNEL,
    SEGMENTS,
    STAGES,
    TAG_SHUFFLE,
    TITLE_LIST,
    TRACKED_CHANNELS,
    TYPE_NAMES,
)

if TYPE_CHECKING:
    from attribution.datasets._calibration import Params


def _cat(blocks: list[Block], name: str) -> np.ndarray:
    return np.concatenate([getattr(b, name) for b in blocks])


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Expr:
    """``prefix`` + zero-padded number; null where the number is negative."""
    # 10**width + n prints as "1" and the padded digits; swap the "1" for the prefix.
    series = pl.Series(numbers, dtype=pl.Int64)
    text: pl.Expr = (
        (pl.lit(series) + 10**width).cast(pl.String).str.replace("1", prefix, literal=True, n=1)
    )
    if numbers.size and numbers.min() < 0:
        masked: pl.Expr = pl.when(pl.lit(series) >= 0).then(text)
        return masked
    return text


def _lookup(values: Sequence[str | None], codes: np.ndarray) -> pl.Series:
    return pl.Series(values=list(values), dtype=pl.String).gather(codes)


def _timestamps(us: np.ndarray) -> pl.Series:
    return pl.Series(us, dtype=pl.Int64).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def _id_frame(**cols: tuple[str, np.ndarray, int]) -> pl.DataFrame:
    return pl.select([_ids(*v).alias(k) for k, v in cols.items()])


def assemble(
    blocks: list[Block], params: Params, chunk_index: int, shuffle: bool
) -> dict[str, pl.DataFrame]:
    """Turn a chunk's blocks into the five per-entity tables (spend is global)."""
    acc_name = _cat(blocks, "acc_name").reshape(-1, 3)
    accounts = pl.DataFrame(
        {
            "account_id": _id_frame(a=("A", _cat(blocks, "acc_id"), 7)).to_series(),
            "name": pl.select(
                pl.concat_str(
                    [
                        pl.lit(_lookup(NAME_FIRST, acc_name[:, 0])),
                        pl.lit(_lookup(NAME_CORE, acc_name[:, 1])),
                        pl.lit(_lookup(NAME_SUFFIX, acc_name[:, 2])),
                    ],
                    separator=" ",
                ).str.strip_chars()
            ).to_series(),
            "industry": _lookup([n for n, _ in INDUSTRIES], _cat(blocks, "acc_industry")),
            "metro": _lookup([n for n, _ in METROS], _cat(blocks, "acc_metro")),
            "region": _lookup(REGIONS, _cat(blocks, "acc_region")),
            "employees": pl.Series(_cat(blocks, "acc_employees"), dtype=pl.Int64),
            "segment": _lookup(SEGMENTS, _cat(blocks, "acc_segment")),
        }
    )

    ids = _id_frame(c=("C", _cat(blocks, "con_id"), 8), a=("A", _cat(blocks, "con_acc"), 7))
    contacts = pl.DataFrame(
        {
            "contact_id": ids["c"],
            "account_id": ids["a"],
            "role": _lookup(ROLES, _cat(blocks, "con_role")),
            "title": _lookup(TITLE_LIST, _cat(blocks, "con_title")),
        }
    )

    # Touches: shuffle (or sort by time) the numeric arrays before building strings.
    t_us = _cat(blocks, "t_us")
    if shuffle:
        order = np.random.default_rng([params.seed, TAG_SHUFFLE, chunk_index]).permutation(
            t_us.size
        )
    else:
        order = np.argsort(t_us, kind="stable")
    campaign = _cat(blocks, "t_campaign")[order]
    owner = _cat(blocks, "t_owner")[order]
    ids = _id_frame(
        t=("T", _cat(blocks, "t_id")[order], 10),
        c=("C", _cat(blocks, "t_contact")[order], 8),
        a=("A", _cat(blocks, "t_account")[order], 7),
    )
    touches = pl.DataFrame(
        {
            "touch_id": ids["t"],
            "contact_id": ids["c"],
            "account_id": ids["a"],
            "timestamp": _timestamps(t_us[order]),
            "channel": _lookup(
                (*TRACKED_CHANNELS, SALES_CHANNEL), _cat(blocks, "t_channel")[order]
            ),
            "campaign": _lookup([*(c[1] for c in CAMPAIGNS), SALES_CAMPAIGN[0]], campaign),
            "touch_type": _lookup(TYPE_NAMES, _cat(blocks, "t_type")[order]),
            "utm_source": _lookup([*(c[2] for c in CAMPAIGNS), SALES_CAMPAIGN[1]], campaign),
            "utm_medium": _lookup([*(c[3] for c in CAMPAIGNS), SALES_CAMPAIGN[2]], campaign),
            "cost": pl.Series(_cat(blocks, "t_cost")[order], dtype=pl.Float64),
            # -1 (a marketing touch) is the null after the teams
            "owner_team": _lookup(
                (*OWNER_TEAMS, None), np.where(owner < 0, len(OWNER_TEAMS), owner)
            ),
        }
    )
    del order, campaign, owner, t_us

    ids = _id_frame(
        c=("C", _cat(blocks, "s_contact"), 8),
        a=("A", _cat(blocks, "s_account"), 7),
        o=("O", _cat(blocks, "s_opp"), 8),
    )
    stages = pl.DataFrame(
        {
            "contact_id": ids["c"],
            "account_id": ids["a"],
            "opportunity_id": ids["o"],
            "stage": _lookup(STAGES, _cat(blocks, "s_stage")),
            "timestamp": _timestamps(_cat(blocks, "s_us")),
            "value": pl.Series(_cat(blocks, "s_value"), dtype=pl.Float64).fill_nan(None),
        }
    )

    ids = _id_frame(
        c=("C", _cat(blocks, "q_contact"), 8),
        a=("A", _cat(blocks, "q_account"), 7),
        o=("O", _cat(blocks, "q_opp"), 8),
    )
    pick = _cat(blocks, "q_pick")
    text = pl.col("response")
    surveys = (
        pl.DataFrame(
            {
                "contact_id": ids["c"],
                "account_id": ids["a"],
                "opportunity_id": ids["o"],
                "timestamp": _timestamps(_cat(blocks, "q_us")),
                "response": _lookup(SURVEY_LIST, _cat(blocks, "q_text")),
                "case": pl.Series(_cat(blocks, "q_case"), dtype=pl.Int8),
                "channel": _lookup(SURVEY_CATEGORIES, np.maximum(pick, 0)),
                "pick": pl.Series(pick, dtype=pl.Int64),
            }
        )
        .with_columns(
            # Buyers type in every case, with stray punctuation and spaces.
            response=pl.when(pl.col("case") == 1)
            .then(text.str.to_lowercase())
            .when(pl.col("case") == 2)
            .then(text.str.to_uppercase())
            .when(pl.col("case") == 3)
            .then(pl.concat_str([text, pl.lit(".")]))
            .when(pl.col("case") == 4)
            .then(pl.concat_str([pl.lit(" "), text, pl.lit("  ")]))
            .when(pl.col("case") == 5)
            .then(pl.lit(None, dtype=pl.String))
            .otherwise(text),
            channel=pl.when(pl.col("pick") >= 0).then(pl.col("channel")),
        )
        .drop("case", "pick")
    )
    sub_ids = _id_frame(a=("A", _cat(blocks, "sub_account"), 7))
    subscriptions = pl.DataFrame(
        {
            "account_id": sub_ids["a"],
            "month": pl.Series(
                _cat(blocks, "sub_month").astype("datetime64[M]").astype("datetime64[D]"),
                dtype=pl.Date,
            ),
            "mrr": pl.Series(_cat(blocks, "sub_mrr"), dtype=pl.Float64),
        }
    )
    return {
        "accounts": accounts,
        "contacts": contacts,
        "touches": touches,
        "stages": stages,
        "surveys": surveys,
        "subscriptions": subscriptions,
    }
