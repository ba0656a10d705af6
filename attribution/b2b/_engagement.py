"""Account engagement: time-decayed touch weights summed over 30 / 60 / 90 days, the
z-score of the score across accounts and the hot / warm / cold tier (the rules are in
:mod:`attribution.b2b._accounts`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import polars as pl

from attribution.exceptions import InputError

__all__ = [
    "COLD_Z",
    "DEFAULT_TOUCH_WEIGHTS",
    "ENGAGEMENT_HALF_LIFE",
    "ENGAGEMENT_WINDOWS_DAYS",
    "HOT_Z",
    "STALE_MIN_ACCOUNTS",
    "STALE_SHARE",
    "ClockPart",
    "EngagementClock",
    "check_as_of",
    "clock_part",
    "engagement_clock",
    "engagement_windows",
    "engagement_z_expr",
    "tier_expr",
    "touch_weight_expr",
]

#: Engagement weight of a touch by ``touch_type``; other or missing types weigh 1.
DEFAULT_TOUCH_WEIGHTS: Final[Mapping[str, float]] = {
    "meeting": 3.0,
    "attend": 2.0,
    "form_fill": 2.0,
    "referral": 2.0,
    "click": 1.0,
    "visit": 1.0,
    "mail": 1.0,
    "open": 0.5,
    "view": 0.5,
}
ENGAGEMENT_HALF_LIFE: Final = timedelta(days=30)
ENGAGEMENT_WINDOWS_DAYS: Final = (30, 60, 90)
HOT_Z: Final = 1.0
COLD_Z: Final = -0.5
#: An as-of time leaving fewer than this share of the accounts with touches (of at least
#: STALE_MIN_ACCOUNTS) a touch in the widest window is named in a note.
STALE_SHARE: Final = 0.01
STALE_MIN_ACCOUNTS: Final = 20


def check_as_of(value: object) -> datetime | None:
    """``as_of`` -> an aware UTC datetime: a ``datetime`` (naive = UTC), a ``date`` or a date
    alone in ISO 8601 text (the end of that day, as everywhere a date stands for a time), or
    ISO 8601 text with a time (``Z`` or an offset; none = UTC); ``None``: not given."""
    from attribution.inputs._reading import END_OF_DAY

    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:  # YYYY-MM-DD
                value = date.fromisoformat(text)
            else:
                value = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise InputError(
                "as_of must be a date or a time in ISO 8601 (2025-12-31, the end of that day, "
                f"or 2025-12-31T18:00:00Z); got {value!r}"
            ) from None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, END_OF_DAY, tzinfo=UTC)
    raise InputError(
        f"as_of must be a date or a time (ISO 8601 text, date or datetime); got {value!r}"
    )


@dataclass(frozen=True)
class ClockPart:
    """What one part of the data (a partition, or all of it) tells the engagement clock."""

    latest: datetime | None  #: the latest touch or stage time not after the cutoff
    after: int  #: touches dated after the cutoff
    latest_after: datetime | None  #: the latest of them


def clock_part(touches: pl.DataFrame, stages: pl.DataFrame, cutoff: datetime) -> ClockPart:
    """:class:`ClockPart` of ``touches`` and ``stages`` against ``cutoff``."""
    limit = pl.lit(cutoff, pl.Datetime("us", "UTC"))
    stamp = pl.col("timestamp")
    latest = pl.concat(
        [f.lazy().select(stamp.filter(stamp <= limit).max()) for f in (touches, stages)]
    ).select(stamp.max())
    after = touches.lazy().select(
        (stamp > limit).sum().alias("after"), stamp.filter(stamp > limit).max().alias("last")
    )
    row = pl.concat([latest.collect(), after.collect()], how="horizontal").row(0)
    return ClockPart(row[0], int(row[1] or 0), row[2])


@dataclass(frozen=True)
class EngagementClock:
    """When engagement is measured (README, Account level: "Engagement as of")."""

    reference: datetime | None  #: the as-of time; None: no data at or before the cutoff
    given: bool  #: True: the ``as_of`` option; False: the latest time not after the run's
    cutoff: datetime  #: ``as_of``, else the run's own (wall-clock) time
    after: int  #: touches dated after the as-of time: left out of the engagement
    latest_after: datetime | None

    def describe(self, notes: list[str]) -> dict[str, Any]:
        """The manifest's ``parameters.engagement`` entries of the clock (``notes``: those
        of :meth:`notes`)."""
        return {
            "notes": notes,
            "reference_time": _iso(self.reference),
            "as_of": "the as_of option"
            if self.given
            else f"the latest touch or stage time not after the run's time ({_iso(self.cutoff)})",
            "touches_after_reference": self.after,
            "latest_touch_after_reference": _iso(self.latest_after),
        }

    def notes(self, accounts: pl.DataFrame) -> list[str]:
        """The run's notes on the clock (manifest notes, and lines the CLI prints): the
        touches dated after the as-of time, and an as-of time that leaves almost every
        account with a touch cold (``accounts``: the run's account table)."""
        at = _iso(self.reference)
        out = []
        if self.after:
            why = (
                "the as_of option"
                if self.given
                else "the latest timestamp not after the run's time"
            )
            out.append(
                f"engagement as of {at} ({why}): {self.after:,} touch(es) dated after it "
                f"(latest {_iso(self.latest_after)}) left out of the engagement scores and "
                "tiers: scheduled, or a mistyped year? (--as-of / as_of sets the time)"
            )
        touched, recent = accounts.select(
            (pl.col("touches") > 0).sum(), (pl.col("engagement_score") > 0).sum()
        ).row(0)
        if self.reference is not None and touched >= STALE_MIN_ACCOUNTS and (
            recent < STALE_SHARE * touched
        ):
            out.append(
                f"engagement as of {at}: only {recent:,} of {touched:,} accounts with touches "
                f"have one in the {ENGAGEMENT_WINDOWS_DAYS[-1]} days before it, so nearly "
                "every account is cold: is the latest timestamp far after the rest of the "
                "data (a scheduled meeting, a mistyped year)? --as-of / as_of sets the time"
            )
        return out


def engagement_clock(
    parts: Iterable[ClockPart], *, as_of: datetime | None, cutoff: datetime
) -> EngagementClock:
    """The run's clock from its parts: the reference is ``as_of`` when given, else the latest
    touch or stage time not after ``cutoff`` (the run's time)."""
    parts = list(parts)
    latest = [p.latest for p in parts if p.latest is not None]
    after = [p.latest_after for p in parts if p.latest_after is not None]
    return EngagementClock(
        reference=as_of if as_of is not None else (max(latest) if latest else None),
        given=as_of is not None,
        cutoff=cutoff,
        after=sum(p.after for p in parts),
        latest_after=max(after) if after else None,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def engagement_z_expr() -> pl.Expr:
    """z of log1p(engagement score) over the accounts of the frame (0 when all are equal)."""
    x = pl.col("engagement_score").log1p()
    std = x.std(ddof=0)
    return pl.when(std > 0).then((x - x.mean()) / std).otherwise(0.0)


def tier_expr() -> pl.Expr:
    """hot: z >= HOT_Z; cold: z <= COLD_Z or score 0; warm otherwise (needs engagement_z)."""
    return (
        pl.when((pl.col("engagement_score") <= 0) | (pl.col("engagement_z") <= COLD_Z))
        .then(pl.lit("cold"))
        .when(pl.col("engagement_z") >= HOT_Z)
        .then(pl.lit("hot"))
        .otherwise(pl.lit("warm"))
    )


def touch_weight_expr(touches: pl.DataFrame, touch_weights: Mapping[str, float]) -> pl.Expr:
    """Weight of each touch from its ``touch_type``; the text is normalised once per distinct
    value, not once per row."""
    if "touch_type" not in touches.columns:
        return pl.lit(1.0)
    types = touches.select(pl.col("touch_type").drop_nulls().unique()).with_columns(
        pl.col("touch_type")
        .str.strip_chars()
        .str.to_lowercase()
        .replace_strict(dict(touch_weights), default=1.0, return_dtype=pl.Float64)
        .alias("w")
    )
    mapping = dict(types.iter_rows())
    return pl.col("touch_type").replace_strict(mapping, default=1.0, return_dtype=pl.Float64)


def engagement_windows(
    touches: pl.DataFrame, reference_time: datetime | None, touch_weights: Mapping[str, float]
) -> list[pl.Expr]:
    """Per touch row, its decayed weight in each window (``engagement_30d``, ...): 0 outside
    the window and after the reference time; all 0 without a reference time (no data)."""
    scores = [f"engagement_{d}d" for d in ENGAGEMENT_WINDOWS_DAYS]
    if reference_time is None:
        return [pl.lit(0.0).alias(name) for name in scores]
    ref = pl.lit(reference_time).cast(pl.Datetime("us", "UTC"))
    age = (ref - pl.col("timestamp")).dt.total_microseconds().cast(pl.Float64) / 86_400e6
    half_life = ENGAGEMENT_HALF_LIFE.total_seconds() / 86_400
    decayed = touch_weight_expr(touches, touch_weights) * (2.0 ** (-age / half_life))
    # row-wise columns summed by a plain group-by: filters inside .agg are much slower
    return [
        pl.when((age >= 0) & (age <= days)).then(decayed).otherwise(0.0).alias(name)
        for days, name in zip(ENGAGEMENT_WINDOWS_DAYS, scores, strict=True)
    ]
