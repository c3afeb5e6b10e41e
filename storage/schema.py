"""The schema and its numbered migrations.

The tables live as readable, commented SQL in ``storage/sql/``: one file per domain
(``00_core.sql`` … ``40_flushes.sql``) and the analyst views in ``90_views.sql``. Migration 1
creates them all. Each later change is one small numbered :class:`Migration` with a comment
saying why. ``migrate`` applies every pending migration and re-creates the views in a single
transaction, and records each step in ``schema_version``. A file whose version is newer than
this code knows is refused (:class:`SchemaTooNew`): writing to it could corrupt it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb

from flushwatch.errors import SchemaTooNew, StorageError

Connection = duckdb.DuckDBPyConnection

TABLE_FILES = ("00_core.sql", "10_news.sql", "20_scores.sql", "30_market.sql", "40_flushes.sql")
VIEWS_FILE = "90_views.sql"


def sql_text(name: str) -> str:
    return resources.files("flushwatch.storage").joinpath("sql", name).read_text(encoding="utf-8")


def _execute_script(con: Connection, script: str) -> None:
    """Run a multi-statement SQL script (DuckDB's execute takes several statements)."""
    if script.strip():
        con.execute(script)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def _v1_initial(con: Connection) -> None:
    # Why: the first schema, every table later stages fill (see docs/schema.md).
    for name in TABLE_FILES:
        _execute_script(con, sql_text(name))


def _v2_rules_revision(con: Connection) -> None:
    # Why: rule changes keep the model revision, so each score row records which rules and
    # importance weights wrote its rule fields; `score --refresh-rules` recomputes rows whose
    # fingerprint is not the current one. Rows from before are NULL (unknown: refreshed once).
    # 20_scores.sql declares the column too, so a new file already has it.
    con.execute("ALTER TABLE headline_scores ADD COLUMN IF NOT EXISTS rules_revision VARCHAR")


def _v3_market_changes(con: Connection) -> None:
    # Why: an incremental detect only looked past each series' watermark, so a backfill of
    # older candles, or liquidations imported after their candles were detected, were never
    # detected without --full. market_changes lists such writes for the next detect. The
    # views change too (re-created after the steps): v_flushes and v_catalysts repeated a
    # flush once per attribution version kept after an upgrade; v_candles_1h bucketed hours in
    # the session's time zone. 40_flushes.sql declares the table too, for new files.
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS market_changes (
            tbl VARCHAR NOT NULL, venue VARCHAR NOT NULL, symbol VARCHAR NOT NULL,
            from_at TIMESTAMPTZ NOT NULL, to_at TIMESTAMPTZ NOT NULL, run_id BIGINT,
            changed_at TIMESTAMPTZ NOT NULL)
        """
    )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _v1_initial),
    Migration(2, "headline_scores.rules_revision", _v2_rules_revision),
    Migration(3, "market_changes for detect; views: newest attribution, UTC hours", _v3_market_changes),
)
CURRENT_VERSION = MIGRATIONS[-1].version


def apply_views(con: Connection) -> None:
    _execute_script(con, sql_text(VIEWS_FILE))


def read_version(con: Connection) -> int:
    """The file's schema version; 0 for a new, empty file."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(
    con: Connection,
    *,
    path: Path | str = "database",
    migrations: Sequence[Migration] = MIGRATIONS,
    views: Callable[[Connection], None] = apply_views,
) -> list[int]:
    """Bring the file up to the newest migration; return the versions applied.

    All pending steps, the views and their ``schema_version`` rows commit together or not at
    all, so a crash mid-migration leaves the file at its old version.
    """
    latest = migrations[-1].version if migrations else 0
    current = read_version(con)
    if current > latest:
        raise SchemaTooNew(path, current, latest)
    pending = [m for m in migrations if m.version > current]
    if not pending:
        return []
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_version (
                version     INTEGER PRIMARY KEY,
                applied_at  TIMESTAMPTZ NOT NULL,
                description VARCHAR NOT NULL
            )
            """
        )
        for step in pending:
            step.apply(con)
            con.execute(
                "INSERT INTO schema_version VALUES (?, now(), ?)", [step.version, step.description]
            )
        views(con)
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise StorageError(f"migrating {path} failed: {exc}", path=path) from exc
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return [m.version for m in pending]
