"""Milestone stages held to the data: a milestone whose stages no event has would drop its
role from every journey in silence (W-shaped, U-shaped and full-path credit renormalised
over the other roles).

The journeys stage counts which of the run's milestone stages have an event
(:func:`milestone_stages_found`, a list of names: the partitions' lists are united); once
the whole data is counted, :func:`milestone_problems` says what is wrong: a role given in
``milestones`` none of whose stages has an event is an error naming the role, its stages
and the stage names found (with a did-you-mean); a given stage without an event beside
others that have one is a note, as is a default role without any event when a model of
the run weights milestones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from difflib import get_close_matches
from typing import Any

import polars as pl

from attribution.exceptions import InputError
from attribution.journeys._conversions import DEFAULT_MILESTONES

__all__ = ["FOUND_KEY", "check_milestone_stages", "milestone_problems", "milestone_stages_found"]

#: The reconciliation key of :func:`milestone_stages_found` (private: popped from the
#: manifest once checked).
FOUND_KEY = "_milestone_stages_found"


def _names(value: str | Sequence[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def milestone_stages_found(
    stages: pl.DataFrame, milestones: Mapping[str, str | Sequence[str]]
) -> list[str]:
    """The milestone stage names (of ``milestones``, after the stage-name mapping) that at
    least one event of ``stages`` has, sorted."""
    wanted = sorted({n for names in milestones.values() for n in _names(names)})
    if "stage" not in stages.columns or not wanted:
        return []
    found = stages.select(pl.col("stage").filter(pl.col("stage").is_in(wanted)).unique())
    return sorted(found.to_series().cast(pl.String).to_list())


def milestone_problems(
    milestones: Mapping[str, str | Sequence[str]],
    found: Sequence[str],
    stage_counts: Mapping[str, int],
    *,
    weighted: bool,
) -> tuple[list[str], list[str]]:
    """(errors, notes) of the run's milestones (all of them: defaults updated by the
    user's) against the stage names ``found`` with events; ``stage_counts`` (name ->
    events) for the message; ``weighted``: a model of the run weights milestone roles."""
    have = set(found)
    errors: list[str] = []
    notes: list[str] = []
    shown = ", ".join(f"'{k}' {v:,}" for k, v in list(stage_counts.items())[:12])
    for role, value in milestones.items():
        names = _names(value)
        missing = [n for n in names if n not in have]
        if not missing:
            continue
        default = tuple(names) == tuple(DEFAULT_MILESTONES.get(role, ()))
        if len(missing) == len(names):
            if default:
                if weighted:
                    notes.append(
                        f"milestone {role}: no stage event is {' or '.join(map(repr, names))}, "
                        f"so no touch holds the {role} role (the models weighting it "
                        "renormalise over the other roles); map the data's name in "
                        f"milestones / [milestones] {role} = [...]"
                    )
                continue
            close = get_close_matches(missing[0], list(stage_counts), n=2, cutoff=0.6)
            hint = (
                " Did you mean " + " or ".join(f"'{c}'" for c in close) + "?" if close else ""
            )
            errors.append(
                f"milestones: {role} = {names}: no stage event has "
                f"{'this name' if len(names) == 1 else 'any of these names'}, so no touch "
                f"would hold the {role} role. Stage names found (events): {shown}.{hint}"
            )
        elif not default:
            notes.append(
                f"milestone {role}: no stage event is {', '.join(map(repr, missing))} (its "
                f"other stage(s) {[n for n in names if n in have]} mark it)"
            )
    return errors, notes


def check_milestone_stages(
    milestones: Mapping[str, str | Sequence[str]],
    found: Sequence[str],
    stage_counts: Mapping[str, int],
    *,
    weighted: bool,
) -> list[str]:
    """:func:`milestone_problems`: the first error raised (an InputError of the
    ``milestones`` option), else the notes."""
    errors, notes = milestone_problems(milestones, found, stage_counts, weighted=weighted)
    if errors:
        error = InputError(errors[0] + (f" (and {len(errors) - 1} more)" if errors[1:] else ""))
        error.option = "milestones"
        raise error
    return notes


def runs_weight_milestones(runs: Sequence[Any]) -> bool:
    """Whether a model of ``runs`` weights a milestone role."""
    return any(run.needs_milestones for run in runs)
