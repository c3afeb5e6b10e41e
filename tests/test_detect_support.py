"""Test support (no tests here): load shared candle files through the real market importer."""

from __future__ import annotations

from pathlib import Path

from flushwatch.ingest.market.importer import import_candles
from flushwatch.storage.db import Database


def load_candles(
    db: Database, path: Path, *, symbol: str, interval: str, market: str = "perp", venue: str = "binance"
) -> int:
    """Import one candle file (Binance kline CSV or freqtrade-style export); returns rows new."""
    summary = import_candles(db, [path], symbol=symbol, interval=interval, market=market, venue=venue)
    return summary.rows_new
