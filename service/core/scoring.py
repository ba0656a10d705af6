"""Resolved and fitted scorers, cached per model set and run: scoring a request should not
re-resolve models or refit a Markov chain."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

import attribution
from attribution import JourneyScorer, RunOptions, read_run_paths

from .errors import ServiceError
from .runs import RunStore


class ScorerCache:
    """LRU of :class:`JourneyScorer` by (models, run id)."""

    def __init__(self, runs: RunStore, size: int = 64) -> None:
        self.runs = runs
        self.size = size
        self._scorers: OrderedDict[tuple[str, str | None], JourneyScorer] = OrderedDict()
        self._needs_run: dict[str, bool] = {}
        self._lock = threading.Lock()

    def cached(self, models: list[Any], run_id: str | None) -> tuple[JourneyScorer, None] | None:
        """The cached scorer of a rule-only model set (no disk, no resolving), else None."""
        key = json.dumps(models, sort_keys=True, default=str)
        if self._needs_run.get(key) is not False:
            return None
        scorer = self._scorers.get((key, None))
        return (scorer, None) if scorer is not None else None

    def get(self, models: list[Any], run_id: str | None) -> tuple[JourneyScorer, str | None]:
        """The scorer for ``models`` and the run its data-driven models were fitted on."""
        key = json.dumps(models, sort_keys=True, default=str)
        needs_run = self._needs_run.get(key)
        if needs_run is None:
            needs_run = bool(RunOptions(models=models).data_driven)  # unknown / bad -> 422
            with self._lock:
                if len(self._needs_run) < 4096:
                    self._needs_run[key] = needs_run
        if not needs_run:
            run_id = None
        elif run_id is None:
            run_id = self.runs.latest_succeeded()
            if run_id is None:
                data = [n for n, m in attribution.available_models().items() if m.family == "data"]
                raise ServiceError(
                    422, "model_parameter",
                    f"data-driven models ({', '.join(data)}) are fitted on a finished run, and "
                    "there is none yet: start one with POST /v1/runs", field="models")
        with self._lock:
            scorer = self._scorers.get((key, run_id))
            if scorer is not None:
                self._scorers.move_to_end((key, run_id))
                return scorer, run_id
        if run_id is None:
            scorer = JourneyScorer(models=models).fit()
        else:
            run_dir = self.runs.run_dir(run_id)
            if run_dir is None:
                status = self.runs.get(run_id)
                if status is None:
                    raise ServiceError(404, "not_found", f"no run '{run_id}'", field="run_id")
                raise ServiceError(409, "conflict",
                                   f"run '{run_id}' is {status.get('status')}, not succeeded; "
                                   "data-driven models need a finished run", field="run_id")
            scorer = JourneyScorer(models=models).fit(read_run_paths(run_dir))
        with self._lock:
            self._scorers[(key, run_id)] = scorer
            while len(self._scorers) > self.size:
                self._scorers.popitem(last=False)
        return scorer, run_id
