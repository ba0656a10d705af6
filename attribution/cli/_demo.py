"""``attribution demo`` (the sample data through every model) and ``attribution synth`` (a
seeded synthetic dataset of any size)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from attribution._reporting_currency import money_text
from attribution.b2b._analysis import Analysis, B2BInputs, analyse
from attribution.b2b._sla_targets import DEFAULT_SALES_TOUCH_TYPES
from attribution.cli._app import (
    OutOpt,
    app,
    console,
    fail,
    finish,
    with_progress,
)
from attribution.cli._output import rule
from attribution.engine._memory import attribute
from attribution.engine._result import AttributionResult
from attribution.exceptions import AttributionError, ConfigError
from attribution.models._registry import default_models
from attribution.models._rules import DEFAULT_ROLE_MULTIPLIERS

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"
#: Non-media costs the demo assumes (the sample data has none); printed and written with the
#: economics so every loaded-CAC figure can be traced to them.
DEMO_COSTS = {"sales_compensation": 200_000.0, "tooling": 30_000.0, "onboarding": 40_000.0}
#: The sample company's gross margin (not in the data; churn is observed in its subscriptions
#: table); see sample_data/README.md.
DEMO_GROSS_MARGIN = 0.80
#: Bootstrap draws of the demo's contact-level run: enough for its 90% intervals to show what
#: is noise, few enough that the demo stays quick (use 1,000 for decisions; README,
#: "Uncertainty").
DEMO_BOOTSTRAP = 100


@app.command()
def demo(
    data: Annotated[Path, typer.Option(help="Sample data directory")] = SAMPLE_DATA,
    out: OutOpt = Path("runs"),
) -> None:
    """Run the sample data through every model, write the run and print a summary."""
    if not (data / "touches.parquet").exists():
        fail(
            FileNotFoundError(
                f"no sample data in {data}; generate it with "
                f"`attribution synth --touches 90000 --conversion-rate 0.035 --no-shuffle "
                f"--out {data}`"
            )
        )

    def optional(name: str) -> Path | None:
        return data / name if (data / name).exists() else None

    def sample(models: list[str], **options: Any) -> AttributionResult:
        """The sample data attributed by ``models`` (a failure is the one-line error)."""
        try:
            return with_progress(
                len(models),
                attribute,
                touches=data / "touches.parquet",
                stages=data / "stages.parquet",
                contacts=optional("contacts.parquet"),
                models=models,
                # marketing attribution: the sales team's follow-ups are measured by the
                # SLA step, not credited as a channel (they would take ~30% of the credit)
                exclude_touch_types=DEFAULT_SALES_TOUCH_TYPES,
                **options,
            )
        except AttributionError as exc:
            fail(exc)

    models = default_models()
    result = sample(
        models,
        select_markov_order=True,
        bootstrap=DEMO_BOOTSTRAP,
        accounts=optional("accounts.parquet"),  # the draws' credit per segment
    )

    spend = optional("spend.parquet")

    def analysed(run: AttributionResult, **only: Any) -> Analysis:
        """The B2B stage on the sample's tables (``only``: more of them), the demo's
        economics assumptions; a failure is the one-line error."""
        try:
            return analyse(
                run,
                B2BInputs(
                    touches=data / "touches.parquet",
                    stages=data / "stages.parquet",
                    contacts=optional("contacts.parquet"),
                    spend=spend,
                    accounts=optional("accounts.parquet"),
                    subscriptions=optional("subscriptions.parquet"),
                    economics={"costs": DEMO_COSTS, "gross_margin": DEMO_GROSS_MARGIN},
                    **only,
                ),
            )
        except AttributionError as exc:
            fail(exc)

    analysis = analysed(
        result,
        surveys=optional("surveys.parquet"),
        survey_labels=optional("survey_labels.csv"),
        truth=optional("truth.json"),
        experiments=optional("experiments.csv"),
        plan=optional("plan.toml") if spend is not None else None,
        sla=True,
        influence_csv=True,
    )
    if spend is not None:
        console.print(
            "Demo assumption: non-media costs "
            + ", ".join(f"{k} {money_text(v)}" for k, v in DEMO_COSTS.items())
            + " for the year (the sample data has none; give yours in [economics.costs]); "
            f"gross margin {DEMO_GROSS_MARGIN:.0%} (the sample company's; give yours in "
            "[economics]).",
            highlight=False,
            markup=False,
        )
    main = finish(result, out, analysis=analysis)
    if optional("contacts.parquet") is None:
        return
    rule("Account level: buying committees, engagement, sourced vs influenced")
    account_models = [m for m in models if m in ("linear", "w_shaped", "markov")]
    accounts = sample(account_models, level="account", role_multipliers=DEFAULT_ROLE_MULTIPLIERS)
    # the account-level report answers on cost too (CAC per account won, LTV/CAC, payback):
    # a CRO opening it gets the economics of the same spend credited to accounts, the
    # pipeline per $ and the funnel of accounts (the surveys, plan and SLA stay the
    # contact-level run's)
    account_analysis = analysed(accounts) if spend is not None else None
    account_run = finish(accounts, out, analysis=account_analysis)
    # the last path printed is the one a reader opens: the report with the answers
    console.print(
        f"\nStart here, the report with the answers (CAC, guardrail, payback, funnel, the "
        f"lever): [bold]{escape(str(main / 'report.html'))}[/bold]\n(the account-level "
        f"view above: {escape(str(account_run / 'report.html'))})"
    )


@app.command()
def synth(
    touches: Annotated[
        int,
        typer.Option(
            "--touches",
            "-n",
            help="Number of marketing touches (the sales follow-up touches come on top)",
            min=1,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory")],
    seed: Annotated[int, typer.Option(help="Random seed")] = 7,
    conversion_rate: Annotated[float, typer.Option(help="Share of journeys closing won")] = 0.04,
    shuffle: Annotated[bool, typer.Option(help="Shuffle touch rows, as exports are")] = True,
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv")] = "parquet",
    anomalies: Annotated[
        str | None,
        typer.Option(
            "--anomalies",
            help="Inject anomalies on purpose, listed in truth.json: N (random, seeded) or a "
            "TOML file of [[anomaly]] tables (metric, channel, week, size, weeks)",
        ),
    ] = None,
    holdout: Annotated[
        list[str] | None,
        typer.Option(
            "--holdout",
            help="Simulate an account-holdout test of this channel (repeat for several): a "
            "share of the accounts gets none of its touches from a sixth of the window on; "
            "the readout is written to experiments.csv",
        ),
    ] = None,
    holdout_share: Annotated[
        float, typer.Option(help="Share of the accounts each --holdout test holds out")
    ] = 0.25,
    holdout_applied: Annotated[
        bool,
        typer.Option(
            "--holdout-applied/--holdout-readout",
            help="Applied: the tables carry the test (the held-out touches removed, their "
            "spend saved); readout: the tables are the world without it and experiments.csv "
            "is what the test would have read on it",
        ),
    ] = True,
    force: Annotated[
        bool, typer.Option("--force", help="Write into a directory that already holds files")
    ] = False,
) -> None:
    """Generate a seeded synthetic B2B dataset of any size, into a new or empty directory."""
    from attribution.datasets._anomalies import Anomaly, read_anomalies, with_anomalies
    from attribution.datasets._synth import write_synthetic

    held = sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) if (
        out.is_dir()
    ) else []  # fmt: skip
    if held and not force:  # a user's exports (or sample_data/) are never replaced silently
        fail(
            ConfigError(
                f"--out '{out}' already holds {len(held)} file(s) ({', '.join(held[:5])}"
                + (", ..." if len(held) > 5 else "")
                + "): synth writes its tables there and would replace any of the same name; "
                "give a new or empty directory, or --force"
            )
        )
    if out.exists() and not out.is_dir():
        fail(ConfigError(f"--out '{out}' is a file, not a directory"))

    chosen: int | list[Anomaly] | None = None
    if anomalies is not None:  # a bad list fails before anything is written
        if anomalies.strip().isdigit():
            chosen = int(anomalies)
        elif not Path(anomalies).is_file():
            fail(FileNotFoundError(f"--anomalies: no such file '{anomalies}' (give N or a TOML)"))
        else:
            try:
                chosen = read_anomalies(anomalies)
            except AttributionError as exc:
                fail(exc)
    try:
        files = write_synthetic(
            out,
            touches,
            seed=seed,
            shuffle=shuffle,
            fmt=fmt,  # type: ignore[arg-type]
            conversion_rate=conversion_rate,
            holdout=tuple(holdout or ()),
            holdout_share=holdout_share,
            holdout_applied=holdout_applied,
        )
        if chosen is not None:
            injected = with_anomalies(files, chosen, seed=seed, start="2025-01-01", days=365)
    except (AttributionError, ValueError) as exc:
        fail(exc)
    for name, path in files.items():
        console.print(f"{name:<10} {path}", markup=False, highlight=False)
    if chosen is not None:
        console.print(f"anomalies  {len(injected)} injected (truth.json: anomalies)",
                      markup=False, highlight=False)  # fmt: skip
