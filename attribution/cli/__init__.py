"""The ``attribution`` command line."""

from attribution.cli._app import app, main

__all__ = ["app", "main"]
