"""Journeys: touches assigned to conversions, with milestones, null paths and reconciliation.

Definitions follow ``shared/design/models.md`` (Journeys) exactly:

* a **conversion** is a stage event of the chosen stage at time ``T`` for an entity (a contact
  or an account); its id is ``"<entity>#<k>"``, ``k`` counting the entity's conversions in time
  order from 1 (ties: ``opportunity_id``, then ``value``; identical events count once);
* a touch joins the **earliest** conversion of its entity at or after it, if it lies within the
  lookback (``T - lookback <= t <= T``, both ends included), so no touch is credited twice;
  when several conversions share the same ``T`` the touches go to the first of them and the
  others are reported as unattributed;
* unassigned touches form one **non-converting path** per entity: those within one lookback
  before the entity's last unassigned touch; the rest are dropped as ``outside_lookback``;
* **contact scope** (account level): ``account`` (default) takes every contact's touches;
  ``opportunity_roles`` only the touches of contacts *on the conversion's opportunity* -- the
  contacts that appear on any stage event carrying that ``opportunity_id`` (the data has no
  separate opportunity-contact-role table); ``primary`` only the touches of the contact(s) on
  the conversion's own stage event. A conversion whose scope is empty (no ``opportunity_id``,
  no contact on its opportunity or on its event, e.g. account-keyed stage events) falls back
  to account scope and is counted (``conversions_scope_fallback``). Under a narrowed scope a
  touch joins the earliest conversion at or after it *whose scope holds its contact*; a touch
  that would have joined a journey at account scope but joins none is dropped as
  ``outside_contact_scope`` (not a null path: its account did convert);
* **milestones**: for each conversion, the milestone time of ``lead`` / ``opportunity`` /
  ``closed_won`` is the first event of that milestone's stages after the entity's previous
  conversion (so a second deal does not reuse the first deal's lead event). The milestone
  *touch* is the last journey touch at or before that time; none when the milestone is missing,
  precedes the journey or is first reached after the conversion.

Everything is vectorised: sorts, as-of joins and window expressions; no per-journey Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import polars as pl

from attribution._runs import run_start
from attribution.exceptions import ColumnNotFoundError, InputError
from attribution.inputs._campaigns import TOUCH_CHANNEL
from attribution.inputs._schema import ROW
from attribution.journeys._cap import (
    DEFAULT_MAX_TOUCHES_PER_JOURNEY,
    cap_converting,
    cap_null_paths,
    too_long_counts,
    too_long_journeys,
)
from attribution.journeys._contacts import UNKNOWN_ROLE, attach_accounts, contact_roles
from attribution.journeys._conversions import (
    DEFAULT_MILESTONES,
    ROLE_FLAGS,
    find_conversions,
    milestone_times,
    with_roles,
)
from attribution.journeys._long import long_journey_counts
from attribution.journeys._order import ENTITY, ENTITY_ID, channel_codes, entity_order
from attribution.journeys._parallel import PARALLEL_DEALS, shared_touches
from attribution.journeys._segment_windows import WINDOW, entity_windows, touch_windows
from attribution.journeys._windows import PATH_ENTITY, assign, null_paths, scope_contacts
from attribution.typing import ContactScope, Level

__all__ = [
    "CONTACT_SCOPES",
    "JOURNEY_COLUMNS",
    "journey_touch_id",
    "PARALLEL_DEALS",
    "TOUCH_KEY_COLUMNS",
    "Journeys",
    "build_journeys",
]

CONTACT_SCOPES: tuple[str, ...] = ("account", "opportunity_roles", "primary")

#: The columns naming one touch of one journey: its conversion, the touch, who, where, when
#: (the journey touch table starts with them, and so does ``touch_credit``).
TOUCH_KEY_COLUMNS = (
    "conversion_id",
    "touch_id",
    "contact_id",
    "account_id",
    "channel",
    "timestamp",
)

#: Columns of the journey touch table handed to the models.
JOURNEY_COLUMNS = (
    *TOUCH_KEY_COLUMNS,
    "position",
    "n_touches",
    "conversion_timestamp",
    "conversion_value",
    *ROLE_FLAGS,
)


@dataclass
class Journeys:
    """The output of :func:`build_journeys`.

    Attributes
    ----------
    touches
        One row per touch in a converting journey, sorted by ``conversion_id`` and
        ``position`` (0-based time order), with the role flags of models.md; at account level
        also the contact's buying-committee ``role`` (``"unknown"`` when not known).
    conversions
        One row per conversion: ``conversion_id``, entity, ``timestamp``, ``value``,
        ``opportunity_id``, ``n_touches`` (0 = unattributed) and milestone times.
    null_touches
        Touches of the non-converting paths, in path and time order: ``path_id`` (an
        integer per path) and ``channel`` (an ``Enum`` of the log's channels).
    counts
        Reconciliation counts (see :func:`build_journeys`).
    """

    touches: pl.DataFrame
    conversions: pl.DataFrame
    null_touches: pl.DataFrame
    counts: dict[str, int | dict[str, int]] = field(default_factory=dict)
    level: Level = "contact"
    #: Account level: ``conversion_id`` and ``entity`` (an integer per account), and the
    #: ``entity`` of each non-converting path (``path_id`` order) in the same numbering:
    #: which journeys the bootstrap resamples together. None at contact level.
    conversion_entities: pl.DataFrame | None = None
    null_path_entities: pl.Series | None = None
    #: the source row (``_row``) of each row of ``touches``, in their order
    rows: pl.Series | None = None


def journey_touch_id(touches: pl.DataFrame) -> pl.Expr:
    """A touch's id as the journeys give it: its ``touch_id``, else ``row-<its source row>``
    (``touches``: a loaded touch table, with :data:`ROW`). The journeys name touches so, and
    so do the campaign credit and the funnel, which must find the same touch (a tie in time
    is broken by this id)."""
    row_id = pl.lit("row-") + pl.col(ROW).cast(pl.String)
    if "touch_id" not in touches.columns:
        return row_id
    if not touches.get_column("touch_id").null_count():  # most logs: no string built
        return pl.col("touch_id")
    return pl.coalesce("touch_id", row_id)


def _entity_key(level: Level) -> str:
    return "contact_id" if level == "contact" else "account_id"


def build_journeys(
    touches: pl.DataFrame,
    stages: pl.DataFrame,
    *,
    level: Level = "contact",
    conversion_stage: str = "closed_won",
    lookback: timedelta = timedelta(days=90),
    milestones: Mapping[str, Sequence[str]] | None = None,
    contacts: pl.DataFrame | None = None,
    contact_scope: ContactScope = "account",
    max_touches_per_journey: int | None = DEFAULT_MAX_TOUCHES_PER_JOURNEY,
    segment_windows: Mapping[str, timedelta] | None = None,
    segments: pl.DataFrame | None = None,
    channels: Sequence[str] | None = None,
    parallel_deals: str = "earliest",
) -> Journeys:
    """Assign touches to conversions and build milestone flags and null paths.

    ``touches`` and ``stages`` are validated tables (canonical names, UTC timestamps, ``_row``).
    ``contact_scope`` narrows account-level journeys (see the module docstring).
    ``segment_windows`` (segment -> window) with ``segments`` (``account_id``, ``segment``):
    each entity's window is its account segment's, ``lookback`` where it has none
    (:mod:`attribution.journeys._segment_windows`). ``channels``: the distinct channels of
    ``touches``, when known (they are then not searched for again).

    Reconciliation counts returned in ``Journeys.counts``:
    ``touches_in`` = ``touches_in_journeys`` + ``touches_in_null_paths`` + sum of
    ``touches_dropped`` (by reason: ``outside_lookback``, ``missing_<entity key>``,
    ``outside_contact_scope``, ``journey_too_long``); ``conversions`` =
    ``conversions_attributed`` + ``conversions_unattributed`` + ``conversions_same_timestamp``
    (a conversion at the same time as an earlier one of the same entity, whose journey took
    the touches: reported as such, not as a conversion without touches); with a narrowed
    scope also
    ``conversions_scope_fallback``. A journey over ``max_touches_per_journey`` touches keeps
    its last ones (:mod:`attribution.journeys._cap`), and ``journeys_too_long`` /
    ``journeys_too_long_list`` count and list the journeys cut.

    ``parallel_deals="share"``: a deal opened before its entity's previous conversion also
    takes the touches that went to the earlier deal(s) since (:mod:`._parallel`); the
    journey touch table then holds ``touches_in_journeys`` + ``journey_touches_shared``
    rows, and ``conversions_sharing_touches`` counts the deals that took any.
    """
    if contact_scope not in CONTACT_SCOPES:
        raise InputError(
            f"contact_scope must be one of {', '.join(map(repr, CONTACT_SCOPES))}; "
            f"got {contact_scope!r}"
        )
    if parallel_deals not in PARALLEL_DEALS:
        raise InputError(
            f"parallel_deals must be one of {', '.join(map(repr, PARALLEL_DEALS))}; "
            f"got {parallel_deals!r}"
        )
    if contact_scope != "account" and level != "account":
        raise InputError(
            f"contact_scope={contact_scope!r} needs level='account' (a contact's journey has "
            "one contact)"
        )
    key = _entity_key(level)
    rows_given = touches.height
    # a mapping given for one role (say lead = sql) keeps the defaults of the others
    milestones = {**DEFAULT_MILESTONES, **(milestones or {})}
    # a touch's account: its own account_id, else its contact's from the contacts table, at
    # either level (at contact level it is the segment of the conversion, its draws and its
    # unit economics: the spend split reads touches alike; a contact of two accounts there
    # is an error only when the run reads accounts, checked with the contacts table)
    touches = attach_accounts(touches, contacts, "touches", strict=level == "account")
    if level == "account":
        stages = attach_accounts(stages, contacts, "stages")
    for name, frame in (("touches", touches), ("stages", stages)):
        if key not in frame.columns:
            raise ColumnNotFoundError(
                f"level='{level}' needs '{key}' on every {name} row",
                table=name,
                column=key,
                hint="use level='account' for account-keyed data, or pass a contacts table "
                "mapping contact_id to account_id"
                if level == "account" or key == "contact_id"
                else None,
            )
    for col in ("touch_id", "contact_id", "account_id"):
        if col not in touches.columns:
            touches = touches.with_columns(pl.lit(None, pl.String).alias(col))
    if touches.get_column("touch_id").null_count():
        # touches without an id get their source row number, so every output row is traceable
        touches = touches.with_columns(journey_touch_id(touches).alias("touch_id"))
    touches_in = touches.height
    missing = touches.get_column(key).is_null()
    dropped: dict[str, int] = {}
    if missing.any():
        dropped[f"missing_{key}"] = int(missing.sum())
        touches = touches.filter(~missing)

    for col, dtype in (("opportunity_id", pl.String), ("value", pl.Float64)):
        if col not in stages.columns:
            stages = stages.with_columns(pl.lit(None, dtype).alias(col))
    conv = find_conversions(stages, key, conversion_stage)
    # a conversion event without the entity's id (a blank contact_id) has no journey: counted
    no_key = int(
        stages.select(((pl.col("stage") == conversion_stage) & pl.col(key).is_null()).sum()).item()
    )
    conv = milestone_times(conv, stages, key, milestones)

    scope = None
    if contact_scope != "account":
        scope = scope_contacts(conv, stages, key, contact_scope, conversion_stage)
    # the given channels are those of every touch: only while no touch was dropped (a
    # channel seen only on touches without an entity is not one of the journeys')
    known = channels if channels is not None and touches.height == rows_given else None
    codes = channel_codes(touches, known)
    carry: list[pl.Series] = []
    window: timedelta | str = lookback
    if segment_windows is not None:
        if segments is None:
            raise InputError(
                "a lookback per segment needs the accounts table (each account's segment)",
                hint="give accounts= (--accounts, [inputs] accounts), or one lookback",
            )
        per_touch = touch_windows(  # account-level touches have their contacts' accounts
            touches,
            contacts=contacts if level == "contact" else None,
            segments=segments,
            windows=segment_windows,
        )
        carry.append(per_touch.alias(WINDOW))
        window = WINDOW
    work, conv = entity_order(
        touches, conv, key, carry, with_contact=scope is not None, codes=codes
    )
    if segment_windows is not None:  # one window per entity: its conversions' window too
        work = work.with_columns(entity_windows(lookback))
    # ``_conv_row`` (from here on) numbers the rows of this ``conv``: keep its order unchanged
    # until ``with_roles`` has fetched the conversions' columns by it
    assigned = assign(work, conv, scope, window)
    assigned, long_converting = cap_converting(assigned, max_touches_per_journey)
    shared = None
    if parallel_deals == "share":
        shared = shared_touches(assigned, conv, scope, window, max_touches_per_journey)
    # The big table never carries payload: journey rows (a small share) fetch theirs by index.
    # A mask keeps them in input order: 0.05 s, where a gather from the many chunks of a
    # Parquet read took 0.35 s (686k of 10M touches); their ids are put in the same order.
    in_journey = (
        assigned.lazy()
        .filter(pl.col("_in_journey"))
        .select("_idx", "_conv_row")
        .sort("_idx")
        .collect()
    )
    mask = pl.zeros(touches.height, pl.Boolean, eager=True).scatter(
        in_journey.get_column("_idx"), True
    )
    # under a campaign key each touch's channel rides beside its unit (TOUCH_CHANNEL)
    extra = [TOUCH_CHANNEL] if TOUCH_CHANNEL in touches.columns else []
    payload = touches.select(
        "touch_id", "contact_id", "account_id", "channel", "timestamp", ROW, *extra
    )
    journey = payload.filter(mask).with_columns(in_journey.get_column("_conv_row"))
    n_shared = shared.height if shared is not None else 0
    if shared is not None and n_shared:  # parallel deals' rows: touches already in a journey
        journey = pl.concat(
            [
                journey,
                payload.gather(shared.get_column("_idx")).with_columns(
                    shared.get_column("_conv_row")
                ),
            ]
        )
    if level == "account":
        roles = contact_roles(contacts)
        journey = journey.join(roles, on="contact_id", how="left").with_columns(
            pl.col("role").fill_null(UNKNOWN_ROLE)
        )
    journey = with_roles(journey, conv)

    out_of_scope = int(assigned.get_column("_outside_scope").sum())
    if out_of_scope:
        dropped["outside_contact_scope"] = out_of_scope
    cut = int(assigned.get_column("_too_long").sum())
    by_account = level == "account"
    null_touches = null_paths(assigned, window, entity=by_account)
    outside = assigned.height - in_journey.height - out_of_scope - cut - null_touches.height
    if outside:
        dropped["outside_lookback"] = outside
    null_touches, long_null = cap_null_paths(
        null_touches,
        lambda: null_paths(assigned, window, ("_idx",), entity=by_account),
        max_touches_per_journey,
    )
    null_entities = None
    if by_account:
        null_entities = null_touches.filter(run_start(pl.col("path_id"))).get_column(PATH_ENTITY)
        null_touches = null_touches.drop(PATH_ENTITY)
    cut += int(long_null.get_column("cut").sum())
    if cut:
        dropped["journey_too_long"] = cut
    too_long = too_long_journeys(
        conv.select("conversion_id", pl.col(ENTITY).alias(key)),
        long_converting,
        touches.get_column(key),
        long_null,
    )

    conversion_entities = (
        conv.select("conversion_id", pl.col(ENTITY_ID).alias("entity")) if by_account else None
    )
    per_conv = journey.group_by("conversion_id").agg(pl.len().alias("n_touches"))
    conversions = (
        conv.join(per_conv, on="conversion_id", how="left")
        .with_columns(pl.col("n_touches").fill_null(0).cast(pl.Int64))
        .drop(ENTITY_ID)
        .rename({ENTITY: key} if key not in conv.columns else {})
        .drop(ENTITY, strict=False)
        .sort("conversion_id")
    )
    attributed = int((conversions.get_column("n_touches") > 0).sum())
    # under a narrowed scope a later conversion at the same time may have touches of its own
    same_time = int(
        conversions.select(
            (~pl.col("_first_at_time") & (pl.col("n_touches") == 0)).sum()
        ).item()
    )
    # a parallel deal: opened before the entity's previous conversion, its touches up to that
    # conversion are that one's (a touch belongs to the earliest conversion at or after it)
    parallel = int(
        conversions.select(
            (
                (pl.col("opportunity_at") < pl.col("_previous"))
                & (pl.col("n_touches") == 0)
                & pl.col("_first_at_time")  # not one of the same-time ones, counted apart
            ).sum()
        ).item()
    )
    conversions = conversions.drop("_first_at_time", "_previous")
    counts: dict[str, int | dict[str, int]] = {
        "touches_in": touches_in,
        "touches_in_journeys": in_journey.height,
        "touches_in_null_paths": null_touches.height,
        "touches_dropped": dropped,
        "stages_dropped": {f"missing_{key}": no_key} if no_key else {},
        "conversions": conversions.height,
        "conversions_attributed": attributed,
        "conversions_unattributed": conversions.height - attributed - same_time,
        "conversions_same_timestamp": same_time,
        "conversions_parallel_without_touches": parallel,
        "conversions_without_value": int(conv.get_column("_value_missing").sum()),
        "conversions_value_from_opportunity": int(conv.get_column("_value_from_opportunity").sum()),
        "null_paths": null_touches.get_column("path_id").n_unique() if null_touches.height else 0,
        **too_long_counts(too_long, key),
        **long_journey_counts(  # far longer than the others, under the cap: said, kept
            conversions, journey, key, too_long.get_column("conversion_id").drop_nulls()),
    }
    if shared is not None:
        counts["journey_touches_shared"] = n_shared
        counts["conversions_sharing_touches"] = (
            shared.get_column("_conv_row").n_unique() if n_shared else 0
        )
    if scope is not None:
        fallback = ~pl.col("conversion_id").is_in(scope.get_column("conversion_id").implode())
        conversions = conversions.with_columns(fallback.alias("scope_fallback"))
        counts["conversions_scope_fallback"] = int(conversions.get_column("scope_fallback").sum())
    assert touches_in == in_journey.height + null_touches.height + sum(dropped.values())
    assert journey.height == in_journey.height + n_shared
    columns = [*JOURNEY_COLUMNS, "role"] if level == "account" else list(JOURNEY_COLUMNS)
    columns += extra
    return Journeys(
        journey.select(columns),
        conversions.drop("_value_missing", "_value_from_opportunity", "_value_raw", "_k"),
        null_touches,
        counts,
        level,
        conversion_entities=conversion_entities,
        null_path_entities=null_entities,
        rows=journey.get_column(ROW),
    )
