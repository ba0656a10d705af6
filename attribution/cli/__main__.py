"""``python -m attribution.cli``."""

from attribution.cli import main

main()
