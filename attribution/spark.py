"""Scale-out on Apache Spark (needs the ``spark`` extra): the public face of
:mod:`attribution.engine._spark`. Run as a job with ``python -m attribution.spark ...``."""

import sys

from attribution.engine._spark import SparkAttribution, attribute_spark
from attribution.engine._spark_job import main

__all__ = ["SparkAttribution", "attribute_spark", "main"]

if __name__ == "__main__":
    sys.exit(main())
