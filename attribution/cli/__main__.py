"""``python -m attribution.cli``."""

from attribution.cli._app import main

main()
