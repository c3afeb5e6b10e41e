"""The liquidation recorder against a real WebSocket server on 127.0.0.1.

The server replays Binance ``!forceOrder@arr`` and Bybit ``allLiquidation`` messages in their
documented shapes: Binance's first connection sends a few events and a malformed message, then
drops (a mid-stream disconnect); the second streams until the test sends SIGTERM to the
recorder subprocess while a batch is still buffered. Nothing received may be lost and nothing
stored twice. tests/test_recorder_faults.py plays the other faults (garbage, floods, stalls).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flushwatch.ingest.market.stream_parse import parse_binance, parse_bybit
from flushwatch.storage.db import Database

BASE_MS = 1_735_689_600_000
RECV = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def binance_msg(i: int, symbol: str = "BTCUSDT", side: str = "SELL", base_ms: int = BASE_MS) -> str:
    return json.dumps(
        {
            "e": "forceOrder",
            "E": base_ms + i + 5,
            "o": {
                "s": symbol,
                "S": side,
                "o": "LIMIT",
                "f": "IOC",
                "q": "0.010",
                "p": f"{90000 + i}.00",
                "ap": f"{90000 + i}.50",
                "X": "FILLED",
                "l": "0.010",
                "z": "0.010",
                "T": base_ms + i,
            },
        }
    )


def bybit_msg(i: int) -> str:
    return json.dumps(
        {
            "topic": "allLiquidation.ETHUSDT",
            "type": "snapshot",
            "ts": BASE_MS + i,
            "data": [
                {"T": BASE_MS + i, "s": "ETHUSDT", "S": "Buy", "v": "1.25", "p": f"{3300 + i}.10"},
                {"T": BASE_MS + i, "s": "ETHUSDT", "S": "Sell", "v": "0.50", "p": f"{3300 + i}.20"},
            ],
        }
    )


# -- pure parsing ----------------------------------------------------------------------------------


def test_parse_binance_sides_units_and_wrapper() -> None:
    (e,) = parse_binance(binance_msg(7), RECV)
    assert (e.venue, e.symbol, e.side, e.price, e.quantity) == ("binance", "BTCUSDT", "long", 90007.5, 0.01)
    assert e.notional_usd == pytest.approx(900.075) and e.event_time == dt.datetime.fromtimestamp(
        (BASE_MS + 7) / 1000, dt.UTC
    )
    wrapped = json.dumps({"stream": "!forceOrder@arr", "data": json.loads(binance_msg(1, side="BUY"))})
    assert parse_binance(wrapped, RECV)[0].side == "short"
    with pytest.raises(ValueError):
        parse_binance("{nope", RECV)
    with pytest.raises(ValueError):
        parse_binance(json.dumps({"e": "forceOrder", "o": {"s": "X"}}), RECV)


def test_parse_bybit_position_side_and_control_frames() -> None:
    events = parse_bybit(bybit_msg(1), RECV)
    assert [(e.venue, e.side, e.quantity) for e in events] == [
        ("bybit", "long", 1.25),
        ("bybit", "short", 0.5),
    ]
    assert (
        parse_bybit(json.dumps({"success": True, "ret_msg": "", "op": "subscribe", "conn_id": "x"}), RECV)
        == []
    )
    assert parse_bybit(json.dumps({"op": "pong", "args": ["1"]}), RECV) == []
    with pytest.raises(ValueError):
        parse_bybit(json.dumps({"topic": "orderbook.1.BTCUSDT", "data": {}}), RECV)


# -- the replay server -----------------------------------------------------------------------------


class Replay:
    """Binance at /ws/!forceOrder@arr, Bybit at /v5/public/linear, on one loopback port.

    ``base_ms``: event times start here (the default is a fixed day in the past). ``abort_first``:
    Binance's first connection is dropped without a close frame (a dead socket) instead of
    closed with code 1001. ``refuse_after_first``: the server stops listening after that first
    Binance connection, so every reconnect is refused.
    """

    FIRST = 5  # events on Binance's first connection before the drop

    def __init__(
        self, base_ms: int = BASE_MS, *, abort_first: bool = False, refuse_after_first: bool = False
    ) -> None:
        self.base_ms = base_ms
        self.abort_first = abort_first
        self.refuse_after_first = refuse_after_first
        self.port = 0
        self.binance_connections = 0
        self.binance_sent = 0
        self.bybit_sent = 0  # events, not messages
        self.bybit_subscribed: list[str] = []
        self.bybit_pings = 0
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def handler(self, ws) -> None:  # type: ignore[no-untyped-def]
        path = ws.request.path
        if path.startswith("/ws/"):
            self.binance_connections += 1
            if self.binance_connections == 1:
                for i in range(self.FIRST):
                    await ws.send(binance_msg(i, base_ms=self.base_ms))
                    self.binance_sent += 1
                await ws.send("{this is not json")
                await asyncio.sleep(0.1)
                if self.refuse_after_first:
                    self.stop.set()  # the listening socket closes: reconnects are refused
                if self.abort_first:
                    ws.transport.abort()
                else:
                    await ws.close(code=1001, reason="daily maintenance")
                return
            i = 1000
            while not self.stop.is_set():
                await ws.send(binance_msg(i, symbol="ETHUSDT" if i % 2 else "BTCUSDT", base_ms=self.base_ms))
                self.binance_sent += 1
                i += 1
                await asyncio.sleep(0.002)
            return
        sub = json.loads(await ws.recv())
        self.bybit_subscribed += sub["args"]
        await ws.send(json.dumps({"success": True, "ret_msg": "", "op": "subscribe", "conn_id": "t"}))

        async def pongs() -> None:
            async for raw in ws:
                if json.loads(raw).get("op") == "ping":
                    self.bybit_pings += 1
                    await ws.send(json.dumps({"success": True, "ret_msg": "pong", "op": "ping"}))

        reader = asyncio.create_task(pongs())
        i = 0
        try:
            while not self.stop.is_set():
                await ws.send(bybit_msg(i))
                self.bybit_sent += 2
                i += 1
                await asyncio.sleep(0.005)
        finally:
            reader.cancel()

    def run(self) -> None:
        from websockets.asyncio.server import serve

        async def main() -> None:
            async with serve(self.handler, "127.0.0.1", 0) as server:
                self.port = server.sockets[0].getsockname()[1]
                self.ready.set()
                while not self.stop.is_set():
                    await asyncio.sleep(0.05)
                server.close(close_connections=False)  # stop listening at once
                await asyncio.sleep(0.2)

        asyncio.run(main())


@pytest.fixture
def replay() -> Iterator[Replay]:
    r = Replay()
    t = threading.Thread(target=r.run, daemon=True)
    t.start()
    assert r.ready.wait(10)
    yield r
    r.stop.set()
    t.join(5)


def _wait(cond, timeout: float = 40.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the recorder")
        time.sleep(0.05)


def test_recorder_survives_disconnect_and_loses_nothing_on_sigterm(replay: Replay, tmp_path: Path) -> None:
    db_path = tmp_path / "rec.duckdb"
    Database(db_path, wait_s=5, snapshot=False)._ensure_schema()  # schema before the race starts
    cmd = [
        sys.executable,
        "-m",
        "flushwatch",
        "-v",
        "liquidations",
        "record",
        "--db",
        str(db_path),
        "--binance-url",
        f"ws://127.0.0.1:{replay.port}/ws/!forceOrder@arr",
        "--bybit-url",
        f"ws://127.0.0.1:{replay.port}/v5/public/linear",
        "--bybit-symbols",
        "ETHUSDT,BTCUSDT",
        "--flush-every",
        "1.5",
        "--format",
        "json",
        "--for",
        "120s",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait(
            lambda: replay.binance_connections >= 2 and replay.binance_sent > 300 and replay.bybit_sent > 300
        )
        proc.send_signal(signal.SIGTERM)  # the stream is still flowing: a batch is mid-buffer
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    # the service's normal stop: the buffer is written, the run ends ok and names the signal
    assert proc.returncode == 0, err
    received = {row["venue"]: row["received"] for row in json.loads(out)}
    db = Database(db_path, wait_s=5, snapshot=False)
    with db.read() as con:
        status, message = con.execute("SELECT status, message FROM runs").fetchone() or ("", "")
    assert status == "ok" and "stopped by SIGTERM after writing its buffer" in message, message
    with db.read() as con:
        stored = dict(con.execute("SELECT venue, count(*) FROM liquidations GROUP BY venue").fetchall())
        distinct = con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT venue, symbol, event_time, side, price, "
            "quantity FROM liquidations)"
        ).fetchone()
        first_conn = con.execute(
            "SELECT count(*) FROM liquidations WHERE venue = 'binance' "
            "AND event_time < make_timestamptz(?::BIGINT * 1000)",
            [BASE_MS + Replay.FIRST],
        ).fetchone()
        gaps = con.execute("SELECT venue, stream, gap_start < gap_end, reason FROM coverage_gaps").fetchall()
        lag = con.execute("SELECT count(*) FROM liquidations WHERE receive_time IS NULL").fetchone()
    # nothing received lost, nothing stored twice
    assert stored == received, (stored, received, err[-2000:])
    assert distinct == (sum(stored.values()),)
    assert first_conn == (Replay.FIRST,)
    assert received["binance"] <= replay.binance_sent and received["bybit"] <= replay.bybit_sent
    assert lag == (0,)
    # the disconnect is a recorded coverage gap; the malformed message was skipped and said so
    assert any(g[0] == "binance" and g[1] == "forceOrder" and g[2] and "1001" in g[3] for g in gaps), gaps
    assert "malformed" in err and "1 malformed skipped" in err
    assert replay.bybit_subscribed == ["allLiquidation.ETHUSDT", "allLiquidation.BTCUSDT"]


def test_busy_database_keeps_the_batch_until_it_can_write(replay: Replay, tmp_path: Path) -> None:
    """Another process holds the file for a while: batches wait in memory, then all land once."""
    from flushwatch.ingest.market.recorder import Recorder, RecorderOptions

    db_path = tmp_path / "busy.duckdb"
    db = Database(db_path, wait_s=0.2, snapshot=False)
    db._ensure_schema()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "time.sleep(2.5)",
            str(db_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    opts = RecorderOptions(
        venues=("binance",),
        binance_url=f"ws://127.0.0.1:{replay.port}/ws/!forceOrder@arr",
        flush_every_s=0.2,
        duration_s=4.0,
    )
    stats = asyncio.run(Recorder(db, opts).run())
    holder.wait(10)
    with db.read() as con:
        n = con.execute("SELECT count(*), count(DISTINCT event_time) FROM liquidations").fetchone()
    assert stats.received["binance"] > Replay.FIRST
    assert n == (stats.received["binance"], stats.received["binance"]) and stats.stored == n[0]


def test_bounded_run_with_for(replay: Replay, cli, tmp_path: Path) -> None:
    res = cli(
        "liquidations",
        "record",
        "--db",
        str(tmp_path / "b.duckdb"),
        "--venues",
        "bybit",
        "--bybit-url",
        f"ws://127.0.0.1:{replay.port}/v5/public/linear",
        "--bybit-symbols",
        "ETHUSDT",
        "--for",
        "1.5s",
        "--format",
        "csv",
    )
    assert res.code == 0, res.err
    lines = res.out.strip().splitlines()
    assert (
        lines[0] == "venue,received,coverage"
        and lines[1].startswith("bybit,")
        and lines[1].endswith("complete")
    )
    assert int(lines[1].split(",")[1]) > 0


def test_a_failed_write_of_any_kind_keeps_the_batch(tmp_path: Path) -> None:
    """A real DuckDB error inside the write (the table renamed away: a raw CatalogException,
    not one of ours) keeps every event buffered and is reported as one StorageError; once the
    table is back, the next flush stores them all, once."""
    from flushwatch.errors import StorageError
    from flushwatch.ingest.market.recorder import Recorder, RecorderOptions

    db = Database(tmp_path / "r.duckdb", snapshot=False)
    rec = Recorder(db, RecorderOptions(venues=("binance",)))
    events = [e for i in range(20) for e in parse_binance(binance_msg(i), RECV)]
    rec.state.buffer.extend(events)
    with db.write() as con:
        con.execute("ALTER TABLE liquidations RENAME TO liquidations_away")
    with pytest.raises(StorageError, match=r"liquidations.* does not exist"):
        asyncio.run(rec.flush())
    assert len(rec.state.buffer) == 20 and rec.state.stored == 0 and rec.state.write_error
    with db.write() as con:
        con.execute("ALTER TABLE liquidations_away RENAME TO liquidations")
    asyncio.run(rec.flush())
    asyncio.run(rec.flush())  # nothing left: a no-op
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM liquidations").fetchone() == (20,)
    assert rec.state.buffer == [] and rec.state.stored == 20 and rec.state.write_error is None


# -- reconnect backoff and bad URLs ------------------------------------------------------------------


class HangUp:
    """A WebSocket server on 127.0.0.1 that accepts every handshake and closes at once; it
    counts the connections, so the test sees the recorder's redial rate from the server side."""

    def __init__(self) -> None:
        self.port = 0
        self.connections = 0
        self.stop = threading.Event()
        self.ready = threading.Event()

    async def handler(self, ws) -> None:  # type: ignore[no-untyped-def]
        self.connections += 1
        await ws.close(code=1000, reason="go away")

    def run(self) -> None:
        from websockets.asyncio.server import serve

        async def main() -> None:
            async with serve(self.handler, "127.0.0.1", 0) as server:
                self.port = server.sockets[0].getsockname()[1]
                self.ready.set()
                while not self.stop.is_set():
                    await asyncio.sleep(0.05)

        asyncio.run(main())


def test_accept_then_close_server_is_redialled_on_the_backoff_schedule(cli, tmp_path: Path) -> None:
    """Each connection that delivers nothing and drops at once keeps the backoff growing
    (0.5, 1, 2, 4 s, each 75-100 % with jitter); it used to reset on every handshake and redial
    twice a second (11 reconnects and 12 coverage gaps in 6 s)."""
    from flushwatch.ingest.market.recorder import BACKOFF_JITTER, RecorderOptions

    server = HangUp()
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    assert server.ready.wait(10)
    window = 5.0
    try:
        res = cli(
            "liquidations",
            "record",
            "--db",
            str(tmp_path / "h.duckdb"),
            "--venues",
            "binance",
            "--binance-url",
            f"ws://127.0.0.1:{server.port}/ws/!forceOrder@arr",
            "--for",
            f"{window}s",
            "--format",
            "csv",
        )
    finally:
        server.stop.set()
        t.join(5)
    assert res.code == 0, res.err
    # The most connects the schedule allows in the window: waits at their shortest (jitter low).
    opts = RecorderOptions(venues=("binance",))
    most, at, backoff = 1, 0.0, opts.min_backoff_s
    while (at := at + backoff * (1 - BACKOFF_JITTER)) < window:
        most += 1
        backoff = min(backoff * 2, opts.max_backoff_s)
    assert most == 4
    assert 2 <= server.connections <= most, (server.connections, res.err[-1500:])
    with Database(tmp_path / "h.duckdb", wait_s=5, snapshot=False).read() as con:
        gaps = con.execute("SELECT count(*) FROM coverage_gaps").fetchone()
    assert gaps is not None and gaps[0] <= most


def test_backoff_resets_only_after_a_healthy_connection() -> None:
    from flushwatch.ingest.market.recorder import RecorderOptions, jittered, next_backoff

    opts = RecorderOptions(min_backoff_s=0.5, stable_after_s=30.0)
    assert next_backoff(8.0, opts, up_s=0.01, delivered=0) == 8.0  # accepted, then hung up: keep growing
    assert next_backoff(8.0, opts, up_s=None, delivered=0) == 8.0  # handshake failed
    assert next_backoff(8.0, opts, up_s=0.5, delivered=3) == 0.5  # it delivered events
    assert next_backoff(8.0, opts, up_s=45.0, delivered=0) == 0.5  # stayed up (a quiet market)
    waits = [jittered(60.0) for _ in range(200)]
    assert all(45.0 <= w <= 60.0 for w in waits) and len(set(waits)) > 1  # capped, and jittered


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ("FLUSHWATCH_BINANCE_WS_URL", "http://127.0.0.1:1/x"),
        ("FLUSHWATCH_BINANCE_WS_URL", "ws://127.0.0.1:99999/x"),
        ("FLUSHWATCH_BYBIT_WS_URL", "ws://"),
    ],
)
def test_invalid_ws_url_is_a_config_error_before_connecting(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: str, url: str
) -> None:
    monkeypatch.setenv(env, url)
    db_path = tmp_path / "u.duckdb"
    res = cli("liquidations", "record", "--db", str(db_path), "--for", "5s")
    assert res.code == 2, res.err
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and env in lines[0] and repr(url) in lines[0], lines
    assert not db_path.exists()  # refused before opening the database, let alone connecting


def test_invalid_url_of_an_unused_venue_is_ignored() -> None:
    from flushwatch.errors import ConfigError
    from flushwatch.ingest.market.recorder import RecorderOptions

    RecorderOptions(venues=("binance",), bybit_url="http://not-used")
    with pytest.raises(ConfigError, match="--bybit-url"):
        RecorderOptions(venues=("bybit",), bybit_url="http://not-used")
