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

__all__ = [
    "FOUND_KEY",
    "TYPES_KEY",
    "check_found_names",
    "check_milestone_stages",
    "check_touch_types_found",
    "milestone_problems",
    "milestone_stages_found",
    "names_found",
    "touch_types_found",
]

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


# --- touch types ------------------------------------------------------------------------------
#: The reconciliation key of :func:`touch_types_found` (private, popped as :data:`FOUND_KEY`).
TYPES_KEY = "_touch_types_found"


def touch_types_found(touches: pl.DataFrame, excluded: Sequence[str]) -> list[str]:
    """With ``exclude_touch_types`` given, the distinct ``touch_type`` values of ``touches``
    (trimmed, lower case, as the option compares them), sorted; else none."""
    if not excluded or "touch_type" not in touches.columns:
        return []
    spelled = pl.col("touch_type").str.strip_chars().str.to_lowercase()
    found = touches.select(spelled.unique().drop_nulls())
    return sorted(found.to_series().to_list())


def check_touch_types_found(excluded: Sequence[str], found: Sequence[str]) -> None:
    """An ``exclude_touch_types`` value no touch has (a typo: it would leave nothing out)
    is an InputError of the option with a did-you-mean among the touch types found."""
    have = set(found)
    missing = [name for name in excluded if name not in have]
    if not missing:
        return
    named = []
    for name in missing:
        close = get_close_matches(name, sorted(have), n=2, cutoff=0.6)
        named.append(f"'{name}'" + (
            " (did you mean " + " or ".join(f"'{c}'" for c in close) + "?)" if close else ""
        ))
    shown = ", ".join(f"'{t}'" for t in sorted(have)[:20]) + (" ..." if len(have) > 20 else "")
    shown = shown or "none: every touch_type is blank"
    error = InputError(
        f"exclude_touch_types: {', '.join(named)} "
        f"{'is the touch_type' if len(missing) == 1 else 'are the touch_types'} of no touch "
        f"and would leave nothing out; touch types there: {shown}"
    )
    error.option = "exclude_touch_types"
    raise error


def names_found(touches: pl.DataFrame, stages: pl.DataFrame, options: Any) -> dict[str, list[str]]:
    """The journeys stage's counts of the names the run was given (a part's: the partitions'
    lists are united): the milestone stages with an event (``stages`` after the stage-name
    mapping) and, with ``exclude_touch_types``, the touch types (``touches`` before the
    exclusion)."""
    return {
        FOUND_KEY: milestone_stages_found(stages, options.all_milestones),
        TYPES_KEY: touch_types_found(touches, options.exclude_touch_types),
    }


def check_found_names(
    counts: dict[str, Any], parameters: Mapping[str, Any], runs: Sequence[Any]
) -> tuple[dict[str, Any], list[str]]:
    """``counts`` without the keys of :func:`names_found`, and the notes of checking them
    (:func:`check_milestone_stages`, :func:`check_touch_types_found`: errors raised) against
    the run's ``parameters`` (as the manifest holds them). Not on an incremental night, whose
    older state may lack the counts."""
    found, types = counts.get(FOUND_KEY), counts.get(TYPES_KEY)
    counts = {k: v for k, v in counts.items() if k not in (FOUND_KEY, TYPES_KEY)}
    night = parameters.get("incremental")
    if isinstance(night, Mapping) and night.get("mode") != "full":
        return counts, []
    notes: list[str] = []
    if found is not None:
        notes = check_milestone_stages(
            parameters.get("milestones") or {}, found, counts.get("stage_counts") or {},
            weighted=runs_weight_milestones(runs),
        )
    if types is not None:
        check_touch_types_found(parameters.get("exclude_touch_types") or (), types)
    return counts, notes
