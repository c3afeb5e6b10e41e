"""Every shared price, funding and liquidation file imports with exact counts, times and values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from flushwatch.ingest.market.importer import import_files
from flushwatch.storage.db import Database

pytestmark = pytest.mark.shared


def T(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


# (folder/file, kind, symbol, market, interval, rows, first, last) -- from each PROVENANCE.md
CASES = [
    (
        "prices_binance_2022q4_ftx_window/ETH_USDT-5m-spot_2022-10-01_2023-01-02.csv.gz",
        "candles",
        "ETHUSDT",
        "spot",
        "5m",
        26999,
        "2022-10-01 00:00",
        "2023-01-02 17:50",
    ),
    (
        "prices_binance_2022q4_ftx_window/ETH_USDT-1h-spot_2022-10-01_2023-01-08.csv.gz",
        "candles",
        "ETHUSDT",
        "spot",
        "1h",
        2387,
        "2022-10-01 00:00",
        "2023-01-08 10:00",
    ),
    (
        "prices_binance_2022q4_ftx_window/ETH_USDT-15m-usdm-futures_2022-10-01_2023-01-02.csv.gz",
        "candles",
        "ETHUSDT",
        "perp",
        "15m",
        8999,
        "2022-10-01 00:00",
        "2023-01-02 17:30",
    ),
    (
        "prices_binance_2022q4_ftx_window/ETH_USDT-1h-usdm-futures_2022-10-01_2023-01-08.csv.gz",
        "candles",
        "ETHUSDT",
        "perp",
        "1h",
        2388,
        "2022-10-01 00:00",
        "2023-01-08 11:00",
    ),
    (
        "prices_binance_2022q4_ftx_window/SOL_USDT-1h-usdm-futures_2022-10-01_2023-01-08.csv.gz",
        "candles",
        "SOLUSDT",
        "perp",
        "1h",
        2388,
        "2022-10-01 00:00",
        "2023-01-08 11:00",
    ),
    (
        "prices_binance_2022q4_ftx_window/BTC_USDT-1d-usdm-futures_2022-10-01_2023-01-07.csv.gz",
        "candles",
        "BTCUSDT",
        "perp",
        "1d",
        99,
        "2022-10-01 00:00",
        "2023-01-07 00:00",
    ),
    (
        "prices_binance_2022q4_ftx_window/BTC_USDT-8h-funding_rate_2022-10-01_2023-01-08.csv.gz",
        "funding",
        "BTCUSDT",
        "perp",
        None,
        298,
        "2022-10-01 00:00",
        "2023-01-08 00:00",
    ),
    (
        "prices_binance_2022q4_ftx_window/ETH_USDT-8h-funding_rate_2022-10-01_2023-01-08.csv.gz",
        "funding",
        "ETHUSDT",
        "perp",
        None,
        298,
        "2022-10-01 00:00",
        "2023-01-08 00:00",
    ),
    (
        "prices_binance_2022q4_ftx_window/SOL_USDT-8h-funding_rate_2022-10-01_2023-01-08.csv.gz",
        "funding",
        "SOLUSDT",
        "perp",
        None,
        373,
        "2022-10-01 00:00",
        "2023-01-08 00:00",
    ),
    (
        "prices_binance_btcusdt_5m_priceindex_2025q4/BTCUSDT-5m_2025-10-01_2025-12-30.csv.gz",
        "candles",
        "BTCUSDT",
        "mark",
        "5m",
        25920,
        "2025-10-01 00:00",
        "2025-12-30 23:55",
    ),
    (
        "prices_binance_spot_15m_2024_2025/BTC_USDT-15m_2024-01-01_2025-08-27.csv.gz",
        "candles",
        "BTCUSDT",
        "spot",
        "15m",
        57995,
        "2024-01-01 00:00",
        "2025-08-27 02:30",
    ),
    (
        "prices_binance_spot_15m_2024_2025/ETH_USDT-15m_2024-01-01_2025-08-27.csv.gz",
        "candles",
        "ETHUSDT",
        "spot",
        "15m",
        57995,
        "2024-01-01 00:00",
        "2025-08-27 02:30",
    ),
    (
        "prices_binance_spot_1h_2017_2022/BTC_USDT-1h_2017-08-17_2022-10-11.csv.gz",
        "candles",
        "BTCUSDT",
        "spot",
        "1h",
        45024,
        "2017-08-17 04:00",
        "2022-10-11 10:00",
    ),
    (
        "prices_binance_spot_1h_2017_2022/ETH_USDT-1h_2017-08-17_2022-10-11.csv.gz",
        "candles",
        "ETHUSDT",
        "spot",
        "1h",
        45024,
        "2017-08-17 04:00",
        "2022-10-11 10:00",
    ),
    (
        "prices_binance_usdm_5m_2025_12_2026_01/BTC_USDT_USDT-5m-futures_2025-12-26_2026-01-29.csv.gz",
        "candles",
        "BTCUSDT",
        "perp",
        "5m",
        9727,
        "2025-12-26 22:35",
        "2026-01-29 17:05",
    ),
    (
        "prices_binance_usdm_5m_2025_12_2026_01/ETH_USDT_USDT-5m-futures_2025-12-26_2026-01-29.csv.gz",
        "candles",
        "ETHUSDT",
        "perp",
        "5m",
        9727,
        "2025-12-26 22:35",
        "2026-01-29 17:05",
    ),
    (
        "prices_binance_usdm_5m_2025_12_2026_01/BTC_USDT_USDT-1h-funding_rate_2025-12-27_2026-01-29.csv.gz",
        "funding",
        "BTCUSDT",
        "perp",
        None,
        102,
        "2025-12-27 00:00",
        "2026-01-29 16:00",
    ),
    (
        "prices_binance_usdm_btcusdt_1h_2019_2022/BTC_USDT-1h-usdm-futures_2019-09-08_2022-07-27.csv.gz",
        "candles",
        "BTCUSDT",
        "perp",
        "1h",
        25273,
        "2019-09-08 17:00",
        "2022-07-27 17:00",
    ),
    (
        "prices_binance_usdm_btcusdt_1h_2019_2022/BTC_USDT-8h-funding_rate_2021-08-31_2022-07-30.csv.gz",
        "funding",
        "BTCUSDT",
        "perp",
        None,
        999,
        "2021-08-31 08:00",
        "2022-07-30 00:00",
    ),
    (
        "prices_binance_usdm_btcusdt_1m_flush_windows/BTCUSDT-1m_2022-05-11T1158_to_1411Z.csv",
        "candles",
        "BTCUSDT",
        "perp",
        "1m",
        134,
        "2022-05-11 11:58",
        "2022-05-11 14:11",
    ),
    (
        "prices_binance_usdm_btcusdt_1m_flush_windows/BTCUSDT-1m_2022-06-13T1236_to_1450Z.csv",
        "candles",
        "BTCUSDT",
        "perp",
        "1m",
        135,
        "2022-06-13 12:36",
        "2022-06-13 14:50",
    ),
    (
        "prices_binance_usdm_btcusdt_1m_flush_windows/BTCUSDT-1m_2022-11-08T1738_to_1949Z.csv",
        "candles",
        "BTCUSDT",
        "perp",
        "1m",
        132,
        "2022-11-08 17:38",
        "2022-11-08 19:49",
    ),
    (
        "prices_binance_usdm_btcusdt_1m_flush_windows/BTCUSDT-1m_2022-11-09T1917_to_2131Z.csv",
        "candles",
        "BTCUSDT",
        "perp",
        "1m",
        135,
        "2022-11-09 19:17",
        "2022-11-09 21:31",
    ),
    (
        "prices_binance_usdm_btcusdt_1m_flush_windows/BTCUSDT-1m_2025-10-10T2056_to_2304Z.csv",
        "candles",
        "BTCUSDT",
        "perp",
        "1m",
        129,
        "2025-10-10 20:56",
        "2025-10-10 23:04",
    ),
    (
        "prices_binance_usdm_btcusdt_1m_flush_windows/BTCUSDT-1m_2026-02-05T1940_to_2153Z.csv",
        "candles",
        "BTCUSDT",
        "perp",
        "1m",
        134,
        "2026-02-05 19:40",
        "2026-02-05 21:53",
    ),
    (
        "funding_binance_btcusdt_2022_2025/BTC_USDT_USDT-8h-funding_rate_2022-01-01_2025-10-27.csv.gz",
        "funding",
        "BTCUSDT",
        "perp",
        None,
        4188,
        "2022-01-01 00:00",
        "2025-10-27 16:00",
    ),
    (
        "liquidations_binance_forceorder_sample_2025_10_22/binance_usdm_forceorder_2025-10-22T0936_0939Z.csv",
        "liquidations",
        None,
        "perp",
        None,
        101,
        "2025-10-22 09:36:42.306",
        "2025-10-22 09:38:58.960",
    ),
]


def test_every_shared_market_file_is_covered(shared_data: Path) -> None:
    listed = {c[0] for c in CASES}
    found = {
        str(p.relative_to(shared_data))
        for pattern in ("prices_*/*", "funding_*/*", "liquidations_*/*")
        for p in shared_data.glob(pattern)
        if p.name != "PROVENANCE.md"
    }
    assert found == listed


@pytest.mark.parametrize("case", CASES, ids=[Path(c[0]).name[:40] for c in CASES])
def test_shared_file_imports_exactly(shared_data: Path, tmp_path: Path, case: tuple) -> None:
    rel, kind, symbol, market, interval, rows, first, last = case
    db = Database(tmp_path / "m.duckdb", wait_s=5, snapshot=False)
    summary = import_files(db, kind, [shared_data / rel])
    (r,) = summary.files
    assert (r.symbol, r.market, r.interval, r.venue) == (symbol, market, interval, "binance")
    assert (r.rows_read, r.rows_new) == (rows, rows)
    assert (r.first, r.last) == (T(first), T(last))
    again = import_files(db, kind, [shared_data / rel])
    assert again.rows_new == 0
    table = {"candles": "candles", "funding": "funding_rates", "liquidations": "liquidations"}[kind]
    with db.read() as con:
        assert con.execute(f"SELECT count(*) FROM {table}").fetchone() == (rows,)


def _db_with(tmp_path: Path, shared: Path, kind: str, *rels: str) -> Database:
    db = Database(tmp_path / "v.duckdb", wait_s=5, snapshot=False)
    import_files(db, kind, [shared / r for r in rels])
    return db


def _one(db: Database, sql: str, *params: object) -> tuple:
    with db.read() as con:
        row = con.execute(sql, list(params)).fetchone()
    assert row is not None
    return row


def test_known_values_candles(shared_data: Path, tmp_path: Path) -> None:
    db = _db_with(
        tmp_path,
        shared_data,
        "candles",
        "prices_binance_spot_15m_2024_2025/BTC_USDT-15m_2024-01-01_2025-08-27.csv.gz",
        "prices_binance_2022q4_ftx_window/BTC_USDT-1d-usdm-futures_2022-10-01_2023-01-07.csv.gz",
        "prices_binance_usdm_btcusdt_1m_flush_windows/BTCUSDT-1m_2025-10-10T2056_to_2304Z.csv",
        "prices_binance_btcusdt_5m_priceindex_2025q4/BTCUSDT-5m_2025-10-01_2025-12-30.csv.gz",
        "prices_binance_spot_1h_2017_2022/BTC_USDT-1h_2017-08-17_2022-10-11.csv.gz",
        "prices_binance_usdm_btcusdt_1h_2019_2022/BTC_USDT-1h-usdm-futures_2019-09-08_2022-07-27.csv.gz",
    )
    # 2024-08-05: 96 spot 15m bars, low 49,000.00 at the 06:15 bar; widest bar 01:00 (56,294 -> 52,300).
    assert _one(
        db,
        "SELECT count(*), min(low) FROM candles WHERE market='spot' AND interval='15m' "
        "AND symbol='BTCUSDT' AND open_time::DATE = DATE '2024-08-05'",
    ) == (96, 49000.0)
    assert _one(
        db,
        "SELECT open_time FROM candles WHERE interval='15m' AND low = 49000 "
        "AND open_time::DATE = DATE '2024-08-05'",
    ) == (T("2024-08-05 06:15"),)
    assert _one(
        db,
        "SELECT open_time, high, round(low, -2) FROM candles WHERE interval='15m' "
        "AND symbol='BTCUSDT' AND open_time::DATE = DATE '2024-08-05' ORDER BY high - low DESC LIMIT 1",
    ) == (T("2024-08-05 01:00"), 56294.0, 52300.0)
    # FTX daily lows (perp 1d)
    assert _one(
        db, "SELECT low FROM candles WHERE interval='1d' AND open_time = ?", T("2022-11-09 00:00")
    ) == (15462.6,)
    assert _one(
        db, "SELECT low FROM candles WHERE interval='1d' AND open_time = ?", T("2022-11-08 00:00")
    ) == (16830.0,)
    # 2025-10-10: perp 1m low 101,516.5 at 21:20; mark 5m low 101,877.69 at the 21:20 bar.
    assert _one(db, "SELECT open_time, low FROM candles WHERE interval='1m' ORDER BY low LIMIT 1") == (
        T("2025-10-10 21:20"),
        101516.5,
    )
    assert _one(
        db, "SELECT round(low, 2) FROM candles WHERE market='mark' AND open_time = ?", T("2025-10-10 21:20")
    ) == (101877.69,)
    assert _one(
        db,
        "SELECT round(min(low), 2) FROM candles WHERE market='mark' AND open_time::DATE = DATE '2025-11-21'",
    ) == (80616.26,)
    assert _one(
        db, "SELECT count(*) FROM candles WHERE market='mark' AND open_time::DATE = DATE '2025-10-04'"
    ) == (0,)
    # hourly lows: spot 2020-03-13 3,782.13; perp 2020-03-13 02:00 3,621.81
    assert _one(
        db,
        "SELECT min(low) FROM candles WHERE market='spot' AND interval='1h' "
        "AND open_time::DATE = DATE '2020-03-13'",
    ) == (3782.13,)
    assert _one(
        db,
        "SELECT low FROM candles WHERE market='perp' AND interval='1h' AND open_time = ?",
        T("2020-03-13 02:00"),
    ) == (3621.81,)


def test_known_values_funding_and_liquidations(shared_data: Path, tmp_path: Path) -> None:
    db = _db_with(
        tmp_path,
        shared_data,
        "funding",
        "funding_binance_btcusdt_2022_2025/BTC_USDT_USDT-8h-funding_rate_2022-01-01_2025-10-27.csv.gz",
    )
    lo, hi, mean = _one(db, "SELECT min(rate), max(rate), avg(rate) FROM funding_rates")
    assert (round(lo, 6), round(hi, 6), round(mean, 6)) == (-0.001192, 0.000881, 0.000067)
    # jittered stamps (…00:00:00.006Z) land on the second
    assert _one(db, "SELECT count(*) FROM funding_rates WHERE epoch_ms(funding_time) % 1000 <> 0") == (0,)
    path = (
        shared_data
        / "liquidations_binance_forceorder_sample_2025_10_22"
        / "binance_usdm_forceorder_2025-10-22T0936_0939Z.csv"
    )
    import_files(db, "liquidations", [path])
    # PROVENANCE says 79 SELL / 21 BUY and 40 symbols; the file itself holds 81 / 20 and 41
    # (counted here with the csv module, independently of DuckDB). SELL = a long liquidated.
    import csv

    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    expected = (
        sum(r["side"] == "SELL" for r in rows),
        sum(r["side"] == "BUY" for r in rows),
        len({r["symbol"] for r in rows}),
    )
    assert expected == (81, 20, 41)
    assert (
        _one(
            db,
            "SELECT count(*) FILTER (side='long'), count(*) FILTER (side='short'), "
            "count(DISTINCT symbol) FROM liquidations",
        )
        == expected
    )
    assert _one(
        db,
        "SELECT symbol, side, price, quantity, round(notional_usd, 6), event_time FROM liquidations "
        "ORDER BY event_time LIMIT 1",
    ) == ("SOLUSDT", "long", 184.22, 0.04, 7.3688, T("2025-10-22 09:36:42.306"))
    assert _one(db, "SELECT count(*) FROM liquidations WHERE symbol = '币安人生USDT'")[0] >= 1


def test_resampled_1m_equals_the_hourly_bar(shared_data: Path, tmp_path: Path) -> None:
    """PROVENANCE: the 2022-05-11 12:00 and 13:00 1m bars aggregate exactly to the hourly perp bars."""
    from flushwatch.storage.market import resample

    db = _db_with(
        tmp_path,
        shared_data,
        "candles",
        "prices_binance_usdm_btcusdt_1m_flush_windows/BTCUSDT-1m_2022-05-11T1158_to_1411Z.csv",
        "prices_binance_usdm_btcusdt_1h_2019_2022/BTC_USDT-1h-usdm-futures_2019-09-08_2022-07-27.csv.gz",
    )
    with db.read() as con:
        bars = resample(
            con,
            venue="binance",
            market="perp",
            symbol="BTCUSDT",
            source_interval="1m",
            target_interval="1h",
            start=T("2022-05-11 12:00"),
            end=T("2022-05-11 14:00"),
        )
        hourly = con.execute(
            "SELECT open_time, open, high, low, close, volume FROM candles WHERE interval = '1h' "
            "AND open_time IN (?, ?) ORDER BY open_time",
            [T("2022-05-11 12:00"), T("2022-05-11 13:00")],
        ).fetchall()
    assert len(bars) == 2 and all(b[-1] for b in bars)  # complete
    for b, h in zip(bars, hourly, strict=True):
        assert (b[4], b[5], b[6], b[7], b[8]) == h[:5]
        assert round(b[9], 3) == h[5]


def test_shared_klines_zipped_in_a_binance_folder_read_like_the_csv(
    shared_data: Path, tmp_path: Path
) -> None:
    """The 5m price-index klines, unpacked and zipped under data.binance.vision's folder layout:
    the zip's folders (not only its member's name) decide the market, so CSV and zip agree."""
    import gzip
    import shutil
    import zipfile

    src = shared_data / "prices_binance_btcusdt_5m_priceindex_2025q4/BTCUSDT-5m_2025-10-01_2025-12-30.csv.gz"
    folder = tmp_path / "data/futures/um/monthly/indexPriceKlines/BTCUSDT/5m"
    folder.mkdir(parents=True)
    csv = folder / "BTCUSDT-5m-2025-10.csv"
    with gzip.open(src, "rb") as fin, open(csv, "wb") as fout:
        shutil.copyfileobj(fin, fout)
    z = csv.with_suffix(".zip")
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(csv, csv.name)
    got = []
    for path in (csv, z):
        db = Database(tmp_path / f"{path.suffix[1:]}.duckdb", wait_s=5, snapshot=False)
        (r,) = import_files(db, "candles", [path]).files
        got.append((r.market, r.symbol, r.interval, r.rows_new, r.first, r.last))
    assert got[0] == got[1] == ("index", "BTCUSDT", "5m", 25920, T("2025-10-01 00:00"), T("2025-12-30 23:55"))
