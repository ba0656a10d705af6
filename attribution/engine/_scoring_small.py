"""The small-request scoring engine: a scoring request's journeys in NumPy arrays, no Polars
query per step.

A request the CRM sends (one deal of ~20 touches) costs the Polars engine of
:mod:`attribution.engine._scoring` nearly nothing but per-query overhead: ~30 small queries,
a few milliseconds. Below :data:`SMALL_TOUCHES` touches this engine gives the same numbers
(a property test holds the two to 1e-12, every registered model, milestones and ties
included) in a fraction of that:

- the request is read in one pass; timestamps are Python ``datetime``\\ s (what the HTTP
  service's validated body holds) or ISO 8601 text in its plain forms
  (``2025-01-31``, ``2025-01-31T09:00[:00[.123456]][Z|+01:00]``, ``T`` or a space), read
  with :meth:`datetime.fromisoformat`; channel spellings are cached per distinct name;
- touches are ordered once (``np.lexsort``: conversion id, time, touch id, position sent),
  and the role flags (first, last, lead, opportunity, closed won, last non-direct) come from
  that order as in :func:`attribution.journeys._conversions.with_roles`;
- every rule-based model's role part is one matrix product (touches x roles @ roles x
  models), then the ``others`` share, channel multipliers, time decay and the per-journey
  normalisation of :func:`attribution.models._rules.credit_stages`, as array operations
  over all models at once;
- data-driven models read the fitted model's tables: per-channel weights (Markov removal
  effects, Shapley values; the split of
  :func:`attribution.models._allocation.allocate_by_channel_weights`) and, for
  counterfactual, the fitted position credits of each converting path, looked up once per
  journey in a dictionary built on first use.

Anything else (an unusual timestamp form, a field the checks would refuse, a model class
this engine does not know) raises :class:`NeedsGeneralEngine`, and the scorer takes the
general path, which gives the answer or the error with its field path. So this engine never
accepts what the general one refuses. Its Python work is bounded by :data:`SMALL_TOUCHES`
(the per-journey dictionary lookups of counterfactual included); larger requests keep the
vectorised Polars engine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import repeat
from typing import Any, Final

import numpy as np
import orjson
import polars as pl

from attribution.engine._journey_request import CONVERSION_STAGE, MILESTONES
from attribution.engine._result import CHANNEL_CREDIT_SCHEMA, TOUCH_CREDIT_SCHEMA
from attribution.exceptions import ModelParameterError
from attribution.inputs._channels import channel_spelling
from attribution.inputs._separator import SEPARATOR
from attribution.journeys._conversions import DEFAULT_MILESTONES
from attribution.models._allocation import _check_weights, _relative_weights
from attribution.models._counterfactual import CounterfactualModel
from attribution.models._estimator import ChannelWeightModel, PathModel
from attribution.models._registry import ModelRun
from attribution.models._rules import ROLES, RoleWeights

__all__ = ["SMALL_TOUCHES", "NeedsGeneralEngine", "SmallEngine"]

#: Requests of at most this many touches (all journeys together) take this engine.
SMALL_TOUCHES: Final = 2_000

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH: Final = datetime(1970, 1, 1)
_US: Final = timedelta(microseconds=1)
#: The ISO 8601 forms read here; anything else goes to the general engine's parser.
_ISO: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?)?"
)
_SPELLING_CACHE_SIZE: Final = 4_096
_spellings: dict[str, str] = {}


class NeedsGeneralEngine(Exception):  # noqa: N818 - a signal, not an error
    """The request needs the general engine (to score it, or to say what is wrong)."""


def _micros(value: Any) -> int:
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
    micros: int = (moment - _EPOCH) // _US
    return micros


def _mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def _text(value: Any) -> str:
    if type(value) is not str or not value:
        raise NeedsGeneralEngine
    return value


def _spell(channels: list[str]) -> list[str]:
    """:func:`channel_spelling` of each name; names not seen before in one Polars call."""
    missing = [c for c in set(channels) if c not in _spellings]
    if missing:
        if len(_spellings) + len(missing) > _SPELLING_CACHE_SIZE:
            _spellings.clear()
        spelled = pl.select(channel_spelling(pl.lit(pl.Series(missing, dtype=pl.String))))
        _spellings.update(zip(missing, spelled.to_series().to_list(), strict=True))
    return [_spellings[c] for c in channels]


class _Request:
    """A request's journeys as arrays, touches in (conversion id, time, touch id, position
    sent) order: what :func:`with_roles` gives the Polars engine."""

    def __init__(self, journeys: Sequence[Any]) -> None:
        if isinstance(journeys, Mapping) or not isinstance(journeys, Sequence):
            raise NeedsGeneralEngine
        conv_ids: list[str] = []
        conv_times: list[int] = []
        values: list[float] = []
        reached: dict[str, list[int | None]] = {role: [] for role in DEFAULT_MILESTONES}
        t_conv: list[int] = []
        t_ids: list[str] = []
        t_contacts: list[str | None] = []
        t_channels: list[str] = []
        t_times: list[int] = []
        for j, journey in enumerate(journeys):
            if not _mapping(journey):
                raise NeedsGeneralEngine
            conversion = journey.get("conversion")
            if not _mapping(conversion):
                raise NeedsGeneralEngine
            conv_ids.append(_text(conversion.get("id")))
            at = _micros(conversion.get("timestamp"))
            conv_times.append(at)
            value = conversion.get("value")
            if value is None:
                values.append(0.0)
            elif type(value) is float or type(value) is int:
                try:
                    number = float(value)
                except OverflowError:
                    raise NeedsGeneralEngine from None
                if not 0 <= number < float("inf"):
                    raise NeedsGeneralEngine
                values.append(number)
            else:
                raise NeedsGeneralEngine
            stage = conversion.get("stage")
            if stage is None:
                stage = "closed_won"
            elif _text(stage) == CONVERSION_STAGE:
                raise NeedsGeneralEngine
            milestones = journey.get("milestones") or {}
            if not _mapping(milestones) or not set(milestones) <= set(MILESTONES):
                raise NeedsGeneralEngine
            for role, names in DEFAULT_MILESTONES.items():
                # the first of the milestone's events, the conversion one of its own stage,
                # kept when reached at or before the conversion (_with_milestones)
                sent = milestones.get(role) if role in MILESTONES else None
                times = [_micros(sent)] if sent is not None else []
                if stage in names:
                    times.append(at)
                first = min(times) if times else None
                reached[role].append(first if first is not None and first <= at else None)
            touches = journey.get("touches")
            if touches is None:
                continue
            if type(touches) is not list and (isinstance(touches, Mapping)
                                              or not isinstance(touches, Sequence)):
                raise NeedsGeneralEngine
            seen: set[str] = set()
            for k, touch in enumerate(touches):
                if not _mapping(touch) or len(t_ids) >= SMALL_TOUCHES:
                    raise NeedsGeneralEngine
                tid = touch.get("touch_id")
                tid = f"touches[{k}]" if tid is None else _text(tid)
                if tid in seen:
                    raise NeedsGeneralEngine
                seen.add(tid)
                contact = touch.get("contact_id")
                channel = _text(touch.get("channel"))
                if SEPARATOR in channel:
                    raise NeedsGeneralEngine
                moment = _micros(touch.get("timestamp"))
                if moment > at:
                    raise NeedsGeneralEngine
                t_conv.append(j)
                t_ids.append(tid)
                t_contacts.append(None if contact is None else _text(contact))
                t_channels.append(channel)
                t_times.append(moment)
        if len(set(conv_ids)) < len(conv_ids):
            raise NeedsGeneralEngine
        self.conv_ids = conv_ids
        self.conv_values = np.asarray(values, dtype=np.float64)
        n = len(t_ids)
        # journeys ranked by id (as Polars sorts strings: code point order, that of UTF-8)
        by_id = sorted(range(len(conv_ids)), key=conv_ids.__getitem__)
        rank = np.empty(len(conv_ids), dtype=np.int64)
        rank[by_id] = np.arange(len(conv_ids))
        conv = np.asarray(t_conv, dtype=np.int64)
        t_array = np.asarray(t_times, dtype=np.int64)
        distinct = sorted(set(t_ids))
        id_rank = dict(zip(distinct, range(len(distinct)), strict=True))
        tid_rank = np.fromiter((id_rank[t] for t in t_ids), dtype=np.int64, count=n)
        order = np.lexsort((np.arange(n), tid_rank, t_array, rank[conv]))
        self.n = n
        self.conv = conv[order]            # the journey of each touch
        self.times: np.ndarray = t_array[order]
        self.touch_ids = [t_ids[i] for i in order]
        self.contacts = [t_contacts[i] for i in order]
        self.channels = _spell([t_channels[i] for i in order])
        # journeys in id order, each one's touches contiguous
        self.counts = np.bincount(self.conv, minlength=len(conv_ids))
        starts = np.zeros(n, dtype=bool)
        ends = np.zeros(n, dtype=bool)
        if n:
            starts[0] = True
            starts[1:] = self.conv[1:] != self.conv[:-1]
            ends[:-1] = starts[1:]
            ends[-1] = True
        self.start_index = np.flatnonzero(starts)
        self.sizes = np.diff(np.append(self.start_index, n))  # touches per journey with some
        self.segment = np.cumsum(starts) - 1   # 0.. per journey with touches, in id order
        self.position = np.arange(n) - self.start_index[self.segment] if n else np.zeros(0, int)
        self.n_touches = self.counts[self.conv]
        flags = {"first": starts, "last": ends}
        for role in ("lead", "opportunity", "closed_won"):
            at_role = np.asarray([-1 if t is None else t for t in reached[role]], dtype=np.int64)
            has = np.asarray([t is not None for t in reached[role]], dtype=bool)
            before = has[self.conv] & (self.times <= at_role[self.conv])
            after_next = np.ones(n, dtype=bool)
            after_next[:-1] = ~before[1:]
            flags[role] = before & (ends | after_next)
        self.flags = flags

    def segment_sum(self, values: np.ndarray) -> np.ndarray:
        """Per journey (with touches, id order) sums of ``values`` (touches x k)."""
        return np.add.reduceat(values, self.start_index, axis=0)


class SmallEngine:
    """Every model of a fitted :class:`~attribution.engine._scoring.JourneyScorer` as array
    operations; built once per scorer.

    Raises :class:`NeedsGeneralEngine` at construction for a data-driven model class it does
    not know.
    """

    def __init__(self, runs: Sequence[ModelRun], estimators: Mapping[str, PathModel]) -> None:
        self.labels = [r.label for r in runs]
        rules = [(r.label, r.build()) for r in runs if r.spec.family == "rule"]
        self._rules: list[tuple[str, RoleWeights]] = rules
        # roles x models, "last_non_direct" once per set of direct channels
        self._direct_sets = sorted({w.direct_channels for _, w in rules
                                    if w.last_non_direct > 0})
        role_rows = [r for r in ROLES if r != "last_non_direct"]
        weights = np.zeros((len(role_rows) + len(self._direct_sets), len(rules)))
        for m, (_, w) in enumerate(rules):
            for i, role in enumerate(role_rows):
                weights[i, m] = getattr(w, role)
            if w.last_non_direct > 0:
                weights[len(role_rows) + self._direct_sets.index(w.direct_channels), m] = (
                    w.last_non_direct)
        self._role_rows = role_rows
        self._weights = weights
        self._holds = (weights > 0).astype(np.float64)
        self._others = np.asarray([w.others for _, w in rules], dtype=np.float64)
        self._no_roles = ~(weights > 0).any(axis=0)
        self._data: list[tuple[str, PathModel]] = []
        for label, estimator in estimators.items():
            if not isinstance(estimator, ChannelWeightModel | CounterfactualModel):
                raise NeedsGeneralEngine
            self._data.append((label, estimator))
        self._paths: dict[str, dict[tuple[Any, ...], np.ndarray]] = {}

    # --- rule-based models ------------------------------------------------------------------

    def _rule_credit(self, req: _Request) -> np.ndarray:
        """Touches x rule models."""
        n, models = req.n, len(self._rules)
        flags = [req.flags[r] for r in self._role_rows]
        for direct in self._direct_sets:
            non_direct = np.fromiter((c not in direct for c in req.channels), dtype=bool,
                                     count=n)
            # the journey's last non-direct position; none: its last touch
            last = np.maximum.reduceat(np.where(non_direct, req.position, -1), req.start_index)
            last = np.where(last < 0, req.sizes - 1, last)
            flags.append(req.position == last[req.segment])
        held_roles = np.stack(flags, axis=1).astype(np.float64)
        raw = held_roles @ self._weights
        held = (held_roles @ self._holds) > 0
        if (self._others > 0).any():
            free = ~held
            n_free = req.segment_sum(free.astype(np.float64))[req.segment]
            share = np.divide(self._others, n_free, out=np.zeros_like(raw), where=free)
            every = self._others / req.n_touches[:, None].astype(np.float64)
            raw = raw + np.where(self._no_roles, every, share) * (self._others > 0)
        for m, (_, w) in enumerate(self._rules):
            if w.channel_multipliers:
                table = dict(w.channel_multipliers)
                raw[:, m] *= np.fromiter((table.get(c, 1.0) for c in req.channels),
                                         dtype=np.float64, count=n)
            if w.half_life is not None:
                positive = raw[:, m] > 0
                t_ref = np.maximum.reduceat(np.where(positive, req.times, np.iinfo(np.int64).min),
                                            req.start_index)
                age = np.clip((t_ref[req.segment] - req.times).astype(np.float64), 0.0, None)
                factor = 2.0 ** (-age / (w.half_life.total_seconds() * 1e6))
                raw[:, m] = np.where(t_ref[req.segment] > np.iinfo(np.int64).min,
                                     raw[:, m] * factor, 0.0)
        total = req.segment_sum(raw)[req.segment] if n else np.zeros((0, models))
        # no positive weight in the journey: its last touch takes the credit
        credit = np.repeat(req.flags["last"].astype(np.float64)[:, None], models, axis=1)
        return np.divide(raw, total, out=credit, where=total > 0)

    # --- data-driven models -----------------------------------------------------------------

    def _channel_groups(self, req: _Request) -> tuple[np.ndarray, np.ndarray]:
        """Per touch, its (journey, channel) group and the group's touch count."""
        names = sorted(set(req.channels))
        code = dict(zip(names, range(len(names)), strict=True))
        codes = np.fromiter((code[c] for c in req.channels), dtype=np.int64, count=req.n)
        _, group, members = np.unique(req.segment * len(names) + codes, return_inverse=True,
                                      return_counts=True)
        return group, members[group].astype(np.float64)

    def _by_channel_weights(self, req: _Request, model: ChannelWeightModel) -> np.ndarray:
        keys, values = _relative_weights(*_check_weights(model.channel_weights_))
        table = dict(zip(keys, values, strict=True))
        w = np.fromiter((table.get(c, 0.0) for c in req.channels), dtype=np.float64,
                        count=req.n)
        _, n = self._channel_groups(req)
        total = req.segment_sum(w / n)[req.segment]
        n_channels = np.round(req.segment_sum(1.0 / n))[req.segment]
        # all weights 0: an equal split over the journey's channels
        out: np.ndarray = np.divide(w, total, out=1.0 / n_channels, where=total > 0) / n
        return out

    def _path_table(self, label: str, model: CounterfactualModel) -> dict[tuple[Any, ...],
                                                                           np.ndarray]:
        """Transformed path key -> the fitted credit of its positions (converting paths)."""
        table = self._paths.get(label)
        if table is None:
            probabilities = model.path_probabilities_.with_row_index("path_id")
            credit = model.path_credit_.sort("path_id", "position").group_by(
                "path_id", maintain_order=True).agg("credit")
            rows = probabilities.join(credit, on="path_id", how="inner")
            paths = rows.get_column("path").to_list()
            shares = rows.get_column("credit").to_list()
            if model.transform == "frequency":
                counts = rows.get_column("counts").to_list()
                keys = [(tuple(p), tuple(c)) for p, c in zip(paths, counts, strict=True)]
            else:
                keys = [tuple(p) for p in paths]
            table = {k: np.asarray(s, dtype=np.float64)
                     for k, s in zip(keys, shares, strict=True)}
            self._paths[label] = table
        return table

    def _counterfactual(self, req: _Request, label: str, model: CounterfactualModel
                        ) -> np.ndarray:
        table = self._path_table(label, model)
        out = np.empty(req.n, dtype=np.float64)
        transform = model.transform
        for start, count in zip(req.start_index.tolist(), req.sizes.tolist(), strict=True):
            channels = req.channels[start:start + count]
            if transform == "unique":
                tpos = list(range(count))
                path: list[str] = channels
            elif transform == "exposure":
                tpos, path = [], []
                for channel in channels:
                    if not path or path[-1] != channel:
                        path.append(channel)
                    tpos.append(len(path) - 1)
            else:  # first, frequency: a channel's touches share its first occurrence
                first: dict[str, int] = {}
                for channel in channels:
                    first.setdefault(channel, len(first))
                tpos = [first[c] for c in channels]
                path = list(first)
            key: tuple[Any, ...] = tuple(path)
            if transform == "frequency":
                key = (key, tuple(tpos.count(i) for i in range(len(path))))
            positions = np.asarray(tpos, dtype=np.int64)
            members = np.bincount(positions)[positions].astype(np.float64)
            shares = table.get(key)
            if shares is None:  # never seen converting: the last position takes it all
                credit = (positions == len(path) - 1).astype(np.float64)
            else:
                credit = shares[positions]
            out[start:start + count] = credit / members
        return out

    # --- the result ---------------------------------------------------------------------------

    def score(self, journeys: Sequence[Any]) -> SmallResult:
        """Every model's credit of the journeys' touches.

        Raises
        ------
        NeedsGeneralEngine
            A request this engine does not take (see the module docstring).
        ModelParameterError
            A model whose parameters make credit non-finite or negative.
        """
        req = _Request(journeys)
        parts: dict[str, np.ndarray] = {}
        if self._rules and req.n:
            credit = self._rule_credit(req)
            for m, (label, _) in enumerate(self._rules):
                parts[label] = credit[:, m]
        for label, estimator in self._data:
            if not req.n:
                break
            if isinstance(estimator, CounterfactualModel):
                parts[label] = self._counterfactual(req, label, estimator)
            else:
                assert isinstance(estimator, ChannelWeightModel)
                parts[label] = self._by_channel_weights(req, estimator)
        credit = (np.concatenate([parts[label] for label in self.labels]) if req.n
                  else np.zeros(0))
        bad = ~np.isfinite(credit) | (credit < 0)
        if bad.any():
            rows = np.flatnonzero(bad) // max(req.n, 1)
            names = ", ".join(dict.fromkeys(self.labels[i] for i in rows.tolist()))
            raise ModelParameterError(
                f"{names}: the parameters give non-finite or negative credit; use finite "
                "weights and multipliers")
        return SmallResult(req, self.labels, credit)


def _iso(micros: int) -> str:
    """A UTC timestamp as Polars writes it in JSON (``...T09:00:00.500+00:00``: whole
    milliseconds in three digits)."""
    moment = _NAIVE_EPOCH + timedelta(microseconds=micros)  # naive: formats faster
    if micros % 1000 == 0 and micros % 1_000_000:
        return moment.isoformat(timespec="milliseconds") + "+00:00"
    return moment.isoformat() + "+00:00"


class SmallResult:
    """The small engine's credit (touches x models, model-major), turned into the frames or
    the JSON rows of :class:`~attribution.engine._scoring.JourneyScores` on demand."""

    def __init__(self, req: _Request, labels: list[str], credit: np.ndarray) -> None:
        self.req = req
        self.labels = labels
        self.credit = credit
        self.value = credit * np.tile(req.conv_values[req.conv], len(labels))
        names = sorted(set(req.channels))
        self.names = names
        code = dict(zip(names, range(len(names)), strict=True))
        self.codes = np.fromiter((code[c] for c in req.channels), dtype=np.int64, count=req.n)

    def channel_names(self) -> list[str]:
        return list(self.names)

    def _touch_columns(self) -> dict[str, list[Any]]:
        req, models = self.req, len(self.labels)
        return {
            "conversion_id": [req.conv_ids[j] for j in req.conv.tolist()] * models,
            "touch_id": req.touch_ids * models,
            "contact_id": req.contacts * models,
            "channel": req.channels * models,
        }

    def touch_frame(self) -> pl.DataFrame:
        req, models = self.req, len(self.labels)
        columns: dict[str, Any] = self._touch_columns()
        return pl.DataFrame(
            {
                **columns,
                "account_id": pl.Series([None] * (req.n * models), dtype=pl.String),
                "timestamp": pl.Series(np.tile(req.times, models)).cast(pl.Datetime("us"))
                .dt.replace_time_zone("UTC"),
                "model": [label for label in self.labels for _ in range(req.n)],
                "credit": self.credit,
                "value": self.value,
            },
            schema=TOUCH_CREDIT_SCHEMA,
        )

    def _channel_sums(self) -> tuple[list[str], list[str], list[float], list[float], list[float]]:
        """Sums by model and channel; in model order, then conversions (descending), then
        channel, as :func:`channel_credit_from_touches` sorts them."""
        req, names = self.req, self.names
        models, k = len(self.labels), len(names)
        group = np.tile(self.codes, models) + np.repeat(np.arange(models) * k, req.n)
        conversions = np.bincount(group, weights=self.credit, minlength=models * k)
        values = np.bincount(group, weights=self.value, minlength=models * k)
        # a model's channel shares; 0 where the model credits nothing (0 / 0)
        per_model = np.repeat(conversions.reshape(models, k).sum(axis=1), k)
        share = np.divide(conversions, per_model, out=np.zeros(conversions.shape),
                          where=per_model != 0)
        model_of = np.repeat(np.arange(models), k)
        channel_rank = np.tile(np.arange(k), models)
        # every channel of the request has touches under every model: all groups present
        order = np.lexsort((channel_rank, -conversions, model_of))
        return ([self.labels[i] for i in model_of[order].tolist()],
                [names[i] for i in channel_rank[order].tolist()],
                conversions[order].tolist(), values[order].tolist(), share[order].tolist())

    def channel_frame(self) -> pl.DataFrame:
        return pl.DataFrame(dict(zip(CHANNEL_CREDIT_SCHEMA, self._channel_sums(), strict=True)),
                            schema=CHANNEL_CREDIT_SCHEMA)

    def json_rows(self) -> tuple[bytes, bytes]:
        """Touch and channel credit as JSON arrays of row objects: the frames' own
        ``write_json``, with the same keys and values (numbers to the last digit)."""
        req = self.req
        touch_parts = [
            orjson.dumps({"conversion_id": req.conv_ids[j], "touch_id": t, "contact_id": k,
                          "account_id": None, "channel": ch, "timestamp": _iso(ts)})[:-1]
            for j, t, k, ch, ts in zip(req.conv.tolist(), req.touch_ids, req.contacts,
                                       req.channels, req.times.tolist(), strict=True)
        ]
        # every number as orjson writes it, in one call: the row objects are put together
        # from these pieces (no dict per row)
        credit = orjson.dumps(self.credit.tolist())[1:-1].split(b",") if req.n else []
        value = orjson.dumps(self.value.tolist())[1:-1].split(b",") if req.n else []
        # per model one format string (heads with %-signs doubled), filled in one % each
        heads = [h.replace(b"%", b"%%") for h in touch_parts]
        blocks: list[bytes] = []
        for m, label in enumerate(self.labels):
            if not req.n:
                break
            tail = b',"model":' + orjson.dumps(label).replace(b"%", b"%%") + b',"credit":'
            fmt = b'%b,"value":%b},'.join([h + tail for h in heads]) + b'%b,"value":%b}'
            numbers: list[bytes] = [b""] * (2 * req.n)
            numbers[0::2] = credit[m * req.n:(m + 1) * req.n]
            numbers[1::2] = value[m * req.n:(m + 1) * req.n]
            blocks.append(fmt % tuple(numbers))
        models, channels, conversions, values, shares = self._channel_sums()
        model_parts = {m: b'{"model":' + orjson.dumps(m) + b',"channel":' for m in self.labels}
        channel_parts = {c: orjson.dumps(c) + b',"conversions":' for c in self.names}
        sums = (orjson.dumps(x)[1:-1].split(b",") if models else []
                for x in (conversions, values, shares))
        channel_rows = map(b"".join, zip(
            map(model_parts.__getitem__, models), map(channel_parts.__getitem__, channels),
            next(sums), repeat(b',"value":'), next(sums), repeat(b',"share":'),
            next(sums), repeat(b"}")))
        return b"[" + b",".join(blocks) + b"]", b"[" + b",".join(channel_rows) + b"]"
