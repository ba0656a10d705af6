"""What a state keeps of the run options (:mod:`attribution.engine._incremental`): their
values, so a night run with other options is a full recompute that names them, and a hash
of them (the state's ``fingerprint``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, cast

import polars as pl

from attribution._version import __version__
from attribution.options import RunOptions

__all__ = ["fingerprint", "option_values", "options_differ"]

NOT_FINGERPRINTED = (
    "state",
    "late_window",
    "write_to",
    "allow_empty",
    "touch_credit_layout",  # how touch_credit.parquet is laid out
    "decision_model",  # which model the economics act on
    "survey_min_proba",  # how the survey benchmark codes answers
    "survey_post_purchase_days",  # how the survey benchmark joins answers
)


def option_values(options: RunOptions) -> dict[str, Any]:
    """Everything that shapes a result but the new rows themselves, as JSON values (kept in
    the state, so a night run with other options can say which differ). Not the contacts
    table: the journeys of a per-entity night do not depend on it (the night reads it whole
    to attach accounts to the answer's touches, :mod:`attribution.engine._state_answer`), so
    a contacts table that grows every day costs no full recompute."""
    values = {
        name: getattr(options, name)
        for name in RunOptions.names()
        if name not in NOT_FINGERPRINTED
    }
    formats = values.get("timestamp_formats")
    kept_apart = ("@timezone", "@decimal_comma")  # options of their own, in the formats
    if isinstance(formats, dict) and set(kept_apart) & set(formats):
        rest = {k: v for k, v in formats.items() if k not in kept_apart}
        values["timestamp_formats"] = rest or None  # (a change names `timezone` alone)
    if values.get("timezone") in UTC_NAMES:  # the default written out: the same clock
        values["timezone"] = None
    values["models"] = [run.label for run in options.runs]
    values["version"] = __version__  # another release may build journeys otherwise
    values["polars"] = pl.__version__  # the state's path table is keyed by Polars' hash
    for name in ("channel_rules", "currency_rates"):  # files: their content, not their path
        file = getattr(options, name)
        if file is not None and Path(file).is_file():
            values[name] = hashlib.sha256(Path(file).read_bytes()).hexdigest()
    return cast(dict[str, Any], json.loads(json.dumps(values, sort_keys=True, default=str)))


#: zone names whose clock is UTC's, the clock of a run without ``timezone``: written out
#: (``--timezone UTC``, to silence the note about times without a zone) they are the same
#: option, and a state built without one is built on (new-user report 17, M3)
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"})


def fingerprint(values: dict[str, Any]) -> str:
    """A hash of :func:`option_values`."""
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def options_differ(meta: dict[str, Any], values: dict[str, Any]) -> str:
    """The full-recompute reason of a state built with other run options, naming them."""
    kept = meta.get("options")
    if not isinstance(kept, dict):  # a state written before the options were kept
        return "the run options differ from the state's"
    names = sorted(n for n in {*kept, *values} if kept.get(n) != values.get(n))
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return f"the run options differ from the state's: {shown}"
