"""Reading a scoring request's values for the small engine
(:mod:`attribution.engine._scoring_small`): timestamps, texts, and the run's names of a
channel, a conversion stage and a buying-committee role, each cached per distinct value sent
and read by the functions a run uses. A value any of them cannot read as the general engine
would raises :class:`NeedsGeneralEngine`: the general engine then answers, or names the
field."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import polars as pl

from attribution.engine._journey_request import CONVERSION_STAGE, reads_as_missing, scoring_stages
from attribution.exceptions import InputError
from attribution.inputs._channels import normalise_channels
from attribution.inputs._reading import END_OF_DAY_OFFSET, is_blank
from attribution.journeys._contacts import normalise_role
from attribution.models._rules import check_role_multipliers

__all__ = ["US", "NeedsGeneralEngine", "channel_reader", "conversion_micros", "is_mapping",
           "micros", "role_reader", "stage_reader", "text", "texts"]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
US: Final = timedelta(microseconds=1)
#: The ISO 8601 forms read here; anything else goes to the general engine's parser.
_ISO: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?"
)
_SPELLING_CACHE_SIZE: Final = 4_096


class NeedsGeneralEngine(Exception):  # noqa: N818 - a signal, not an error
    """The request needs the general engine (to score it, or to say what is wrong)."""


def micros(value: Any) -> int:
    """A timestamp as integer microseconds since the epoch, UTC (naive = UTC)."""
    kind = type(value)
    if kind is datetime:
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    elif kind is str:
        if _ISO.fullmatch(value) is None:
            raise NeedsGeneralEngine
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise NeedsGeneralEngine from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    elif kind is date:
        moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        raise NeedsGeneralEngine
    out: int = (moment - _EPOCH) // US
    return out


#: From a day's midnight to its end (:data:`attribution.inputs.END_OF_DAY`), in microseconds.
_DAY_END: Final = END_OF_DAY_OFFSET // timedelta(microseconds=1)


def conversion_micros(value: Any) -> int:
    """:func:`micros` of a conversion: a date alone is the end of that day (as
    :class:`attribution.engine._journey_request._Times` reads it)."""
    out = micros(value)
    kind = type(value)
    if kind is date or (kind is str and len(value) == 10):  # _ISO: YYYY-MM-DD alone
        out += _DAY_END
    return out


def is_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def text(value: Any) -> str:
    if type(value) is not str or not value:
        raise NeedsGeneralEngine
    return value


class _Cached:
    """Each distinct value sent read once by ``read`` (several values in one call), under a
    lock (the service scores from threads); the cache is emptied when it would pass
    :data:`_SPELLING_CACHE_SIZE`. ``read`` gives None for a value the general engine must
    read (to refuse it, naming its field): :class:`NeedsGeneralEngine`."""

    def __init__(self, read: Callable[[list[str]], list[Any]]) -> None:
        self._read = read
        self._values: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, sent: list[Any]) -> list[Any]:
        with self._lock:
            values = self._values
            missing = [v for v in set(sent) if v not in values]
            if missing:
                if len(values) + len(missing) > _SPELLING_CACHE_SIZE:
                    values.clear()
                    missing = list(set(sent))
                values.update(zip(missing, self._read(missing), strict=True))
            out = [values[v] for v in sent]
        if None in out:
            raise NeedsGeneralEngine
        return out



def channel_reader(aliases: Mapping[str, str] | None) -> _Cached:
    """Each channel sent as the run names it: :func:`normalise_channels` (the one spelling,
    then the run's ``aliases``), the function a run normalises its touches with, called once
    per name not seen before (one Polars call per request at most); a name that files read
    as missing (:func:`blank_as_null`: ``N/A``, ``-``, ``null``) goes to the general engine,
    which refuses it naming its field. (New-user report 6 #9: after 4,096 spellings a
    request's cached name was cleared away, a KeyError and a 500: :class:`_Cached` reads
    every value of the request again after emptying.)"""
    table = dict(aliases or {})

    def read(sent: list[str]) -> list[str | None]:
        raw = pl.Series("channel", sent, dtype=pl.String)
        absent = reads_as_missing(raw).to_list()
        used = normalise_channels(raw.to_frame(), table)[0].get_column("channel").to_list()
        return [None if a else u for a, u in zip(absent, used, strict=True)]

    return _Cached(read)


def texts(values: list[Any]) -> None:
    """Each value non-blank text (:func:`attribution.inputs._reading.is_blank`: whitespace
    or invisible characters only), else the general engine reads the request (and names the
    value)."""
    if values and (set(map(type, values)) != {str} or any(map(is_blank, values))):
        raise NeedsGeneralEngine


def stage_reader(stage_names: Mapping[str, str | Sequence[str]] | None, conversion_stage: str,
                 milestones: Mapping[str, Sequence[str]]) -> _Cached:
    """A conversion's ``stage`` sent -> the run's stage (:func:`scoring_stages`, as the
    general engine maps it: the run's ``stage_names``, then case and spaces folded)."""

    def read(sent: list[str]) -> list[str | None]:
        out: list[str | None] = []
        for stage in sent:  # one by one: an unknown stage fails alone
            try:
                out.append(None if stage == CONVERSION_STAGE else scoring_stages(
                    [stage], stage_names, ["stage"], conversion_stage=conversion_stage,
                    milestones=milestones)[0])
            except InputError:
                out.append(None)
        return out

    return _Cached(read)


def role_reader(multipliers: Mapping[str, float]) -> _Cached:
    """A touch's ``role`` sent -> its multiplier (:func:`normalise_role`, then the run's
    ``role_multipliers``, ``unknown`` for a role not listed, as the general engine weighs
    it)."""
    table = check_role_multipliers(multipliers)
    default = table.get("unknown", 1.0)

    def read(sent: list[str]) -> list[float]:
        roles = pl.select(normalise_role(pl.lit(pl.Series("role", sent, dtype=pl.String))))
        return [table.get(r, default) for r in roles.to_series().to_list()]

    return _Cached(read)
