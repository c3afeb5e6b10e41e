"""Run bookkeeping and the analyst snapshot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from flushwatch.atomic import snapshot_path
from flushwatch.errors import PartialFailure
from flushwatch.storage.db import Database

from .conftest import REPO


def test_run_rows_record_status_and_counts(db: Database) -> None:
    with db.run("unit ok", args="x") as run:
        run.add("items_new", 3)
        run.add("items_new")
    with pytest.raises(PartialFailure), db.run("unit partial") as run:
        raise PartialFailure("1 of 2 feeds failed", ["feed b: HTTP 500"])
    with pytest.raises(ValueError), db.run("unit failed"):
        raise ValueError("bad thing")
    with db.read() as con:
        rows = con.execute(
            "SELECT command, status, counts, message, finished_at IS NOT NULL FROM runs ORDER BY run_id"
        ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [
        ("unit ok", "ok"),
        ("unit partial", "partial"),
        ("unit failed", "failed"),
    ]
    assert json.loads(rows[0][2]) == {"items_new": 4}
    assert rows[2][3] == "bad thing"
    assert all(r[4] for r in rows)


def test_snapshot_is_published_after_a_run_and_readable_while_writer_holds_live_file(
    db_path: Path,
) -> None:
    db = Database(db_path, wait_s=5, snapshot=True)
    with db.run("snap"), db.write() as con:
        con.execute("INSERT INTO feeds (url, name, kind) VALUES ('https://example.org/rss', 'Ex', 'crypto')")
    snap = snapshot_path(db_path)
    assert snap.name == "test.snapshot.duckdb"
    # Another process holds the live file read-write; the snapshot still opens.
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.hold_db", str(db_path), "30"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        con = duckdb.connect(str(snap), read_only=True)
        assert con.execute("SELECT name FROM feeds").fetchall() == [("Ex",)]
        assert con.execute("SELECT status FROM runs").fetchall() == [("ok",)]
        con.close()
    finally:
        holder.kill()
        holder.wait()
    assert not snap.with_name(snap.name + ".tmp").exists()


def test_an_interrupted_query_is_recorded_as_interrupted(db) -> None:
    """Ctrl-C while DuckDB runs a query surfaces as RuntimeError('Query interrupted'), not
    KeyboardInterrupt; the run says interrupted either way (and the CLI exits 130)."""
    import pytest

    from flushwatch.errors import is_interrupt

    assert is_interrupt(KeyboardInterrupt()) and is_interrupt(RuntimeError("Query interrupted"))
    assert not is_interrupt(RuntimeError("something else")) and not is_interrupt(ValueError("x"))
    with pytest.raises(RuntimeError), db.run("detect"):
        raise RuntimeError("Query interrupted")
    with db.read() as con:
        assert con.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]
