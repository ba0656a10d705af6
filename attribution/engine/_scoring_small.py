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
  with :meth:`datetime.fromisoformat`; channel names (the run's spelling and aliases) are
  cached per distinct name;
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

A request shaped as a CRM sends it under a published run is read as that run reads it
(:mod:`attribution.engine._scoring_small_read`): a stage mapped by the run's
``stage_names`` (``Closed Won``), touches outside the run's lookback or beyond its cap
dropped and counted, each touch's ``role`` weighing rule-based credit under an
account-level run's role multipliers. Anything else (an unusual timestamp form, a field the
checks would refuse, a model class this engine does not know, an exact duplicate touch)
raises :class:`NeedsGeneralEngine`, and the scorer takes the general path, which gives the
answer or the error with its field path. So this engine never accepts what the general one
refuses. Its Python work is bounded by :data:`SMALL_TOUCHES`
(the per-journey dictionary lookups of counterfactual included); larger requests keep the
vectorised Polars engine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

import numpy as np

from attribution.engine._journey_request import (
    DUPLICATE_FIELDS,
    MILESTONES,
    exact_duplicates,
    known_stages,
)
from attribution.engine._scoring_small_read import (
    US,
    NeedsGeneralEngine,
    channel_reader,
    conversion_micros,
    is_mapping,
    micros,
    role_reader,
    stage_reader,
    text,
    texts,
)
from attribution.engine._scoring_small_result import SmallResult
from attribution.exceptions import ModelParameterError
from attribution.inputs._separator import SEPARATOR
from attribution.inputs._stage_names import stage_renames
from attribution.journeys._conversions import DEFAULT_MILESTONES
from attribution.models._allocation import _check_weights, _relative_weights
from attribution.models._counterfactual import CounterfactualModel
from attribution.models._estimator import ChannelWeightModel, PathModel
from attribution.models._registry import ModelRun
from attribution.models._rules import ROLES, RoleWeights

__all__ = ["SMALL_TOUCHES", "NeedsGeneralEngine", "SmallEngine", "SmallResult"]

#: Requests of at most this many touches (all journeys together) take this engine.
SMALL_TOUCHES: Final = 2_000


#: No milestone reached (below any timestamp that a ``datetime`` can hold).
_NEVER: Final = np.iinfo(np.int64).min


def _repeats(touches: Sequence[Mapping[str, Any]], moments: list[int]) -> bool:
    """Whether a touch of a journey is an exact duplicate of another (the general engine's
    rule, :func:`exact_duplicates`: it drops and counts them)."""
    fields = {f: [t.get(f) for t in touches] for f in DUPLICATE_FIELDS}
    return bool(exact_duplicates([0] * len(touches), moments, fields).any())


def _last(inside: list[int], ids: list[str], moments: list[int], cap: int) -> list[int]:
    """The positions of a journey's touches kept under the run's cap: its last ``cap`` in
    time (ties by touch id, then as sent), as the general engine keeps them; in the order
    sent."""
    if len(inside) <= cap:
        return inside
    ordered = sorted(inside, key=lambda k: (moments[k], ids[k], k))
    return sorted(ordered[len(ordered) - cap:])


@dataclass(frozen=True)
class _JourneyRules:
    """How the scorer's run reads a journey: the stages taken as sent, the conversion stage
    of a conversion sent without one, the milestone roles with their stages, and the
    lookback and cap in microseconds and touches (no window, no cap: beyond any request)."""

    stages: frozenset[str]
    conversion_stage: str = "closed_won"
    milestones: tuple[tuple[str, tuple[str, ...]], ...] = tuple(DEFAULT_MILESTONES.items())
    window: int = np.iinfo(np.int64).max // 2
    cap: int = SMALL_TOUCHES
    #: a stage sent that is not taken as sent -> the run's stage (:func:`stage_reader`)
    stage_of: Callable[[list[Any]], list[Any]] | None = None
    #: a role sent -> its multiplier, with the run's role multipliers (:func:`role_reader`)
    role_of: Callable[[list[Any]], list[Any]] | None = None


class _Request:
    """A request's journeys as arrays, touches in (conversion id, time, touch id, position
    sent) order: what :func:`with_roles` gives the Polars engine; the touches the run's
    lookback and cap leave out are dropped and counted (``dropped``, as
    :func:`~attribution.engine._scoring_drops.apply_drops` counts them), and ``unattributed``
    lists the journeys left without a touch (sent without, or every one dropped)."""

    def __init__(self, journeys: Sequence[Any], spell: Callable[[list[Any]], list[Any]],
                 rules: _JourneyRules) -> None:
        stages, role_stages = rules.stages, rules.milestones
        if isinstance(journeys, Mapping) or not isinstance(journeys, Sequence):
            raise NeedsGeneralEngine
        conv_ids: list[str] = []
        conv_times: list[int] = []
        values: list[float] = []
        reached: list[list[int]] = []  # per journey, per milestone role: when, or _NEVER
        t_conv: list[int] = []
        t_ids: list[str] = []
        t_contacts: list[str | None] = []
        t_channels: list[str] = []
        t_times: list[int] = []
        t_roles: list[str | None] = []
        unattributed: list[str] = []
        outside = too_long = 0
        for j, journey in enumerate(journeys):
            if not is_mapping(journey):
                raise NeedsGeneralEngine
            conversion = journey.get("conversion")
            if not is_mapping(conversion):
                raise NeedsGeneralEngine
            conv_ids.append(text(conversion.get("id")))
            at = conversion_micros(conversion.get("timestamp"))
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
                stage = rules.conversion_stage
            elif text(stage) not in stages:  # mapped as a run maps it (else: refused there)
                if rules.stage_of is None:
                    raise NeedsGeneralEngine
                stage = rules.stage_of([stage])[0]
            milestones = journey.get("milestones") or {}
            if not is_mapping(milestones) or not set(milestones) <= set(MILESTONES):
                raise NeedsGeneralEngine
            when: list[int] = []
            for role, names in role_stages:
                # the first of the milestone's events, the conversion one of its own stage,
                # kept when reached at or before the conversion (_with_milestones)
                sent = milestones.get(role) if role in MILESTONES else None
                first = micros(sent) if sent is not None else None
                if first is not None and first > at:
                    raise NeedsGeneralEngine  # refused there, naming the milestone
                if stage in names and (first is None or at < first):
                    first = at
                when.append(first if first is not None and first <= at else _NEVER)
            reached.append(when)
            touches = journey.get("touches")
            if not touches:
                if touches is not None and type(touches) is not list and (
                        isinstance(touches, Mapping) or not isinstance(touches, Sequence)):
                    raise NeedsGeneralEngine
                unattributed.append(conv_ids[-1])
                continue
            if type(touches) is not list and (isinstance(touches, Mapping)
                                              or not isinstance(touches, Sequence)):
                raise NeedsGeneralEngine
            sent_count = len(touches)
            if len(t_ids) + sent_count > SMALL_TOUCHES or not all(map(is_mapping, touches)):
                raise NeedsGeneralEngine
            ids = ids_sent = [t.get("touch_id") for t in touches]
            if None in ids:
                ids = [f"touches[{k}]" if t is None else t for k, t in enumerate(ids)]
            texts(ids)
            if len(set(ids)) < sent_count:
                raise NeedsGeneralEngine
            contacts = [t.get("contact_id") for t in touches]
            texts([c for c in contacts if c is not None])
            # role and campaign: read (and checked) by the general engine only
            texts([v for t in touches for v in (t.get("role"), t.get("campaign"))
                    if v is not None])
            channels = [t.get("channel") for t in touches]
            texts(channels)
            if any(SEPARATOR in c for c in channels):
                raise NeedsGeneralEngine
            moments = [micros(t.get("timestamp")) for t in touches]
            if max(moments) > at:
                raise NeedsGeneralEngine  # refused there, naming the touch
            if None in ids_sent and _repeats(touches, moments):
                raise NeedsGeneralEngine  # exact duplicates: the general engine counts them
            roles = [t.get("role") for t in touches] if rules.role_of is not None else None
            start = at - rules.window
            if min(moments) < start or sent_count > rules.cap:
                inside = [k for k in range(sent_count) if moments[k] >= start]
                keep = _last(inside, ids, moments, rules.cap)
                outside += sent_count - len(inside)
                too_long += len(inside) - len(keep)
                ids, contacts, channels, moments = ([v[k] for k in keep] for v in (
                    ids, contacts, channels, moments))
                if roles is not None:
                    roles = [roles[k] for k in keep]
                if not keep:
                    unattributed.append(conv_ids[-1])
                    continue
            t_conv += [j] * len(ids)
            t_ids += ids
            t_contacts += contacts
            t_channels += channels
            t_times += moments
            if roles is not None:
                t_roles += roles
        if len(set(conv_ids)) < len(conv_ids):
            raise NeedsGeneralEngine
        self.conv_ids = conv_ids
        self.conv_values = np.asarray(values, dtype=np.float64)
        n = len(t_ids)
        conv = np.asarray(t_conv, dtype=np.int64)
        t_array = np.asarray(t_times, dtype=np.int64)
        distinct = sorted(set(t_ids))
        id_rank = dict(zip(distinct, range(len(distinct)), strict=True))
        tid_rank = np.fromiter(map(id_rank.__getitem__, t_ids), dtype=np.int64, count=n)
        if len(conv_ids) > 1:
            # journeys ranked by id (as Polars sorts strings: code point order, that of UTF-8)
            by_id = sorted(range(len(conv_ids)), key=conv_ids.__getitem__)
            rank = np.empty(len(conv_ids), dtype=np.int64)
            rank[by_id] = np.arange(len(conv_ids))
            order = np.lexsort((tid_rank, t_array, rank[conv]))  # stable: position sent last
        else:
            order = np.lexsort((tid_rank, t_array))
        self.n = n
        self.conv = conv[order]            # the journey of each touch
        self.times: np.ndarray = t_array[order]
        listed = order.tolist()
        self.touch_ids = [t_ids[i] for i in listed]
        self.contacts = [t_contacts[i] for i in listed]
        self.channels = spell([t_channels[i] for i in listed])
        #: each touch's buying-committee multiplier (an account-level run's), else None
        self.role_weights = None if rules.role_of is None else np.asarray(
            rules.role_of([t_roles[i] for i in listed]), dtype=np.float64)
        self.unattributed = unattributed
        #: touches dropped by reason, names in order (:func:`dropped_counts`' form)
        self.dropped = {reason: count for reason, count in (
            ("journey_too_long", too_long), ("outside_lookback", outside)) if count}
        # journeys in id order, each one's touches contiguous
        starts = np.empty(n, dtype=bool)
        ends = np.empty(n, dtype=bool)
        if n:
            starts[0] = ends[-1] = True
            np.not_equal(self.conv[1:], self.conv[:-1], out=starts[1:])
            ends[:-1] = starts[1:]
        self.start_index = np.flatnonzero(starts)
        self.sizes = np.flatnonzero(ends) - self.start_index + 1  # per journey with touches
        self.segment = np.cumsum(starts) - 1   # 0.. per journey with touches, in id order
        self.position = np.arange(n) - self.start_index[self.segment]
        self.n_touches = self.sizes[self.segment]
        # lead, opportunity, closed won: the last touch at or before the milestone
        before = self.times <= np.asarray(reached, dtype=np.int64).reshape(-1, 3)[self.conv].T
        before[:, :-1] &= ends[:-1] | ~before[:, 1:]
        #: touches x roles, the roles in ROLES order (without last non-direct)
        self.roles = np.column_stack((starts, ends, before.T))
        self.last = ends

    def segment_sum(self, values: np.ndarray) -> np.ndarray:
        """Per journey (with touches, id order) sums of ``values`` (touches x k)."""
        return np.add.reduceat(values, self.start_index, axis=0)


class SmallEngine:
    """Every model of a fitted :class:`~attribution.engine._scoring.JourneyScorer` as array
    operations; built once per scorer.

    Raises :class:`NeedsGeneralEngine` at construction for a data-driven model class it does
    not know.
    """

    def __init__(self, runs: Sequence[ModelRun], estimators: Mapping[str, PathModel], *,
                 aliases: Mapping[str, str] | None = None,
                 stage_names: Mapping[str, str | Sequence[str]] | None = None,
                 conversion_stage: str = "closed_won",
                 milestones: Mapping[str, Sequence[str]] | None = None,
                 window: timedelta | None = None, cap: int | None = None,
                 role_multipliers: Mapping[str, float] | None = None) -> None:
        self.labels = [r.label for r in runs]
        self._spell = channel_reader(aliases)
        milestones = milestones or DEFAULT_MILESTONES
        # stages taken as sent: a name the scorer knows that stage_names does not rename
        known = known_stages(stage_names, conversion_stage, milestones)
        self._rules_of_journeys = _JourneyRules(
            frozenset(known) - set(stage_renames(stage_names)), conversion_stage,
            tuple((role, tuple(names)) for role, names in milestones.items()),
            **({"window": window // US} if window is not None else {}),
            **({"cap": cap} if cap is not None else {}),
            stage_of=stage_reader(stage_names, conversion_stage, milestones),
            role_of=role_reader(role_multipliers) if role_multipliers is not None else None)
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
        self._weights = weights
        self._holds = (weights > 0).astype(np.float64)
        self._others = np.asarray([w.others for _, w in rules], dtype=np.float64)
        self._with_others = self._others > 0
        self._no_roles = ~(weights > 0).any(axis=0)
        self._multipliers = [(m, dict(w.channel_multipliers))
                             for m, (_, w) in enumerate(rules) if w.channel_multipliers]
        decays = [(m, w.half_life.total_seconds() * 1e6)
                  for m, (_, w) in enumerate(rules) if w.half_life is not None]
        self._decay_models = np.asarray([m for m, _ in decays], dtype=np.int64)
        self._half_lives = np.asarray([h for _, h in decays], dtype=np.float64)
        self._data: list[tuple[str, PathModel]] = []
        for label, estimator in estimators.items():
            if not isinstance(estimator, ChannelWeightModel | CounterfactualModel):
                raise NeedsGeneralEngine
            self._data.append((label, estimator))
        # each family's rows in the model-major credit (the labels' order)
        self._rule_rows = [m for m, r in enumerate(runs) if r.spec.family == "rule"]
        self._data_rows = [self.labels.index(label) for label, _ in self._data]
        self._paths: dict[str, dict[tuple[Any, ...], np.ndarray]] = {}
        self._known: dict[str, frozenset[str]] = {}  # per counterfactual: channels it saw

    # --- rule-based models ------------------------------------------------------------------

    def _rule_credit(self, req: _Request) -> np.ndarray:
        """Touches x rule models."""
        n = req.n
        held_roles = req.roles
        if self._direct_sets:
            flags = [held_roles]
            for direct in self._direct_sets:
                non_direct = np.fromiter((c not in direct for c in req.channels), dtype=bool,
                                         count=n)
                # the journey's last non-direct position; none: its last touch
                last = np.maximum.reduceat(np.where(non_direct, req.position, -1),
                                           req.start_index)
                last = np.where(last < 0, req.sizes - 1, last)
                flags.append((req.position == last[req.segment])[:, None])
            held_roles = np.hstack(flags)
        held_roles = held_roles.astype(np.float64)
        raw = held_roles @ self._weights
        if self._with_others.any():
            free = (held_roles @ self._holds) <= 0
            n_free = req.segment_sum(free.astype(np.float64))[req.segment]
            share = np.divide(self._others, n_free, out=np.zeros_like(raw), where=free)
            every = self._others / req.n_touches[:, None].astype(np.float64)
            raw = raw + np.where(self._no_roles, every, share) * self._with_others
        for m, table in self._multipliers:
            raw[:, m] *= np.fromiter((table.get(c, 1.0) for c in req.channels),
                                     dtype=np.float64, count=n)
        if req.role_weights is not None:  # the run's buying-committee weighting
            raw *= req.role_weights[:, None]
        if self._half_lives.size:  # time decay, every such model at once
            part = raw[:, self._decay_models]
            # the journey's latest touch with positive weight; none: no credit from decay
            t_ref = np.maximum.reduceat(np.where(part > 0, req.times[:, None], _NEVER),
                                        req.start_index, axis=0)[req.segment]
            age = np.clip((t_ref - req.times[:, None]).astype(np.float64), 0.0, None)
            factor = 2.0 ** (-age / self._half_lives)
            raw[:, self._decay_models] = np.where(t_ref > _NEVER, part * factor, 0.0)
        total = req.segment_sum(raw)[req.segment]
        # no positive weight in the journey: its last touch takes the credit
        credit = np.repeat(req.last.astype(np.float64)[:, None], len(self._rules), axis=1)
        out: np.ndarray = np.divide(raw, total, out=credit, where=total > 0)
        return out

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
        known = self._known.get(label)
        if known is None:
            known = self._known[label] = frozenset(model.channels_)
        out = np.zeros(req.n, dtype=np.float64)
        transform = model.transform
        for start, count in zip(req.start_index.tolist(), req.sizes.tolist(), strict=True):
            channels = req.channels[start:start + count]
            # channels the model never saw earn nothing: the journey is scored as its seen
            # touches alone; with none seen, an equal split over the channels, then touches
            # (see attribution.engine._scoring_unseen)
            picked = [i for i, c in enumerate(channels) if c in known]
            if not picked:
                touches_of = Counter(channels)
                out[start:start + count] = [1.0 / len(touches_of) / touches_of[c]
                                            for c in channels]
                continue
            if len(picked) < count:
                channels = [channels[i] for i in picked]
            if transform == "unique":
                tpos = list(range(len(channels)))
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
            if len(picked) < count:
                out[start + np.asarray(picked, dtype=np.int64)] = credit / members
            else:
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
        req = _Request(journeys, self._spell, self._rules_of_journeys)
        if not req.n:
            return SmallResult(req, self.labels, np.zeros(0))
        matrix = np.empty((len(self.labels), req.n))  # models x touches
        if self._rules:
            matrix[self._rule_rows] = self._rule_credit(req).T
        for row, (label, estimator) in zip(self._data_rows, self._data, strict=True):
            if isinstance(estimator, CounterfactualModel):
                matrix[row] = self._counterfactual(req, label, estimator)
            else:
                assert isinstance(estimator, ChannelWeightModel)
                matrix[row] = self._by_channel_weights(req, estimator)
        credit = matrix.ravel()
        if not (credit.min() >= 0 and credit.max() < np.inf):  # NaN fails both
            bad = ~np.isfinite(credit) | (credit < 0)
            rows = np.flatnonzero(bad) // req.n
            names = ", ".join(dict.fromkeys(self.labels[i] for i in rows.tolist()))
            raise ModelParameterError(
                f"{names}: the parameters give non-finite or negative credit; use finite "
                "weights and multipliers")
        return SmallResult(req, self.labels, credit)
