"""The scoring body read without pydantic when it is in its plain form (the CRM's requests).

:class:`~service.api.schemas.AttributeRequest` validates a body field by field, and a
timestamp costs it ~4 µs (a Python validator, then its parser): most of the ~0.4 ms that a
20-touch body took. :func:`read_plain` checks the same rules in one pass over the decoded
JSON (``orjson``) and reads timestamps with :meth:`datetime.fromisoformat`, for bodies
whose every value is in the plain form that both read alike:

- ids, channels, names and stages: ASCII, printable, not blank, within the schema's
  lengths; the snapshot id as its pattern says;
- timestamps: ``2025-01-31``, ``2025-01-31T09:00[:00[.123456]][Z|+01:00|+01]`` (``T`` or
  a space; ``+01``, PostgreSQL's offset of whole hours, read as ``+01:00`` as the schema
  reads it); a value: an int or a float, finite, 0 to 1e15;
- no key the schema does not have.

Anything else returns None, and the body goes through pydantic as before: it reads the
rest (non-ASCII names, other timestamp forms) and words every error, so answers and error
messages are the schema's own. A test holds the two readers to the same result.

The everyday body takes a shorter way still (:func:`_read_typed`): when the raw bytes are
ASCII without a backslash, DEL or a blank string (``""``, ``"  "``), every string in it is
plain text as sent, and a ``msgspec`` typed decoder checks the rest in C (keys, types,
lengths, ranges); only the timestamps are then read here, all against the pattern in one
match. Anything it does not take goes to the walk.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Annotated, Any, Final

import msgspec
import orjson

from attribution.inputs import END_OF_DAY, MAX_AMOUNT, MAX_ID_CHARS, MAX_NAME_CHARS

from .schemas import AttributeRequest

_TOP: Final = frozenset({"models", "journeys", "snapshot"})
_JOURNEY: Final = frozenset({"conversion", "touches", "milestones"})
_CONVERSION: Final = frozenset({"id", "timestamp", "value", "stage"})
_TOUCH: Final = frozenset({"touch_id", "timestamp", "channel", "contact_id", "role",
                           "campaign"})
_MILESTONES: Final = frozenset({"lead", "opportunity"})
_MODEL: Final = frozenset({"name", "params"})
_ISO: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}(?::\d{2})?)?)?"
)
_SNAPSHOT: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_=.-]*")
_MAX_MODELS: Final = 32
_MAX_AMOUNT: Final = MAX_AMOUNT  # the library's limits, one set for files and requests


class _NotPlain(Exception):
    pass


def _text(value: Any, longest: int) -> str:
    """``value`` if it is plain text: ASCII printable (no control character), not blank."""
    if (type(value) is not str or not 0 < len(value) <= longest or not value.isascii()
            or not value.isprintable() or not value.strip(" ")):
        raise _NotPlain
    return value


def _optional_text(value: Any, longest: int) -> str | None:
    return None if value is None else _text(value, longest)


def _moment(value: Any) -> datetime:
    if type(value) is not str or _ISO.fullmatch(value) is None:
        raise _NotPlain
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _NotPlain from None
    if type(moment) is date:  # pragma: no cover - fromisoformat of datetime gives datetimes
        raise _NotPlain
    return moment


def _end_of_day(moment: datetime) -> datetime:
    """A conversion sent as a date alone (``_ISO``'s ten characters) is the end of that day,
    as the schema and the library read it."""
    return datetime.combine(moment.date(), END_OF_DAY, tzinfo=moment.tzinfo)


def _keys(value: Any, allowed: frozenset[str]) -> dict[str, Any]:
    if type(value) is not dict or not allowed.issuperset(value):
        raise _NotPlain
    return value


def _model(value: Any) -> Any:
    if type(value) is str:
        return _text(value, 128)
    model = _keys(value, _MODEL)
    _text(model.get("name"), 128)
    if "params" in model and type(model["params"]) is not dict:
        raise _NotPlain
    return model


def _journey(value: Any) -> dict[str, Any]:
    journey = _keys(value, _JOURNEY)
    conversion = _keys(journey.get("conversion"), _CONVERSION)
    _text(conversion.get("id"), MAX_ID_CHARS)
    sent = conversion.get("timestamp")
    moment = _moment(sent)  # text of the _ISO form, or _NotPlain
    conversion["timestamp"] = _end_of_day(moment) if len(str(sent)) == 10 else moment
    if "value" in conversion and conversion["value"] is not None:
        amount = conversion["value"]
        if type(amount) is not float and type(amount) is not int:
            raise _NotPlain
        if not (math.isfinite(amount) and 0 <= amount <= _MAX_AMOUNT):
            raise _NotPlain
        conversion["value"] = float(amount)
    _optional_text(conversion.get("stage"), 64)  # null: omitted, as the schema reads it
    touches = journey.get("touches")
    if type(touches) is not list:
        raise _NotPlain
    for touch in touches:
        _keys(touch, _TOUCH)
        _optional_text(touch.get("touch_id"), MAX_ID_CHARS)
        touch["timestamp"] = _moment(touch.get("timestamp"))
        _text(touch.get("channel"), MAX_NAME_CHARS)
        _optional_text(touch.get("contact_id"), MAX_ID_CHARS)
        _optional_text(touch.get("role"), MAX_NAME_CHARS)
        _optional_text(touch.get("campaign"), MAX_NAME_CHARS)
    milestones = journey.get("milestones")
    if milestones is not None:
        _keys(milestones, _MILESTONES)
        for name, moment in milestones.items():
            if moment is not None:
                milestones[name] = _moment(moment)
    return journey


# --- the typed decoder: what the plain form allows, checked in C ------------------------------

_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]
_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_CHARS)]
_Stage = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
_Amount = Annotated[float, msgspec.Meta(ge=0, le=_MAX_AMOUNT)]


class _Conversion(msgspec.Struct, forbid_unknown_fields=True):
    id: _Id
    timestamp: str
    value: _Amount | None = None
    stage: _Stage | None = None  # null: omitted


class _Touch(msgspec.Struct, forbid_unknown_fields=True):
    timestamp: str
    channel: _Name
    touch_id: _Id | None = None
    contact_id: _Id | None = None
    role: _Name | None = None
    campaign: _Name | None = None


class _Milestones(msgspec.Struct, forbid_unknown_fields=True):
    lead: str | None = None
    opportunity: str | None = None


class _Journey(msgspec.Struct, forbid_unknown_fields=True):
    conversion: _Conversion
    touches: list[_Touch]
    milestones: _Milestones | None = None


class _Model(msgspec.Struct, forbid_unknown_fields=True):
    name: _Name
    params: dict[str, Any] = msgspec.field(default_factory=dict)


class _Body(msgspec.Struct, forbid_unknown_fields=True):
    models: Annotated[list[_Name | _Model], msgspec.Meta(min_length=1, max_length=_MAX_MODELS)]
    journeys: Annotated[list[_Journey], msgspec.Meta(min_length=1)]
    snapshot: Annotated[str, msgspec.Meta(max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_=.-]*\Z")
                        ] | None = None


_TYPED: Final = msgspec.json.Decoder(_Body)
_STAMPS: Final = re.compile(f"{_ISO.pattern}(?:\x00{_ISO.pattern})*")


def _read_typed(raw: bytes) -> AttributeRequest | None:
    """The request, for a body in the plain form whose every string is as sent (see the
    module); else None."""
    # without a backslash no string holds a quote: with the spaces taken out, two quotes in
    # a row are an empty or blank string (or broken JSON)
    if (not raw.isascii() or b"\\" in raw or b"\x7f" in raw
            or b'""' in raw.replace(b" ", b"")):
        return None
    try:
        _TYPED.decode(raw)
        data = orjson.loads(raw)
    except (msgspec.DecodeError, orjson.JSONDecodeError):
        return None
    spots: list[tuple[dict[str, Any], str]] = []  # where each timestamp is
    for journey in data["journeys"]:
        conversion = journey["conversion"]
        if type(conversion.get("value")) is int:
            conversion["value"] = float(conversion["value"])
        spots.append((conversion, "timestamp"))
        spots += [(touch, "timestamp") for touch in journey["touches"]]
        milestones = journey.get("milestones")
        if milestones:
            spots += [(milestones, name) for name, at in milestones.items() if at is not None]
    texts = [holder[key] for holder, key in spots]
    if _STAMPS.fullmatch("\x00".join(texts)) is None:
        return None
    try:
        moments = list(map(datetime.fromisoformat, texts))
    except ValueError:
        return None
    dates = [j["conversion"] for j in data["journeys"] if len(j["conversion"]["timestamp"]) == 10]
    for (holder, key), moment in zip(spots, moments, strict=True):
        holder[key] = moment
    for conversion in dates:  # a date alone: the end of that day
        conversion["timestamp"] = _end_of_day(conversion["timestamp"])
    return AttributeRequest.model_construct(models=data["models"], journeys=data["journeys"],
                                            snapshot=data.get("snapshot"))


def read_plain(raw: bytes) -> AttributeRequest | None:
    """The request, when the body is JSON in the plain form (see the module); else None."""
    typed = _read_typed(raw)
    return typed if typed is not None else _read_walk(raw)


def _read_walk(raw: bytes) -> AttributeRequest | None:
    """:func:`read_plain` by a walk over the decoded JSON."""
    try:
        data = orjson.loads(raw)
        body = _keys(data, _TOP)
        models = body.get("models")
        journeys = body.get("journeys")
        snapshot = body.get("snapshot")
        if (type(models) is not list or not 0 < len(models) <= _MAX_MODELS
                or type(journeys) is not list or not journeys):
            raise _NotPlain
        if snapshot is not None and (type(snapshot) is not str or len(snapshot) > 128
                                     or _SNAPSHOT.fullmatch(snapshot) is None):
            raise _NotPlain
        models = [_model(m) for m in models]
        journeys = [_journey(j) for j in journeys]
    except (_NotPlain, orjson.JSONDecodeError):
        return None
    return AttributeRequest.model_construct(models=models, journeys=journeys, snapshot=snapshot)
