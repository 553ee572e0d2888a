"""engine.analytics.spark on local Spark (local[2]): the case-mix summary of a DataFrame,
summed per partition on the executors and merged on the driver, equals Grouper.casemix
of the same claims (issue 28). Skipped, with the reason, where pyspark or Java is missing."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

pa = pytest.importorskip("pyarrow", reason="pyarrow not installed (pip install -e '.[dev]')")
pytest.importorskip("pyspark", reason="pyspark not installed (pip install -e '.[spark]')")
if not shutil.which("java") and not os.environ.get("JAVA_HOME"):
    pytest.skip("Spark needs Java (17): none on PATH or in JAVA_HOME", allow_module_level=True)

from arrow_helpers import public_table  # noqa: E402

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


@pytest.mark.timeout(900)
def test_casemix_of_spark_partitions_merged_equals_grouper(grouper, public_records):
    from pyspark.sql import SparkSession

    from engine.analytics.spark import casemix

    table, _ = public_table(public_records[:4000])
    spark = (SparkSession.builder.master("local[2]").appName("fastdrg-casemix-test")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate())
    try:
        df = spark.createDataFrame(table).repartition(3)
        got = casemix(df, to="43.1", grouper=grouper)
    finally:
        spark.stop()
    assert got == grouper.casemix(table, to="43.1")
    assert got["claims"] == 4000
