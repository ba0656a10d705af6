"""Channel names in model parameters (``direct_channels``, ``channel_multipliers``), spelled
as the data's channels are and checked against them.

A touch's channel is put in its one spelling before any model sees it (trimmed, whitespace
runs folded to one space, invisible characters removed, lower case:
:func:`attribution.inputs._channels.channel_spelling`), so a parameter naming a channel is
spelled the same way when the model is resolved (``Direct`` is ``direct``), then put through
the run's ``channel_aliases`` (:func:`with_aliases`), and, once the data's channels are
known, each name the user gave is held to them (:func:`check_model_channels`): a name that
is no channel of the data but is spelled close to one is an error with a did-you-mean, since
the parameter would otherwise change nothing (``direct_channels=drect`` would make
``last_non_direct`` the last touch); a name close to none is a channel this data does not
hold (a config's webinar multiplier on a month without webinars, a scorer fitted before the
channel existed): a note naming it. A default that names no channel of the data
(``direct_channels`` = ``direct`` on data without a ``direct`` channel) is a note, not an
error: the model then works as documented (every touch is non-direct).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from difflib import get_close_matches
from typing import Any

import polars as pl

from attribution.exceptions import ModelParameterError

__all__ = [
    "CHANNEL_KINDS",
    "check_model_channels",
    "model_channel_problems",
    "spell_channel_names",
    "spell_multipliers",
    "with_aliases",
]

#: The parameter kinds (see :data:`attribution.models._registry.ParamKind`) that name channels.
CHANNEL_KINDS = ("channels", "multipliers")


@functools.lru_cache(maxsize=256)
def _spelled(names: tuple[str, ...]) -> tuple[str, ...]:
    from attribution.inputs._channels import channel_spelling  # no import cycle at load

    if not names:
        return ()
    column = pl.select(channel_spelling(pl.lit(pl.Series(list(names), dtype=pl.String))))
    return tuple(column.to_series().to_list())


def spell_channel_names(names: Sequence[str], where: str) -> tuple[str, ...]:
    """``names`` in the one spelling of channel names, each once, in the order given; a
    blank name is a ModelParameterError led by ``where``."""
    spelled = _spelled(tuple(names))
    blank = [name for name, one in zip(names, spelled, strict=True) if not one]
    if blank:
        raise ModelParameterError(f"{where} names a blank channel: {blank[0]!r}")
    return tuple(dict.fromkeys(spelled))


def spell_multipliers(multipliers: Mapping[str, float], where: str) -> dict[str, float]:
    """``{channel: multiplier}`` with each channel in its one spelling; two names of one
    channel with different multipliers (``Email`` 2 and ``email`` 3) are an error."""
    names = list(multipliers)
    spell_channel_names(names, where)  # a blank name is an error
    out: dict[str, float] = {}
    first: dict[str, str] = {}
    for name, one in zip(names, _spelled(tuple(names)), strict=True):
        if one in out and out[one] != multipliers[name]:
            raise ModelParameterError(
                f"{where} gives channel '{one}' two multipliers: {first[one]!r} "
                f"{out[one]:g} and {name!r} {multipliers[name]:g} (channel names are compared "
                "trimmed and lower case)"
            )
        first.setdefault(one, name)
        out[one] = multipliers[name]
    return out


def _channel_params(run: Any) -> Iterable[tuple[str, Any, bool]]:
    """(parameter name, value, given by the user) of each channel-naming parameter of a
    :class:`~attribution.models._registry.ModelRun`."""
    for param in run.spec.params:
        if param.kind not in CHANNEL_KINDS:
            continue
        value = run.params.get(param.name)
        default = param.default
        if param.kind == "channels":
            default = tuple(default)
            given = tuple(value) != _spelled(default)
        else:
            given = dict(value or {}) != dict(default or {})
        yield param.name, value, given


def with_aliases(runs: Sequence[Any], aliases: Mapping[str, str]) -> list[Any]:
    """``runs`` with the channel names of their parameters put through ``channel_aliases``
    (``{the data's spelling: ours}``, both spelled), as the touches' channels are."""
    if not aliases:
        return list(runs)
    out = []
    for run in runs:
        params = dict(run.params)
        for name, value, _ in _channel_params(run):
            if isinstance(value, tuple):
                params[name] = tuple(dict.fromkeys(aliases.get(v, v) for v in value))
            elif isinstance(value, Mapping):
                params[name] = {aliases.get(k, k): v for k, v in value.items()}
        out.append(replace(run, params=params) if params != run.params else run)
    return out


def model_channel_problems(
    runs: Sequence[Any], channels: Sequence[str]
) -> tuple[list[str], list[str]]:
    """(errors, notes) of the channel names in ``runs``' parameters against the data's
    ``channels``: a name the user gave that is no channel of the data is an error when it is
    spelled close to one (a did-you-mean), else a note; a default one (``direct``) a note."""
    known = set(channels)
    errors: list[str] = []
    notes: list[str] = []
    for run in runs:
        for name, value, given in _channel_params(run):
            names = list(value or ())
            missing = [n for n in names if n not in known]
            if not missing:
                continue
            if not given:
                if getattr(run.build(), "last_non_direct", 0) <= 0:
                    continue  # a default the model does not read (custom without the role)
                same = (
                    "it credits as last_touch does"
                    if run.spec.name == "last_non_direct"
                    else "its last-non-direct share goes to the last touch"
                )
                notes.append(
                    f"{run.label}: {name} {', '.join(map(repr, missing))} is no channel of the "
                    f"data, so no touch counts as direct there: {same}; give the data's "
                    f"direct channel with {run.spec.name}:{name}=... if it is named otherwise"
                )
                continue
            for one in missing:
                close = get_close_matches(one, sorted(known), n=2, cutoff=0.6)
                said = (f"model {run.label}: {name} names '{one}', which is no channel of the "
                        "data (channel names are compared trimmed and lower case)")
                if close:  # a typo of a channel there: the run would credit without it
                    errors.append(
                        f"{said}; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
                    )
                else:  # a channel this data does not hold (a month without webinars)
                    notes.append(
                        f"{said}, so it changes nothing here; the channels there: "
                        + ", ".join(f"'{c}'" for c in sorted(known)[:20])
                        + (" ..." if len(known) > 20 else "")
                    )
    return errors, notes


def check_model_channels(runs: Sequence[Any], channels: Sequence[str]) -> list[str]:
    """:func:`model_channel_problems`: the first error raised as a ModelParameterError (so
    no run credits with a parameter that changes nothing), else the notes."""
    errors, notes = model_channel_problems(runs, channels)
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ModelParameterError(errors[0] + more)
    return notes
