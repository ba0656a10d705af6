"""Seeded synthetic B2B data with a known ground truth.

The world: an SMB-heavy logistics-software SaaS company selling a TMS to shippers on
subscriptions. Accounts (shippers: SMB, mid-market, enterprise; a metro and its sales region)
have contacts with buying-committee roles; contacts are touched by marketing channels over
weeks, among them the SDRs' outbound prospecting; some move through the CRM funnel (lead -> mql
-> sql -> opportunity -> closed_won | closed_lost), and after an MQL the sales team follows up
(calls, emails, meetings, each with its owner team); won deals become monthly subscriptions
that churn and expand; the company spends a monthly budget per channel and campaign; buyers
answer "How did you hear about us?" in free text.

How a contact converts is known exactly: ``logit P(closed_won) = b_won + segment effect +
role effect + intent_coef * intent + sum of lift_c over the tracked channels c the contact was
exposed to + sum of lift_d over the untracked ("dark funnel") channels d it was exposed to``.
Intent also makes ``direct`` and ``organic_search`` touches more likely, so those channels look
good in observational data while adding little; ``partner_referral`` and ``g2_capterra`` are
rare but strongly incremental. The sales follow-up touches (channel ``sales``) are drawn after
the funnel and cause nothing. ``truth`` holds each channel's incremental share.

Data are generated in independent **blocks** of a fixed size (36,000 marketing touches, 2,000
accounts, 6,000 contacts, with their sales touches and subscriptions), each seeded from
``(seed, block index)``; identifiers are numbered from fixed block offsets. The rows therefore
do not depend on how blocks are grouped into chunks for writing: :func:`write_synthetic` with
any ``chunk_touches`` and :func:`synthesize` produce the same set of rows, and exactly
``n_touches`` marketing touches.

The pieces: the world's parameters (:mod:`._world`), accounts and contacts (:mod:`._accounts`),
touches (:mod:`._touches`), the funnel and deals (:mod:`._deals`), survey answers
(:mod:`._answers`), the sales follow-up (:mod:`._sales`), subscriptions
(:mod:`._subscriptions`), one block's draw in its fixed order (:mod:`._block`), the calibration
(:mod:`._calibration`), the ground truth (:mod:`._truth`), the tables (:mod:`._frames`,
:mod:`._spend`) and the files (:mod:`._write`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from attribution.datasets._answers import SURVEY_TEXT
from attribution.datasets._block import block_sizes, draw_blocks
from attribution.datasets._calibration import make_params
from attribution.datasets._frames import assemble
from attribution.datasets._holdout import experiments_table
from attribution.datasets._spend import spend_table
from attribution.datasets._truth import Truth
from attribution.datasets._world import DARK_CHANNELS as DARK_CHANNELS
from attribution.datasets._world import GENERATOR_VERSION as GENERATOR_VERSION
from attribution.datasets._world import SALES_CHANNEL as SALES_CHANNEL
from attribution.datasets._world import STAGES as STAGES
from attribution.datasets._world import TABLES
from attribution.datasets._world import TRACKED_CHANNELS as TRACKED_CHANNELS
from attribution.datasets._write import write_synthetic as write_synthetic

# The constants and write_synthetic are re-exported (``as`` imports) for the callers that
# import them from here; the package, attribution.datasets, lists the room's public names.
__all__ = ["SyntheticData", "synthesize"]

#: The phrases buyers use for each survey category (the survey tests read them from here).
_SURVEY_TEXT = SURVEY_TEXT


@dataclass(frozen=True, eq=False)
class SyntheticData:
    """The tables of a synthetic world and its ground truth.

    Attributes
    ----------
    accounts, contacts, touches, stages, spend, surveys, subscriptions : polars.DataFrame
        The tables (schemas in ``sample_data/README.md``).
    truth : dict
        JSON-serialisable ground truth: per channel its lift and true incremental share,
        the dark funnel, the calibration and realised counts (and with a holdout, the
        tests' readouts under ``experiments``).
    experiments : polars.DataFrame or None
        With ``holdout``: the simulated account-holdout tests as an ``experiments`` input
        table (``experiments.csv``; see :mod:`attribution.datasets._holdout`).
    """

    accounts: pl.DataFrame
    contacts: pl.DataFrame
    touches: pl.DataFrame
    stages: pl.DataFrame
    spend: pl.DataFrame
    surveys: pl.DataFrame
    subscriptions: pl.DataFrame
    truth: dict[str, Any]
    experiments: pl.DataFrame | None = None

    def tables(self) -> dict[str, pl.DataFrame]:
        """The seven tables by name."""
        return {name: getattr(self, name) for name in TABLES}


def synthesize(
    n_touches: int,
    *,
    seed: int = 7,
    shuffle: bool = True,
    start: str = "2025-01-01",
    days: int = 365,
    conversion_rate: float = 0.04,
    holdout: Sequence[str] = (),
    holdout_share: float = 0.25,
    holdout_applied: bool = True,
) -> SyntheticData:
    """Generate a seeded synthetic B2B world in memory.

    Parameters
    ----------
    n_touches : int
        Exact number of marketing touch rows (~6 per contact, ~3 contacts per account); the
        sales team's follow-up touches (channel ``sales``) come on top.
    seed : int, default 7
        Same seed, same rows (byte for byte once written).
    shuffle : bool, default True
        Touch rows in random order, as real exports come; ``False`` sorts them by timestamp.
    start : str, default "2025-01-01"
        ISO 8601 start of the window (naive means UTC).
    days : int, default 365
        Length of the window; every touch, stage event and survey answer falls inside it.
    conversion_rate : float, default 0.04
        Target share of contacts reaching ``closed_won``, in (0, 0.5].
    holdout : sequence of str, default ()
        Channels to run a simulated account-holdout test on: each holds ``holdout_share`` of
        the accounts out of the channel from a sixth of the window on (their touches of it
        are removed, so the touch log has fewer than ``n_touches`` marketing touches; the
        count is ``truth["counts"]["held_out_touches"]``), and the readout is
        ``experiments`` (see :mod:`attribution.datasets._holdout`).
    holdout_share : float, default 0.25
        Share of the accounts each test holds out (all tests together at most 0.8).
    holdout_applied : bool, default True
        ``False``: the tables are the world without the test (no touch removed) and
        ``experiments`` is what the test would have read on it (its world drawn beside, from
        the same random numbers).

    Returns
    -------
    SyntheticData
        The seven tables and ``truth``. Holds everything in memory: for tens of millions of
        touches use :func:`write_synthetic`, which streams.

    Examples
    --------
    >>> import polars as pl
    >>> from attribution.datasets import synthesize
    >>> data = synthesize(10_000, seed=1)
    >>> data.touches.filter(pl.col("channel") != "sales").height
    10000
    >>> round(sum(data.truth["incremental_share"].values()), 9)
    1.0
    """
    params = make_params(
        n_touches, seed, start, days, conversion_rate, holdout, holdout_share, holdout_applied
    )
    sizes = block_sizes(params.n_touches)
    blocks = draw_blocks(params, 0, len(sizes), sizes)
    truth = Truth(params, len(sizes))
    truth.add(blocks)
    frames = assemble(blocks, params, 0, shuffle)
    del blocks
    spend = spend_table(params, int(truth.sums["accounts"]))
    won = int(frames["stages"].get_column("stage").eq("closed_won").sum())
    summary = truth.result(spend, won)
    tests = experiments_table(summary["experiments"]) if "experiments" in summary else None
    return SyntheticData(spend=spend, truth=summary, experiments=tests, **frames)
