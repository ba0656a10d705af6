"""The ``attribution`` command line (Typer).

One module a command (or a small family of them), all registering on the one Typer ``app``
of :mod:`attribution.cli._app`, which also holds what commands share: the option types
(``ModelOpt``, ``OutOpt``, ...), ``fail`` (the one-line error and exit code 2),
``with_progress`` and ``finish`` (write a run with the outputs of the B2B stage,
:func:`attribution.analyse`, and print its summaries).
:mod:`attribution.cli._output` holds the consoles and the run summary.

Adding a command ``attribution NAME``:

1. write ``attribution/cli/_NAME.py``::

       from attribution.cli._app import app, fail

       @app.command("NAME")
       def name_cmd(...) -> None:
           \"\"\"One line for ``attribution --help``.\"\"\"
           try:
               ...
           except AttributionError as exc:
               fail(exc)

   (a command group, e.g. ``attribution import hubspot``, is a ``typer.Typer()`` added with
   ``app.add_typer(group, name="import")``);
2. add ``"_NAME"`` to ``COMMANDS`` below (its order is that of ``attribution --help``).

Import heavy or optional dependencies inside the command, not at the top of its module: every
command module is imported whenever the command line starts (``serve`` imports the service
only when it runs).
"""

import importlib

from attribution.cli._app import app

#: The command modules, in the order of ``attribution --help``; importing one registers its
#: commands on ``app``.
COMMANDS = (
    "_run",  # run
    "_surveys",  # surveys
    "_plan",  # plan
    "_paths",  # paths
    "_import",  # import hubspot, import salesforce
    "_demo",  # demo, synth
    "_publish",  # publish
    "_serve",  # serve
    "_models",  # models
)
for _module in COMMANDS:
    importlib.import_module(f"{__name__}.{_module}")


def main() -> None:
    """The ``attribution`` console script. SIGTERM (``docker stop``, Kubernetes) stops it
    as Ctrl-C does: one line saying what was written, exit 143."""
    import signal

    from attribution.cli._app import (
        STOPS,
        exit_now,
        on_sigint,
        on_sigterm,
        signalled,
        stopped_elsewhere,
    )

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, on_sigint)
    try:
        try:
            app()
            return
        except SystemExit as exc:
            said = stopped_elsewhere(exc.code)
            code = exc.code if said is None else said
        except STOPS as stop:  # while Typer builds the command line, before its handling
            if not isinstance(stop, KeyboardInterrupt) and not signalled():
                raise
            code = stopped_elsewhere(130)
    finally:
        # the command is done (or stopped): a signal arriving now, while the interpreter
        # exits (its atexit callbacks: logging's shutdown), has nothing left to stop, and
        # raised there it was a traceback after a complete run (exit 0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if signalled() and isinstance(code, int):
        exit_now(code)
    raise SystemExit(code)


__all__ = ["COMMANDS", "app", "main"]
