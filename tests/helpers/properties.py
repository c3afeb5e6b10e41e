"""Hypothesis settings shared by the property tests of the importers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, settings

from flushwatch.storage.db import Database


def examples(n: int) -> settings:
    """``n`` generated cases, no per-case deadline (each imports real files into DuckDB, whose
    time depends on the machine), and the health checks that large generated files trip."""
    return settings(
        max_examples=n,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


@contextmanager
def warm_database(path: Path) -> Iterator[tuple[Database, duckdb.DuckDBPyConnection]]:
    """A migrated database for every example of a test, and a held connection that keeps
    DuckDB's instance warm (each import still opens, commits and closes its own connections).
    One thread, instance-wide: the files hold a few rows, and a second thread only adds
    scheduling per query."""
    db = Database(path, wait_s=5, snapshot=False)
    with db.write():
        pass  # the schema
    con = duckdb.connect(str(db.path))
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET threads = 1")
    try:
        yield db, con
    finally:
        con.close()
