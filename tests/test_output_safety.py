"""Files flushwatch writes for a user never replace what the user did not name: the database,
its WAL and snapshot, a directory, a device, a FIFO or another DuckDB file. Also: titles in a
digest show as typed, and extreme dates are one-line usage errors or work.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import duckdb
import pytest

from flushwatch.atomic import snapshot_path
from flushwatch.errors import OutputError
from flushwatch.storage.db import Database
from tests.helpers.proc import flushwatch
from tests.test_explain import seed_flush

HOSTILE = "[click](javascript:alert(1)) <script>x</script> | pipes | *bold* [/] `code`"


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _intact(db_path: Path) -> None:
    """The database is still a DuckDB file that opens and holds its schema."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM schema_version").fetchone() != (0,)
    finally:
        con.close()


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _char_device(path: Path) -> Path | None:
    """A character device like /dev/null at ``path`` (root only), else None."""
    try:
        os.mknod(path, 0o644 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, OSError):
        return None
    return path


def _other_duckdb(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE mine AS SELECT 42 AS answer")
    con.close()
    return path


# -- one rule for every output -----------------------------------------------------------------


def test_digest_out_never_replaces_the_database_or_its_companions(
    db: Database, db_path: Path, tmp_path: Path, cli
) -> None:
    seed_flush(db)
    wal = db_path.with_name(db_path.name + ".wal")
    wal.write_bytes(b"")  # as DuckDB leaves it between writers
    snap = snapshot_path(db_path)
    snap.write_bytes(db_path.read_bytes())
    link = tmp_path / "link.html"
    link.symlink_to(db_path)
    hard = tmp_path / "hard.html"
    os.link(db_path, hard)
    before = db_path.read_bytes()
    for target, role in (
        (db_path, "it is the database"),
        (link, "it is the database"),
        (hard, "it is the database"),
        (wal, "write-ahead log"),
        (snap, "snapshot"),
    ):
        r = cli("digest", "--date", "2025-10-10", "--db", str(db_path), "-f", "html", "--out", str(target))
        line = _one_error_line(r.err)
        assert r.code == 1 and r.out == "", (target, r.err)
        assert line.startswith(f"flushwatch: error: refusing to write {target}") and role in line
    assert db_path.read_bytes() == before and wal.read_bytes() == b"" and link.is_symlink()
    _intact(db_path)
    _intact(snap)


def test_outputs_never_replace_a_fifo_a_device_or_another_duckdb_file(
    db: Database, db_path: Path, tmp_path: Path, cli
) -> None:
    fid = seed_flush(db)
    targets = [
        (_fifo(tmp_path / "pipe.html"), "a FIFO"),
        (_other_duckdb(tmp_path / "analyst.html"), "a DuckDB database"),
    ]
    device = _char_device(tmp_path / "null.html")
    if device is not None:
        targets.append((device, "a character device"))
    for target, kind in targets:
        mode = os.lstat(target).st_mode
        digest = cli("digest", "--date", "2025-10-10", "--db", str(db_path), "--out", str(target))
        chart = cli("explain", str(fid), "--db", str(db_path), "--chart", str(target))
        for r in (digest, chart):
            assert r.code == 1 and f"it is {kind}" in _one_error_line(r.err), (target, r.err)
        assert os.lstat(target).st_mode == mode  # still the FIFO, device or file it was
    con = duckdb.connect(str(tmp_path / "analyst.html"), read_only=True)
    assert con.execute("SELECT answer FROM mine").fetchall() == [(42,)]
    con.close()


def test_a_refused_digest_is_refused_before_it_is_built(db_path: Path, cli) -> None:
    """Exit 1 for the refused path, not 3 for the (unbuilt) digest's missing data."""
    assert cli("db", "migrate", "--db", str(db_path)).code == 0
    r = cli("digest", "--date", "2025-10-10", "--db", str(db_path), "--out", str(db_path))
    assert r.code == 1 and "coverage warnings" not in r.err
    _intact(db_path)


def test_explain_chart_never_replaces_the_database(db: Database, db_path: Path, tmp_path: Path, cli) -> None:
    fid = seed_flush(db)
    html_named_db = tmp_path / "flush.html"
    os.link(db_path, html_named_db)  # the database under a chart-like name
    r = cli("explain", str(fid), "--db", str(db_path), "--chart", str(html_named_db))
    assert r.code == 1 and "it is the database" in _one_error_line(r.err)
    _intact(db_path)


def test_write_atomic_checks_every_caller(tmp_path: Path) -> None:
    """The library function applies the rule itself, so a new writer cannot forget it."""
    from flushwatch.atomic import check_output_path, database_files, write_atomic

    other = _other_duckdb(tmp_path / "x.duckdb")
    with pytest.raises(OutputError, match="it is a DuckDB database"):
        write_atomic(other, "text")
    with pytest.raises(OutputError, match="it is a directory"):
        write_atomic(tmp_path, "text")
    db_path = tmp_path / "fw.duckdb"
    with pytest.raises(OutputError, match="write-ahead log"):
        write_atomic(tmp_path / "fw.duckdb.wal", "text", protected=database_files(db_path))
    assert write_atomic(tmp_path / "ok.md", "fine").read_text() == "fine"
    assert check_output_path(tmp_path / "new" / "a.md") == (tmp_path / "new" / "a.md").resolve()


def test_export_refuses_the_database_a_fifo_and_a_path_through_a_file(
    db: Database, db_path: Path, tmp_path: Path, cli
) -> None:
    from flushwatch.storage.export import export_parquet

    with db.write():
        pass
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    pipe = _fifo(tmp_path / "pipe")
    # An existing plain file is a usage error before the library sees it (exit 2); the library
    # refuses it too, for callers other than the CLI.
    for target, expected in ((db_path, "it is the database"), (notes, "it is a file")):
        with pytest.raises(OutputError, match=expected):
            export_parquet(db, target)
    for target, expected in (
        (snapshot_path(db_path), "it is the snapshot"),
        (pipe, "it is a FIFO"),
        (notes / "export", "cannot write"),  # a path through a file: no traceback
    ):
        r = cli("export", "--db", str(db_path), str(target))
        line = _one_error_line(r.err)
        assert r.code == 1 and expected in line, (target, r.err)
    assert notes.read_text() == "keep me" and stat.S_ISFIFO(os.lstat(pipe).st_mode)
    assert not list(tmp_path.glob("*.tmp-*")) and not snapshot_path(db_path).exists()
    _intact(db_path)


# -- the snapshot replaces only an earlier snapshot -----------------------------------------------


@pytest.mark.parametrize("kind", ["directory", "fifo", "text file"])
def test_snapshot_refresh_keeps_whatever_else_has_its_name(
    db_path: Path, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    db = Database(db_path, wait_s=5, snapshot=True)
    with db.write():
        pass
    snap = snapshot_path(db_path)
    if kind == "directory":
        snap.mkdir()
        (snap / "inside.txt").write_text("keep")
    elif kind == "fifo":
        _fifo(snap)
    else:
        snap.write_text("my notes")
    mode = os.lstat(snap).st_mode
    with caplog.at_level(logging.WARNING), db.run("detect"):
        pass  # the run itself succeeds
    assert os.lstat(snap).st_mode == mode
    if kind == "directory":
        assert (snap / "inside.txt").read_text() == "keep"
    elif kind == "text file":
        assert snap.read_text() == "my notes"
    assert any("not refreshed" in r.getMessage() for r in caplog.records)
    with db.read() as con:
        assert con.execute("SELECT status FROM runs").fetchall() == [("ok",)]


def test_snapshot_refresh_replaces_an_earlier_snapshot_and_not_a_planted_link(
    db_path: Path, tmp_path: Path
) -> None:
    db = Database(db_path, wait_s=5, snapshot=True)
    with db.run("first"):
        pass
    snap = snapshot_path(db_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    tmp = snap.with_name(snap.name + ".tmp")
    tmp.symlink_to(victim)  # a stale temp name pointing elsewhere must not receive the copy
    with db.run("second"):
        pass
    assert victim.read_text() == "untouched" and not tmp.exists() and not tmp.is_symlink()
    con = duckdb.connect(str(snap), read_only=True)
    assert [r[0] for r in con.execute("SELECT command FROM runs ORDER BY run_id").fetchall()] == [
        "first",
        "second",
    ]
    con.close()


# -- titles show as typed ---------------------------------------------------------------------------


def _hostile_titles(db: Database) -> int:
    fid = seed_flush(db)
    with db.write() as con:
        con.execute("UPDATE headlines SET title = ? WHERE headline_id = 1", [HOSTILE])
        con.execute("UPDATE headlines SET source = '<b>Wire</b>' WHERE headline_id = 1")
    return fid


def test_markdown_digest_escapes_titles(db: Database, db_path: Path, cli) -> None:
    markdown_it = pytest.importorskip("markdown_it")
    _hostile_titles(db)
    r = cli("digest", "--date", "2025-10-10", "--db", str(db_path))
    assert r.code == 3, r.err
    assert "[click](javascript" not in r.out and "<script>" not in r.out
    page = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(r.out)
    # Rendered, the title is its own text: no link, no raw HTML, no emphasis, no code span.
    assert "<a " not in page and "<script>" not in page and "<em>" not in page and "<code>" not in page
    shown = "[click](javascript:alert(1)) &lt;script&gt;x&lt;/script&gt; | pipes | *bold* [/] `code`"
    assert page.count(shown) == 2  # as the rank-1 catalyst and as the top headline
    assert "&lt;b&gt;Wire&lt;/b&gt;" in page
    # The sentiment table keeps its seven columns on every row.
    table_rows = [line for line in r.out.splitlines() if line.startswith("| ")]
    assert table_rows and all(line.count(" | ") == 6 for line in table_rows)


def test_html_digest_and_chart_escape_titles(db: Database, db_path: Path, tmp_path: Path, cli) -> None:
    fid = _hostile_titles(db)
    page = cli("digest", "--date", "2025-10-10", "--db", str(db_path), "-f", "html").out
    chart = tmp_path / "flush.html"
    assert cli("explain", str(fid), "--db", str(db_path), "--chart", str(chart)).code == 0
    for text in (page, chart.read_text(encoding="utf-8")):
        assert "<script>" not in text and "href" not in text and "<b>Wire</b>" not in text
        assert "&lt;script&gt;x&lt;/script&gt;" in text


def test_explain_shows_a_title_that_looks_like_terminal_markup(db: Database, db_path: Path, cli) -> None:
    """The timeline is a rich table, whose cells are markup: '[/]' in a title crashed it."""
    fid = _hostile_titles(db)
    r = cli("explain", str(fid), "--db", str(db_path))
    assert r.code == 0 and "Traceback" not in r.err, r.err
    assert "[/] `code`" in r.out.split("Timeline", 1)[1]


# -- extreme dates ------------------------------------------------------------------------------------


def test_extreme_dates_are_one_line_usage_errors_or_work(db_path: Path, cli) -> None:
    assert cli("db", "migrate", "--db", str(db_path)).code == 0
    r = cli("digest", "--date", "9999-12-31", "--db", str(db_path))
    assert r.code == 2 and "--date '9999-12-31': out of range" in _one_error_line(r.err)
    for args in (
        ["digest", "--date", "9999-12-30"],
        ["digest", "--date", "0001-01-01"],
        ["flushes", "--from", "0001-01-01", "--to", "9999-12-31"],
        ["flushes", "--from", "9999-12-31"],
        ["flushes", "--since", "0001-01-01"],
        ["flushes", "--since", "9999-12-31"],
        ["watch", "--once", "--at", "9999-12-31"],
        ["watch", "--once", "--at", "0001-01-01"],
        ["watch", "--once", "--at", "0001-01-01T00:00+01:00"],
    ):
        r = cli(*args, "--db", str(db_path))
        assert r.code in (0, 2, 3) and "Traceback" not in r.err, (args, r.err)
        if r.code == 2:
            _one_error_line(r.err)


def test_a_refused_output_is_one_line_from_a_real_process(db_path: Path, tmp_path: Path) -> None:
    """The same rule end to end, as cron runs it: exit 1, one stderr line, the file intact."""
    flushwatch(db_path, "db", "migrate", check=True)
    proc = flushwatch(db_path, "digest", "--date", "2025-10-10", "-f", "html", "--out", str(db_path))
    assert proc.returncode == 1 and "refusing to write" in _one_error_line(proc.stderr)
    _intact(db_path)


def test_tables_show_a_title_that_looks_like_terminal_markup(db: Database, db_path: Path, cli) -> None:
    """Listing tables and the live frame are rich tables too: a cell is data, never markup."""
    from rich.console import Console

    from flushwatch.scoring.watch import read_frame, render_frame

    fid = _hostile_titles(db)
    r = cli("sql", "SELECT '[/] [bold]x' AS title", "--db", str(db_path))
    assert r.code == 0 and "Traceback" not in r.err, r.err
    assert "[/] [bold]x" in r.out
    with db.read() as con:
        start = con.execute("SELECT start_at FROM flushes WHERE flush_id = ?", [fid]).fetchone()
    assert start is not None
    frame = read_frame(db, start[0])
    console = Console(width=200, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    console.print(render_frame(frame))
    assert "[/] `code`" in console.export_text()


def test_export_opml_never_replaces_the_database(db: Database, db_path: Path, cli) -> None:
    """``feeds export-opml PATH`` writes through the same rule as every other output."""
    with db.write():
        pass
    r = cli("feeds", "export-opml", str(db_path), "--db", str(db_path))
    assert r.code == 1 and "refusing to write" in _one_error_line(r.err)
    _intact(db_path)
