"""Benchmark: detect / flushes / explain on a generated year of market data and headlines.

Generates, with DuckDB SQL straight into a temporary database, 1-minute candles for N perps
(default 20 x 365 days, about 10.5M rows), liquidation events (default 5M) and scored headlines
(default 500k), with a few hundred injected crashes so detection and attribution have work.
Then times, each in a cold ``flushwatch`` process (wall time and peak RSS of that process):

* a full ``detect`` over everything but the last day;
* an incremental ``detect`` after the last day is added;
* ``flushes --since 365d --format json``;
* ``explain FLUSH_ID`` of the first flush listed.

Usage: python bench/bench_flushes.py [--perps 20] [--days 365] [--liquidations 5000000]
                                      [--headlines 500000] [--keep DIR]

``--keep DIR`` keeps the database and also a copy taken just before the incremental run
(``DIR/pre-incremental.duckdb``), to profile or re-time that step alone. Every step runs with
``FLUSHWATCH_SNAPSHOT=0`` (no analyst snapshot copy after the write runs); the summary says so.
Targets: full detect <= 30 s, incremental <= 2 s, flushes/explain <= 1 s, peak <= 2 GiB.
"""

# ruff: noqa: E501  (long SQL and table lines in a script)

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

TARGETS = {
    "detect (full)": 30.0,
    "detect (incremental, +1 day)": 2.0,
    "flushes --since 365d": 1.0,
    "explain": 1.0,
}


def generate(path: Path, perps: int, days: int, liquidations: int, headlines: int) -> dict[str, float]:
    """Fill a fresh flushwatch database; the last day of candles goes to table ``held_day``."""
    from flushwatch.storage.db import Database

    Database(path, snapshot=False)._ensure_schema()
    end = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(hours=1)
    start = end - dt.timedelta(days=days)
    minutes = days * 1440
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    timings: dict[str, float] = {}
    t = time.perf_counter()
    con.execute("SELECT setseed(0.42)")
    # Crashes: ~15 per perp per year, each 8 bars of -1.2 % (or +1.2 %) on 6x volume.
    con.execute(
        f"""
        CREATE TEMP TABLE crash AS
        SELECT DISTINCT s AS sym, (random() * {minutes - 2000} + 1000)::BIGINT AS at,
               CASE WHEN random() < 0.7 THEN -1 ELSE 1 END AS sign
          FROM range({perps}) a(s), range({max(1, days * 15 // 365)}) b(k)
        """
    )
    con.execute(
        f"""
        INSERT INTO candles (venue, market, symbol, interval, open_time, open, high, low, close,
                             volume, quote_volume)
        WITH r AS (
            SELECT s, i,
                   coalesce(any_value(c.sign) * 0.012, (random() - 0.5) * 0.0017) AS ret,
                   CASE WHEN any_value(c.sign) IS NULL THEN 1 ELSE 6 END * (50 + random() * 50) AS vol
              FROM range({perps}) a(s) CROSS JOIN range({minutes}) b(i)
              LEFT JOIN crash c ON c.sym = s AND i BETWEEN c.at AND c.at + 7
             GROUP BY s, i
        ), p AS (
            SELECT s, i, vol, 100 * exp(sum(ret) OVER (PARTITION BY s ORDER BY i)) AS close, ret
              FROM r
        )
        SELECT 'binance', 'perp', 'SYM' || s || 'USDT', '1m',
               TIMESTAMPTZ '{start.isoformat()}' + to_minutes(i),
               close / exp(ret), greatest(close, close / exp(ret)) * 1.0003,
               least(close, close / exp(ret)) * 0.9997, close, vol, vol * close
          FROM p
        """
    )
    timings["candles"] = time.perf_counter() - t
    t = time.perf_counter()
    con.execute(
        f"""
        INSERT INTO liquidations (venue, symbol, side, price, quantity, notional_usd, event_time, source)
        SELECT 'binance', 'SYM' || (i % {perps}) || 'USDT',
               CASE WHEN random() < 0.6 THEN 'long' ELSE 'short' END, 100, 1,
               exp(random() * 9), TIMESTAMPTZ '{start.isoformat()}' + to_seconds((random() * {minutes * 60})::BIGINT),
               'import'
          FROM range({liquidations}) t(i)
        """
    )
    timings["liquidations"] = time.perf_counter() - t
    t = time.perf_counter()
    con.execute(
        f"""
        INSERT INTO headlines (headline_id, dedup_key, source, title, published_at, first_seen_at,
                               origin, content_hash)
        SELECT i, 'bench:' || i, 'Outlet ' || (i % 40), 'Generated headline number ' || i, t, t,
               'import', 'h' || i
          FROM (SELECT i, TIMESTAMPTZ '{start.isoformat()}' + to_seconds((random() * {minutes * 60})::BIGINT) AS t
                  FROM range({headlines}) x(i))
        """
    )
    con.execute(
        """
        INSERT INTO headline_scores (headline_id, model_name, model_revision, scored_at, sentiment,
                                     p_bearish, p_neutral, p_bullish, sentiment_score, importance,
                                     event_type, is_market_report)
        SELECT headline_id, 'bench', 'r1', now(), 'neutral', pb, 1 - pb - pu, pu, pu - pb,
               random() * 100, 'other', random() < 0.1
          FROM (SELECT headline_id, random() * 0.5 AS pb, random() * 0.5 AS pu FROM headlines)
        """
    )
    con.execute(
        f"""
        INSERT INTO headline_assets
        SELECT headline_id, CASE WHEN headline_id % 5 = 0 THEN 'MARKET'
                                 ELSE 'SYM' || (headline_id % {perps}) END, 'ticker', FALSE
          FROM headlines
        """
    )
    timings["headlines"] = time.perf_counter() - t
    held_from = end - dt.timedelta(days=1)
    con.execute("CREATE TABLE held_day AS SELECT * FROM candles WHERE open_time >= ?", [held_from])
    con.execute("DELETE FROM candles WHERE open_time >= ?", [held_from])
    con.execute("CHECKPOINT")
    con.close()
    return timings


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run ``flushwatch ARGS`` in a fresh process: (wall seconds, peak RSS MiB, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "flushwatch", *args], env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if proc.returncode not in (0, 3):
        raise SystemExit(f"flushwatch {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    # ru_maxrss of children is the max over all children so far: report it only when it grew.
    return wall, max(after, before) / 1024, proc.stdout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--perps", type=int, default=20)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--liquidations", type=int, default=5_000_000)
    ap.add_argument("--headlines", type=int, default=500_000)
    ap.add_argument("--keep", type=Path, help="keep the generated database in this directory")
    a = ap.parse_args()
    tmpdir = a.keep or Path(tempfile.mkdtemp(prefix="flushwatch-bench-"))
    tmpdir.mkdir(parents=True, exist_ok=True)
    db = tmpdir / "bench.duckdb"
    for p in (db, db.with_suffix(".duckdb.wal")):
        p.unlink(missing_ok=True)
    print(
        f"generating {a.perps} perps x {a.days} days of 1m candles, {a.liquidations:,} liquidations, "
        f"{a.headlines:,} scored headlines into {db}",
        flush=True,
    )
    gen = generate(db, a.perps, a.days, a.liquidations, a.headlines)
    con = duckdb.connect(str(db), read_only=True)
    n_candles = con.execute("SELECT count(*) FROM candles").fetchone()[0]  # type: ignore[index]
    n_held = con.execute("SELECT count(*) FROM held_day").fetchone()[0]  # type: ignore[index]
    con.close()
    print(
        "generated in "
        + ", ".join(f"{k} {v:.1f} s" for k, v in gen.items())
        + f"; candles {n_candles + n_held:,}",
        flush=True,
    )
    env = dict(os.environ, FLUSHWATCH_SNAPSHOT="0", FLUSHWATCH_DB=str(db))
    results: list[tuple[str, float, float, str]] = []

    wall, rss, out = timed(["detect", "--format", "json"], env)
    results.append(("detect (full)", wall, rss, out.replace("\n", " ")[:200]))
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO candles SELECT * FROM held_day")
    con.execute("DROP TABLE held_day")
    con.execute("CHECKPOINT")
    con.close()
    if a.keep:
        # The state just before the incremental run, to profile or re-time it:
        #   cp DIR/pre-incremental.duckdb /tmp/x.duckdb && FLUSHWATCH_DB=/tmp/x.duckdb flushwatch detect
        import shutil

        shutil.copyfile(db, tmpdir / "pre-incremental.duckdb")
    wall, rss, out = timed(["detect", "--format", "json"], env)
    results.append(("detect (incremental, +1 day)", wall, rss, out.replace("\n", " ")[:200]))
    wall, rss, out = timed(["flushes", "--since", "365d", "--format", "json"], env)
    import json

    flushes = json.loads(out)
    results.append(("flushes --since 365d", wall, rss, f"{len(flushes)} flushes"))
    if flushes:
        wall, rss, out = timed(["explain", str(flushes[0]["flush_id"])], env)
        results.append(("explain", wall, rss, f"flush {flushes[0]['flush_id']}"))
    print()
    print(f"{'step':32} {'wall s':>8} {'target s':>9} {'peak RSS MiB*':>14}  notes")
    for name, wall, rss, note in results:
        print(f"{name:32} {wall:8.2f} {TARGETS.get(name, float('nan')):9.1f} {rss:14.0f}  {note}")
    print("snapshot publishing: off (FLUSHWATCH_SNAPSHOT=0); the figures exclude the snapshot copy")
    print(
        "* peak RSS = max over the child processes run so far (ru_maxrss of RUSAGE_CHILDREN); target 2048 MiB"
    )
    if not a.keep:
        import shutil

        shutil.rmtree(tmpdir, ignore_errors=True)


if __name__ == "__main__":
    main()
