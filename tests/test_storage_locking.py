"""DuckDB's one-writer rule with a second real process holding the file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flushwatch.errors import EXIT_BUSY, DatabaseBusy
from flushwatch.storage.db import Database

from .conftest import REPO


def _hold(db_path: Path, seconds: float, *extra: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.hold_db", str(db_path), str(seconds), *extra],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    assert line in ("ready", "writing"), line
    return proc


@pytest.fixture
def migrated(db: Database) -> Database:
    with db.write():
        pass
    return db


def test_writer_waits_for_a_short_lock_then_succeeds(migrated: Database) -> None:
    holder = _hold(migrated.path, 1.5)
    try:
        db = Database(migrated.path, wait_s=20, snapshot=False)
        with db.write() as con:
            con.execute("INSERT INTO runs (command, started_at, status) VALUES ('after-wait', now(), 'ok')")
        with db.read() as con:
            assert con.execute("SELECT count(*) FROM runs WHERE command = 'after-wait'").fetchone() == (1,)
    finally:
        holder.wait(timeout=30)


def test_gives_up_with_busy_naming_the_holder(migrated: Database) -> None:
    holder = _hold(migrated.path, 30)
    try:
        db = Database(migrated.path, wait_s=0.5, snapshot=False)
        with pytest.raises(DatabaseBusy) as info, db.read():
            pass
        assert info.value.exit_code == EXIT_BUSY
        assert f"PID {holder.pid}" in str(info.value)
        assert "--wait" in info.value.one_line()
    finally:
        holder.kill()
        holder.wait()


def test_cli_exits_75_with_one_line_when_busy(migrated: Database) -> None:
    holder = _hold(migrated.path, 30)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "flushwatch", "db", "info", "--db", str(migrated.path), "--wait", "0.5"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 75
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "database busy" in lines[0] and f"PID {holder.pid}" in lines[0]
    assert "Traceback" not in proc.stderr


def test_a_write_command_on_a_busy_file_says_so_once(migrated: Database, tmp_path: Path) -> None:
    """A write run that cannot start does not also try (and wait) to refresh the snapshot:
    one line on stderr, exit 75, no 'snapshot not refreshed' warning after it."""
    holder = _hold(migrated.path, 30)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "flushwatch", "detect", "--db", str(migrated.path), "--wait", "0.5"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
            env={**os.environ, "FLUSHWATCH_SNAPSHOT": "1"},
        )
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode == 75
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()], proc.stderr
    assert "database busy" in proc.stderr and "snapshot" not in proc.stderr


def test_a_run_whose_process_died_is_marked_abandoned(migrated: Database) -> None:
    """A run killed outright (SIGKILL) cannot record its end; the next run marks it abandoned
    instead of leaving it 'running' for ever. A live process's run is left alone."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with migrated.write() as con:
        con.execute(
            "INSERT INTO runs (command, started_at, status, pid) VALUES "
            "('ingest', now(), 'running', ?), ('liquidations record', now(), 'running', ?)",
            [dead.pid, os.getpid()],
        )
    with migrated.run("detect"):
        pass
    with migrated.read() as con:
        rows = con.execute("SELECT command, status FROM runs ORDER BY run_id").fetchall()
    assert rows == [("ingest", "abandoned"), ("liquidations record", "running"), ("detect", "ok")]


def test_a_path_that_is_not_a_duckdb_file_is_one_clear_error(tmp_path: Path) -> None:
    """DuckDB 2 would open a CSV as a database of views; a path through a file cannot hold one."""
    csv = tmp_path / "prices.csv"
    csv.write_text("a,b\n1,2\n")  # shorter than DuckDB's 12-byte header, too
    through_a_file = tmp_path / "prices.csv" / "fw.duckdb"
    for path, expected in ((csv, "is not a DuckDB database"), (through_a_file, "cannot create the folder")):
        proc = subprocess.run(
            [sys.executable, "-m", "flushwatch", "detect", "--db", str(path)],
            capture_output=True, text=True, timeout=60,
        )
        assert proc.returncode == 1, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and expected in proc.stderr, proc.stderr
    assert csv.read_text() == "a,b\n1,2\n"


def test_two_cron_jobs_started_together_both_complete(migrated: Database, tmp_path: Path) -> None:
    """Each job holds the file for short transactions only, so both finish within --wait."""
    script = (
        "import sys\n"
        "from flushwatch.storage.db import Database\n"
        "db = Database(sys.argv[1], wait_s=30, snapshot=False)\n"
        "for i in range(15):\n"
        "    with db.write() as con:\n"
        "        con.execute(\"INSERT INTO runs (command, started_at, status) \"\n"
        "                    \"VALUES (?, now(), 'ok')\", [sys.argv[2]])\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(migrated.path), name], cwd=REPO)
        for name in ("cron-a", "cron-b")
    ]
    codes = [p.wait(timeout=120) for p in procs]
    assert codes == [0, 0]
    with migrated.read() as con:
        rows = dict(con.execute("SELECT command, count(*) FROM runs GROUP BY 1").fetchall())
    assert rows["cron-a"] == 15 and rows["cron-b"] == 15


def test_process_killed_mid_write_leaves_database_as_before(migrated: Database) -> None:
    with migrated.read() as con:
        before = con.execute("SELECT count(*) FROM runs").fetchone()
    holder = _hold(migrated.path, 60, "--kill-mid-write")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    time.sleep(0.1)
    with migrated.read() as con:
        after = con.execute("SELECT count(*) FROM runs").fetchone()
        half = con.execute("SELECT count(*) FROM runs WHERE command = 'half-written'").fetchone()
    assert after == before
    assert half == (0,)


def test_failed_write_block_rolls_back(migrated: Database) -> None:
    with pytest.raises(RuntimeError), migrated.write() as con:
        con.execute("INSERT INTO runs (command, started_at, status) VALUES ('doomed', now(), 'ok')")
        raise RuntimeError("boom")
    with migrated.read() as con:
        assert con.execute("SELECT count(*) FROM runs WHERE command = 'doomed'").fetchone() == (0,)
