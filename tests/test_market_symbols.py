"""Symbol spellings -> venue symbols, and symbol -> base asset (used by the flush detector)."""

from __future__ import annotations

import pytest

from flushwatch.ingest.market.sniff import name_hints
from flushwatch.records.symbols import base_asset, normalise_symbol
from flushwatch.storage.market import interval_name, interval_seconds


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("BTC_USDT", "BTCUSDT"),
        ("BTC_USDT_USDT", "BTCUSDT"),
        ("BTC/USDT:USDT", "BTCUSDT"),
        ("btc-usdt", "BTCUSDT"),
        ("ETHUSDT", "ETHUSDT"),
        ("1000PEPE/USDT:USDT", "1000PEPEUSDT"),
    ],
)
def test_normalise(raw: str, want: str) -> None:
    assert normalise_symbol(raw) == want


@pytest.mark.parametrize(
    ("symbol", "asset"),
    [
        ("BTCUSDT", "BTC"),
        ("ETHUSDC", "ETH"),
        ("SOLFDUSD", "SOL"),
        ("1000PEPEUSDT", "PEPE"),
        ("BTCUSD_PERP", "BTC"),
        ("ETHBTC", "ETH"),
        ("BTC/USDT:USDT", "BTC"),
        ("4USDT", "4"),
    ],
)
def test_base_asset(symbol: str, asset: str) -> None:
    assert base_asset(symbol) == asset


def test_name_hints() -> None:
    from pathlib import Path

    h = name_hints(Path("data/futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip"))
    assert (h.symbol, h.interval, h.market) == ("BTCUSDT", "1m", "perp")
    h = name_hints(Path("ETH_USDT-1h-spot_2022-10-01_2023-01-08.csv.gz"))
    assert (h.symbol, h.interval, h.market) == ("ETHUSDT", "1h", "spot")
    h = name_hints(Path("BTC_USDT-8h-funding_rate_2021.csv.gz"))
    assert h.funding and h.interval == "8h"
    h = name_hints(Path("BTCUSDT-1m-2024-01-01.zip"))
    assert h.market is None  # decided from the numbers
    assert name_hints(Path("x/markPriceKlines/BTCUSDT-5m-2024-01-01.zip")).market == "mark"


def test_intervals() -> None:
    assert [interval_seconds(i) for i in ("1m", "15m", "1h", "8h", "1d")] == [60, 900, 3600, 28800, 86400]
    assert [interval_name(s) for s in (60, 300, 3600, 86400)] == ["1m", "5m", "1h", "1d"]


def test_base_asset_sql_matches_python() -> None:
    import duckdb

    from flushwatch.records.symbols import base_asset_sql

    symbols = ["BTCUSDT", "ETHUSDC", "SOLFDUSD", "1000PEPEUSDT", "ETHBTC", "XRPUSDT"]
    got = duckdb.sql(
        f"SELECT {base_asset_sql('s')} FROM (SELECT unnest($syms) AS s)", params={"syms": symbols}
    )
    assert [r[0] for r in got.fetchall()] == [base_asset(s) for s in symbols]
