"""Liquidation recorder throughput and receipt-to-commit latency against a local replay server.

Target: sustain >= 5,000 events/s with < 1 s between receipt and commit. A replay
server in a separate process streams Binance ``forceOrder`` messages (one event each, as
Binance sends them) at RATE events/s for SECONDS; the recorder runs in this process with its
default batching and writes to a fresh DuckDB file. Latency is measured per event: commit
time minus receive time, worst and mean.

Run: /tmp/venv/bin/python bench/bench_recorder.py [RATE] [SECONDS]
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

from flushwatch.ingest.market.recorder import Recorder, RecorderOptions
from flushwatch.storage.db import Database

TARGET_RATE = 5000
TARGET_LAG_S = 1.0
BASE_MS = 1_735_689_600_000


def serve(port_q: mp.Queue, rate: int, seconds: float, sent_q: mp.Queue) -> None:
    from websockets.asyncio.server import serve as ws_serve

    symbols = [f"S{i}USDT" for i in range(200)]
    msgs = [
        json.dumps(
            {
                "e": "forceOrder",
                "E": BASE_MS + i,
                "o": {
                    "s": symbols[i % 200],
                    "S": "SELL" if i % 3 else "BUY",
                    "o": "LIMIT",
                    "f": "IOC",
                    "q": "1.0",
                    "p": f"{100 + i % 50}.0",
                    "ap": f"{100 + i % 50}.5",
                    "X": "FILLED",
                    "l": "1.0",
                    "z": "1.0",
                    "T": BASE_MS + i,
                },
            }
        )
        for i in range(int(rate * seconds))
    ]

    async def handler(ws) -> None:  # type: ignore[no-untyped-def]
        tick = 0.01
        per_tick = max(1, int(rate * tick))
        start = time.monotonic()
        sent = 0
        while sent < len(msgs):
            for m in msgs[sent : sent + per_tick]:
                await ws.send(m)
            sent = min(sent + per_tick, len(msgs))
            delay = start + (sent / rate) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        sent_q.put((sent, time.monotonic() - start, time.time()))
        await asyncio.sleep(3600)

    async def main() -> None:
        async with ws_serve(handler, "127.0.0.1", 0, max_queue=None) as server:
            port_q.put(server.sockets[0].getsockname()[1])
            await asyncio.sleep(3600)

    asyncio.run(main())


def main() -> None:
    rate = int(sys.argv[1]) if len(sys.argv) > 1 else 6000
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    port_q: mp.Queue = mp.Queue()
    sent_q: mp.Queue = mp.Queue()
    proc = mp.Process(target=serve, args=(port_q, rate, seconds, sent_q), daemon=True)
    proc.start()
    port = port_q.get(timeout=60)
    with tempfile.TemporaryDirectory(prefix="fw-rec-", dir="/tmp") as tmp:
        db = Database(Path(tmp) / "rec.duckdb", wait_s=10, snapshot=False)
        db._ensure_schema()
        opts = RecorderOptions(
            venues=("binance",),
            binance_url=f"ws://127.0.0.1:{port}/ws/!forceOrder@arr",
            duration_s=seconds + 3,
        )
        rec = Recorder(db, opts)
        t0 = time.monotonic()
        stats = asyncio.run(rec.run())
        wall = time.monotonic() - t0
        sent, send_s, send_end = sent_q.get(timeout=10)
        with db.read() as con:
            row = con.execute("SELECT count(*), epoch(max(receive_time)) FROM liquidations").fetchone()
        stored, last_receipt = (row[0], row[1]) if row else (0, None)
    proc.terminate()
    received = stats.received.get("binance", 0)
    achieved = received / send_s
    print(
        f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; flush every {opts.flush_every_s} s"
    )
    print(
        f"replay: {sent:,} events sent in {send_s:.2f} s = {sent / send_s:,.0f} events/s (asked {rate:,}/s)"
    )
    print(f"recorder: received {received:,}, stored {stored:,}, {stats.batches} batches, run {wall:.1f} s")
    print(f"{'metric':<28}{'measured':>12}{'target':>10}{'ratio':>8}")
    print(f"{'events/s sustained':<28}{achieved:>12,.0f}{TARGET_RATE:>10,}{achieved / TARGET_RATE:>7.2f}x")
    print(
        f"{'max receipt->commit s':<28}{stats.max_commit_lag_s:>12.3f}{TARGET_LAG_S:>10.1f}"
        f"{TARGET_LAG_S / max(stats.max_commit_lag_s, 1e-9):>7.2f}x"
    )
    print(f"{'mean receipt->commit s':<28}{stats.mean_commit_lag_s:>12.3f}")
    if last_receipt is not None:
        # > 0 would mean the recorder fell behind the sender (events queued in the socket)
        print(f"{'last receipt - last send s':<28}{last_receipt - send_end:>12.3f}")
    if stored != received or received != sent:
        print(f"WARNING: sent {sent}, received {received}, stored {stored}")


if __name__ == "__main__":
    main()
