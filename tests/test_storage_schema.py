"""Migrations: empty file, idempotent re-run, newer file refused, failed step rolls back."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from flushwatch.errors import SchemaTooNew, StorageError
from flushwatch.storage.db import Database, connect
from flushwatch.storage.schema import CURRENT_VERSION, MIGRATIONS, Migration, migrate, read_version

EXPECTED_TABLES = {
    "runs", "feeds", "headlines", "headline_titles", "stories", "headline_assets", "headline_scores",
    "candles", "liquidations", "funding_rates", "open_interest", "coverage_gaps", "flushes",
    "catalysts", "schema_version",
}


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
    ).fetchall()
    return {r[0] for r in rows}


def test_migrating_an_empty_file_creates_every_table(db_path: Path) -> None:
    con = duckdb.connect(str(db_path))
    assert read_version(con) == 0
    applied = migrate(con, path=db_path)
    assert applied == [m.version for m in MIGRATIONS]
    assert read_version(con) == CURRENT_VERSION
    assert _tables(con) >= EXPECTED_TABLES
    assert migrate(con, path=db_path) == []  # a second run has nothing to do
    con.close()


def test_new_database_object_creates_file_on_first_read(db_path: Path) -> None:
    db = Database(db_path, wait_s=1, snapshot=False)
    with db.read() as con:
        assert read_version(con) == CURRENT_VERSION
    assert db_path.exists()


def test_newer_file_is_refused(db_path: Path) -> None:
    con = duckdb.connect(str(db_path))
    migrate(con, path=db_path)
    con.execute("INSERT INTO schema_version VALUES (?, now(), 'from the future')", [CURRENT_VERSION + 1])
    con.close()
    with pytest.raises(SchemaTooNew) as info, Database(db_path, wait_s=1, snapshot=False).write():
        pass
    assert f"schema version {CURRENT_VERSION + 1}" in str(info.value)
    assert "upgrade flushwatch" in info.value.one_line()


def test_later_migration_applies_in_order_and_records_version(db_path: Path) -> None:
    con = duckdb.connect(str(db_path))
    migrate(con, path=db_path)

    def add_column(c: duckdb.DuckDBPyConnection) -> None:
        c.execute("ALTER TABLE feeds ADD COLUMN notes VARCHAR")

    steps = (*MIGRATIONS, Migration(CURRENT_VERSION + 1, "feeds.notes", add_column))
    assert migrate(con, path=db_path, migrations=steps) == [CURRENT_VERSION + 1]
    assert read_version(con) == CURRENT_VERSION + 1
    cols = {r[0] for r in con.execute("DESCRIBE feeds").fetchall()}
    assert "notes" in cols
    con.close()


def test_failed_migration_leaves_file_at_old_version(db_path: Path) -> None:
    con = duckdb.connect(str(db_path))
    migrate(con, path=db_path)

    def good(c: duckdb.DuckDBPyConnection) -> None:
        c.execute("CREATE TABLE extra (x INTEGER)")

    def bad(c: duckdb.DuckDBPyConnection) -> None:
        c.execute("ALTER TABLE no_such_table ADD COLUMN y INTEGER")

    steps = (
        *MIGRATIONS,
        Migration(CURRENT_VERSION + 1, "good", good),
        Migration(CURRENT_VERSION + 2, "bad", bad),
    )
    with pytest.raises(StorageError, match="migrating"):
        migrate(con, path=db_path, migrations=steps)
    assert read_version(con) == CURRENT_VERSION
    assert "extra" not in _tables(con)
    con.close()


def test_not_a_duckdb_file_is_a_clear_storage_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.duckdb"
    bogus.write_text("this is not a database\n" * 100)
    with pytest.raises(StorageError, match="is not a DuckDB database"):
        connect(bogus, read_only=False, wait_s=0)
    assert bogus.read_text() == "this is not a database\n" * 100  # refused before DuckDB touched it
