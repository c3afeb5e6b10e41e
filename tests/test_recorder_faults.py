"""The liquidation recorder against a loopback WebSocket server that misbehaves.

Why these tests exist: the recorder runs for months unattended, and the venues' streams fail
in ways a happy-path replay never shows. Each test scripts one fault on a real ``websockets``
server on 127.0.0.1 and checks what a user of the data relies on: every event the recorder
acknowledged (counted as received) is stored exactly once, every outage is a row in
``coverage_gaps``, bad messages are counted and skipped, memory stays bounded, and a signal
leaves a consistent file. Where signals or memory matter the recorder runs in a subprocess;
otherwise it runs in this process, so a test can stop it the moment the fault has played out.

Events are Binance ``forceOrder`` messages whose id ``i`` is the trade time ``BASE_MS + i``, so
the stored rows name the events the server sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

from flushwatch.ingest.market.recorder import Recorder, RecorderOptions
from flushwatch.records.market import RecorderStats
from flushwatch.storage.db import Database

BASE_MS = 1_735_689_600_000  # 2025-01-01: a fixed day, so stored rows map back to event ids
PYTHON = sys.executable


def event(i: int, **changes: Any) -> str:
    """Binance forceOrder message for event ``i``; ``changes`` overwrite fields of ``o``."""
    order: dict[str, Any] = {
        "s": "BTCUSDT",
        "S": "SELL",
        "o": "LIMIT",
        "f": "IOC",
        "q": "0.010",
        "p": "90000.00",
        "ap": f"{90000 + i % 1000}.50",
        "X": "FILLED",
        "l": "0.010",
        "z": "0.010",
        "T": BASE_MS + i,
    }
    order.update(changes)
    return json.dumps({"e": "forceOrder", "E": BASE_MS + i + 3, "o": order})


Script = Callable[["FaultServer", Any, int], Awaitable[None]]


class FaultServer:
    """A WebSocket server on 127.0.0.1, with its own thread and event loop, that plays
    ``script(server, ws, n)`` on its n-th connection (0-based).

    ``sent`` lists the ids of the events whose send completed; ``flags`` are set by scripts to
    tell the test how far they got, ``marks`` hold the monotonic times of named moments. The
    server never pings (so only the recorder's keepalive is in play) and accepts frames of any
    size.
    """

    def __init__(self, script: Script) -> None:
        self.script = script
        self.port = 0
        self.connections = 0
        self.sent: list[int] = []
        self.flags: set[str] = set()
        self.marks: dict[str, float] = {}
        self.stop = threading.Event()
        self.ready = threading.Event()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/!forceOrder@arr"

    async def send(self, ws: Any, i: int) -> None:
        await ws.send(event(i))
        self.sent.append(i)

    async def delivered(self, ws: Any) -> None:
        """Wait until the client library has read every frame sent so far (a ping's pong comes
        back only after the frames before it). The recorder may not have taken them all from
        the library yet: it reads ahead, by thousands of frames in a flood."""
        pong = await ws.ping()
        await asyncio.wait_for(pong, 30)

    async def idle(self) -> None:
        while not self.stop.is_set():
            await asyncio.sleep(0.02)

    async def _handler(self, ws: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        n = self.connections
        self.connections += 1
        with suppress(ConnectionClosed):
            await self.script(self, ws, n)

    def run(self) -> None:
        from websockets.asyncio.server import serve

        async def main() -> None:
            async with serve(self._handler, "127.0.0.1", 0, ping_interval=None, max_size=None) as server:
                self.port = server.sockets[0].getsockname()[1]
                self.ready.set()
                while not self.stop.is_set():
                    await asyncio.sleep(0.02)
                server.close()

        asyncio.run(main())


@contextmanager
def serving(script: Script) -> Iterator[FaultServer]:
    server = FaultServer(script)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert server.ready.wait(10)
    try:
        yield server
    finally:
        server.stop.set()
        thread.join(10)


def record_until(
    db: Database, options: RecorderOptions, done: Callable[[], bool], timeout: float = 60.0
) -> RecorderStats:
    """Run the recorder in this process until ``done()`` holds (checked on its event loop) and
    it has taken in no event for 0.3 s, then stop it as a signal would; the stop comes at
    ``timeout`` at the latest.

    Why the quiet spell: ``done`` is the server's view (its last frames were delivered), but
    the client library reads ahead, so frames can still be queued on the recorder's side.
    """

    async def main() -> RecorderStats:
        rec = Recorder(db, options)
        loop = asyncio.get_running_loop()

        async def watch() -> None:
            deadline = loop.time() + timeout
            seen, quiet_since = -1, loop.time()
            while loop.time() < deadline:
                received = sum(rec.state.received.values())
                if received != seen:
                    seen, quiet_since = received, loop.time()
                elif done() and loop.time() - quiet_since >= 0.3:
                    break
                await asyncio.sleep(0.05)
            rec.stop.set()

        watcher = asyncio.create_task(watch())
        stats = await rec.run()
        await watcher
        return stats

    return asyncio.run(main())


def fresh_db(path: Path, wait_s: float = 5.0) -> Database:
    db = Database(path, wait_s=wait_s, snapshot=False)
    db._ensure_schema()  # the schema exists before any fault starts
    return db


def stored_ids(db: Database) -> list[int]:
    with db.read() as con:
        rows = con.execute(
            "SELECT epoch_ms(event_time) - ? FROM liquidations ORDER BY event_time", [BASE_MS]
        ).fetchall()
    return [int(r[0]) for r in rows]


def count_rows(path: Path) -> int:
    """Rows in ``liquidations``, read the way another process would while the recorder runs."""
    with Database(path, wait_s=5, snapshot=False).read() as con:
        found = con.execute("SELECT count(*) FROM liquidations").fetchone()
    return int(found[0]) if found else 0


def gaps(db: Database) -> list[tuple[str, str, float, str]]:
    """(venue, stream, seconds, reason) of every coverage gap, oldest first."""
    with db.read() as con:
        rows = con.execute(
            "SELECT venue, stream, epoch(gap_end) - epoch(gap_start), reason FROM coverage_gaps "
            "ORDER BY gap_start"
        ).fetchall()
    return [(v, s, float(sec), r) for v, s, sec, r in rows]


def _wait(
    cond: Callable[[], bool], what: str, timeout: float = 60.0, proc: subprocess.Popen[Any] | None = None
) -> None:
    """Wait for ``cond``; fail at ``timeout``, or at once when the recorder ``proc`` has exited."""
    deadline = time.monotonic() + timeout
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the recorder exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# -- 1. drops -------------------------------------------------------------------------------------


def test_drops_reconnect_with_backoff_record_gaps_and_store_each_event_once(tmp_path: Path) -> None:
    """Five connections, four of them dropped: closed with 1001 and with 1011, aborted without
    a close frame once everything had arrived, and aborted mid-stream. After each reconnect the
    server replays the previous connection's last ten events, as a venue may."""
    per_conn, replayed = 60, 10

    async def script(server: FaultServer, ws: Any, n: int) -> None:
        first = n * 100
        if n:
            for i in range(first - 100 + per_conn - replayed, first - 100 + per_conn):
                await server.send(ws, i)
        for i in range(first, first + per_conn):
            await server.send(ws, i)
        if n == 3:
            ws.transport.abort()  # mid-stream: only what reached the recorder counts
            return
        await server.delivered(ws)
        if n == 0:
            await ws.close(1001, "daily maintenance")
        elif n == 1:
            ws.transport.abort()
        elif n == 2:
            await ws.close(1011, "server error")
        else:
            server.flags.add("last connection delivered")
            await server.idle()

    db = fresh_db(tmp_path / "drops.duckdb")
    with serving(script) as server:
        opts = RecorderOptions(venues=("binance",), binance_url=server.url, flush_every_s=0.2)
        stats = record_until(db, opts, lambda: "last connection delivered" in server.flags)
    assert server.connections == 5
    ids = stored_ids(db)
    # everything the server sent on a connection it drained is stored, and nothing else exists
    drained = {i for n in (0, 1, 2, 4) for i in range(n * 100, n * 100 + per_conn)}
    assert drained <= set(ids) <= set(server.sent)
    # each event once, although ten of each connection's events arrived twice
    assert len(ids) == len(set(ids))
    # everything acknowledged was written
    assert stats.stored == sum(stats.received.values()) >= len(drained) + 3 * replayed
    assert stats.reconnects == 4 and stats.malformed == 0
    found = gaps(db)
    assert [(v, s) for v, s, _, _ in found] == [("binance", "forceOrder")] * 4, found
    reasons = [r for *_, r in found]
    assert "1001" in reasons[0] and "1011" in reasons[2], reasons
    assert "no close frame" in reasons[1] and "no close frame" in reasons[3], reasons
    # the recorder waited before each redial (0.5 s backoff, at least 75 % of it with jitter)
    assert all(sec >= 0.3 for _, _, sec, _ in found), found


# -- 2. garbage -----------------------------------------------------------------------------------

WRONG_SHAPES = [
    "[]",
    "[1, 2]",
    "null",
    '"forceOrder"',
    "42",
    "{}",
    '{"e": "forceOrder"}',
    '{"e": "forceOrder", "o": []}',
    '{"e": "forceOrder", "o": "BTCUSDT"}',
    '{"e": "depthUpdate", "b": []}',
    "[" * 100_000 + "]" * 100_000,  # deeper than the JSON parser recurses
]
BAD_VALUES = [
    event(900, ap="NaN", p="NaN"),
    event(901, ap="Infinity"),
    event(902, ap="-90000.5"),
    event(903, ap="0", p="0"),
    event(904, z="-1", q="-1"),
    event(905, z="1e300"),
    event(906, ap=True),
    event(907, s=None),
    event(908, S="SIDEWAYS"),
    event(909, T=1),  # 1970
    event(910, T=BASE_MS // 1000),  # seconds where milliseconds belong
    event(911, T=BASE_MS * 1000),  # microseconds where milliseconds belong
    event(912, T=32_503_680_000_000),  # the year 3000
    event(913, T=10**20),
    event(914, T=-(10**15)),
    event(915, T="soon"),
    event(916, T=1e400),  # JSON 1e400 reads as infinity
    json.dumps({"e": "forceOrder", "E": 1, "o": {"s": "BTCUSDT", "S": "SELL", "q": "1", "p": "NaN", "T": 1}}),
]


def test_parser_rejects_every_bad_value_with_a_value_error() -> None:
    """The parsers are the recorder's only line of defence: whatever a message holds, they
    return events or raise ValueError, never anything else, and never store NaN, a negative
    or absurd size, or a time far from the day it arrived."""
    import datetime as dt

    from flushwatch.ingest.market.stream_parse import parse_binance, parse_bybit

    now = dt.datetime.now(dt.UTC)
    unreadable: list[str | bytes] = [*WRONG_SHAPES, *BAD_VALUES, b"\x00\xff\xfe\x80binary", "{not json"]
    for raw in unreadable:
        with pytest.raises(ValueError):
            parse_binance(raw, now)
    ok: dict[str, Any] = {"T": BASE_MS, "s": "ETHUSDT", "S": "Buy", "v": "1.5", "p": "3300.1"}
    bad_items: list[dict[str, Any]] = [
        {"p": "NaN"},
        {"v": "-1"},
        {"v": True},
        {"p": "1e300"},
        {"T": 1e400},
        {"T": 10**20},
        {"T": 0},
        {"s": ""},
        {"s": ["BTC"]},
    ]
    for bad in bad_items:
        msg = json.dumps({"topic": "allLiquidation.ETHUSDT", "ts": BASE_MS, "data": [{**ok, **bad}]})
        with pytest.raises(ValueError):
            parse_bybit(msg, now)
    # the good ones still parse, including a symbol in other scripts and an old replayed day
    (e,) = parse_binance(event(5, s="币安人生USDT"), now)
    assert e.symbol == "币安人生USDT" and e.price == 90005.5
    assert len(parse_bybit(json.dumps({"topic": "allLiquidation.ETHUSDT", "data": [ok]}), now)) == 1


def test_garbage_frames_are_counted_and_skipped_without_losing_good_events(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Binary junk, broken JSON, wrong shapes and impossible values between good events, then
    a 10 MB frame: the good events are stored, every bad message is counted, the oversized
    frame (refused from its header, over the 1 MiB limit) costs one reconnect, recorded as a
    gap, and nothing raises or logs an error."""
    garbage: list[str | bytes] = [b"\x00\xff\xfe\x80binary junk", "{not json", *WRONG_SHAPES, *BAD_VALUES]

    async def script(server: FaultServer, ws: Any, n: int) -> None:
        if n == 0:
            await server.send(ws, 0)
            for k, bad in enumerate(garbage):
                await ws.send(bad)
                if k % 5 == 0:
                    await server.send(ws, 1 + k // 5)
            await ws.send('{"e": "forceOrder", "pad": "' + "x" * 10_000_000 + '"}')
            await ws.wait_closed()
            return
        for i in range(100, 105):
            await server.send(ws, i)
        await server.delivered(ws)
        server.flags.add("after reconnect")
        await server.idle()

    db = fresh_db(tmp_path / "garbage.duckdb")
    caplog.set_level(logging.DEBUG, logger="flushwatch")
    with serving(script) as server:
        opts = RecorderOptions(venues=("binance",), binance_url=server.url, flush_every_s=0.2)
        stats = record_until(db, opts, lambda: "after reconnect" in server.flags)
    good = list(server.sent)
    assert stored_ids(db) == sorted(good) and len(good) == 1 + (len(garbage) + 4) // 5 + 5
    assert stats.stored == stats.received["binance"] == len(good)
    assert stats.malformed == len(garbage) + 1  # + the oversized frame
    (gap,) = gaps(db)
    assert gap[:2] == ("binance", "forceOrder") and "1009" in gap[3], gap
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


# -- 3. a flood -----------------------------------------------------------------------------------

RUNNER = """
import dataclasses, json, sys
from flushwatch.ingest.market.recorder import RecorderInterrupted, RecorderOptions, record
from flushwatch.storage.db import Database

db_path, url, max_buffered = sys.argv[1], sys.argv[2], int(sys.argv[3])
db = Database(db_path, wait_s=0.3, snapshot=False)
opts = RecorderOptions(venues=("binance",), binance_url=url, flush_every_s=0.5, max_buffered=max_buffered)
try:
    stats, code = record(db, opts), 0
except RecorderInterrupted as exc:
    stats, code = exc.stats, 130
print(json.dumps(dataclasses.asdict(stats)), flush=True)
sys.exit(code)
"""

HOLDER = """
import duckdb, sys, time
while True:
    try:
        con = duckdb.connect(sys.argv[1])
        break
    except duckdb.IOException:
        time.sleep(0.01)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


@contextmanager
def database_held(path: Path, seconds: float) -> Iterator[None]:
    """Another process holds the DuckDB file (its lock is exclusive) for ``seconds`` from entry,
    as a long cron job would; leaving the block waits for it to let go."""
    with subprocess.Popen(
        [PYTHON, "-c", HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    ) as holder:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield


def _peak_rss_mib(pid: int) -> float:
    """The process's peak resident memory since it started its program (``VmHWM``). Not the
    child's ``ru_maxrss``: on Linux that keeps the high-water mark of the forking parent, which
    in a test run that has loaded the model is over a gigabyte."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for PID {pid}")


def test_flood_is_recorded_without_loss_in_bounded_memory(tmp_path: Path) -> None:
    """30,000 messages at up to 10,000 a second while another process holds the database for
    the first two seconds: the writer falls behind, the recorder stops reading (back-pressure)
    instead of growing its buffer, and every message ends up stored once.

    The recorder runs in a subprocess so its peak resident memory (VmHWM) is its own."""
    total, per_tick, tick_s = 30_000, 100, 0.01

    async def script(server: FaultServer, ws: Any, n: int) -> None:
        start = server.marks["first sent"] = time.monotonic()
        for k in range(0, total, per_tick):
            for i in range(k, k + per_tick):
                await server.send(ws, i)
            ahead = start + (k + per_tick) / per_tick * tick_s - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)
        server.marks["last sent"] = time.monotonic()
        await server.delivered(ws)
        server.flags.add("flood delivered")
        await server.idle()

    db_path = tmp_path / "flood.duckdb"
    fresh_db(db_path)
    log_path = tmp_path / "recorder.log"  # a file, not a pipe: nobody reads it until the end
    with serving(script) as server, database_held(db_path, 2.0), log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [PYTHON, "-c", RUNNER, str(db_path), server.url, "2000"],
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
        )
        assert proc.stdout is not None
        try:
            _wait(lambda: "flood delivered" in server.flags, "the flood to be read", timeout=120, proc=proc)
            _wait(lambda: count_rows(db_path) == total, "the flood to be stored", timeout=120, proc=proc)
            all_stored = time.monotonic()
            peak_mib = _peak_rss_mib(proc.pid)
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.returncode is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
    err = log_path.read_text()
    assert proc.returncode == 130, err[-2000:]
    stats = json.loads(out)
    ids = stored_ids(Database(db_path, wait_s=5, snapshot=False))
    assert stats["received"]["binance"] == total == stats["stored"], (stats, err[-3000:])
    assert ids == list(range(total))
    assert "Traceback" not in err
    # A ceiling against leaks, not the check of the bound (the next test checks that): on the
    # 2-core development machine the recorder peaked at 138-168 MiB here and at 86 MiB idle,
    # and even all 30,000 events buffered at once cost only about 30 MiB more.
    sending = server.marks["last sent"] - server.marks["first sent"]
    storing = all_stored - server.marks["first sent"]
    print(
        f"\nflood: {total:,} sent in {sending:.2f} s, all stored {storing:.2f} s after the first "
        f"({total / storing:,.0f}/s, the database held for the first 2 s); peak RSS {peak_mib:.0f} MiB"
    )
    assert peak_mib < 300, peak_mib


def test_writer_behind_pauses_reading_instead_of_growing_the_buffer(tmp_path: Path) -> None:
    """The bound itself, watched from inside at every turn of the event loop: with the database
    held by another process, the recorder pauses reading and never holds more than
    ``max_buffered`` unwritten events; all of them are written once the file is free."""
    total, bound = 8_000, 500

    async def script(server: FaultServer, ws: Any, n: int) -> None:
        for i in range(total):
            await server.send(ws, i)
            if i % 200 == 0:
                await asyncio.sleep(0)
        await server.idle()

    db_path = tmp_path / "bound.duckdb"
    db = fresh_db(db_path, wait_s=0.2)
    peak = pauses = 0

    with serving(script) as server, database_held(db_path, 1.5):
        opts = RecorderOptions(
            venues=("binance",), binance_url=server.url, flush_every_s=0.2, max_buffered=bound
        )

        async def main() -> RecorderStats:
            nonlocal peak, pauses
            rec = Recorder(db, opts)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60

            async def watch() -> None:
                nonlocal peak
                while not rec.stop.is_set():
                    peak = max(peak, rec.status().buffered)
                    if rec.state.stored >= total or loop.time() > deadline:
                        rec.stop.set()
                    await asyncio.sleep(0)

            watcher = asyncio.create_task(watch())
            stats = await rec.run()
            await watcher
            pauses = rec.state.read_pauses
            return stats

        stats = asyncio.run(main())
    assert 0 < peak <= bound and pauses > 0, (peak, pauses)
    assert stats.received["binance"] == stats.stored == total
    assert stored_ids(db) == list(range(total))


# -- 4. a stalled socket --------------------------------------------------------------------------


def test_stalled_socket_is_detected_by_ping_timeout_and_recorded_as_a_gap(tmp_path: Path) -> None:
    """The server sends five events, then neither sends nor reads (so it answers no ping) and
    never closes: the recorder's keepalive notices, it reconnects, and the silence is a gap."""

    async def script(server: FaultServer, ws: Any, n: int) -> None:
        base = n * 100
        for i in range(base, base + 5):
            await server.send(ws, i)
        if n == 0:
            await server.delivered(ws)
            ws.transport.pause_reading()  # pings go unanswered; the TCP connection stays up
            await server.idle()
            ws.transport.abort()  # a closing handshake would wait for the paused reader
            return
        await server.delivered(ws)
        server.flags.add("reconnected")
        await server.idle()

    db = fresh_db(tmp_path / "stall.duckdb")
    with serving(script) as server:
        opts = RecorderOptions(
            venues=("binance",),
            binance_url=server.url,
            flush_every_s=0.2,
            ping_interval_s=0.5,
            ping_timeout_s=0.5,
        )
        stats = record_until(db, opts, lambda: "reconnected" in server.flags, timeout=30)
    assert server.connections == 2
    assert stored_ids(db) == [0, 1, 2, 3, 4, 100, 101, 102, 103, 104]
    assert stats.reconnects == 1
    (gap,) = gaps(db)
    assert gap[:2] == ("binance", "forceOrder") and "ping timeout" in gap[3], gap
    # the gap reaches back past the unanswered ping (0.5 s) to when the socket was last alive,
    # and on to the reconnect after the backoff (at least 0.375 s)
    assert gap[2] >= 0.85, gap


def test_recorder_pings_at_the_configured_interval() -> None:
    """The keepalive settings reach the connection: the defaults detect a dead socket within
    40 s, well before the venues' own idle limits."""
    opts = RecorderOptions()
    assert (opts.ping_interval_s, opts.ping_timeout_s) == (20.0, 20.0)


# -- 5. signals -----------------------------------------------------------------------------------


def _streaming(pause_every: int, pause_s: float) -> Script:
    """One endless stream of events in id order, paced by ``pause_s`` every ``pause_every``."""

    async def script(server: FaultServer, ws: Any, n: int) -> None:
        i = n * 1_000_000
        while not server.stop.is_set():
            await server.send(ws, i)
            i += 1
            if i % pause_every == 0:
                await asyncio.sleep(pause_s)

    return script


def _record_cmd(db_path: Path, url: str, *extra: str) -> list[str]:
    return [
        PYTHON,
        "-m",
        "flushwatch",
        "liquidations",
        "record",
        "--db",
        str(db_path),
        "--venues",
        "binance",
        "--binance-url",
        url,
        *extra,
    ]


def test_sigterm_mid_batch_writes_the_buffer_and_ends_cleanly(tmp_path: Path) -> None:
    """SIGTERM while a two-second batch is filling: the batch is written before exit, the run
    ends ok with its counts and the signal in its message, and the command exits 0."""
    db_path = tmp_path / "term.duckdb"
    fresh_db(db_path)
    with serving(_streaming(pause_every=1, pause_s=0.002)) as server:
        proc = subprocess.Popen(
            _record_cmd(db_path, server.url, "--flush-every", "2"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _wait(lambda: len(server.sent) >= 300, "events to flow", proc=proc)
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "stopped by SIGTERM after writing its buffer" in err and "Traceback" not in err, err
    db = Database(db_path, wait_s=5, snapshot=False)
    with db.read() as con:
        status, message = con.execute(
            "SELECT status, message FROM runs WHERE command = 'liquidations record'"
        ).fetchone() or ("", "")
    assert status == "ok", (status, message)
    found = re.search(r"stored (\d+) of (\d+) received", message or "")
    assert found and "SIGTERM" in message, message
    stored, received = int(found[1]), int(found[2])
    ids = stored_ids(db)
    # nothing acknowledged is lost: the stream arrives in order, so the rows are its first events
    assert stored == received == len(ids) > 0 and ids == list(range(received)), (stored, received, len(ids))


def test_sigkill_mid_stream_leaves_a_consistent_file(tmp_path: Path, cli: Any) -> None:
    """SIGKILL (no chance to flush) while batches are being written: the file opens, holds only
    whole batches (the stored rows are the stream's first events, each once), and the next run
    records into it and marks the killed run abandoned."""
    db_path = tmp_path / "kill.duckdb"
    db = fresh_db(db_path)

    with serving(_streaming(pause_every=50, pause_s=0.001)) as server:
        proc = subprocess.Popen(
            _record_cmd(db_path, server.url, "--flush-every", "0.3"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait(lambda: count_rows(db_path) >= 1000, "batches to be written", proc=proc)
            time.sleep(0.1)
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
        ids = stored_ids(db)
        assert ids == list(range(len(ids))) and len(ids) >= 1000
        res = cli(*_record_cmd(db_path, server.url, "--for", "1s")[3:])
    assert res.code == 0, res.err
    with db.read() as con:
        runs = con.execute("SELECT status FROM runs ORDER BY run_id").fetchall()
        dupes = con.execute(
            "SELECT count(*) - count(DISTINCT (symbol, event_time, side, price, quantity)) FROM liquidations"
        ).fetchone()
    assert runs == [("abandoned",), ("ok",)], runs
    assert dupes == (0,)
    assert len(stored_ids(db)) > len(ids)
