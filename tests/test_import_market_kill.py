"""``flushwatch import candles`` killed with SIGKILL at random moments loses and doubles nothing.

Each file is imported in one transaction, and DuckDB's WAL replays only committed ones, so after
any kill the table holds every row of the file or none of it. Ten times, on a copy of a database
already holding one large file, the import of a second large file (disjoint times) is killed after
a random delay, one in each tenth of 1.3 full runs (start-up, reading, commit, exit); the database
must then open and hold the first file exactly, or both, each row once; importing the second file
again completes it.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from flushwatch.storage.db import Database

ROWS = 1_000_000
START_MS = 1_577_836_800_000  # 2020-01-01


def make_klines(path: Path, rows: int, start_ms: int) -> None:
    """A Binance archive kline CSV, written by DuckDB (fast; not what is under test)."""
    duckdb.sql(f"""
        COPY (
          SELECT {start_ms} + i * 60000 AS open_time, 100 + i % 7 AS open, 110 + i % 7 AS high,
                 90 + i % 7 AS low, 101 + i % 7 AS close, 1.5 AS volume,
                 {start_ms} + i * 60000 + 59999 AS close_time, 150.0 AS quote_volume, 10 AS count,
                 0.5 AS taker_buy_volume, 50.0 AS taker_buy_quote_volume, 0 AS ignore
            FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')
    """)


def counts(db_path: Path) -> tuple[int, int]:
    """(rows, distinct open times) in candles, through a fresh connection (WAL replayed)."""
    with Database(db_path, wait_s=30, snapshot=False).read() as con:
        row = con.execute("SELECT count(*), count(DISTINCT open_time) FROM candles").fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sigkill_at_random_points_never_loses_or_doubles_rows(tmp_path: Path) -> None:
    held, new = tmp_path / "BTCUSDT-1m-2020-01.csv", tmp_path / "BTCUSDT-1m-2021-01.csv"
    make_klines(held, ROWS, START_MS)
    make_klines(new, ROWS, START_MS + ROWS * 60000)
    env = {**os.environ, "FLUSHWATCH_SNAPSHOT": "0"}

    def command(db_path: Path, path: Path) -> list[str]:
        return [sys.executable, "-m", "flushwatch", "import", "candles", "--db", str(db_path), str(path)]

    base = tmp_path / "base.duckdb"
    subprocess.run(command(base, held), env=env, check=True, capture_output=True)
    assert counts(base) == (ROWS, ROWS)
    # One full run of the second file on a scratch copy: how long the kills are spread over.
    scratch = tmp_path / "scratch.duckdb"
    shutil.copy(base, scratch)
    started = time.monotonic()
    subprocess.run(command(scratch, new), env=env, check=True, capture_output=True)
    full_run = time.monotonic() - started
    scratch.unlink()

    rng = random.Random(20250101)
    outcomes = []
    for attempt in range(10):
        db_path = tmp_path / f"kill{attempt}.duckdb"
        shutil.copy(base, db_path)
        proc = subprocess.Popen(
            command(db_path, new), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        # One random point in each tenth of 1.3 full runs: start-up, reading, commit, exit.
        time.sleep(full_run * 1.3 * (attempt + rng.random()) / 10)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        rows, distinct = counts(db_path)
        assert rows == distinct, f"attempt {attempt}: {rows - distinct} rows doubled"
        assert rows in (ROWS, 2 * ROWS), f"attempt {attempt}: {rows:,} rows, neither before nor after"
        outcomes.append("finished" if proc.returncode == 0 else f"killed, {rows // ROWS} file(s) stored")
        subprocess.run(command(db_path, new), env=env, check=True, capture_output=True)
        assert counts(db_path) == (2 * ROWS, 2 * ROWS), (attempt, outcomes)
        db_path.unlink()
    print(f"full run {full_run:.2f} s; after each kill:", outcomes)  # shown with pytest -s
    assert any(o.startswith("killed") for o in outcomes), outcomes
