"""Candle import throughput from a Binance archive CSV, de-duplication included.

Target: >= 500,000 rows/s. Generates N 1m klines in Binance's archive format in /tmp
(written by DuckDB, so generation is not timed), then times three imports into one DuckDB file:

1. fresh: every row new (the anti-join probes an empty series);
2. repeat: the same file again, every row a duplicate (nothing added);
3. overlap: a second file half-overlapping the first (half new, half duplicates).

Run: /tmp/venv/bin/python bench/bench_market_import.py [ROWS]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from flushwatch.ingest.market.importer import import_files
from flushwatch.storage.db import Database

TARGET = 500_000


def make_csv(path: Path, rows: int, start_ms: int) -> None:
    duckdb.sql(f"""
        COPY (
          SELECT {start_ms} + i * 60000 AS open_time,
                 round(60000 + 500 * sin(i / 300.0), 2) AS open,
                 round(60000 + 500 * sin(i / 300.0) + 25, 2) AS high,
                 round(60000 + 500 * sin(i / 300.0) - 25, 2) AS low,
                 round(60000 + 500 * sin((i + 1) / 300.0), 2) AS close,
                 round(10 + (i % 97) / 7.0, 3) AS volume,
                 {start_ms} + i * 60000 + 59999 AS close_time,
                 round((10 + (i % 97) / 7.0) * 60000, 5) AS quote_volume,
                 1000 + i % 500 AS count,
                 round((10 + (i % 97) / 7.0) / 2, 3) AS taker_buy_volume,
                 round((10 + (i % 97) / 7.0) * 30000, 5) AS taker_buy_quote_volume,
                 0 AS ignore
            FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')
    """)


def timed(db: Database, path: Path) -> tuple[float, float, int, int]:
    t0, c0 = time.perf_counter(), time.process_time()
    s = import_files(db, "candles", [path])
    return time.perf_counter() - t0, time.process_time() - c0, s.rows_read, s.rows_new


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000
    with tempfile.TemporaryDirectory(prefix="fw-bench-", dir="/tmp") as tmp:
        d = Path(tmp)
        a = d / "BTCUSDT-1m-2020-01.csv"  # name gives symbol + interval; 2-decimal prices = perp
        b = d / "BTCUSDT-1m-2021-01.csv"
        start = 1_577_836_800_000  # 2020-01-01
        make_csv(a, rows, start)
        make_csv(b, rows, start + (rows // 2) * 60000)
        size_mb = a.stat().st_size / 1e6
        db = Database(d / "bench.duckdb", wait_s=5, snapshot=False)
        db._ensure_schema()
        print(f"file: {rows:,} rows, {size_mb:.0f} MB Binance archive CSV (with header), perp 1m")
        print(
            f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs "
            "(others' work slows this)"
        )
        print(
            f"{'import':<10}{'rows read':>12}{'rows new':>12}{'wall s':>9}{'cpu s':>8}{'rows/s':>12}"
            f"{'vs target':>11}"
        )
        for label, path in (("fresh", a), ("repeat", a), ("overlap", b)):
            secs, cpu, read, new = timed(db, path)
            rate = read / secs
            print(
                f"{label:<10}{read:>12,}{new:>12,}{secs:>9.2f}{cpu:>8.2f}{rate:>12,.0f}"
                f"{rate / TARGET:>10.2f}x"
            )
        with db.read() as con:
            total = con.execute("SELECT count(*) FROM candles").fetchone()
        print(f"rows in candles: {total[0] if total else 0:,} (expected {rows + rows // 2:,})")


if __name__ == "__main__":
    main()
