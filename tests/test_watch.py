"""flushwatch watch: one frame, read-only, replayable at a pinned time; and ``--record``, the
liquidation recorder inside watch, against a real WebSocket server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flushwatch.scoring.watch import read_frame
from flushwatch.storage.db import Database
from tests.conftest import subprocess_env
from tests.test_explain import seed_flush
from tests.test_liquidation_stream import Replay


def test_frame_replay_shows_only_what_was_known(db: Database) -> None:
    seed_flush(db)
    at = dt.datetime(2025, 10, 10, 21, 0, tzinfo=dt.UTC)
    early = read_frame(db, at, min_importance=0)
    # headlines after 21:00 are not shown yet; newest first
    assert [h.headline_id for h in early.headlines] == [1, 3, 5, 2]
    # the flush started at 20:57 but its trigger bar (opening 21:26) has not closed: not detectable yet
    assert early.flushes == ()
    assert read_frame(db, at + dt.timedelta(minutes=26), min_importance=0).flushes == ()
    # the seeded candles fall 0.3 % by 21:27, short of detection's 2.5 % floor: not a flush yet
    assert read_frame(db, at + dt.timedelta(minutes=27), min_importance=0).flushes == ()
    frame = read_frame(db, at + dt.timedelta(minutes=27), min_importance=0, min_move_pct=0.3)
    assert frame.headlines[0].headline_id == 4  # the 21:24 report
    (flush,) = frame.flushes
    assert flush.flush_id == 7
    # still forming at 21:27 (it ends 21:57): no severity yet, and the move counts closed bars only
    assert flush.severity is None
    # bar i opens at 20:30 + i min with open 115000 - 10 i and low 114900 - 10 i: from the 20:57
    # open (i = 27) to the low of the last bar closed by 21:27 (i = 56), not the 21:57 low
    assert flush.extreme_move_pct == pytest.approx(((114900 - 560) / (115000 - 270) - 1) * 100)
    later = read_frame(db, at + dt.timedelta(minutes=57), min_importance=0, min_move_pct=0.3)
    assert later.flushes[0].severity == 62.5
    assert flush.catalysts[0].title == "Tariff of 100% announced on imports"
    assert [c.is_coverage for c in flush.catalysts] == [False, False, False, True]  # coverage last
    # long after, the flush is no longer in progress
    assert read_frame(db, at + dt.timedelta(days=1)).flushes == ()


def seed_shown_flush(db: Database) -> None:
    """seed_flush, with the config's [detect] floor under the 0.3 % its candles fall by 21:30
    (watch shows a flush once its move so far reaches detection's min_move_pct)."""
    seed_flush(db)
    Path(os.environ["FLUSHWATCH_CONFIG"]).write_text("[detect]\nmin_move_pct = 0.3\n")


def test_watch_once_renders_one_frame_and_leaves_the_file_free(db: Database, db_path: Path, cli) -> None:
    seed_shown_flush(db)
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


# -- watch --record: the liquidation recorder inside watch, against a real local WebSocket server --


def _replay(**kwargs: object) -> Iterator[Replay]:
    """The recorder tests' loopback server, with events timed a minute ago (inside the frame's
    15-minute liquidation window)."""
    r = Replay(base_ms=int(time.time() * 1000) - 60_000, **kwargs)  # type: ignore[arg-type]
    t = threading.Thread(target=r.run, daemon=True)
    t.start()
    assert r.ready.wait(10)
    yield r
    r.stop.set()
    t.join(5)


@pytest.fixture
def replay() -> Iterator[Replay]:
    yield from _replay()


@pytest.fixture
def dropping_replay() -> Iterator[Replay]:
    """Binance's first socket dies without a close frame, and the server is gone after it."""
    yield from _replay(abort_first=True, refuse_after_first=True)


def _watch(db_path: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    """``watch --record binance`` on a file that does not exist yet (watch creates it)."""
    assert not db_path.exists()
    return subprocess.Popen(
        [sys.executable, "-m", "flushwatch", "watch", "--db", str(db_path), "--record", "binance",
         "--every", "1", "--min-importance", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=subprocess_env(
            FLUSHWATCH_BINANCE_WS_URL=f"ws://127.0.0.1:{port}/ws/!forceOrder@arr", COLUMNS="240"
        ),
    )


_SUMMARY = re.compile(r"recorder: stored (\d+) of (\d+) received")


def _stored(db_path: Path) -> tuple[int, list[tuple[str, str]]]:
    with Database(db_path, wait_s=5).read() as con:
        n = con.execute("SELECT count(*) FROM liquidations WHERE venue = 'binance'").fetchone()
        gaps = con.execute("SELECT venue, reason FROM coverage_gaps ORDER BY gap_start").fetchall()
    assert n is not None
    return int(n[0]), gaps


def test_watch_record_writes_liquidations_and_frames_show_them(replay: Replay, tmp_path: Path) -> None:
    db_path = tmp_path / "w.duckdb"
    proc = _watch(db_path, replay.port, "--for", "8s")
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert "Traceback" not in out + err
    m = _SUMMARY.search(err)
    assert m, err
    stored, received = int(m.group(1)), int(m.group(2))
    n, gaps = _stored(db_path)
    # everything received landed, once; the 1001 close of the first socket is a coverage gap
    detail = (stored, received, n, replay.binance_connections, gaps, err[-1500:])
    assert stored == received == n and n > Replay.FIRST and replay.binance_connections >= 2, detail
    assert any(v == "binance" and "1001" in why for v, why in gaps), gaps
    # frames (off a terminal: one per --every) show the recorded rows and the recorder's state
    last = out.rsplit("flushwatch watch —", 1)[-1]
    assert "Liquidations, last 15 min" in last and "BTCUSDT" in last and "ETHUSDT" in last
    assert "recorder · binance: connected" in last and "recorder · writer: stored" in last
    assert out.count("flushwatch watch —") >= 4
    with Database(db_path, wait_s=5).read() as con:
        run = con.execute(
            "SELECT command, args, status FROM runs WHERE command = 'liquidations record'"
        ).fetchall()
    assert run == [("liquidations record", "watch --record binance", "ok")]


def test_watch_record_dropped_socket_is_one_line_in_the_frame(
    dropping_replay: Replay, tmp_path: Path
) -> None:
    db_path = tmp_path / "d.duckdb"
    proc = _watch(db_path, dropping_replay.port, "--for", "6s")
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err
    assert "Traceback" not in out + err
    last = out.rsplit("flushwatch watch —", 1)[-1]
    lines = [ln for ln in last.splitlines() if "recorder · binance" in ln]
    assert len(lines) == 1, last  # one line, not a traceback
    assert "not connected for" in lines[0] and "no close frame" in lines[0] and "retrying" in lines[0]
    # what arrived before the drop is stored; the outage is a coverage gap up to shutdown
    n, gaps = _stored(db_path)
    assert n == Replay.FIRST and f"stored {n} of {n} received" in err
    assert any(v == "binance" and "no close frame" in why and "until shutdown" in why for v, why in gaps)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_watch_record_stops_cleanly_on_a_signal(replay: Replay, tmp_path: Path, sig: int) -> None:
    db_path = tmp_path / "s.duckdb"
    proc = _watch(db_path, replay.port)  # off a terminal with --record: frames until stopped
    try:
        deadline = time.monotonic() + 60
        while not (replay.binance_connections >= 2 and replay.binance_sent > 300):
            assert time.monotonic() < deadline and proc.poll() is None, "recorder never streamed"
            time.sleep(0.05)
        proc.send_signal(sig)  # mid-stream: a batch is still buffered
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err  # 130: interrupted, as for any command stopped by Ctrl-C
    assert "Traceback" not in out + err
    m = _SUMMARY.search(err)
    assert m, err
    n, _ = _stored(db_path)
    assert int(m.group(1)) == int(m.group(2)) == n > Replay.FIRST  # nothing received was lost


def test_watch_record_rejects_an_unknown_venue(db_path: Path, cli) -> None:
    r = cli("watch", "--once", "--db", str(db_path), "--record", "kraken")
    assert r.code == 2 and "--record 'kraken'" in r.err and "binance" in r.err


# -- failed --run steps, a mistyped --db, a busy file mid-view ---------------------------------


def test_watch_once_run_shows_a_failed_step_and_exits_3(
    db: Database, db_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flushwatch.errors import ModelError
    from flushwatch.jobs import run as run_job

    def broken(db: Database, run_id: int | None) -> str:
        raise ModelError("cannot load model /tmp/nonexist: no such directory")

    monkeypatch.setitem(run_job.STEP_FUNCS, "score", broken)
    seed_flush(db)
    r = cli("watch", "--once", "--run", "--db", str(db_path), "--at", "2025-10-10T21:30Z")
    assert r.code == 3, r.out + r.err
    assert r.out.startswith("flushwatch watch — 2025-10-10 21:30:00 UTC")  # the frame is still drawn
    assert [line for line in r.out.splitlines() if "failed" in line] == [
        "step score failed: cannot load model /tmp/nonexist: no such directory"
    ]
    assert "WARNING" in r.err and "score failed" in r.err
    assert "steps failed: score" in r.err


def test_watch_read_only_does_not_create_a_mistyped_db(tmp_path: Path, cli) -> None:
    typo = tmp_path / "typo.duckdb"
    r = cli("watch", "--once", "--db", str(typo))
    assert r.code == 1 and f"no database at {typo}" in r.err
    assert not typo.exists()


def test_watch_skips_a_busy_frame_and_carries_on(
    db: Database, db_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flushwatch.errors import DatabaseBusy
    from flushwatch.scoring import watch as watch_mod

    seed_shown_flush(db)
    real = watch_mod.read_frame
    calls: list[int] = []

    def flaky(*args: object, **kwargs: object):  # the second frame meets a long writer
        calls.append(1)
        if len(calls) == 2:
            raise DatabaseBusy(db_path, holder="flushwatch ingest (pid 1)", waited_s=1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(watch_mod, "read_frame", flaky)
    # off a terminal with --for: a log of frames
    r = cli("watch", "--db", str(db_path), "--for", "2.5s", "--every", "1", "--at", "2025-10-10T21:30Z")
    assert r.code == 0, r.err
    assert len(calls) == 3
    assert r.out.count("FLUSH #7") == 2
    assert "database busy, retrying in 1 s (flushwatch ingest (pid 1) holds it)" in r.out


def test_watch_first_frame_busy_still_exits_75(
    db: Database, db_path: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flushwatch.errors import DatabaseBusy
    from flushwatch.scoring import watch as watch_mod

    seed_flush(db)

    def busy(*args: object, **kwargs: object):
        raise DatabaseBusy(db_path, holder=None, waited_s=1)

    monkeypatch.setattr(watch_mod, "read_frame", busy)
    r = cli("watch", "--once", "--db", str(db_path))
    assert r.code == 75 and "database busy" in r.err


def test_watch_fetch_without_run_is_a_usage_error(db: Database, db_path: Path, cli) -> None:
    r = cli("watch", "--once", "--fetch", "--db", str(db_path))
    assert r.code == 2 and "--fetch needs --run" in r.err
