"""The ground truth of the synthetic world: what each channel really adds.

For each channel, the expected closed_won conversions lost if it were removed (every contact's
exposure to it set to 0, all else fixed), summed over the contacts. :func:`block_stats` sums one
block; :class:`Truth` adds the blocks in block order (so totals do not depend on chunking) and
writes the ``truth.json`` mapping.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from attribution.datasets._holdout import STATS
from attribution.datasets._holdout import results as holdout_results
from attribution.datasets._world import (
    BLOCK_TOUCHES,
    CHANNEL_LIFT,
    DARK_CHANNELS,
    DARK_LIFT,
    DARK_RATE,
    GENERATOR_VERSION,
    INTENT_COEF,
    ROLE_EFFECT,
    ROLES,
    SALES_CHANNEL,
    SEGMENT_EFFECT,
    SEGMENTS,
    STAGES,
    TRACKED_CHANNELS,
    sigmoid,
    stage_targets,
)

if TYPE_CHECKING:
    from attribution.datasets._block import Block
    from attribution.datasets._calibration import Params


def block_stats(
    *,
    thresholds: np.ndarray,
    eta: np.ndarray,
    exposed: np.ndarray,
    dark: np.ndarray,
    reached: list[np.ndarray],
    shape: tuple[int, int, int, int],
    touches_by_channel: np.ndarray,
    surveys: int,
    sales_touches: int,
    base_customers: int,
    subscription_rows: int,
) -> dict[str, Any]:
    """The truth accumulators of one block (additive over blocks).

    ``eta`` are the contacts' conversion logits without the closed_won intercept
    (``thresholds[4]``); ``exposed`` / ``dark`` their (contact, channel) exposures; ``reached``
    one mask per stage; ``shape`` (accounts, contacts, orphan contacts, touches).
    """
    na, nc, n_orphan, nt = shape
    b = thresholds
    p = sigmoid(b[4] + eta)
    lift_t = exposed * CHANNEL_LIFT
    lift_d = dark * DARK_LIFT
    loss_t = (p[:, None] - sigmoid(b[4] + eta[:, None] - lift_t)).sum(axis=0)
    loss_d = (p[:, None] - sigmoid(b[4] + eta[:, None] - lift_d)).sum(axis=0)
    return {
        "accounts": na,
        "contacts": nc,
        "orphan_contacts": n_orphan,
        "touches": nt,
        "expected_won": float(p.sum()),
        "expected_won_without_tracked": float(sigmoid(b[4] + eta - lift_t.sum(axis=1)).sum()),
        "expected_won_without_dark": float(sigmoid(b[4] + eta - lift_d.sum(axis=1)).sum()),
        "expected_won_without_marketing": float(
            sigmoid(b[4] + eta - lift_t.sum(axis=1) - lift_d.sum(axis=1)).sum()
        ),
        "loss_tracked": loss_t,
        "loss_dark": loss_d,
        "exposed_tracked": exposed.sum(axis=0),
        "exposed_dark": dark.sum(axis=0),
        "touches_by_channel": touches_by_channel,
        "stage_counts": np.array([m.sum() for m in reached]),
        "surveys": surveys,
        "sales_touches": sales_touches,
        "base_customers": base_customers,
        "subscription_rows": subscription_rows,
    }


class Truth:
    """Adds block statistics in block order, so totals do not depend on chunking."""

    def __init__(self, params: Params, n_blocks: int) -> None:
        self.params = params
        self.n_blocks = n_blocks
        self.sums: dict[str, Any] = {}

    def add(self, blocks: list[Block]) -> None:
        for b in blocks:
            for key, value in b.stats.items():
                self.sums[key] = self.sums[key] + value if key in self.sums else value

    def result(self, spend: pl.DataFrame, realised_won: int) -> dict[str, Any]:
        s, p = self.sums, self.params
        loss_t = np.asarray(s["loss_tracked"], dtype=float)
        loss_d = np.asarray(s["loss_dark"], dtype=float)
        all_loss = loss_t.sum() + loss_d.sum()
        spend_by = dict(spend.group_by("channel").agg(pl.col("amount").sum()).iter_rows())
        channels: dict[str, dict[str, Any]] = {}
        for i, ch in enumerate(TRACKED_CHANNELS):
            channels[ch] = {
                "lift": float(CHANNEL_LIFT[i]),
                "incremental_share": float(loss_t[i] / loss_t.sum()),
                "share_incl_dark": float(loss_t[i] / all_loss),
                "expected_conversions_lost_if_removed": float(loss_t[i]),
                "exposed_contacts": int(s["exposed_tracked"][i]),
                "touches": int(s["touches_by_channel"][i]),
                "spend": round(float(spend_by.get(ch, 0.0)), 2),
            }
        # The sales follow-up touches cause nothing (they come after the MQL): share 0.
        channels[SALES_CHANNEL] = {
            "lift": 0.0,
            "incremental_share": 0.0,
            "share_incl_dark": 0.0,
            "expected_conversions_lost_if_removed": 0.0,
            "exposed_contacts": None,
            "touches": int(s["sales_touches"]),
            "spend": round(float(spend_by.get(SALES_CHANNEL, 0.0)), 2),
            "note": "sales follow-up touches after the MQL (touch_type sales_call, "
            "sales_email, meeting); drawn after the funnel, so removing them loses no "
            "conversion",
        }
        dark = {}
        for i, ch in enumerate(DARK_CHANNELS):
            dark[ch] = {
                "lift": float(DARK_LIFT[i]),
                "exposure_rate": float(DARK_RATE[i]),
                "share_incl_dark": float(loss_d[i] / all_loss),
                "expected_conversions_lost_if_removed": float(loss_d[i]),
                "exposed_contacts": int(s["exposed_dark"][i]),
            }
        counts = np.asarray(s["stage_counts"])
        out = self._summary(s, p, channels, dark, loss_d, all_loss, counts, spend, realised_won)
        if p.holdout is not None and "holdout" in s:
            out["parameters"]["holdout"] = {
                "channels": [TRACKED_CHANNELS[c] for c in p.holdout.channels],
                "share": p.holdout.share,
                "applied": p.holdout.applied,
            }
            out["experiments"] = holdout_results(p.holdout, np.asarray(s["holdout"]), p)
            if p.holdout.applied:
                out["counts"]["held_out_touches"] = int(
                    np.asarray(s["holdout"])[:, STATS.index("held_out_touches")].sum()
                )
            out["experiments_method"] = (
                "account holdout: a random share of the accounts gets none of the channel's "
                "touches from holdout_start to the end of the data (the contacts' logit loses "
                "the channel's lift; applied: the touches are removed from the tables; read "
                "out only: the tables are the world without the test and the test's world is "
                "drawn beside it with the same random numbers); closed_won conversions dated "
                "start..end are counted per account; incremental_conversions = (rate_treated "
                "- rate_holdout) x scaled_to_accounts (the accounts that kept the channel, or "
                "every account when read out only), standard_error = scaled_to_accounts x "
                "sqrt(var_treated / treated_accounts + var_holdout / holdout_accounts); "
                "true_incremental_conversions = the expected closed_won conversions the "
                "channel adds in the window over those accounts"
            )
        return out

    def _summary(
        self,
        s: dict[str, Any],
        p: Params,
        channels: dict[str, dict[str, Any]],
        dark: dict[str, dict[str, Any]],
        loss_d: np.ndarray,
        all_loss: float,
        counts: np.ndarray,
        spend: pl.DataFrame,
        realised_won: int,
    ) -> dict[str, Any]:
        return {
            "generator": "attribution.datasets._synth",
            "generator_version": GENERATOR_VERSION,
            "parameters": {
                "n_touches": p.n_touches,
                "seed": p.seed,
                "start": p.start.isoformat(),
                "days": p.days,
                "conversion_rate": p.conversion_rate,
                "block_touches": BLOCK_TOUCHES,
                "blocks": self.n_blocks,
            },
            "conversion": "closed_won, per contact",
            "model": (
                "logit P(closed_won) = b_won + segment_effect[segment] + role_effect[role] "
                "+ intent_coef * intent "
                "+ sum over tracked channels c of lift_c * exposed_c "
                "+ sum over dark channels d of lift_d * exposed_d; exposed_c = 1 when the "
                "contact has at least one touch of channel c. Intent also raises the share "
                "of organic_search and direct touches, so those channels correlate with "
                "conversion far more than they cause it."
            ),
            "method": (
                "For each channel, the expected closed_won conversions lost if the channel "
                "were removed (every contact's exposure to it set to 0, all else fixed) are "
                "summed over the generated contacts: L_c = sum_i P_i - P_i(without c). "
                "incremental_share = L_c / sum of L over the tracked channels, so it sums to "
                "1 over tracked channels; share_incl_dark = L_c / sum of L over tracked and "
                "dark channels, and dark_funnel.dark_share is the dark channels' part of that."
            ),
            "calibration": {
                "intercepts": dict(zip(STAGES[:5], [float(x) for x in p.thresholds], strict=True)),
                "target_stage_rates": dict(
                    zip(
                        STAGES[:5],
                        [float(x) for x in stage_targets(p.conversion_rate)],
                        strict=True,
                    )
                ),
                "intent_coef": INTENT_COEF,
                "role_effect": dict(zip(ROLES, ROLE_EFFECT.tolist(), strict=True)),
                "segment_effect": dict(zip(SEGMENTS, SEGMENT_EFFECT.tolist(), strict=True)),
            },
            "incremental_share": {ch: v["incremental_share"] for ch, v in channels.items()},
            "channels": channels,
            "dark_funnel": {
                "dark_share": float(loss_d.sum() / all_loss),
                "channels": dark,
                "note": (
                    "Dark channels are never tracked as touches; they appear only in survey "
                    "answers. incremental_share covers tracked channels only."
                ),
            },
            "expected": {
                "closed_won": float(s["expected_won"]),
                "closed_won_without_tracked_marketing": float(s["expected_won_without_tracked"]),
                "closed_won_without_dark_funnel": float(s["expected_won_without_dark"]),
                "closed_won_without_any_marketing": float(s["expected_won_without_marketing"]),
            },
            "counts": {
                "accounts": int(s["accounts"]),
                "contacts": int(s["contacts"]),
                "contacts_without_account": int(s["orphan_contacts"]),
                "touches": int(s["touches"]) + int(s["sales_touches"]),
                "marketing_touches": int(s["touches"]),
                "sales_touches": int(s["sales_touches"]),
                "stages": dict(zip(STAGES, [int(x) for x in counts], strict=True)),
                "closed_won": realised_won,
                "conversion_rate": realised_won / int(s["contacts"]),
                "surveys": int(s["surveys"]),
                "customers_before_window": int(s["base_customers"]),
                "subscription_rows": int(s["subscription_rows"]),
                "spend_total": round(float(spend["amount"].sum()), 2),
            },
        }
