"""`flushwatch sql` cannot write or reach out and stops at its deadline; a committed run never
ends in "busy"; a damaged database file is one line, not a traceback."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from flushwatch.storage.db import Database
from tests.helpers.proc import flushwatch
from tests.helpers.query import fetch

from .conftest import REPO


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _hold(db_path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the file read-write, from the moment this returns."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.hold_db", str(db_path), str(seconds)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


@pytest.fixture
def made_db(cli, db_path: Path) -> Path:
    assert cli("db", "migrate", "--db", str(db_path)).code == 0
    return db_path


# -- sql reads the database and nothing else -----------------------------------------------------


def test_sql_cannot_write_files_run_other_files_or_install_extensions(
    cli, made_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # where DuckDB would install extensions
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE t AS SELECT 1 AS x")
    con.close()
    victim = tmp_path / "victim.csv"
    victim.write_text("keep\n")
    plan = tmp_path / "plan"
    plan.mkdir()  # what import_database runs: schema.sql, which here attacks another file
    (plan / "schema.sql").write_text(f"ATTACH '{other}' AS o; DELETE FROM o.t;\n")
    (plan / "load.sql").write_text("")
    secret = tmp_path / "secret.txt"
    secret.write_text("password\n")
    written = tmp_path / "written.csv"
    for query in (
        f"EXPLAIN ANALYZE COPY (SELECT 'x') TO '{written}'",
        f"EXPLAIN (ANALYZE) COPY (SELECT 'x') TO '{written}'",
        f"EXPLAIN ANALYZE COPY (SELECT 'x') TO '{victim}' (USE_TMP_FILE false)",
        f"PRAGMA import_database('{plan}')",
        f"SELECT * FROM read_csv('{secret}')",
        f"SELECT * FROM '{secret}'",
        f"SELECT * FROM glob('{tmp_path}/*')",
        f"ATTACH '{other}' AS o",
        "SELECT * FROM read_json('http://127.0.0.1:9/x.json')",
        "INSTALL httpfs",
        "LOAD httpfs",
        "UPDATE EXTENSIONS",
        "SET enable_external_access = true",
        "RESET lock_configuration",
        "CALL force_checkpoint()",
    ):
        r = cli("sql", query, "--db", str(made_db))
        assert r.code == 1, (query, r.out, r.err)
        _one_error_line(r.err)
    assert not written.exists() and victim.read_text() == "keep\n"
    assert fetch(other, "SELECT x FROM t") == [(1,)]
    assert not (tmp_path / "home" / ".duckdb").exists()
    assert "UPDATE statements are refused" in cli("sql", "UPDATE EXTENSIONS", "--db", str(made_db)).err


def test_sql_still_reads_every_table_and_view(cli, made_db: Path) -> None:
    with Database(made_db, wait_s=5, snapshot=False).write() as con:
        from tests.test_attribution import add_flush

        add_flush(con)
    for query, expected in (
        ("SELECT count(*) FROM v_flushes", "1"),
        ("SELECT count(*) FROM v_headlines", "0"),
        ("SELECT asset FROM flushes", "BTC"),
        ("SHOW TABLES", "runs"),
        ("DESCRIBE runs", "run_id"),
        ("SUMMARIZE flushes", "severity"),
        ("PRAGMA table_info('runs')", "run_id"),
        ("EXPLAIN ANALYZE SELECT count(*) FROM flushes", "analyzed_plan"),
        ("SELECT count(*) FROM (SELECT i FROM range(300000) t(i) ORDER BY md5(i::VARCHAR))", "300000"),
    ):
        r = cli("sql", query, "--db", str(made_db), "-f", "csv")
        assert r.code == 0 and expected in r.out, (query, r.err)


def test_sql_limit_past_what_duckdb_takes_is_no_limit(cli, made_db: Path) -> None:
    r = cli("sql", "SELECT * FROM range(3)", "--db", str(made_db), "-f", "csv", "-n", str(10**20))
    assert r.code == 0 and r.out.split() == ["range", "0", "1", "2"], r.err


def test_sql_allow_read_opens_the_named_paths_only(cli, made_db: Path, tmp_path: Path) -> None:
    prices = tmp_path / "prices.csv"
    prices.write_text("symbol,close\nBTCUSDT,100\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.csv").write_text("x\n1\n")
    (tmp_path / "folder2").mkdir()
    (tmp_path / "folder2" / "b.csv").write_text("x\n2\n")
    ok = cli(
        "sql",
        f"SELECT close FROM read_csv('{prices}')",
        "--db",
        str(made_db),
        "-f",
        "csv",
        "--allow-read",
        str(prices),
    )
    assert ok.code == 0 and ok.out.split() == ["close", "100"], ok.err
    ok = cli(
        "sql",
        f"SELECT x FROM read_csv('{folder}/a.csv')",
        "--db",
        str(made_db),
        "-f",
        "csv",
        "--allow-read",
        str(folder),
    )
    assert ok.code == 0 and ok.out.split() == ["x", "1"], ok.err
    for query in (
        f"SELECT * FROM read_csv('{tmp_path}/folder2/b.csv')",  # a sibling sharing the prefix
        f"SELECT * FROM read_csv('{folder}/../folder2/b.csv')",
        f"EXPLAIN ANALYZE COPY (SELECT 'gone') TO '{prices}' (USE_TMP_FILE false)",
        f"EXPLAIN ANALYZE COPY (SELECT 'new') TO '{folder}/new.csv'",
    ):
        r = cli("sql", query, "--db", str(made_db), "--allow-read", str(folder), "--allow-read", str(prices))
        assert r.code == 1, (query, r.out)
        _one_error_line(r.err)
    assert prices.read_text() == "symbol,close\nBTCUSDT,100\n" and not (folder / "new.csv").exists()
    denied = cli("sql", f"SELECT * FROM read_csv('{prices}')", "--db", str(made_db))
    assert denied.code == 1 and "--allow-read" in _one_error_line(denied.err)
    typo = cli("sql", "SELECT 1", "--db", str(made_db), "--allow-read", str(tmp_path / "nope.csv"))
    assert typo.code == 2 and "no such file" in _one_error_line(typo.err)


def test_sql_stops_at_its_timeout_and_frees_the_file(cli, made_db: Path) -> None:
    endless = "SELECT count(*) FROM range(1000000000000) a(i) WHERE i % 7 = 3"
    r = cli("sql", endless, "--db", str(made_db), "--timeout", "1")
    assert r.code == 1
    assert _one_error_line(r.err) == (
        "flushwatch: error: query stopped after 1 s (narrow it, or raise --timeout)"
    )
    with Database(made_db, wait_s=0, snapshot=False).write() as con:  # nobody holds it now
        con.execute("INSERT INTO runs (command, started_at, status) VALUES ('after', now(), 'ok')")


def test_a_long_sql_query_does_not_make_a_writer_exit_busy(made_db: Path) -> None:
    """A runaway query from another process ends at --timeout; a writer waiting longer gets in."""
    env = {**os.environ, "FLUSHWATCH_DB": str(made_db)}
    reader = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flushwatch",
            "sql",
            "--timeout",
            "1",
            "SELECT count(*) FROM range(1000000000000) a(i) WHERE i % 7 = 3",
        ],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with Database(made_db, wait_s=60, snapshot=False).write() as con:
            con.execute("INSERT INTO runs (command, started_at, status) VALUES ('writer', now(), 'ok')")
    finally:
        _, err = reader.communicate(timeout=120)
    assert fetch(made_db, "SELECT count(*) FROM runs WHERE command = 'writer'") == [(1,)]
    assert reader.returncode == 1 and "query stopped after 1 s" in _one_error_line(err)


# -- a committed run ends as it succeeded ---------------------------------------------------------


def test_a_run_whose_end_meets_a_busy_file_still_succeeds(db_path: Path) -> None:
    """The body committed its rows; another process grabs the file just as the run ends, for
    longer than --wait. The end waits it out instead of raising DatabaseBusy (exit 75)."""
    db = Database(db_path, wait_s=1, snapshot=False)
    holder = None
    try:
        with db.run("import headlines") as run:
            with db.write() as con:
                con.execute(
                    "INSERT INTO feeds (url, name, kind) "
                    "SELECT 'https://example.org/' || i, 'feed ' || i, 'crypto' FROM range(500) t(i)"
                )
            run.add("rows_new", 500)
            holder = _hold(db_path, 2.5)  # held right when finish_run writes
    finally:
        if holder is not None:
            holder.wait(timeout=60)
    assert fetch(db_path, "SELECT count(*) FROM feeds") == [(500,)]
    status, counts = fetch(db_path, "SELECT status, counts FROM runs")[0]
    assert status == "ok" and json.loads(counts) == {"rows_new": 500}


def test_a_run_whose_end_cannot_be_recorded_warns_and_keeps_its_result(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from flushwatch.storage.runs import track_run

    db = Database(db_path, wait_s=1, snapshot=False)
    holder = None
    try:
        with caplog.at_level(logging.WARNING), track_run(db, "import headlines", finish_wait_s=0.5) as run:
            with db.write() as con:
                con.execute(
                    "INSERT INTO feeds (url, name, kind) VALUES ('https://example.org/', 'x', 'crypto')"
                )
            run.add("rows_new", 1)
            holder = _hold(db_path, 4)
        # No exception: the command exits with its own result.
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and f"run {run.run_id} (import headlines)" in warnings[0]
        assert '{"rows_new": 1}' in warnings[0] and "database busy" in warnings[0]
    finally:
        if holder is not None:
            holder.wait(timeout=60)
    assert fetch(db_path, "SELECT count(*) FROM feeds") == [(1,)]
    # Left 'running'; once this process is gone the next run marks it abandoned (see
    # test_storage_locking.py).
    assert fetch(db_path, "SELECT status FROM runs") == [("running",)]


# -- a damaged file is one line -----------------------------------------------------------------------


def _damage(db_path: Path) -> None:
    """A flushwatch database with a few MB of rows, one of whose blocks (the one holding the
    runs' command column, which every reader of ``runs`` touches) is overwritten with junk."""
    flushwatch(db_path, "db", "migrate", check=True)
    con = duckdb.connect(str(db_path))
    con.execute(
        "INSERT INTO runs (command, args, started_at, status) "
        "SELECT 'filler', md5(i::VARCHAR) || repeat('x', 200), now(), 'ok' FROM range(60000) t(i)"
    )
    con.execute("CHECKPOINT")
    row = con.execute(
        "SELECT min(block_id) FROM pragma_storage_info('runs') "
        "WHERE column_name = 'command' AND block_id >= 0"
    ).fetchone()
    block_size = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()
    con.close()
    assert row is not None and row[0] is not None and block_size is not None
    assert db_path.stat().st_size > 4_000_000
    header = 3 * 4096  # DuckDB's file header and two database headers precede block 0
    with db_path.open("r+b") as fh:
        fh.seek(header + int(row[0]) * int(block_size[0]) + 1024)
        fh.write(bytes((i * 37 + 11) % 256 for i in range(64 * 1024)))


def test_a_damaged_database_is_one_line_not_a_traceback(db_path: Path) -> None:
    _damage(db_path)
    env = {**os.environ, "FLUSHWATCH_DB": str(db_path)}
    for args in (["db", "info"], ["sql", "SELECT * FROM runs"]):
        proc = subprocess.run(
            [sys.executable, "-m", "flushwatch", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 1, (args, proc.stderr)
        line = _one_error_line(proc.stderr)
        assert f"database {db_path} is damaged or unreadable" in line, line
        assert "restore it from the snapshot" in line
    # A write session meeting the damage inside its transaction: the same one-line error.
    from flushwatch.errors import StorageError

    damaged = Database(db_path, wait_s=5, snapshot=False)
    with pytest.raises(StorageError, match="is damaged or unreadable"), damaged.write() as con:
        con.execute("UPDATE runs SET message = command WHERE command <> 'nope'")


def test_a_file_name_that_is_not_utf8_is_imported_and_its_run_recorded(tmp_path: Path) -> None:
    """argv holds such a name as lone surrogates, which DuckDB refused to store in ``runs``."""
    name = os.fsdecode(b"caf\xe9.csv")
    (tmp_path / name).write_text("title,published_at\nhello,2025-01-01T00:00:00Z\n")
    db_path = tmp_path / "fw.duckdb"
    proc = flushwatch(db_path, "import", "headlines", str(tmp_path / name))
    assert proc.returncode == 0, proc.stderr
    rows = fetch(db_path, "SELECT status, args FROM runs WHERE command = 'import headlines'")
    assert rows == [("ok", f"import headlines {tmp_path}/caf\ufffd.csv")]
