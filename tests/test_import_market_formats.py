"""Import formats from our own fixtures (tests/data/market), malformed input and the CLI."""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile
from pathlib import Path

import pytest

from flushwatch.errors import InputError
from flushwatch.ingest.market.importer import ImportOptions, import_files, parse_mapping
from flushwatch.storage.db import Database

DATA = Path(__file__).parent / "data" / "market"


def T(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def rows(db: Database, sql: str) -> list[tuple]:
    with db.read() as con:
        return con.execute(sql).fetchall()


def test_binance_spot_archive_zip_microseconds_no_header(db: Database, tmp_path: Path) -> None:
    z = tmp_path / "BTCUSDT-1m-2025-01-01.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(DATA / "BTCUSDT-1m-2025-01-01.csv", "BTCUSDT-1m-2025-01-01.csv")
    (r,) = import_files(db, "candles", [z]).files
    assert (r.fmt, r.symbol, r.market, r.interval, r.rows_new) == (
        "binance-archive",
        "BTCUSDT",
        "spot",
        "1m",
        3,
    )
    assert (r.first, r.last) == (T("2025-01-01 00:00"), T("2025-01-01 00:02"))
    assert rows(db, "SELECT open, trades, quote_volume FROM candles ORDER BY open_time LIMIT 1") == [
        (93576.0, 1257, 768978.1417078)
    ]


def test_binance_perp_archive_with_header_and_idempotent(db: Database) -> None:
    (r,) = import_files(db, "candles", [DATA / "ETHUSDT-1m-2024-03-02.csv"]).files
    assert (r.market, r.interval, r.rows_new) == ("perp", "1m", 4)
    assert import_files(db, "candles", [DATA / "ETHUSDT-1m-2024-03-02.csv"]).rows_new == 0
    assert rows(db, "SELECT count(*) FROM candles") == [(4,)]


def test_malformed_line_names_file_and_line_and_imports_nothing(db: Database) -> None:
    bad = DATA / "bad" / "ETHUSDT-1m-2024-03-03.csv"
    with pytest.raises(InputError) as err:
        import_files(db, "candles", [bad])
    assert err.value.line == 4 and err.value.path == str(bad)
    assert f"{bad}:4:" in err.value.one_line()
    assert rows(db, "SELECT count(*) FROM candles") == [(0,)]


def test_several_files_one_bad_keeps_the_good_ones(db: Database) -> None:
    summary = import_files(
        db, "candles", [DATA / "ETHUSDT-1m-2024-03-02.csv", DATA / "bad" / "ETHUSDT-1m-2024-03-03.csv"]
    )
    assert summary.rows_new == 4 and len(summary.errors) == 1 and ":4:" in summary.errors[0]


def test_freqtrade_json_candles_and_funding(db: Database) -> None:
    (c,) = import_files(db, "candles", [DATA / "SOL_USDT_USDT-5m-futures.json"]).files
    assert (c.fmt, c.symbol, c.market, c.interval, c.rows_new) == (
        "freqtrade-json",
        "SOLUSDT",
        "perp",
        "5m",
        4,
    )
    (f,) = import_files(db, "funding", [DATA / "BTC_USDT_USDT-8h-funding_rate.json"]).files
    assert f.rows_new == 3
    assert rows(db, "SELECT funding_time, rate FROM funding_rates ORDER BY 1 LIMIT 1") == [
        (T("2025-01-01 00:00"), 0.0001)
    ]


def test_freqtrade_feather(db: Database, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.feather as feather

    dates = pa.array([T("2025-02-01 00:00"), T("2025-02-01 00:05")], pa.timestamp("ms", tz="UTC"))
    table = pa.table(
        {
            "date": dates,
            "open": [1.0, 2.0],
            "high": [2.0, 3.0],
            "low": [0.5, 1.5],
            "close": [1.5, 2.5],
            "volume": [10.0, 20.0],
        }
    )
    path = tmp_path / "BTC_USDT_USDT-5m-futures.feather"
    feather.write_feather(table, path)
    (r,) = import_files(db, "candles", [path]).files
    assert (r.fmt, r.symbol, r.market, r.interval, r.rows_new) == (
        "freqtrade-feather",
        "BTCUSDT",
        "perp",
        "5m",
        2,
    )
    fund = tmp_path / "BTC_USDT_USDT-8h-funding_rate.feather"
    feather.write_feather(
        pa.table(
            {
                "date": dates,
                "open": [0.0001, -0.0002],
                "high": [0.0, 0.0],
                "low": [0.0, 0.0],
                "close": [0.0, 0.0],
                "volume": [0.0, 0.0],
            }
        ),
        fund,
    )
    assert import_files(db, "funding", [fund]).rows_new == 2
    assert rows(db, "SELECT min(rate) FROM funding_rates") == [(-0.0002,)]


def test_force_order_json_and_bybit_messages(db: Database) -> None:
    (b,) = import_files(db, "liquidations", [DATA / "forceorder.jsonl"]).files
    assert (b.venue, b.rows_new) == ("binance", 3)
    (y,) = import_files(db, "liquidations", [DATA / "bybit_allLiquidation.jsonl"]).files
    assert (y.venue, y.rows_new) == ("bybit", 3)
    got = rows(
        db,
        "SELECT venue, symbol, side, price, quantity, round(notional_usd, 4), event_time "
        "FROM liquidations ORDER BY event_time",
    )
    assert got[0] == ("binance", "BTCUSDT", "long", 93450.0, 0.25, 23362.5, T("2025-01-01 00:00:01.045"))
    assert got[1][:3] == ("binance", "ETHUSDT", "short")
    assert got[2][:3] == ("binance", "SOLUSDT", "long")  # combined-stream wrapper
    assert [g[2] for g in got[3:]] == ["long", "short", "long"]  # Bybit: Buy = long liquidated
    assert import_files(db, "liquidations", [DATA / "forceorder.jsonl"]).rows_new == 0


def test_malformed_json_line(db: Database, tmp_path: Path) -> None:
    bad = tmp_path / "forceorder.jsonl"
    bad.write_text((DATA / "forceorder.jsonl").read_text() + '{"e":"forceOrder",\n')
    with pytest.raises(InputError) as err:
        import_files(db, "liquidations", [bad])
    assert err.value.line == 4
    assert rows(db, "SELECT count(*) FROM liquidations") == [(0,)]


def test_funding_archive_rest_json_and_open_interest(db: Database) -> None:
    (a,) = import_files(db, "funding", [DATA / "BTCUSDT-fundingRate-2024-01.csv"]).files
    assert (a.fmt, a.rows_new, a.last) == ("binance-funding", 3, T("2024-01-01 16:00"))
    assert import_files(db, "funding", [DATA / "fundingRate_ETHUSDT.json"]).rows_new == 2
    assert rows(
        db, "SELECT mark_price FROM funding_rates WHERE symbol = 'ETHUSDT' ORDER BY funding_time"
    ) == [(2282.1,), (2290.55,)]
    (m,) = import_files(db, "open_interest", [DATA / "BTCUSDT-metrics-2024-01-01.csv"]).files
    assert (m.fmt, m.rows_new, m.first) == ("binance-metrics", 2, T("2024-01-01 00:05"))
    # the REST JSON holds the same two points: nothing new
    assert import_files(db, "open_interest", [DATA / "openInterestHist_BTCUSDT.json"]).rows_new == 0
    assert rows(db, "SELECT open_interest, interval FROM open_interest ORDER BY ts LIMIT 1") == [
        (80540.487, "5m")
    ]


def test_generic_csv_mapping(db: Database) -> None:
    opts = ImportOptions(
        mapping=parse_mapping("time=ts,open=o,high=h,low=l,close=c,volume=v"),
        time_unit="iso",
        symbol="XRP/USDT",
        market="spot",
    )
    (r,) = import_files(db, "candles", [DATA / "generic_candles.csv"], opts).files
    assert (r.symbol, r.interval, r.rows_new, r.market) == ("XRPUSDT", "15m", 3, "spot")


def test_generic_csv_bad_value_names_the_line(db: Database, tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    text = (DATA / "generic_candles.csv").read_text().replace("60400.0", "n/a")
    bad.write_text(text)
    opts = ImportOptions(
        mapping=parse_mapping("time=ts,open=o,high=h,low=l,close=c"), time_unit="iso", symbol="XRPUSDT"
    )
    with pytest.raises(InputError) as err:
        import_files(db, "candles", [bad], opts)
    assert err.value.line == 3


def test_wrong_interval_is_refused(db: Database, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="grid"):
        import_files(db, "candles", [DATA / "ETHUSDT-1m-2024-03-02.csv"], ImportOptions(interval="5m"))


def test_cli_import_and_malformed_exit(cli, tmp_path: Path) -> None:
    db = tmp_path / "cli.duckdb"
    ok = cli(
        "import", "candles", "--db", str(db), "--format", "json", str(DATA / "ETHUSDT-1m-2024-03-02.csv")
    )
    assert ok.code == 0 and '"new": 4' in ok.out
    bad = cli("import", "candles", "--db", str(db), str(DATA / "bad" / "ETHUSDT-1m-2024-03-03.csv"))
    assert bad.code == 1 and "ETHUSDT-1m-2024-03-03.csv:4:" in bad.err and "Traceback" not in bad.err
    liq = cli("import", "liquidations", "--db", str(db), "--format", "csv", str(DATA / "forceorder.jsonl"))
    assert liq.code == 0 and "floor" in liq.err


def test_cli_unknown_layout(cli, tmp_path: Path) -> None:
    weird = tmp_path / "notes.csv"
    shutil.copy(DATA / "generic_candles.csv", weird)
    res = cli("import", "candles", "--db", str(tmp_path / "w.duckdb"), str(weird))
    assert res.code == 1 and "--map" in res.err
