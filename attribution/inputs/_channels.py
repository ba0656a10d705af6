"""Channel names as exports spell them: one spelling per channel.

``linkedin``, ``LinkedIn``, ``linkedin `` and ``Linkedin`` are one channel; so are
``Google Ads``, ``Google Ads<NBSP>``, ``google-ads`` and ``google_ads``. Every channel value
(touches, spend, the channel aliases themselves, experiments, a plan's channels, the models'
channel parameters) is trimmed, its runs of whitespace (NBSP and tabs included), hyphens and
underscores between words written as one ``_`` (*decision*: ``attribution import`` and the
taxonomy write ``google_ads``, a German export ``Google Ads``; a spend sheet of one and the
touches of the other must meet; the survey coder folds a pick-list so too), its invisible
format characters (zero-width space, joiners, word joiner, a BOM inside
the text: :data:`~attribution.inputs.INVISIBLE`, left by a copy from a web page or a CRM
pick-list) removed, lower-cased and put in Unicode NFC (a composed ``é`` and ``e`` plus a
combining accent are one letter), so ``linkedin<U+200B>`` is ``linkedin``, never a
look-alike channel. The lower-case spelling wins because it depends on no count: every
executor, every partition and the spend table agree on it without seeing each other's data,
and the built-in taxonomy's names (``linkedin``, ``google_ads``) are lower-case already.
``channel_aliases`` (``[channels]`` in a config) then maps other names to one of ours
explicitly: ``{"linkedin": ["LinkedIn Ads", "li"]}``.

The work is on the distinct values (a log has a few dozen channels), and the column is only
rewritten when some value changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from difflib import get_close_matches

import polars as pl

from attribution.exceptions import InputError
from attribution.inputs._reading import INVISIBLE

__all__ = [
    "check_channel_aliases",
    "channel_spelling",
    "name_spelling",
    "normalise_channels",
    "spell_path_channels",
    "spell_channel",
    "spell_name",
    "unmatched_channels",
    "without_invisible",
]


#: The invisible format characters of a name (:data:`INVISIBLE`), as a regex class.
INVISIBLE_CLASS = "[" + INVISIBLE + "]"


def without_invisible(expr: pl.Expr) -> pl.Expr:
    """``expr`` (text) without its :data:`INVISIBLE` characters (zero-width space, ...)."""
    return expr.str.replace_all(INVISIBLE_CLASS, "")


def name_spelling(expr: pl.Expr) -> pl.Expr:
    """The one spelling of a name (a stage's; a channel's before its word separators):
    invisible characters removed, trimmed, whitespace runs as one space, lower case, in
    Unicode NFC (``café`` typed on macOS, ``e`` plus a combining acute, is the ``café`` of a
    Windows export: one name, not two that print alike)."""
    return (
        without_invisible(expr)
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
        .str.to_lowercase()
        .str.normalize("NFC")
    )


def channel_spelling(expr: pl.Expr) -> pl.Expr:
    """The one spelling of a channel name: :func:`name_spelling`, then its words joined by
    one ``_`` whatever separates them (spaces, hyphens, underscores: ``Google Ads``,
    ``google-ads`` and ``Google_Ads`` are the taxonomy's ``google_ads``, as ``attribution
    import`` writes it). A stage name keeps its spaces (:func:`name_spelling`). A ``>`` (a
    name refused: the separator of path tables) is shown with a space each side, as the
    error's example (``linked > in``)."""
    return name_spelling(expr).str.replace_all(r"[\s_-]+", "_").str.replace_all("_?>_?", " > ")


def spell_channel(name: str) -> str:
    """:func:`channel_spelling` of one name."""
    return str(pl.select(channel_spelling(pl.lit(name, pl.String))).item())


def spell_name(name: str) -> str:
    """:func:`name_spelling` of one name (a stage's)."""
    return str(pl.select(name_spelling(pl.lit(name, pl.String))).item())


def check_channel_aliases(
    aliases: Mapping[str, str | Sequence[str]] | None,
) -> dict[str, str]:
    """``{ours: theirs or [theirs, ...]}`` -> ``{their spelling: our spelling}``; an alias
    given to two channels is an InputError."""
    if not aliases:
        return {}
    if not isinstance(aliases, Mapping):
        raise InputError(f"channel_aliases must map a channel to its aliases; got {aliases!r}")
    out: dict[str, str] = {}
    for ours, theirs in aliases.items():
        names = [theirs] if isinstance(theirs, str) else theirs
        if not isinstance(ours, str) or not ours.strip():
            raise InputError(f"channel_aliases: a channel name must be text; got {ours!r}")
        if not isinstance(names, Sequence) or not all(
            isinstance(n, str) and n.strip() for n in names
        ):
            raise InputError(
                f"channel_aliases: '{ours}' maps to a name or a list of names; got {theirs!r}"
            )
        target = spell_channel(ours)
        for name in names:
            spelled = spell_channel(name)
            if out.get(spelled, target) != target:
                raise InputError(
                    f"channel_aliases: '{name}' is an alias of both '{out[spelled]}' and '{target}'"
                )
            if spelled != target:
                out[spelled] = target
    return out


def normalise_channels(
    frame: pl.DataFrame, aliases: Mapping[str, str] | None = None
) -> tuple[pl.DataFrame, dict[str, str], int, list[str]]:
    """``frame``'s ``channel`` in its one spelling, then through ``aliases`` (as
    :func:`check_channel_aliases` returns them).

    Returns the frame, the values renamed (``{as written: as used}``), the rows whose value
    changed and the channels after renaming (sorted).
    """
    if "channel" not in frame.columns:
        return frame, {}, 0, []
    distinct = (
        frame.lazy()
        .select(pl.col("channel").unique().drop_nulls().alias("raw"))
        .collect(engine="streaming")
    )
    spelled = channel_spelling(pl.col("raw"))
    if aliases:
        spelled = spelled.replace(dict(aliases))
    names = distinct.with_columns(spelled.alias("used"))
    renamed = names.filter(pl.col("raw") != pl.col("used"))
    channels = names.get_column("used").unique().sort().to_list()
    if renamed.height == 0:
        return frame, {}, 0, channels
    mapping = dict(renamed.iter_rows())
    changed = int(
        frame.select(pl.col("channel").is_in(renamed.get_column("raw").implode()).sum()).item()
    )
    frame = frame.with_columns(pl.col("channel").replace(mapping))
    return frame, mapping, changed, channels


def spell_path_channels(
    frame: pl.DataFrame, column: str = "path"
) -> tuple[pl.DataFrame, dict[str, str]]:
    """``frame`` with the channels of its path lists (``column``) in their one spelling, as
    a touch log's are (``LinkedIn > Email`` and ``linkedin > email`` are one path), and the
    values renamed (``{as written: as used}``). On the distinct channels."""
    distinct = frame.select(pl.col(column).explode().unique().drop_nulls().alias("raw"))
    names = distinct.with_columns(channel_spelling(pl.col("raw")).alias("used"))
    renamed = dict(names.filter(pl.col("raw") != pl.col("used")).iter_rows())
    if not renamed:
        return frame, {}
    return frame.with_columns(pl.col(column).list.eval(pl.element().replace(renamed))), renamed


#: Paid channels as ad platforms and exports name them (letters and digits only) -> the
#: shipped taxonomy's name: a did-you-mean offers it before any look-alike name
_PAID_NAMES = {
    "paidsearch": "google_ads",
    "googleads": "google_ads",
    "adwords": "google_ads",
    "ppc": "google_ads",
    "sem": "google_ads",
    "paidsocial": "paid_social",
    "linkedinads": "linkedin",
}
#: an ad platform's name -> the channel family a CRM's source field files its traffic under
#: (HubSpot's ``Original Source`` is ``Paid Social`` for LinkedIn ads): offered after the
#: platform's own name, so a spend sheet on ``linkedin`` meets touches on ``paid_social``
_PLATFORM_FAMILIES = {
    **dict.fromkeys(
        ("linkedin", "linkedinads", "facebook", "facebookads", "meta", "metaads", "instagram",
         "twitter", "twitterads", "xads", "tiktok", "tiktokads", "reddit", "redditads"),
        "paid_social",
    ),
    **dict.fromkeys(
        ("googleads", "google", "adwords", "bing", "bingads", "microsoftads"), "paid_search"
    ),
}  # fmt: skip


def _unpaid(name: str) -> bool:
    """An unpaid channel's name (``organic_search``, ``Organic Social``, ``direct``; not
    ``direct_mail``): never offered for a paid name (spend, a plan's budget), whose money
    would then be booked on organic traffic."""
    return "organic" in name or name.strip().lower() in ("direct", "direct traffic",
                                                         "direct_traffic")


def unmatched_channels(channels: Sequence[str], known: Sequence[str]) -> dict[str, str]:
    """Each of ``channels`` (spend or budget channels: paid) that is not in ``known``, with a
    did-you-mean among ``known`` (or the hint to map it): a paid channel's usual name first
    (``paid search`` -> ``google_ads``), never an unpaid channel (``organic_search``,
    ``direct``) unless the name says so itself."""
    known_set = set(known)
    out: dict[str, str] = {}
    for name in channels:
        if name in known_set:
            continue
        folded = "".join(ch for ch in name.lower() if ch.isalnum())
        candidates = [k for k in known if not _unpaid(k) or _unpaid(name)]
        usual = (_PAID_NAMES.get(folded), _PLATFORM_FAMILIES.get(folded))
        close = [u for u in dict.fromkeys(usual) if u in known_set]
        close += [c for c in get_close_matches(name, candidates, n=2, cutoff=0.6) if c not in close]
        close += [k for k in candidates if (name in k or k in name) and k not in close]
        out[name] = (
            "did you mean " + " or ".join(f"'{c}'" for c in close[:2]) + "? map it in "
            f'[channels] ({close[0]} = ["{name}"])'
            if close
            else "no touch has this channel; map it in [channels] if the touches call it otherwise"
        )
    return out
