"""flushwatch demo end to end: bundled feeds and candles through the real pipeline and model.

Nothing is hard-coded about the answer: the flush must be found by detection and the tariff
headline must come first because attribution ranks it so.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flushwatch.demo.demo import FEEDS, data_dir, first_poll_after, fresh_db, is_demo_db, mark_demo
from flushwatch.errors import DatabaseBusy, InputError
from flushwatch.storage.db import Database

from .conftest import REPO


def test_demo_finds_the_flush_and_ranks_the_tariff_headline_first(tmp_path: Path, cli) -> None:
    from flushwatch.scoring.explain import explain
    from flushwatch.storage.db import Database

    db_path = tmp_path / "demo.duckdb"
    db = Database(db_path, snapshot=False)
    with db.write() as con:  # an old demo database: the demo must start from nothing
        mark_demo(con)
        con.execute("CREATE TABLE leftover AS SELECT 1 AS x")
    chart = tmp_path / "flush.html"
    r = cli("demo", "--db", str(db_path), "--chart", str(chart))
    assert r.code == 0, r.err
    with db.read() as con:
        flushes = con.execute(
            "SELECT flush_id, asset, direction, extreme_move_pct, peak_at FROM flushes ORDER BY flush_id"
        ).fetchall()
        n_headlines = con.execute("SELECT count(*) FROM headlines").fetchone()[0]
        n_scored = con.execute("SELECT count(DISTINCT headline_id) FROM headline_scores").fetchone()[0]
        leftover = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'leftover'"
        ).fetchone()[0]
    assert leftover == 0  # recreated, not reused
    assert n_headlines == 30 and n_scored == 30
    (fid, asset, direction, move, peak) = flushes[0]
    assert len(flushes) == 1 and asset == "BTC" and direction == "long_flush"
    assert move < -10 and f"{peak:%H:%M}" == "21:20"  # the 101,516.5 low

    ex = explain(db, fid)
    assert ex.flush.funding_before is not None and abs(ex.flush.funding_before - 0.00001013) < 1e-12
    top = ex.catalysts[0]
    assert "tariff" in top.title.lower(), [c.title for c in ex.catalysts]
    assert top.headline_time <= ex.flush.start_at  # seen before the flush started
    # headlines that only report the crash are coverage, never ranked as causes
    causes = {c.title for c in ex.catalysts}
    assert "Bitcoin plunges to $102,000 on Binance as liquidations cascade" not in causes
    # the terminal shows the explain view, then the digest
    assert r.out.index("Ranked catalysts") < r.out.index("# flushwatch digest — 2025-10-10")
    assert top.title in r.out
    assert chart.read_text(encoding="utf-8").count("<polyline") == 1


def test_replay_clock_places_items_at_the_next_poll() -> None:
    import datetime as dt

    t = dt.datetime(2025, 10, 10, 20, 51, tzinfo=dt.UTC)
    assert first_poll_after(t) == dt.datetime(2025, 10, 10, 20, 52, tzinfo=dt.UTC)
    assert first_poll_after(t.replace(minute=52)) == dt.datetime(2025, 10, 10, 20, 54, tzinfo=dt.UTC)
    for name, *_ in FEEDS:
        assert (data_dir() / name).stat().st_size > 1000


# -- fresh_db only replaces a demo database (no model needed) ---------------------------------


def _user_db(path: Path) -> Database:
    db = Database(path, snapshot=False)
    with db.write() as con:
        con.execute("INSERT INTO runs (command, started_at, status) VALUES ('ingest', now(), 'ok')")
    return db


def test_fresh_db_creates_a_missing_path_and_marks_it(tmp_path: Path) -> None:
    db = fresh_db(tmp_path / "sub" / "demo.duckdb", wait_s=0)
    with db.read() as con:
        assert is_demo_db(con)
    again = fresh_db(db.path, wait_s=0)  # a demo database is replaced
    with again.read() as con:
        assert is_demo_db(con)


@pytest.mark.parametrize("content", [b"my notes\n", b""])
def test_fresh_db_refuses_a_file_that_is_not_a_database(tmp_path: Path, content: bytes) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(content)
    with pytest.raises(InputError, match="give a new path") as info:
        fresh_db(notes, wait_s=0)
    assert info.value.exit_code == 1 and "\n" not in info.value.one_line()
    assert notes.read_bytes() == content


def test_fresh_db_refuses_a_real_flushwatch_database(tmp_path: Path) -> None:
    db = _user_db(tmp_path / "flushwatch.duckdb")
    with pytest.raises(InputError, match="not a flushwatch demo database"):
        fresh_db(db.path, wait_s=0)
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM runs WHERE command = 'ingest'").fetchone() == (1,)


def test_fresh_db_leaves_a_locked_file_alone(tmp_path: Path) -> None:
    db = fresh_db(tmp_path / "demo.duckdb", wait_s=0)
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.hold_db", str(db.path), "30"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(DatabaseBusy) as info:
            fresh_db(db.path, wait_s=0.2)
        assert info.value.exit_code == 75
        assert db.path.exists()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    with db.read() as con:
        assert is_demo_db(con)


@pytest.mark.parametrize("name", ["flush.txt", "flush"])
def test_demo_refuses_a_bad_chart_name_before_doing_anything(tmp_path: Path, cli, name: str) -> None:
    db_path = tmp_path / "demo.duckdb"
    r = cli("demo", "--db", str(db_path), "--chart", str(tmp_path / name))
    assert r.code == 2 and "use a .png or .html file name" in r.err
    assert not db_path.exists()  # refused before the demo built anything


def test_explain_refuses_a_chart_directory(tmp_path: Path, cli) -> None:
    folder = tmp_path / "charts.html"
    folder.mkdir()
    r = cli("explain", "1", "--db", str(tmp_path / "missing.duckdb"), "--chart", str(folder))
    assert r.code == 2 and "is a directory" in r.err
