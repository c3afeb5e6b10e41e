"""What ``flushwatch db info`` reports: size, schema version, rows per table, last runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flushwatch.storage.db import Database
from flushwatch.storage.schema import read_version


@dataclass(frozen=True)
class DatabaseInfo:
    path: str
    size_bytes: int
    schema_version: int
    tables: list[tuple[str, int]]  # (table, rows)
    views: list[str]
    last_runs: list[tuple[Any, ...]]  # (command, run_id, started_at, finished_at, status, counts)


def database_info(db: Database) -> DatabaseInfo:
    with db.read() as con:
        version = read_version(con)
        names = [
            r[0]
            for r in con.execute(
                """
                SELECT table_name FROM information_schema.tables
                 WHERE table_schema = 'main' AND table_type = 'BASE TABLE'
                 ORDER BY table_name
                """
            ).fetchall()
        ]
        # One UNION query rather than a round-trip per table.
        counts: dict[str, int] = {}
        if names:
            union = " UNION ALL ".join(f"SELECT '{n}' AS t, count(*) AS n FROM \"{n}\"" for n in names)
            counts = {t: int(n) for t, n in con.execute(union).fetchall()}
        views = [
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' "
                "ORDER BY view_name"
            ).fetchall()
        ]
        last_runs = con.execute(
            """
            SELECT command, run_id, started_at, finished_at, status, counts
              FROM runs
            QUALIFY row_number() OVER (PARTITION BY command ORDER BY run_id DESC) = 1
             ORDER BY command
            """
        ).fetchall()
    return DatabaseInfo(
        path=str(db.path),
        size_bytes=db.path.stat().st_size if db.path.exists() else 0,
        schema_version=version,
        tables=[(n, counts.get(n, 0)) for n in names],
        views=views,
        last_runs=[tuple(r) for r in last_runs],
    )


#: What ``flushwatch sql`` runs: queries (SELECT, SHOW, DESCRIBE, SUMMARIZE), EXPLAIN, PRAGMA.
_READ_STATEMENTS = frozenset({"SELECT", "EXPLAIN", "PRAGMA"})


def _check_one_read(con: Any, query: str) -> None:
    """Refuse all but one read statement: ``ATTACH ... (READ_WRITE)`` or ``COPY ... TO`` would
    get past the read-only connection (one attaches the live file again, writable; the other
    writes files), and a second statement after a ``;`` would run unseen."""
    from flushwatch.errors import InputError

    statements = con.extract_statements(query)
    kinds = [str(st.type).rsplit(".", 1)[-1] for st in statements]
    if len(kinds) != 1:
        raise InputError(
            f"flushwatch sql runs one query; this has {len(kinds)} statements",
            hint="run them one at a time, or open the snapshot with duckdb for a session",
        )
    if kinds[0] not in _READ_STATEMENTS:
        raise InputError(
            f"flushwatch sql only reads; {kinds[0]} statements are refused",
            hint="query with SELECT, SHOW, DESCRIBE or EXPLAIN; export with flushwatch export",
        )


def _sql_hint(message: str) -> str:
    """What to do next: a write was refused, or the query itself is wrong."""
    if "read-only" in message:
        return "the database is opened read-only; write with flushwatch commands, or query a copy"
    return "tables and views: flushwatch sql \"SHOW TABLES\"; columns: docs/views.md"


def run_readonly_sql(
    db: Database, query: str, limit: int | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one user query on a read-only connection; return (columns, rows)."""
    import duckdb

    from flushwatch.errors import InputError

    if not query.strip():
        raise InputError("empty query", hint='give one query, e.g. flushwatch sql "SHOW TABLES"')
    with db.read() as con:
        try:
            _check_one_read(con, query)
            rel = con.execute(query)
            columns = [d[0] for d in rel.description] if rel.description else []
            rows = rel.fetchmany(limit) if limit is not None else rel.fetchall()
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(f"query failed: {first}", hint=_sql_hint(first)) from exc
    return columns, [tuple(r) for r in rows]
