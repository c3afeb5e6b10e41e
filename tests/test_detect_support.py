"""Test support (no tests here): load shared candle CSVs straight into ``candles`` with DuckDB SQL.

Used until the market importer lands; handles Binance's raw kline CSVs (``open_time`` in ms,
``quote_volume``) and the ``open_time_ms, open_time_utc, o, h, l, c, v`` exports.
"""

from __future__ import annotations

from pathlib import Path

from flushwatch.storage.db import Database


def load_candles(
    db: Database, path: Path, *, symbol: str, interval: str, market: str = "perp", venue: str = "binance"
) -> int:
    with db.write() as con:
        cols = [
            r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_csv('{path}', header=true)").fetchall()
        ]
        ms = "open_time_ms" if "open_time_ms" in cols else "open_time"
        qv = "quote_volume" if "quote_volume" in cols else "NULL"
        con.execute(
            f"""
            INSERT INTO candles (venue, market, symbol, interval, open_time, open, high, low, close,
                                 volume, quote_volume)
            SELECT ?, ?, ?, ?, make_timestamptz(CAST({ms} AS BIGINT) * 1000), open, high, low, close,
                   volume, {qv}
              FROM read_csv('{path}', header=true)
            """,
            [venue, market, symbol, interval],
        )
        row = con.execute(
            "SELECT count(*) FROM candles WHERE symbol = ? AND interval = ?", [symbol, interval]
        ).fetchone()
    return int(row[0]) if row else 0
