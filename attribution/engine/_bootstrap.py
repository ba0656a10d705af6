"""The bootstrap: seeded draws over journeys (accounts at account level), every model of the
run refitted exactly on each draw.

Method (README, "Uncertainty"):

- **Units.** At contact level every journey is a unit: each conversion's journey and each
  non-converting path. At account level every account is one: its conversions' journeys and
  its non-converting path are drawn together, so an account is never split across draws.
- **Weights.** A draw gives every unit a Poisson(1) count (the Poisson bootstrap: the
  multinomial resampling of n units, made independent per unit, so a draw is one vectorised
  call and the counts of every journey of one unit are the same). Draw ``d`` takes its own
  child of ``numpy.random.SeedSequence(seed)``, so it is the same whatever the number of draws.
- **Rule-based models** credit a journey the same whatever the other journeys are: a draw's
  credit is the count-weighted sum of each conversion's credit by channel (one sparse product
  over the conversion x channel credit of every rule-based model at once), not a refit.
- **Data-driven models** (Markov, Shapley, counterfactual, whatever the registry has) are
  refitted on every draw: on the distinct paths of the run with the draw's summed counts as
  their ``conversions`` and ``nulls`` and the counted deal values as ``value``. Each of them
  takes only sums over paths (transition counts, coalition rates, path probabilities), so
  this is their exact fit on the resampled journeys (Markov still solved exactly). Their
  ``all`` credit is the refit's channel credit; per segment, the refit's allocation of each
  distinct converting path, weighted by the draw's count of the segment's conversions on it.
- **Segments.** With an accounts table, each conversion's segment is its account's (the first
  account among its journey's touches, as the unit economics take it), ``unknown`` without;
  the draws then also hold every segment's credit.

Cost per draw: the Poisson counts of every unit, one sparse product over the conversion x channel
credit of the rule-based models, and one fit and one allocation (of the distinct converting
paths) per data-driven model; memory: the draws' credit, one row per draw, model, segment and
channel (the journeys are not copied).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
import polars as pl

from attribution._runs import run_start
from attribution.b2b._economics_slices import ALL
from attribution.engine._stages import _fit
from attribution.models._allocation import PathSequences

if TYPE_CHECKING:
    from attribution.inputs._account_inputs import Accounts
    from attribution.journeys._journeys import Journeys
    from attribution.options import RunOptions

__all__ = [
    "CI_HIGH",
    "CI_LOW",
    "CREDIT_DRAWS_SCHEMA",
    "INTERVAL",
    "Bootstrap",
    "bootstrap_credit",
    "conversion_segments",
    "draw_weights",
    "interval_exprs",
    "with_intervals",
]

#: The interval the draws give: the 5th to the 95th percentile (a 90% percentile interval).
INTERVAL: Final = 0.90
CI_LOW: Final = (1.0 - INTERVAL) / 2.0
CI_HIGH: Final = 1.0 - CI_LOW
#: One row per draw, model, segment and channel: the credited customers and revenue.
CREDIT_DRAWS_SCHEMA: Final = pl.Schema(
    {
        "draw": pl.Int32(),
        "model": pl.String(),
        "segment": pl.String(),
        "channel": pl.String(),
        "customers": pl.Float64(),
        "revenue": pl.Float64(),
    }
)


@dataclass
class Bootstrap:
    """The bootstrap draws of a run (``AttributionResult.bootstrap``).

    Attributes
    ----------
    draws, seed
        How many draws, and their seed.
    unit
        ``"journey"`` (contact level) or ``"account"``: what a draw resamples.
    units
        How many units there are.
    credit
        One row per ``draw``, ``model``, ``segment`` and ``channel`` (every channel of the
        run in every draw): ``customers`` (credited conversions) and ``revenue`` (credited
        value). ``segment = "all"`` rows hold the model's channel credit (as
        ``channel_credit``); the other segments, when the run had an accounts table, the
        credit of the segment's conversions (as the unit economics' segment rows).
    segmented
        Whether ``credit`` has segment rows (an accounts table was given to the run).
    seconds
        Time the draws took.
    """

    draws: int
    seed: int
    unit: str
    units: int
    credit: pl.DataFrame
    segmented: bool = False
    seconds: float = 0.0

    def channel_intervals(self) -> pl.DataFrame:
        """``model``, ``channel``, ``ci_low``, ``ci_high``: the interval of each channel's
        ``share`` of its model's credit (draws crediting nothing are left out)."""
        shares = (
            self.credit.filter(pl.col("segment") == ALL)
            .with_columns(pl.col("customers").sum().over("draw", "model").alias("_total"))
            .filter(pl.col("_total") > 0)
            .with_columns((pl.col("customers") / pl.col("_total")).alias("share"))
        )
        return shares.group_by("model", "channel").agg(*interval_exprs("share", "ci"))

    def describe(self) -> dict[str, object]:
        """What the manifest says of the draws."""
        return {
            "draws": self.draws,
            "seed": self.seed,
            "unit": self.unit,
            "units": self.units,
            "interval": f"{INTERVAL:.0%} percentile ({CI_LOW:.0%}-{CI_HIGH:.0%})",
            "segments": self.segmented,
            "seconds": round(self.seconds, 3),
        }


def conversion_segments(
    journey_touches: pl.DataFrame, accounts: Accounts | None
) -> pl.DataFrame | None:
    """``conversion_id`` -> ``segment``: each conversion's account's, as the unit economics
    take it (the first account among its touches, as
    :func:`attribution.b2b._economics_slices.conversion_accounts` reads the touch credit,
    whose rows are the journey touches); None without an accounts table."""
    if accounts is None or journey_touches.height == 0:
        return None
    owners = journey_touches.group_by("conversion_id").agg(
        pl.col("account_id").drop_nulls().first()
    )
    return accounts.attach(owners, ("segment",)).select("conversion_id", "segment")


def with_intervals(channel_credit: pl.DataFrame, boot: Bootstrap) -> pl.DataFrame:
    """``channel_credit`` with ``ci_low`` and ``ci_high``: the interval of ``share``."""
    return channel_credit.join(
        boot.channel_intervals(), on=["model", "channel"], how="left", maintain_order="left"
    )


def interval_exprs(column: str, prefix: str | None = None) -> list[pl.Expr]:
    """The percentile bounds of ``column`` over the draws: ``<prefix>_low``, ``<prefix>_high``
    (``prefix`` defaults to ``<column>_ci``). Nulls (a figure a draw leaves undefined) are
    left out."""
    name = prefix or f"{column}_ci"
    return [
        pl.col(column).quantile(CI_LOW, "linear").alias(f"{name}_low"),
        pl.col(column).quantile(CI_HIGH, "linear").alias(f"{name}_high"),
    ]


def draw_weights(seed: int, draws: int, units: int) -> Iterator[np.ndarray]:
    """Each draw's Poisson(1) count of every unit, draw ``d`` from the ``d``-th child of
    ``SeedSequence(seed)``."""
    for child in np.random.SeedSequence(seed).spawn(draws):
        yield np.random.default_rng(child).poisson(1.0, units).astype(np.float64)


@dataclass
class _Design:
    """What every draw shares: the conversions, the units, the distinct paths."""

    conv_ids: pl.Series  # the conversions, in journey order
    conv_value: np.ndarray
    conv_unit: np.ndarray
    null_unit: np.ndarray
    n_units: int
    unit: str
    conv_path: np.ndarray  # the distinct path of each conversion
    null_path: np.ndarray  # the distinct path of each non-converting path
    n_paths: int
    sequences: PathSequences  # the distinct paths, coded
    table: pl.DataFrame  # the distinct paths as a path table (``path``: channel names)
    conv_slot: np.ndarray  # each conversion's segment row: 1 + its index in ``groups``, or 0
    groups: list[str]
    channels: list[str]  # every channel of the run


def _design(journeys: Journeys, groups: pl.DataFrame | None) -> _Design:
    codes = journeys.null_touches.schema["channel"]
    assert isinstance(codes, pl.Enum)
    categories = codes.categories.to_list()
    index = pl.get_index_type()
    conv_touches = journeys.touches.select(
        pl.col("conversion_id").rle_id().cast(index).alias("j"),
        pl.col("channel").cast(codes).to_physical().cast(pl.UInt32).alias("ch"),
    )
    firsts = journeys.touches.filter(run_start(pl.col("conversion_id")))
    conv_ids = firsts.get_column("conversion_id")
    conv_value = firsts.get_column("conversion_value").fill_null(0.0).to_numpy().astype(float)
    null_touches = journeys.null_touches.select(
        pl.col("path_id").cast(index).alias("j"),
        pl.col("channel").to_physical().cast(pl.UInt32).alias("ch"),
    )
    n_conv = conv_ids.len()
    paths = pl.concat(
        [
            conv_touches.group_by("j", maintain_order=True).agg(pl.col("ch").alias("path")),
            null_touches.group_by("j", maintain_order=True)
            .agg(pl.col("ch").alias("path"))
            .with_columns(pl.col("j") + n_conv),
        ]
    ).with_columns(pl.col("path").cast(pl.List(pl.String)).list.join(",").alias("key"))
    distinct = paths.select("key", "path").unique("key", maintain_order=True)
    distinct = distinct.with_row_index("pid")
    which = paths.join(distinct.select("key", "pid"), on="key", how="left", maintain_order="left")
    pid = which.get_column("pid").to_numpy().astype(np.int64)
    seq_touches = distinct.select(
        pl.col("pid").cast(index), pl.col("path").alias("ch")
    ).explode("ch")
    n_paths = distinct.height
    zeros = pl.DataFrame(
        {"conversions": np.zeros(n_paths), "nulls": np.zeros(n_paths), "value": np.zeros(n_paths)}
    )
    sequences = PathSequences.from_codes(seq_touches, zeros, categories, where="of the draw")
    table = distinct.select(
        pl.col("path").list.eval(
            pl.element()
            .cast(pl.Int64)
            .replace_strict(list(range(len(categories))), categories, return_dtype=pl.String)
        )
    )
    level = journeys.level
    n_null = paths.height - n_conv
    if level == "account" and journeys.conversion_entities is not None:
        entities = journeys.conversion_entities
        conv_entity = (
            pl.DataFrame({"conversion_id": conv_ids})
            .join(entities, on="conversion_id", how="left", maintain_order="left")
            .get_column("entity")
        )
        null_entity = journeys.null_path_entities
        assert null_entity is not None
        every = pl.concat([conv_entity, null_entity.rename("entity")]).cast(pl.UInt64)
        dense = every.rank("dense").cast(pl.Int64).to_numpy() - 1
        conv_unit, null_unit = dense[:n_conv], dense[n_conv:]
        n_units = int(dense.max()) + 1 if dense.size else 0
        unit = "account"
    else:
        conv_unit = np.arange(n_conv, dtype=np.int64)
        null_unit = np.arange(n_conv, n_conv + n_null, dtype=np.int64)
        n_units = n_conv + n_null
        unit = "journey"
    if groups is not None:
        labelled = pl.DataFrame({"conversion_id": conv_ids}).join(
            groups.select("conversion_id", pl.col("segment").cast(pl.String)),
            on="conversion_id",
            how="left",
            maintain_order="left",
        )
        segment = labelled.get_column("segment").fill_null("unknown")
        group_names = sorted(segment.unique().to_list())
        conv_slot = (
            segment.replace_strict(group_names, list(range(1, len(group_names) + 1)))
            .cast(pl.Int64)
            .to_numpy()
        )
    else:  # no segments: every conversion in the "all" row
        group_names, conv_slot = [], np.zeros(n_conv, dtype=np.int64)
    return _Design(
        conv_ids=conv_ids,
        conv_value=conv_value,
        conv_unit=conv_unit,
        null_unit=null_unit,
        n_units=n_units,
        unit=unit,
        conv_path=pid[:n_conv],
        null_path=pid[n_conv:],
        n_paths=n_paths,
        sequences=sequences,
        table=table,
        conv_slot=conv_slot,
        groups=group_names,
        channels=sorted(categories),
    )


class _RuleCredit:
    """Every rule-based model's credit per conversion and channel, as one sparse matrix:
    a draw's credit by model, segment and channel is the counts times it."""

    def __init__(
        self,
        design: _Design,
        journey_touches: pl.DataFrame,
        rules: Mapping[int, tuple[str, pl.Series]],
        n_groups: int,
    ) -> None:
        import scipy.sparse as sp  # not at import: `import attribution` loads no SciPy

        lookup = {c: i for i, c in enumerate(design.channels)}
        n_ch = len(design.channels)
        # the journey touches are in conversion order: a conversion's index is its run's
        keys = journey_touches.select(
            pl.col("conversion_id").rle_id().cast(pl.Int64).alias("j"),
            pl.col("channel").cast(pl.String).replace_strict(lookup, return_dtype=pl.Int64),
        )
        rows, cols, vals = [], [], []
        for m, (_, credit) in enumerate(rules.values()):
            sums = (
                keys.with_columns(credit.alias("credit"))
                .group_by("j", "channel")
                .agg(pl.col("credit").sum())
            )
            j, ch = sums.get_column("j").to_numpy(), sums.get_column("channel").to_numpy()
            rows.append(j)
            cols.append((m * n_groups + design.conv_slot[j]) * n_ch + ch)
            vals.append(sums.get_column("credit").to_numpy())
        shape = (design.conv_ids.len(), len(rules) * n_groups * n_ch)
        self.matrix = (
            sp.csr_matrix(
                (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape
            )
            if rows
            else sp.csr_matrix(shape)
        )
        self.shape = (len(rules), n_groups, n_ch)

    def draw(self, weights: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Customers and revenue by model, segment and channel for conversion weights."""
        both = self.matrix.T @ np.column_stack([weights, weights * values])
        return both[:, 0].reshape(self.shape), both[:, 1].reshape(self.shape)


def bootstrap_credit(
    journeys: Journeys,
    options: RunOptions,
    rule_credit: Mapping[int, pl.Series],
    *,
    groups: pl.DataFrame | None = None,
    weights: Iterable[np.ndarray] | None = None,
) -> Bootstrap:
    """Every model's credit on each bootstrap draw (see the module).

    Parameters
    ----------
    journeys
        The run's journeys.
    options
        The run's options (``bootstrap`` draws, ``bootstrap_seed``, the models).
    rule_credit
        The credit of each rule-based model over the journey touches, row for row (index in
        ``options.runs`` -> series; :func:`attribution.engine._stages.rule_credit_columns`).
    groups
        ``conversion_id`` -> ``segment``: the draws also hold each segment's credit.
    weights
        The counts of every unit, one array per draw (default: :func:`draw_weights`); a
        test gives all ones to get the point estimate back.
    """
    import scipy.sparse as sp  # not at import: `import attribution` loads no SciPy

    started = time.perf_counter()
    design = _design(journeys, groups)
    runs = options.runs
    n_groups = 1 + len(design.groups)  # "all" first
    rules = {i: (runs[i].label, frame) for i, frame in rule_credit.items()}
    rule = _RuleCredit(design, journeys.touches, rules, n_groups)
    data = [run for run in runs if run.spec.family != "rule"]
    rep, rep_path, rep_channel, conv_rank, n_conv_paths = _representatives(design)
    onehot = sp.csr_matrix(
        (np.ones(rep_channel.size), (np.arange(rep_channel.size), rep_channel)),
        shape=(rep_channel.size, len(design.channels)),
    )
    labels = [runs[i].label for i in rules] + [run.label for run in data]
    order = [run.label for run in runs]
    n_ch = len(design.channels)
    draws = weights if weights is not None else draw_weights(
        options.bootstrap_seed, options.bootstrap, design.n_units
    )
    customers_all: list[np.ndarray] = []
    revenue_all: list[np.ndarray] = []
    made = 0
    lookup = {c: i for i, c in enumerate(design.channels)}
    for unit_weights in draws:
        w = np.asarray(unit_weights, dtype=np.float64)
        wc = w[design.conv_unit]
        wn = w[design.null_unit]
        customers = np.zeros((len(labels), n_groups, n_ch))
        revenue = np.zeros_like(customers)
        if rules:
            c_r, v_r = rule.draw(wc, design.conv_value)
            if n_groups > 1:  # credit went to the segment rows: "all" is their sum
                c_r[:, 0], v_r[:, 0] = c_r[:, 1:].sum(axis=1), v_r[:, 1:].sum(axis=1)
            customers[: len(rules)], revenue[: len(rules)] = c_r, v_r
        conv = _sums(design.conv_path, wc, design.n_paths)
        if data and conv.sum() > 0:  # a draw with no conversion credits nothing
            nulls = _sums(design.null_path, wn, design.n_paths)
            value = _sums(design.conv_path, wc * design.conv_value, design.n_paths)
            numbers = pl.DataFrame({"conversions": conv, "nulls": nulls, "value": value})
            sequences = dataclasses.replace(design.sequences, paths=numbers)
            table = design.table.with_columns(numbers)
            cells = design.conv_slot * n_conv_paths + conv_rank
            size = n_groups * n_conv_paths
            by_group = _sums(cells, wc, size).reshape(n_groups, n_conv_paths)
            by_group_value = _sums(cells, wc * design.conv_value, size).reshape(
                n_groups, n_conv_paths
            )
            for k, run in enumerate(data):
                m = len(rules) + k
                estimator = _fit(run, table, functools.partial(_same, sequences))
                fitted = estimator.channel_credit_
                idx = (
                    fitted.get_column("channel")
                    .cast(pl.String)
                    .replace_strict(lookup, return_dtype=pl.Int64)
                    .to_numpy()
                )
                customers[m, 0, idx] = fitted.get_column("conversions").to_numpy()
                revenue[m, 0, idx] = fitted.get_column("value").to_numpy()
                if n_groups > 1 and rep.height:
                    credit = estimator.allocate(rep).get_column("credit").to_numpy()
                    customers[m, 1:] = (onehot.T @ (by_group[1:, rep_path] * credit).T).T
                    revenue[m, 1:] = (onehot.T @ (by_group_value[1:, rep_path] * credit).T).T
        customers_all.append(customers)
        revenue_all.append(revenue)
        made += 1
    frame = _frame(
        np.asarray(customers_all).reshape(made, len(labels), n_groups, n_ch),
        np.asarray(revenue_all).reshape(made, len(labels), n_groups, n_ch),
        labels,
        [ALL, *design.groups],
        design.channels,
    )
    frame = frame.sort(
        "draw",
        pl.col("model").replace_strict({m: i for i, m in enumerate(order)}, return_dtype=pl.Int64),
        "segment",
        "channel",
    )
    return Bootstrap(
        draws=made,
        seed=options.bootstrap_seed,
        unit=design.unit,
        units=design.n_units,
        credit=frame,
        segmented=bool(design.groups),
        seconds=time.perf_counter() - started,
    )


def _sums(index: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """``weights`` summed by ``index`` into ``size`` floats (``bincount`` gives integers
    for no index at all)."""
    return np.bincount(index, weights, minlength=size).astype(np.float64)


def _same(sequences: PathSequences) -> PathSequences:
    return sequences


def _representatives(
    design: _Design,
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray, np.ndarray, int]:
    """The distinct converting paths as journeys (one per path: ``conversion_id`` the path's
    rank, ``position``, ``channel``), each touch's path rank and channel index, each
    conversion's path rank, and how many there are: a data-driven model's allocation of a
    journey depends only on its channels in order, so allocating these allocates every
    conversion."""
    converting = np.unique(design.conv_path)
    rank = np.full(design.n_paths, -1, dtype=np.int64)
    rank[converting] = np.arange(converting.size)
    paths = design.table.with_row_index("pid").filter(
        pl.col("pid").is_in(pl.Series(converting, dtype=pl.UInt32).implode())
    )
    rep = (
        paths.select(
            pl.col("pid")
            .cast(pl.Int64)
            .replace_strict(list(converting), list(range(converting.size)), return_dtype=pl.Int64)
            .alias("conversion_id"),
            pl.col("path").alias("channel"),
        )
        .explode("channel")
        .with_columns(pl.int_range(pl.len()).over("conversion_id").alias("position"))
        .select("conversion_id", "position", "channel")
    )
    lookup = {c: i for i, c in enumerate(design.channels)}
    channel = rep.get_column("channel").replace_strict(lookup, return_dtype=pl.Int64).to_numpy()
    return (
        rep,
        rep.get_column("conversion_id").to_numpy(),
        channel,
        rank[design.conv_path],
        int(converting.size),
    )


def _frame(
    customers: np.ndarray,
    revenue: np.ndarray,
    models: Sequence[str],
    segments: Sequence[str],
    channels: Sequence[str],
) -> pl.DataFrame:
    """The draws' arrays (draw x model x segment x channel) as rows."""
    n_draw, n_model, n_seg, n_ch = customers.shape
    grid = np.indices((n_draw, n_model, n_seg, n_ch)).reshape(4, -1)
    return pl.DataFrame(
        {
            "draw": pl.Series(grid[0], dtype=pl.Int32),
            "model": pl.Series(np.asarray(models, dtype=object)[grid[1]], dtype=pl.String)
            if n_model
            else pl.Series([], dtype=pl.String),
            "segment": pl.Series(np.asarray(segments, dtype=object)[grid[2]], dtype=pl.String),
            "channel": pl.Series(np.asarray(channels, dtype=object)[grid[3]], dtype=pl.String)
            if n_ch
            else pl.Series([], dtype=pl.String),
            "customers": customers.reshape(-1),
            "revenue": revenue.reshape(-1),
        },
        schema=CREDIT_DRAWS_SCHEMA,
    )
