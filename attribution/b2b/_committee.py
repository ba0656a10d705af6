"""The buying committee: the roles a deal needs, checked once, and how many of them a list of
engaged roles covers (``required_roles_covered``, ``coverage`` as ``"3 of 4"``,
``missing_roles``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

from attribution.exceptions import InputError
from attribution.journeys._contacts import UNKNOWN_ROLE, normalise_role

__all__ = [
    "DEFAULT_REQUIRED_ROLES",
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


def roles_covered(roles: pl.Expr, required: tuple[str, ...]) -> pl.Expr:
    return pl.sum_horizontal([roles.list.contains(r).cast(pl.UInt32) for r in required])


def coverage_text(covered: pl.Expr, required: tuple[str, ...]) -> pl.Expr:
    return covered.cast(pl.String) + pl.lit(f" of {len(required)}")


def missing_roles(roles: pl.Expr, required: tuple[str, ...]) -> pl.Expr:
    """The required roles not in the list ``roles``, in the order of ``required``."""
    return pl.concat_list(
        [pl.when(~roles.list.contains(r)).then(pl.lit(r)) for r in required]
    ).list.drop_nulls()
