"""The Spark job as a file for ``spark-submit`` (which runs a Python file, not ``-m``):

    spark-submit [spark options] "$(python -m attribution.spark --submit-file)" --touches ...

Runs :func:`attribution.spark.main` with the arguments after the file's name."""

import sys

from attribution.spark import main

if __name__ == "__main__":
    sys.exit(main())
