"""``flushwatch liquidations record``: live liquidations from Binance and Bybit into DuckDB.

Design, for a service that runs for months beside cron jobs on the same DuckDB file:

* one asyncio task per venue holds a WebSocket, answers pings (the websockets library does for
  protocol pings; Bybit also wants ``{"op":"ping"}`` every 20 s), and reconnects with capped,
  jittered exponential backoff after the venues' daily disconnects or any error. The backoff
  starts over only after a connection proved healthy (it delivered liquidations or stayed up
  ``stable_after_s``): a server that accepts the handshake and hangs up at once must not be
  redialled twice a second (Binance bans IPs that reconnect too often);
* every received event goes into an in-memory buffer; a writer flushes it about once a second
  in ONE short transaction (open the file, insert, close), so readers and cron jobs get in
  between batches. A batch that cannot be written (database busy) stays in the buffer;
* while a venue is not connected, that stretch is written to ``coverage_gaps``;
* SIGINT/SIGTERM (and ``--for``) stop the sockets, flush the buffer and exit 0, so nothing
  received is lost; the natural-key anti-join means nothing is stored twice.

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
    ping_interval_s: float = 20.0
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
        # stays under flush_every_s + one write even when writes are slow.
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while not self.stop.is_set():
            next_tick += self.options.flush_every_s
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stop.wait(), max(0.0, next_tick - loop.time()))
            if self.stop.is_set():
                return
            next_tick = max(next_tick, loop.time() - self.options.flush_every_s)
            with contextlib.suppress(FlushwatchError, OSError):
                await self.flush()

    # -- venues --------------------------------------------------------------------------------

    def _on_message(
        self, venue: str, parse: Callable[[str | bytes, dt.datetime], list[Liquidation]], raw: str | bytes
    ) -> None:
        try:
            events = parse(raw, _now())
        except ValueError as exc:
            self.state.malformed += 1
            if self.state.malformed <= 10 or self.state.malformed % 1000 == 0:
                log.warning("%s: skipped a malformed message (%s): %.120r", venue, exc, raw)
            return
        if events:
            self.state.buffer.extend(events)
            self.state.received[venue] = self.state.received.get(venue, 0) + len(events)

    async def _venue(self, venue: str) -> None:
        import websockets

        url = self.options.binance_url if venue == "binance" else self.options.bybit_url
        parse = parse_binance if venue == "binance" else parse_bybit
        backoff = self.options.min_backoff_s
        self._down[venue] = (_now(), "not yet connected")
        while not self.stop.is_set():
            was_up = False
            reason = "connection failed"
            up_at = 0.0
            events_before = self.state.received.get(venue, 0)
            try:
                async with websockets.connect(
                    url, open_timeout=10, ping_interval=20, ping_timeout=20, close_timeout=2, max_size=2**22
                ) as ws:
                    was_up = True
                    up_at = time.monotonic()
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
                            self._on_message(venue, parse, raw)
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
            if was_up and not self.stop.is_set():
                self._down[venue] = (_now(), reason)  # the outage starts now
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
            buffered=len(st.buffer),
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


def record(db: Database, options: RecorderOptions, *, run_id: int | None = None) -> RecorderStats:
    """Blocking entry point: runs until SIGINT/SIGTERM or ``options.duration_s``."""

    async def main() -> RecorderStats:
        rec = Recorder(db, options, run_id=run_id)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, rec.stop.set)
        return await rec.run()

    return asyncio.run(main())
