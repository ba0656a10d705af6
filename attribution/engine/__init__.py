"""The engine: one copy of each stage, the result and manifest, and the executors.

Executors: in memory, partitioned, Spark and HTTP scoring.
"""
