"""The model registry: one table of every model, read by the API, the CLI, the docs and the service.

A model is requested as a name (``"linear"``), a ``(name, params)`` pair
(``("time_decay", {"half_life": "1d"})``) or, on the command line, a string
``"time_decay:half_life=1d"`` (``;``-separated for several parameters, lists with ``|``).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, SupportsIndex

import numpy as np

from attribution.exceptions import InputError, ModelNotFoundError, ModelParameterError, did_you_mean
from attribution.inputs._durations import parse_duration
from attribution.models._channel_params import CHANNEL_KINDS, spell_channel_names, spell_multipliers
from attribution.models._rules import BUILTIN, WEIGHT_MAX, WEIGHT_MIN, RoleWeights, weight_problem

Family = Literal["rule", "data"]
#: How much room the report gives a model: ``headline`` models are the candidates for the
#: figures shown under one model (CAC, data-driven first) and, with ``shown`` ones, are
#: drawn first in crowded charts; ``legend`` models sit in the legend, one click away.
Prominence = Literal["headline", "shown", "legend"]
ParamKind = Literal["float", "int", "bool", "duration", "channels", "multipliers", "choice"]


@dataclass(frozen=True)
class Param:
    """One model parameter: name, kind, default, allowed range and a line of documentation."""

    name: str
    kind: ParamKind
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False  # None allowed
    smallest: float | None = None  # a float that is not 0 is at least this

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "default": self.default,
            "doc": self.doc,
        }
        if self.choices:
            out["choices"] = list(self.choices)
        if self.low is not None or self.high is not None:
            out["range"] = [self.low, self.high]
        if self.smallest is not None:
            out["smallest_nonzero"] = self.smallest
        return out

    def constraint(self) -> str:
        """What a valid value is, as the error messages say it (``"an int in [1, 4]"``)."""
        if self.kind == "choice":
            return "a str among {" + ", ".join(map(repr, self.choices)) + "}"
        article = "an" if self.kind == "int" else "a"
        if self.kind in ("int", "float") and (self.low is not None or self.high is not None):
            low = "-inf" if self.low is None else self.low
            high = "inf" if self.high is None else self.high
            zero = f" (0 or at least {self.smallest:g})" if self.smallest is not None else ""
            return f"{article} {self.kind} in [{low}, {high}]{zero}"
        return f"{article} {self.kind}"

    def check(self, value: Any, *, owner: str, given: Any = None) -> Any:
        """Return ``value`` if it is valid as it stands, else raise
        :class:`~attribution.exceptions.ModelParameterError` in scikit-learn's words.

        The one check of a parameter's type, range and choices: a model class calls it in
        ``fit`` on what its ``__init__`` stored (no conversion: ``order=1.0`` is refused),
        and :func:`resolve` on the value it parsed from a request. ``owner`` names the model
        in the message (``MarkovModel``, ``markov``); ``given``, the value as a request wrote
        it (``"0"``), is what the message shows when there is one.

        Examples
        --------
        >>> from attribution import get_model
        >>> order = get_model("markov").params[0]
        >>> order.check(2, owner="MarkovModel")
        2
        >>> order.check(0, owner="MarkovModel")
        Traceback (most recent call last):
        ...
        attribution.exceptions.ModelParameterError: The 'order' parameter of MarkovModel must \
be an int in [1, 4]. Got 0 instead.
        """
        if value is None and self.optional:
            return None
        if self.kind == "int":
            valid = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
        elif self.kind == "float":
            valid = (
                isinstance(value, int | float | np.integer | np.floating)
                and not isinstance(value, bool | np.bool_)
                and math.isfinite(value)
            )
        elif self.kind == "bool":
            valid = isinstance(value, bool)
        elif self.kind == "choice":
            valid = isinstance(value, str) and value in self.choices
        else:  # durations, channel lists and multipliers have no range: their parse checks them
            return _parse(owner, self, value)
        if valid and self.kind in ("int", "float"):
            valid = (self.low is None or value >= self.low) and (
                self.high is None or value <= self.high
            )
            if self.smallest is not None and value != 0:
                valid = valid and value >= self.smallest
        if not valid:
            raise ModelParameterError(
                f"The '{self.name}' parameter of {owner} must be {self.constraint()}. "
                f"Got {value if given is None else given!r} instead."
            )
        return value


@dataclass(frozen=True)
class ModelSpec:
    """A registered model."""

    name: str
    family: Family
    summary: str
    params: tuple[Param, ...]
    build: Callable[[dict[str, Any]], Any]
    needs_timestamps: bool = False
    needs_milestones: bool = False
    #: run by default (CLI without --model, demo, service runs without models); False for
    #: models that mean nothing without the user's own parameters, like ``custom``
    in_defaults: bool = True
    #: how much room the report gives the model (see :data:`Prominence`)
    prominence: Prominence = "legend"

    def __reduce_ex__(self, protocol: SupportsIndex) -> str | tuple[Any, ...]:
        # A registered spec pickles by name: it holds its build function (often a lambda),
        # and the process that unpickles it (a Spark task) has the same registry. Any other
        # spec pickles field by field (its build function must then be picklable).
        if _REGISTRY.get(self.name) is self:
            return get_model, (self.name,)
        return super().__reduce_ex__(protocol)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "family": self.family,
            "summary": self.summary,
            "needs_timestamps": self.needs_timestamps,
            "needs_milestones": self.needs_milestones,
            "params": [p.describe() for p in self.params],
        }


@dataclass(frozen=True)
class ModelRun:
    """A model with validated parameters, ready to apply; ``label`` names it in outputs.

    It pickles as its spec's name, its parameters and its label: unpickling does not parse
    or check the request again."""

    spec: ModelSpec
    params: dict[str, Any]
    label: str

    def build(self) -> Any:
        return self.spec.build(self.params)

    @property
    def needs_timestamps(self) -> bool:
        return self.spec.needs_timestamps or (
            self.spec.family == "rule" and self.build().needs_timestamps
        )

    @property
    def needs_milestones(self) -> bool:
        return self.spec.needs_milestones or (
            self.spec.family == "rule" and self.build().needs_milestones
        )


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model to the registry (names are unique)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"model '{spec.name}' is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def available_models() -> dict[str, ModelSpec]:
    """Every registered model, by name, in registration order."""
    return dict(_REGISTRY)


def default_models(*, paths_only: bool = False) -> list[str]:
    """The models run when none are named; ``paths_only``: those a path table can feed
    (no timestamps or milestones needed)."""
    out = []
    for name, spec in _REGISTRY.items():
        if not spec.in_defaults:
            continue
        run = resolve(name)
        if paths_only and (run.needs_timestamps or run.needs_milestones):
            continue
        out.append(name)
    return out


def get_model(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelNotFoundError(
            f"unknown model '{name}'; {did_you_mean(name, list(_REGISTRY))}"
        ) from None


# --- parameters -------------------------------------------------------------------------------


def _coerce(spec: ModelSpec, param: Param, value: Any) -> Any:
    """A request's value (a string from the command line, JSON from the service) parsed to
    the parameter's kind, then held to :meth:`Param.check`."""
    if value is None and not param.optional:
        raise ModelParameterError(f"The '{param.name}' parameter of {spec.name} cannot be empty.")
    if value is None:
        return None
    return param.check(_parse(spec.name, param, value), owner=spec.name, given=value)


def _parse(owner: str, param: Param, value: Any) -> Any:
    """``value`` converted to the Python type of ``param.kind`` (no range or choice check)."""
    where = f"The '{param.name}' parameter of {owner}"
    try:
        if param.kind == "float":
            if isinstance(value, bool):
                raise TypeError
            out: Any = float(value)
            if not math.isfinite(out):
                raise ModelParameterError(
                    f"{where} must be a finite number. Got {value!r} instead."
                )
        elif param.kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            out = int(value)
        elif param.kind == "bool":
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise TypeError
                out = value.lower() in ("true", "1", "yes")
            elif isinstance(value, bool):
                out = value
            else:
                raise TypeError
        elif param.kind == "duration":
            out = parse_duration(value, name=param.name)
        elif param.kind == "channels":
            if isinstance(value, str):
                value = [v for v in value.split("|") if v]
            if isinstance(value, Mapping) or not all(isinstance(v, str) for v in value):
                raise TypeError
            out = spell_channel_names(list(value), where)  # as the data's channels are
        elif param.kind == "multipliers":
            if isinstance(value, str):  # "linkedin=2|direct=0.5"
                value = dict(item.split("=", 1) for item in value.split("|") if item)
            if not isinstance(value, Mapping):
                raise TypeError
            out = {str(k): float(v) for k, v in value.items()}
            for channel, number in out.items():
                problem = weight_problem(number)
                if problem:
                    raise ModelParameterError(
                        f"{where} must hold non-negative multipliers of at most "
                        f"{WEIGHT_MAX:g}: the multiplier of {channel!r} {problem}. "
                        f"Got {value[channel] if channel in value else number!r} instead."
                    )
            out = spell_multipliers(out, where)
        elif param.kind == "choice":
            out = str(value)
        else:  # pragma: no cover - kinds are a closed set
            raise TypeError
    except ModelParameterError:
        raise
    except InputError as exc:  # parse_duration's own message says what is wrong
        raise ModelParameterError(f"{where}: {exc}") from exc
    except (TypeError, ValueError, AttributeError) as exc:
        raise ModelParameterError(
            f"{where} must be of kind {param.kind}. Got {value!r} instead."
        ) from exc
    return out


def resolve(model: str | tuple[str, Mapping[str, Any]] | Mapping[str, Any]) -> ModelRun:
    """Turn a model request into a validated :class:`ModelRun`."""
    if isinstance(model, str):
        name, params = parse_model_string(model)
    elif (
        isinstance(model, tuple)
        and len(model) == 2
        and isinstance(model[0], str)
        and (model[1] is None or isinstance(model[1], Mapping))
    ):
        name, params = model[0], dict(model[1] or {})
    elif isinstance(model, Mapping) and "name" in model:
        name, params = model["name"], dict(model.get("params") or {})
    else:
        raise ModelParameterError(
            f"a model is a name, a (name, params) pair or {{'name', 'params'}}; got {model!r}"
        )
    spec = get_model(name)
    known = {p.name: p for p in spec.params}
    for key in params:
        if key not in known:
            valid = ", ".join(known) or "none"
            raise ModelParameterError(
                f"{spec.name} has no parameter '{key}'; its parameters: {valid}"
            )
    values = {p.name: _coerce(spec, p, params.get(p.name, p.default)) for p in spec.params}
    changed = {
        k: values[k] if known[k].kind in CHANNEL_KINDS else v  # channels as spelled
        for k, v in params.items()
        if k in known
    }
    label = spec.name
    if changed:
        label += "(" + ",".join(f"{k}={_show(v)}" for k, v in sorted(changed.items())) + ")"
    run = ModelRun(spec, values, label)
    run.build()  # cross-parameter checks fail here, early
    return run


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "|".join(map(str, value))
    if isinstance(value, Mapping):
        return "|".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in value.items())
    return str(value)


def resolve_all(models: Iterable[Any]) -> list[ModelRun]:
    """Resolve a list of model requests; labels must be unique."""
    if isinstance(models, str) or (
        isinstance(models, tuple)
        and len(models) == 2
        and isinstance(models[0], str)
        and (models[1] is None or isinstance(models[1], Mapping))
    ):
        models = [models]
    runs = [resolve(m) for m in models]
    if not runs:
        raise ModelParameterError(
            "no models requested; available: " + ", ".join(available_models())
        )
    labels = [r.label for r in runs]
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ModelParameterError(f"model(s) requested twice: {', '.join(dup)}")
    return runs


def parse_model_string(text: str) -> tuple[str, dict[str, str]]:
    """``"markov:order=2;collapse_repeats=false"`` -> ``("markov", {...})``."""
    name, _, rest = text.strip().partition(":")
    params: dict[str, str] = {}
    for item in filter(None, (s.strip() for s in rest.split(";"))):
        key, eq, value = item.partition("=")
        if not eq:
            raise ModelParameterError(
                f"model parameters are written key=value; got '{item}' in '{text}'"
            )
        params[key.strip()] = value.strip()
    return name.strip(), params


# --- the built-in rule-based models -----------------------------------------------------------


def _fixed(weights: RoleWeights) -> Callable[[dict[str, Any]], RoleWeights]:
    return lambda _params: weights


def _position_based(p: dict[str, Any]) -> RoleWeights:
    if p["first"] + p["last"] > 1:
        raise ModelParameterError(
            "The 'first' and 'last' parameters of position_based must sum to at most 1. "
            f"Got {p['first']} + {p['last']} instead."
        )
    return RoleWeights(first=p["first"], last=p["last"], others=1 - p["first"] - p["last"])


def _custom(p: dict[str, Any]) -> RoleWeights:
    weights = {
        k: p[k]
        for k in ("first", "last", "lead", "opportunity", "closed_won", "last_non_direct", "others")
    }
    if sum(weights.values()) <= 0:
        raise ModelParameterError(
            "custom needs at least one positive role weight (first, last, lead, opportunity, "
            "closed_won, last_non_direct, others). Got all zero instead."
        )
    return RoleWeights(
        **weights,
        half_life=p["half_life"],
        channel_multipliers=p["channel_multipliers"],
        direct_channels=p["direct_channels"],
    )


def _weight(name: str, default: float, doc: str) -> Param:
    return Param(name, "float", default, doc, low=0.0, high=WEIGHT_MAX, smallest=WEIGHT_MIN)


#: the rule-based models the report shows first (see :data:`Prominence`)
_PROMINENCE: dict[str, Prominence] = {
    "first_touch": "shown",
    "last_touch": "shown",
    "linear": "headline",
    "w_shaped": "headline",
}

_DIRECT = Param(
    "direct_channels", "channels", ("direct",), "channels treated as direct (last_non_direct role)"
)

_SUMMARIES = {
    "first_touch": "All credit to the first touch of the journey.",
    "last_touch": "All credit to the last touch before the conversion.",
    "last_non_direct": "All credit to the last touch not on a direct channel (all direct: last).",
    "linear": "Equal credit to every touch (repeats count).",
    "position_based": "GA-style U: 40% first, 40% last, 20% split over the middle.",
    "u_shaped": "B2B U: 40% first touch, 40% lead-creation touch, 20% over the others.",
    "w_shaped": "30% first, 30% lead creation, 30% opportunity creation, 10% over the others.",
    "full_path": "Z-shaped: 22.5% each to first, lead, opportunity and closed-won touches, 10% "
    "over the others.",
    "j_shaped": "20% first, 60% last, 20% over the others.",
    "inverse_j": "60% first, 20% last, 20% over the others.",
    "time_decay": "Weight 2^(-(T - t) / half_life), normalised per journey.",
}

for _name, _weights in BUILTIN.items():
    if _name == "position_based":
        register(
            ModelSpec(
                _name,
                "rule",
                _SUMMARIES[_name],
                (
                    _weight("first", 0.4, "weight of the first touch"),
                    _weight("last", 0.4, "weight of the last touch"),
                ),
                _position_based,
            )
        )
    elif _name == "last_non_direct":
        register(
            ModelSpec(
                _name,
                "rule",
                _SUMMARIES[_name],
                (_DIRECT,),
                lambda p: RoleWeights(last_non_direct=1.0, direct_channels=p["direct_channels"]),
            )
        )
    elif _name == "time_decay":
        register(
            ModelSpec(
                _name,
                "rule",
                _SUMMARIES[_name],
                (Param("half_life", "duration", "7d", "time for a touch's weight to halve"),),
                lambda p: RoleWeights(others=1.0, half_life=p["half_life"]),
                needs_timestamps=True,
            )
        )
    else:
        register(
            ModelSpec(
                _name,
                "rule",
                _SUMMARIES[_name],
                (),
                _fixed(_weights),
                needs_milestones=_weights.needs_milestones,
                prominence=_PROMINENCE.get(_name, "legend"),
            )
        )

register(
    ModelSpec(
        "custom",
        "rule",
        "Your own role weights, optionally times time decay and per-channel multipliers.",
        (
            _weight("first", 0.0, "weight of the first touch"),
            _weight("last", 0.0, "weight of the last touch"),
            _weight("lead", 0.0, "weight of the lead-creation touch"),
            _weight("opportunity", 0.0, "weight of the opportunity-creation touch"),
            _weight("closed_won", 0.0, "weight of the closed-won touch"),
            _weight("last_non_direct", 0.0, "weight of the last non-direct touch"),
            _weight("others", 1.0, "weight split over touches holding no role"),
            Param("half_life", "duration", None, "optional time-decay half-life", optional=True),
            Param(
                "channel_multipliers",
                "multipliers",
                {},
                "per-channel multipliers, e.g. {'direct': 0.5}",
            ),
            _DIRECT,
        ),
        _custom,
        in_defaults=False,  # needs the user's weights to mean anything
    )
)


# --- the data-driven models -------------------------------------------------------------------
# Each is a class of :class:`attribution.models._estimator.PathModel` whose ``registry_name`` is
# its entry here: ``fit`` checks the parameters against these ``Param``s, nothing else.


def _learned(module: str, name: str) -> Callable[[dict[str, Any]], Any]:
    """Build the model class ``name`` of ``module`` from the validated parameters (its
    keyword arguments are the entry's parameter names). Imported on first use, so
    ``import attribution`` does not load SciPy."""

    def build(params: dict[str, Any]) -> Any:
        return getattr(importlib.import_module(module), name)(**params)

    return build


register(
    ModelSpec(
        "markov",
        "data",
        "Markov chain of order k, solved exactly; credit by removal effect.",
        (
            Param("order", "int", 1, "states are the last k channels", low=1, high=4),
            Param("collapse_repeats", "bool", True, "collapse consecutive repeats of a channel"),
            Param("use_nulls", "bool", True, "use non-converting paths (else: visit probability)"),
        ),
        _learned("attribution.models._markov", "MarkovModel"),
        prominence="headline",
    )
)
register(
    ModelSpec(
        "shapley",
        "data",
        "Exact Shapley values over observed channel coalitions.",
        (
            Param(
                "value",
                "choice",
                "rate",
                "p(S): conversion rate or conversion count",
                choices=("rate", "count"),
            ),
            Param(
                "max_channels",
                "int",
                None,
                "refuse journeys with more distinct channels than this (default: no limit; "
                "the exact value needs only the observed coalitions)",
                low=1,
                optional=True,
            ),
        ),
        _learned("attribution.models._shapley", "ShapleyModel"),
        prominence="headline",
    )
)
register(
    ModelSpec(
        "counterfactual",
        "data",
        "Fractribution: each touch's counterfactual lift in its path's conversion rate.",
        (
            Param(
                "transform",
                "choice",
                "unique",
                "path transform before counting",
                choices=("unique", "exposure", "first", "frequency"),
            ),
        ),
        _learned("attribution.models._counterfactual", "CounterfactualModel"),
    )
)
