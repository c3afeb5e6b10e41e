"""``flushwatch liquidations record``: live liquidations from Binance and Bybit into DuckDB.

Design, for a service that runs for months beside cron jobs on the same DuckDB file:

* one asyncio task per venue holds a WebSocket, answers pings (the websockets library does for
  protocol pings; Bybit also wants ``{"op":"ping"}`` every 20 s), and reconnects with capped,
  jittered exponential backoff after the venues' daily disconnects or any error. The backoff
  starts over only after a connection proved healthy (it delivered liquidations or stayed up
  ``stable_after_s``): a server that accepts the handshake and hangs up at once must not be
  redialled twice a second (Binance bans IPs that reconnect too often);
* the recorder pings too, every ``ping_interval_s``: a socket whose peer went silent without
  closing (no pong within ``ping_timeout_s``) is a dead connection, not a quiet market, and is
  redialled. A frame over ``MAX_MESSAGE_BYTES`` is refused by the library before it is read
  into memory; it costs the connection (close code 1009) and counts as malformed;
* every received event goes into an in-memory buffer; a writer flushes it about once a second
  in ONE short transaction (open the file, insert, close), so readers and cron jobs get in
  between batches. A batch that cannot be written (database busy) stays in the buffer. The
  buffer is bounded: at ``max_buffered`` events (written or being written) a venue stops
  reading its socket until the writer has caught up, so a flood or a long-held database slows
  the stream down (TCP back-pressure) instead of growing memory. Held back long enough, the
  venue or the keepalive drops the connection, and that becomes a coverage gap from then on;
* while a venue is not connected, that stretch is written to ``coverage_gaps``;
* a message the parsers refuse (anything but ValueError would be a parser bug, and is counted
  the same way) is counted, logged and skipped; the connection stays up;
* SIGINT/SIGTERM stop the sockets and flush the buffer, then :func:`record` raises
  :class:`RecorderInterrupted` carrying the stats; ``liquidations record`` treats that as the
  service's normal stop (exit 0, the signal named in the run's message), ``--for`` stops it the
  same way. Nothing received is lost; the natural-key anti-join means nothing is stored twice.

Binance publishes at most one liquidation per symbol per second: its totals are a floor
(``LIQUIDATION_COMPLETENESS``); Bybit publishes all of them.

:class:`RecorderThread` runs the same recorder on a background thread for the life of a
foreground command (``flushwatch watch --record``), and reports its state as plain lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flushwatch.errors import ConfigError, FlushwatchError, StorageError
from flushwatch.ingest.market.stream_parse import parse_binance, parse_bybit
from flushwatch.records.market import Liquidation, RecorderStats
from flushwatch.storage import market as store
from flushwatch.storage.db import Database

log = logging.getLogger(__name__)

BINANCE_WS_URL = "wss://fstream.binance.com/ws/!forceOrder@arr"
BYBIT_WS_URL = "wss://stream.bybit.com/v5/public/linear"
BYBIT_DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "BNBUSDT", "DOGEUSDT")
STREAM_NAME = {"binance": "forceOrder", "bybit": "allLiquidation"}
BYBIT_ARGS_PER_SUBSCRIBE = 10
URL_SETTING = {
    "binance": "--binance-url / FLUSHWATCH_BINANCE_WS_URL",
    "bybit": "--bybit-url / FLUSHWATCH_BYBIT_WS_URL",
}
BACKOFF_JITTER = 0.25  # each wait is 75-100 % of the current backoff, so clients do not redial in step
# A liquidation message is under 1 KB (a Bybit one with many events a few KB); a bigger frame is
# refused by the library from its header, before its payload is read into memory.
MAX_MESSAGE_BYTES = 2**20


def binance_ws_url(option: str | None = None) -> str:
    return option or os.environ.get("FLUSHWATCH_BINANCE_WS_URL") or BINANCE_WS_URL


def bybit_ws_url(option: str | None = None) -> str:
    return option or os.environ.get("FLUSHWATCH_BYBIT_WS_URL") or BYBIT_WS_URL


@dataclass(frozen=True)
class RecorderOptions:
    venues: tuple[str, ...] = ("binance", "bybit")
    binance_url: str = BINANCE_WS_URL
    bybit_url: str = BYBIT_WS_URL
    bybit_symbols: tuple[str, ...] = BYBIT_DEFAULT_SYMBOLS
    flush_every_s: float = 0.5
    duration_s: float | None = None
    ping_interval_s: float = 20.0  # protocol pings, and Bybit's {"op":"ping"}
    ping_timeout_s: float = 20.0  # no pong this long after a ping: the connection is dead
    max_buffered: int = 50_000  # events not yet written; at this many, sockets stop being read
    min_backoff_s: float = 0.5
    max_backoff_s: float = 60.0
    stable_after_s: float = 30.0  # a connection up this long (or delivering events) resets the backoff

    def __post_init__(self) -> None:
        for venue in self.venues:
            if venue in URL_SETTING:
                check_ws_url(self.binance_url if venue == "binance" else self.bybit_url, URL_SETTING[venue])


def check_ws_url(url: str, setting: str) -> None:
    """Refuse a URL the WebSocket client can never connect to, before connecting.

    Why here and not in the reconnect loop: a wrong scheme or an unparsable URL is a setting
    to fix. Retried, it logged the same InvalidURI forever and the command still exited 0.
    """
    from websockets.exceptions import InvalidURI
    from websockets.uri import parse_uri

    try:
        parse_uri(url)
    except (InvalidURI, ValueError) as exc:
        why = _one_line(str(exc).removeprefix(f"{url} isn't a valid URI: "))
        raise ConfigError(
            f"{setting} {url!r}: not a WebSocket URL ({why})",
            hint="expected ws://HOST[:PORT]/PATH or wss://...",
        ) from exc


def next_backoff(backoff: float, options: RecorderOptions, *, up_s: float | None, delivered: int) -> float:
    """The backoff before the next connect: back to the minimum only after a healthy connection
    (one that delivered events or stayed up ``stable_after_s``); otherwise the current one, which
    doubles after each wait. ``up_s`` is None when the handshake itself failed."""
    if up_s is not None and (delivered > 0 or up_s >= options.stable_after_s):
        return options.min_backoff_s
    return backoff


def jittered(backoff: float) -> float:
    """A wait of 75-100 % of ``backoff``: never above the cap, never in lockstep."""
    return backoff * (1.0 - BACKOFF_JITTER * random.random())


@dataclass
class _Gap:
    venue: str
    start: dt.datetime
    end: dt.datetime | None
    reason: str


@dataclass
class _State:
    buffer: list[Liquidation] = field(default_factory=list)
    gaps: list[_Gap] = field(default_factory=list)
    received: dict[str, int] = field(default_factory=dict)
    stored: int = 0
    malformed: int = 0
    batches: int = 0
    reconnects: int = 0
    gaps_recorded: int = 0
    max_lag: float = 0.0
    lag_sum: float = 0.0
    lag_n: int = 0
    write_error: str | None = None  # why the last batch could not be written; None once one was
    last_commit: dt.datetime | None = None
    read_pauses: int = 0  # times a venue stopped reading because the buffer was full


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Recorder:
    """Run with :meth:`run` (asyncio) or :func:`record` (blocking, handles signals)."""

    def __init__(self, db: Database, options: RecorderOptions, *, run_id: int | None = None) -> None:
        self.db = db
        self.options = options
        self.run_id = run_id
        self.state = _State()
        self.stop = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._down: dict[str, tuple[dt.datetime, str]] = {}  # venue -> (outage start, why)
        self._in_flight = 0  # events taken from the buffer by a write that has not finished
        self._written = asyncio.Event()  # set after every write attempt: paused venues look again
        self._wake = asyncio.Event()  # wakes the writer before its tick (a full buffer, or the stop)
        self._pause_warned = 0.0  # monotonic time of the last "reading paused" warning

    def buffered(self) -> int:
        """Events received and not yet written: in the buffer or in a write under way."""
        return len(self.state.buffer) + self._in_flight

    # -- writing -------------------------------------------------------------------------------

    def _write(self, batch: list[Liquidation], gaps: list[_Gap]) -> int:
        """One short transaction: the batch and any finished gaps."""
        import pyarrow as pa

        table = pa.table(
            {
                "venue": pa.array([e.venue for e in batch], pa.string()),
                "symbol": pa.array([e.symbol for e in batch], pa.string()),
                "side": pa.array([e.side for e in batch], pa.string()),
                "price": pa.array([e.price for e in batch], pa.float64()),
                "quantity": pa.array([e.quantity for e in batch], pa.float64()),
                "notional_usd": pa.array([e.notional_usd for e in batch], pa.float64()),
                "event_time": pa.array([e.event_time for e in batch], pa.timestamp("us", tz="UTC")),
                "receive_time": pa.array([e.receive_time for e in batch], pa.timestamp("us", tz="UTC")),
                "source": pa.array(["stream"] * len(batch), pa.string()),
            }
        )
        with self.db.write() as con:
            n = store.insert_liquidations_arrow(con, table, self.run_id) if batch else 0
            for g in gaps:
                store.record_gap(
                    con,
                    venue=g.venue,
                    stream=STREAM_NAME[g.venue],
                    start=g.start,
                    end=g.end,
                    reason=g.reason,
                    run_id=self.run_id,
                )
        return n

    async def flush(self) -> None:
        """Write what is buffered; on any failure put it back for the next try.

        Every failure, of whatever type, keeps the batch: a database error that escaped as a
        raw driver exception once dropped a second of events from the buffer (and stopped the
        writer task) under load. It is re-raised as a StorageError. A write whose commit landed
        before the error (the connection's close can fail after COMMIT) is simply written again
        later: the natural-key anti-join adds nothing twice.
        """
        async with self._write_lock:
            st = self.state
            if not st.buffer and not st.gaps:
                return
            batch, st.buffer = st.buffer, []
            gaps, st.gaps = st.gaps, []
            self._in_flight = len(batch)
            try:
                n = await asyncio.to_thread(self._write, batch, gaps)
            except Exception as exc:
                st.buffer[:0] = batch
                st.gaps[:0] = gaps
                err = (
                    exc
                    if isinstance(exc, FlushwatchError)
                    else StorageError(f"cannot write liquidations: {exc}".splitlines()[0], path=self.db.path)
                )
                st.write_error = err.one_line()
                log.warning(
                    "could not write %d liquidations (%s); keeping them for the next try",
                    len(batch),
                    st.write_error,
                )
                if err is exc:
                    raise
                raise err from exc
            finally:
                self._in_flight = 0
                self._written.set()
            committed = _now()
            st.write_error = None
            st.last_commit = committed
            # Every row of the batch is in the table now: new ones were added (n), the others
            # were there already (a replayed event, or a retry of a write that had committed).
            st.stored += len(batch)
            st.batches += 1
            st.gaps_recorded += len(gaps)
            for e in batch:
                if e.receive_time is not None:
                    lag = (committed - e.receive_time).total_seconds()
                    st.lag_sum += lag
                    st.lag_n += 1
                    st.max_lag = max(st.max_lag, lag)
            if batch:
                log.debug("stored %d liquidations, %d of them new", len(batch), n)

    async def _flusher(self) -> None:
        # Fixed-rate ticks (not "interval after the last write ended"), so receipt-to-commit
        # stays under flush_every_s + one write even when writes are slow. A venue whose buffer
        # is full wakes it early (``_wake``): waiting for the tick would cap the rate at
        # max_buffered events per flush_every_s. run() sets ``_wake`` too when it stops.
        loop = asyncio.get_running_loop()
        every = self.options.flush_every_s
        next_tick = loop.time() + every
        while not self.stop.is_set():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, next_tick - loop.time()))
            self._wake.clear()
            if self.stop.is_set():
                return
            if loop.time() >= next_tick:  # a tick, not an early wake-up
                next_tick = max(next_tick + every, loop.time())
            with contextlib.suppress(FlushwatchError, OSError):
                await self.flush()

    # -- venues --------------------------------------------------------------------------------

    def _on_message(
        self, venue: str, parse: Callable[[str | bytes, dt.datetime], list[Liquidation]], raw: str | bytes
    ) -> None:
        try:
            events = parse(raw, _now())
        except ValueError as exc:
            self._malformed(venue, str(exc), raw)
            return
        except Exception as exc:  # a parser bug: the message is lost, the socket must not be
            self._malformed(venue, f"{type(exc).__name__}: {exc}", raw)
            return
        if events:
            self.state.buffer.extend(events)
            self.state.received[venue] = self.state.received.get(venue, 0) + len(events)

    def _malformed(self, venue: str, why: str, raw: str | bytes | None) -> None:
        self.state.malformed += 1
        if self.state.malformed <= 10 or self.state.malformed % 1000 == 0:
            shown = f": {raw!r:.120}" if raw is not None else ""
            log.warning("%s: skipped a malformed message (%s)%s", venue, _one_line(why), shown)

    async def _wait_for_room(self, venue: str) -> None:
        """Back-pressure: stop reading this socket until the writer has made room.

        Why not buffer on: when the database is held for minutes, or the stream outruns the
        writer, an unbounded buffer grows until the process is killed for memory, losing all of
        it. While this waits, the library takes in what has already arrived (at most what the
        kernel's socket buffers held, a few MB) and then stops reading the socket, so TCP slows
        the sender down; nothing already received is dropped.
        """
        st = self.state
        st.read_pauses += 1
        now = time.monotonic()
        level = logging.WARNING if now - self._pause_warned >= 60 else logging.DEBUG
        if level == logging.WARNING:
            self._pause_warned = now
        log.log(
            level,
            "%s: %d liquidations not yet written (%s); reading paused until the writer catches up",
            venue,
            self.buffered(),
            st.write_error or "writer behind",
        )
        while self.buffered() >= self.options.max_buffered and not self.stop.is_set():
            if st.write_error is None:  # while writes fail, the writer retries on its ticks
                self._wake.set()
            self._written.clear()
            await self._written.wait()

    async def _venue(self, venue: str) -> None:
        import websockets

        url = self.options.binance_url if venue == "binance" else self.options.bybit_url
        parse = parse_binance if venue == "binance" else parse_bybit
        backoff = self.options.min_backoff_s
        self._down[venue] = (_now(), "not yet connected")
        while not self.stop.is_set():
            was_up = False
            reason = "connection failed"
            up_at = heard_at = 0.0  # monotonic: connected; last message
            lost_at: dt.datetime | None = None  # when the outage began, if before it was noticed
            events_before = self.state.received.get(venue, 0)
            try:
                async with websockets.connect(
                    url,
                    open_timeout=10,
                    ping_interval=self.options.ping_interval_s,
                    ping_timeout=self.options.ping_timeout_s,
                    close_timeout=2,
                    max_size=MAX_MESSAGE_BYTES,
                ) as ws:
                    was_up = True
                    up_at = heard_at = time.monotonic()
                    since, why = self._down.pop(venue)
                    up = _now()
                    if why != "not yet connected":
                        self.state.reconnects += 1
                    if why != "not yet connected" or (up - since).total_seconds() > 2:
                        self.state.gaps.append(_Gap(venue, since, up, why))
                    log.info("%s: connected to %s", venue, url)
                    pinger = None
                    if venue == "bybit":
                        await self._bybit_subscribe(ws)
                        pinger = asyncio.create_task(self._bybit_ping(ws))
                    try:
                        async for raw in ws:
                            heard_at = time.monotonic()
                            self._on_message(venue, parse, raw)
                            if self.buffered() >= self.options.max_buffered:
                                await self._wait_for_room(venue)
                    finally:
                        if pinger is not None:
                            pinger.cancel()
                    reason = f"server closed the connection (code {ws.close_code})"
            except asyncio.CancelledError:
                if was_up and venue not in self._down and not self.stop.is_set():
                    self._down[venue] = (_now(), "cancelled")
                raise
            except Exception as exc:  # network errors of every kind: reconnect
                reason = f"{type(exc).__name__}: {exc}"[:200]
                if _too_big(exc):
                    reason = f"a message over {MAX_MESSAGE_BYTES:,} bytes (close code 1009)"
                    self._malformed(venue, reason, None)
                elif _ping_timeout(exc):
                    reason = (
                        f"no answer to pings for {self.options.ping_timeout_s:g} s (keepalive ping timeout)"
                    )
                    lost_at = self._last_alive(heard_at)
            if was_up and not self.stop.is_set():
                self._down[venue] = (lost_at or _now(), reason)  # the outage starts now
            if self.stop.is_set():
                return
            backoff = next_backoff(
                backoff,
                self.options,
                up_s=time.monotonic() - up_at if was_up else None,
                delivered=self.state.received.get(venue, 0) - events_before,
            )
            wait = jittered(backoff)
            log.warning("%s: disconnected (%s); reconnecting in %.1f s", venue, reason, wait)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stop.wait(), wait)
            backoff = min(backoff * 2, self.options.max_backoff_s)

    def _last_alive(self, heard_at: float) -> dt.datetime:
        """When a connection that stopped answering pings was last known to be alive.

        Why not the moment the keepalive gave up: the peer fell silent up to one ping interval
        plus the ping timeout before that (40 s by default), and those seconds are not coverage.
        The last message heard, if later, proves the connection was alive until then.
        """
        now = time.monotonic()
        alive = max(heard_at, now - self.options.ping_interval_s - self.options.ping_timeout_s)
        return _now() - dt.timedelta(seconds=max(0.0, now - alive))

    async def _bybit_subscribe(self, ws: object) -> None:
        args = [f"allLiquidation.{s}" for s in self.options.bybit_symbols]
        for i in range(0, len(args), BYBIT_ARGS_PER_SUBSCRIBE):
            await ws.send(json.dumps({"op": "subscribe", "args": args[i : i + BYBIT_ARGS_PER_SUBSCRIBE]}))  # type: ignore[attr-defined]

    async def _bybit_ping(self, ws: object) -> None:
        while True:
            await asyncio.sleep(self.options.ping_interval_s)
            await ws.send(json.dumps({"op": "ping"}))  # type: ignore[attr-defined]

    # -- status --------------------------------------------------------------------------------

    def status(self) -> RecorderStatus:
        """A snapshot of the live state; safe to call from another thread (copies only)."""
        down = dict(self._down)
        st = self.state
        venues = tuple(
            VenueStatus(
                venue=v,
                connected=v not in down,
                received=st.received.get(v, 0),
                down_since=down[v][0] if v in down else None,
                reason=down[v][1] if v in down else None,
            )
            for v in self.options.venues
        )
        return RecorderStatus(
            venues=venues,
            stored=st.stored,
            buffered=self.buffered(),
            malformed=st.malformed,
            reconnects=st.reconnects,
            write_error=st.write_error,
            last_commit=st.last_commit,
        )

    # -- run -----------------------------------------------------------------------------------

    async def run(self) -> RecorderStats:
        started = time.monotonic()
        import pyarrow  # noqa: F401  -- imported now, not inside the first timed batch

        venues = [asyncio.create_task(self._venue(v), name=v) for v in self.options.venues]
        flusher = asyncio.create_task(self._flusher())
        try:
            if self.options.duration_s is not None:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), self.options.duration_s)
            else:
                await self.stop.wait()
        finally:
            self.stop.set()
            self._wake.set()
            for t in venues:
                t.cancel()
            await asyncio.gather(*venues, flusher, return_exceptions=True)
            end = _now()
            for venue, (since, why) in self._down.items():  # still down at shutdown
                if why != "not yet connected" or (end - since).total_seconds() > 2:
                    self.state.gaps.append(_Gap(venue, since, end, f"{why}; until shutdown"))
            await self._final_flush()
        st = self.state
        return RecorderStats(
            received=dict(st.received),
            stored=st.stored,
            malformed=st.malformed,
            batches=st.batches,
            reconnects=st.reconnects,
            gaps=st.gaps_recorded,
            max_commit_lag_s=round(st.max_lag, 3),
            mean_commit_lag_s=round(st.lag_sum / st.lag_n, 3) if st.lag_n else 0.0,
            seconds=round(time.monotonic() - started, 1),
        )

    async def _final_flush(self) -> None:
        """Keep trying (within the database wait) so a shutdown loses nothing received."""
        deadline = time.monotonic() + max(self.db.wait_s, 1.0)
        while True:
            try:
                await self.flush()
                return
            except (FlushwatchError, OSError):
                if time.monotonic() > deadline:
                    raise StorageError(
                        f"{len(self.state.buffer)} received liquidations could not be written at shutdown",
                        path=self.db.path,
                        hint="the database stayed busy; raise --wait",
                    ) from None
                await asyncio.sleep(0.5)


@dataclass(frozen=True)
class VenueStatus:
    venue: str
    connected: bool
    received: int
    down_since: dt.datetime | None  # when the current outage began (or the first try started)
    reason: str | None  # why it is down: "not yet connected", "ConnectionRefusedError: ...", ...


@dataclass(frozen=True)
class RecorderStatus:
    """What the recorder is doing right now, for a live view. ``failed`` is set when the
    recorder thread itself ended with an error (one line, never a traceback)."""

    venues: tuple[VenueStatus, ...]
    stored: int
    buffered: int
    malformed: int
    reconnects: int
    write_error: str | None
    last_commit: dt.datetime | None
    running: bool = True
    failed: str | None = None

    def lines(self, now: dt.datetime | None = None) -> list[tuple[str, bool]]:
        """One line per venue and one for the writer, each with ``ok`` (False: show it as a problem)."""
        now = now or _now()
        out: list[tuple[str, bool]] = []
        if self.failed:
            out.append((f"recorder stopped: {self.failed}", False))
        elif not self.running:
            out.append(("recorder stopped", False))
        for v in self.venues:
            if v.connected:
                out.append((f"{v.venue}: connected, {v.received:,} liquidations received", True))
            else:
                since = f" for {int((now - v.down_since).total_seconds())} s" if v.down_since else ""
                out.append((f"{v.venue}: not connected{since} ({_one_line(v.reason)}); retrying", False))
        writer = f"stored {self.stored:,}, {self.buffered:,} buffered"
        if self.malformed:
            writer += f", {self.malformed:,} malformed skipped"
        if self.reconnects:
            writer += f", {self.reconnects} reconnects"
        if self.write_error:
            out.append((f"writer: {writer}; last write failed: {_one_line(self.write_error)}", False))
        else:
            out.append((f"writer: {writer}", True))
        return out


def _too_big(exc: Exception) -> bool:
    """The library refused a frame over ``max_size`` (it closes with 1009 before reading it)."""
    from websockets.exceptions import ConnectionClosed
    from websockets.frames import CloseCode

    return (
        isinstance(exc, ConnectionClosed)
        and exc.sent is not None
        and exc.sent.code == CloseCode.MESSAGE_TOO_BIG
    )


def _ping_timeout(exc: Exception) -> bool:
    """The library's keepalive closed the connection: the peer answered no ping in time."""
    from websockets.exceptions import ConnectionClosed
    from websockets.frames import CloseCode

    return (
        isinstance(exc, ConnectionClosed)
        and exc.sent is not None
        and exc.sent.code == CloseCode.INTERNAL_ERROR
        and "keepalive" in exc.sent.reason
    )


def _one_line(text: str | None, limit: int = 120) -> str:
    """A reason fit for one terminal line: first line only, cut to ``limit`` characters."""
    first = (text or "unknown").strip().splitlines()[0] if (text or "").strip() else "unknown"
    return first if len(first) <= limit else first[: limit - 1] + "…"


class RecorderThread:
    """The recorder on a background thread, for the life of a foreground command.

    Why a thread with its own event loop: ``watch`` draws frames in the main thread with
    blocking reads and sleeps, and the recorder must keep its sockets answered (pings) and its
    buffer written about once a second meanwhile. The recorder itself is unchanged: every batch
    is still one short write transaction, so the frame reads and other processes get in between.

    :meth:`stop` asks the loop to stop, waits for the final flush (nothing received is lost),
    and returns the stats; the run is recorded in ``runs`` as ``liquidations record``. Any
    error ends the thread with a one-line :attr:`RecorderStatus.failed`, never a traceback.
    """

    def __init__(self, db: Database, options: RecorderOptions, *, args: str | None = None) -> None:
        self.db = db
        self.options = options
        self.args = args
        self.stats: RecorderStats | None = None
        self.failed: str | None = None
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._recorder: Recorder | None = None
        self._stop_requested = False
        self._thread = threading.Thread(target=self._main, name="liquidation-recorder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _main(self) -> None:
        try:
            with self.db.run("liquidations record", self.args) as run:
                self.stats = asyncio.run(self._amain(run.run_id))
                run.add("received", sum(self.stats.received.values()))
                run.add("stored", self.stats.stored)
                run.add("malformed", self.stats.malformed)
                run.add("gaps", self.stats.gaps)
        except FlushwatchError as exc:
            self.failed = exc.one_line()
        except Exception as exc:  # a thread must not die with a traceback on the user's screen
            log.debug("recorder thread failed", exc_info=True)
            self.failed = _one_line(f"{type(exc).__name__}: {exc}")

    async def _amain(self, run_id: int) -> RecorderStats:
        rec = Recorder(self.db, self.options, run_id=run_id)
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._recorder = rec
            if self._stop_requested:
                rec.stop.set()
        return await rec.run()

    def status(self) -> RecorderStatus:
        with self._lock:
            rec = self._recorder
        if rec is None:
            now = _now()
            venues = tuple(VenueStatus(v, False, 0, now, "starting") for v in self.options.venues)
            status = RecorderStatus(venues, 0, 0, 0, 0, None, None)
        else:
            status = rec.status()
        if self.running:
            return status
        return dataclasses.replace(status, running=False, failed=self.failed)

    def stop(self, timeout: float | None = None) -> RecorderStats | None:
        """Stop the sockets, write what is buffered, join the thread; the final stats (None
        when the recorder failed or did not finish within ``timeout``)."""
        with self._lock:
            self._stop_requested = True
            if self._loop is not None and self._recorder is not None:
                with contextlib.suppress(RuntimeError):  # the loop already closed
                    self._loop.call_soon_threadsafe(self._recorder.stop.set)
        if self._thread.is_alive():
            self._thread.join(timeout if timeout is not None else self.db.wait_s + 15)
        return self.stats


class RecorderInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped :func:`record`, after everything received was written.

    A KeyboardInterrupt, so a caller that does not expect it ends as every interrupted command
    does (exit 130). Its message says what the run stored; ``stats`` has the figures for a
    caller that shows them (``liquidations record`` does, and exits 0).
    """

    def __init__(self, signal_name: str, stats: RecorderStats) -> None:
        per_venue = ", ".join(f"{v} {n}" for v, n in stats.received.items()) or "nothing"
        super().__init__(
            f"stopped by {signal_name} after writing its buffer: stored {stats.stored} of "
            f"{sum(stats.received.values())} received liquidations (received: {per_venue}), "
            f"{stats.malformed} malformed skipped, {stats.reconnects} reconnects, "
            f"{stats.gaps} coverage gaps"
        )
        self.signal_name = signal_name
        self.stats = stats


def record(db: Database, options: RecorderOptions, *, run_id: int | None = None) -> RecorderStats:
    """Blocking entry point: runs until SIGINT/SIGTERM or ``options.duration_s``.

    ``--for`` returns the stats. A signal stops the sockets and writes the buffer as ``--for``
    does, then raises :class:`RecorderInterrupted`. The signal handlers that were in place
    before are put back, so a second SIGTERM while the caller records the run still ends it as
    an interrupt rather than killing it outright.
    """
    stopped_by: list[str] = []

    async def main() -> RecorderStats:
        rec = Recorder(db, options, run_id=run_id)
        loop = asyncio.get_running_loop()

        def on_signal(sig: signal.Signals) -> None:
            stopped_by.append(sig.name)
            rec.stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, on_signal, sig)
        return await rec.run()

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stats = asyncio.run(main())
    finally:
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):  # not the main thread; a C-level handler
                signal.signal(sig, handler)
    if stopped_by:
        interrupted = RecorderInterrupted(stopped_by[0], stats)
        log.warning("%s", interrupted)
        raise interrupted
    return stats
