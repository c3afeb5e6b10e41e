"""Import formats from our own fixtures (tests/data/market), malformed input and the CLI."""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile
from pathlib import Path

import pytest

from flushwatch.errors import InputError
from flushwatch.ingest.market.importer import MarketImportOptions, import_files, parse_mapping
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
    opts = MarketImportOptions(
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
    opts = MarketImportOptions(
        mapping=parse_mapping("time=ts,open=o,high=h,low=l,close=c"), time_unit="iso", symbol="XRPUSDT"
    )
    with pytest.raises(InputError) as err:
        import_files(db, "candles", [bad], opts)
    assert err.value.line == 3


def test_wrong_interval_is_refused(db: Database, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="grid"):
        import_files(db, "candles", [DATA / "ETHUSDT-1m-2024-03-02.csv"], MarketImportOptions(interval="5m"))


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


# -- audit fixes: zip folder hints, zone offsets, corrupt zips, FILE:LINE, spacing, sanity ----------

ARCHIVE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore\n"
)


def kline(
    i: int,
    o: str = "100.5",
    h: str = "101.0",
    lo: str = "100.0",
    c: str = "100.8",
    *,
    step_s: int = 60,
    volume: str = "12.5",
    start_ms: int = 1735689600000,
) -> str:
    """One Binance archive kline line (ms times) for bar ``i`` of a ``step_s`` series."""
    t = start_ms + i * step_s * 1000
    qv = "0" if volume == "0" else "1260.0"
    return f"{t},{o},{h},{lo},{c},{volume},{t + step_s * 1000 - 1},{qv},42,{volume},{qv},0\n"


def zip_beside(csv: Path) -> Path:
    """The CSV zipped next to itself, as data.binance.vision ships it."""
    z = csv.with_suffix(".zip")
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(csv, csv.name)
    return z


def test_zip_takes_market_from_its_folders_like_the_csv(tmp_path: Path) -> None:
    index_dir = tmp_path / "data/futures/um/daily/indexPriceKlines/BTCUSDT/1m"
    index_dir.mkdir(parents=True)
    index_csv = index_dir / "BTCUSDT-1m-2025-01-01.csv"
    index_csv.write_text(
        kline(0, "93576.0", "93610.9", "93537.5", "93610.9", volume="0") + kline(1, volume="0")
    )
    doge_dir = tmp_path / "data/futures/um/daily/klines/DOGEUSDT/1m"
    doge_dir.mkdir(parents=True)
    doge_csv = doge_dir / "DOGEUSDT-1m-2025-01-01.csv"
    doge_csv.write_text(kline(0, "0.31500000", "0.31600000", "0.31400000", "0.31550000"))
    for source in (index_csv, doge_csv):
        got = {}
        for path in (source, zip_beside(source)):
            db = Database(tmp_path / f"{path.name}.duckdb", wait_s=5, snapshot=False)
            (r,) = import_files(db, "candles", [path]).files
            got[path.suffix] = (r.market, r.symbol, r.interval, r.rows_new)
            assert rows(db, "SELECT DISTINCT market FROM candles") == [(r.market,)]
        assert got[".zip"] == got[".csv"]
        assert got[".zip"][0] == ("index" if source is index_csv else "perp")


def test_zip_member_without_hints_falls_back_to_the_zip_name(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "spot/daily/klines"
    folder.mkdir(parents=True)
    z = folder / "ETHUSDT-1m-2024-03-02.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("data.csv", kline(0) + kline(1))
    (r,) = import_files(db, "candles", [z]).files
    assert (r.symbol, r.interval, r.market) == ("ETHUSDT", "1m", "spot")


def test_liquidation_log_honours_zone_offsets(db: Database, tmp_path: Path) -> None:
    log_csv = tmp_path / "liquidations.csv"
    log_csv.write_text(
        "timestamp,symbol,side,avg_price,filled_qty,usd_value\n"
        "2025-10-22T11:36:42.306+02:00,BTCUSDT,SELL,100,1,100\n"
        "2025-10-22T09:36:43.5,ETHUSDT,BUY,10,2,20\n"  # no zone: UTC
    )
    import_files(db, "liquidations", [log_csv])
    assert rows(db, "SELECT symbol, event_time FROM liquidations ORDER BY event_time") == [
        ("BTCUSDT", T("2025-10-22 09:36:42.306")),
        ("ETHUSDT", T("2025-10-22 09:36:43.5")),
    ]


def corrupt_zip(tmp_path: Path) -> Path:
    """A zip whose deflate stream is scrambled mid-file, so reading it raises zlib.error (not the
    BadZipFile of a CRC mismatch): a few offsets are tried, as compressors differ."""
    import random
    import zlib

    rnd = random.Random(1)
    text = "".join(
        kline(i, f"{rnd.uniform(3000, 3400):.2f}", "3500.00", "2900.00", f"{rnd.uniform(3000, 3400):.2f}")
        for i in range(3000)
    )
    z = tmp_path / "ETHUSDT-1m-2025-01-01.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ETHUSDT-1m-2025-01-01.csv", text)
    original = z.read_bytes()
    for frac in (3, 2, 4, 5):
        data = bytearray(original)
        at = len(data) // frac
        data[at : at + 256] = b"\xff" * 256
        z.write_bytes(bytes(data))
        try:
            with zipfile.ZipFile(z) as zf:
                zf.read(zf.infolist()[0])
        except zlib.error:
            return z
        except zipfile.BadZipFile:
            continue
    raise AssertionError("could not make a zip that fails with zlib.error")


def test_corrupt_zip_member_is_one_error_and_the_batch_goes_on(db: Database, tmp_path: Path) -> None:
    bad = corrupt_zip(tmp_path)
    good = DATA / "ETHUSDT-1m-2024-03-02.csv"
    summary = import_files(db, "candles", [bad, good])
    assert summary.rows_new == 4 and len(summary.errors) == 1
    assert summary.errors[0].startswith(f"{bad}: corrupt or unreadable zip file")
    with pytest.raises(InputError, match="corrupt or unreadable zip"):
        import_files(db, "candles", [bad])


def test_cli_corrupt_zip_exit_codes(cli, tmp_path: Path) -> None:
    bad = corrupt_zip(tmp_path)
    db = str(tmp_path / "z.duckdb")
    many = cli("import", "candles", "--db", db, str(bad), str(DATA / "ETHUSDT-1m-2024-03-02.csv"))
    assert many.code == 3 and "Traceback" not in many.err and str(bad) in many.err
    # the good file is stored
    with Database(tmp_path / "z.duckdb", wait_s=5, snapshot=False).read() as con:
        assert con.execute("SELECT count(*) FROM candles").fetchone() == (4,)
    one = cli("import", "candles", "--db", db, str(bad))
    assert one.code == 1 and "Traceback" not in one.err
    assert [ln for ln in one.err.splitlines() if ln.startswith("flushwatch: error:")] == [
        ln for ln in one.err.splitlines() if ln.strip()
    ]


FORCE_ORDER = (
    '{{"e":"forceOrder","E":1735689601050,"o":{{"s":"BTCUSDT","S":"{side}","q":"0.250","p":"93400.10",'
    '"ap":"{ap}","X":"FILLED","l":"0.250","z":"0.250","T":{t}}}}}\n'
)


@pytest.mark.parametrize(
    ("kind", "name", "text", "line", "words"),
    [
        (
            "candles",
            "XRPUSDT-1m-2024-03-02.csv",
            ARCHIVE_HEADER + kline(0) + kline(1, o="") + kline(2),
            3,
            "is empty",
        ),
        (
            "liquidations",
            "liq.csv",
            "timestamp,symbol,side,avg_price,filled_qty,usd_value\n"
            "2025-10-22T09:36:42,BTCUSDT,SELL,100,1,100\n2025-10-22T09:36:43,BTCUSDT,HOLD,100,1,100\n",
            3,
            "side",
        ),
        (
            "liquidations",
            "forceorder.jsonl",
            FORCE_ORDER.format(side="SELL", ap="93450.00", t=1735689601045)
            + FORCE_ORDER.format(side="SELL", ap="n/a", t=1735689601046),
            2,
            "ap 'n/a' is not a number",
        ),
        (
            "liquidations",
            "forceorder2.jsonl",
            FORCE_ORDER.format(side="SELL", ap="93450.00", t=1735689601045)
            + FORCE_ORDER.format(side="BUY", ap="93450.00", t=1735689601046)
            + FORCE_ORDER.format(side="SELL", ap="93450.00", t='"soon"'),
            3,
            "T 'soon' is not a whole number",
        ),
        (
            "liquidations",
            "forceorder3.jsonl",
            FORCE_ORDER.format(side="SELL", ap="93450.00", t=1735689601045)
            + FORCE_ORDER.format(side="HOLD", ap="93450.00", t=1735689601046),
            2,
            "side",
        ),
    ],
    ids=["empty-open", "log-side", "json-number", "json-time", "json-side"],
)
def test_bad_values_name_file_and_line(
    db: Database, tmp_path: Path, kind: str, name: str, text: str, line: int, words: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as err:
        import_files(db, kind, [path])
    assert (err.value.path, err.value.line) == (str(path), line)
    assert words in str(err.value) and "Error:" not in str(err.value)  # no bare DuckDB error text
    table = "candles" if kind == "candles" else "liquidations"
    assert rows(db, f"SELECT count(*) FROM {table}") == [(0,)]


def test_json_array_errors_name_the_message(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "forceorder.json"
    path.write_text(
        "[\n"
        + FORCE_ORDER.format(side="SELL", ap="93450.00", t=1735689601045).strip()
        + ",\n"
        + FORCE_ORDER.format(side="SELL", ap="x", t=1735689601046).strip()
        + "\n]\n"
    )
    with pytest.raises(InputError, match=r"forceorder\.json: message 2: ap 'x' is not a number"):
        import_files(db, "liquidations", [path])


def test_interval_finer_than_the_data_is_refused(db: Database, tmp_path: Path) -> None:
    five = "".join(kline(i, step_s=300) for i in range(6))
    given = tmp_path / "ADAUSDT-2024-03-02.csv"
    given.write_text(five)
    with pytest.raises(
        InputError, match=r"looks like 5m bars.*coarser than 1m \(1m from --interval\)"
    ) as err:
        import_files(db, "candles", [given], MarketImportOptions(interval="1m", symbol="ADAUSDT"))
    assert "--interval 5m" in err.value.one_line()
    named = tmp_path / "LTCUSDT-1m-2024-03-02.csv"
    named.write_text(five)
    with pytest.raises(InputError, match="from the file name"):
        import_files(db, "candles", [named])
    assert rows(db, "SELECT count(*) FROM candles") == [(0,)]
    (r,) = import_files(db, "candles", [named], MarketImportOptions(interval="5m")).files
    assert (r.interval, r.rows_new) == ("5m", 6)
    # a gap (missing bars) does not change what the series looks like
    gappy = tmp_path / "DOTUSDT-1m-2024-03-02.csv"
    gappy.write_text("".join(kline(i) for i in (0, 1, 2, 7, 8, 9, 10)))
    assert import_files(db, "candles", [gappy]).rows_new == 7


def test_generic_csv_bad_optional_number_names_the_line(db: Database, tmp_path: Path) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("ts,o,h,l,c,v\n2024-05-01T00:00:00Z,1,2,0.5,1.5,3\n2024-05-01T00:15:00Z,1,2,0.5,1.5,abc\n")
    opts = MarketImportOptions(
        mapping=parse_mapping("time=ts,open=o,high=h,low=l,close=c,volume=v"),
        time_unit="iso",
        symbol="XRPUSDT",
    )
    with pytest.raises(InputError) as err:
        import_files(db, "candles", [bad], opts)
    assert err.value.line == 3 and "volume (column v) 'abc' is not a number" in str(err.value)
    assert rows(db, "SELECT count(*) FROM candles") == [(0,)]


def test_generic_csv_keeps_optional_candle_fields(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(
        "ts,o,h,l,c,qv,n\n2024-05-01T00:00:00Z,1,2,0.5,1.5,10,3\n2024-05-01T00:15:00Z,1,2,0.5,1.5,11,4\n"
    )
    opts = MarketImportOptions(
        mapping=parse_mapping("time=ts,open=o,high=h,low=l,close=c,quote_volume=qv,trades=n"),
        time_unit="iso",
        symbol="XRPUSDT",
    )
    import_files(db, "candles", [path], opts)
    assert rows(db, "SELECT quote_volume, trades FROM candles ORDER BY open_time") == [(10.0, 3), (11.0, 4)]


def test_json_without_force_orders_is_refused(db: Database, tmp_path: Path) -> None:
    agg = tmp_path / "aggtrades.jsonl"
    agg.write_text('{"e":"aggTrade","E":1735689601050,"s":"BTCUSDT","a":1,"p":"93400.1","q":"0.1","T":1}\n')
    with pytest.raises(InputError, match=r"aggtrades\.jsonl: no forceOrder messages found"):
        import_files(db, "liquidations", [agg])
    with pytest.raises(InputError, match="no fundingRate"):
        import_files(db, "funding", [DATA / "forceorder.jsonl"])


@pytest.mark.parametrize(
    ("bar", "words"),
    [
        (kline(2, h="99.0", lo="100.0"), "high and low"),  # high < low
        (kline(2, o="101.5"), "high and low"),  # high < open
        (kline(2, c="99.5"), "high and low"),  # low > close
        (kline(2, o="0", lo="0"), "zero, negative"),
        (kline(2, o="-1", lo="-1"), "zero, negative"),
    ],
    ids=["high<low", "high<open", "low>close", "zero", "negative"],
)
def test_ohlc_sanity(db: Database, tmp_path: Path, bar: str, words: str) -> None:
    path = tmp_path / "SUIUSDT-1m-2024-03-02.csv"
    path.write_text(ARCHIVE_HEADER + kline(0) + kline(1) + bar + kline(3))
    with pytest.raises(InputError) as err:
        import_files(db, "candles", [path])
    assert err.value.line == 4 and words in str(err.value)
    assert rows(db, "SELECT count(*) FROM candles") == [(0,)]
