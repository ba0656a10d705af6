"""Stage names as exports spell them: ``closed_won``, ``Closed_Won`` and `` closed_won``
are one stage.

A CRM pick-list drifts (an admin renames a value, Excel pads a cell), and a stage event
whose name differs from the conversion stage only by case or spaces would otherwise not be
a conversion: 19 of 30 wins left out with exit 0 in the new-user test. So a stage value is
compared with the names the run knows -- the conversion stage, the milestones' stages,
``[stage_names]`` (ours and theirs) and the default stages (``lead``, ``mql``, ``sql``,
``opportunity``, ``closed_won``, ``closed_lost``) -- in the channels' spelling (trimmed,
runs of whitespace as one space, lower case: ``name_spelling``),
and a value equal to one of them in that spelling becomes it. Other values are kept as
written (``Closed Won`` is not ``closed_won``: a space is not an underscore; the empty run's
did-you-mean names it). The values renamed and their events are counted in the manifest's
reconciliation (``stage_values_renamed``, ``stage_events_renamed``) and printed.

The work is on the distinct values (a stages table has a few dozen names).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import polars as pl

from attribution.exceptions import InputError, did_you_mean
from attribution.inputs._channels import name_spelling, spell_name

__all__ = [
    "MILESTONE_ROLES",
    "OUR_STAGES",
    "canonical_stage",
    "check_milestones",
    "map_stage_names",
    "stage_renames",
]

#: Our stage names (the defaults of the milestones, the funnel and the conversion stage).
OUR_STAGES = ("lead", "mql", "sql", "opportunity", "closed_won", "closed_lost")


#: The milestone roles (``milestones`` keys; ``[milestones]`` in a config).
MILESTONE_ROLES = ("lead", "opportunity", "closed_won")


def canonical_stage(name: str, stage_names: Mapping[str, str | Sequence[str]] | None) -> str:
    """A stage name the run is given (the conversion stage, a milestone's stage) in the
    run's own spelling, as a stage value of the data is compared (see the module
    docstring): equal once trimmed, whitespace-folded and lower-cased to one of ours (the
    default stages, ``stage_names``' keys) it is that name (``Closed_Won`` is
    ``closed_won``); equal so to a data name of ``stage_names`` it is the name that maps to
    (``{"closed_won": "Closed Won"}``: ``closed won`` is ``closed_won``); else as given."""
    targets: dict[str, str] = {}
    for theirs, ours in stage_renames(stage_names).items():
        targets.setdefault(spell_name(theirs), ours)
    for ours in (*(stage_names or {}), *OUR_STAGES):
        targets.setdefault(spell_name(ours), ours)
    if name in targets.values():
        return name
    return targets.get(spell_name(name), name)


def check_milestones(
    milestones: Mapping[str, str | Sequence[str]] | None,
    stage_names: Mapping[str, str | Sequence[str]] | None,
) -> dict[str, list[str]] | None:
    """``milestones`` (role -> stage name or names) checked: a role among
    :data:`MILESTONE_ROLES` (else a did-you-mean, as ``[milestones]`` in a config), each
    stage a non-blank name, in the run's spelling (:func:`canonical_stage`)."""
    if milestones is None:
        return None
    out: dict[str, list[str]] = {}
    for role, names in milestones.items():
        if role not in MILESTONE_ROLES:
            raise InputError(
                f"milestones: unknown role {role!r}; "
                f"{did_you_mean(str(role), list(MILESTONE_ROLES))}"
            )
        listed = [names] if isinstance(names, str) else names
        if (
            isinstance(listed, Mapping)
            or not isinstance(listed, Sequence)
            or not all(isinstance(n, str) and n.strip() for n in listed)
        ):
            raise InputError(
                f"milestones: {role} must be a stage name or a list of them; got {names!r}"
            )
        out[role] = list(dict.fromkeys(canonical_stage(n, stage_names) for n in listed))
    return out


def stage_renames(stage_names: Mapping[str, str | Sequence[str]] | None) -> dict[str, str]:
    """Config ``{ours: theirs or [theirs...]}`` -> ``{theirs: ours}``."""
    out: dict[str, str] = {}
    for ours, theirs in (stage_names or {}).items():
        for name in [theirs] if isinstance(theirs, str) else theirs:
            out[name] = ours
    return out


def map_stage_names(
    frame: pl.DataFrame,
    stage_names: Mapping[str, str | Sequence[str]] | None,
    known: Iterable[str] = (),
) -> tuple[pl.DataFrame, dict[str, str], int]:
    """``frame``'s ``stage`` mapped to the run's names: ``stage_names`` (ours -> theirs),
    then any value equal to a name the run knows (``known``: the conversion stage, the
    milestones' stages; ours and the defaults always) once trimmed, whitespace-folded and
    lower-cased. Returns the frame, ``{as written: as used}`` for the values that changed,
    and their events."""
    if "stage" not in frame.columns or frame.height == 0:
        return frame, {}, 0
    exact = stage_renames(stage_names)
    names = [*known, *(stage_names or {}), *OUR_STAGES]
    targets: dict[str, str] = {}
    for theirs, ours in exact.items():
        targets.setdefault(spell_name(theirs), ours)
    for name in names:
        targets.setdefault(spell_name(name), name)
    keep = set(names)  # a value spelled as the run spells a name stays as it is
    distinct = frame.select(pl.col("stage").unique().drop_nulls().alias("raw"))
    used = (
        pl.when(pl.col("raw").is_in(list(exact)))
        .then(pl.col("raw").replace_strict(exact, default=pl.col("raw")))
        .when(pl.col("raw").is_in(list(keep)))
        .then(pl.col("raw"))
        .otherwise(
            name_spelling(pl.col("raw")).replace_strict(targets, default=pl.col("raw"))
        )
    )
    renamed = distinct.with_columns(used.alias("used")).filter(pl.col("raw") != pl.col("used"))
    if renamed.height == 0:
        return frame, {}, 0
    mapping = dict(renamed.sort("raw").iter_rows())
    events = int(frame.select(pl.col("stage").is_in(list(mapping)).sum()).item())
    return frame.with_columns(pl.col("stage").replace(mapping)), mapping, events
