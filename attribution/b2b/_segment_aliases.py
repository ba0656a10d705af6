"""A user's segment names read as the published ones for the benchmark ranges: an accounts
table segmented ``KMU`` / ``Mittelstand`` / ``Konzern`` got no published range (pipeline per
$, CAC recovery, payback target, sales cycle, NRR), so its guardrails were blank. (README,
"Segment names", *decision*.)

- **Built in** (:data:`BUILT_IN`): common names of the published segments in English,
  German, French and Spanish (``kmu``, ``small_business``, ``pme``, ``pyme`` -> ``smb``;
  ``mittelstand``, ``midmarket``, ``eti`` -> ``mid_market``; ``konzern``,
  ``großunternehmen``, ``grande_entreprise``, ``gran_empresa`` -> ``enterprise``...),
  compared in the accounts table's spelling of a segment (trimmed, lower case, runs of
  spaces / hyphens as ``_``).
- **Given** (``[economics] segment_aliases = {smb = ["Kleinkunden"], ...}``; the same key
  in ``B2BInputs(economics=...)`` and the run request's ``economics``): the published
  segment -> the user's names, over the built-in ones. A published segment the benchmark
  table does not have, a name given twice, or (with an accounts table) a name no account
  has is an error with a did-you-mean.
- Only the accounts' segments are read so, and only where the benchmark table has no row
  of their own (a user's file or ``[targets.segment.kmu]`` wins, row by row): the rows of
  the published segment are copied under the user's name (the CAC-recovery, pipeline-per-$,
  sales-cycle, NRR and payback-target ranges; a segment without a payback target of its
  own takes the one its published segment falls back to: mid-market SMB's). Every table,
  summary line and the report keep the user's names; ``economics.json``
  ``parameters.segment_aliases`` lists each alias used and where it came from, and the
  segments' ranges line says ``kmu (as smb)``.
- **The lookback per segment** reads the accounts' segments by the same rule
  (:func:`read_as`): an account of ``KMU`` takes ``smb``'s window unless the lookback names
  ``kmu`` itself. The given names reach it as the run option ``segment_aliases``
  (``RunOptions``; a config's ``[economics] segment_aliases`` gives both), the B2B stage
  reading the option when its ``economics`` does not give them (:func:`one_alias_setting`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from difflib import get_close_matches
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from attribution.b2b._economics_metrics import PAYBACK_FALLBACK
from attribution.b2b._economics_slices import spell_segment
from attribution.exceptions import ConfigError, InputError

if TYPE_CHECKING:
    from attribution.inputs._account_inputs import Accounts
    from attribution.inputs._benchmarks import Benchmarks
    from attribution.options import RunOptions

__all__ = [
    "BUILT_IN",
    "KEY",
    "check_segment_aliases",
    "one_alias_setting",
    "read_as",
    "segment_aliases",
    "segment_benchmarks",
    "with_segment_aliases",
]

#: the ``economics`` key of the given aliases
KEY: Final = "segment_aliases"

#: published segment -> names of it (in the accounts table's spelling)
BUILT_IN: Final[Mapping[str, tuple[str, ...]]] = {
    "smb": (
        "kmu", "kmus", "kleinunternehmen", "kleine_unternehmen", "kleinkunden",
        "small_business", "small_businesses", "small", "sme", "smes",
        "small_and_medium_business", "small_and_medium_businesses", "small_medium_business",
        "pme", "pmes", "tpe", "petite_entreprise", "petites_entreprises",
        "pyme", "pymes", "pequeña_empresa", "pequeñas_empresas", "pequena_empresa",
    ),
    "mid_market": (
        "mittelstand", "gehobener_mittelstand", "mittlere_unternehmen", "midmarket",
        "mid", "mm", "mid_size", "midsize", "mid_sized", "medium", "medium_business",
        "eti", "etis", "moyenne_entreprise", "entreprise_de_taille_intermédiaire",
        "mediana_empresa", "medianas_empresas",
    ),
    "enterprise": (
        "konzern", "konzerne", "großkonzern", "großunternehmen", "grossunternehmen",
        "großkunden", "grosskunden", "large", "large_enterprise", "large_enterprises",
        "large_business", "ent", "corporate", "corporates",
        "grande_entreprise", "grandes_entreprises", "ge", "grand_compte", "grands_comptes",
        "gran_empresa", "grandes_empresas", "gran_cuenta", "grandes_cuentas",
    ),
    "strategic": (
        "strategisch", "strategische_kunden", "strategic_accounts", "stratégique",
        "estratégico", "estrategico",
    ),
}  # fmt: skip

#: the published segments
PUBLISHED: Final = tuple(BUILT_IN)


def check_segment_aliases(value: Any) -> dict[str, list[str]]:
    """The given aliases' shape: published segment -> a name or a list of names; an
    InputError names what is wrong (the ``economics`` check, before any work)."""
    if not isinstance(value, Mapping):
        raise InputError(
            f"{KEY} maps a published segment to your names of it, e.g. "
            f'{{smb = ["KMU"], mid_market = ["Mittelstand"]}}, got {value!r}'
        )
    out: dict[str, list[str]] = {}
    for key, names in value.items():
        listed = [names] if isinstance(names, str) else names
        if not isinstance(listed, list | tuple) or not all(
            isinstance(n, str) and n.strip() for n in listed
        ):
            raise InputError(f"{KEY}: {key} takes a name or a list of names, got {names!r}")
        out[str(key)] = [str(n) for n in listed]
    return out


def one_alias_setting(economics: Any, options: RunOptions | None) -> Any:
    """The given aliases of a B2B stage: its ``economics``' ``segment_aliases``, else the
    run option's (``RunOptions.segment_aliases``, which the lookback read); the two given
    and different is an error (the journeys' windows and the ranges would read the
    segments otherwise)."""
    option = options.segment_aliases if options is not None else None
    if economics is None or option is None:
        return option if economics is None else economics
    if check_segment_aliases(economics) != check_segment_aliases(option):
        raise ConfigError(
            f"economics: {KEY} differs from the run option {KEY} (the lookback per segment "
            f"reads the option, the benchmark ranges the economics'): give it once, e.g. "
            f"in a config's [economics]; economics: {economics!r}, option: {option!r}"
        )
    return economics


def _segments(bench: Benchmarks) -> set[str]:
    return {*PUBLISHED, *bench.table.get_column("segment").drop_nulls().to_list()}


def segment_aliases(
    given: Mapping[str, Any] | None, bench: Benchmarks, segments: Iterable[str]
) -> dict[str, dict[str, str]]:
    """The accounts' ``segments`` read as a published one for the benchmark ranges
    (:func:`read_as`): a segment the benchmark table has rows of its own for is never an
    alias."""
    own = set(bench.table.get_column("segment").drop_nulls().to_list())
    return read_as(segments, own, given, known=_segments(bench))


def read_as(
    segments: Iterable[str],
    own: Iterable[str],
    given: Mapping[str, Any] | None = None,
    *,
    known: Iterable[str] = PUBLISHED,
) -> dict[str, dict[str, str]]:
    """The one rule of the module docstring: the accounts' ``segments`` (spelled as the
    accounts table spells them) read as a published one, ``{name: {"as": published,
    "source": "built-in" | "given"}}``, the ``given`` aliases over the built-in ones; a
    name in ``own`` (a segment the setting has an entry of its own for: benchmark rows, a
    lookback window) is never an alias. ``known``: the segments a given alias may name.
    The benchmark ranges (:func:`segment_benchmarks`) and the lookback per segment
    (:mod:`attribution.journeys._segment_windows`) read segments by it."""
    present = {s for s in segments if s}
    known = set(known)
    found: dict[str, dict[str, str]] = {}
    for published, built_in in BUILT_IN.items():
        for name in built_in:
            found[name] = {"as": published, "source": "built-in"}
    mine: dict[str, str] = {}
    for key, names in check_segment_aliases(given or {}).items():
        published = spell_segment(key)
        if published not in known:
            close = get_close_matches(published, sorted(known), n=1, cutoff=0.6)
            raise ConfigError(
                f"economics: {KEY}: '{key}' is no segment of the benchmark table (its "
                f"segments: {', '.join(sorted(known))})"
                + (f"; did you mean '{close[0]}'?" if close else "")
            )
        for name in map(spell_segment, names):
            if name in mine and mine[name] != published:
                raise ConfigError(
                    f"economics: {KEY}: '{name}' is given for both {mine[name]} and "
                    f"{published}; give it once"
                )
            if present and name not in present:
                close = get_close_matches(name, sorted(present), n=1, cutoff=0.6)
                raise ConfigError(
                    f"economics: {KEY}: no account has the segment '{name}' (the accounts' "
                    f"segments: {', '.join(sorted(present)[:20])})"
                    + (f"; did you mean '{close[0]}'?" if close else "")
                )
            mine[name] = published
            found[name] = {"as": published, "source": "given"}
    own = set(own)
    return {
        name: alias
        for name, alias in sorted(found.items())
        if name in present and name != alias["as"] and name not in own
    }


def with_segment_aliases(bench: Benchmarks, aliases: Mapping[str, Mapping[str, str]]) -> Benchmarks:
    """``bench`` with the rows of each alias' published segment copied under its name
    (where the table has none of that metric and channel for the name), a segment without
    a payback target taking its published segment's fallback's."""
    from attribution.inputs._benchmarks import Benchmarks

    if not aliases:
        return bench
    table = bench.table
    names = pl.DataFrame(
        {"alias": list(aliases), "segment": [a["as"] for a in aliases.values()]},
        schema={"alias": pl.String, "segment": pl.String},
    )
    fallback = (
        table.filter(
            pl.col("metric") == "payback_target_months",
            pl.col("segment").is_in(list(PAYBACK_FALLBACK.values())),
        )
        .with_columns(
            pl.col("segment").replace({v: k for k, v in PAYBACK_FALLBACK.items()})
        )
        .join(table.select("metric", "segment", "channel"), how="anti",
              on=["metric", "segment", "channel"], nulls_equal=True)  # fmt: skip
    )
    copies = (
        pl.concat([table, fallback])
        .join(names, on="segment")
        .with_columns(
            (pl.col("source") + " (read for segment '" + pl.col("alias") + "' as "
             + pl.col("segment") + ")").alias("source"),
            pl.col("alias").alias("segment"),
        )  # fmt: skip
        .drop("alias")
        .join(table.select("metric", "segment", "channel"), how="anti",
              on=["metric", "segment", "channel"], nulls_equal=True)  # fmt: skip
        .select(table.columns)
    )
    return Benchmarks(table=pl.concat([table, copies]))


def segment_benchmarks(
    bench: Benchmarks | None, given: Mapping[str, Any] | None, accounts: Accounts | None
) -> tuple[Benchmarks | None, dict[str, dict[str, str]]]:
    """The benchmark table a run judges its accounts' segments with (``bench``, default the
    shipped one, with their aliases' rows) and the aliases used; ``bench`` as it is without
    an accounts table with segments."""
    if accounts is None or not accounts.has("segment"):
        return bench, {}
    from attribution.inputs._benchmarks import load_benchmarks

    table = bench if bench is not None else load_benchmarks()
    segments = accounts.frame.get_column("segment").drop_nulls().unique().to_list()
    aliases = segment_aliases(given, table, segments)
    return (with_segment_aliases(table, aliases) if aliases else bench), aliases
