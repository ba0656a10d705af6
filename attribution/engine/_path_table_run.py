"""The path-table executor: :func:`attribute_paths`, a run from a pre-aggregated path table
(``path``, ``conversions``, optional ``nulls`` and ``value``), as other tools take."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl

from attribution.engine._empty import require_conversions
from attribution.engine._manifest import MODEL_CHANNELS, Timer, add_coded_notes, make_manifest
from attribution.engine._path_input import read_path_table
from attribution.engine._result import (
    CHANNEL_CREDIT_SCHEMA,
    PATH_TABLE_SCHEMA,
    TOUCH_CREDIT_SCHEMA,
    AttributionResult,
)
from attribution.engine._stages import channel_credit_from_touches, concat, fit_models
from attribution.exceptions import ModelParameterError
from attribution.inputs._schema import ROW
from attribution.models._channel_params import check_model_channels
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
    read = read_path_table(paths, sep=sep, columns=columns)
    table, frame, split = read.table, read.frame, read.split
    # a model parameter naming a channel names one of the table's (did-you-mean otherwise)
    channel_notes = check_model_channels(
        runs, split.get_column("path").explode().unique().drop_nulls().to_list()
    )
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
            "conversions_without_value": read.conversions_without_value,
            **({"channel_values_renamed": read.renamed} if read.renamed else {}),
        },
        timings=timer.done(),
        notes=fitted.notes,
    )
    # coded as a run from touches codes them: the summary and the report show them
    add_coded_notes(manifest, MODEL_CHANNELS, channel_notes)
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
