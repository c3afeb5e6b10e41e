"""Property-based: generated market files of every supported layout through the importer.

Each example writes one or two files (candles in six CSV/JSON layouts, funding in three, open
interest in two, liquidations in two; plain, .gz or .zip) with sane generated rows and at most
one injected fault (a time out of range in some unit, an absurd or unparsable value, a
conflicting or exact duplicate, an extra field, an over-long line), imports them as one batch
and checks:

* nothing but the documented InputError family escapes;
* a file with a fault is refused with its FILE:LINE (or ``bar N`` / ``message N`` where lines mean
  nothing) and nothing of it is stored; a file without one is accepted and its rows read back
  exactly as written: times to the µs, values to the bit (no silent misread);
* the good files of a batch are kept whatever the other files hold;
* importing the batch again adds nothing.

Cases stay independent in one DuckDB file per test: every file gets its own symbol. One
connection is held open for the whole test so that DuckDB keeps its instance warm: each import
still opens, commits and closes its own connection, at ~1 ms instead of ~20 ms. The instance
runs one thread: files of a few rows gain nothing from two, and pay for scheduling per query.

The ``slow`` tests throw 10,000+ examples at the importers (``make test-slow``); the small one
runs in the normal suite.
"""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flushwatch.errors import FlushwatchError, InputError
from flushwatch.ingest.market import bounds
from flushwatch.ingest.market.importer import MarketImportOptions, import_files, parse_mapping
from flushwatch.storage.db import Database
from tests.helpers.properties import examples, warm_database

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LO_S = int(bounds.EARLIEST.timestamp())
HI_S = int(bounds.LATEST.timestamp())  # exclusive
INTERVALS = {"1m": 60, "5m": 300, "1h": 3600, "1d": 86400}
_symbols = itertools.count(1)

# -- values --------------------------------------------------------------------------------------

prices = st.floats(min_value=1e-8, max_value=1e12, allow_nan=False, allow_infinity=False)
amounts = st.floats(min_value=0.0, max_value=1e15, allow_nan=False, allow_infinity=False)
quantities = st.floats(min_value=1e-8, max_value=1e6, allow_nan=False, allow_infinity=False)
rates = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False, allow_infinity=False)
trades = st.integers(min_value=0, max_value=10**9)


def num(x: float) -> str:
    """A float as a file writes it: the shortest text that reads back to the same double."""
    return repr(float(x))


def at(us: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=us)


#: Bad text per field type: each one must refuse the file wherever it lands.
BAD_EPOCH_MS = [
    "0", "-1", "-1672531200000", str(LO_S * 1000 - 1), str(HI_S * 1000), "253402260000000",
    "1735689600", "1735689600000.5", "abc", "1e300", str(HI_S * 1_000_000), "1735689600000000000",
]  # fmt: skip
BAD_ISO = ["1970-01-01 00:00:00", "2008-12-31 23:59:59", "2100-01-01 00:00:00", "9999-12-31 00:00:00", "abc"]
BAD_PRICE = ["0", "-1", "inf", "nan", "1e13", "abc", "-inf", "1e400"]
BAD_AMOUNT = ["-1", "inf", "nan", "1e19", "abc"]
BAD_RATE = ["1.5", "-2", "inf", "nan", "abc", "100"]
BAD_QUANTITY = ["0", "-1", "inf", "nan", "1e19", "abc"]


@dataclass
class File:
    """One generated file: its bytes, what must be stored (when accepted), and where a refusal
    must point (``line``; or ``unit`` and ``index`` for ``bar N`` / ``message N``)."""

    kind: str
    name: str
    text: str
    table: str
    where: dict[str, Any]
    columns: str
    expected: set[tuple[Any, ...]]
    options: MarketImportOptions = field(default_factory=MarketImportOptions)
    fault: str | None = None
    line: int | None = None
    unit: str | None = None
    index: int | None = None
    path: Path = Path()
    member: str | None = None


@dataclass
class Row:
    """A generated row: ``fields`` in file order (text), ``stored`` as the table holds it, and
    ``variant``: the same natural key with other values (a conflicting copy), if it has any."""

    fields: list[str]
    stored: tuple[Any, ...]
    variant: list[str] | None = None


# -- layouts -------------------------------------------------------------------------------------
# Per kind: a row generator, and per layout (header or None, per field position the bad values
# that may replace it: each must refuse the file wherever it lands).


def candle_rows(draw: st.DrawFn, n: int, step: int, unit_us: int, fmt: str) -> list[Row]:
    first = -(-LO_S // step)
    last = (HI_S - 1) // step - (n - 1)
    base = draw(st.integers(min_value=first, max_value=last), label="first bar")
    rows = []
    for i in range(n):
        t_s = (base + i) * step
        when = at(t_s * 1_000_000)
        low, b, c, high = sorted(draw(st.lists(prices, min_size=4, max_size=4), label="prices"))
        o, cl = (b, c) if draw(st.booleans()) else (c, b)
        v, qv, tbv, tbqv = (draw(amounts) for _ in range(4))
        n_trades = draw(trades)
        other_v = v + 1.0 if v + 1.0 <= 1e15 else v / 2 + 0.5
        if fmt == "archive":
            t = t_s * 1_000_000 // unit_us  # ms or µs
            close_time = str(t + step * 1_000_000 // unit_us - 1)
            head = [str(t), num(o), num(high), num(low), num(cl)]
            tail = [close_time, num(qv), str(n_trades), num(tbv), num(tbqv), "0"]
            fields, variant = [*head, num(v), *tail], [*head, num(other_v), *tail]
            stored = (when, o, high, low, cl, v, qv, n_trades, tbv, tbqv)
        else:
            time_text = {
                "freqtrade-csv": f"{t_s * 1000},{when:%Y-%m-%d %H:%M:%S}",
                "freqtrade-date": when.strftime("%Y-%m-%d %H:%M:%S+00:00"),
                "generic-iso": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "generic-ms": str(t_s * 1000),
                "generic-s": str(t_s),
                "freqtrade-json": str(t_s * 1000),
            }[fmt]
            head = [*time_text.split(","), num(o), num(high), num(low), num(cl)]
            fields, variant = [*head, num(v)], [*head, num(other_v)]
            stored = (when, o, high, low, cl, v, None, None, None, None)
        rows.append(Row(fields, stored, variant))
    return rows


ARCHIVE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,"
    "taker_buy_quote_volume,ignore"
)
ARCHIVE_BAD = [BAD_EPOCH_MS, BAD_PRICE, BAD_PRICE, BAD_PRICE, BAD_PRICE, BAD_AMOUNT, ["abc"], BAD_AMOUNT,
               ["-1", "42.5", "abc", "1e13"], BAD_AMOUNT, BAD_AMOUNT, []]  # fmt: skip
OHLCV_BAD = [BAD_PRICE, BAD_PRICE, BAD_PRICE, BAD_PRICE, BAD_AMOUNT]
CANDLE_LAYOUTS = {
    "archive": (ARCHIVE_HEADER, ARCHIVE_BAD),
    "archive-noheader": (None, ARCHIVE_BAD),
    "freqtrade-csv": (
        "open_time_ms,open_time_utc,open,high,low,close,volume",
        [BAD_EPOCH_MS, [], *OHLCV_BAD],
    ),
    "freqtrade-date": ("date,open,high,low,close,volume", [BAD_ISO, *OHLCV_BAD]),
    "generic-iso": ("ts,o,h,l,c,v", [BAD_ISO, *OHLCV_BAD]),
    "generic-ms": ("ts,o,h,l,c,v", [BAD_EPOCH_MS, *OHLCV_BAD]),
    "generic-s": ("ts,o,h,l,c,v", [["0", "-5", "4102444800", "1735689600000", "abc", "nan"], *OHLCV_BAD]),
    "freqtrade-json": (None, [BAD_EPOCH_MS[:9], ["0", "-1", "1e13"], ["0", "-1", "1e13"], ["0", "-1"],
                              ["0", "-1"], ["-1", "1e19"]]),
}  # fmt: skip
GENERIC_MAP = parse_mapping("time=ts,open=o,high=h,low=l,close=c,volume=v")


def funding_rows(draw: st.DrawFn, n: int, fmt: str, sym: str) -> list[Row]:
    base = draw(st.integers(min_value=LO_S, max_value=HI_S - 1 - (n - 1) * 28800), label="first print")
    rows = []
    for i in range(n):
        t_s = base + i * 28800
        jitter = draw(st.integers(min_value=0, max_value=999)) if fmt != "freqtrade-csv" else 0
        t_ms = t_s * 1000 + jitter
        rate = draw(rates)
        other = 0.5 if rate != 0.5 else 0.25
        mark = draw(prices) if fmt == "rest-json" else None
        when = at(t_s * 1_000_000)
        if fmt == "archive":
            fields, variant = [str(t_ms), "8", num(rate)], [str(t_ms), "8", num(other)]
        elif fmt == "freqtrade-csv":
            utc = f"{when:%Y-%m-%d %H:%M:%S}"
            zeros = ["0.0"] * 4
            fields, variant = [str(t_ms), utc, num(rate), *zeros], [str(t_ms), utc, num(other), *zeros]
        else:
            fields = [sym, str(t_ms), num(rate), num(mark or 0.0)]
            variant = [sym, str(t_ms), num(other), num(mark or 0.0)]
        rows.append(Row(fields, (when, rate, mark), variant))
    return rows


FUNDING_LAYOUTS = {
    "archive": ("calc_time,funding_interval_hours,last_funding_rate", [BAD_EPOCH_MS, [], BAD_RATE]),
    "freqtrade-csv": ("open_time_ms,open_time_utc,open,high,low,close,volume",
                      [BAD_EPOCH_MS, [], BAD_RATE, ["abc"], ["abc"], ["abc"], ["abc"]]),
    "rest-json": (None, [["", "BTC USDT", "X\u0001Y"], BAD_EPOCH_MS[:9], BAD_RATE,
                         ["0", "-1", "1e13", "abc"]]),
}  # fmt: skip
REST_FUNDING_KEYS = ("symbol", "fundingTime", "fundingRate", "markPrice")


def oi_rows(draw: st.DrawFn, n: int, fmt: str, sym: str) -> list[Row]:
    base = draw(st.integers(min_value=LO_S // 300 + 1, max_value=(HI_S - 1) // 300 - n), label="first point")
    rows = []
    for i in range(n):
        t_s = (base + i) * 300
        oi, usd = draw(amounts), draw(amounts)
        when = at(t_s * 1_000_000)
        if fmt == "metrics":
            head = [f"{when:%Y-%m-%d %H:%M:%S}", sym, num(oi)]
            fields, variant = [*head, num(usd), "", "", "", ""], [*head, num(usd + 1.0), "", "", "", ""]
        else:
            fields = [sym, num(oi), num(usd), str(t_s * 1000)]
            variant = [sym, num(oi), num(usd + 1.0), str(t_s * 1000)]
        rows.append(Row(fields, (when, oi, usd), variant))
    return rows


OI_LAYOUTS = {
    "metrics": (
        "create_time,symbol,sum_open_interest,sum_open_interest_value,count_toptrader_long_short_ratio,"
        "sum_toptrader_long_short_ratio,count_long_short_ratio,sum_taker_long_short_vol_ratio",
        [BAD_ISO, ["", "BTC USDT"], BAD_AMOUNT, BAD_AMOUNT, [], [], [], []],
    ),
    "rest-json": (None, [["", "BTC USDT"], BAD_AMOUNT, BAD_AMOUNT, BAD_EPOCH_MS[:9]]),
}
REST_OI_KEYS = ("symbol", "sumOpenInterest", "sumOpenInterestValue", "timestamp")


def liquidation_rows(draw: st.DrawFn, n: int, fmt: str, sym: str) -> list[Row]:
    base = draw(st.integers(min_value=LO_S * 1000, max_value=HI_S * 1000 - 1 - n * 1000), label="first event")
    rows = []
    for i in range(n):
        t_ms = base + i * 1000 + draw(st.integers(min_value=0, max_value=999))
        side = draw(st.sampled_from(["SELL", "BUY"]))
        price, qty = draw(prices), draw(quantities)
        when = at(t_ms * 1000)
        stored_side = "long" if side == "SELL" else "short"
        if fmt == "log":
            usd = draw(st.none() | st.floats(min_value=1e-6, max_value=1e18))
            notional = usd if usd is not None else price * qty
            head = [
                when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t_ms % 1000:03d}",
                sym,
                side,
                num(price),
                num(qty),
            ]
            fields = [*head, "" if usd is None else num(usd)]
            variant: list[str] | None = [*head, num(notional / 2)]
        else:  # the natural key holds every stored value: no conflicting copy exists
            notional = price * qty
            fields, variant = [sym, side, num(price), num(qty), str(t_ms)], None
        rows.append(Row(fields, (when, stored_side, price, qty, notional), variant))
    return rows


LIQUIDATION_LAYOUTS = {
    "log": ("timestamp,symbol,side,avg_price,filled_qty,usd_value",
            [BAD_ISO, ["", "BTC USDT", "A,B"], ["HOLD", ""], BAD_PRICE, BAD_QUANTITY,
             ["-1", "inf", "1e19", "abc"]]),
    "force-order": (None, [["", "BTC USDT"], ["HOLD"], ["0", "-1", "1e13", "abc"], ["0", "-1", "1e19", "abc"],
                           BAD_EPOCH_MS[:9]]),
}  # fmt: skip


def force_order(f: list[str]) -> dict[str, Any]:
    s, side, price, qty, t = f
    order = {"s": s, "S": side, "q": qty, "p": price, "ap": price, "X": "FILLED", "l": qty, "z": qty}
    return {"e": "forceOrder", "E": 1, "o": {**order, "T": int(t) if t.lstrip("-").isdigit() else t}}


# -- one file ------------------------------------------------------------------------------------

FAULTS = ("none", "none", "value", "value", "value", "conflict", "exact-dup", "extra-field", "long-line")


@st.composite
def market_file(draw: st.DrawFn, kind: str) -> File:
    sym = f"P{next(_symbols)}X"
    n = draw(st.integers(min_value=1, max_value=6), label="rows")
    fault = draw(st.sampled_from(FAULTS), label="fault")
    options = MarketImportOptions()
    unit, raw_json = None, False
    if kind == "candles":
        fmt = draw(st.sampled_from(sorted(CANDLE_LAYOUTS)), label="layout")
        interval = draw(st.sampled_from(sorted(INTERVALS)), label="interval")
        header, bad = CANDLE_LAYOUTS[fmt]
        unit_us = 1 if fmt.startswith("archive") and draw(st.booleans(), label="µs") else 1000
        layout = "archive" if fmt.startswith("archive") else fmt
        rows = candle_rows(draw, n, INTERVALS[interval], unit_us, layout)
        stem = f"{sym}_USDT-{interval}" if fmt.startswith("freqtrade") else f"{sym}USDT-{interval}"
        name = stem + (".json" if fmt == "freqtrade-json" else ".csv")
        if fmt.startswith("generic"):
            options = MarketImportOptions(
                mapping=GENERIC_MAP, time_unit=fmt.split("-")[1], symbol=f"{sym}USDT", interval=interval
            )
            name = f"prices-{sym}.csv"
        table, columns = (
            "candles",
            (
                "open_time, open, high, low, close, volume, quote_volume, trades, taker_buy_volume, "
                "taker_buy_quote_volume"
            ),
        )
        where = {"symbol": f"{sym}USDT", "interval": interval}
        if fmt == "freqtrade-json":
            unit, raw_json = "bar", True
    elif kind == "funding":
        fmt = draw(st.sampled_from(sorted(FUNDING_LAYOUTS)), label="layout")
        header, bad = FUNDING_LAYOUTS[fmt]
        rows = funding_rows(draw, n, fmt, f"{sym}USDT")
        name = {
            "archive": f"{sym}USDT-fundingRate-2024-01.csv",
            "freqtrade-csv": f"{sym}_USDT_USDT-8h-funding_rate.csv",
            "rest-json": f"fundingRate_{sym}.json",
        }[fmt]
        table, columns, where = "funding_rates", "funding_time, rate, mark_price", {"symbol": f"{sym}USDT"}
    elif kind == "open_interest":
        fmt = draw(st.sampled_from(sorted(OI_LAYOUTS)), label="layout")
        header, bad = OI_LAYOUTS[fmt]
        rows = oi_rows(draw, n, fmt, f"{sym}USDT")
        name = f"{sym}USDT-metrics-2024-01-01.csv" if fmt == "metrics" else f"openInterestHist_{sym}.json"
        table, columns, where = (
            "open_interest",
            "ts, open_interest, open_interest_usd",
            {"symbol": f"{sym}USDT"},
        )
    else:
        fmt = draw(st.sampled_from(sorted(LIQUIDATION_LAYOUTS)), label="layout")
        header, bad = LIQUIDATION_LAYOUTS[fmt]
        rows = liquidation_rows(draw, n, fmt, f"{sym}USDT")
        name = f"liquidations-{sym}.csv" if fmt == "log" else f"forceorder-{sym}.jsonl"
        table, columns = "liquidations", "event_time, side, price, quantity, notional_usd"
        where = {"symbol": f"{sym}USDT"}
    json_layout = fmt in ("rest-json", "force-order")
    as_array = json_layout and draw(st.booleans(), label="JSON array")
    if json_layout and as_array:
        unit = "message"
    lines = [r.fields for r in rows]
    expected = {r.stored for r in rows}
    k = draw(st.integers(min_value=0, max_value=n - 1), label="faulty row")
    bad_at = k  # the row the refusal must name
    if fault == "value":
        choices = [(i, v) for i, values in enumerate(bad) for v in values]
        if not choices:
            fault = "none"
        else:
            pos, value = draw(st.sampled_from(choices), label="bad value")
            lines[k] = [*lines[k][:pos], value, *lines[k][pos + 1 :]]
    elif fault == "conflict":
        variant = rows[k].variant
        if variant is None:
            fault = "exact-dup"  # no value outside the natural key to change
        else:
            lines.insert(k + 1 + draw(st.integers(0, n - 1 - k)), list(variant))
    if fault == "exact-dup":
        lines.insert(k + 1, list(lines[k]))
    if fault in ("extra-field", "long-line") and (json_layout or raw_json):
        fault = "none"
    elif fault == "extra-field":
        lines[k] = [*lines[k], "1"]
    elif fault == "long-line":
        lines[k] = [*lines[k][:-1], lines[k][-1] + "9" * (bounds.MAX_LINE_BYTES + 1)]
    text = render(fmt, kind, header, lines, as_array)
    line = None if unit else (2 if header else 1) + bad_at
    return File(
        kind=kind,
        name=name,
        text=text,
        table=table,
        where=where,
        columns=columns,
        expected=expected,
        options=options,
        fault=None if fault in ("none", "exact-dup") else fault,
        line=line,
        unit=unit,
        index=bad_at + 1,
    )


def render(fmt: str, kind: str, header: str | None, lines: list[list[str]], as_array: bool) -> str:
    if fmt == "freqtrade-json":
        return "[" + ",".join("[" + ",".join(_json_number(v) for v in f) + "]" for f in lines) + "]"
    if fmt == "rest-json" or fmt == "force-order":
        keys = REST_FUNDING_KEYS if kind == "funding" else REST_OI_KEYS
        objs = [force_order(f) if fmt == "force-order" else dict(zip(keys, f, strict=True)) for f in lines]
        if fmt == "rest-json":
            key = "fundingTime" if kind == "funding" else "timestamp"
            for obj in objs:
                obj[key] = int(obj[key]) if obj[key].lstrip("-").isdigit() else obj[key]
        if as_array:
            return json.dumps(objs)
        return "".join(json.dumps(o) + "\n" for o in objs)
    body = "".join(",".join(f) + "\n" for f in lines)
    return (header + "\n" if header else "") + body


def _json_number(text: str) -> str:
    try:
        value = float(text)
    except ValueError:
        return json.dumps(text)
    if not math.isfinite(value):
        return json.dumps(text)  # JSON has no inf/nan: a string, which the reader must refuse
    return text


# -- the property --------------------------------------------------------------------------------


@pytest.fixture
def warm_db(tmp_path: Path) -> Iterator[tuple[Database, duckdb.DuckDBPyConnection]]:
    with warm_database(tmp_path / "property.duckdb") as warm:
        yield warm


def write(tmp_path: Path, f: File, wrap: str) -> File:
    data = f.text.encode("utf-8")
    folder = tmp_path / "files"
    folder.mkdir(exist_ok=True)
    if wrap == "zip":
        f.path = folder / (Path(f.name).stem.replace(".", "_") + ".zip")
        f.member = f.name
        with zipfile.ZipFile(f.path, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f.name, data)
    elif wrap == "gz":
        f.path = folder / (f.name + ".gz")
        f.path.write_bytes(gzip.compress(data, compresslevel=1))
    else:
        f.path = folder / f.name
        f.path.write_bytes(data)
    return f


def stored(con: duckdb.DuckDBPyConnection, f: File) -> set[tuple[Any, ...]]:
    cond = " AND ".join(f"{k} = ?" for k in f.where)
    rows = con.execute(f"SELECT {f.columns} FROM {f.table} WHERE {cond}", list(f.where.values())).fetchall()
    return {tuple(v.astimezone(dt.UTC) if isinstance(v, dt.datetime) else v for v in r) for r in rows}


def check_batch(
    db: Database, con: duckdb.DuckDBPyConnection, tmp_path: Path, files: list[File], wraps: list[str]
) -> None:
    files = [write(tmp_path, f, w) for f, w in zip(files, wraps, strict=True)]
    try:
        if len({repr(f.options) for f in files}) > 1:  # one option set per command: one by one
            for f in files:
                run_batch(db, con, f.kind, [f])
        else:
            run_batch(db, con, files[0].kind, files)
    finally:
        for f in files:
            f.path.unlink(missing_ok=True)


def run_batch(db: Database, con: duckdb.DuckDBPyConnection, kind: str, group: list[File]) -> None:
    paths = [f.path for f in group]
    try:
        summary = import_files(db, kind, paths, group[0].options)
        errors = list(summary.errors)
    except InputError as exc:  # a batch of one raises
        assert len(group) == 1
        errors = [exc.one_line()]
        assert_refusal(group[0], exc)
    except FlushwatchError as exc:  # pragma: no cover - the property failing
        raise AssertionError(f"{type(exc).__name__} for {[f.text[:300] for f in group]}") from exc
    accepted = [f for f in group if f.fault is None]
    refused = [f for f in group if f.fault is not None]
    assert len(errors) == len(refused), (errors, [(f.fault, f.text[:400]) for f in group])
    for f in refused:
        (line,) = [e for e in errors if e.startswith(str(f.path))]
        assert_refusal_line(f, line)
        assert stored(con, f) == set(), f.text[:400]
    for f in accepted:
        assert stored(con, f) == f.expected, f.text[:600]
    if accepted:  # idempotent: the good files again add nothing and change nothing
        again = import_files(db, kind, [f.path for f in accepted], group[0].options)
        assert again.rows_new == 0 and not again.errors
        for f in accepted:
            assert stored(con, f) == f.expected


def assert_refusal(f: File, exc: InputError) -> None:
    assert "\n" not in exc.one_line()
    assert exc.path in (str(f.path), f"{f.path}!{f.member}"), (exc.path, f.path)
    assert_refusal_line(f, exc.one_line())


def assert_refusal_line(f: File, text: str) -> None:
    """The one-line error names the file, and the line (or ``unit N``) of the fault."""
    assert "\n" not in text and "Traceback" not in text
    where = f"{f.path}!{f.member}" if f.member else str(f.path)
    assert text.startswith(where), (text, where)
    if f.line is not None and f.fault != "long-line":
        assert text.startswith(f"{where}:{f.line}: "), (text, f.line, f.text[:600])
    elif f.fault == "long-line":
        assert text.startswith(f"{where}:{f.line}: ") and "longer than" in text, text
    elif f.unit and f.fault in ("value", "conflict") and "malformed JSON" not in text:
        assert f"{f.unit} {f.index}:" in text or "is not" in text, (text, f.index, f.text[:600])


KINDS = st.sampled_from(["candles", "candles", "funding", "open_interest", "liquidations"])


@st.composite
def batches(draw: st.DrawFn, kinds: st.SearchStrategy[str] = KINDS) -> tuple[list[File], list[str]]:
    n = draw(st.integers(min_value=1, max_value=2), label="files")
    kind = draw(kinds)
    files = [draw(market_file(kind)) for _ in range(n)]
    wraps = [draw(st.sampled_from(["plain", "plain", "gz", "zip"]), label="wrap") for _ in files]
    return files, wraps


@examples(50)
@given(batch=batches())
def test_market_files_import_exactly_or_are_refused_with_file_and_line(warm_db, tmp_path, batch) -> None:
    check_batch(*warm_db, tmp_path, *batch)


#: 10,000+ examples over the four slow tests below (candles get half).
SLOW = {"candles": 5000, "funding": 1700, "open_interest": 1600, "liquidations": 1700}


@pytest.mark.slow
@pytest.mark.timeout(1800)
@examples(SLOW["candles"])
@given(batch=batches(st.just("candles")))
def test_candle_files_property(warm_db, tmp_path, batch) -> None:
    check_batch(*warm_db, tmp_path, *batch)


@pytest.mark.slow
@pytest.mark.timeout(900)
@examples(SLOW["funding"])
@given(batch=batches(st.just("funding")))
def test_funding_files_property(warm_db, tmp_path, batch) -> None:
    check_batch(*warm_db, tmp_path, *batch)


@pytest.mark.slow
@pytest.mark.timeout(900)
@examples(SLOW["open_interest"])
@given(batch=batches(st.just("open_interest")))
def test_open_interest_files_property(warm_db, tmp_path, batch) -> None:
    check_batch(*warm_db, tmp_path, *batch)


@pytest.mark.slow
@pytest.mark.timeout(900)
@examples(SLOW["liquidations"])
@given(batch=batches(st.just("liquidations")))
def test_liquidation_files_property(warm_db, tmp_path, batch) -> None:
    check_batch(*warm_db, tmp_path, *batch)
