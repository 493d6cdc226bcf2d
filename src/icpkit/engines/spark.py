"""``icp score --engine spark``: the compiled SELECT on a Spark session.

The session is whatever ``SparkSession.builder.getOrCreate()`` gives: local mode by default,
a cluster when run under ``spark-submit`` or with the usual ``SPARK_*`` settings. The
accounts come from a Parquet file (or folder) in the scorecard's input layout; the
workspace's signals and contacts travel to Spark as Parquet. Needs ``icpkit[spark]``.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from icpkit.config import Settings
from icpkit.engines.features import ScoringError
from icpkit.engines.layout import CANONICAL, extra_columns
from icpkit.engines.sql import Tables, compile_scorecard
from icpkit.errors import IcpkitError
from icpkit.icp.model import ICP
from icpkit.output.files import sweep_stale, temp_name

SPARK_TYPES = {
    "VARCHAR": "string",
    "BIGINT": "bigint",
    "DOUBLE": "double",
    "INTEGER": "int",
    "VARCHAR[]": "array<string>",
}


class SparkUnavailable(IcpkitError):
    """PySpark (or Java) is missing; the message says what to install."""


def _session() -> Any:
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable(
            "--engine spark needs PySpark and Java: pip install 'icpkit[spark]'"
        ) from None
    return (
        SparkSession.builder.appName("icpkit score")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


def score_on_spark(
    icp: ICP,
    settings: Settings,
    con: duckdb.DuckDBPyConnection,
    path: Path,
    out: Path,
    *,
    as_of: dt.date | None = None,
    named: Sequence[tuple[str, ICP]] = (),
) -> int:
    """Score the Parquet accounts at ``path`` on Spark into the Parquet folder ``out``
    (written in full, then moved into place), the signals and contacts read from the store
    behind ``con``; returns the number of rows. ``named`` ICPs add their columns and the
    best fit, as on DuckDB (icpkit.engines.multi)."""
    from pyspark.sql import functions as F

    spark = _session()
    accounts = spark.read.parquet(str(path))
    if "account_key" not in accounts.columns:
        raise ScoringError(
            f"{path}: Spark scores files in the input layout (an account_key column, see "
            "docs/scoring.md); score raw exports with the default engine"
        )
    for name, kind in CANONICAL.items():
        if name not in accounts.columns:
            accounts = accounts.withColumn(name, F.lit(None).cast(SPARK_TYPES[kind]))
    extras = sorted({c for i in (icp, *(n for _, n in named)) for c in extra_columns(i)})
    for extra in extras:
        if extra not in accounts.columns:
            accounts = accounts.withColumn(extra, F.lit(None).cast("string"))
    keep = tuple(c for c in accounts.columns if c not in CANONICAL and c not in extras)
    accounts.createOrReplaceTempView("icp_accounts")
    staging = Path(tempfile.mkdtemp(prefix="icpkit-spark-"))
    try:
        for table in ("signals", "contacts"):
            target = staging / f"{table}.parquet"
            con.execute(f"COPY {table} TO '{target.as_posix()}' (FORMAT PARQUET)")
            spark.read.parquet(str(target)).createOrReplaceTempView(f"icp_{table}")
        tables = Tables("icp_accounts", "icp_signals", "icp_contacts")
        day = as_of or dt.date.today()
        if named:
            from icpkit.engines.multi import chain_select

            passed = [c for c in accounts.columns if c != "account_key"]
            chained = chain_select(
                icp,
                named,
                settings,
                passed=passed,
                dialect="spark",
                tables=tables,
                as_of=day,
                keep=keep,
            )
            sql = chained.sql(dialect="spark", pretty=True)
        else:
            sql = compile_scorecard(
                icp, settings, dialect="spark", tables=tables, as_of=day, keep=keep
            )
        result = spark.sql(sql)
        # Spark skips folders whose names start with '.' or '_': the partial one is visible,
        # named so that the next run removes it if this one is killed.
        sweep_stale(out.parent)
        partial = out.parent / temp_name(out).name.lstrip(".")
        shutil.rmtree(partial, ignore_errors=True)
        result.write.mode("overwrite").parquet(str(partial))
        total = int(spark.read.parquet(str(partial)).count())
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        partial.rename(out)
        return total
    finally:
        shutil.rmtree(staging, ignore_errors=True)
