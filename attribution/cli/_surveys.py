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
    MaybeOutOpt,
    MaybeStagesOpt,
    MaybeTouchesOpt,
    ModelOpt,
    TruthOpt,
    app,
    fail,
    finish,
    with_progress,
)
from attribution.cli._run import one_run, run_config, run_options, runs_dir_of
from attribution.engine._memory import attribute
from attribution.exceptions import AttributionError, EmptyResultError
from attribution.inputs._sources import check_readable
from attribution.options import option_flags, read_flags
from attribution.surveys._classifier import DEFAULT_MIN_PROBA
from attribution.surveys._join import DEFAULT_POST_PURCHASE_DAYS, MAX_POST_PURCHASE_DAYS

_LEVEL = dict(option_flags())["level"]


@app.command("surveys")
def surveys_cmd(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="TOML run config, read as `attribution run` reads it: [inputs] (surveys, "
            "touches, stages, contacts, import), [columns.surveys] and the other [columns], "
            "[formats], [run] (level, models, out...); a flag wins over its key",
        ),
    ] = None,
    surveys: Annotated[
        Path | None, typer.Option(help="Survey answers file (or [inputs] surveys)")
    ] = None,
    touches: MaybeTouchesOpt = None,
    stages: MaybeStagesOpt = None,
    contacts: ContactsOpt = None,
    level: Annotated[str | None, typer.Option(*_LEVEL.flags, help=_LEVEL.help)] = None,
    model: ModelOpt = None,
    truth: TruthOpt = None,
    survey_labels: LabelsOpt = None,
    survey_min_proba: Annotated[
        float | None,
        typer.Option(
            "--survey-min-proba",
            min=0.0,
            max=1.0,
            help="Survey classifier (--survey-labels): answers it codes with a probability "
            f"below this stay unmatched (default {DEFAULT_MIN_PROBA:g}, or the config's)",
        ),
    ] = None,
    survey_post_purchase_days: Annotated[
        int | None,
        typer.Option(
            "--survey-post-purchase-days",
            min=0,
            max=MAX_POST_PURCHASE_DAYS,
            help="An answer at most this many days after a conversion of its contact is about "
            f"that conversion, else the next one (default {DEFAULT_POST_PURCHASE_DAYS}, or "
            "the config's)",
        ),
    ] = None,
    allow_empty: Annotated[
        bool,
        typer.Option(
            "--allow-empty",
            help="Write a benchmark that compared no conversion (else exit code 3, saying why)",
        ),
    ] = False,
    out: MaybeOutOpt = None,
) -> None:
    """Benchmark models against self-reported surveys ("How did you hear about us?").

    The run is described as ``attribution run`` describes it (one :class:`RunOptions`, and
    the same --config reading: [inputs], [columns.surveys]...): --level account with
    --contacts makes account journeys, and a survey answer keyed by a contact joins its
    contact's account's conversions, as in ``run --surveys``.
    """
    try:
        cfg, inputs = run_config(
            config,
            {"surveys": surveys, "touches": touches, "stages": stages, "contacts": contacts},
        )
        missing = [f"--{k}" for k in ("surveys", "touches", "stages") if k not in inputs]
        if missing:
            raise typer.BadParameter(
                f"give {', '.join(missing)} (or [inputs] in a --config, an import folder's "
                "tables included)"
            )
        surveys, touches, stages = inputs["surveys"], inputs["touches"], inputs["stages"]
        runs_dir = runs_dir_of(out, cfg)  # --out, else the config's [run] out, as run's
        contacts = inputs.get("contacts")
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
        if survey_min_proba is not None:  # else the config's, else the default
            given["survey_min_proba"] = (survey_min_proba, "--survey-min-proba")
        if survey_post_purchase_days is not None:
            given["survey_post_purchase_days"] = (
                survey_post_purchase_days,
                "--survey-post-purchase-days",
            )
        options = one_run(run_options(cfg, given), "surveys")
        # the answers, their labels and the truth read and checked before the attribution
        b2b = B2BInputs(
            surveys=surveys,
            contacts=contacts,
            touches=touches,  # read only for e-mails, when the answers are keyed by one
            survey_labels=survey_labels,
            truth=truth,
        ).read(options)
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
        analysis = analyse(result, b2b, options=options)
        bench = analysis.survey_benchmark
        assert bench is not None  # surveys were given
        if not allow_empty:  # the benchmark is the command's answer: empty is no answer
            bench.require_compared()
    except EmptyResultError as exc:  # no conversion, or no answer, to compare
        fail(exc, EXIT_EMPTY)
    except AttributionError as exc:
        fail(exc)
    finish(result, runs_dir, analysis=analysis)
