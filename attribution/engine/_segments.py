"""The accounts table a run reads for a lookback per account segment
(``RunOptions.segment_windows``; the rules are in :mod:`attribution.journeys._segment_windows`):
loaded once by each executor, handed to the journeys stage as (``account_id``, ``segment``)."""

from __future__ import annotations

import polars as pl

from attribution.exceptions import InputError
from attribution.inputs._account_inputs import Accounts, load_accounts
from attribution.journeys._segment_windows import check_lookback_segments
from attribution.options import RunOptions
from attribution.typing import TableLike

__all__ = ["load_segments", "segments_of"]


def load_segments(accounts: Accounts | TableLike | None, options: RunOptions) -> Accounts | None:
    """The load stage of the accounts table for a lookback per segment
    (``options.segment_windows``) or the bootstrap's segments (``options.bootstrap``): None
    when the run has one lookback and no bootstrap (the table is not read); for a lookback
    per segment, an error naming the option when the table is not given or has no
    ``segment`` column."""
    if options.segment_windows is None:  # the bootstrap's segments need no column
        if not options.bootstrap or accounts is None:
            return None
        return accounts if isinstance(accounts, Accounts) else load_accounts(
            accounts,
            columns=options.table_columns("accounts"),
            formats=options.table_formats("accounts"),
        )
    if accounts is None:
        missing = InputError(
            "lookback is given per segment, which needs the accounts table (each account's "
            "segment)",
            hint="give accounts= (--accounts, [inputs] accounts), or one lookback",
        )
        missing.option = "lookback"
        raise missing
    loaded = (
        accounts
        if isinstance(accounts, Accounts)
        else load_accounts(
            accounts,
            columns=options.table_columns("accounts"),
            formats=options.table_formats("accounts"),
        )
    )
    if "segment" not in loaded.frame.columns:
        raise loaded.table.error(
            InputError(
                "lookback is given per segment, and the accounts table has no segment column",
                table="accounts",
                source=loaded.source,
                column="segment",
                hint="add a segment column (smb, mid_market, enterprise, strategic), or give "
                "one lookback",
            )
        )
    check_lookback_segments(
        options.lookback, loaded.frame.get_column("segment"), options.segment_aliases
    )
    return loaded


def segments_of(accounts: Accounts | None, options: RunOptions) -> pl.DataFrame | None:
    """``account_id`` and ``segment`` of the accounts :func:`load_segments` read for a
    lookback per segment (None without), as :func:`build_part` takes them (small: a Spark
    job broadcasts them). An account with an 18-character Salesforce id is there under its
    15-character form too (:meth:`Accounts.lookup`, as the rest of the run meets accounts):
    a Data Loader accounts table meets an import's touches and stages."""
    if accounts is None or options.segment_windows is None:
        return None
    return accounts.lookup(["segment"]).drop("_id15")
