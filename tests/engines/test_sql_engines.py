"""The same compiled scorecard on a real PostgreSQL server and a real local Spark session
gives every account exactly the Python reference's scores, tier, route and reasons."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from edge_cases import Case, assert_same_rows, no_rules_icp, unknown_bins_icp

from icpkit.config import Settings
from icpkit.engines.reference import score_all
from icpkit.engines.sql import Tables, compile_scorecard


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_user() -> pwd.struct_passwd | None:
    """The account the server runs as when the tests run as root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    pytest.skip("running as root with neither a 'postgres' nor a 'nobody' account")


def _as_postgres_user(cmd: list[str]) -> list[str]:
    user = _server_user()
    return ["runuser", "-u", user.pw_name, "--", *cmd] if user else cmd


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres() -> Iterator[Any]:
    psycopg = pytest.importorskip("psycopg")
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    root = Path(tempfile.mkdtemp(prefix="icpkit-pg-"))
    user = _server_user()
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    data, port = root / "data", _free_port()
    subprocess.run(
        _as_postgres_user(
            [
                "initdb",
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-locale",
            ]
        ),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        _as_postgres_user(
            [
                "pg_ctl",
                "-D",
                str(data),
                "-w",
                "-l",
                str(root / "log"),
                "-o",
                f"-p {port} -k {root} -c listen_addresses=''",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    try:
        conn = psycopg.connect(
            host=str(root), port=port, user="postgres", dbname="postgres", autocommit=True
        )
        yield conn
        conn.close()
    finally:
        subprocess.run(
            _as_postgres_user(["pg_ctl", "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


def _load_postgres(conn: Any, case: Case) -> None:
    conn.execute(
        """CREATE TABLE accounts (account_key TEXT, employees BIGINT, revenue DOUBLE PRECISION,
           industry TEXT, country TEXT, funding_stage TEXT, founded_year INTEGER,
           technologies TEXT[], "Time Zone" TEXT)"""
    )
    conn.execute(
        "CREATE TABLE signals (account_key TEXT, signal_type TEXT, detail TEXT, "
        "observed_at TIMESTAMP)"
    )
    conn.execute(
        """CREATE TABLE contacts (account_key TEXT, seniority TEXT, department TEXT,
           job_title TEXT, created_at TIMESTAMP)"""
    )
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO accounts VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [tuple(a.values()) for a in case.accounts],
        )
        cur.executemany(
            "INSERT INTO signals VALUES (%s, %s, %s, %s)", [tuple(s.values()) for s in case.signals]
        )
        cur.executemany(
            "INSERT INTO contacts VALUES (%s, %s, %s, %s, %s)",
            [tuple(c.values()) for c in case.contacts],
        )


def test_postgres_scores_every_edge_case_like_the_reference(postgres: Any, edge_case: Case) -> None:
    _load_postgres(postgres, edge_case)
    sql = compile_scorecard(
        edge_case.icp, edge_case.settings, dialect="postgres", as_of=edge_case.as_of
    )
    with postgres.cursor() as cur:
        cur.execute(sql)
        names = [d.name for d in cur.description]
        actual = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    expected = score_all(
        edge_case.icp,
        edge_case.settings,
        edge_case.accounts,
        edge_case.signals,
        edge_case.contacts,
        edge_case.as_of,
    )
    assert_same_rows(expected, actual, "postgres")


def spark_rows(spark: Any, case: Case) -> list[dict[str, Any]]:
    """The case scored by the compiled SELECT on the Spark session, from typed views."""
    from pyspark.sql import types as T

    accounts = T.StructType(
        [
            T.StructField("account_key", T.StringType()),
            T.StructField("employees", T.LongType()),
            T.StructField("revenue", T.DoubleType()),
            T.StructField("industry", T.StringType()),
            T.StructField("country", T.StringType()),
            T.StructField("funding_stage", T.StringType()),
            T.StructField("founded_year", T.IntegerType()),
            T.StructField("technologies", T.ArrayType(T.StringType())),
            T.StructField("Time Zone", T.StringType()),
        ]
    )
    signals = T.StructType(
        [
            T.StructField("account_key", T.StringType()),
            T.StructField("signal_type", T.StringType()),
            T.StructField("detail", T.StringType()),
            T.StructField("observed_at", T.TimestampNTZType()),
        ]
    )
    contacts = T.StructType(
        [
            T.StructField("account_key", T.StringType()),
            T.StructField("seniority", T.StringType()),
            T.StructField("department", T.StringType()),
            T.StructField("job_title", T.StringType()),
            T.StructField("created_at", T.TimestampNTZType()),
        ]
    )
    for name, rows, schema in (
        ("sp_accounts", case.accounts, accounts),
        ("sp_signals", case.signals, signals),
        ("sp_contacts", case.contacts, contacts),
    ):
        spark.createDataFrame([tuple(r.values()) for r in rows], schema).createOrReplaceTempView(
            name
        )
    sql = compile_scorecard(
        case.icp,
        case.settings,
        dialect="spark",
        as_of=case.as_of,
        tables=Tables("sp_accounts", "sp_signals", "sp_contacts"),
    )
    return [row.asDict() for row in spark.sql(sql).collect()]


def test_spark_scores_every_edge_case_like_the_reference(spark: Any, edge_case: Case) -> None:
    actual = spark_rows(spark, edge_case)
    expected = score_all(
        edge_case.icp,
        edge_case.settings,
        edge_case.accounts,
        edge_case.signals,
        edge_case.contacts,
        edge_case.as_of,
    )
    assert_same_rows(expected, actual, "spark")


def test_postgres_scores_an_icp_without_rules_like_the_reference(
    postgres: Any, edge_case: Case
) -> None:
    case = Case(no_rules_icp(), Settings(), edge_case.accounts, [], [])
    for table in ("accounts", "signals", "contacts"):
        postgres.execute(f"DROP TABLE IF EXISTS {table}")
    _load_postgres(postgres, case)
    sql = compile_scorecard(case.icp, case.settings, dialect="postgres", as_of=case.as_of)
    with postgres.cursor() as cur:
        cur.execute(sql)
        names = [d.name for d in cur.description]
        actual = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    expected = score_all(case.icp, case.settings, case.accounts, [], [], case.as_of)
    assert_same_rows(expected, actual, "postgres")
    assert {r["route"] for r in actual} == {"automated_nurture"}


def test_postgres_scores_unknown_values_like_the_reference(postgres: Any, edge_case: Case) -> None:
    case = Case(
        unknown_bins_icp(),
        edge_case.settings,
        edge_case.accounts,
        edge_case.signals,
        edge_case.contacts,
    )
    for table in ("accounts", "signals", "contacts"):
        postgres.execute(f"DROP TABLE IF EXISTS {table}")
    _load_postgres(postgres, case)
    sql = compile_scorecard(case.icp, case.settings, dialect="postgres", as_of=case.as_of)
    with postgres.cursor() as cur:
        cur.execute(sql)
        names = [d.name for d in cur.description]
        actual = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    expected = score_all(
        case.icp, case.settings, case.accounts, case.signals, case.contacts, case.as_of
    )
    assert_same_rows(expected, actual, "postgres")
    assert any("Employees unknown (" in r["negative_reasons"] for r in expected)
