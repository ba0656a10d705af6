"""``attribution surveys``: benchmark models against self-reported survey answers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from attribution.b2b._analysis import Analysis
from attribution.cli._app import (
    EXIT_EMPTY,
    LabelsOpt,
    ModelOpt,
    OutOpt,
    StagesOpt,
    TouchesOpt,
    TruthOpt,
    app,
    fail,
    finish,
    with_progress,
)
from attribution.engine._memory import attribute
from attribution.exceptions import AttributionError, EmptyResultError
from attribution.inputs._sources import check_readable
from attribution.models._registry import default_models
from attribution.surveys._classifier import DEFAULT_MIN_PROBA
from attribution.surveys._join import DEFAULT_POST_PURCHASE_DAYS, MAX_POST_PURCHASE_DAYS


@app.command("surveys")
def surveys_cmd(
    surveys: Annotated[Path, typer.Option(help="Survey answers file")],
    touches: TouchesOpt,
    stages: StagesOpt,
    model: ModelOpt = None,
    truth: TruthOpt = None,
    survey_labels: LabelsOpt = None,
    survey_min_proba: Annotated[
        float,
        typer.Option(
            "--survey-min-proba",
            min=0.0,
            max=1.0,
            help="Survey classifier (--survey-labels): answers it codes with a probability "
            "below this stay unmatched",
        ),
    ] = DEFAULT_MIN_PROBA,
    survey_post_purchase_days: Annotated[
        int,
        typer.Option(
            "--survey-post-purchase-days",
            min=0,
            max=MAX_POST_PURCHASE_DAYS,
            help="An answer at most this many days after a conversion of its contact is about "
            "that conversion, else the next one",
        ),
    ] = DEFAULT_POST_PURCHASE_DAYS,
    allow_empty: Annotated[
        bool,
        typer.Option(
            "--allow-empty",
            help="Write a benchmark that compared no conversion (else exit code 3, saying why)",
        ),
    ] = False,
    out: OutOpt = Path("runs"),
) -> None:
    """Benchmark models against self-reported surveys ("How did you hear about us?")."""
    from attribution.surveys._benchmark import compare_surveys

    models = model or default_models()
    try:
        check_readable(
            {
                "surveys": surveys,
                "touches": touches,
                "stages": stages,
                "truth": truth,
                "survey_labels": survey_labels,
            }
        )
        result = with_progress(
            len(models), attribute, touches=touches, stages=stages, models=models
        )
        result.require_conversions()
        bench = compare_surveys(
            result,
            surveys,
            truth=truth,
            classifier=survey_labels,
            min_proba=survey_min_proba,
            post_purchase_days=survey_post_purchase_days,
        )
        if not allow_empty:  # the benchmark is the command's answer: empty is no answer
            bench.require_compared()
    except EmptyResultError as exc:  # no conversion, or no answer, to compare
        fail(exc, EXIT_EMPTY)
    except AttributionError as exc:
        fail(exc)
    finish(result, out, analysis=Analysis(survey_benchmark=bench))
