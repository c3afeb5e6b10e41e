"""``flushwatch import candles|funding|liquidations|open-interest``: files -> market tables.

Each file is read by DuckDB's own readers (read_csv with explicit columns and types,
read_json, Arrow for feather) into a TEMP stage, checked, then appended with an anti-join on
the natural key (storage/market.py) -- all in ONE transaction per file, so a malformed line
leaves nothing of that file behind and a repeat import adds nothing. What a file is (format,
venue, market, symbol, interval) comes from :mod:`flushwatch.ingest.market.sniff` unless the
caller says so.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from flushwatch.errors import ConfigError, FlushwatchError, InputError
from flushwatch.ingest.market import sniff
from flushwatch.ingest.market.symbols import normalise_symbol
from flushwatch.records.market import ImportResult
from flushwatch.storage import market as store
from flushwatch.storage.db import Database

log = logging.getLogger(__name__)

Connection = duckdb.DuckDBPyConnection

KINDS = ("candles", "funding", "liquidations", "open_interest")
_LINE_RE = re.compile(r"CSV Error on Line: (\d+)")
# ms timestamps are ~1.7e12 today, µs ~1.7e15: anything >= 1e14 is microseconds.
_US = 100_000_000_000_000


def _drop(con: Connection, table: str) -> None:
    """Drop a temp table; harmless in an aborted transaction (the connection closes anyway)."""
    with contextlib.suppress(duckdb.Error):
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _epoch_sql(col: str) -> str:
    """An epoch number (ms, or µs in Binance's 2025+ spot archives) as TIMESTAMPTZ."""
    return f"make_timestamptz(CASE WHEN {col} >= {_US} THEN {col} ELSE {col} * 1000 END)"


@dataclass(frozen=True)
class ImportOptions:
    """What the user said; None = infer. ``mapping``: target column -> source column (generic CSV)."""

    venue: str | None = None
    symbol: str | None = None
    market: str | None = None
    interval: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    time_unit: str | None = None  # ms | us | s | iso (generic CSV)


@dataclass(frozen=True)
class ImportSummary:
    """All files of one import command: per-file results and per-file errors."""

    files: tuple[ImportResult, ...]
    errors: tuple[str, ...] = ()

    @property
    def rows_new(self) -> int:
        return sum(f.rows_new for f in self.files)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)


# -- public entry points -------------------------------------------------------------------------


def import_files(
    db: Database,
    kind: str,
    paths: Sequence[Path | str],
    options: ImportOptions | None = None,
    *,
    run_id: int | None = None,
) -> ImportSummary:
    """Import each file in its own transaction; a failing file is reported, the rest go on."""
    if kind not in KINDS:
        raise ConfigError(f"unknown import kind {kind!r}; expected one of {', '.join(KINDS)}")
    options = options or ImportOptions()
    _check_options(options)
    results: list[ImportResult] = []
    errors: list[str] = []
    for p in paths:
        path = Path(p)
        try:
            results.append(import_file(db, kind, path, options, run_id=run_id))
        except InputError as exc:
            if len(paths) == 1:
                raise
            log.error("%s", exc.one_line())
            errors.append(exc.one_line())
    return ImportSummary(tuple(results), tuple(errors))


def import_candles(
    db: Database, paths: Sequence[Path | str], *, run_id: int | None = None, **opts: Any
) -> ImportSummary:
    return import_files(db, "candles", paths, ImportOptions(**opts), run_id=run_id)


def import_funding(
    db: Database, paths: Sequence[Path | str], *, run_id: int | None = None, **opts: Any
) -> ImportSummary:
    return import_files(db, "funding", paths, ImportOptions(**opts), run_id=run_id)


def import_liquidations(
    db: Database, paths: Sequence[Path | str], *, run_id: int | None = None, **opts: Any
) -> ImportSummary:
    return import_files(db, "liquidations", paths, ImportOptions(**opts), run_id=run_id)


def import_open_interest(
    db: Database, paths: Sequence[Path | str], *, run_id: int | None = None, **opts: Any
) -> ImportSummary:
    return import_files(db, "open_interest", paths, ImportOptions(**opts), run_id=run_id)


def _check_options(o: ImportOptions) -> None:
    if o.market is not None and o.market not in sniff.MARKETS:
        raise ConfigError(f"--market {o.market!r}: expected one of {', '.join(sniff.MARKETS)}")
    if o.interval is not None:
        store.interval_seconds(o.interval)
    if o.time_unit is not None and o.time_unit not in ("ms", "us", "s", "iso"):
        raise ConfigError(f"--time-unit {o.time_unit!r}: expected ms, us, s or iso")


def import_file(
    db: Database, kind: str, path: Path, options: ImportOptions, *, run_id: int | None = None
) -> ImportResult:
    """One file, one transaction."""
    if not path.is_file():
        raise InputError("no such file", path=path, hint="check the path")
    with _readable(path) as (real, member):
        reader = _plan(kind, path, real, member, options)
        with db.write() as con:
            # Rows carry their own times; insertion order is irrelevant and costs parallelism.
            con.execute("SET preserve_insertion_order = false")
            try:
                rows_read, meta = reader(con)
                table = {
                    "candles": "candles",
                    "funding": "funding_rates",
                    "liquidations": "liquidations",
                    "open_interest": "open_interest",
                }[kind]
                rows_new = store.insert_new(con, table, "_stage", run_id)
                first, last = _range(con, table)
            except duckdb.Error as exc:
                raise _input_error(exc, path, member) from exc
            finally:
                _drop(con, "_stage")
    result = ImportResult(
        path=str(path), kind=kind, rows_read=rows_read, rows_new=rows_new, first=first, last=last, **meta
    )
    log.info(
        "%s: %s %s %s %s %s: %d rows, %d new",
        path,
        result.fmt,
        result.venue,
        result.market,
        result.symbol,
        result.interval,
        rows_read,
        rows_new,
    )
    return result


# -- plumbing ------------------------------------------------------------------------------------


@contextmanager
def _readable(path: Path) -> Iterator[tuple[Path, str | None]]:
    """A path DuckDB can read: zips are unpacked to a temp dir (DuckDB reads .gz natively)."""
    if path.suffix.lower() != ".zip":
        yield path, None
        return
    tmp = Path(tempfile.mkdtemp(prefix="flushwatch-zip-"))
    try:
        try:
            with zipfile.ZipFile(path) as zf:
                members = [i for i in zf.infolist() if not i.is_dir()]
                if len(members) != 1:
                    raise InputError(f"zip holds {len(members)} files, expected one CSV", path=path)
                target = tmp / Path(members[0].filename).name
                with zf.open(members[0]) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        except zipfile.BadZipFile as exc:
            raise InputError(f"not a zip file: {exc}", path=path) from exc
        yield target, members[0].filename
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _input_error(exc: duckdb.Error, path: Path, member: str | None) -> InputError:
    text = str(exc)
    m = _LINE_RE.search(text)
    where = f"{path}!{member}" if member else str(path)
    first = next((ln for ln in text.splitlines()[1:] if ln.startswith("Error when")), text.splitlines()[0])
    if m:
        return InputError(
            f"malformed line: {first}",
            path=where,
            line=int(m.group(1)),
            hint="fix or remove that line; nothing from this file was imported",
        )
    return InputError(f"cannot read: {first}", path=where, hint="nothing from this file was imported")


def _range(con: Connection, table: str) -> tuple[Any, Any]:
    tcol = store.TIME_COLUMN[table]
    row = con.execute(f"SELECT min({tcol}), max({tcol}) FROM _stage").fetchone()
    return (row[0], row[1]) if row else (None, None)


Reader = Any  # Callable[[Connection], tuple[int, dict[str, Any]]]


def _plan(kind: str, path: Path, real: Path, member: str | None, o: ImportOptions) -> Reader:
    """Decide how to read the file; returns a function that fills ``_stage`` and says what it was."""
    hints = sniff.name_hints(Path(member) if member else path)
    folder_hints = sniff.name_hints(path)
    venue = (o.venue or hints.venue or folder_hints.venue or "binance").lower()
    symbol = normalise_symbol(o.symbol) if o.symbol else hints.symbol
    suffixes = "".join(path.suffixes).lower()
    if o.mapping:
        return _generic_csv(kind, real, o, venue, symbol, hints)
    if ".feather" in suffixes:
        return _freqtrade_feather(kind, real, o, venue, symbol, hints)
    if ".json" in suffixes:
        return _json_file(kind, path, real, o, venue, symbol, hints)
    lines, _ = sniff.head_lines(real, 3)
    layout = sniff.csv_kind(lines[0] if lines else "")
    if layout == "unknown":
        raise InputError(
            "unrecognised CSV layout (first line: " + (lines[0].strip()[:80] if lines else "empty") + ")",
            path=path,
            line=1,
            hint="use --map time=COL,open=COL,... for a generic CSV",
        )
    if kind == "candles":
        if layout.startswith("binance-archive"):
            return _binance_klines(real, o, venue, symbol, hints, lines, layout.endswith("noheader"))
        if layout.startswith("freqtrade"):
            return _freqtrade_candles_csv(real, o, venue, symbol, hints, lines, layout)
    if kind == "funding":
        if layout.startswith("binance-funding"):
            return _binance_funding(real, venue, symbol, layout.endswith("noheader"))
        if layout.startswith("freqtrade"):
            return _freqtrade_funding_csv(real, venue, symbol, layout)
    if kind == "liquidations" and layout == "liquidation-log":
        return _liquidation_log(real, venue)
    if kind == "open_interest" and layout == "binance-metrics":
        return _binance_metrics(real, venue)
    raise InputError(
        f"a {layout} file is not {kind} data",
        path=path,
        hint="use the matching `flushwatch import` command, or --map for a generic CSV",
    )


def _need(value: str | None, what: str, path: Path) -> str:
    if not value:
        raise InputError(f"cannot infer the {what} from the file name", path=path, hint=f"pass --{what}")
    return value


def _rows(con: Connection) -> int:
    row = con.execute("SELECT count(*) FROM _stage").fetchone()
    return int(row[0]) if row else 0


def _meta(
    fmt: str, venue: str, symbol: str | None, market: str | None, interval: str | None
) -> dict[str, Any]:
    return {"fmt": fmt, "venue": venue, "symbol": symbol, "market": market, "interval": interval}


def _check_interval(con: Connection, path: Path, interval: str) -> None:
    """Every bar must sit on the interval's grid (catches a wrong --interval or a mixed file)."""
    step = store.interval_seconds(interval)
    if step >= 7 * 86400:
        return
    row = con.execute(
        f"SELECT open_time FROM _stage WHERE epoch(open_time)::BIGINT % {step} <> 0 LIMIT 1"
    ).fetchone()
    if row:
        raise InputError(
            f"bar at {row[0]} is not on the {interval} grid",
            path=path,
            hint="check --interval; nothing from this file was imported",
        )


# -- candles -------------------------------------------------------------------------------------


def _binance_klines(
    real: Path,
    o: ImportOptions,
    venue: str,
    symbol: str | None,
    hints: sniff.NameHints,
    lines: list[str],
    noheader: bool,
) -> Reader:
    symbol = _need(symbol, "symbol", real)
    data_lines = [ln for ln in (lines if noheader else lines[1:]) if ln.strip()]
    market = o.market or hints.market
    if market is None and data_lines:
        market = sniff.archive_market_from_numbers(data_lines[0])
        log.info("%s: no market in name or folder; taken as %s from its numbers (use --market)", real, market)
    interval = o.interval or hints.interval
    if interval is None and data_lines:
        f = data_lines[0].split(",")
        ot, ct = int(f[0]), int(f[6])
        span = ct - ot + 1
        interval = sniff.millis_to_interval(span // 1000 if ot >= _US else span)
    interval = _need(interval, "interval", real)
    cols = ", ".join(
        f"'{c}': '{t}'"
        for c, t in zip(
            sniff.ARCHIVE_KLINE_COLUMNS,
            (
                "BIGINT",
                "DOUBLE",
                "DOUBLE",
                "DOUBLE",
                "DOUBLE",
                "DOUBLE",
                "BIGINT",
                "DOUBLE",
                "BIGINT",
                "DOUBLE",
                "DOUBLE",
                "VARCHAR",
            ),
            strict=True,
        )
    )

    def read(con: Connection) -> tuple[int, dict[str, Any]]:
        con.execute(
            f"""
            CREATE TEMP TABLE _stage AS
            SELECT $venue::VARCHAR AS venue, $market::VARCHAR AS market, $symbol::VARCHAR AS symbol,
                   $interval::VARCHAR AS interval, {_epoch_sql("open_time")} AS open_time,
                   open, high, low, close, volume, quote_volume, count AS trades,
                   taker_buy_volume, taker_buy_quote_volume
              FROM read_csv($path, header = {str(not noheader).lower()}, delim = ',', quote = '"',
                            auto_detect = false, columns = {{{cols}}})
            """,
            {"venue": venue, "market": market, "symbol": symbol, "interval": interval, "path": str(real)},
        )
        _check_interval(con, real, interval)
        return _rows(con), _meta("binance-archive", venue, symbol, market, interval)

    return read


def _freqtrade_csv_layout(layout: str) -> tuple[str, str]:
    """(read_csv columns, time expression) for freqtrade CSV exports: our converted shape with
    epoch milliseconds, or freqtrade's own with a ``date`` column. Candle and funding files share it
    (in funding files ``open`` is the rate)."""
    if layout == "freqtrade-csv":
        columns = (
            "{'open_time_ms': 'BIGINT', 'open_time_utc': 'VARCHAR', 'open': 'DOUBLE', 'high': 'DOUBLE', "
            "'low': 'DOUBLE', 'close': 'DOUBLE', 'volume': 'DOUBLE'}"
        )
        return columns, _epoch_sql("open_time_ms")
    columns = (
        "{'date': 'TIMESTAMPTZ', 'open': 'DOUBLE', 'high': 'DOUBLE', 'low': 'DOUBLE', "
        "'close': 'DOUBLE', 'volume': 'DOUBLE'}"
    )
    return columns, "date"


def _freqtrade_candles_csv(
    real: Path,
    o: ImportOptions,
    venue: str,
    symbol: str | None,
    hints: sniff.NameHints,
    lines: list[str],
    layout: str,
) -> Reader:
    symbol = _need(symbol, "symbol", real)
    market = o.market or hints.market or "spot"
    columns, t_sql = _freqtrade_csv_layout(layout)
    interval = o.interval or hints.interval

    def read(con: Connection) -> tuple[int, dict[str, Any]]:
        con.execute(
            f"""
            CREATE TEMP TABLE _raw AS
            SELECT {t_sql} AS open_time, open, high, low, close, volume
              FROM read_csv($path, header = true, delim = ',', auto_detect = false, columns = {columns})
            """,
            {"path": str(real)},
        )
        return _stage_ohlcv(con, real, venue, market, symbol, interval, "freqtrade-csv")

    return read


def _stage_ohlcv(
    con: Connection, real: Path, venue: str, market: str, symbol: str, interval: str | None, fmt: str
) -> tuple[int, dict[str, Any]]:
    """_raw(open_time, open, high, low, close, volume) -> _stage, inferring the interval if needed."""
    try:
        if interval is None:
            row = con.execute(
                "SELECT min(d) FROM (SELECT epoch(open_time - lag(open_time) OVER (ORDER BY open_time)) AS d "
                "FROM _raw) WHERE d > 0"
            ).fetchone()
            if not row or row[0] is None:
                raise InputError(
                    "cannot infer the interval from fewer than two bars", path=real, hint="pass --interval"
                )
            interval = store.interval_name(int(row[0]))
        con.execute(
            """
            CREATE TEMP TABLE _stage AS
            SELECT $venue::VARCHAR AS venue, $market::VARCHAR AS market, $symbol::VARCHAR AS symbol,
                   $interval::VARCHAR AS interval, open_time::TIMESTAMPTZ AS open_time,
                   open::DOUBLE AS open, high::DOUBLE AS high, low::DOUBLE AS low, close::DOUBLE AS close,
                   volume::DOUBLE AS volume, NULL::DOUBLE AS quote_volume, NULL::BIGINT AS trades,
                   NULL::DOUBLE AS taker_buy_volume, NULL::DOUBLE AS taker_buy_quote_volume
              FROM _raw
            """,
            {"venue": venue, "market": market, "symbol": symbol, "interval": interval},
        )
    finally:
        _drop(con, "_raw")
    _check_interval(con, real, interval)
    return _rows(con), _meta(fmt, venue, symbol, market, interval)


def _freqtrade_feather(
    kind: str, real: Path, o: ImportOptions, venue: str, symbol: str | None, hints: sniff.NameHints
) -> Reader:
    symbol = _need(symbol, "symbol", real)

    def read(con: Connection) -> tuple[int, dict[str, Any]]:
        try:
            import pyarrow.feather as feather
        except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
            raise InputError(
                "reading feather files needs pyarrow", path=real, hint="pip install pyarrow"
            ) from exc
        try:
            table = feather.read_table(str(real))
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise InputError(f"not a readable feather file: {exc}", path=real) from exc
        con.register("_feather", table)
        try:
            con.execute(
                "CREATE TEMP TABLE _raw AS SELECT date::TIMESTAMPTZ AS open_time, open, high, low, "
                "close, volume FROM _feather"
            )
        finally:
            con.unregister("_feather")
        if kind == "funding" or hints.funding:
            return _stage_funding_from_raw(con, venue, symbol, "freqtrade-feather")
        market = o.market or hints.market or "spot"
        return _stage_ohlcv(
            con, real, venue, market, symbol, o.interval or hints.interval, "freqtrade-feather"
        )

    return read


# -- funding -------------------------------------------------------------------------------------


def _stage_funding_from_raw(con: Connection, venue: str, symbol: str, fmt: str) -> tuple[int, dict[str, Any]]:
    """freqtrade funding rows: ``open`` is the rate; times truncated to the second (jitter)."""
    try:
        con.execute(
            """
            CREATE TEMP TABLE _stage AS
            SELECT $venue::VARCHAR AS venue, $symbol::VARCHAR AS symbol,
                   date_trunc('second', open_time)::TIMESTAMPTZ AS funding_time,
                   open::DOUBLE AS rate, NULL::DOUBLE AS mark_price
              FROM _raw
            """,
            {"venue": venue, "symbol": symbol},
        )
    finally:
        _drop(con, "_raw")
    return _rows(con), _meta(fmt, venue, symbol, "perp", None)


def _freqtrade_funding_csv(real: Path, venue: str, symbol: str | None, layout: str) -> Reader:
    symbol = _need(symbol, "symbol", real)
    columns, t_sql = _freqtrade_csv_layout(layout)

    def read(con: Connection) -> tuple[int, dict[str, Any]]:
        con.execute(
            f"CREATE TEMP TABLE _raw AS SELECT {t_sql} AS open_time, open "
            f"FROM read_csv($path, header = true, "
            f"delim = ',', auto_detect = false, columns = {columns})",
            {"path": str(real)},
        )
        return _stage_funding_from_raw(con, venue, symbol, "freqtrade-csv")

    return read


def _binance_funding(real: Path, venue: str, symbol: str | None, noheader: bool) -> Reader:
    """data.binance.vision ``BTCUSDT-fundingRate-2024-01.csv``: calc_time (ms), hours, rate."""
    symbol = _need(symbol, "symbol", real)

    def read(con: Connection) -> tuple[int, dict[str, Any]]:
        con.execute(
            f"""
            CREATE TEMP TABLE _stage AS
            SELECT $venue::VARCHAR AS venue, $symbol::VARCHAR AS symbol,
                   date_trunc('second', {_epoch_sql("calc_time")}) AS funding_time,
                   last_funding_rate AS rate, NULL::DOUBLE AS mark_price
              FROM read_csv($path, header = {str(not noheader).lower()}, delim = ',', auto_detect = false,
                            columns = {{'calc_time': 'BIGINT', 'funding_interval_hours': 'INTEGER',
                                        'last_funding_rate': 'DOUBLE'}})
            """,
            {"venue": venue, "symbol": symbol, "path": str(real)},
        )
        return _rows(con), _meta("binance-funding", venue, symbol, "perp", None)

    return read


# -- liquidations --------------------------------------------------------------------------------


def _liquidation_log(real: Path, venue: str) -> Reader:
    """CSV logs of forceOrder events: SELL = a long was liquidated, BUY = a short.

    ``timestamp`` without a zone is taken as UTC (the sessions run in UTC).
    """

    def read(con: Connection) -> tuple[int, dict[str, Any]]:
        con.execute(
            """
            CREATE TEMP TABLE _stage AS
            SELECT $venue::VARCHAR AS venue, upper(symbol) AS symbol,
                   CASE upper(side) WHEN 'SELL' THEN 'long' WHEN 'BUY' THEN 'short' END AS side,
                   avg_price AS price, filled_qty AS quantity,
                   coalesce(usd_value, avg_price * filled_qty) AS notional_usd,
                   timestamp::TIMESTAMPTZ AS event_time, NULL::TIMESTAMPTZ AS receive_time,
                   'import' AS source
              FROM read_csv($path, header = true, delim = ',', auto_detect = false,
                            columns = {'timestamp': 'TIMESTAMP', 'symbol': 'VARCHAR', 'side': 'VARCHAR',
                                       'avg_price': 'DOUBLE', 'filled_qty': 'DOUBLE', 'usd_value': 'DOUBLE'})
            """,
            {"venue": venue, "path": str(real)},
        )
        _check_sides(con, real)
        return _rows(con), _meta("liquidation-log", venue, None, "perp", None)

    return read


def _check_sides(con: Connection, path: Path) -> None:
    row = con.execute("SELECT count(*) FROM _stage WHERE side IS NULL").fetchone()
    if row and row[0]:
        raise InputError(
            f"{row[0]} rows have a side other than BUY/SELL",
            path=path,
            hint="nothing from this file was imported",
        )


# -- JSON: freqtrade arrays, REST payloads, stream messages ----------------------------------------


def _json_file(
    kind: str,
    path: Path,
    real: Path,
    o: ImportOptions,
    venue: str,
    symbol: str | None,
    hints: sniff.NameHints,
) -> Reader:
    def read(con: Connection) -> tuple[int, dict[str, Any]]:
        first = _first_json_char(real)
        try:
            if first == "[" and _array_of_arrays(real):
                return _freqtrade_json(con, kind, real, o, venue, symbol, hints)
            con.execute(
                "CREATE TEMP TABLE _obj AS SELECT json AS j FROM read_json_objects($path, format = 'auto')",
                {"path": str(real)},
            )
        except duckdb.InvalidInputException as exc:
            raise _json_error(real, exc) from exc
        try:
            if kind == "liquidations":
                return _liquidation_messages(con, real, venue)
            if kind == "funding":
                con.execute(
                    """
                    CREATE TEMP TABLE _stage AS
                    SELECT $venue::VARCHAR AS venue, upper(j->>'symbol') AS symbol,
                           date_trunc('second', make_timestamptz((j->>'fundingTime')::BIGINT * 1000))
                               AS funding_time,
                           (j->>'fundingRate')::DOUBLE AS rate,
                           nullif(j->>'markPrice', '')::DOUBLE AS mark_price
                      FROM (SELECT unnest(CASE WHEN json_type(j) = 'ARRAY' THEN j::JSON[] ELSE [j] END) AS j
                              FROM _obj)
                    """,
                    {"venue": venue},
                )
                return _rows(con), _meta("binance-rest-json", venue, None, "perp", None)
            if kind == "open_interest":
                interval = _need(o.interval or hints.interval or "5m", "interval", real)
                con.execute(
                    """
                    CREATE TEMP TABLE _stage AS
                    SELECT $venue::VARCHAR AS venue, upper(j->>'symbol') AS symbol,
                           $interval::VARCHAR AS interval,
                           make_timestamptz((j->>'timestamp')::BIGINT * 1000) AS ts,
                           (j->>'sumOpenInterest')::DOUBLE AS open_interest,
                           (j->>'sumOpenInterestValue')::DOUBLE AS open_interest_usd
                      FROM (SELECT unnest(CASE WHEN json_type(j) = 'ARRAY' THEN j::JSON[] ELSE [j] END) AS j
                              FROM _obj)
                    """,
                    {"venue": venue, "interval": interval},
                )
                return _rows(con), _meta("binance-rest-json", venue, None, "perp", interval)
            raise InputError(
                "JSON objects are not candle data (expected freqtrade's [[ts, o, h, l, c, v], ...])",
                path=real,
            )
        finally:
            _drop(con, "_obj")

    return read


def _first_json_char(path: Path) -> str:
    with open(path, "rb") as fh:
        chunk = fh.read(4096).lstrip()
    return chunk[:1].decode("ascii", errors="replace")


def _array_of_arrays(path: Path) -> bool:
    with open(path, "rb") as fh:
        chunk = fh.read(4096).lstrip()
    return chunk[:1] == b"[" and chunk[1:].lstrip()[:1] in (b"[", b"]")


def _json_error(path: Path, exc: Exception) -> InputError:
    """Name the first line that is not JSON (scans the file only on this error path)."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        text = fh.read()
    try:
        json.loads(text)
    except json.JSONDecodeError:
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    json.loads(line)
                except json.JSONDecodeError as err:
                    return InputError(
                        f"malformed JSON: {err.msg}",
                        path=path,
                        line=n,
                        hint="fix or remove that line; nothing from this file was imported",
                    )
    return InputError(
        f"malformed JSON: {str(exc).splitlines()[0]}", path=path, hint="nothing from this file was imported"
    )


def _freqtrade_json(
    con: Connection,
    kind: str,
    real: Path,
    o: ImportOptions,
    venue: str,
    symbol: str | None,
    hints: sniff.NameHints,
) -> tuple[int, dict[str, Any]]:
    symbol = _need(symbol, "symbol", real)
    con.execute(
        f"""
        CREATE TEMP TABLE _raw AS
        SELECT {_epoch_sql("r[1]::BIGINT")} AS open_time, r[2] AS open, r[3] AS high, r[4] AS low,
               r[5] AS close, r[6] AS volume
          FROM read_json($path, format = 'array', records = false, columns = {{'r': 'DOUBLE[]'}})
        """,
        {"path": str(real)},
    )
    bad = con.execute("SELECT count(*) FROM _raw WHERE open_time IS NULL OR open IS NULL").fetchone()
    if bad and bad[0]:
        raise InputError(f"{bad[0]} rows lack a time or price", path=real)
    if kind == "funding" or hints.funding:
        return _stage_funding_from_raw(con, venue, symbol, "freqtrade-json")
    market = o.market or hints.market or "spot"
    return _stage_ohlcv(con, real, venue, market, symbol, o.interval or hints.interval, "freqtrade-json")


def _liquidation_messages(con: Connection, real: Path, venue_default: str) -> tuple[int, dict[str, Any]]:
    """Binance ``forceOrder`` messages (bare or combined-stream wrapped) and Bybit ``allLiquidation``.

    Binance: ``o.S`` is the forced order's side (SELL closes a long); price = ``o.ap`` (average),
    quantity = ``o.z`` (filled), time = ``o.T`` (trade time). Bybit: ``S`` is the *position*
    side (Buy = a long was liquidated).
    """
    con.execute(
        """
        CREATE TEMP TABLE _msgs AS
        SELECT unnest(CASE WHEN json_type(j) = 'ARRAY' THEN j::JSON[] ELSE [j] END) AS m FROM _obj
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE _stage AS
        WITH b AS (
            SELECT coalesce(m->'data'->'o', m->'o') AS o FROM _msgs
             WHERE coalesce(m->'data'->>'e', m->>'e') = 'forceOrder'
        ), y AS (
            SELECT unnest((m->'data')::JSON[]) AS d FROM _msgs WHERE (m->>'topic') LIKE 'allLiquidation.%'
        )
        SELECT 'binance' AS venue, upper(o->>'s') AS symbol,
               CASE upper(o->>'S') WHEN 'SELL' THEN 'long' WHEN 'BUY' THEN 'short' END AS side,
               coalesce(nullif((o->>'ap')::DOUBLE, 0), (o->>'p')::DOUBLE) AS price,
               coalesce((o->>'z')::DOUBLE, (o->>'q')::DOUBLE) AS quantity,
               coalesce(nullif((o->>'ap')::DOUBLE, 0), (o->>'p')::DOUBLE)
                   * coalesce((o->>'z')::DOUBLE, (o->>'q')::DOUBLE) AS notional_usd,
               make_timestamptz((o->>'T')::BIGINT * 1000) AS event_time, NULL::TIMESTAMPTZ AS receive_time,
               'import' AS source
          FROM b
        UNION ALL
        SELECT 'bybit', upper(d->>'s'),
               CASE d->>'S' WHEN 'Buy' THEN 'long' WHEN 'Sell' THEN 'short' END,
               (d->>'p')::DOUBLE, (d->>'v')::DOUBLE, (d->>'p')::DOUBLE * (d->>'v')::DOUBLE,
               make_timestamptz((d->>'T')::BIGINT * 1000), NULL::TIMESTAMPTZ, 'import'
          FROM y
        """
    )
    con.execute("DROP TABLE _msgs")
    _check_sides(con, real)
    venues = con.execute("SELECT DISTINCT venue FROM _stage").fetchall()
    venue = venues[0][0] if len(venues) == 1 else venue_default
    return _rows(con), _meta("liquidation-json", venue, None, "perp", None)


# -- open interest -------------------------------------------------------------------------------


def _binance_metrics(real: Path, venue: str) -> Reader:
    """data.binance.vision ``BTCUSDT-metrics-2024-01-01.csv`` (5-minute open interest)."""

    def read(con: Connection) -> tuple[int, dict[str, Any]]:
        con.execute(
            """
            CREATE TEMP TABLE _stage AS
            SELECT $venue::VARCHAR AS venue, upper(symbol) AS symbol, '5m' AS interval,
                   create_time::TIMESTAMPTZ AS ts, sum_open_interest AS open_interest,
                   sum_open_interest_value AS open_interest_usd
              FROM read_csv($path, header = true, delim = ',', auto_detect = false,
                            columns = {'create_time': 'TIMESTAMP', 'symbol': 'VARCHAR',
                                       'sum_open_interest': 'DOUBLE', 'sum_open_interest_value': 'DOUBLE',
                                       'c1': 'VARCHAR', 'c2': 'VARCHAR', 'c3': 'VARCHAR', 'c4': 'VARCHAR'},
                            null_padding = true)
            """,
            {"venue": venue, "path": str(real)},
        )
        return _rows(con), _meta("binance-metrics", venue, None, "perp", "5m")

    return read


# -- generic CSV through a column mapping --------------------------------------------------------

#: Target fields each kind needs (required) and may take (optional).
GENERIC_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "candles": (
        ("time", "open", "high", "low", "close"),
        ("volume", "quote_volume", "trades", "taker_buy_volume", "taker_buy_quote_volume"),
    ),
    "funding": (("time", "rate"), ("mark_price", "symbol")),
    "liquidations": (("time", "side", "price", "quantity"), ("symbol", "notional_usd")),
    "open_interest": (("time", "open_interest"), ("open_interest_usd", "symbol")),
}


def parse_mapping(text: str) -> dict[str, str]:
    """'time=ts,open=o' -> {'time': 'ts', 'open': 'o'}."""
    out: dict[str, str] = {}
    for part in [p for p in text.split(",") if p.strip()]:
        if "=" not in part:
            raise ConfigError(f"--map {text!r}: expected FIELD=COLUMN pairs separated by commas")
        k, v = part.split("=", 1)
        out[k.strip().lower()] = v.strip()
    return out


def _generic_csv(
    kind: str, real: Path, o: ImportOptions, venue: str, symbol: str | None, hints: sniff.NameHints
) -> Reader:
    required, optional = GENERIC_FIELDS[kind]
    missing = [f for f in required if f not in o.mapping]
    unknown = [f for f in o.mapping if f not in required + optional]
    if missing or unknown:
        raise ConfigError(
            f"--map for {kind}: missing {missing or 'nothing'}, unknown {unknown or 'nothing'}; "
            f"fields: {', '.join(required)} (required), {', '.join(optional)}"
        )
    if "symbol" not in o.mapping:
        symbol = _need(symbol, "symbol", real)

    def col(name: str) -> str:
        return '"' + o.mapping[name].replace('"', '""') + '"'

    def num(name: str, typ: str = "DOUBLE") -> str:
        return f"TRY_CAST({col(name)} AS {typ})" if name in o.mapping else f"NULL::{typ}"

    unit = o.time_unit or "ms"
    raw_t = col("time")
    time_sql = {
        "ms": f"make_timestamptz(TRY_CAST({raw_t} AS BIGINT) * 1000)",
        "us": f"make_timestamptz(TRY_CAST({raw_t} AS BIGINT))",
        "s": f"make_timestamptz(TRY_CAST(TRY_CAST({raw_t} AS DOUBLE) * 1000000 AS BIGINT))",
        "iso": f"TRY_CAST({raw_t} AS TIMESTAMPTZ)",
    }[unit]
    sym_sql = (
        f"upper(replace(replace({col('symbol')}, '/', ''), '_', ''))" if "symbol" in o.mapping else "$symbol"
    )

    def read(con: Connection) -> tuple[int, dict[str, Any]]:
        con.execute(
            "CREATE TEMP TABLE _src AS SELECT row_number() OVER () + 1 AS _line, * "
            "FROM read_csv($path, header = true, all_varchar = true)",
            {"path": str(real)},
        )
        try:
            required_sql = " OR ".join(
                f"{e} IS NULL" for e in [time_sql] + [num(f) for f in required if f not in ("time", "side")]
            )
            bad = con.execute(f"SELECT min(_line) FROM _src WHERE {required_sql}").fetchone()
            if bad and bad[0] is not None:
                raise InputError(
                    "malformed line: a required field is missing or not a number/time",
                    path=real,
                    line=int(bad[0]),
                    hint="fix or remove that line; nothing from this file was imported",
                )
            params: dict[str, Any] = {"venue": venue}
            if "symbol" not in o.mapping:
                params["symbol"] = symbol
            if kind == "candles":
                market = o.market or hints.market or "spot"
                con.execute(
                    f"""CREATE TEMP TABLE _raw AS SELECT {time_sql} AS open_time, {num("open")} AS open,
                        {num("high")} AS high, {num("low")} AS low, {num("close")} AS close,
                        {num("volume")} AS volume FROM _src"""
                )
                return _stage_ohlcv(
                    con, real, venue, market, str(symbol), o.interval or hints.interval, "generic-csv"
                )
            if kind == "funding":
                con.execute(
                    f"""CREATE TEMP TABLE _stage AS
                    SELECT $venue::VARCHAR AS venue, {sym_sql}::VARCHAR AS symbol,
                        date_trunc('second', {time_sql}) AS funding_time, {num("rate")} AS rate,
                        {num("mark_price")} AS mark_price FROM _src""",
                    params,
                )
                return _rows(con), _meta("generic-csv", venue, symbol, "perp", None)
            if kind == "open_interest":
                params["interval"] = _need(o.interval or hints.interval, "interval", real)
                con.execute(
                    f"""CREATE TEMP TABLE _stage AS
                    SELECT $venue::VARCHAR AS venue, {sym_sql}::VARCHAR AS symbol,
                        $interval::VARCHAR AS interval, {time_sql} AS ts,
                        {num("open_interest")} AS open_interest,
                        {num("open_interest_usd")} AS open_interest_usd FROM _src""",
                    params,
                )
                return _rows(con), _meta("generic-csv", venue, symbol, "perp", params["interval"])
            con.execute(
                f"""CREATE TEMP TABLE _stage AS
                    SELECT $venue::VARCHAR AS venue, {sym_sql}::VARCHAR AS symbol,
                    CASE lower({col("side")}) WHEN 'sell' THEN 'long' WHEN 'long' THEN 'long'
                         WHEN 'buy' THEN 'short' WHEN 'short' THEN 'short' END AS side,
                    {num("price")} AS price, {num("quantity")} AS quantity,
                    coalesce({num("notional_usd")}, {num("price")} * {num("quantity")}) AS notional_usd,
                    {time_sql} AS event_time, NULL::TIMESTAMPTZ AS receive_time, 'import' AS source
                    FROM _src""",
                params,
            )
            _check_sides(con, real)
            return _rows(con), _meta("generic-csv", venue, symbol, "perp", None)
        finally:
            _drop(con, "_src")

    return read


__all__ = [
    "FlushwatchError",
    "ImportOptions",
    "ImportSummary",
    "import_candles",
    "import_file",
    "import_files",
    "import_funding",
    "import_liquidations",
    "import_open_interest",
    "parse_mapping",
]
