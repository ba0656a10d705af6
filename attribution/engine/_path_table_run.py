"""The path-table executor: :func:`attribute_paths`, a run from a pre-aggregated path table
(``path``, ``conversions``, optional ``nulls`` and ``value``), as other tools take."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl

from attribution.engine._empty import require_conversions
from attribution.engine._manifest import Timer, make_manifest
from attribution.engine._result import (
    CHANNEL_CREDIT_SCHEMA,
    PATH_TABLE_SCHEMA,
    TOUCH_CREDIT_SCHEMA,
    AttributionResult,
)
from attribution.engine._stages import channel_credit_from_touches, concat, fit_models
from attribution.exceptions import InputError, ModelParameterError
from attribution.inputs._channels import spell_path_channels
from attribution.inputs._schema import PATHS, ROW, load
from attribution.inputs._separator import check_channels, split_paths
from attribution.models._registry import default_models
from attribution.models._rules import with_credit
from attribution.options import RunOptions
from attribution.typing import ModelLike, TableLike

__all__ = ["attribute_paths"]


def attribute_paths(
    paths: TableLike,
    *,
    models: Iterable[ModelLike] | None = None,
    sep: str = ">",
    columns: Mapping[str, str] | None = None,
    allow_empty: bool = False,
) -> AttributionResult:
    """Credit channels from a pre-aggregated path table (``path``, ``conversions``, optional
    ``nulls`` and ``value``), for every model that needs no timestamps or milestones
    (``models=None``: every default model that a path table can feed).

    ``path`` is text, its channels separated by ``sep`` (default ``">"``, with or without
    spaces around it: ``a>b`` and ``a > b`` are the same path); channels are trimmed. A
    channel name may not contain ``>`` (an InputError naming the rows), whatever ``sep`` is.

    Examples
    --------
    >>> import polars as pl, attribution
    >>> paths = pl.DataFrame({"path": ["a > b", "b"], "conversions": [2, 1]})
    >>> res = attribution.attribute_paths(paths, models=["first_touch"])
    >>> credit = res.channel_credit
    >>> dict(zip(credit["channel"], credit["conversions"], strict=True))
    {'a': 2.0, 'b': 1.0}
    """
    timer = Timer(None)
    options = RunOptions(
        models=list(models) if models is not None else default_models(paths_only=True)
    )
    runs = options.runs
    for run in runs:
        if run.needs_timestamps or run.needs_milestones:
            what = "timestamps" if run.needs_timestamps else "lead/opportunity milestones"
            raise ModelParameterError(
                f"model '{run.label}' needs {what}, which a path table does not have; use "
                "attribute() with the touch log instead"
            )
    timer.stage("load")
    table = load(paths, PATHS, columns=columns)
    frame = table.frame
    for col in ("nulls", "value"):
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(0.0).alias(col))
    frame = frame.with_columns(pl.col("nulls", "value").fill_null(0.0))

    def refuse(
        frame: pl.DataFrame, bad: pl.Expr, message: str, column: str, hint: str | None = None
    ) -> None:
        """An InputError naming the first rows of the path table where ``bad`` holds."""
        if frame.select(bad.any()).item():
            raise table.error(
                InputError(
                    message,
                    table="paths",
                    source=table.source.name,
                    column=column,
                    rows=frame.filter(bad).get_column(ROW).head(5).to_list(),
                    hint=hint,
                )
            )

    negative = (pl.col("conversions") < 0) | (pl.col("nulls") < 0)
    refuse(frame, negative, "conversions and nulls must be non-negative", "conversions")
    # 'a >  > b' or 'a >': an empty channel is a broken path, not a shorter one
    pieces = pl.col("path").str.split(sep).list.eval(pl.element().str.strip_chars() == "")
    refuse(
        frame,
        (pl.col("path").str.strip_chars() != "") & pieces.list.any(),
        "path(s) with an empty channel (nothing between two separators, or a separator at "
        "an end)",
        "path",
        hint=f"paths are channels joined by {sep!r}: remove the extra separator or name the "
        "channel",
    )
    split = frame.with_columns(split_paths(pl.col("path"), sep).alias("path"))
    try:
        check_channels(
            split.get_column("path").explode().unique(),
            split,
            table="paths",
            column="path",
            row=ROW,
        )
    except InputError as exc:
        raise table.error(exc) from None
    empty = pl.col("path").list.len() == 0
    refuse(split, empty, "empty path", "path", hint=f"paths are channels joined by {sep!r}")
    split, renamed = spell_path_channels(split)  # one spelling per channel, as in touch logs
    path_frame = split.select(list(PATH_TABLE_SCHEMA)).cast(PATH_TABLE_SCHEMA)

    # each converting row becomes one pseudo-journey, weighted by its conversions
    journeys = (
        split.filter(pl.col("conversions") > 0)
        .select(pl.col(ROW).cast(pl.String).alias("conversion_id"), "path", "conversions", "value")
        .explode("path")
        .rename({"path": "channel"})
        .with_columns(
            pl.int_range(pl.len()).over("conversion_id").alias("position"),
            pl.len().over("conversion_id").alias("n_touches"),
        )
        .with_columns(
            (pl.col("position") == 0).alias("is_first"),
            (pl.col("position") == pl.col("n_touches") - 1).alias("is_last"),
        )
    )
    rules = {f"\x00credit:{i}": r.build() for i, r in enumerate(runs) if r.spec.family == "rule"}
    rule_parts: dict[int, pl.DataFrame] = {}
    if rules:
        timer.stage("models:rule-based")
        credited = with_credit(journeys, rules)
        for i, run in enumerate(runs):
            if run.spec.family == "rule":
                credit = pl.col(f"\x00credit:{i}")
                rule_parts[i] = channel_credit_from_touches(
                    credited.select(
                        pl.lit(run.label).alias("model"),
                        "channel",
                        (credit * pl.col("conversions")).alias("credit"),
                        (credit * pl.col("value")).alias("value"),
                    )
                )
    fitted = fit_models(options, path_frame, timer=timer)
    total_conv = float(frame.get_column("conversions").sum() or 0.0)
    manifest = make_manifest(
        runs,
        inputs={"paths": table.source.describe(table.rows_in)},
        parameters={"sep": sep, "allow_empty": allow_empty},
        counts={
            "paths": frame.height,
            "conversions": total_conv,
            "nulls": float(frame.get_column("nulls").sum() or 0.0),
            "value": float(frame.get_column("value").sum() or 0.0),
            **({"channel_values_renamed": renamed} if renamed else {}),
        },
        timings=timer.done(),
        notes=fitted.notes,
    )
    require_conversions(manifest)  # no conversion: no answer, unless allow_empty
    return AttributionResult(
        concat(
            [
                rule_parts[i] if i in rule_parts else fitted.channel_credit[i]
                for i in range(len(runs))
            ],
            CHANNEL_CREDIT_SCHEMA,
        ),
        pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA),
        manifest,
        paths=path_frame,
        extras=fitted.extras,
        graphs=fitted.graphs,
        options=options,
    )
