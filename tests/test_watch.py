"""flushwatch watch: one frame, read-only, replayable at a pinned time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flushwatch.scoring.watch import read_frame
from flushwatch.storage.db import Database
from tests.test_explain import seed_flush


def test_frame_replay_shows_only_what_was_known(db: Database) -> None:
    seed_flush(db)
    at = dt.datetime(2025, 10, 10, 21, 0, tzinfo=dt.UTC)
    early = read_frame(db, at, min_importance=0)
    # headlines after 21:00 are not shown yet; newest first
    assert [h.headline_id for h in early.headlines] == [1, 3, 5, 2]
    # the flush started at 20:57 but its trigger bar (21:26) has not closed: not detectable yet
    assert early.flushes == ()
    frame = read_frame(db, at + dt.timedelta(minutes=26), min_importance=0)
    assert frame.headlines[0].headline_id == 4  # the 21:24 report
    (flush,) = frame.flushes
    assert flush.flush_id == 7
    assert flush.catalysts[0].title == "Tariff of 100% announced on imports"
    assert [c.is_coverage for c in flush.catalysts] == [False, False, False, True]  # coverage last
    # long after, the flush is no longer in progress
    assert read_frame(db, at + dt.timedelta(days=1)).flushes == ()


def test_watch_once_renders_one_frame_and_leaves_the_file_free(db: Database, db_path: Path, cli) -> None:
    seed_flush(db)
    r = cli("watch", "--once", "--db", str(db_path), "--at", "2025-10-10T21:30Z", "--min-importance", "50")
    assert r.code == 0, r.err
    assert "FLUSH #7 BTC long_flush" in r.out and "Tariff of 100% announced on imports" in r.out
    assert "Ether developers set testnet date" not in r.out  # importance 20 < 50
    # the read-only frame closed the file: a writer gets it at once
    with Database(db_path, wait_s=0).write() as con:
        con.execute("SELECT 1")


def test_watch_rejects_bad_time(db_path: Path, cli) -> None:
    r = cli("watch", "--once", "--db", str(db_path), "--at", "soon")
    assert r.code == 2 and "ISO time" in r.err
