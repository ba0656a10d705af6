"""The buying committee: the roles a deal needs, checked once, and how many of them a list of
engaged roles covers (``required_roles_covered``, ``coverage`` as ``"3 of 4"``,
``missing_roles``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

import polars as pl

from attribution.exceptions import InputError, did_you_mean
from attribution.journeys._contacts import UNKNOWN_ROLE, contact_roles, normalise_role

if TYPE_CHECKING:
    from attribution.options import RunOptions

__all__ = [
    "DEFAULT_REQUIRED_ROLES",
    "check_roles_held",
    "check_run_roles",
    "check_required_roles",
    "coverage_text",
    "missing_roles",
    "roles_covered",
]

#: The roles a deal's buying committee needs (coverage is counted against them).
DEFAULT_REQUIRED_ROLES: Final = ("decision_maker", "champion", "finance", "user")


def check_required_roles(required_roles: Sequence[str]) -> tuple[str, ...]:
    """Normalise (as contact roles are) and de-duplicate; at least one role."""
    if isinstance(required_roles, str):
        required_roles = [required_roles]
    roles = pl.Series("role", [str(r) for r in required_roles], dtype=pl.String)
    out = tuple(
        dict.fromkeys(roles.to_frame().select(normalise_role(pl.col("role")).alias("role"))["role"])
    )
    if not out or UNKNOWN_ROLE in out:
        raise InputError(
            "required_roles must name at least one role, and not 'unknown' or a blank one; "
            f"got {list(required_roles)!r}"
        )
    return out


def check_roles_held(
    contacts: pl.DataFrame | None,
    required: tuple[str, ...] | None,
    multipliers: Mapping[str, float] | None,
    source: str = "the contacts table",
) -> None:
    """A role the run was given (``required`` roles, ``multipliers``' roles; both already
    normalised; ``None``: the defaults, not checked) that no contact holds is an
    InputError naming the option, with a did-you-mean and the roles the contacts hold: a
    misspelled role would make every deal "0 of N" and its multiplier do nothing.
    ``unknown`` (the role of contacts without one) is always held."""
    held = sorted(set(contact_roles(contacts).get_column("role").to_list()))
    for option, flag, roles in (
        ("required_roles", "--required-roles", required or ()),
        ("role_multipliers", "--role-multipliers", [r for r in multipliers or {}]),
    ):
        missing = [r for r in roles if r != UNKNOWN_ROLE and r not in held]
        if not missing:
            continue
        where = (
            f"no contact in {source} has it"
            if held
            else f"{source} gives no contact a role"
            if contacts is not None
            else "the run has no contacts table (--contacts, with a role column)"
        )
        hint = ""
        if held:
            close = did_you_mean(missing[0], held)
            hint = ("" if close.startswith("available") else close + " ") + (
                f"roles there: {', '.join(held)}"
            )
        exc = InputError(
            f"{flag} / {option}: role {missing[0]!r} is held by no contact ({where}); "
            f"{hint}{'; ' if hint else ''}roles match after trimming, lower-casing and "
            "spaces / hyphens as '_'"
            + (f"; also not held: {', '.join(map(repr, missing[1:]))}" if missing[1:] else "")
        )
        exc.option = option
        raise exc


def check_run_roles(
    contacts: pl.DataFrame | None, options: RunOptions, name: str | None = None
) -> None:
    """:func:`check_roles_held` for an account-level run's ``required_roles`` and
    ``role_multipliers`` when the run was given its own (the defaults name every usual role,
    and a contacts table need not have them all); ``name``: the contacts source's."""
    from attribution.models._rules import DEFAULT_ROLE_MULTIPLIERS, check_role_multipliers

    if options.level != "account":
        return
    required = options.required
    multipliers = options.multipliers
    check_roles_held(
        contacts,
        None if required == DEFAULT_REQUIRED_ROLES else required,
        None if multipliers == check_role_multipliers(DEFAULT_ROLE_MULTIPLIERS) else multipliers,
        f"contacts {name!r}" if name else "the contacts table",
    )


def roles_covered(roles: pl.Expr, required: tuple[str, ...]) -> pl.Expr:
    return pl.sum_horizontal([roles.list.contains(r).cast(pl.UInt32) for r in required])


def coverage_text(covered: pl.Expr, required: tuple[str, ...]) -> pl.Expr:
    return covered.cast(pl.String) + pl.lit(f" of {len(required)}")


def missing_roles(roles: pl.Expr, required: tuple[str, ...]) -> pl.Expr:
    """The required roles not in the list ``roles``, in the order of ``required``."""
    return pl.concat_list(
        [pl.when(~roles.list.contains(r)).then(pl.lit(r)) for r in required]
    ).list.drop_nulls()
