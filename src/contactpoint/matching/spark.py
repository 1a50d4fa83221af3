"""Running the match model on Spark (pyspark local mode) for a national-scale batch.

Splink generates the same SQL for Spark as for DuckDB from the comparisons in training.py;
Spark needs Splink's similarity UDF jar (Jaro-Winkler, Damerau-Levenshtein), which ships
inside the splink package. On a cluster, pass the cluster's SparkSession instead.
"""

from __future__ import annotations

import tempfile
from typing import Any


class SparkUnavailable(RuntimeError):
    """pyspark is not installed or Java is missing: install contactpoint[spark] and a JDK."""


def local_spark_session(*, cores: int = 2, memory: str = "2g") -> Any:
    """A local-mode SparkSession with Splink's UDF jar on the class path."""
    try:
        from pyspark.sql import SparkSession
        from splink.backends.spark import similarity_jar_location
    except ImportError as error:  # pragma: no cover - exercised only without pyspark
        raise SparkUnavailable(
            "pyspark is not installed: pip install 'contactpoint[spark]'"
        ) from error
    try:
        session = (
            SparkSession.builder.master(f"local[{cores}]")
            .appName("contactpoint-matching")
            .config("spark.driver.memory", memory)
            .config("spark.jars", similarity_jar_location())
            .config("spark.sql.shuffle.partitions", str(max(4, cores * 4)))
            .config("spark.ui.enabled", "false")
            .getOrCreate()
        )
    except Exception as error:  # Java missing or broken: pyspark raises several kinds
        raise SparkUnavailable(f"Spark could not start (is Java installed?): {error}") from error
    session.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="contactpoint-spark-"))
    return session


def local_spark_api(session: Any | None = None) -> Any:
    """Splink's Spark database API over a local session."""
    from splink import SparkAPI

    return SparkAPI(spark_session=session or local_spark_session())


def spark_frame(session: Any, table: Any) -> Any:
    """A Spark DataFrame from a pyarrow Table (PySpark 4 reads Arrow directly; no pandas)."""
    try:
        return session.createDataFrame(table)
    except TypeError:  # PySpark 3.5 wants rows
        return session.createDataFrame(table.to_pylist())
