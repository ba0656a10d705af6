"""Score journeys sent as plain Python data (the HTTP API's body) with registered models.

The CRM calls the scoring API when an opportunity is created or closed: "give me per-touch
credit for this deal". It sends each deal as a **journey**: the conversion, the touches it
wants credited and, optionally, the lead / opportunity milestone times::

    {"conversion": {"id": "opp-1", "timestamp": "2025-03-01", "value": 1000.0,
                    "stage": "closed_won"},
     "touches": [{"touch_id": "t1", "timestamp": "2025-01-01", "channel": "linkedin",
                  "contact_id": "c1", "role": "champion"}, ...],
     "milestones": {"lead": "2025-01-10", "opportunity": "2025-02-01"}}

The CRM sends exactly the touches it wants credited, so every journey is its own entity:
its touches can only go to its own conversion, there is no lookback window (all touches sent
are in the journey) and there are no non-converting paths. A touch after its conversion
cannot be credited under any model and is an error, as are duplicate conversion ids and a
``touch_id`` sent twice in one journey. Touches without a ``touch_id`` are named
``touches[<k>]`` after their 0-based position in the journey as sent. ``role`` (the
buying-committee role of the contact) is accepted; no registered model uses it yet.

The milestone times follow the journey rules of the batch pipeline: a milestone is the
first of its stage events at or before the conversion, where the conversion event itself
counts as an event of its own stage (``stage`` defaults to ``closed_won``; a conversion at
stage ``opportunity`` is its own opportunity milestone unless an earlier one is sent).

No credit maths lives here. Two engines give the same result (a test holds them to it:
touch credit bit for bit, channel sums up to floating-point summation order):

- ``"reference"`` turns the journeys into a touch log and CRM stage events and runs
  :func:`attribute` (rule-based models) and :func:`build_journeys` plus the fitted
  estimators' ``allocate`` (data-driven models), exactly as a batch run would;
- ``"fast"`` (default) builds the same journey table directly (each journey being its own
  entity makes touch assignment trivial), then applies the same role-flag function and every
  rule-based model's credit expression in one Polars query. A request of a few journeys
  costs nearly nothing but per-query overhead, which this cuts from ~170 queries to ~30
  (about 17 ms to 5 ms for 20 touches and 12 models); :meth:`JourneyScorer.score_many`
  then shares those queries between several requests.

Data-driven models (registry family ``"data"``: Markov, Shapley, counterfactual) learn from
many journeys, so they are fitted once on a stored run's path table (:func:`read_run_paths`)
and then allocate each request's journeys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import polars as pl

from attribution.engine._files import RunFiles
from attribution.engine._memory import attribute
from attribution.engine._result import CHANNEL_CREDIT_SCHEMA, PATH_TABLE_SCHEMA, TOUCH_CREDIT_SCHEMA
from attribution.engine._stages import channel_credit_from_touches, fit_models, touch_credit_columns
from attribution.exceptions import InputError, ModelParameterError, NotFittedError
from attribution.inputs._schema import (
    ROW,
    STAGES,
    TOUCHES,
    UTC_DATETIME,
    deduplicate_touches,
    load,
    parse_timestamp,
)
from attribution.journeys._journeys import (
    DEFAULT_MILESTONES,
    JOURNEY_COLUMNS,
    _with_roles,
    build_journeys,
)
from attribution.models._registry import ModelRun
from attribution.models._rules import with_credit
from attribution.options import RunOptions
from attribution.typing import ModelLike

__all__ = ["JourneyScorer", "JourneyScores", "needs_paths", "read_run_paths", "score_journeys"]

Engine = Literal["fast", "reference"]
JourneyLike = Mapping[str, Any]

#: Stage name of the synthetic conversion events of the reference engine (never a CRM stage).
_CONVERSION_STAGE = "\x00conversion"
#: Separates the journey from the touch id in the reference engine's internal touch ids.
_SEP = "\x1f"
_CREDIT_PREFIX = "\x00credit:"
_MILESTONES = ("lead", "opportunity")


@dataclass(frozen=True)
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
        Conversion ids sent without touches (no credit).
    """

    touch_credit: pl.DataFrame
    channel_credit: pl.DataFrame
    models: list[str]
    unattributed: list[str]


def needs_paths(models: Iterable[ModelLike]) -> bool:
    """Whether any requested model is data-driven (and so must be fitted on a path table).

    Raises
    ------
    ModelNotFoundError, ModelParameterError
        An unknown model or a bad parameter.
    """
    return bool(RunOptions(models=list(models)).data_driven)


def read_run_paths(run_dir: str | Path) -> pl.DataFrame:
    """The path table of a stored run (``<run_dir>/paths.parquet``), ready to fit on.

    The run directory stores ``path`` as ``"a > b"`` text; it is split into ``list[str]``.

    Raises
    ------
    InputError
        The run has no readable ``paths.parquet``.
    """
    file = Path(run_dir) / RunFiles.PATHS
    try:
        frame = pl.read_parquet(file)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"cannot read the run's path table: {exc}", table="paths",
                         source=str(file)) from exc
    missing = [c for c in PATH_TABLE_SCHEMA if c not in frame.columns]
    if missing:
        raise InputError(f"the run's path table lacks {missing}", table="paths", source=str(file))
    return frame.select(
        pl.col("path").cast(pl.String).str.split(" > "),
        *(pl.col(c).cast(pl.Float64) for c in ("conversions", "nulls", "value")),
    )


class JourneyScorer:
    """Resolved, and for data-driven models fitted, models that score journeys.

    Build once and reuse: resolving models and fitting data-driven ones is the expensive
    part, scoring a request is not.

    Parameters
    ----------
    models
        Registry names, ``(name, params)`` pairs or ``{"name", "params"}`` mappings.

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

    def __init__(self, *, models: Iterable[ModelLike]) -> None:
        self.models = list(models) if not isinstance(models, str | tuple) else [models]

    def fit(self, paths: pl.DataFrame | None = None) -> JourneyScorer:
        """Resolve the models and fit the data-driven ones on ``paths``.

        Parameters
        ----------
        paths
            Path table (``path`` as ``list[str]``, ``conversions``, ``nulls``, ``value``),
            e.g. :func:`read_run_paths` of a stored run. Needed only by data-driven models.

        Raises
        ------
        ModelNotFoundError, ModelParameterError
            An unknown model or a bad parameter; a data-driven model without ``paths``.
        """
        options = RunOptions(models=self.models)
        runs = options.runs
        data = [r for r in runs if r.spec.family == "data"]
        if data and paths is None:
            raise ModelParameterError(
                f"{', '.join(r.label for r in data)} "
                f"{'is a data-driven model' if len(data) == 1 else 'are data-driven models'} "
                "and must be fitted on a path table: pass paths (e.g. the paths.parquet of a "
                "stored run), or request rule-based models only"
            )
        self.runs_: list[ModelRun] = runs
        self.requests_: list[ModelLike] = list(self.models)
        fitted = fit_models(options, paths) if data and paths is not None else None
        self.estimators_: dict[str, Any] = (
            {runs[i].label: est for i, est in fitted.estimators.items()} if fitted else {}
        )
        rules = [r for r in runs if r.spec.family == "rule"]
        self._rule_labels = [r.label for r in rules]
        self._rule_weights = {_CREDIT_PREFIX + r.label: r.build() for r in rules}
        return self

    @property
    def labels(self) -> list[str]:
        self._check_fitted()
        return [r.label for r in self.runs_]

    def _check_fitted(self) -> None:
        if not hasattr(self, "runs_"):
            raise NotFittedError(
                "This JourneyScorer instance is not fitted yet. Call 'fit' before 'score'."
            )

    def score(self, journeys: Sequence[JourneyLike], *, engine: Engine = "fast") -> JourneyScores:
        """Per-touch and per-channel credit of each journey under every model.

        Raises
        ------
        InputError
            A journey that cannot be scored; ``column`` holds its field path, e.g.
            ``journeys[0].touches[2].timestamp``.
        ModelParameterError
            A model whose parameters make credit non-finite (e.g. infinite weights).
        """
        self._check_fitted()
        touches, conversions = _frames(journeys)
        if engine == "fast":
            touch_credit = self._fast(touches, conversions)
            channel_credit = self._channel_credit(touch_credit)
        elif engine == "reference":
            touch_credit, channel_credit = self._reference(touches, conversions)
        else:
            raise ValueError(f"engine must be 'fast' or 'reference'; got {engine!r}")
        self._check_credit(touch_credit)
        return JourneyScores(touch_credit, channel_credit, self.labels, _unattributed(journeys))

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
        if len(requests) == 1:
            return [self.score(requests[0])]
        tags = [r for r, journeys in enumerate(requests) for _ in journeys]
        flat = [journey for journeys in requests for journey in journeys]
        touches, conversions = _frames(flat, tags=tags)
        tagged = self._fast(touches, conversions)
        self._check_credit(tagged)
        parts = pl.col("conversion_id").str.splitn(_SEP, 2)
        tagged = tagged.with_columns(
            parts.struct.field("field_0").cast(pl.Int64).alias("_request"),
            parts.struct.field("field_1").alias("conversion_id"),
        )
        # channel credit per (request, model): the library's function, with the request
        # folded into the model label and unfolded after
        folded = channel_credit_from_touches(tagged.with_columns(
            (pl.col("_request").cast(pl.String) + _SEP + pl.col("model")).alias("model")))
        label = pl.col("model").str.splitn(_SEP, 2)
        channel = folded.with_columns(
            label.struct.field("field_0").cast(pl.Int64).alias("_request"),
            label.struct.field("field_1").alias("model"),
        ).sort("_request", self._order(), maintain_order=True)
        touch_by = tagged.partition_by("_request", as_dict=True, include_key=False)
        channel_by = channel.partition_by("_request", as_dict=True, include_key=False)
        empty_tc = pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA)
        empty_cc = pl.DataFrame(schema=CHANNEL_CREDIT_SCHEMA)
        return [
            JourneyScores(touch_by.get((r,), empty_tc), channel_by.get((r,), empty_cc),
                          self.labels, _unattributed(journeys))
            for r, journeys in enumerate(requests)
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
        touches = touches.join(rows, on="conversion_id", how="left").drop("conversion_id")
        journey = _with_roles(touches, conversions).select(JOURNEY_COLUMNS)
        keep = ["conversion_id", "touch_id", "contact_id", "account_id", "channel", "timestamp"]
        parts: list[pl.DataFrame] = []
        if self._rule_weights:
            names = list(self._rule_weights)
            parts.append(
                with_credit(journey, self._rule_weights)
                .select(*keep, "conversion_value", *names)
                .unpivot(on=names, index=[*keep, "conversion_value"], variable_name="model",
                         value_name="credit")
                .select(*keep, pl.col("model").str.strip_prefix(_CREDIT_PREFIX), "credit",
                        (pl.col("credit") * pl.col("conversion_value")).alias("value"))
            )
        for label, estimator in self.estimators_.items():
            parts.append(touch_credit_columns(estimator.allocate(journey), label))
        touch_credit = pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
        if self._rule_labels + list(self.estimators_) != self.labels:  # interleaved families
            touch_credit = touch_credit.sort(self._order(), maintain_order=True)
        return touch_credit.cast(TOUCH_CREDIT_SCHEMA)

    def _reference(
        self, touches: pl.DataFrame, conversions: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        # a touch log keyed by journey (as account) with prefixed touch ids, so that the same
        # touch_id sent in two journeys stays two touches; and the CRM stage events
        log = touches.select(
            (pl.col("conversion_id") + _SEP + pl.col("touch_id")).alias("touch_id"),
            "contact_id",
            pl.col("conversion_id").alias("account_id"),
            "channel",
            "timestamp",
        )
        events = [
            conversions.select(pl.col("conversion_id").alias("account_id"),
                               pl.lit(_CONVERSION_STAGE).alias("stage"), "timestamp", "value"),
            conversions.select(pl.col("conversion_id").alias("account_id"), "stage", "timestamp",
                               pl.lit(None, pl.Float64).alias("value")),
        ]
        events += [
            conversions.filter(pl.col(f"{m}_sent").is_not_null()).select(
                pl.col("conversion_id").alias("account_id"), pl.lit(m).alias("stage"),
                pl.col(f"{m}_sent").alias("timestamp"), pl.lit(None, pl.Float64).alias("value"))
            for m in _MILESTONES
        ]
        stages = pl.concat(events)
        span = touches.join(conversions.select("conversion_id", pl.col("timestamp").alias("_T")),
                            on="conversion_id").select((pl.col("_T") - pl.col("timestamp")).max())
        widest = span.item() if touches.height else None
        lookback = max(widest or timedelta(0), timedelta(0)) + timedelta(seconds=1)
        options: dict[str, Any] = {"level": "account", "conversion_stage": _CONVERSION_STAGE,
                                   "lookback": lookback}
        rule_requests = [
            req for req, run in zip(self.requests_, self.runs_, strict=True)
            if run.spec.family == "rule"
        ]
        parts: list[pl.DataFrame] = []
        if rule_requests:
            parts.append(attribute(log, stages, models=rule_requests, **options).touch_credit)
        if self.estimators_:
            touch_table = load(log, TOUCHES)
            deduped, _ = deduplicate_touches(touch_table)
            journeys = build_journeys(deduped, load(stages, STAGES).frame,
                                      level="account", conversion_stage=_CONVERSION_STAGE,
                                      lookback=lookback)
            for label, estimator in self.estimators_.items():
                allocated = estimator.allocate(journeys.touches)
                parts.append(touch_credit_columns(allocated, label))
        touch_credit = (
            pl.concat([p.cast(TOUCH_CREDIT_SCHEMA) for p in parts])
            .with_columns(
                pl.col("conversion_id").str.strip_suffix("#1"),
                pl.lit(None, pl.String).alias("account_id"),
            )
            .with_columns(  # strip the "<conversion_id><_SEP>" prefix
                pl.col("touch_id").str.slice(pl.col("conversion_id").str.len_chars() + 1)
            )
            .sort(self._order(), "conversion_id", "timestamp", "touch_id", maintain_order=True)
        )
        # summed over all models at once, as the fast engine does: per model, group-by sums
        # can differ from it in the last bit
        channel_credit = channel_credit_from_touches(touch_credit).sort(
            self._order(), maintain_order=True
        )
        return touch_credit, channel_credit.cast(CHANNEL_CREDIT_SCHEMA)


def score_journeys(
    journeys: Sequence[JourneyLike],
    *,
    models: Iterable[ModelLike],
    paths: pl.DataFrame | None = None,
    engine: Engine = "fast",
) -> JourneyScores:
    """Credit each journey's touches and channels under every requested model.

    One-shot form of :class:`JourneyScorer` (which is faster when called repeatedly).

    Parameters
    ----------
    journeys
        Each a mapping ``{"conversion": {"id", "timestamp", "value"?, "stage"?},
        "touches": [{"touch_id"?, "timestamp", "channel", "contact_id"?, "role"?}],
        "milestones"?: {"lead"?, "opportunity"?}}``; timestamps as ISO 8601 text or
        ``datetime`` (naive = UTC).
    models
        Registry names, ``(name, params)`` pairs or ``{"name", "params"}`` mappings.
    paths
        Path table to fit data-driven models on (see :func:`read_run_paths`).
    engine
        ``"fast"`` or ``"reference"``; both give the same result.

    Examples
    --------
    >>> from attribution import score_journeys
    >>> journey = {"conversion": {"id": "opp-1", "timestamp": "2025-02-01", "value": 100.0},
    ...            "touches": [{"timestamp": "2025-01-01", "channel": "linkedin"},
    ...                        {"timestamp": "2025-01-20", "channel": "email"}]}
    >>> res = score_journeys([journey], models=["first_touch"])
    >>> res.channel_credit.select("channel", "conversions", "value").rows()
    [('linkedin', 1.0, 100.0), ('email', 0.0, 0.0)]
    """
    return JourneyScorer(models=models).fit(paths).score(journeys, engine=engine)


# --- turning the request into frames ---------------------------------------------------------

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
    if not isinstance(value, str) or not value:
        raise _fail(path, f"must be a non-empty string; got {value!r}")
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


class _Times:
    """Collects timestamps (datetime or ISO text) with their field paths; parses in bulk."""

    def __init__(self) -> None:
        self.moments: list[datetime | None] = []
        self.texts: list[str | None] = []
        self.paths: list[str] = []

    def add(self, value: Any, path: str, *, required: bool = True) -> None:
        if value is None and not required:
            moment, text = None, None
        elif isinstance(value, datetime):
            moment, text = value, None
        elif isinstance(value, date):
            moment, text = datetime(value.year, value.month, value.day), None
        elif isinstance(value, str):
            moment, text = None, value
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


def _unattributed(journeys: Sequence[JourneyLike]) -> list[str]:
    return [str(j["conversion"]["id"]) for j in journeys if not j.get("touches")]


def _frames(
    journeys: Sequence[JourneyLike], *, tags: Sequence[int] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Touches (one row per touch sent) and conversions (one row per journey), checked.

    Reading the nested request is one pass over its items; everything after is columnar.
    With ``tags`` (one per journey), conversion ids become ``<tag><_SEP><id>``.
    """
    if isinstance(journeys, Mapping) or not isinstance(journeys, Sequence):
        raise _fail("journeys", "must be a list of journeys")
    conv_ids: list[str] = []
    values: list[float | None] = []
    stages: list[str] = []
    conv_times, milestone_times = _Times(), {m: _Times() for m in _MILESTONES}
    t_conv: list[int] = []
    t_ids: list[str] = []
    t_contacts: list[str | None] = []
    t_channels: list[str] = []
    t_times = _Times()
    seen_conv: set[str] = set()
    for j, journey in enumerate(journeys):
        where = f"journeys[{j}]"
        conversion = _get(journey, "conversion", where)
        cid = _text(_get(conversion, "id", f"{where}.conversion"), f"{where}.conversion.id")
        assert cid is not None
        if tags is not None:
            cid = f"{tags[j]}{_SEP}{cid}"
        if cid in seen_conv:
            raise _fail(f"{where}.conversion.id",
                        f"conversion id {cid!r} is sent twice; each journey needs its own id")
        seen_conv.add(cid)
        conv_ids.append(cid)
        conv_times.add(_get(conversion, "timestamp", f"{where}.conversion"),
                       f"{where}.conversion.timestamp")
        values.append(_number(conversion.get("value"), f"{where}.conversion.value"))
        stage = _text(conversion.get("stage"), f"{where}.conversion.stage", required=False)
        if stage == _CONVERSION_STAGE:
            raise _fail(f"{where}.conversion.stage", f"{stage!r} is not a stage name")
        stages.append(stage or "closed_won")
        milestones = journey.get("milestones") or {}
        if not isinstance(milestones, Mapping):
            raise _fail(f"{where}.milestones", "must be an object")
        unknown = sorted(set(milestones) - set(_MILESTONES))
        if unknown:
            raise _fail(f"{where}.milestones.{unknown[0]}",
                        f"is not a milestone; milestones are {', '.join(_MILESTONES)}")
        for m in _MILESTONES:
            milestone_times[m].add(milestones.get(m), f"{where}.milestones.{m}", required=False)
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
            tid = tid if tid is not None else f"touches[{k}]"
            if tid in seen_touch:
                raise _fail(f"{tw}.touch_id", f"touch_id {tid!r} is sent twice in this journey")
            seen_touch.add(tid)
            t_conv.append(j)
            t_ids.append(tid)
            t_contacts.append(_text(touch.get("contact_id"), f"{tw}.contact_id", required=False))
            channel = _text(_get(touch, "channel", tw), f"{tw}.channel")
            assert channel is not None
            t_channels.append(channel)
            t_times.add(_get(touch, "timestamp", tw), f"{tw}.timestamp")

    conversions = pl.DataFrame({
        "conversion_id": pl.Series(conv_ids, dtype=pl.String),
        "timestamp": conv_times.series("timestamp"),
        "value": pl.Series(values, dtype=pl.Float64),
        "stage": pl.Series(stages, dtype=pl.String),
        **{f"{m}_sent": milestone_times[m].series(f"{m}_sent") for m in _MILESTONES},
    })
    index = pl.Series(t_conv, dtype=pl.UInt32)
    times = t_times.series("timestamp")
    late = times > conversions.get_column("timestamp").gather(index)
    if late.any():
        i = int(late.arg_true()[0])
        raise _fail(f"{t_times.paths[i]}",
                    "touch is after its conversion; send only the touches to credit, which "
                    "happen at or before the conversion")
    touches = pl.DataFrame({
        "conversion_id": conversions.get_column("conversion_id").gather(index),
        "touch_id": pl.Series(t_ids, dtype=pl.String),
        "contact_id": pl.Series(t_contacts, dtype=pl.String),
        "account_id": pl.Series([None] * len(t_ids), dtype=pl.String),
        "channel": pl.Series(t_channels, dtype=pl.String),
        "timestamp": times,
        ROW: pl.Series(range(len(t_ids)), dtype=pl.Int64),
    })
    return touches, _with_milestones(conversions)


def _with_milestones(conversions: pl.DataFrame) -> pl.DataFrame:
    """Milestone times as the journey builder defines them, for one conversion per entity:
    the first event of the milestone's stages (the conversion event is one of its own stage),
    kept only when reached by the conversion (at or before it)."""
    reached = []
    for role, names in DEFAULT_MILESTONES.items():
        own = pl.when(pl.col("stage").is_in(list(names))).then(pl.col("timestamp"))
        sent = [pl.col(f"{role}_sent")] if role in _MILESTONES else []
        first = pl.min_horizontal(*sent, own)
        reached.append(
            pl.when(first <= pl.col("timestamp")).then(first).otherwise(None).alias(f"{role}_at")
        )
    return conversions.with_columns(pl.col("value").fill_null(0.0), *reached)
