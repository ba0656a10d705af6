"""What :meth:`~attribution.engine._scoring.JourneyScorer.score` returns:
:class:`JourneyScores`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
import polars as pl

from attribution.engine._scoring_small_result import SmallResult

__all__ = ["JourneyScores"]


class JourneyScores:
    """What :meth:`JourneyScorer.score` returns.

    Attributes
    ----------
    touch_credit : pl.DataFrame
        The library's touch-credit columns (``conversion_id`` = the id sent, ``account_id``
        null), ordered by model as requested, then conversion id and time.
    channel_credit : pl.DataFrame
        ``model``, ``channel``, ``conversions``, ``value``, ``share``: the per-touch credit
        of these journeys summed by channel (for data-driven models too, so it describes
        the request, not the run the model was fitted on).
    models : list of str
        Model labels, as in the ``model`` columns.
    unattributed : list of str
        Conversion ids without a touch to credit: sent without touches, or every touch
        dropped (see ``touches_dropped``).
    touches_dropped : dict of str to int
        Touches sent that are not credited, by reason, as a batch run counts them
        (``touches_dropped`` of its manifest's reconciliation): ``exact_duplicate``
        (a touch equal in every field to an earlier one of its journey), and under the
        run's options ``outside_lookback`` and ``journey_too_long``; {} when none
        (:mod:`attribution.engine._scoring_drops`).
    notes : list of str
        What the scorer's run did that scoring a journey cannot (the scorer's ``notes``:
        :meth:`ModelSnapshot.scoring_options`), and requested models that the run ran
        with other parameters.

    The small engine's results build their frames on first use: :meth:`to_json` and
    :attr:`channels` (what the HTTP service reads) do without them.
    """

    def __init__(self, touch_credit: pl.DataFrame | SmallResult,
                 channel_credit: pl.DataFrame | None, models: list[str],
                 unattributed: list[str], touches_dropped: Mapping[str, int] | None = None,
                 notes: Sequence[str] = ()) -> None:
        self._small = touch_credit if isinstance(touch_credit, SmallResult) else None
        self._touch_credit = None if self._small is not None else touch_credit
        self._channel_credit = channel_credit
        self.models = models
        self.unattributed = unattributed
        self.touches_dropped = dict(touches_dropped or {})
        self.notes = list(notes)

    @property
    def touch_credit(self) -> pl.DataFrame:
        if self._touch_credit is None:
            assert self._small is not None
            self._touch_credit = self._small.touch_frame()
        assert isinstance(self._touch_credit, pl.DataFrame)
        return self._touch_credit

    @property
    def channel_credit(self) -> pl.DataFrame:
        if self._channel_credit is None:
            assert self._small is not None
            self._channel_credit = self._small.channel_frame()
        return self._channel_credit

    @property
    def channels(self) -> list[str]:
        """The channels of the scored touches (as the library spells them), sorted."""
        if self._small is not None:
            return self._small.channel_names()
        return sorted(self.touch_credit.get_column("channel").unique().to_list())

    def to_json(self, head: Mapping[str, Any] | None = None) -> bytes:
        """One JSON object: ``head``'s keys, then ``notes``, ``unattributed``,
        ``touches_dropped``, ``touch_credit`` and ``channel_credit`` (the last two as lists
        of row objects, timestamps ISO 8601, UTC)."""
        start = orjson.dumps({**(head or {}), "notes": self.notes,
                              "unattributed": self.unattributed,
                              "touches_dropped": self.touches_dropped})[:-1]
        if self._small is not None:
            touch, channel = self._small.json_rows()
            return b"".join((start, b',"touch_credit":', touch, b',"channel_credit":', channel,
                             b"}"))
        return b"".join((start, b',"touch_credit":', self.touch_credit.write_json().encode(),
                         b',"channel_credit":', self.channel_credit.write_json().encode(),
                         b"}"))
