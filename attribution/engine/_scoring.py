"""Score journeys sent as plain Python data (the HTTP API's body) with registered models.

The CRM calls the scoring API when an opportunity is created or closed: "give me per-touch
credit for this deal". It sends each deal as a **journey**: the conversion, the touches it
wants credited and, optionally, the lead / opportunity milestone times::

    {"conversion": {"id": "opp-1", "timestamp": "2025-03-01", "value": 1000.0,
                    "stage": "closed_won"},
     "touches": [{"touch_id": "t1", "timestamp": "2025-01-01", "channel": "linkedin",
                  "contact_id": "c1", "role": "champion"}, ...],
     "milestones": {"lead": "2025-01-10", "opportunity": "2025-02-01"}}

Every journey is its own entity: its touches can only go to its own conversion and there
are no non-converting paths. Given a run's options (a published snapshot's
:meth:`~attribution.engine._snapshots.ModelSnapshot.scoring_options`), the touches that run
would not credit are dropped and counted as it counts them: outside its lookback, beyond
its touch cap (:mod:`attribution.engine._scoring_drops`); without them every touch sent is
in the journey. An exact duplicate (a touch equal in every field sent to an earlier one of
its journey) is always dropped and counted, as a run drops one. A touch after its conversion
cannot be credited under any model and is an error, as is a milestone after its conversion
(the deal cannot have reached it yet), duplicate conversion ids and a
``touch_id`` sent twice in one journey. Touches without a ``touch_id`` are named
``touches[<k>]`` after their 0-based position in the journey as sent. ``role`` (the
buying-committee role of the contact) is accepted; no registered model uses it yet.

The milestone times follow the journey rules of the batch pipeline: a milestone is the
first of its stage events at or before the conversion, where the conversion event itself
counts as an event of its own stage (``stage`` defaults to ``closed_won``; a conversion at
stage ``opportunity`` is its own opportunity milestone unless an earlier one is sent).

No credit maths lives here. Three engines give the same result (tests hold them to it:
``fast`` and ``reference`` touch credit bit for bit, channel sums up to floating-point
summation order; ``small`` to 1e-12):

- ``"small"`` (what ``"auto"``, the default, takes for requests of up to
  :data:`~attribution.engine._scoring_small.SMALL_TOUCHES` touches): the journeys in NumPy
  arrays, every rule-based model as one matrix product, data-driven models from the fitted
  tables (:mod:`attribution.engine._scoring_small`), with no Polars query per step;

- ``"reference"`` turns the journeys into a touch log and CRM stage events and runs
  :func:`attribute` (rule-based models) and :func:`build_journeys` plus the fitted
  estimators' ``allocate`` (data-driven models), exactly as a batch run would;
- ``"fast"`` (larger requests) builds the same journey table directly (each journey being its own
  entity makes touch assignment trivial), then applies the same role-flag function and every
  rule-based model's credit expression in one Polars query. A request of a few journeys
  costs nearly nothing but per-query overhead, which this cuts from ~170 queries to ~30
  (about 17 ms to 5 ms for 20 touches and 12 models); :meth:`JourneyScorer.score_many`
  then shares those queries between several requests.

Data-driven models (registry family ``"data"``: Markov, Shapley, counterfactual) learn from
many journeys, so they are fitted once on a stored run's path table
(:func:`~attribution.engine._run_paths.read_run_paths`) and then allocate each request's
journeys. A channel the fitted model never saw earns no credit of its own and moves
nothing: each data-driven model scores a journey as its seen touches alone
(:mod:`attribution.engine._scoring_unseen`).

A journey is read as the run that fitted the models read its data: given that run's
options (a published snapshot's
:meth:`~attribution.engine._snapshots.ModelSnapshot.scoring_options`), each channel goes
through the run's own :func:`~attribution.inputs._channels.normalise_channels` (its
``channel_aliases``) and each stage through
:func:`~attribution.inputs._stage_names.map_stage_names` (its ``stage_names``); a
conversion sent without a stage is one of the run's ``conversion_stage``, its ``milestones``
say which stages mark the milestones, its ``key`` makes the units and, at account level, its
``role_multipliers`` weigh each touch by the ``role`` sent. A channel or stage that files
read as missing (a null token: ``N/A``, ``-``) and a stage scoring does not know are errors
naming their field.

The request is read into frames by :mod:`attribution.engine._journey_request`; the reference
engine is :mod:`attribution.engine._reference`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal

import orjson
import polars as pl

from attribution.engine._journey_request import (
    SEP,
    JourneyLike,
    frames,
    with_units,
)
from attribution.engine._reference import reference_touch_credit
from attribution.engine._result import CHANNEL_CREDIT_SCHEMA, TOUCH_CREDIT_SCHEMA
from attribution.engine._scoring_drops import apply_drops, dropped_counts, unattributed_ids
from attribution.engine._scoring_scores import JourneyScores
from attribution.engine._scoring_small import (
    SMALL_TOUCHES,
    NeedsGeneralEngine,
    SmallEngine,
)
from attribution.engine._scoring_unseen import allocate_seen
from attribution.engine._stages import channel_credit_from_touches, fit_models, touch_credit_columns
from attribution.exceptions import (
    InputError,
    ModelNotFoundError,
    ModelParameterError,
    NotFittedError,
)
from attribution.inputs._campaigns import TOUCH_CHANNEL, Key
from attribution.journeys._conversions import with_roles
from attribution.journeys._journeys import JOURNEY_COLUMNS
from attribution.models._channel_params import check_model_channels
from attribution.models._estimator import PathModel
from attribution.models._registry import ModelRun
from attribution.models._rules import role_multiplier_expr, with_credit
from attribution.options import RunOptions
from attribution.typing import Duration, Level, ModelLike

__all__ = ["JourneyScorer", "JourneyScores", "needs_paths", "score_journeys"]

Engine = Literal["auto", "small", "fast", "reference"]

_CREDIT_PREFIX = "\x00credit:"


def needs_paths(models: Iterable[ModelLike]) -> bool:
    """Whether any requested model is data-driven (and so must be fitted on a path table).

    Raises
    ------
    ModelNotFoundError, ModelParameterError
        An unknown model or a bad parameter.
    """
    return bool(RunOptions(models=list(models)).data_driven)


class JourneyScorer:
    """Resolved, and for data-driven models fitted, models that score journeys.

    Build once and reuse: resolving models and fitting data-driven ones is the expensive
    part, scoring a request is not.

    Parameters
    ----------
    models
        Registry names, ``(name, params)`` pairs or ``{"name", "params"}`` mappings.
    key
        The unit credited (see :func:`score_journeys`); default ``"channel"``.
    channel_aliases, stage_names
        The run's own renames (:class:`RunOptions`' options of those names, as a run's
        manifest ``parameters`` and a published snapshot keep them:
        :meth:`ModelSnapshot.scoring_options`): each touch's channel is normalised as the
        run normalised its touches (its spelling, then its aliases: ``LinkedIn`` is the
        run's ``paid_social`` when it mapped it so), and each conversion's ``stage`` mapped
        as the run mapped its stage values; a stage that is then no stage the scorer knows
        is an error naming its field.
    conversion_stage, milestones
        The run's conversion stage (a conversion sent without ``stage`` is one of it) and
        milestone stages (which stages mark the lead, opportunity and closed-won
        milestones; the conversion is an event of its own stage, so with
        ``conversion_stage="opportunity"`` it is its own opportunity milestone), as
        :class:`RunOptions` takes them; defaults ``closed_won`` and the default milestones.
    lookback, max_touches_per_journey
        The run's journey window and touch cap: a touch before ``conversion - lookback`` is
        dropped (``outside_lookback``), and a journey over the cap keeps its last touches
        (``journey_too_long``), counted in :attr:`JourneyScores.touches_dropped`. A lookback
        per account segment (a mapping) applies the window of an account without a listed
        segment (its ``default``), as a run does for one, since a journey sent names no
        segment (said in the scores' notes). Default None: no window, no cap (every touch
        sent is credited).
    level, role_multipliers
        The run's level and, at account level, its buying-committee weighting: each
        touch's rule-based weight is multiplied by the multiplier of the ``role`` sent with
        it (normalised as a contacts table's roles; none sent: ``unknown``), as in an
        account-level run; data-driven models do not use it, as in a run.
    notes
        What the run did that scoring a journey cannot do, echoed in every
        :attr:`JourneyScores.notes` (:meth:`ModelSnapshot.scoring_options` writes them).
    run_models
        The run's models (requests, as :meth:`ModelSnapshot.scoring_options` gives them): a
        requested model that the run ran under other parameters (``time_decay`` where the
        run had ``time_decay(half_life=3d)``) is scored as requested, and said in the
        notes with the run's parameters to send.

    Examples
    --------
    >>> from attribution import JourneyScorer
    >>> journey = {"conversion": {"id": "opp-1", "timestamp": "2025-02-01", "value": 100.0},
    ...            "touches": [{"timestamp": "2025-01-01", "channel": "linkedin"},
    ...                        {"timestamp": "2025-01-20", "channel": "email"}]}
    >>> scores = JourneyScorer(models=["linear"]).fit().score([journey])
    >>> scores.touch_credit.select("touch_id", "credit").rows()
    [('touches[0]', 0.5), ('touches[1]', 0.5)]
    """

    def __init__(
        self,
        *,
        models: Iterable[ModelLike],
        key: Key = "channel",
        channel_aliases: Mapping[str, str | Sequence[str]] | None = None,
        stage_names: Mapping[str, str | Sequence[str]] | None = None,
        conversion_stage: str = "closed_won",
        milestones: Mapping[str, str | Sequence[str]] | None = None,
        lookback: Duration | Mapping[str, Duration] | None = None,
        max_touches_per_journey: int | None = None,
        level: Level = "contact",
        role_multipliers: Mapping[str, float] | None = None,
        notes: Sequence[str] = (),
        run_models: Sequence[ModelLike] | None = None,
    ) -> None:
        self.models = list(models) if not isinstance(models, str | tuple) else [models]
        self.key = key
        self.channel_aliases = channel_aliases
        self.stage_names = stage_names
        self.conversion_stage = conversion_stage
        self.milestones = milestones
        self.lookback = lookback
        self.max_touches_per_journey = max_touches_per_journey
        self.level = level
        self.role_multipliers = role_multipliers
        self.notes = list(notes)
        self.run_models = list(run_models) if run_models is not None else None

    def fit(self, paths: pl.DataFrame | None = None, *,
            estimators: Mapping[str, PathModel] | None = None) -> JourneyScorer:
        """Resolve the models and fit the data-driven ones on ``paths``.

        Parameters
        ----------
        paths
            Path table (``path`` as ``list[str]``, ``conversions``, ``nulls``, ``value``),
            e.g. :func:`read_run_paths` of a stored run. Needed only by data-driven models.
        estimators
            Data-driven models fitted already, by label (another scorer's
            :attr:`estimators_` for the same model on the same paths, whatever its
            spelling): taken as they are, not fitted again. ``paths`` is then needed only
            for the others.

        Raises
        ------
        ModelNotFoundError, ModelParameterError
            An unknown model or a bad parameter; a data-driven model without ``paths``.
        InputError
            A run option out of its range, named (``exc.option``).
        """
        options = RunOptions(
            models=self.models, key=self.key, channel_aliases=self.channel_aliases,
            stage_names=self.stage_names, conversion_stage=self.conversion_stage,
            milestones=self.milestones, lookback=self.lookback,
            max_touches_per_journey=self.max_touches_per_journey, level=self.level,
            role_multipliers=self.role_multipliers)
        self._window: timedelta | None = options.window if self.lookback is not None else None
        self._cap = options.max_touches_per_journey
        self._conversion_stage = options.conversion_stage
        self._milestones = {role: tuple([names] if isinstance(names, str) else names)
                            for role, names in options.all_milestones.items()}
        self._multipliers = options.multipliers
        self.notes_ = [*self.notes, *_scoring_notes(options, self.lookback, self.run_models)]
        runs = options.runs
        self._aliases = options.aliases
        self._stage_names = options.stage_names
        if paths is not None and self.key == "channel" and isinstance(
            paths.schema.get("path"), pl.List
        ):  # a parameter naming a channel names one of the run's (a typo changes nothing)
            check_model_channels(
                runs, paths.get_column("path").explode().drop_nulls().unique().to_list()
            )
        given = dict(estimators or {})
        data = [r for r in runs if r.spec.family == "data" and r.label not in given]
        if data and paths is None:
            raise ModelParameterError(
                f"{', '.join(r.label for r in data)} "
                f"{'is a data-driven model' if len(data) == 1 else 'are data-driven models'} "
                "and must be fitted on a path table: pass paths (e.g. the paths.parquet of a "
                "stored run), or request rule-based models only"
            )
        self.runs_: list[ModelRun] = runs
        self.requests_: list[ModelLike] = list(self.models)
        fitted = fit_models(options, paths, prefit=lambda run: given.get(run.label)) \
            if data and paths is not None else None
        self.estimators_: dict[str, PathModel] = (
            {runs[i].label: est for i, est in fitted.estimators.items()} if fitted
            else {r.label: given[r.label] for r in runs if r.spec.family == "data"}
        )
        rules = [r for r in runs if r.spec.family == "rule"]
        self._rule_labels = [r.label for r in rules]
        self._rule_weights = {_CREDIT_PREFIX + r.label: r.build() for r in rules}
        try:  # the small engine credits channels only: a campaign key takes the others
            if self.key != "channel":
                raise NeedsGeneralEngine
            self._small: SmallEngine | None = SmallEngine(
                runs, self.estimators_, aliases=self._aliases, stage_names=self._stage_names,
                conversion_stage=self._conversion_stage, milestones=self._milestones,
                window=self._window, cap=self._cap, role_multipliers=self._multipliers)
        except NeedsGeneralEngine:
            self._small = None
        return self

    @property
    def small_engine(self) -> bool:
        """Whether requests of up to ``SMALL_TOUCHES`` (2,000) touches in the plain form
        are scored by the small engine (NumPy arrays, ~0.14 ms of CPU for 20 touches x 12
        models) rather than by Polars queries (several ms)."""
        self._check_fitted()
        return self._small is not None

    @property
    def labels(self) -> list[str]:
        self._check_fitted()
        return [r.label for r in self.runs_]

    def _check_fitted(self) -> None:
        if not hasattr(self, "runs_"):
            raise NotFittedError(
                "This JourneyScorer instance is not fitted yet. Call 'fit' before 'score'."
            )

    def score(self, journeys: Sequence[JourneyLike], *, engine: Engine = "auto") -> JourneyScores:
        """Per-touch and per-channel credit of each journey under every model.

        ``engine``: ``"auto"`` (default) scores requests of up to
        :data:`~attribution.engine._scoring_small.SMALL_TOUCHES` touches with the small
        engine (NumPy arrays) and larger ones with ``"fast"`` (Polars); ``"small"`` is the
        small engine alone (ValueError for a request it does not take: larger, or with a
        field to refuse); ``"reference"`` runs the batch pipeline. All give the same credit
        (to 1e-12).

        Raises
        ------
        InputError
            A journey that cannot be scored; ``column`` holds its field path, e.g.
            ``journeys[0].touches[2].timestamp``.
        ModelParameterError
            A model whose parameters make credit non-finite (e.g. infinite weights).
        """
        self._check_fitted()
        if engine == "small" and self._small is None:
            raise ModelParameterError(
                "the small engine does not take these models (a campaign key, or a model class "
                "it does not know); use engine='auto'")
        if engine in ("auto", "small") and self._small is not None:
            try:
                result = self._small.score(journeys)
            except NeedsGeneralEngine:
                # the general engine scores it, or says what is wrong with it
                if engine == "small":
                    raise ModelParameterError(
                        "the small engine does not take this request (a timestamp form other "
                        "than its plain ISO 8601 ones, an exact duplicate touch, or a field "
                        "the checks refuse); use engine='auto'") from None
            else:
                return JourneyScores(result, None, self.labels, result.req.unattributed,
                                     result.req.dropped, self.notes_)
        touches, conversions = self._frames(journeys)
        touches, dropped = apply_drops(touches, conversions, window=self._window, cap=self._cap)
        if engine in ("auto", "fast"):
            touch_credit = self._fast(touches, conversions)
            channel_credit = self._channel_credit(touch_credit)
        elif engine == "reference":
            touch_credit, channel_credit = self._reference(touches, conversions)
        else:
            raise ValueError(
                f"engine must be 'auto', 'small', 'fast' or 'reference'; got {engine!r}")
        self._check_credit(touch_credit)
        return JourneyScores(touch_credit, channel_credit, self.labels,
                             unattributed_ids(conversions, touches), dropped_counts(dropped),
                             self.notes_)

    def _frames(self, journeys: Sequence[JourneyLike], tags: Sequence[int] | None = None
                ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The request's touches and conversions, read as the scorer's run reads its data."""
        return frames(journeys, tags=tags, key=self.key, aliases=self._aliases,
                      stage_names=self._stage_names, conversion_stage=self._conversion_stage,
                      milestones=self._milestones, roles=self._multipliers is not None)

    def score_many(self, requests: Sequence[Sequence[JourneyLike]]) -> list[JourneyScores]:
        """Score several requests at once: the same result as :meth:`score` on each.

        On request-sized inputs the cost is nearly all per-query overhead, which a batch pays
        once (the HTTP service batches concurrent requests this way). Conversion ids need to
        be unique within each request only. Touch credit is identical to :meth:`score`'s;
        channel sums may differ from it in the last bit (summation order).

        Raises
        ------
        InputError, ModelParameterError
            As :meth:`score`, for the first request that fails; field paths then count
            journeys across all requests, so score a failing request alone to locate it.
        """
        self._check_fitted()
        if len(requests) == 1 or (self._small is not None
                                  and _touches_sent(requests) <= SMALL_TOUCHES):
            # the small engine has no per-query overhead to share
            return [self.score(journeys) for journeys in requests]
        tags = [r for r, journeys in enumerate(requests) for _ in journeys]
        flat = [journey for journeys in requests for journey in journeys]
        touches, conversions = self._frames(flat, tags)
        touches, dropped = apply_drops(touches, conversions, window=self._window, cap=self._cap)
        tagged = self._fast(touches, conversions)
        self._check_credit(tagged)
        parts = pl.col("conversion_id").str.splitn(SEP, 2)
        tagged = tagged.with_columns(
            parts.struct.field("field_0").cast(pl.Int64).alias("_request"),
            parts.struct.field("field_1").alias("conversion_id"),
        )
        # channel credit per (request, model): the library's function, with the request
        # folded into the model label and unfolded after
        folded = channel_credit_from_touches(tagged.with_columns(
            (pl.col("_request").cast(pl.String) + SEP + pl.col("model")).alias("model")))
        label = pl.col("model").str.splitn(SEP, 2)
        channel = folded.with_columns(
            label.struct.field("field_0").cast(pl.Int64).alias("_request"),
            label.struct.field("field_1").alias("model"),
        ).sort("_request", self._order(), maintain_order=True)
        touch_by = tagged.partition_by("_request", as_dict=True, include_key=False)
        channel_by = channel.partition_by("_request", as_dict=True, include_key=False)
        empty_tc = pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA)
        empty_cc = pl.DataFrame(schema=CHANNEL_CREDIT_SCHEMA)
        request = pl.col("conversion_id").str.splitn(SEP, 2).struct.field("field_0")
        idle = unattributed_ids(conversions, touches)  # tagged ids, in the order sent
        by_request: list[list[str]] = [[] for _ in requests]
        for cid in idle:
            r, _, sent = cid.partition(SEP)
            by_request[int(r)].append(sent)
        drops = dropped.with_columns(request.cast(pl.Int64).alias("_request"))
        return [
            JourneyScores(touch_by.get((r,), empty_tc), channel_by.get((r,), empty_cc),
                          self.labels, by_request[r],
                          dropped_counts(drops.filter(pl.col("_request") == r)), self.notes_)
            for r in range(len(requests))
        ]

    def _channel_credit(self, touch_credit: pl.DataFrame) -> pl.DataFrame:
        channel_credit = channel_credit_from_touches(touch_credit)
        if len(self.runs_) > 1:
            channel_credit = channel_credit.sort(self._order(), maintain_order=True)
        return channel_credit.cast(CHANNEL_CREDIT_SCHEMA)

    @staticmethod
    def _check_credit(touch_credit: pl.DataFrame) -> None:
        bad = touch_credit.filter(~pl.col("credit").is_finite() | (pl.col("credit") < 0))
        if bad.height:
            models = ", ".join(bad.get_column("model").unique(maintain_order=True).to_list())
            raise ModelParameterError(
                f"{models}: the parameters give non-finite or negative credit; use finite "
                "weights and multipliers"
            )

    # --- engines ----------------------------------------------------------------------------

    def _order(self) -> pl.Expr:
        labels = self.labels
        return pl.col("model").replace_strict(labels, list(range(len(labels))),
                                              return_dtype=pl.Int32)

    def _fast(self, touches: pl.DataFrame, conversions: pl.DataFrame) -> pl.DataFrame:
        # eager on purpose: on request-sized frames the lazy optimiser costs more than it saves
        rows = conversions.select("conversion_id").with_row_index("_conv_row")
        touches = with_units(touches, self.key)
        touches = touches.join(rows, on="conversion_id", how="left").drop("conversion_id")
        extra = [c for c in (TOUCH_CHANNEL, "role") if c in touches.columns]
        journey = with_roles(touches, conversions).select(*JOURNEY_COLUMNS, *extra)
        keep = ["conversion_id", "touch_id", "contact_id", "account_id", "channel", "timestamp"]
        parts: list[pl.DataFrame] = []
        if self._rule_weights:
            names = list(self._rule_weights)
            multiplier = None
            if self._multipliers is not None:  # the run's buying-committee weighting
                journey = journey.with_columns(role_multiplier_expr(self._multipliers))
                multiplier = "role_multiplier"
            parts.append(
                with_credit(journey, self._rule_weights, multiplier=multiplier)
                .select(*keep, "conversion_value", *names)
                .unpivot(on=names, index=[*keep, "conversion_value"], variable_name="model",
                         value_name="credit")
                .select(*keep, pl.col("model").str.strip_prefix(_CREDIT_PREFIX), "credit",
                        (pl.col("credit") * pl.col("conversion_value")).alias("value"))
            )
        for label, estimator in self.estimators_.items():
            parts.append(touch_credit_columns(allocate_seen(estimator, journey), label))
        touch_credit = pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
        if self._rule_labels + list(self.estimators_) != self.labels:  # interleaved families
            touch_credit = touch_credit.sort(self._order(), maintain_order=True)
        return touch_credit.cast(TOUCH_CREDIT_SCHEMA)

    def _reference(
        self, touches: pl.DataFrame, conversions: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        rule_requests = [
            req for req, run in zip(self.requests_, self.runs_, strict=True)
            if run.spec.family == "rule"
        ]
        touch_credit = reference_touch_credit(
            touches, conversions, rule_requests, self.estimators_, key=self.key,
            milestones=self._milestones, role_multipliers=self._multipliers,
        ).sort(self._order(), "conversion_id", "timestamp", "touch_id", maintain_order=True)
        # summed over all models at once, as the fast engine does: per model, group-by sums
        # can differ from it in the last bit
        channel_credit = channel_credit_from_touches(touch_credit).sort(
            self._order(), maintain_order=True
        )
        return touch_credit, channel_credit.cast(CHANNEL_CREDIT_SCHEMA)


def _touches_sent(requests: Sequence[Sequence[JourneyLike]]) -> int:
    """Touches of all requests together (more than any limit when a request is malformed)."""
    try:
        return sum(len(j.get("touches") or ()) for journeys in requests for j in journeys)
    except (TypeError, AttributeError):
        return SMALL_TOUCHES + 1


def score_journeys(
    journeys: Sequence[JourneyLike],
    *,
    models: Iterable[ModelLike],
    paths: pl.DataFrame | None = None,
    engine: Engine = "auto",
    key: Key = "channel",
    channel_aliases: Mapping[str, str | Sequence[str]] | None = None,
    stage_names: Mapping[str, str | Sequence[str]] | None = None,
    **run_options: Any,
) -> JourneyScores:
    """Credit each journey's touches and channels under every requested model.

    One-shot form of :class:`JourneyScorer` (which is faster when called repeatedly).

    Parameters
    ----------
    journeys
        Each a mapping ``{"conversion": {"id", "timestamp", "value"?, "stage"?},
        "touches": [{"touch_id"?, "timestamp", "channel", "campaign"?, "contact_id"?,
        "role"?}], "milestones"?: {"lead"?, "opportunity"?}}``; timestamps as ISO 8601 text
        or ``datetime`` (naive = UTC). A conversion sent as a date alone (``"2025-03-01"``
        or a ``date``) is the end of that day (23:59:59.999999), as ``attribution import``
        reads close dates; touches and milestones sent as a date are its midnight.
    models
        Registry names, ``(name, params)`` pairs or ``{"name", "params"}`` mappings.
    paths
        Path table to fit data-driven models on (see :func:`read_run_paths`).
    engine
        ``"auto"``, ``"small"``, ``"fast"`` or ``"reference"`` (see
        :meth:`JourneyScorer.score`); all give the same result.
    key
        The unit credited, as :attr:`attribution.RunOptions.key`: ``"channel"``,
        ``"campaign"`` or ``"channel/campaign"`` (from each touch's optional ``campaign``;
        without one, ``<channel>/(none)``). Use the ``key`` of the run whose ``paths`` fit
        the data-driven models.
    channel_aliases, stage_names
        That run's renames (see :class:`JourneyScorer`), so the journeys' channels and
        stages are read as the run read its own.
    **run_options
        The scorer's other options of the run (:class:`JourneyScorer`: ``conversion_stage``,
        ``milestones``, ``lookback``, ``max_touches_per_journey``, ``level``,
        ``role_multipliers``, ``notes``, ``run_models``); a published snapshot gives them
        all: ``score_journeys(..., **snapshot.scoring_options())``.

    Examples
    --------
    >>> from attribution import score_journeys
    >>> touches = [{"timestamp": f"2025-01-{day:02d}", "channel": channel}
    ...            for day, channel in [(1, "linkedin"), (20, "email")]]
    >>> conversion = {"id": "opp-1", "timestamp": "2025-02-01", "value": 100.0}
    >>> res = score_journeys([{"conversion": conversion, "touches": touches}],
    ...                      models=["first_touch"])
    >>> res.channel_credit.select("channel", "conversions", "value").rows()
    [('linkedin', 1.0, 100.0), ('email', 0.0, 0.0)]
    """
    return JourneyScorer(models=models, key=key, channel_aliases=channel_aliases,
                         stage_names=stage_names, **run_options
                         ).fit(paths).score(journeys, engine=engine)


def _scoring_notes(options: RunOptions, lookback: object,
                   run_models: Sequence[ModelLike] | None) -> list[str]:
    """The scorer's own notes: a lookback per segment (a journey sent names no segment),
    and requested models the run ran under other parameters."""
    notes = []
    if lookback is not None and options.segment_windows is not None:
        notes.append(
            f"the run's lookback is per account segment; a journey sent names no segment, so "
            f"it takes the window of an account without a listed segment "
            f"({options.window.total_seconds() / 86400:g} days), as the run does")
    ran: list[tuple[ModelRun, ModelLike]] = []
    for model in run_models or ():
        try:
            ran.append((RunOptions(models=[model]).runs[0], model))
        except (InputError, ModelNotFoundError, ModelParameterError):
            continue  # a model not registered here: nothing to compare with
    for run in options.runs:
        theirs = [request for other, request in ran if other.spec.name == run.spec.name]
        if theirs and not any(other.params == run.params for other, _ in ran
                              if other.spec.name == run.spec.name):
            said = " or ".join(orjson.dumps(t, default=str).decode() for t in theirs)
            notes.append(
                f"{run.label}: the run ran {run.spec.name} with other parameters; scored as "
                f"requested (send {said} for the run's credit)")
    return notes
