"""Counterfactual path attribution (the Fractribution method), vectorised.

For a converting path, ``p(path) = conversions / (conversions + nulls)`` over identical
transformed paths. Position ``j`` contributes ``max(0, p(path) - p(path without j))``,
where an unobserved shorter path has ``p = 0``; contributions are normalised within the
path, and a path whose contributions are all 0 gives its last position 1.

Path transforms (``D A B B C D C C`` as the example):

- ``unique``: none (``D A B B C D C C``);
- ``exposure``: collapse consecutive repeats (``D A B C D C``);
- ``first``: first occurrence of each channel (``D A B C``);
- ``frequency``: first occurrence with counts (``D(2) A(1) B(2) C(3)``); the path key is
  the channel sequence together with the counts.

"Without position j" is the transformed path with element ``j`` removed, i.e. the journey
without every touch the transform merged into that position, transformed again. Only
``exposure`` is affected by the re-transform: removing ``B`` from ``A B A`` leaves
``A A``, which collapses to ``A`` (Fractribution looks up ``A A``, which never exists, and
so gives ``B`` the full ``p(path)``). Under ``frequency`` the whole ``C(3)`` entry is
removed, as Fractribution does.

Memory and time are linear in the paths' total length: the probability of a path without
position ``j`` is looked up by a fingerprint of that shorter path computed from prefix and
suffix sums (:mod:`attribution.models._path_deletion`), never by building the shorter path.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from attribution.models._allocation import check_touch_table, validate_paths
from attribution.models._estimator import PathModel
from attribution.models._path_deletion import deletion_probabilities

__all__ = ["CounterfactualModel"]

Transform = Literal["unique", "exposure", "first", "frequency"]


def _transform(frame: pl.LazyFrame, group: str, transform: str) -> pl.LazyFrame:
    """Map each touch to its transformed position.

    ``frame`` holds ``group`` and ``channel`` with each group's rows contiguous and in
    time order. Adds ``tpos`` (the transformed position a touch belongs to), ``keep``
    (the touch that represents that position) and, for ``frequency``, ``count``.
    """
    idx = pl.int_range(pl.len()).over(group)
    if transform == "unique":
        keep = pl.lit(True)
    elif transform == "exposure":
        keep = (idx == 0) | (pl.col("channel") != pl.col("channel").shift(1)).fill_null(True)
    else:
        keep = pl.col("channel").is_first_distinct().over(group)
    frame = frame.with_columns(keep.alias("keep")).with_columns(
        (pl.col("keep").cast(pl.Int64).cum_sum().over(group) - 1).alias("tpos")
    )
    if transform in ("first", "frequency"):
        # Later repeats belong to the position of the channel's first occurrence.
        frame = frame.with_columns(pl.col("tpos").first().over(group, "channel"))
    if transform == "frequency":
        frame = frame.with_columns(pl.len().over(group, "channel").alias("count"))
    return frame


class CounterfactualModel(PathModel):
    """Counterfactual path attribution (Fractribution).

    Parameters
    ----------
    transform : {"unique", "exposure", "first", "frequency"}, default "unique"
        Path transform applied before paths are compared (see the module docstring).

    Attributes
    ----------
    channels_ : list of str
    path_probabilities_ : DataFrame
        One row per transformed path: ``path`` (list[str]), ``counts`` (list[u32],
        ``frequency`` only), ``conversions``, ``nulls``, ``value``, ``probability``.
    path_credit_ : DataFrame
        One row per position of each converting transformed path: ``path_id`` (the path's
        row in ``path_probabilities_``; the path itself is not repeated per position, which
        would cost the square of its length), ``position``, ``channel``, ``conversions``,
        ``probability``, ``counterfactual_probability``, ``contribution`` and ``credit``
        (the normalised share of the path's credit; sums to 1 per path).
    channel_credit_ : DataFrame
        ``channel``, ``conversions``, ``value``: each path's conversions and value split
        by the credits of its positions.
    total_conversions_, total_value_ : float
        Totals of the paths of positive weight.
    notes_ : list of str
        Caveats of this fit (dropped rows, paths with no positive contribution).

    Reading a fitted attribute before :meth:`fit` raises
    :class:`~attribution.exceptions.NotFittedError`.

    Examples
    --------
    >>> import polars as pl
    >>> from attribution.models import CounterfactualModel
    >>> paths = pl.DataFrame({
    ...     "path": [["a", "b"], ["b"], ["a"]],
    ...     "conversions": [4.0, 1.0, 2.0],
    ...     "nulls": [1.0, 4.0, 3.0],
    ... })
    >>> model = CounterfactualModel().fit(paths)
    >>> model.path_probabilities_["path"].to_list()
    [['a'], ['a', 'b'], ['b']]
    >>> two = model.path_credit_.filter(pl.col("path_id") == 1)
    >>> two["credit"].round(6).to_list()  # a: 0.8 - 0.2, b: 0.8 - 0.4, normalised
    [0.6, 0.4]
    """

    registry_name = "counterfactual"

    def __init__(self, *, transform: Transform = "unique") -> None:
        self.transform = transform

    @property
    def _key(self) -> list[str]:
        return ["path", "counts"] if self.transform == "frequency" else ["path"]

    def _keys_by_group(self, touches: pl.LazyFrame, group: str) -> pl.LazyFrame:
        """Transformed path key (``path`` and, for frequency, ``counts``) per group."""
        aggs = [pl.col("channel").alias("path")]
        if self.transform == "frequency":
            aggs.append(pl.col("count").alias("counts"))
        return touches.filter("keep").group_by(group, maintain_order=True).agg(aggs)

    def fit(self, paths: pl.DataFrame | pl.LazyFrame) -> CounterfactualModel:
        """Compute per-path position credits and channel credit from a path table.

        Parameters
        ----------
        paths
            ``path`` (list[str]), ``conversions``; optional ``nulls`` and ``value``.

        Returns
        -------
        CounterfactualModel
            ``self``, fitted.
        """
        self._validate_params()
        table, notes = validate_paths(paths, model=type(self).__name__)
        table = table.filter(pl.col("conversions") + pl.col("nulls") > 0).with_row_index("g")
        self.channels_ = (
            table.select(pl.col("path").explode().unique().sort())["path"].to_list()
            if table.height
            else []
        )
        self.total_conversions_ = float(table["conversions"].sum())
        self.total_value_ = float(table["value"].sum())
        key = self._key

        touches = _transform(
            table.lazy().select("g", pl.col("path").alias("channel")).explode("channel"),
            "g",
            self.transform,
        )
        probabilities = (
            self._keys_by_group(touches, "g")
            .join(table.lazy().drop("path"), on="g")
            .group_by(key)
            .agg(pl.col("conversions").sum(), pl.col("nulls").sum(), pl.col("value").sum())
            .with_columns(
                (pl.col("conversions") / (pl.col("conversions") + pl.col("nulls"))).alias(
                    "probability"
                )
            )
            .sort(pl.col("path").list.join("\x1f"), *key[1:])
            .collect()
        )
        self.path_probabilities_ = probabilities

        # one row per position of each converting path; the probability of the path without
        # that position comes from fingerprints (linear in the path's length), not from a
        # list per position (the square of it)
        converting = probabilities.with_row_index("path_id").filter(pl.col("conversions") > 0)
        positions = (
            converting.lazy()
            .with_row_index("kid")
            .select(
                "kid",
                "path_id",
                pl.col("path").alias("channel"),
                pl.col("path").list.len().alias("length"),
                "conversions",
                "value",
                "probability",
            )
            .explode("channel")
            .with_columns(pl.int_range(pl.len()).over("kid").alias("position"))
        )
        lookup = deletion_probabilities(
            probabilities, key, merge_neighbours=self.transform == "exposure"
        )
        j = pl.col("position")
        credit = (
            positions.join(lookup.lazy(), on=["kid", "position"], how="left", maintain_order="left")
            .with_columns(pl.col("counterfactual_probability").fill_null(0.0))
            .with_columns(
                (pl.col("probability") - pl.col("counterfactual_probability"))
                .clip(lower_bound=0.0)
                .alias("contribution")
            )
            .with_columns(pl.col("contribution").sum().over("kid").alias("__total"))
            .with_columns(
                pl.when(pl.col("__total") > 0)
                .then(pl.col("contribution") / pl.col("__total"))
                .otherwise((j == pl.col("length") - 1).cast(pl.Float64))
                .alias("credit")
            )
            .sort("kid", "position")
            .select(
                pl.col("path_id").cast(pl.UInt32),
                pl.col("position").cast(pl.Int64),
                "channel",
                "conversions",
                "value",
                "probability",
                "counterfactual_probability",
                "contribution",
                "credit",
            )
            .collect()
        )
        self.path_credit_ = credit.drop("value")
        zero_paths = int(
            credit.group_by("path_id")
            .agg(pl.col("contribution").sum())
            .filter(pl.col("contribution") == 0)
            .height
        )
        if zero_paths:
            notes.append(
                f"{zero_paths} converting path(s) had no positive contribution; their last "
                "position took all the credit."
            )

        universe = pl.DataFrame({"channel": self.channels_}, schema={"channel": pl.String})
        by_channel = credit.group_by("channel").agg(
            (pl.col("credit") * pl.col("conversions")).sum().alias("conversions"),
            (pl.col("credit") * pl.col("value")).sum().alias("value"),
        )
        self.channel_credit_ = universe.join(
            by_channel, on="channel", how="left", maintain_order="left"
        ).with_columns(pl.col("conversions", "value").fill_null(0.0).cast(pl.Float64))
        self.notes_ = notes
        return self

    def allocate(self, touches: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
        """Per-touch credit from the fitted position credits.

        Each conversion's touches are transformed like the fitted paths; a transformed
        position's credit is shared equally by the touches merged into it (the run of
        repeats for ``exposure``, every touch of the channel for ``first`` and
        ``frequency``). A conversion whose transformed path was never seen converting
        has ``p(path) = 0``, so every contribution is 0 and its last position takes 1.

        Parameters
        ----------
        touches
            ``conversion_id``, ``position`` (time order within the conversion),
            ``channel``; other columns are carried through.

        Returns
        -------
        DataFrame
            The input rows, in input order, plus ``credit`` (f64).
        """
        self._check_fitted()
        touches = check_touch_table(touches, ("conversion_id", "position", "channel"))
        key = self._key
        work = (
            touches.with_row_index("__row")
            .with_columns(pl.col("channel").cast(pl.String).alias("__channel"))
            .sort("conversion_id", "position", "__row")
        )
        work = _transform(
            work.select("__row", "conversion_id", pl.col("__channel").alias("channel")),
            "conversion_id",
            self.transform,
        )
        ids = self.path_probabilities_.lazy().select(*key).with_row_index("path_id")
        shares = self.path_credit_.lazy().select(
            "path_id", pl.col("position").alias("tpos"), pl.col("credit").alias("__share")
        )
        per_position = (
            self._keys_by_group(work, "conversion_id")
            .join(ids, on=key, how="inner")
            .join(shares, on="path_id", how="inner")
            .select("conversion_id", "tpos", "__share")
        )
        credited = (
            work.join(per_position, on=["conversion_id", "tpos"], how="left")
            .with_columns(
                pl.col("__share").is_not_null().any().over("conversion_id").alias("__seen"),
                pl.len().over("conversion_id", "tpos").alias("__members"),
            )
            .with_columns(
                pl.when(pl.col("__seen"))
                .then(pl.col("__share").fill_null(0.0))
                .otherwise(
                    (pl.col("tpos") == pl.col("tpos").max().over("conversion_id")).cast(pl.Float64)
                )
                .truediv(pl.col("__members"))
                .alias("credit")
            )
            .select("__row", "credit")
        )
        return (
            touches.with_row_index("__row")
            .join(credited, on="__row", how="left")
            .sort("__row")
            .drop("__row")
            .collect()
        )
