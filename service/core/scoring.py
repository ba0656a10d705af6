"""Resolved and fitted scorers, cached per model set and published snapshot: scoring a
request should not re-resolve models or refit a Markov chain.

Data-driven models (Markov, Shapley, counterfactual) are fitted on a model snapshot that
someone published on purpose (:class:`attribution.SnapshotStore`): the one a request names,
else the current one; never "the latest run". Snapshots never change once written, so a
scorer fitted on one stays valid for as long as it is cached. A scorer on a snapshot reads
and credits requests as the snapshot's run read and credited its data (its aliases, stage
names, conversion stage, milestones, key, lookback, touch cap and role multipliers:
:meth:`attribution.ModelSnapshot.scoring_options`), rule-based models included: a request
of rule-based models alone is scored on the snapshot it names, else on the current one, and
without a run's options only while nothing is published (a CRM that asks for ``linear``
beside the nightly run gets the nightly run's credit, not another one).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import orjson

import attribution
from attribution import JourneyScorer, JourneyScores, ModelSnapshot, RunOptions, SnapshotStore

from .errors import ServiceError

#: How to get a snapshot, as the 409 says it.
PUBLISH_HINT = ('publish a finished run with POST /v1/models/snapshots {"run_id": "<run_id>"} '
                "(or `attribution publish RUN_DIR`)")


@dataclass(frozen=True)
class Scoring:
    """A scorer and, for data-driven models, the snapshot it was fitted on and its channels."""

    scorer: JourneyScorer
    snapshot: ModelSnapshot | None = None
    seen: frozenset[str] = frozenset()

    def unseen(self, scores: JourneyScores) -> list[str]:
        """Channels of the scored journeys that the snapshot never saw (none without a
        snapshot), as the library spells them in its rows (``LinkedIn `` is ``linkedin``)."""
        if self.snapshot is None:
            return []
        return [c for c in scores.channels if c not in self.seen]


class FitPending(Exception):  # noqa: N818 - a signal, not an error
    """Another request is fitting a model this one needs: wait for ``future`` (it ends when
    that fit does, with its error if it failed), then ask again. Raised by
    :meth:`ScorerCache.get` with ``wait=False``, so the event loop awaits the fit without
    holding a thread."""

    def __init__(self, future: Future[Any]) -> None:
        super().__init__("a fit of this model is under way")
        self.future = future


#: Seconds a request refused for want of a fit slot is told to wait (Retry-After).
FIT_RETRY_SECONDS = 5


def _key(models: list[Any]) -> str:
    """The cache key of a model set (orjson: a few microseconds per request)."""
    try:
        return orjson.dumps(models, option=orjson.OPT_SORT_KEYS, default=str).decode()
    except TypeError:  # keys that are not text, say: the standard library writes them
        return json.dumps(models, sort_keys=True, default=str)


class ScorerCache:
    """LRU of :class:`Scoring` by (models, snapshot id)."""

    def __init__(self, snapshots: SnapshotStore, size: int = 64, *, max_fits: int = 1,
                 fitted_models: int = 32) -> None:
        self.snapshots = snapshots
        self.size = size
        self.max_fits = max_fits
        self.fitted_models = fitted_models
        self._scorers: OrderedDict[tuple[str, str | None], Scoring] = OrderedDict()
        #: fitted data-driven models by (snapshot id, model name, resolved parameters):
        #: shared by every spelling and model set that holds them
        self._fits: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        #: fits under way: their identity -> (the future their waiters wait for, label, start)
        self._fitting: dict[tuple[str, str, str], tuple[Future[Any], str, float]] = {}
        self._needs_snapshot: dict[str, bool] = {}
        self._lock = threading.Lock()
        #: (pointer marker, snapshot id) of the current snapshot when last read; both None
        #: when nothing was published (no pointer, no snapshot).
        self._current: tuple[tuple[int, int, int] | None, str | None] | None = None

    def cached(self, models: list[Any], snapshot_id: str | None = None) -> Scoring | None:
        """The cached scorer of a model set, else None; no resolving, no reading.

        A set is found for the snapshot a request names (snapshots never change once
        written), or for the current one while the store's pointer is unchanged since it was
        last read (one ``stat``): a new publication is seen by the very next request; and
        only while the store still holds that snapshot (one more ``stat``). A rule-only set
        is found without a snapshot while nothing is published."""
        key = _key(models)
        if key not in self._needs_snapshot:
            return None
        if snapshot_id is None:
            current = self._current
            if current is None or self.snapshots.current_marker() != current[0]:
                return None
            if current[1] is None:  # nothing published: rule-based models alone score
                return self._scorers.get((key, None))
            snapshot_id = current[1]
        scoring = self._scorers.get((key, snapshot_id))
        # a snapshot removed from the store (by an operator, or another server's retention)
        # is not served from this cache: one stat, so every server on the store answers alike
        if scoring is not None and not self.snapshots.holds(snapshot_id):
            return None
        return scoring

    def get(self, models: list[Any], snapshot_id: str | None, *, wait: bool = True) -> Scoring:
        """The scorer for ``models``, fitted on snapshot ``snapshot_id`` (default: the
        current one) when any of them is data-driven.

        Each data-driven model is fitted once per snapshot and resolved parameters, whatever
        its spelling (``markov:order=4``, ``{"name": "markov", "params": {"order": 4}}``),
        and at most :attr:`max_fits` fits run at once: a request needing a model that is
        being fitted waits for that fit (``wait``; else :class:`FitPending`), one needing
        another fit while every slot is taken gets 429.

        Raises
        ------
        ServiceError
            404 for an unknown snapshot, 409 when none is published, 503 when the store's
            pointer to the current one is damaged (unreadable, or naming a missing one) or
            the snapshot's path table is (``snapshot_store``, as the pointer's),
            429 ``busy`` when a fit is needed and :attr:`max_fits` are under way.
        FitPending
            With ``wait=False``: another request is fitting a model this one needs.
        attribution.ModelNotFoundError, attribution.ModelParameterError
            An unknown model or a bad parameter.
        """
        key = _key(models)
        data = self._data_driven(key, models)
        snapshot: ModelSnapshot | None
        if data or snapshot_id is not None:  # a snapshot named is used (and must exist)
            snapshot = self._snapshot(data, snapshot_id)
        else:  # rule-based alone: the current snapshot's run options, when one is published
            snapshot = self._current_snapshot()
        cache_key = (key, snapshot.snapshot_id if snapshot else None)
        with self._lock:
            found = self._scorers.get(cache_key)
            if found is not None:
                self._scorers.move_to_end(cache_key)
                return found
        if snapshot is None:
            scoring = Scoring(JourneyScorer(models=models).fit())
        else:
            # the run's channel aliases and stage names: requests are read as it read its data
            estimators = {label: self._fitted(identity, model, label, snapshot, wait)
                          for identity, model, label in self._identities(models, snapshot)}
            scorer = JourneyScorer(models=models, **snapshot.scoring_options()).fit(
                None, estimators=estimators)
            scoring = Scoring(scorer, snapshot, frozenset(snapshot.channels))
        with self._lock:
            self._scorers[cache_key] = scoring
            while len(self._scorers) > self.size:
                self._scorers.popitem(last=False)
        return scoring

    @staticmethod
    def _identities(models: list[Any], snapshot: ModelSnapshot
                    ) -> list[tuple[tuple[str, str, str], Any, str]]:
        """Per data-driven model of the set: (its identity: snapshot id, name and resolved
        parameters, defaults included; the model as one spelling of it; its label)."""
        out = []
        for run in RunOptions(models=models).runs:
            if run.spec.family == "data":
                params = dict(run.params)
                out.append(((snapshot.snapshot_id, run.spec.name, _key([params])),
                            (run.spec.name, params), run.label))
        return out

    def _fitted(self, identity: tuple[str, str, str], model: Any, label: str,
                snapshot: ModelSnapshot, wait: bool) -> Any:
        """The model fitted on the snapshot: kept, or fitted here (single flight, at most
        :attr:`max_fits` at once)."""
        while True:
            with self._lock:
                fitted = self._fits.get(identity)
                if fitted is not None:
                    self._fits.move_to_end(identity)
                    return fitted
                pending = self._fitting.get(identity)
                if pending is None:
                    if len(self._fitting) >= self.max_fits:
                        raise self._busy(label)
                    future: Future[Any] = Future()
                    self._fitting[identity] = (future, label, time.monotonic())
                    break
            if not wait:
                raise FitPending(pending[0])
            pending[0].result()  # its error, if the fit failed; else look again
        try:
            try:
                paths = snapshot.read_paths()
            except attribution.InputError as exc:  # its copy damaged: the operator's to repair
                raise ServiceError(503, "snapshot_store", str(exc)) from None
            scorer = JourneyScorer(models=[model], **snapshot.scoring_options()).fit(paths)
            fitted = next(iter(scorer.estimators_.values()))
        except BaseException as exc:
            with self._lock:
                del self._fitting[identity]
            future.set_exception(exc)
            raise
        with self._lock:
            del self._fitting[identity]
            self._fits[identity] = fitted
            while len(self._fits) > self.fitted_models:
                _, evicted = self._fits.popitem(last=False)
                # and the model sets fitted with it: memory is bounded by the fitted models
                # kept, not by the model sets (a set holding it is fitted again when asked)
                for key in [k for k, v in self._scorers.items()
                            if any(e is evicted for e in v.scorer.estimators_.values())]:
                    del self._scorers[key]
        future.set_result(None)
        return fitted

    def _busy(self, label: str) -> ServiceError:
        under_way = ", ".join(f"{name} ({time.monotonic() - started:.0f} s so far)"
                              for _, name, started in self._fitting.values())
        return ServiceError(
            429, "busy",
            f"{label} has not been fitted on this snapshot yet and the server fits at most "
            f"{self.max_fits} data-driven model(s) at once (ATTRIBUTION_MAX_FITS); under way: "
            f"{under_way}; retry in a few seconds (a model fitted once answers at once "
            "after)", field="models", headers={"Retry-After": str(FIT_RETRY_SECONDS)})

    def _data_driven(self, key: str, models: list[Any]) -> list[str]:
        needs = self._needs_snapshot.get(key)
        if needs is False:
            return []
        data = RunOptions(models=models).data_driven  # unknown / bad -> 422
        with self._lock:
            if len(self._needs_snapshot) < 4096:
                self._needs_snapshot[key] = bool(data)
        return list(data)

    def _snapshot(self, data: list[str], snapshot_id: str | None) -> ModelSnapshot:
        if snapshot_id is not None:
            snapshot = self.snapshots.get(snapshot_id)
            if snapshot is None:
                raise ServiceError(404, "not_found", f"no published snapshot '{snapshot_id}'; "
                                   "GET /v1/models/snapshots lists them", field="snapshot")
            return snapshot
        current = self._current_snapshot()
        if current is None:
            every = [n for n, m in attribution.available_models().items() if m.family == "data"]
            raise ServiceError(
                409, "no_snapshot",
                f"{', '.join(data)}: data-driven models ({', '.join(every)}) are fitted on a "
                f"published model snapshot and none is published; {PUBLISH_HINT}",
                field="models")
        return current

    def _current_snapshot(self) -> ModelSnapshot | None:
        """The current snapshot, None when nothing is published; remembered with the
        pointer's marker for :meth:`cached`. A damaged pointer is a 503: which run's options
        apply cannot be known, and scoring without them would answer for another run."""
        marker = self.snapshots.current_marker()  # before reading: a change after it is seen
        try:
            current = self.snapshots.current()
        except attribution.InputError as exc:  # a damaged pointer: the operator's to repair
            raise ServiceError(503, "snapshot_store", str(exc)) from None
        self._current = (marker, current.snapshot_id if current is not None else None)
        return current
