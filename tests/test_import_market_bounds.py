"""Market imports refuse what they would otherwise misread: times out of range in any unit,
absurd values, conflicting duplicates, over-long lines, archive bombs and garbage files.

Each test writes real files into a tmp dir and imports them into a real DuckDB file. A refused
file is one InputError naming FILE:LINE where a line is known, and nothing of it is stored.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest

from flushwatch.errors import ConfigError, InputError
from flushwatch.ingest.market import bounds, sniff, unpack
from flushwatch.ingest.market.importer import MarketImportOptions, import_files, parse_mapping
from flushwatch.storage.db import Database

ARCHIVE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore\n"
)
T0 = 1735689600000  # 2025-01-01 00:00 UTC, ms
# 9999-12-31 22:51 UTC in ms: read as µs (>= 1e14) it is 1978-01-11 21:31, on the minute grid.
YEAR_9999_MS = 253402260000000
TABLES = {"candles": "candles", "funding": "funding_rates", "liquidations": "liquidations"}
TABLES["open_interest"] = "open_interest"


def kline(
    t: int | str, o: str = "100.5", h: str = "101.0", lo: str = "100.0", c: str = "100.8", **kw: str
) -> str:
    """One Binance archive kline line; ``kw`` overrides volume, quote_volume, count."""
    v = kw.get("volume", "12.5")
    qv = kw.get("quote_volume", "1260.0")
    n = kw.get("count", "42")
    close_time = int(t) + 59999 if str(t).lstrip("-").isdigit() else t
    return f"{t},{o},{h},{lo},{c},{v},{close_time},{qv},{n},{v},{qv},0\n"


def bars(n: int, start: int = T0) -> str:
    return "".join(kline(start + i * 60000) for i in range(n))


def count(db: Database, table: str) -> int:
    with db.read() as con:
        row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def refused(db: Database, kind: str, path: Path, options: MarketImportOptions | None = None) -> InputError:
    """Import ``path`` expecting a refusal; the error is one line and nothing is stored."""
    with pytest.raises(InputError) as err:
        import_files(db, kind, [path], options)
    assert "\n" not in err.value.one_line()
    assert count(db, TABLES[kind]) == 0
    return err.value


# -- times ---------------------------------------------------------------------------------------


def test_year_9999_ms_bar_is_not_read_as_1978_microseconds(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2025-01-01.csv"
    path.write_text(ARCHIVE_HEADER + kline(YEAR_9999_MS))
    err = refused(db, "candles", path)
    assert err.line == 2 and str(YEAR_9999_MS) in str(err) and "2009-01-01 .. 2100-01-01" in str(err)


@pytest.mark.parametrize("t", ["-1672531200000", "0", "1230767999999", "4102444800000", "4102444800000000"])
def test_archive_times_outside_2009_2100_are_refused_in_any_unit(
    db: Database, tmp_path: Path, t: str
) -> None:
    path = tmp_path / "BTCUSDT-1m-2025-01-01.csv"
    path.write_text(ARCHIVE_HEADER + bars(2) + kline(t))
    err = refused(db, "candles", path)
    assert err.line == 4 and repr(t) in str(err)


def test_microsecond_archive_in_range_still_imports(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2025-01-01.csv"
    lines = [kline((T0 + i * 60000) * 1000).split(",") for i in range(3)]
    path.write_text("".join(",".join([f[0], *f[1:6], str(int(f[0]) + 59_999_999), *f[7:]]) for f in lines))
    (r,) = import_files(db, "candles", [path]).files
    assert r.rows_new == 3 and str(r.first).startswith("2025-01-01 00:00:00")


@pytest.mark.parametrize(
    ("close_time", "words"),
    [("abc", "close_time"), (str(T0 - 1), "close_time is not a time after"), ("", "close_time")],
    ids=["text", "before-open", "empty"],
)
def test_archive_close_time_is_read_and_checked(
    db: Database, tmp_path: Path, close_time: str, words: str
) -> None:
    """close_time is not stored, so DuckDB would not even parse it unless the importer asks."""
    fields = kline(T0 + 60000).split(",")
    path = tmp_path / "BTCUSDT-1m-2025-01-01.csv"
    path.write_text(ARCHIVE_HEADER + kline(T0) + ",".join([*fields[:6], close_time, *fields[7:]]))
    err = refused(db, "candles", path)
    assert err.line == 3 and words in str(err)


def test_funding_archive_interval_hours_is_read_and_checked(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-fundingRate-2024-01.csv"
    path.write_text(
        "calc_time,funding_interval_hours,last_funding_rate\n1704067200000,8,0.0001\n1704096000000,x,0.0001\n"
    )
    assert refused(db, "funding", path).line == 3
    path.write_text("calc_time,funding_interval_hours,last_funding_rate\n1704067200000,8.5,0.0001\n")
    assert "funding_interval_hours" in str(refused(db, "funding", path))


def test_fractional_times_and_counts_are_not_rounded(db: Database, tmp_path: Path) -> None:
    frac_time = tmp_path / "BTCUSDT-1m-2025-01-01.csv"
    frac_time.write_text(
        ARCHIVE_HEADER + bars(1) + kline("1735689660000.4").replace("1735689660000.4,", "1735689660000.4,", 1)
    )
    assert refused(db, "candles", frac_time).line == 3
    frac_count = tmp_path / "ETHUSDT-1m-2025-01-01.csv"
    frac_count.write_text(ARCHIVE_HEADER + bars(1) + kline(T0 + 60000, count="42.7"))
    err = refused(db, "candles", frac_count)
    assert err.line == 3 and "trade count" in str(err)


def test_sub_second_bar_off_the_grid_is_refused(db: Database, tmp_path: Path) -> None:
    """00:00:59.600 rounds to a whole minute in epoch seconds, but is not on the 1m grid."""
    path = tmp_path / "BTCUSDT-1m-2025-01-01.csv"
    path.write_text(ARCHIVE_HEADER + kline(T0) + kline(T0 + 119600))
    with pytest.raises(InputError, match="not on the 1m grid"):
        import_files(db, "candles", [path])
    assert count(db, "candles") == 0


FORCE_ORDER = (
    '{{"e":"forceOrder","E":1735689601050,"o":{{"s":"{s}","S":"SELL","q":"0.250","p":"93400.10",'
    '"ap":"{ap}","X":"FILLED","l":"0.250","z":"{z}","T":{t}}}}}\n'
)


def force_order(t: object = 1735689601045, ap: str = "93450.00", z: str = "0.250", s: str = "BTCUSDT") -> str:
    return FORCE_ORDER.format(t=t, ap=ap, z=z, s=s)


LIQ_HEADER = "timestamp,symbol,side,avg_price,filled_qty,usd_value\n"
METRICS_HEADER = (
    "create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,"
    "sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio\n"
)


def funding_json(t: object, rate: str = "0.0001", mark: str = "2282.1") -> str:
    return json.dumps([{"symbol": "ETHUSDT", "fundingTime": t, "fundingRate": rate, "markPrice": mark}])


def oi_json(t: object, oi: str = "80540.487", usd: str = "3400000000.0") -> str:
    row = {"symbol": "BTCUSDT", "sumOpenInterest": oi, "sumOpenInterestValue": usd, "timestamp": t}
    return json.dumps([row])


# (kind, file name, text, line named or None, options): every reader, a time out of range.
BAD_TIMES = [
    (
        "candles",
        "BTC_USDT-1m.csv",
        "open_time_ms,open_time_utc,open,high,low,close,volume\n"
        "1735689600000,x,1,2,0.5,1.5,3\n-5,x,1,2,0.5,1.5,3\n",
        3,
        None,
    ),
    (
        "candles",
        "BTC_USDT-1m.csv",
        "date,open,high,low,close,volume\n"
        "2025-01-01 00:00:00+00:00,1,2,0.5,1.5,3\n1917-01-01 00:00:00+00:00,1,2,0.5,1.5,3\n",
        3,
        None,
    ),
    ("candles", "BTC_USDT-1m.json", f"[[{T0},1,2,0.5,1.5,3],[{YEAR_9999_MS},1,2,0.5,1.5,3]]", None, None),
    ("candles", "BTC_USDT-1m.json", f"[[{T0},1,2,0.5,1.5,3],[1e300,1,2,0.5,1.5,3]]", None, None),
    (
        "funding",
        "BTCUSDT-fundingRate-2024-01.csv",
        "calc_time,funding_interval_hours,last_funding_rate\n1704067200000,8,0.0001\n0,8,0.0001\n",
        3,
        None,
    ),
    ("funding", "fundingRate_ETHUSDT.json", funding_json(YEAR_9999_MS), None, None),
    ("funding", "fundingRate_ETHUSDT.json", funding_json(1704067200), None, None),  # seconds, not ms
    (
        "liquidations",
        "liq.csv",
        LIQ_HEADER + "2025-10-22T09:36:42,BTCUSDT,SELL,100,1,100\n"
        "9999-12-31T00:00:00,BTCUSDT,SELL,100,1,100\n",
        3,
        None,
    ),
    ("liquidations", "forceorder.jsonl", force_order() + force_order(t=-1), 2, None),
    ("liquidations", "forceorder.jsonl", force_order() + force_order(t="1e300"), 2, None),
    (
        "open_interest",
        "BTCUSDT-metrics-2024-01-01.csv",
        METRICS_HEADER + "2024-01-01 00:05:00,BTCUSDT,1,2,,,,\n1970-01-01 00:00:00,BTCUSDT,1,2,,,,\n",
        3,
        None,
    ),
    ("open_interest", "openInterestHist_BTCUSDT.json", oi_json(YEAR_9999_MS), None, None),
    (
        "candles",
        "x.csv",
        "ts,o,h,l,c\n1735689600,1,2,0.5,1.5\n",
        2,  # seconds given as ms
        MarketImportOptions(mapping=parse_mapping("time=ts,open=o,high=h,low=l,close=c"), symbol="BTCUSDT"),
    ),
    (
        "candles",
        "x.csv",
        "ts,o,h,l,c\n1735689600000,1,2,0.5,1.5\n",
        2,  # ms given as seconds
        MarketImportOptions(
            mapping=parse_mapping("time=ts,open=o,high=h,low=l,close=c"), symbol="BTCUSDT", time_unit="s"
        ),
    ),
    (
        "funding",
        "x.csv",
        "ts,r\n2200-01-01T00:00:00Z,0.0001\n",
        2,
        MarketImportOptions(mapping=parse_mapping("time=ts,rate=r"), symbol="BTCUSDT", time_unit="iso"),
    ),
]


@pytest.mark.parametrize(("kind", "name", "text", "line", "options"), BAD_TIMES)
def test_every_reader_refuses_times_outside_2009_2100(
    db: Database,
    tmp_path: Path,
    kind: str,
    name: str,
    text: str,
    line: int | None,
    options: MarketImportOptions | None,
) -> None:
    path = tmp_path / name
    path.write_text(text)
    err = refused(db, kind, path, options)
    assert err.line == line and err.path == str(path)
    assert "2009-01-01 .. 2100-01-01" in str(err) or "is not a whole number" in str(err)


def test_feather_time_outside_range_is_refused(db: Database, tmp_path: Path) -> None:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.feather as feather

    dates = pa.array(
        [dt.datetime(2025, 2, 1, tzinfo=dt.UTC), dt.datetime(1990, 2, 1, tzinfo=dt.UTC)],
        pa.timestamp("ms", tz="UTC"),
    )
    path = tmp_path / "BTC_USDT_USDT-5m-futures.feather"
    cols = {
        "open": [1.0, 1.0],
        "high": [2.0, 2.0],
        "low": [0.5, 0.5],
        "close": [1.5, 1.5],
        "volume": [1.0, 1.0],
    }
    feather.write_feather(pa.table({"date": dates, **cols}), path)
    err = refused(db, "candles", path)
    assert "row 2:" in str(err) and "1990-02-01" in str(err)


# -- values --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bar", "words"),
    [
        (kline(T0 + 120000, h="1e308"), "above 1e+12"),
        (kline(T0 + 120000, volume="-5"), "a volume"),
        (kline(T0 + 120000, quote_volume="inf"), "a volume"),
        (kline(T0 + 120000, volume="1e19"), "a volume"),
        (kline(T0 + 120000, count="-1"), "trade count"),
    ],
    ids=["high-1e308", "volume-negative", "quote-volume-inf", "volume-huge", "trades-negative"],
)
def test_absurd_candle_values_are_refused(db: Database, tmp_path: Path, bar: str, words: str) -> None:
    path = tmp_path / "BTCUSDT-1m-2025-01-01.csv"
    path.write_text(ARCHIVE_HEADER + bars(2) + bar)
    err = refused(db, "candles", path)
    assert err.line == 4 and words in str(err)


@pytest.mark.parametrize(
    ("kind", "name", "text", "line", "words"),
    [
        (
            "funding",
            "BTCUSDT-fundingRate-2024-01.csv",
            "calc_time,funding_interval_hours,last_funding_rate\n1704067200000,8,0.0001\n1704096000000,8,5\n",
            3,
            "funding rate beyond",
        ),
        (
            "funding",
            "fundingRate_ETHUSDT.json",
            funding_json(1704067200000, rate="-1.5"),
            None,
            "funding rate",
        ),
        ("funding", "fundingRate_ETHUSDT.json", funding_json(1704067200000, mark="-3"), None, "mark price"),
        (
            "liquidations",
            "liq.csv",
            LIQ_HEADER + "2025-10-22T09:36:42,BTCUSDT,SELL,100,1,-100\n",
            2,
            "notional value",
        ),
        (
            "liquidations",
            "liq.csv",
            LIQ_HEADER + "2025-10-22T09:36:42,BTCUSDT,SELL,1e13,1,\n",
            2,
            "price is above",
        ),
        (
            "liquidations",
            "liq.csv",
            LIQ_HEADER + "2025-10-22T09:36:42,BTC\x00USDT,SELL,100,1,100\n",
            2,
            "symbol",
        ),
        ("liquidations", "forceorder.jsonl", force_order(s="BTC USDT"), 1, "symbol"),
        (
            "open_interest",
            "BTCUSDT-metrics-2024-01-01.csv",
            METRICS_HEADER + "2024-01-01 00:05:00,BTCUSDT,1,-2,,,,\n",
            2,
            "open interest value",
        ),
        (
            "open_interest",
            "openInterestHist_BTCUSDT.json",
            oi_json(1704067500000, oi="1e300"),
            None,
            "open interest",
        ),
    ],
    ids=[
        "rate-500pct",
        "rate-json",
        "mark-negative",
        "notional-negative",
        "price-huge",
        "symbol-nul",
        "symbol-space",
        "oi-usd-negative",
        "oi-huge",
    ],
)
def test_absurd_values_are_refused_for_every_kind(
    db: Database, tmp_path: Path, kind: str, name: str, text: str, line: int | None, words: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    err = refused(db, kind, path)
    assert err.line == line and words in str(err)


def test_freqtrade_json_bar_of_other_than_six_values_is_refused(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "BTC_USDT-1m.json"
    path.write_text(f"[[{T0},1,2,0.5,1.5,3],[{T0 + 60000},1,2,0.5,1.5,3,99]]")
    err = refused(db, "candles", path)
    assert "bar 2:" in str(err) and "six numbers" in str(err)


def test_symbol_option_with_control_characters_is_a_usage_error(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(ARCHIVE_HEADER + bars(2))
    with pytest.raises(ConfigError, match="--symbol"):
        import_files(db, "candles", [path], MarketImportOptions(symbol="BTC\x00USDT", interval="1m"))


def test_bounds_are_documented(tmp_path: Path) -> None:
    """The bounds live in one place and the import docs state each of them."""
    doc = (Path(__file__).parent.parent / "docs" / "market-data.md").read_text()
    for shown in ("2009-01-01", "2100-01-01", "1e12", "1e18", "100 %", "1 MiB", "1 GiB", "200"):
        assert shown in doc, shown
    assert bounds.MAX_PRICE == 1e12 and bounds.MAX_FUNDING_RATE == 1.0


# -- duplicates ----------------------------------------------------------------------------------


def test_conflicting_duplicate_bars_refuse_the_file_naming_both_lines(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2025-01-01.csv"
    path.write_text(
        ARCHIVE_HEADER + kline(T0) + kline(T0 + 60000) + kline(T0, c="100.9") + kline(T0 + 120000)
    )
    err = refused(db, "candles", path)
    assert err.line == 2 and "conflicting duplicate: line 4" in str(err) and "1 open time" in str(err)


def test_exact_duplicate_bars_are_stored_once_without_a_word(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2025-01-01.csv"
    path.write_text(ARCHIVE_HEADER + kline(T0) + kline(T0 + 60000) + kline(T0))
    (r,) = import_files(db, "candles", [path]).files
    assert (r.rows_read, r.rows_new) == (3, 2)
    assert import_files(db, "candles", [path]).rows_new == 0


@pytest.mark.parametrize(
    ("kind", "name", "text", "line", "other"),
    [
        (
            "funding",
            "BTCUSDT-fundingRate-2024-01.csv",
            "calc_time,funding_interval_hours,last_funding_rate\n"
            "1704067200000,8,0.0001\n1704067200400,8,0.0002\n",
            2,
            "line 3",
        ),
        (
            "liquidations",
            "liq.csv",
            LIQ_HEADER + "2025-10-22T09:36:42,BTCUSDT,SELL,100,1,100\n"
            "2025-10-22T09:36:43,BTCUSDT,SELL,100,1,100\n2025-10-22T09:36:42,BTCUSDT,SELL,100,1,101\n",
            2,
            "line 4",
        ),
        (
            "open_interest",
            "BTCUSDT-metrics-2024-01-01.csv",
            METRICS_HEADER + "2024-01-01 00:05:00,BTCUSDT,1,2,,,,\n2024-01-01 00:05:00,BTCUSDT,1,3,,,,\n",
            2,
            "line 3",
        ),
    ],
    ids=["funding-same-second", "liquidation-notional", "open-interest"],
)
def test_conflicting_duplicates_refuse_every_kind(
    db: Database, tmp_path: Path, kind: str, name: str, text: str, line: int, other: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    err = refused(db, kind, path)
    assert err.line == line and f"conflicting duplicate: {other}" in str(err)


# -- silent truncation ---------------------------------------------------------------------------


def test_a_last_line_of_40_mb_junk_refuses_the_file(db: Database, tmp_path: Path) -> None:
    """DuckDB drops a last line longer than its 32 MiB read buffer without an error."""
    path = tmp_path / "BTCUSDT-1m-2025-01-01.csv"
    with open(path, "w") as fh:
        fh.write(ARCHIVE_HEADER + bars(5))
        fh.write("x" * (40 << 20) + "\n")
    err = refused(db, "candles", path)
    assert err.line == 7 and "longer than" in str(err)


@pytest.mark.parametrize("wrap", ["csv", "gz", "zip"])
def test_an_over_long_line_anywhere_refuses_the_file(db: Database, tmp_path: Path, wrap: str) -> None:
    text = (
        ARCHIVE_HEADER + bars(2) + "9" * (bounds.MAX_LINE_BYTES + 1) + "\n" + bars(2, T0 + 600000)
    ).encode()
    path = tmp_path / "BTCUSDT-1m-2025-01-01.csv"
    path.write_bytes(text)
    if wrap == "gz":
        path = path.with_suffix(".csv.gz")
        path.write_bytes(gzip.compress(text))
    elif wrap == "zip":
        path = path.with_suffix(".zip")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("BTCUSDT-1m-2025-01-01.csv", text)
    err = refused(db, "candles", path)
    assert err.line == 4 and "longer than 1,048,576 bytes" in str(err)


def test_a_short_metrics_line_is_not_padded_with_nulls(db: Database, tmp_path: Path) -> None:
    """A truncated last line (fewer fields) was read with NULLs in the missing fields."""
    path = tmp_path / "BTCUSDT-metrics-2024-01-01.csv"
    path.write_text(
        METRICS_HEADER + "2024-01-01 00:05:00,BTCUSDT,80540.487,3400000000.0,,,,\n"
        "2024-01-01 00:10:00,BTCUSDT,80540.4\n"
    )
    err = refused(db, "open_interest", path)
    assert err.line == 3 and "Expected Number of Columns" in str(err)


def test_head_lines_reads_at_most_64k_of_a_line(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("1" * (1 << 22))
    lines, _ = sniff.head_lines(path, 3)
    assert len(lines[0]) == sniff.HEAD_LINE_CHARS


# -- archives ------------------------------------------------------------------------------------


def zeros_zip(path: Path, megabytes: int, member: str = "BTCUSDT-1m-2025-01-01.csv") -> Path:
    """``megabytes`` MiB of kline lines, zipped: ~1000x smaller packed (a bomb's shape)."""
    line = kline(T0).encode() * 16384
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open(member, "w", force_zip64=True) as w:
        for _ in range(megabytes * (1 << 20) // len(line)):
            w.write(line)
    return path


def test_zip_bomb_stops_at_the_cap_and_the_batch_goes_on(db: Database, tmp_path: Path) -> None:
    bomb = zeros_zip(tmp_path / "BTCUSDT-1m-2025-01-01.zip", 300)
    assert bomb.stat().st_size < 2 << 20
    good = tmp_path / "ETHUSDT-1m-2025-01-01.csv"
    good.write_text(ARCHIVE_HEADER + bars(3))
    summary = import_files(db, "candles", [bomb, good], MarketImportOptions(max_unpacked_bytes=8 << 20))
    assert summary.rows_new == 3 and len(summary.errors) == 1
    assert summary.errors[0].startswith(f"{bomb}!BTCUSDT-1m-2025-01-01.csv: declares")
    assert "bomb" in summary.errors[0]


def test_zip_lying_about_its_size_stops_at_the_cap(db: Database, tmp_path: Path) -> None:
    """A header may declare any size: the unpacked bytes are counted as they stream."""
    import struct

    bomb = zeros_zip(tmp_path / "BTCUSDT-1m-2025-01-01.zip", 40)
    raw = bytearray(bomb.read_bytes())
    for sig, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        pos = raw.find(sig)
        raw[pos + at : pos + at + 4] = struct.pack("<I", 1000)
    bomb.write_bytes(bytes(raw))
    err = refused(db, "candles", bomb, MarketImportOptions(max_unpacked_bytes=8 << 20))
    assert "corrupt" in str(err) or "cap" in str(err)


def test_gzip_bomb_stops_at_the_cap(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2025-01-01.csv.gz"
    line = kline(T0).encode() * 16384
    with gzip.open(path, "wb") as w:
        for _ in range(100 * (1 << 20) // len(line)):
            w.write(line)
    err = refused(db, "candles", path, MarketImportOptions(max_unpacked_bytes=8 << 20))
    assert "unpacks past the cap of 8,388,608 bytes" in str(err) and err.path == str(path)


def test_default_cap_is_the_floor_or_200x_the_packed_size(db: Database, tmp_path: Path) -> None:
    assert unpack._unpack_cap(1000) == 1 << 30
    assert unpack._unpack_cap(10 << 20) == 2000 << 20
    real = zeros_zip(tmp_path / "BTCUSDT-1m-2025-01-01.zip", 2)  # packed ~1000x, under the floor
    (r,) = import_files(db, "candles", [real]).files  # one bar repeated: exact duplicates, stored once
    assert r.rows_new == 1 and r.rows_read > 10_000


def test_gz_files_import_through_the_capped_unpacker(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2025-01-01.csv.gz"
    path.write_bytes(gzip.compress((ARCHIVE_HEADER + bars(4)).encode()))
    assert import_files(db, "candles", [path]).rows_new == 4
    broken = tmp_path / "ETHUSDT-1m-2025-01-01.csv.gz"
    broken.write_bytes(gzip.compress((ARCHIVE_HEADER + bars(4)).encode())[:-20])
    assert "corrupt or unreadable gzip" in str(refused_after(db, "candles", broken))


def refused_after(db: Database, kind: str, path: Path) -> InputError:
    with pytest.raises(InputError) as err:
        import_files(db, kind, [path])
    return err.value


@pytest.mark.parametrize("suffix", [".zst", ".bz2", ".xz"])
def test_compressions_duckdb_would_unpack_unbounded_are_refused(
    db: Database, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"BTCUSDT-1m-2025-01-01.csv{suffix}"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"\0" * 100)
    assert "not read" in str(refused(db, "candles", path))


# -- garbage: one line, no traceback -------------------------------------------------------------

GARBAGE = {
    "binary": bytes(range(256)) * 40,
    "empty": b"",
    "header-only": ARCHIVE_HEADER.encode(),
    "nul-bytes": ARCHIVE_HEADER.encode() + b"\0" * 500 + b"\n",
    "invalid-utf8": ARCHIVE_HEADER.encode() + b"1735689600000,\xff\xfe,1,1,1,1,1,1,1,1,1,0\n",
    "field-over-131072": (
        ARCHIVE_HEADER + "1735689600000," + "7" * 131_073 + ",1,1,1,1,1,1,1,1,1,0\n"
    ).encode(),
    "single-3mb-line": b"4" * (3 << 20),
}
COMMANDS = {
    "candles": "BTCUSDT-1m-2025-01-01.csv",
    "funding": "BTCUSDT-fundingRate-2024-01.csv",
    "liquidations": "liquidations.csv",
    "open-interest": "BTCUSDT-metrics-2024-01-01.csv",
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("garbage", sorted(GARBAGE))
@pytest.mark.parametrize("suffix", ["", ".json", ".gz"])
def test_garbage_gives_one_line_and_no_traceback(
    cli, tmp_path: Path, command: str, garbage: str, suffix: str
) -> None:
    name = COMMANDS[command] + suffix
    data = gzip.compress(GARBAGE[garbage]) if suffix == ".gz" else GARBAGE[garbage]
    path = tmp_path / name
    path.write_bytes(data)
    res = cli("import", command, "--db", str(tmp_path / "g.duckdb"), str(path))
    assert res.code == 1, res.err
    lines = [ln for ln in res.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("flushwatch: error:") and "Traceback" not in res.err
    assert str(path) in lines[0]


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_200_mb_single_line_is_refused_after_reading_1_mib(cli, tmp_path: Path, command: str) -> None:
    path = tmp_path / COMMANDS[command]
    with open(path, "wb") as fh:
        fh.write(ARCHIVE_HEADER.encode())
        for _ in range(200):
            fh.write(b"5" * (1 << 20))
    res = cli("import", command, "--db", str(tmp_path / "g.duckdb"), str(path))
    lines = [ln for ln in res.err.splitlines() if ln.strip()]
    assert res.code == 1 and len(lines) == 1 and f"{path}:2:" in lines[0] and "longer than" in lines[0]


# -- --map CSV dialect, zipped JSON --------------------------------------------------------------

MAP = MarketImportOptions(
    mapping=parse_mapping("time=ts,open=o,high=h,low=l,close=c"), symbol="BTCUSDT", time_unit="iso"
)
MAP_ROWS = "2024-05-01T00:00:00Z,1,2,0.5,1.5\n2024-05-01T00:15:00Z,1,2,0.5,1.5\n"


def test_map_csv_does_not_skip_a_first_line_that_does_not_fit(db: Database, tmp_path: Path) -> None:
    """DuckDB's sniffer took the second line for the header and dropped the first unseen."""
    path = tmp_path / "prices.csv"
    path.write_text("exported by tool v2\nts,o,h,l,c\n" + MAP_ROWS)
    err = refused(db, "candles", path, MAP)
    assert err.line == 1 and "'ts'" in str(err)


def test_map_csv_line_with_an_extra_field_is_named(db: Database, tmp_path: Path) -> None:
    """The sniffer read such a file as one column, and the import failed naming no line."""
    path = tmp_path / "prices.csv"
    path.write_text("ts,o,h,l,c\n" + MAP_ROWS + "2024-05-01T00:30:00Z,1,2,0.5,1.5,9\n")
    err = refused(db, "candles", path, MAP)
    assert err.line == 4 and "Expected Number of Columns" in str(err)


def test_map_csv_with_semicolons_still_imports(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text("ts;o;h;l;c\n" + MAP_ROWS.replace(",", ";"))
    assert import_files(db, "candles", [path], MAP).rows_new == 2


def test_zipped_json_is_read_as_json(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "fundingRate_ETHUSDT.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("fundingRate_ETHUSDT.json", funding_json(1704067200000))
    assert import_files(db, "funding", [path]).rows_new == 1
