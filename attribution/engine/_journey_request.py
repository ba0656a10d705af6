"""The scoring request as frames: the journeys sent as plain Python data (the HTTP API's
body), checked field by field, turned into a touch table and a conversion table with the
milestone times the journey builder would give them (see :mod:`attribution.engine._scoring`).

Reading the nested request is one pass over its items; everything after is columnar.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from typing import Any, Final

import polars as pl

from attribution.exceptions import InputError, did_you_mean
from attribution.inputs._campaigns import TOUCH_CHANNEL, Key, unit_expr
from attribution.inputs._channels import normalise_channels
from attribution.inputs._reading import (
    END_OF_DAY,
    NULL_TOKENS,
    blank_as_null,
    is_blank,
    parse_timestamp,
)
from attribution.inputs._schema import ROW, UTC_DATETIME
from attribution.inputs._separator import SEPARATOR
from attribution.inputs._stage_names import OUR_STAGES, map_stage_names, stage_renames
from attribution.journeys._contacts import normalise_role
from attribution.journeys._conversions import DEFAULT_MILESTONES

__all__ = [
    "CONVERSION_STAGE",
    "DATE_ONLY",
    "DUPLICATE_FIELDS",
    "END_OF_DAY",
    "MILESTONES",
    "SEP",
    "JourneyLike",
    "exact_duplicates",
    "frames",
    "reads_as_missing",
    "scoring_stages",
    "with_units",
]

JourneyLike = Mapping[str, Any]

#: Stage name of the synthetic conversion events of the reference engine (never a CRM stage).
CONVERSION_STAGE = "\x00conversion"
#: Separates the journey from the touch id in the reference engine's internal touch ids, and
#: the request from the conversion id in a batch of requests.
SEP = "\x1f"
#: The milestones a journey may send.
MILESTONES = ("lead", "opportunity")


def _fail(path: str, message: str) -> InputError:
    return InputError(message, table="journeys", column=path)


def _get(obj: Any, key: str, path: str, *, required: bool = True) -> Any:
    if not isinstance(obj, Mapping):
        raise _fail(path, f"must be an object; got {type(obj).__name__}")
    value = obj.get(key)
    if value is None and required:
        raise _fail(f"{path}.{key}", "is required")
    return value


def _text(value: Any, path: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or is_blank(value):
        raise _fail(path, f"must be a non-blank string; got {value!r}")
    return value


def _number(value: Any, path: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, f"must be a number; got {value!r}")
    out = float(value)
    if not (0 <= out < float("inf")):
        raise _fail(path, f"must be a finite, non-negative number; got {value!r}")
    return out


#: A date without a time of day, as ISO 8601 text (``2025-03-01``).
DATE_ONLY: Final = re.compile(r"\s*\d{4}-\d{2}-\d{2}\s*")


class _Times:
    """Collects timestamps (datetime or ISO text) with their field paths; parses in bulk.

    With ``end_of_day`` (conversions), a date without a time of day (``"2025-03-01"`` or a
    :class:`~datetime.date`) is the *end* of that day, 23:59:59.999999 UTC, as ``attribution
    import`` reads a CRM's close dates: a deal closed on a date comes after that day's
    touches. Other timestamps sent as a date are its midnight."""

    def __init__(self, *, end_of_day: bool = False) -> None:
        self.moments: list[datetime | None] = []
        self.texts: list[str | None] = []
        self.paths: list[str] = []
        self.end_of_day = end_of_day

    def add(self, value: Any, path: str, *, required: bool = True) -> None:
        if value is None and not required:
            moment, text = None, None
        elif isinstance(value, datetime):
            moment, text = value, None
        elif isinstance(value, date):
            moment, text = datetime.combine(value, END_OF_DAY if self.end_of_day
                                            else time()), None
        elif isinstance(value, str):
            moment, text = None, value
            if self.end_of_day and DATE_ONLY.fullmatch(value):
                text = f"{value.strip()}T{END_OF_DAY.isoformat()}"
        else:
            raise _fail(path, f"must be an ISO 8601 timestamp; got {value!r}")
        self.moments.append(moment)
        self.texts.append(text)
        self.paths.append(path)

    def series(self, name: str) -> pl.Series:
        # naive datetimes are taken as UTC; aware ones are converted (by Polars)
        moments = pl.Series(name, self.moments, dtype=UTC_DATETIME)
        if not any(t is not None for t in self.texts):
            return moments
        texts = pl.Series(name, self.texts, dtype=pl.String)
        parsed = pl.select(pl.coalesce(pl.lit(moments), parse_timestamp(pl.lit(texts)))
                           .alias(name)).to_series()
        failed = parsed.is_null() & texts.is_not_null()
        if failed.any():
            i = int(failed.arg_true()[0])
            raise _fail(self.paths[i], f"must be an ISO 8601 timestamp; got {self.texts[i]!r}")
        return parsed


def frames(
    journeys: Sequence[JourneyLike],
    *,
    tags: Sequence[int] | None = None,
    key: Key = "channel",
    aliases: Mapping[str, str] | None = None,
    stage_names: Mapping[str, str | Sequence[str]] | None = None,
    conversion_stage: str = "closed_won",
    milestones: Mapping[str, Sequence[str]] | None = None,
    roles: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Touches (one row per touch sent) and conversions (one row per journey), checked.

    Channels are put through the run's own :func:`normalise_channels` (the one spelling,
    then ``aliases``, as :func:`check_channel_aliases` returns them); a channel or stage
    that is a missing value in files (:func:`blank_as_null`: ``N/A``, ``-``, ``null``...)
    is refused, and a conversion's ``stage`` is mapped through ``stage_names`` as a run
    maps its stage values (:func:`scoring_stages`; not sent: ``conversion_stage``, the run's
    conversion stage). ``milestones`` (role -> stage names: the run's, by default
    :data:`DEFAULT_MILESTONES`) say which stages mark the lead, opportunity and closed-won
    milestones, the conversion being an event of its own stage.

    ``_dropped`` (text) is ``"exact_duplicate"`` for a touch equal in every field sent to
    an earlier touch of its journey (so without a ``touch_id``), as a batch run drops
    exact duplicate rows; else null (see :mod:`attribution.engine._scoring_drops`). With
    ``roles``, ``role`` holds each touch's buying-committee role, normalised as a contacts
    table's (``unknown`` when not sent).

    Reading the nested request is one pass over its items; everything after is columnar.
    With ``tags`` (one per journey), conversion ids become ``<tag><SEP><id>``. Under ``key``
    ``campaign`` or ``channel/campaign`` each touch's ``channel`` becomes its unit, from its
    optional ``campaign`` field (a ``campaign`` column is added; :func:`with_units` makes
    the units).
    """
    if isinstance(journeys, Mapping) or not isinstance(journeys, Sequence):
        raise _fail("journeys", "must be a list of journeys")
    conv_ids: list[str] = []
    values: list[float | None] = []
    stages: list[str | None] = []
    conv_times, milestone_times = _Times(end_of_day=True), {m: _Times() for m in MILESTONES}
    t_conv: list[int] = []
    t_ids: list[str] = []
    t_contacts: list[str | None] = []
    t_channels: list[str] = []
    t_campaigns: list[str | None] = []
    t_roles: list[str | None] = []
    t_sent_ids: list[str | None] = []
    t_paths: list[str] = []
    t_times = _Times()
    seen_conv: set[str] = set()
    for j, journey in enumerate(journeys):
        where = f"journeys[{j}]"
        conversion = _get(journey, "conversion", where)
        cid = _text(_get(conversion, "id", f"{where}.conversion"), f"{where}.conversion.id")
        assert cid is not None
        if tags is not None:
            cid = f"{tags[j]}{SEP}{cid}"
        if cid in seen_conv:
            raise _fail(f"{where}.conversion.id",
                        f"conversion id {cid!r} is sent twice; each journey needs its own id")
        seen_conv.add(cid)
        conv_ids.append(cid)
        conv_times.add(_get(conversion, "timestamp", f"{where}.conversion"),
                       f"{where}.conversion.timestamp")
        values.append(_number(conversion.get("value"), f"{where}.conversion.value"))
        stage = _text(conversion.get("stage"), f"{where}.conversion.stage", required=False)
        if stage == CONVERSION_STAGE:
            raise _fail(f"{where}.conversion.stage", f"{stage!r} is not a stage name")
        stages.append(stage)
        reached = journey.get("milestones") or {}
        if not isinstance(reached, Mapping):
            raise _fail(f"{where}.milestones", "must be an object")
        unknown = sorted(set(reached) - set(MILESTONES))
        if unknown:
            raise _fail(f"{where}.milestones.{unknown[0]}",
                        f"is not a milestone; milestones are {', '.join(MILESTONES)}")
        for m in MILESTONES:
            milestone_times[m].add(reached.get(m), f"{where}.milestones.{m}", required=False)
        touches = journey.get("touches")
        if touches is None:
            touches = []
        if isinstance(touches, Mapping) or not isinstance(touches, Sequence):
            raise _fail(f"{where}.touches", "must be a list of touches")
        seen_touch: set[str] = set()
        for k, touch in enumerate(touches):
            tw = f"{where}.touches[{k}]"
            tid = _text(_get(touch, "touch_id", tw, required=False), f"{tw}.touch_id",
                        required=False)
            t_sent_ids.append(tid)
            tid = tid if tid is not None else f"touches[{k}]"
            if tid in seen_touch:
                raise _fail(f"{tw}.touch_id", f"touch_id {tid!r} is sent twice in this journey")
            seen_touch.add(tid)
            t_conv.append(j)
            t_ids.append(tid)
            t_contacts.append(_text(touch.get("contact_id"), f"{tw}.contact_id", required=False))
            channel = _text(_get(touch, "channel", tw), f"{tw}.channel")
            assert channel is not None
            if SEPARATOR in channel:
                raise _fail(f"{tw}.channel", f"contains {SEPARATOR!r}, the separator of path "
                            "tables; rename the channel (a path table would split it in two)")
            t_channels.append(channel)
            t_paths.append(f"{tw}.channel")
            campaign = _text(touch.get("campaign"), f"{tw}.campaign", required=False)
            if campaign is not None and SEPARATOR in campaign and key != "channel":
                raise _fail(f"{tw}.campaign", f"contains {SEPARATOR!r}, the separator of path "
                            "tables; rename the campaign (a path table would split it in two)")
            t_campaigns.append(campaign)
            t_roles.append(_text(touch.get("role"), f"{tw}.role", required=False))
            t_times.add(_get(touch, "timestamp", tw), f"{tw}.timestamp")

    conversions = pl.DataFrame({
        "conversion_id": pl.Series(conv_ids, dtype=pl.String),
        "timestamp": conv_times.series("timestamp"),
        "value": pl.Series(values, dtype=pl.Float64),
        "stage": scoring_stages(stages, stage_names,
                                [f"journeys[{j}].conversion.stage" for j in range(len(stages))],
                                conversion_stage=conversion_stage, milestones=milestones),
        **{f"{m}_sent": milestone_times[m].series(f"{m}_sent") for m in MILESTONES},
    })
    _milestones_reached(conversions, milestone_times)
    index = pl.Series(t_conv, dtype=pl.UInt32)
    times = t_times.series("timestamp")
    late = times > conversions.get_column("timestamp").gather(index)
    if late.any():
        i = int(late.arg_true()[0])
        raise _fail(f"{t_times.paths[i]}",
                    "touch is after its conversion; send only the touches to credit, which "
                    "happen at or before the conversion")
    channels = pl.Series("channel", t_channels, dtype=pl.String)
    duplicate = exact_duplicates(t_conv, times.to_physical(), {
        "touch_id": t_sent_ids, "channel": t_channels, "contact_id": t_contacts,
        "campaign": t_campaigns, "role": t_roles})  # fmt: skip
    _refuse_placeholders(channels, t_paths, "a touch needs its channel: send the channel's "
                         "name, or leave the touch out")
    # the run's own channel names: its spelling and its channel_aliases (LinkedIn ->
    # paid_social when the run renamed it), by the function the run used
    channels = normalise_channels(channels.to_frame(), aliases)[0].get_column("channel")
    touches = pl.DataFrame({
        "conversion_id": conversions.get_column("conversion_id").gather(index),
        "touch_id": pl.Series(t_ids, dtype=pl.String),
        "contact_id": pl.Series(t_contacts, dtype=pl.String),
        "account_id": pl.Series([None] * len(t_ids), dtype=pl.String),
        "channel": channels,
        "timestamp": times,
        ROW: pl.Series(range(len(t_ids)), dtype=pl.Int64),
        "_dropped": pl.select(pl.when(pl.lit(duplicate)).then(pl.lit("exact_duplicate"))
                              .otherwise(None).alias("_dropped")).to_series(),
    })
    if roles:
        touches = touches.with_columns(
            normalise_role(pl.lit(pl.Series("role", t_roles, dtype=pl.String))).alias("role"))
    if key != "channel":  # the scorer's engines make the units (see with_units)
        touches = touches.with_columns(pl.Series("campaign", t_campaigns, dtype=pl.String))
    return touches, _with_milestones(conversions, milestones)


#: The fields of a sent touch that an exact duplicate repeats (with its journey and time)
DUPLICATE_FIELDS: Final = ("touch_id", "channel", "contact_id", "campaign", "role")
#: Up to this many touches :func:`exact_duplicates` compares them in a Python set (a Polars
#: query costs ~0.5 ms whatever its size: the small engine's whole budget); above, in Polars
#: (the set's tuples cost ~0.08 s more CPU per 100k touches than the query, measured)
_IN_PYTHON_UP_TO: Final = 4_096


def exact_duplicates(
    journeys: Sequence[int],
    moments: Sequence[int] | pl.Series,
    fields: Mapping[str, Sequence[str | None]],
) -> pl.Series:
    """The scoring rule of an exact duplicate, for both engines (this module's and
    :mod:`attribution.engine._scoring_small`): for each touch sent (its journey, its time
    read, in microseconds, and ``fields``: each of :data:`DUPLICATE_FIELDS` as sent, None
    when not), whether it is equal in all of them to an earlier touch of its journey, as a
    batch run drops an exact duplicate row; so only a touch without a ``touch_id`` can be
    one (a ``touch_id`` sent twice is refused). Booleans, one per touch."""
    columns = [journeys, moments, *(fields[f] for f in DUPLICATE_FIELDS)]
    if len(journeys) <= _IN_PYTHON_UP_TO:
        seen: set[tuple[object, ...]] = set()
        add = seen.add
        repeats = [key in seen or bool(add(key)) for key in zip(*columns, strict=True)]
        return pl.Series("exact_duplicate", repeats, dtype=pl.Boolean)
    frame = pl.DataFrame([pl.Series(f"k{i}", c, strict=False) for i, c in enumerate(columns)])
    return frame.select(~pl.struct(pl.all()).is_first_distinct().alias("exact_duplicate")
                        ).to_series()


def reads_as_missing(values: pl.Series) -> pl.Series:
    """Whether each value is one that files read as missing (:func:`blank_as_null`: blank,
    or a null token such as ``N/A``, ``-``, ``null``, ``#N/A``); a null is not (it is no
    value sent)."""
    return values.is_not_null() & pl.select(blank_as_null(pl.lit(values))).to_series().is_null()


def _refuse_placeholders(values: pl.Series, paths: Sequence[str], what: str) -> None:
    """A value that files read as missing (:func:`reads_as_missing`) is refused as a
    missing value, naming its field: a batch run reads it as missing too, never as a
    name."""
    missing = reads_as_missing(values)
    if missing.any():
        i = int(missing.arg_true()[0])
        raise _fail(paths[i], f"{values[i]!r} stands for a missing value (as in files: "
                    f"{', '.join(repr(t) for t in NULL_TOKENS)}); {what}")


def known_stages(stage_names: Mapping[str, str | Sequence[str]] | None,
                 conversion_stage: str = "closed_won",
                 milestones: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """The stages scoring knows under a run's names: the run's conversion stage, its
    milestones' stages, the keys of its ``stage_names`` and the default stages (what
    ``attribution run`` maps its stage values to)."""
    marks = [n for names in (milestones or DEFAULT_MILESTONES).values() for n in names]
    return list(dict.fromkeys([conversion_stage, *marks, *(stage_names or {}), *OUR_STAGES]))


def scoring_stages(
    stages: Sequence[str | None],
    stage_names: Mapping[str, str | Sequence[str]] | None,
    paths: Sequence[str],
    *,
    conversion_stage: str = "closed_won",
    milestones: Mapping[str, Sequence[str]] | None = None,
) -> pl.Series:
    """Each conversion's ``stage`` as the run's names: a stage sent is mapped through the
    run's ``stage_names`` and folded to a name the run knows (:func:`map_stage_names`, as a
    run maps its stage values) and must then be one of them (:func:`known_stages`), else an
    :class:`InputError` naming its field, the stages known and a did-you-mean; a stage not
    sent is the run's ``conversion_stage`` (``closed_won`` by default). Reading an unknown
    stage (a CRM's ``Closed Won``) as "not won" would change full-path credit in silence."""
    sent = pl.Series("stage", list(stages), dtype=pl.String)
    _refuse_placeholders(sent, paths, f"send the deal's stage, or leave stage out "
                         f"({conversion_stage})")
    known = known_stages(stage_names, conversion_stage, milestones)
    mapped = map_stage_names(sent.to_frame(), stage_names, known)[0].get_column("stage")
    unknown = mapped.is_not_null() & ~mapped.is_in(known)
    if unknown.any():
        i = int(unknown.arg_true()[0])
        name = str(stages[i])
        names = list(dict.fromkeys([*known, *stage_renames(stage_names)]))
        how = ("" if stage_names else "; a published snapshot's run maps a CRM's own names "
               "in its stage_names, e.g. {\"closed_won\": \"Closed Won\"}")
        raise _fail(paths[i], f"{name!r} is not a stage scoring knows; "
                    f"{did_you_mean(name, names)} (a won deal is closed_won; the default is "
                    f"{conversion_stage}{how})")
    return mapped.fill_null(conversion_stage)


def _milestones_reached(conversions: pl.DataFrame, sent: Mapping[str, _Times]) -> None:
    """A milestone sent after its conversion is refused, as a touch after it is: the deal
    cannot have reached it yet, so the CRM sent a wrong field or a later record (reading it
    as "not reached" would change the credit of U/W-shaped and full-path in silence)."""
    for role in MILESTONES:
        late = conversions.get_column(f"{role}_sent") > conversions.get_column("timestamp")
        if late.any():
            j = int(late.arg_true()[0])
            at = conversions.get_column(f"{role}_sent")[j].isoformat()
            raise _fail(sent[role].paths[j],
                        f"milestone is after its conversion ({at}, the conversion "
                        f"{conversions.get_column('timestamp')[j].isoformat()}); "
                        "send the milestone times reached at or before the conversion, or "
                        "leave the milestone out")


def with_units(touches: pl.DataFrame, key: Key) -> pl.DataFrame:
    """The request's touches (of :func:`frames`) with ``channel`` the unit credited under
    ``key``, as a run's journeys stage makes it."""
    if key == "channel":
        return touches
    return touches.with_columns(
        pl.col("channel").alias(TOUCH_CHANNEL),
        unit_expr(key, pl.col("channel"), pl.col("campaign")).alias("channel"),
    )


def _with_milestones(conversions: pl.DataFrame,
                     milestones: Mapping[str, Sequence[str]] | None) -> pl.DataFrame:
    """Milestone times as the journey builder defines them, for one conversion per entity:
    the first event of the milestone's stages (the conversion event is one of its own stage),
    kept only when reached by the conversion (at or before it)."""
    reached = []
    for role, names in (milestones or DEFAULT_MILESTONES).items():
        own = pl.when(pl.col("stage").is_in(list(names))).then(pl.col("timestamp"))
        sent = [pl.col(f"{role}_sent")] if role in MILESTONES else []
        first = pl.min_horizontal(*sent, own)
        reached.append(
            pl.when(first <= pl.col("timestamp")).then(first).otherwise(None).alias(f"{role}_at")
        )
    return conversions.with_columns(pl.col("value").fill_null(0.0), *reached)
