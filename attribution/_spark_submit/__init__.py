"""Holds only the Spark job's entry script, ``attribution_spark_job.py``: the file given to
``spark-submit`` (``python -m attribution.spark --submit-file`` prints its path). Python
puts a script's own directory first on ``sys.path``; this one holds nothing that could
shadow a standard module (the package's own directory holds ``typing.py``)."""
