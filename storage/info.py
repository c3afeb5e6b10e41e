"""What ``flushwatch db info`` reports (size, schema version, rows per table, last runs), and
the read-only query behind ``flushwatch sql``."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
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


#: What ``flushwatch sql`` runs: queries (SELECT, SHOW, DESCRIBE, SUMMARIZE), EXPLAIN of a
#: query, and the PRAGMAs in :data:`_READ_PRAGMAS`.
_READ_STATEMENTS = frozenset({"SELECT", "EXPLAIN", "PRAGMA"})

#: PRAGMAs that only describe the database. The others change settings, copy or checkpoint a
#: database, or run statements from files (``import_database`` runs a directory's schema.sql).
_READ_PRAGMAS = frozenset(
    {
        "collations",
        "database_list",
        "database_size",
        "extension_versions",
        "functions",
        "metadata_info",
        "platform",
        "show",
        "show_databases",
        "show_tables",
        "show_tables_expanded",
        "storage_info",
        "table_info",
        "user_agent",
        "version",
    }
)

#: Seconds a ``flushwatch sql`` query may run. A reader holds the file, and every writer (cron
#: imports, the recorder) waits for it: a runaway query must end well before their --wait does.
DEFAULT_TIMEOUT_S = 60.0

_READ_HINT = "query with SELECT, SHOW, DESCRIBE or EXPLAIN; export with flushwatch export"


def _kind(statement: Any) -> str:
    """'SELECT', 'EXPLAIN', ...; for a type this DuckDB's Python enum lacks (reading
    ``UPDATE EXTENSIONS``'s raised a ValueError), the statement's first word."""
    try:
        return str(statement.type).rsplit(".", 1)[-1]
    except ValueError:
        words = _tokens(statement.query)
        return words[0][1].upper() if words else "UNKNOWN"


def _tokens(sql: str) -> list[tuple[int, str]]:
    """(offset, text) of each token of ``sql``, comments left out."""
    import duckdb

    marks = duckdb.tokenize(sql)
    ends = [offset for offset, _ in marks[1:]] + [len(sql)]
    return [
        (offset, sql[offset:end].strip())
        for (offset, kind), end in zip(marks, ends, strict=True)
        if kind != duckdb.token_type.comment
    ]


def _explained(sql: str) -> str:
    """The statement an ``EXPLAIN [ANALYZE] [(options)]`` runs: ``EXPLAIN ANALYZE COPY ... TO``
    executes the COPY, so what is explained must pass as a query itself."""
    depth = 0
    for offset, text in _tokens(sql)[1:]:  # the first is EXPLAIN
        word = text.upper()
        if word == "(":
            depth += 1
        elif word == ")":
            depth -= 1
        elif depth == 0 and word not in ("ANALYZE", "ANALYSE"):
            return sql[offset:]
    return ""


def _refuse(kind: str) -> Exception:
    from flushwatch.errors import InputError

    return InputError(f"flushwatch sql only reads; {kind} statements are refused", hint=_READ_HINT)


def _check_one_read(con: Any, query: str) -> None:
    """Refuse all but one read statement: ``ATTACH ... (READ_WRITE)`` or ``COPY ... TO`` would
    get past the read-only connection (one attaches the live file again, writable; the other
    writes files), and a second statement after a ``;`` would run unseen.

    This is the second wall; the first is the connection itself (:func:`_lock_down`), which
    cannot touch any file. It still matters where ``--allow-read`` opens paths: DuckDB's
    allowed paths may be written too, so nothing but a query may reach them.
    """
    from flushwatch.errors import InputError

    statements = con.extract_statements(query)
    if len(statements) != 1:
        raise InputError(
            f"flushwatch sql runs one query; this has {len(statements)} statements",
            hint="run them one at a time, or open the snapshot with duckdb for a session",
        )
    statement = statements[0]
    kind = _kind(statement)
    if kind not in _READ_STATEMENTS:
        raise _refuse(kind)
    if kind == "PRAGMA":
        words = _tokens(statement.query)
        name = words[1][1].strip('"').lower() if len(words) > 1 else ""
        if name not in _READ_PRAGMAS:
            raise _refuse(f"PRAGMA {name}")
    if kind == "EXPLAIN":
        inner = _explained(statement.query)
        explained = con.extract_statements(inner) if inner.strip() else []
        if len(explained) != 1 or _kind(explained[0]) != "SELECT":
            what = _kind(explained[0]) if explained else "empty"
            raise _refuse(f"EXPLAIN of {what}")


def _lock_down(con: Any, allow_read: Sequence[Path]) -> None:
    """Make ``con`` unable to touch anything outside the database: no file, no URL, no
    extension install or load; then lock the settings, so a query cannot SET them back.

    The read-only connection alone is not enough: ``COPY ... TO``, ``EXPLAIN ANALYZE COPY``
    and ``import_database`` write files or run other statements, and ``read_json('https://')``
    installs an extension. The database file and DuckDB's own temp files stay usable.
    ``allow_read`` names files and directories a query may read (DuckDB's allowed paths).
    """
    files = [p for p in allow_read if not p.is_dir()]
    dirs = [p for p in allow_read if p.is_dir()]
    if files:
        con.execute(f"SET allowed_paths = {_sql_list(str(p) for p in files)}")
    if dirs:
        con.execute(f"SET allowed_directories = {_sql_list(str(p).rstrip('/') + '/' for p in dirs)}")
    for setting in (
        "autoinstall_known_extensions = false",
        "autoload_known_extensions = false",
        "enable_external_access = false",
        "lock_configuration = true",
    ):
        con.execute(f"SET {setting}")


def _sql_list(items: Iterable[str]) -> str:
    return "[" + ", ".join("'" + item.replace("'", "''") + "'" for item in items) + "]"


def _sql_hint(message: str) -> str:
    """What to do next: a write was refused, a file is out of reach, or the query is wrong."""
    if "read-only" in message:
        return "the database is opened read-only; write with flushwatch commands, or query a copy"
    if "disabled by configuration" in message or "configuration has been locked" in message:
        return "flushwatch sql reads the database only; to read a file of your own add --allow-read PATH"
    return 'tables and views: flushwatch sql "SHOW TABLES"; columns: docs/views.md'


def check_allow_read(paths: Iterable[Path]) -> list[Path]:
    """``--allow-read`` paths, resolved; each must exist (a typo would only fail later, as a
    permission error that names the path the query used, not the option)."""
    from flushwatch.errors import ConfigError

    out = []
    for path in paths:
        real = Path(path).expanduser().resolve()
        if not real.exists():
            raise ConfigError(f"--allow-read {path}: no such file or directory")
        out.append(real)
    return out


def run_readonly_sql(
    db: Database,
    query: str,
    limit: int | None = None,
    *,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    allow_read: Sequence[Path] = (),
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one user query on a connection that can read the database and nothing else, for at
    most ``timeout_s`` seconds (None or 0: no limit); return (columns, rows).

    Every failure is one line: a refused statement, a DuckDB error, or the deadline (the query
    is interrupted, and the file is free for writers again).
    """
    import duckdb

    from flushwatch.errors import FlushwatchError, InputError, is_interrupt
    from flushwatch.storage.db import first_line, storage_error

    if not query.strip():
        raise InputError("empty query", hint='give one query, e.g. flushwatch sql "SHOW TABLES"')
    allowed = check_allow_read(allow_read)
    with db.read() as con:
        stopped = threading.Event()

        def stop() -> None:
            stopped.set()
            con.interrupt()

        # None, 0, or past what a timer can wait for (inf, 1e300): no deadline to keep.
        deadline_s = timeout_s if timeout_s and 0 < timeout_s < threading.TIMEOUT_MAX else None
        timer = threading.Timer(deadline_s, stop) if deadline_s is not None else None
        try:
            _lock_down(con, allowed)
            _check_one_read(con, query)
            if timer is not None:
                timer.start()
            rel = con.execute(query)
            columns = [d[0] for d in rel.description] if rel.description else []
            # fetchmany takes a C long: past that, --limit is no limit at all
            rows = rel.fetchmany(limit) if limit is not None and limit < sys.maxsize else rel.fetchall()
        except FlushwatchError:
            raise  # a refused statement: already one line
        except (duckdb.Error, ValueError, OverflowError) as exc:  # ValueError: a value Python lacks
            if stopped.is_set():
                raise InputError(
                    f"query stopped after {deadline_s:g} s", hint="narrow it, or raise --timeout"
                ) from exc
            if is_interrupt(exc):
                raise
            if isinstance(exc, duckdb.Error) and "Corrupt database file" in str(exc):
                raise storage_error(db.path, exc) from exc  # the file, not the query
            first = first_line(exc)
            raise InputError(f"query failed: {first}", hint=_sql_hint(first)) from exc
        finally:
            if timer is not None:
                timer.cancel()
    return columns, [tuple(r) for r in rows]
