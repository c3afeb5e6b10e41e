"""``flushwatch import candles|funding|liquidations|open-interest``: files -> market tables.

Each file is read by DuckDB's own readers (read_csv with explicit columns and types,
read_json, Arrow for feather) into a TEMP stage, checked, then appended with an anti-join on
the natural key (storage/market.py) -- all in ONE transaction per file, so a malformed line
leaves nothing of that file behind and a repeat import adds nothing. What a file is (format,
venue, market, symbol, interval) comes from :mod:`flushwatch.ingest.market.sniff` unless the
caller says so.

Checks run on the stage in SQL (one scan). Only when one fails is the file read again with
row numbers (:class:`_Rows`) to name the first offending line: numbering rows needs a
``row_number()`` window, which serialises DuckDB's parallel CSV reader, so good files never
pay for it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import lzma
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
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
_TABLES = {
    "candles": "candles",
    "funding": "funding_rates",
    "liquidations": "liquidations",
    "open_interest": "open_interest",
}
#: Temp tables a reader may leave behind; dropped after every file.
_TEMP = ("_stage", "_raw", "_src", "_obj", "_vals", "_liq")
_LINE_RE = re.compile(r"CSV Error on Line: (\d+)")
# ms timestamps are ~1.7e12 today, µs ~1.7e15: anything >= 1e14 is microseconds.
_US = 100_000_000_000_000
#: Bars looked at for a series' spacing (a top-N, cheap on millions of rows).
_SPACING_BARS = 10_000
#: What zipfile raises for a damaged archive or member (bad CRC, bad deflate data, truncation,
#: an unsupported or encrypted member).
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError, RuntimeError)


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


@dataclass(frozen=True)
class _File:
    """A file as the user named it (``path``, for messages) and as DuckDB reads it (``real``:
    the unpacked member of a zip, else ``path`` itself)."""

    path: Path
    real: Path
    member: str | None = None

    @property
    def where(self) -> str:
        return f"{self.path}!{self.member}" if self.member else str(self.path)


def _used(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters ``sql`` names: DuckDB refuses unused named parameters."""
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}


@dataclass(frozen=True)
class _Rows:
    """The stage's rows once more, numbered in file order: ``sql`` selects ``_line`` and the
    stage's columns. Run only when a check fails (see the module doc).

    ``unit`` is what ``_line`` counts: file lines (blank lines are not counted, as DuckDB's CSV
    reader skips them), or ``bar``/``row``/``message`` where lines mean nothing (a JSON array,
    a feather table).
    """

    sql: str
    params: dict[str, Any] = field(default_factory=dict)
    unit: str = "line"

    @classmethod
    def read(
        cls, select: str, source: str, params: dict[str, Any], first_line: int = 1, unit: str = "line"
    ) -> _Rows:
        """``SELECT select FROM source`` numbered from ``first_line`` (2 below a header)."""
        return cls(
            f"SELECT row_number() OVER () + {first_line - 1} AS _line, {select} FROM {source}", params, unit
        )

    @classmethod
    def table(cls, select: str, source: str, params: dict[str, Any], unit: str = "line") -> _Rows:
        """Rows of a source that already carries ``_line`` (a numbered temp table)."""
        return cls(f"SELECT _line, {select} FROM {source}", params, unit)

    def then(self, select: str, params: dict[str, Any] | None = None) -> _Rows:
        """These rows seen through one more projection (raw table -> stage)."""
        return _Rows(
            f"SELECT _line, {select} FROM ({self.sql})", {**self.params, **(params or {})}, self.unit
        )

    def error(self, where: str, n: int | None, message: str) -> InputError:
        """The one-line error for row ``n``: ``FILE:LINE: malformed line: ...`` for lines."""
        if n is None:
            return InputError(message, path=where, hint="nothing from this file was imported")
        if self.unit == "line":
            return InputError(
                f"malformed line: {message}",
                path=where,
                line=n,
                hint="fix or remove that line; nothing from this file was imported",
            )
        return InputError(
            f"{self.unit} {n}: {message}",
            path=where,
            hint=f"fix or remove that {self.unit}; nothing from this file was imported",
        )


Staged = tuple[int, dict[str, Any], _Rows]
Reader = Callable[[Connection], Staged]


def _create(con: Connection, table: str, select: str, source: str, params: dict[str, Any]) -> None:
    con.execute(f"CREATE TEMP TABLE {table} AS SELECT {select} FROM {source}", _used(select + source, params))


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
    """One file, one transaction: read into ``_stage``, check, append what is new."""
    if not path.is_file():
        raise InputError("no such file", path=path, hint="check the path")
    table = _TABLES[kind]
    with _readable(path) as f:
        reader = _plan(kind, f, options)
        with db.write() as con:
            # Rows carry their own times; insertion order is irrelevant and costs parallelism.
            con.execute("SET preserve_insertion_order = false")
            try:
                rows_read, meta, rows = reader(con)
                _validate(con, table, f.where, rows)
                rows_new = store.insert_new(con, table, "_stage", run_id)
                first, last = _range(con, table)
            except duckdb.Error as exc:
                raise _input_error(exc, f) from exc
            finally:
                for temp in _TEMP:
                    _drop(con, temp)
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
def _readable(path: Path) -> Iterator[_File]:
    """A path DuckDB can read: zips are unpacked to a temp dir (DuckDB reads .gz natively).

    A damaged zip (bad CRC, scrambled deflate data, truncated) is an InputError naming the
    file, so a multi-file import reports it and goes on with the others.
    """
    if path.suffix.lower() != ".zip":
        yield _File(path, path)
        return
    tmp = Path(tempfile.mkdtemp(prefix="flushwatch-zip-"))
    try:
        try:
            with zipfile.ZipFile(path) as zf:
                members = [i for i in zf.infolist() if not i.is_dir()]
                if len(members) != 1:
                    raise InputError(f"zip holds {len(members)} files, expected one CSV", path=path)
                member = members[0].filename
                target = tmp / PurePosixPath(member).name
                with zf.open(members[0]) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        except _ZIP_ERRORS as exc:
            raise InputError(
                f"corrupt or unreadable zip file: {exc}",
                path=path,
                hint="download it again; nothing from this file was imported",
            ) from exc
        yield _File(path, target, member)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _input_error(exc: duckdb.Error, f: _File) -> InputError:
    text = str(exc)
    m = _LINE_RE.search(text)
    first = next((ln for ln in text.splitlines()[1:] if ln.startswith("Error when")), text.splitlines()[0])
    if m:
        return InputError(
            f"malformed line: {first}",
            path=f.where,
            line=int(m.group(1)),
            hint="fix or remove that line; nothing from this file was imported",
        )
    return InputError(f"cannot read: {first}", path=f.where, hint="nothing from this file was imported")


def _range(con: Connection, table: str) -> tuple[Any, Any]:
    tcol = store.TIME_COLUMN[table]
    row = con.execute(f"SELECT min({tcol}), max({tcol}) FROM _stage").fetchone()
    return (row[0], row[1]) if row else (None, None)


def _plan(kind: str, f: _File, o: ImportOptions) -> Reader:
    """Decide how to read the file; returns a function that fills ``_stage`` and says what it was."""
    hints = sniff.path_hints(f.path, f.member)
    venue = (o.venue or hints.venue or "binance").lower()
    symbol = normalise_symbol(o.symbol) if o.symbol else hints.symbol
    suffixes = "".join(f.path.suffixes).lower()
    if o.mapping:
        return _generic_csv(kind, f, o, venue, symbol, hints)
    if ".feather" in suffixes:
        return _freqtrade_feather(kind, f, o, venue, symbol, hints)
    if ".json" in suffixes:
        return _json_file(kind, f, o, venue, symbol, hints)
    lines, _ = sniff.head_lines(f.real, 3)
    layout = sniff.csv_kind(lines[0] if lines else "")
    if layout == "unknown":
        raise InputError(
            "unrecognised CSV layout (first line: " + (lines[0].strip()[:80] if lines else "empty") + ")",
            path=f.where,
            line=1,
            hint="use --map time=COL,open=COL,... for a generic CSV",
        )
    if kind == "candles":
        if layout.startswith("binance-archive"):
            return _binance_klines(f, o, venue, symbol, hints, lines, layout.endswith("noheader"))
        if layout.startswith("freqtrade"):
            return _freqtrade_candles_csv(f, o, venue, symbol, hints, layout)
    if kind == "funding":
        if layout.startswith("binance-funding"):
            return _binance_funding(f, venue, symbol, layout.endswith("noheader"))
        if layout.startswith("freqtrade"):
            return _freqtrade_funding_csv(f, venue, symbol, layout)
    if kind == "liquidations" and layout == "liquidation-log":
        return _liquidation_log(f, venue)
    if kind == "open_interest" and layout == "binance-metrics":
        return _binance_metrics(f, venue)
    raise InputError(
        f"a {layout} file is not {kind} data",
        path=f.where,
        hint="use the matching `flushwatch import` command, or --map for a generic CSV",
    )


def _need(value: str | None, what: str, f: _File) -> str:
    if not value:
        raise InputError(f"cannot infer the {what} from the file name", path=f.where, hint=f"pass --{what}")
    return value


def _rows(con: Connection) -> int:
    row = con.execute("SELECT count(*) FROM _stage").fetchone()
    return int(row[0]) if row else 0


def _meta(
    fmt: str, venue: str, symbol: str | None, market: str | None, interval: str | None
) -> dict[str, Any]:
    return {"fmt": fmt, "venue": venue, "symbol": symbol, "market": market, "interval": interval}


# -- checks --------------------------------------------------------------------------------------

_PRICES = "open, high, low, close"
#: Per table: (predicate over the stage's columns that marks a bad row, what is wrong). NULLs
#: would otherwise surface as a bare NOT NULL constraint error from the final INSERT.
_CHECKS: dict[str, tuple[tuple[str, str], ...]] = {
    "candles": (
        ("open_time IS NULL", "no open time"),
        (
            "open IS NULL OR high IS NULL OR low IS NULL OR close IS NULL",
            "a price (open, high, low or close) is empty",
        ),
        (
            "NOT (isfinite(open) AND isfinite(high) AND isfinite(low) AND isfinite(close)) "
            f"OR least({_PRICES}) <= 0",
            "a price is zero, negative or not a finite number",
        ),
        (
            "high < low OR high < greatest(open, close) OR low > least(open, close)",
            "high and low do not enclose the bar (high < low, high < max(open, close) "
            "or low > min(open, close))",
        ),
    ),
    "liquidations": (
        ("symbol IS NULL OR symbol = ''", "no symbol"),
        ("side IS NULL", "side is not BUY or SELL (or long/short)"),
        ("event_time IS NULL", "no time"),
        ("price IS NULL OR quantity IS NULL", "no price or quantity"),
        (
            "NOT (isfinite(price) AND isfinite(quantity)) OR price <= 0 OR quantity <= 0",
            "price or quantity is zero, negative or not a finite number",
        ),
        ("notional_usd IS NULL", "no notional value"),
    ),
    "funding_rates": (
        ("symbol IS NULL OR symbol = ''", "no symbol"),
        ("funding_time IS NULL", "no funding time"),
        ("rate IS NULL OR NOT isfinite(rate)", "no funding rate, or not a finite number"),
    ),
    "open_interest": (
        ("symbol IS NULL OR symbol = ''", "no symbol"),
        ("ts IS NULL", "no time"),
        (
            "open_interest IS NULL OR NOT isfinite(open_interest) OR open_interest < 0",
            "open interest is empty, negative or not a finite number",
        ),
    ),
}


def _validate(con: Connection, table: str, where: str, rows: _Rows) -> None:
    """Refuse the whole file at its first bad row (one bad line rejects the file).

    One scan of the stage says whether any check fails; only then are the rows read again
    numbered, and the earliest offending row is named.
    """
    checks = _CHECKS[table]
    flags = con.execute(
        "SELECT " + ", ".join(f"coalesce(bool_or({pred}), false)" for pred, _ in checks) + " FROM _stage"
    ).fetchone()
    failing = [check for check, bad in zip(checks, flags or (False,) * len(checks), strict=True) if bad]
    if not failing:
        return
    sql = (
        "SELECT "
        + ", ".join(f"min(_line) FILTER (WHERE {pred})" for pred, _ in failing)
        + f" FROM ({rows.sql})"
    )
    lines = con.execute(sql, _used(sql, rows.params)).fetchone() or (None,) * len(failing)
    found = [(n, what) for n, (_, what) in zip(lines, failing, strict=True) if n is not None]
    n, what = min(found, key=lambda x: x[0]) if found else (None, failing[0][1])
    raise rows.error(where, n, what)


def _check_values(
    con: Connection, table: str, fields: Sequence[tuple[str, str, str, str]], rows: _Rows, where: str
) -> None:
    """Refuse the file at the first row where a field holds text that does not convert.

    ``fields``: (label, raw text SQL, converted SQL, what it should be) over ``table``, which
    carries ``_line``.
    Readers of text formats (JSON, generic CSV) convert with TRY_CAST so that a bad value is
    named here with its line, not lost as NULL or raised as a bare "Conversion Error".
    """
    bad = [f"({raw} IS NOT NULL AND trim({raw}) <> '' AND ({conv}) IS NULL)" for _, raw, conv, _ in fields]
    which = " ".join(f"WHEN {b} THEN {i}" for i, b in enumerate(bad))
    value = " ".join(f"WHEN {b} THEN {raw}" for b, (_, raw, _, _) in zip(bad, fields, strict=True))
    row = con.execute(
        f"SELECT _line, CASE {which} END, CASE {value} END FROM {table} "
        f"WHERE {' OR '.join(bad)} ORDER BY _line LIMIT 1"
    ).fetchone()
    if row:
        shown = row[2] if len(row[2]) <= 40 else row[2][:37] + "..."
        label, _, _, what = fields[row[1]]
        raise rows.error(where, int(row[0]), f"{label} {shown!r} is not {what}")


_WHAT = {"DOUBLE": "a number", "BIGINT": "a whole number"}


def _check_interval(con: Connection, where: str, interval: str, origin: str) -> None:
    """The bars must sit on the interval's grid and be no further apart than it.

    The grid check catches an interval coarser than the data (1m bars called 5m); the spacing
    check one finer than the data (5m bars called 1m, which the grid cannot see): the most
    common gap between consecutive open times over the first bars of the series (a candle
    stage holds one series).
    """
    step = store.interval_seconds(interval)
    if step >= 7 * 86400:
        return
    row = con.execute(
        f"SELECT open_time FROM _stage WHERE epoch(open_time)::BIGINT % {step} <> 0 LIMIT 1"
    ).fetchone()
    if row:
        raise InputError(
            f"bar at {row[0]} is not on the {interval} grid ({interval} from {origin})",
            path=where,
            hint="check --interval; nothing from this file was imported",
        )
    gap = con.execute(
        "SELECT mode(d) FROM (SELECT epoch(open_time - lag(open_time) OVER (ORDER BY open_time))::BIGINT "
        "AS d "
        f"FROM (SELECT open_time FROM _stage WHERE open_time IS NOT NULL ORDER BY open_time "
        f"LIMIT {_SPACING_BARS + 1})) WHERE d > 0"
    ).fetchone()
    if gap and gap[0] is not None and int(gap[0]) > step:
        spacing = store.interval_name(int(gap[0]))
        raise InputError(
            f"the data looks like {spacing} bars (the most common gap between consecutive open times), "
            f"coarser than {interval} ({interval} from {origin})",
            path=where,
            hint=f"pass --interval {spacing} if that is what it holds; nothing from this file was imported",
        )


# -- candles -------------------------------------------------------------------------------------

_ARCHIVE_TYPES = (
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
)


def _binance_klines(
    f: _File,
    o: ImportOptions,
    venue: str,
    symbol: str | None,
    hints: sniff.NameHints,
    lines: list[str],
    noheader: bool,
) -> Reader:
    symbol = _need(symbol, "symbol", f)
    first_line = 1 if noheader else 2
    numbered = [(n, ln) for n, ln in enumerate(lines, 1) if n >= first_line and ln.strip()]
    market = o.market or hints.market
    interval, origin = (o.interval, "--interval") if o.interval else (hints.interval, "the file name")
    if numbered and (market is None or interval is None):
        n, line = numbered[0]
        try:
            if market is None:
                market = sniff.archive_market_from_numbers(line)
                log.info(
                    "%s: no market in name or folder; taken as %s from its numbers (use --market)",
                    f.where,
                    market,
                )
            if interval is None:
                fields = line.split(",")
                ot, ct = int(fields[0]), int(fields[6])
                span = ct - ot + 1
                interval = sniff.millis_to_interval(span // 1000 if ot >= _US else span)
                origin = "close_time - open_time"
        except (ValueError, IndexError) as exc:
            raise InputError(
                f"malformed line: {line.strip()[:80]}",
                path=f.where,
                line=n,
                hint="fix or remove that line; nothing from this file was imported",
            ) from exc
    interval = _need(interval, "interval", f)
    cols = ", ".join(
        f"'{c}': '{t}'" for c, t in zip(sniff.ARCHIVE_KLINE_COLUMNS, _ARCHIVE_TYPES, strict=True)
    )
    select = f"""$venue::VARCHAR AS venue, $market::VARCHAR AS market, $symbol::VARCHAR AS symbol,
                 $interval::VARCHAR AS interval, {_epoch_sql("open_time")} AS open_time,
                 open, high, low, close, volume, quote_volume, count AS trades,
                 taker_buy_volume, taker_buy_quote_volume"""
    source = f"""read_csv($path, header = {str(not noheader).lower()}, delim = ',', quote = '"',
                          auto_detect = false, columns = {{{cols}}})"""
    params = {"venue": venue, "market": market, "symbol": symbol, "interval": interval, "path": str(f.real)}

    def read(con: Connection) -> Staged:
        _create(con, "_stage", select, source, params)
        _check_interval(con, f.where, interval, origin)
        rows = _Rows.read(select, source, params, first_line)
        return _rows(con), _meta("binance-archive", venue, symbol, market, interval), rows

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


def _freqtrade_raw(con: Connection, f: _File, layout: str) -> _Rows:
    """A freqtrade CSV into ``_raw(open_time, open, high, low, close, volume)``."""
    columns, t_sql = _freqtrade_csv_layout(layout)
    select = f"{t_sql} AS open_time, open, high, low, close, volume"
    source = f"read_csv($path, header = true, delim = ',', auto_detect = false, columns = {columns})"
    params = {"path": str(f.real)}
    _create(con, "_raw", select, source, params)
    return _Rows.read(select, source, params, 2)


def _freqtrade_candles_csv(
    f: _File,
    o: ImportOptions,
    venue: str,
    symbol: str | None,
    hints: sniff.NameHints,
    layout: str,
) -> Reader:
    symbol = _need(symbol, "symbol", f)
    market = o.market or hints.market or "spot"

    def read(con: Connection) -> Staged:
        raw = _freqtrade_raw(con, f, layout)
        return _stage_ohlcv(con, f, raw, venue, market, symbol, o, hints, "freqtrade-csv")

    return read


def _stage_ohlcv(
    con: Connection,
    f: _File,
    raw: _Rows,
    venue: str,
    market: str,
    symbol: str,
    o: ImportOptions,
    hints: sniff.NameHints,
    fmt: str,
    extra: bool = False,
) -> Staged:
    """_raw(open_time, open, high, low, close, volume[, extras]) -> _stage, inferring the interval
    if needed. ``extra``: _raw also has quote_volume, trades, taker_buy_volume and
    taker_buy_quote_volume (generic CSV); else they are NULL."""
    interval, origin = (o.interval, "--interval") if o.interval else (hints.interval, "the file name")
    if interval is None:
        row = con.execute(
            "SELECT min(d) FROM (SELECT epoch(open_time - lag(open_time) OVER (ORDER BY open_time)) AS d "
            "FROM _raw) WHERE d > 0"
        ).fetchone()
        if not row or row[0] is None:
            raise InputError(
                "cannot infer the interval from fewer than two bars", path=f.where, hint="pass --interval"
            )
        interval, origin = store.interval_name(int(row[0])), "the smallest gap between bars"
    extras = (
        "quote_volume::DOUBLE AS quote_volume, trades::BIGINT AS trades, "
        "taker_buy_volume::DOUBLE AS taker_buy_volume, "
        "taker_buy_quote_volume::DOUBLE AS taker_buy_quote_volume"
        if extra
        else "NULL::DOUBLE AS quote_volume, NULL::BIGINT AS trades, "
        "NULL::DOUBLE AS taker_buy_volume, NULL::DOUBLE AS taker_buy_quote_volume"
    )
    select = f"""$venue::VARCHAR AS venue, $market::VARCHAR AS market, $symbol::VARCHAR AS symbol,
                 $interval::VARCHAR AS interval, open_time::TIMESTAMPTZ AS open_time,
                 open::DOUBLE AS open, high::DOUBLE AS high, low::DOUBLE AS low, close::DOUBLE AS close,
                 volume::DOUBLE AS volume, {extras}"""
    params = {"venue": venue, "market": market, "symbol": symbol, "interval": interval}
    _create(con, "_stage", select, "_raw", params)
    _check_interval(con, f.where, interval, origin)
    return _rows(con), _meta(fmt, venue, symbol, market, interval), raw.then(select, params)


def _freqtrade_feather(
    kind: str, f: _File, o: ImportOptions, venue: str, symbol: str | None, hints: sniff.NameHints
) -> Reader:
    symbol = _need(symbol, "symbol", f)

    def read(con: Connection) -> Staged:
        try:
            import pyarrow.feather as feather
        except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
            raise InputError(
                "reading feather files needs pyarrow", path=f.where, hint="pip install pyarrow"
            ) from exc
        try:
            table = feather.read_table(str(f.real))
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise InputError(f"not a readable feather file: {exc}", path=f.where) from exc
        con.register("_feather", table)
        try:
            # Numbered here: the Arrow table is gone once unregistered, so it cannot be re-read.
            con.execute(
                "CREATE TEMP TABLE _raw AS SELECT row_number() OVER () AS _line, "
                "date::TIMESTAMPTZ AS open_time, open, high, low, close, volume FROM _feather"
            )
        finally:
            con.unregister("_feather")
        raw = _Rows.table("open_time, open, high, low, close, volume", "_raw", {}, unit="row")
        if kind == "funding" or hints.funding:
            return _stage_funding_from_raw(con, raw, venue, symbol, "freqtrade-feather")
        market = o.market or hints.market or "spot"
        return _stage_ohlcv(con, f, raw, venue, market, symbol, o, hints, "freqtrade-feather")

    return read


# -- funding -------------------------------------------------------------------------------------


def _stage_funding_from_raw(con: Connection, raw: _Rows, venue: str, symbol: str, fmt: str) -> Staged:
    """freqtrade funding rows: ``open`` is the rate; times truncated to the second (jitter)."""
    select = """$venue::VARCHAR AS venue, $symbol::VARCHAR AS symbol,
                date_trunc('second', open_time)::TIMESTAMPTZ AS funding_time,
                open::DOUBLE AS rate, NULL::DOUBLE AS mark_price"""
    params = {"venue": venue, "symbol": symbol}
    _create(con, "_stage", select, "_raw", params)
    return _rows(con), _meta(fmt, venue, symbol, "perp", None), raw.then(select, params)


def _freqtrade_funding_csv(f: _File, venue: str, symbol: str | None, layout: str) -> Reader:
    symbol = _need(symbol, "symbol", f)

    def read(con: Connection) -> Staged:
        raw = _freqtrade_raw(con, f, layout)
        return _stage_funding_from_raw(con, raw, venue, symbol, "freqtrade-csv")

    return read


def _binance_funding(f: _File, venue: str, symbol: str | None, noheader: bool) -> Reader:
    """data.binance.vision ``BTCUSDT-fundingRate-2024-01.csv``: calc_time (ms), hours, rate."""
    symbol = _need(symbol, "symbol", f)
    select = f"""$venue::VARCHAR AS venue, $symbol::VARCHAR AS symbol,
                 date_trunc('second', {_epoch_sql("calc_time")}) AS funding_time,
                 last_funding_rate AS rate, NULL::DOUBLE AS mark_price"""
    source = f"""read_csv($path, header = {str(not noheader).lower()}, delim = ',', auto_detect = false,
                          columns = {{'calc_time': 'BIGINT', 'funding_interval_hours': 'INTEGER',
                                      'last_funding_rate': 'DOUBLE'}})"""
    params = {"venue": venue, "symbol": symbol, "path": str(f.real)}

    def read(con: Connection) -> Staged:
        _create(con, "_stage", select, source, params)
        rows = _Rows.read(select, source, params, 1 if noheader else 2)
        return _rows(con), _meta("binance-funding", venue, symbol, "perp", None), rows

    return read


# -- liquidations --------------------------------------------------------------------------------


def _liquidation_log(f: _File, venue: str) -> Reader:
    """CSV logs of forceOrder events: SELL = a long was liquidated, BUY = a short.

    ``timestamp`` is read as TIMESTAMPTZ, so a zone offset (``+02:00``) is honoured; one without
    a zone is UTC (the sessions run in UTC).
    """
    select = """$venue::VARCHAR AS venue, upper(symbol) AS symbol,
                CASE upper(side) WHEN 'SELL' THEN 'long' WHEN 'BUY' THEN 'short' END AS side,
                avg_price AS price, filled_qty AS quantity,
                coalesce(usd_value, avg_price * filled_qty) AS notional_usd,
                timestamp AS event_time, NULL::TIMESTAMPTZ AS receive_time, 'import' AS source"""
    source = """read_csv($path, header = true, delim = ',', auto_detect = false,
                         columns = {'timestamp': 'TIMESTAMPTZ', 'symbol': 'VARCHAR', 'side': 'VARCHAR',
                                    'avg_price': 'DOUBLE', 'filled_qty': 'DOUBLE', 'usd_value': 'DOUBLE'})"""
    params = {"venue": venue, "path": str(f.real)}

    def read(con: Connection) -> Staged:
        _create(con, "_stage", select, source, params)
        rows = _Rows.read(select, source, params, 2)
        return _rows(con), _meta("liquidation-log", venue, None, "perp", None), rows

    return read


# -- JSON: freqtrade arrays, REST payloads, stream messages ----------------------------------------

_UNNEST = "unnest(CASE WHEN json_type(j) = 'ARRAY' THEN j::JSON[] ELSE [j] END)"


def _json_file(
    kind: str,
    f: _File,
    o: ImportOptions,
    venue: str,
    symbol: str | None,
    hints: sniff.NameHints,
) -> Reader:
    def read(con: Connection) -> Staged:
        first = _first_json_char(f.real)
        try:
            if first == "[" and _array_of_arrays(f.real):
                return _freqtrade_json(con, kind, f, o, venue, symbol, hints)
            # Numbered as read: a JSON-lines object is a line, an array's element a message.
            con.execute(
                "CREATE TEMP TABLE _obj AS SELECT row_number() OVER () AS _line, json AS j "
                "FROM read_json_objects($path, format = 'auto')",
                {"path": str(f.real)},
            )
        except duckdb.InvalidInputException as exc:
            raise _json_error(f, exc) from exc
        unit = "message" if first == "[" else "line"
        if kind == "liquidations":
            return _liquidation_messages(con, f, venue, unit)
        if kind == "funding":
            return _rest_json(
                con,
                f,
                unit,
                {
                    "symbol": "symbol",
                    "funding_time": "fundingTime",
                    "rate": "fundingRate",
                    "mark": "markPrice",
                },
                [("fundingTime", "BIGINT"), ("fundingRate", "DOUBLE"), ("markPrice", "DOUBLE")],
                """$venue::VARCHAR AS venue, upper(symbol) AS symbol,
                   date_trunc('second', make_timestamptz(TRY_CAST(funding_time AS BIGINT) * 1000))
                       AS funding_time,
                   TRY_CAST(rate AS DOUBLE) AS rate, TRY_CAST(nullif(mark, '') AS DOUBLE) AS mark_price""",
                {"venue": venue},
                "fundingRate (GET /fapi/v1/fundingRate)",
                _meta("binance-rest-json", venue, None, "perp", None),
            )
        if kind == "open_interest":
            interval = _need(o.interval or hints.interval or "5m", "interval", f)
            return _rest_json(
                con,
                f,
                unit,
                {
                    "symbol": "symbol",
                    "ts": "timestamp",
                    "oi": "sumOpenInterest",
                    "oi_usd": "sumOpenInterestValue",
                },
                [("timestamp", "BIGINT"), ("sumOpenInterest", "DOUBLE"), ("sumOpenInterestValue", "DOUBLE")],
                """$venue::VARCHAR AS venue, upper(symbol) AS symbol, $interval::VARCHAR AS interval,
                   make_timestamptz(TRY_CAST(ts AS BIGINT) * 1000) AS ts,
                   TRY_CAST(oi AS DOUBLE) AS open_interest,
                   TRY_CAST(oi_usd AS DOUBLE) AS open_interest_usd""",
                {"venue": venue, "interval": interval},
                "openInterestHist (GET /futures/data/openInterestHist)",
                _meta("binance-rest-json", venue, None, "perp", interval),
            )
        raise InputError(
            "JSON objects are not candle data (expected freqtrade's [[ts, o, h, l, c, v], ...])",
            path=f.where,
        )

    return read


def _rest_json(
    con: Connection,
    f: _File,
    unit: str,
    keys: dict[str, str],
    numbers: list[tuple[str, str]],
    select: str,
    params: dict[str, Any],
    what: str,
    meta: dict[str, Any],
) -> Staged:
    """Binance REST objects (bare, or in arrays) -> _vals (their fields as text) -> _stage.

    ``keys``: column -> JSON key; ``numbers``: JSON keys that must convert, and to what.
    Fields are kept as text and converted with TRY_CAST after :func:`_check_values` has named
    any line whose value does not convert.
    """
    cols = ", ".join(f"j->>'{key}' AS {col}" for col, key in keys.items())
    con.execute(
        f"CREATE TEMP TABLE _vals AS SELECT _line, {cols} FROM (SELECT _line, {_UNNEST} AS j FROM _obj)"
    )
    rows = _Rows.table(select, "_vals", params, unit)
    by_key = {key: col for col, key in keys.items()}
    _check_values(
        con,
        "_vals",
        [(key, by_key[key], f"TRY_CAST({by_key[key]} AS {t})", _WHAT[t]) for key, t in numbers],
        rows,
        f.where,
    )
    found = con.execute(
        "SELECT count(*) FROM _vals WHERE " + " OR ".join(f"{by_key[k]} IS NOT NULL" for k, _ in numbers)
    ).fetchone()
    if not found or not found[0]:
        raise InputError(f"no {what} objects found", path=f.where, hint="is this the right file and command?")
    _create(con, "_stage", select, "_vals", params)
    return _rows(con), meta, rows


def _first_json_char(path: Path) -> str:
    with open(path, "rb") as fh:
        chunk = fh.read(4096).lstrip()
    return chunk[:1].decode("ascii", errors="replace")


def _array_of_arrays(path: Path) -> bool:
    with open(path, "rb") as fh:
        chunk = fh.read(4096).lstrip()
    return chunk[:1] == b"[" and chunk[1:].lstrip()[:1] in (b"[", b"]")


def _json_error(f: _File, exc: Exception) -> InputError:
    """Name the first line that is not JSON (scans the file only on this error path)."""
    with open(f.real, encoding="utf-8", errors="replace") as fh:
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
                        path=f.where,
                        line=n,
                        hint="fix or remove that line; nothing from this file was imported",
                    )
    return InputError(
        f"malformed JSON: {str(exc).splitlines()[0]}",
        path=f.where,
        hint="nothing from this file was imported",
    )


def _freqtrade_json(
    con: Connection,
    kind: str,
    f: _File,
    o: ImportOptions,
    venue: str,
    symbol: str | None,
    hints: sniff.NameHints,
) -> Staged:
    symbol = _need(symbol, "symbol", f)
    select = (
        f"{_epoch_sql('r[1]::BIGINT')} AS open_time, r[2] AS open, r[3] AS high, r[4] AS low, "
        "r[5] AS close, r[6] AS volume"
    )
    source = "read_json($path, format = 'array', records = false, columns = {'r': 'DOUBLE[]'})"
    params = {"path": str(f.real)}
    _create(con, "_raw", select, source, params)
    raw = _Rows.read(select, source, params, unit="bar")
    if kind == "funding" or hints.funding:
        return _stage_funding_from_raw(con, raw, venue, symbol, "freqtrade-json")
    market = o.market or hints.market or "spot"
    return _stage_ohlcv(con, f, raw, venue, market, symbol, o, hints, "freqtrade-json")


def _liquidation_messages(con: Connection, f: _File, venue_default: str, unit: str) -> Staged:
    """Binance ``forceOrder`` messages (bare or combined-stream wrapped) and Bybit ``allLiquidation``.

    Binance: ``o.S`` is the forced order's side (SELL closes a long); price = ``o.ap`` (average),
    quantity = ``o.z`` (filled), time = ``o.T`` (trade time). Bybit: ``S`` is the *position*
    side (Buy = a long was liquidated). Other messages (a combined stream's other channels) are
    skipped, but a file with none of these is refused: it is not a liquidation dump.
    """
    con.execute(
        f"""
        CREATE TEMP TABLE _liq AS
        WITH msgs AS (SELECT _line, {_UNNEST} AS m FROM _obj),
        b AS (
            SELECT _line, coalesce(m->'data'->'o', m->'o') AS o FROM msgs
             WHERE coalesce(m->'data'->>'e', m->>'e') = 'forceOrder'
        ), y AS (
            SELECT _line, unnest((m->'data')::JSON[]) AS d FROM msgs
             WHERE (m->>'topic') LIKE 'allLiquidation.%'
        )
        SELECT _line, 'binance' AS venue, o->>'s' AS s,
               CASE upper(o->>'S') WHEN 'SELL' THEN 'long' WHEN 'BUY' THEN 'short' END AS side,
               o->>'ap' AS ap, o->>'p' AS p, o->>'z' AS z, o->>'q' AS q, o->>'T' AS t
          FROM b
        UNION ALL
        SELECT _line, 'bybit', d->>'s', CASE d->>'S' WHEN 'Buy' THEN 'long' WHEN 'Sell' THEN 'short' END,
               NULL, d->>'p', NULL, d->>'v', d->>'T'
          FROM y
        """
    )
    found = con.execute("SELECT count(*) FROM _liq").fetchone()
    if not found or not found[0]:
        raise InputError(
            "no forceOrder messages found (nor Bybit allLiquidation)",
            path=f.where,
            hint="expected Binance !forceOrder@arr payloads or Bybit allLiquidation messages",
        )
    source = """(SELECT _line, venue, s, side, t,
                        coalesce(nullif(TRY_CAST(ap AS DOUBLE), 0), TRY_CAST(p AS DOUBLE)) AS price,
                        coalesce(TRY_CAST(z AS DOUBLE), TRY_CAST(q AS DOUBLE)) AS quantity
                   FROM _liq)"""
    select = """venue, upper(s) AS symbol, side, price, quantity, price * quantity AS notional_usd,
                make_timestamptz(TRY_CAST(t AS BIGINT) * 1000) AS event_time,
                NULL::TIMESTAMPTZ AS receive_time, 'import' AS source"""
    rows = _Rows.table(select, source, {}, unit)
    _check_values(
        con,
        "_liq",
        [
            ("ap", "ap", "TRY_CAST(ap AS DOUBLE)", _WHAT["DOUBLE"]),
            ("p", "p", "TRY_CAST(p AS DOUBLE)", _WHAT["DOUBLE"]),
            ("z", "z", "TRY_CAST(z AS DOUBLE)", _WHAT["DOUBLE"]),
            ("q (Bybit v)", "q", "TRY_CAST(q AS DOUBLE)", _WHAT["DOUBLE"]),
            ("T", "t", "TRY_CAST(t AS BIGINT)", _WHAT["BIGINT"]),
        ],
        rows,
        f.where,
    )
    _create(con, "_stage", select, source, {})
    venues = con.execute("SELECT DISTINCT venue FROM _stage").fetchall()
    venue = venues[0][0] if len(venues) == 1 else venue_default
    return _rows(con), _meta("liquidation-json", venue, None, "perp", None), rows


# -- open interest -------------------------------------------------------------------------------


def _binance_metrics(f: _File, venue: str) -> Reader:
    """data.binance.vision ``BTCUSDT-metrics-2024-01-01.csv`` (5-minute open interest)."""
    select = """$venue::VARCHAR AS venue, upper(symbol) AS symbol, '5m' AS interval,
                create_time AS ts, sum_open_interest AS open_interest,
                sum_open_interest_value AS open_interest_usd"""
    source = """read_csv($path, header = true, delim = ',', auto_detect = false,
                         columns = {'create_time': 'TIMESTAMPTZ', 'symbol': 'VARCHAR',
                                    'sum_open_interest': 'DOUBLE', 'sum_open_interest_value': 'DOUBLE',
                                    'c1': 'VARCHAR', 'c2': 'VARCHAR', 'c3': 'VARCHAR', 'c4': 'VARCHAR'},
                         null_padding = true)"""
    params = {"venue": venue, "path": str(f.real)}

    def read(con: Connection) -> Staged:
        _create(con, "_stage", select, source, params)
        rows = _Rows.read(select, source, params, 2)
        return _rows(con), _meta("binance-metrics", venue, None, "perp", "5m"), rows

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
#: Generic fields that are not numbers (time has its own conversion).
_TEXT_FIELDS = ("time", "side", "symbol")


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
    kind: str, f: _File, o: ImportOptions, venue: str, symbol: str | None, hints: sniff.NameHints
) -> Reader:
    required, optional = GENERIC_FIELDS[kind]
    missing = [x for x in required if x not in o.mapping]
    unknown = [x for x in o.mapping if x not in required + optional]
    if missing or unknown:
        raise ConfigError(
            f"--map for {kind}: missing {missing or 'nothing'}, unknown {unknown or 'nothing'}; "
            f"fields: {', '.join(required)} (required), {', '.join(optional)}"
        )
    if "symbol" not in o.mapping:
        symbol = _need(symbol, "symbol", f)

    def col(name: str) -> str:
        return '"' + o.mapping[name].replace('"', '""') + '"'

    def num(name: str) -> str:
        typ = "BIGINT" if name == "trades" else "DOUBLE"
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
    # Every mapped value must convert: a bad optional number would otherwise become NULL unseen.
    values = [(f"time (column {o.mapping['time']})", raw_t, time_sql, f"a time ({unit})")] + [
        (
            f"{name} (column {o.mapping[name]})",
            col(name),
            num(name),
            _WHAT["BIGINT" if name == "trades" else "DOUBLE"],
        )
        for name in o.mapping
        if name not in _TEXT_FIELDS
    ]

    def read(con: Connection) -> Staged:
        # Numbered as read (the streaming window keeps file order); header = line 1.
        con.execute(
            "CREATE TEMP TABLE _src AS SELECT row_number() OVER () + 1 AS _line, * "
            "FROM read_csv($path, header = true, all_varchar = true)",
            {"path": str(f.real)},
        )
        src = _Rows.table("*", "_src", {})
        _check_values(con, "_src", values, src, f.where)
        params: dict[str, Any] = {"venue": venue}
        if "symbol" not in o.mapping:
            params["symbol"] = symbol
        if kind == "candles":
            market = o.market or hints.market or "spot"
            select = (
                f"{time_sql} AS open_time, {num('open')} AS open, {num('high')} AS high, "
                f"{num('low')} AS low, {num('close')} AS close, {num('volume')} AS volume, "
                f"{num('quote_volume')} AS quote_volume, "
                f"{num('trades')} AS trades, {num('taker_buy_volume')} AS taker_buy_volume, "
                f"{num('taker_buy_quote_volume')} AS taker_buy_quote_volume"
            )
            _create(con, "_raw", select, "_src", {})
            raw = _Rows.table(select, "_src", {})
            return _stage_ohlcv(con, f, raw, venue, market, str(symbol), o, hints, "generic-csv", extra=True)
        if kind == "funding":
            select = f"""$venue::VARCHAR AS venue, {sym_sql}::VARCHAR AS symbol,
                date_trunc('second', {time_sql}) AS funding_time, {num("rate")} AS rate,
                {num("mark_price")} AS mark_price"""
            meta = _meta("generic-csv", venue, symbol, "perp", None)
        elif kind == "open_interest":
            params["interval"] = _need(o.interval or hints.interval, "interval", f)
            select = f"""$venue::VARCHAR AS venue, {sym_sql}::VARCHAR AS symbol,
                $interval::VARCHAR AS interval, {time_sql} AS ts,
                {num("open_interest")} AS open_interest,
                {num("open_interest_usd")} AS open_interest_usd"""
            meta = _meta("generic-csv", venue, symbol, "perp", params["interval"])
        else:
            select = f"""$venue::VARCHAR AS venue, {sym_sql}::VARCHAR AS symbol,
                CASE lower({col("side")}) WHEN 'sell' THEN 'long' WHEN 'long' THEN 'long'
                     WHEN 'buy' THEN 'short' WHEN 'short' THEN 'short' END AS side,
                {num("price")} AS price, {num("quantity")} AS quantity,
                coalesce({num("notional_usd")}, {num("price")} * {num("quantity")}) AS notional_usd,
                {time_sql} AS event_time, NULL::TIMESTAMPTZ AS receive_time, 'import' AS source"""
            meta = _meta("generic-csv", venue, symbol, "perp", None)
        _create(con, "_stage", select, "_src", params)
        return _rows(con), meta, _Rows.table(select, "_src", params)

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
