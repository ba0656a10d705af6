"""Why a run attributed no conversion, said in the user's terms.

A run that credits nothing is almost always a mapping problem (the conversion stage is
spelled ``Closed Won`` in the data, the lookback is too short, the touches carry no contact
id). :func:`empty_reason` reads the manifest's reconciliation (the stage names found with
their counts, the touches dropped and why) and says which; the CLI prints it and exits with
its own code unless ``--allow-empty`` (``RunOptions.allow_empty``).
"""

from __future__ import annotations

from collections.abc import Mapping
from difflib import get_close_matches
from typing import Any

import polars as pl

from attribution.exceptions import EmptyResultError, InputError
from attribution.inputs._stage_names import OUR_STAGES
from attribution.report._format import duration

__all__ = [
    "IN_PYTHON",
    "ACCEPT",
    "STAGE_COUNTS_SHOWN",
    "empty_reason",
    "ids_compared",
    "refuse_empty_frame",
    "require_conversions",
    "stage_counts",
]

#: Where a hint's Python spelling starts (``attribution plan`` leaves it out).
IN_PYTHON = "In Python: "

#: Stage names kept in the reconciliation's ``stage_counts`` (the most frequent).
STAGE_COUNTS_SHOWN = 50
#: How the empty-run error ends: the one flag that accepts an empty run (the HTTP service
#: says it as the request's field ``'allow_empty'``; in Python ``allow_empty=True``).
ACCEPT = " (--allow-empty accepts an empty run)"
#: Ids shown of each side when none of them meet.
_IDS_SHOWN = 3
#: A whole number written as a float ("1.0"): an id column read as Float64 (pandas reads an
#: integer column with a blank cell as floats).
_FLOAT_ID = r"^-?\d+\.0+$"
_INT_ID = r"^-?\d+$"


def stage_counts(stages: pl.DataFrame) -> dict[str, int]:
    """Stage name -> events, the most frequent :data:`STAGE_COUNTS_SHOWN` (after the
    ``stage_names`` mapping): what the data calls its stages."""
    if "stage" not in stages.columns or stages.height == 0:
        return {}
    counted = (
        stages.group_by("stage")
        .len()
        .sort(["len", "stage"], descending=[True, False])
        .head(STAGE_COUNTS_SHOWN)
    )
    return dict(zip(counted["stage"].cast(pl.String).to_list(), counted["len"].to_list(),
                    strict=True))


def empty_reason(parameters: Mapping[str, Any], counts: Mapping[str, Any]) -> str | None:
    """Why no conversion was attributed, or None when some were (or the run is not a
    touch-log run)."""
    if "paths" in counts and "conversions_attributed" not in counts:  # a path-table run
        if float(counts.get("conversions") or 0) > 0:
            return None
        return (
            f"no conversion was attributed: the path table holds {int(counts['paths']):,} "
            f"path(s) and no conversion (conversions sum to 0; nulls "
            f"{float(counts.get('nulls') or 0):,g}): only a path with conversions > 0 is "
            "credited"
        )
    if counts.get("conversions_attributed", 1) != 0:
        return None
    stage = str(parameters.get("conversion_stage", "closed_won"))
    found: dict[str, int] = dict(counts.get("stage_counts") or {})
    conversions = int(counts.get("conversions", 0))
    if conversions == 0:
        if not found:
            return "no conversion: the stages table holds no stage event"
        level = str(parameters.get("level") or "contact")
        missing = int(dict(counts.get("stages_dropped") or {}).get(f"missing_{level}_id", 0))
        if stage in found and missing >= found[stage]:  # the events are there, their ids not
            fix = (
                "give --contacts to map contacts to accounts, or run at contact level"
                if level == "account"
                else "fill contact_id, or run at account level (--level account)"
            )
            return (
                f"no conversion: all {found[stage]:,} '{stage}' event(s) have no {level}_id "
                f"(the stages' {level}_id is blank on those rows; blank cells are missing "
                f"values): {fix}"
            )
        listed = ", ".join(f"'{name}' {n:,}" for name, n in list(found.items())[:12])
        more = f" and {len(found) - 12} more" if len(found) > 12 else ""
        return (
            f"no conversion: no stage event is the conversion stage '{stage}'. Stage names "
            f"found (events): {listed}{more}. {_stage_hint(stage, list(found))}"
        )
    reasons: list[str] = []
    touches_in = int(counts.get("touches_in", 0))
    dropped: dict[str, int] = dict(counts.get("touches_dropped") or {})
    if touches_in == 0:
        reasons.append("the touch log holds no touch")
    outside = dropped.get("outside_lookback", 0)
    if outside:
        seconds = float(parameters.get("lookback_seconds") or 0)
        window = duration(seconds) or str(parameters.get("lookback"))  # "1 second", "90 days"
        reasons.append(
            f"{outside:,} touch(es) fell outside the lookback ({window} before each "
            "conversion; a longer --lookback takes them in)"
        )
    for reason, n in dropped.items():
        if reason.startswith("missing_") and n:
            key = reason.removeprefix("missing_")
            reasons.append(f"{n:,} touch(es) have no {key} (blank cells are missing values)")
    in_null = int(counts.get("touches_in_null_paths", 0))
    if in_null:
        reasons.append(
            f"{in_null:,} touch(es) are in non-converting paths (no conversion of their "
            "entity follows within the lookback; do the touches and stages share their "
            "contact / account ids?)"
        )
    ids = counts.get("ids_compared")
    if in_null and ids:
        reasons.append(_ids_text(ids))
    same = int(counts.get("conversions_same_timestamp", 0))
    if same:
        reasons.append(f"{same:,} conversion(s) share a timestamp with an earlier one")
    detail = "; ".join(reasons) or "no touch precedes a conversion of its entity"
    return (
        f"no conversion was attributed: {conversions:,} conversion(s) of stage '{stage}', "
        f"none with a touch in its journey: {detail}"
    )


def ids_compared(
    conversions: pl.DataFrame, touches: pl.DataFrame, level: str
) -> dict[str, Any] | None:
    """When no conversion has a touch: a few ids of each side (the conversions' and the
    touches' ``<level>_id``) and whether one side's ids are whole numbers written as floats
    (``'1.0'`` where the other has ``'1'``), for :func:`empty_reason`; None when either side
    has no id column or no id."""
    key = f"{level}_id"
    if key not in conversions.columns or key not in touches.columns:
        return None
    sides = {
        "stages": conversions.get_column(key).drop_nulls().unique().sort(),
        "touches": touches.get_column(key).drop_nulls().unique().sort(),
    }
    if any(ids.len() == 0 for ids in sides.values()):
        return None
    floats = [
        name
        for name, ids in sides.items()
        for other in sides.values()
        if other is not ids
        and bool(ids.str.contains(_FLOAT_ID).all())
        and bool(other.str.contains(_INT_ID).all())
    ]
    return {
        "id": key,
        **{name: [str(x) for x in ids.head(_IDS_SHOWN).to_list()] for name, ids in sides.items()},
        "floats": floats[0] if floats else None,
    }


def _ids_text(ids: Mapping[str, Any]) -> str:
    """The ids of each side, and the float pattern when one side has it."""
    key = ids["id"]
    shown = {side: ", ".join(f"'{x}'" for x in ids[side]) for side in ("stages", "touches")}
    text = f"the stages' {key} are e.g. {shown['stages']} and the touches' {shown['touches']}"
    if side := ids.get("floats"):
        other = "touches" if side == "stages" else "stages"
        text += (
            f". The {side}' {key} are whole numbers read as floats ('{ids[side][0]}' where the "
            f"{other} have '{ids[other][0]}'): write that column as text or integers (pandas "
            "reads an integer column with a blank cell as floats: .astype('Int64') before "
            "saving)"
        )
    return text


def _stage_hint(stage: str, names: list[str]) -> str:
    """Did you mean, against the names found compared without case, spaces or dashes."""
    spelled = {n.lower().replace(" ", "_").replace("-", "_"): n for n in names}
    target = stage.lower().replace(" ", "_").replace("-", "_")
    close = [spelled[k] for k in get_close_matches(target, list(spelled), n=3, cutoff=0.5)]
    close += [n for k, n in spelled.items() if (target in k or k in target) and n not in close]
    close = close[:3]
    text = f"Did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    if close and close[0] in OUR_STAGES:  # the data already uses our name: the option is off
        return f"{text}Give it with --conversion-stage {close[0]}"
    example = close[0] if close else "Your Won Stage"
    return (
        f"{text}Map the data's name to ours in the config ([stage_names] {stage} = "
        f'["{example}"]) or give it with --conversion-stage. {IN_PYTHON}'
        f'RunOptions(stage_names={{"{stage}": ["{example}"]}}), or conversion_stage='
    )


def refuse_empty_frame(table: Any, allow_empty: bool) -> None:
    """An input frame (of :func:`attribution.attribute`) without a row is an error naming
    its table, as an empty file is, unless ``allow_empty``: a frame that a failed query or
    filter left empty attributes nothing, and the run would say so only in its notes."""
    if allow_empty or table.rows_in:
        return
    raise InputError(
        "the frame has no rows (an empty table attributes nothing)",
        table=table.spec.name if table.spec is not None else None,
        source=table.source.name,
        hint="allow_empty=True (--allow-empty) accepts an empty run",
    )


def require_conversions(manifest: Mapping[str, Any], allow_empty: bool | None = None) -> None:
    """Raise :class:`EmptyResultError` saying why, when the run attributed no conversion and
    ``allow_empty`` (None: the run's own option, the manifest's ``parameters``) is false."""
    parameters = manifest.get("parameters") or {}
    if parameters.get("allow_empty") if allow_empty is None else allow_empty:
        return
    reason = empty_reason(parameters, manifest.get("reconciliation") or {})
    if reason is not None:
        raise EmptyResultError(reason + ACCEPT)
