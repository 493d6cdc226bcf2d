"""Fixtures of the scoring tests: the edge-case scorecard and accounts (see edge_cases)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from edge_cases import Case, edge_icp, edge_rows, edge_settings


@pytest.fixture(scope="session")
def edge_case() -> Case:
    accounts, signals, contacts = edge_rows()
    return Case(edge_icp(), edge_settings(), accounts, signals, contacts)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    pyspark_sql = pytest.importorskip("pyspark.sql")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Spark needs Java")
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("icpkit-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    yield session
    session.stop()
