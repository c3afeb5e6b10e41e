"""Flushes per month per shared dataset with the default thresholds (the table in docs/flushes.md).

Usage: python bench/flush_counts.py   (needs ../shared/data)
"""

# ruff: noqa: E501  (long SQL and table lines in a script)

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_attribution import _load_candles

from flushwatch.config import shared_data_dir
from flushwatch.scoring.detect import detect
from flushwatch.storage.db import Database

D = shared_data_dir() or sys.exit("shared data not found")
SETS = [
    ("prices_binance_spot_1h_2017_2022", "BTC_USDT-1h*.gz", "BTCUSDT", "1h", "spot"),
    ("prices_binance_spot_1h_2017_2022", "ETH_USDT-1h*.gz", "ETHUSDT", "1h", "spot"),
    ("prices_binance_usdm_btcusdt_1h_2019_2022", "BTC_USDT-1h*.gz", "BTCUSDT", "1h", "perp"),
    ("prices_binance_2022q4_ftx_window", "ETH_USDT-15m-usdm*.gz", "ETHUSDT", "15m", "perp"),
    ("prices_binance_2022q4_ftx_window", "SOL_USDT-1h-usdm*.gz", "SOLUSDT", "1h", "perp"),
    ("prices_binance_spot_15m_2024_2025", "BTC_USDT-15m*.gz", "BTCUSDT", "15m", "spot"),
    ("prices_binance_spot_15m_2024_2025", "ETH_USDT-15m*.gz", "ETHUSDT", "15m", "spot"),
    ("prices_binance_btcusdt_5m_priceindex_2025q4", "*.gz", "BTCUSDT", "5m", "index"),
    ("prices_binance_usdm_5m_2025_12_2026_01", "BTC_USDT_USDT-5m*.gz", "BTCUSDT", "5m", "perp"),
    ("prices_binance_usdm_5m_2025_12_2026_01", "ETH_USDT_USDT-5m*.gz", "ETHUSDT", "5m", "perp"),
    ("prices_binance_usdm_btcusdt_1m_flush_windows", "*.csv", "BTCUSDT", "1m", "perp"),
]
print("| dataset | series | months | flushes | per month (mean) | busiest month | months with 0 |")
print("|---|---|---|---|---|---|---|")
for folder, pat, sym, iv, mk in SETS:
    tmp = Path(tempfile.mkdtemp()) / "m.duckdb"
    db = Database(tmp, snapshot=False)
    for f in sorted((D / folder).glob(pat)):
        _load_candles(db, f, sym, iv, mk)
    detect(db)
    with db.read() as con:
        row = con.execute("SELECT count(DISTINCT date_trunc('month', open_time)) FROM candles").fetchone()
        months = row[0] if row else 0
        rows = con.execute(
            "SELECT strftime(start_at, '%Y-%m') m, count(*) FROM flushes GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
    total = sum(r[1] for r in rows)
    busiest = f"{rows[0][0]} ({rows[0][1]})" if rows else "-"
    print(
        f"| {folder} | {sym} {mk} {iv} | {months} | {total} | {total / months:.1f} | {busiest} | {months - len(rows)} |"
    )
