"""``attribution surveys``: benchmark models against self-reported survey answers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from attribution.b2b._analysis import B2BInputs, analyse
from attribution.cli._app import (
    EXIT_EMPTY,
    ContactsOpt,
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
from attribution.options import RunOptions, option_flags, read_flags
from attribution.surveys._classifier import DEFAULT_MIN_PROBA
from attribution.surveys._join import DEFAULT_POST_PURCHASE_DAYS, MAX_POST_PURCHASE_DAYS

_LEVEL = dict(option_flags())["level"]


@app.command("surveys")
def surveys_cmd(
    surveys: Annotated[Path, typer.Option(help="Survey answers file")],
    touches: TouchesOpt,
    stages: StagesOpt,
    contacts: ContactsOpt = None,
    level: Annotated[str | None, typer.Option(*_LEVEL.flags, help=_LEVEL.help)] = None,
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
    """Benchmark models against self-reported surveys ("How did you hear about us?").

    The run is described as ``attribution run`` describes it (one :class:`RunOptions`):
    --level account with --contacts makes account journeys, and a survey answer keyed by a
    contact joins its contact's account's conversions, as in ``run --surveys``.
    """
    try:
        check_readable(
            {
                "surveys": surveys,
                "touches": touches,
                "stages": stages,
                "contacts": contacts,
                "truth": truth,
                "survey_labels": survey_labels,
            }
        )
        given = read_flags({"models": model, "level": level})
        given["survey_min_proba"] = (survey_min_proba, "--survey-min-proba")
        given["survey_post_purchase_days"] = (
            survey_post_purchase_days,
            "--survey-post-purchase-days",
        )
        options = RunOptions.written(given)
        result = with_progress(
            len(options.runs),
            attribute,
            touches=touches,
            stages=stages,
            contacts=contacts,
            options=options,
        )
        result.require_conversions()
        # the benchmark (and the decision model it ranks first) as `run --surveys` makes it
        analysis = analyse(
            result,
            B2BInputs(
                surveys=surveys,
                contacts=contacts,
                touches=touches,  # read only for e-mails, when the answers are keyed by one
                survey_labels=survey_labels,
                truth=truth,
            ),
            options=options,
        )
        bench = analysis.survey_benchmark
        assert bench is not None  # surveys were given
        if not allow_empty:  # the benchmark is the command's answer: empty is no answer
            bench.require_compared()
    except EmptyResultError as exc:  # no conversion, or no answer, to compare
        fail(exc, EXIT_EMPTY)
    except AttributionError as exc:
        fail(exc)
    finish(result, out, analysis=analysis)
