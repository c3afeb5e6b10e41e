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

What a row may hold is bounded in one place (the "Bounds" section below, documented in
docs/market-data.md): times in [EARLIEST, LATEST), prices, amounts and funding rates in sane
ranges. Input is refused loudly rather than read wrongly: a line longer than MAX_LINE_BYTES
(DuckDB drops an over-long last line without a word), a conflicting duplicate (same natural key,
other values), an archive that unpacks past its cap.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gzip
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
from typing import IO, Any, NamedTuple, Protocol

import duckdb

from flushwatch.errors import ConfigError, FlushwatchError, InputError
from flushwatch.ingest.market import sniff
from flushwatch.ingest.market.symbols import is_valid_symbol, normalise_symbol, valid_symbol_sql
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
#: Bars looked at for a series' spacing (a top-N, cheap on millions of rows).
_SPACING_BARS = 10_000
#: What zipfile raises for a damaged archive or member (bad CRC, bad deflate data, truncation,
#: an unsupported or encrypted member).
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError, RuntimeError)
#: What gzip raises for a damaged or truncated file.
_GZIP_ERRORS = (gzip.BadGzipFile, zlib.error, EOFError)

# -- Bounds ---------------------------------------------------------------------------------------
# What an imported row may hold. A value outside these is a misread (a wrong unit, a shifted
# column, a placeholder such as 0 or 9999-12-31) or junk, never a market, so the file is refused
# at its first such line. Each bound sits far from any real series so that no real file meets it.

#: Times: no market data predates Bitcoin (2009-01-03). 2100 is far past any series, and keeps the
#: epoch ranges of seconds, ms, µs and ns apart (see :func:`_epoch_sql`).
EARLIEST = dt.datetime(2009, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
#: Prices (quote units per base unit): BTC is ~1e5 USD; 1e12 is seven orders of magnitude above.
MAX_PRICE = 1e12
#: Volumes, quantities, notional and open interest: a meme coin trades ~1e14 units a day.
MAX_AMOUNT = 1e18
#: Trades in one bar (Binance's busiest 1d BTCUSDT bars hold ~1e7).
MAX_TRADES = 1e12
#: |funding rate| per funding interval, as a fraction: 1 = 100 %. Venues cap it at a few %.
MAX_FUNDING_RATE = 1.0
#: One CSV line, in bytes (a kline line is ~150). Longer lines are refused before DuckDB reads
#: the file: DuckDB drops a last line longer than its read buffer (32 MiB) without an error.
MAX_LINE_BYTES = 1 << 20
#: A .zip member or .gz file may unpack to max(UNPACK_FLOOR, UNPACK_RATIO x its packed size)
#: bytes. Binance archives unpack to 10-20x their size; a bomb of repeated bytes to ~1000x.
UNPACK_FLOOR = 1 << 30
UNPACK_RATIO = 200

#: µs per unit of an epoch number.
_EPOCH_UNITS = {"s": 1_000_000, "ms": 1_000, "us": 1}
_TIME_RANGE = f"{EARLIEST:%Y-%m-%d} .. {LATEST:%Y-%m-%d} UTC"


def _drop(con: Connection, *tables: str) -> None:
    """Drop temp tables (one call: small files pay per statement); harmless in an aborted
    transaction (the connection closes anyway)."""
    with contextlib.suppress(duckdb.Error):
        con.execute("".join(f"DROP TABLE IF EXISTS {t};" for t in tables))


def _epoch_range(unit: str) -> tuple[int, int]:
    """[lo, hi) of epoch numbers in ``unit`` that fall in [EARLIEST, LATEST)."""
    per_s = 1_000_000 // _EPOCH_UNITS[unit]
    return int(EARLIEST.timestamp()) * per_s, int(LATEST.timestamp()) * per_s


def _epoch_sql(value: str, units: Sequence[str] = ("ms", "us")) -> str:
    """An epoch number as TIMESTAMPTZ in the one of ``units`` whose range holds it; else NULL.

    ``value`` is any number (BIGINT, DOUBLE). The ranges of s (~1e9), ms (~1e12) and µs (~1e15)
    over [EARLIEST, LATEST) are orders of magnitude apart, so a value fits at most one unit and
    the guess is never ambiguous; one that fits none (a year-9999 ms time read as µs, a negative
    or zero time, seconds where ms are expected) is NULL, and the time check refuses its line.
    Whole units only (ms and µs): a fraction would be rounded away unseen. Binance spot archives
    switched from ms to µs in 2025, so archive readers accept both.
    """
    cases = []
    for unit in units:
        lo, hi = _epoch_range(unit)
        exact = "" if unit == "s" else f" AND {value} = trunc({value})"
        factor = _EPOCH_UNITS[unit]
        us = (
            f"CAST(round({value} * {factor}) AS BIGINT)"
            if unit == "s"
            else f"CAST({value} AS BIGINT) * {factor}"
        )
        cases.append(f"WHEN {value} >= {lo} AND {value} < {hi}{exact} THEN make_timestamptz({us})")
    return f"(CASE {' '.join(cases)} END)"


def _whole(text: str) -> str:
    """Text (or a number) as BIGINT when it is a whole number; NULL otherwise (never rounded:
    TRY_CAST('42.7' AS BIGINT) is 43)."""
    number = f"TRY_CAST({text} AS DOUBLE)"
    return f"(CASE WHEN {number} = trunc({number}) THEN TRY_CAST({text} AS BIGINT) END)"


def _count_sql(value: str) -> str:
    """A count read as DOUBLE, as BIGINT; -1 (refused by the trades check) when it is not a
    whole number in [0, MAX_TRADES], so a fraction is not rounded into another count."""
    return (
        f"(CASE WHEN {value} IS NULL THEN NULL WHEN {value} = trunc({value}) AND {value} >= 0 "
        f"AND {value} <= {MAX_TRADES:.0f} THEN CAST({value} AS BIGINT) ELSE -1 END)"
    )


def _clip(text: str, limit: int = 120) -> str:
    """User text for a one-line message: control characters escaped, at most ``limit`` chars."""
    shown = text if len(text) <= limit else text[: limit - 3] + "..."
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in shown)


def _quote(text: str, limit: int = 40) -> str:
    """A value from the file, quoted for a message: repr escapes what would break the line."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


@dataclass(frozen=True)
class ImportOptions:
    """What the user said; None = infer. ``mapping``: target column -> source column (generic CSV)."""

    venue: str | None = None
    symbol: str | None = None
    market: str | None = None
    interval: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    time_unit: str | None = None  # ms | us | s | iso (generic CSV)
    #: Cap on the bytes a .zip member or .gz file unpacks to; None = max(UNPACK_FLOOR,
    #: UNPACK_RATIO x the packed size).
    max_unpacked_bytes: int | None = None


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
    a feather table). ``_raw`` is the row's time as the file wrote it (``raw``, SQL over the
    source), so a refused time is quoted as given, not as it was (mis)converted.
    """

    sql: str
    params: dict[str, Any] = field(default_factory=dict)
    unit: str = "line"

    @classmethod
    def read(
        cls,
        select: str,
        source: str,
        params: dict[str, Any],
        first_line: int = 1,
        unit: str = "line",
        raw: str = "NULL",
    ) -> _Rows:
        """``SELECT select FROM source`` numbered from ``first_line`` (2 below a header)."""
        return cls(
            f"SELECT row_number() OVER () + {first_line - 1} AS _line, CAST({raw} AS VARCHAR) AS _raw, "
            f"{select} FROM {source}",
            params,
            unit,
        )

    @classmethod
    def table(
        cls, select: str, source: str, params: dict[str, Any], unit: str = "line", raw: str = "NULL"
    ) -> _Rows:
        """Rows of a source that already carries ``_line`` (a numbered temp table)."""
        return cls(f"SELECT _line, CAST({raw} AS VARCHAR) AS _raw, {select} FROM {source}", params, unit)

    def then(self, select: str, params: dict[str, Any] | None = None) -> _Rows:
        """These rows seen through one more projection (raw table -> stage)."""
        return _Rows(
            f"SELECT _line, _raw, {select} FROM ({self.sql})", {**self.params, **(params or {})}, self.unit
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


class Staged(NamedTuple):
    """What a reader left in ``_stage``: what the file is (``meta``), the rows again for naming
    lines, and for candles where the interval came from (``origin``; the interval is checked
    against the bars once the rows are known to be sane), and the check-only columns it staged."""

    meta: dict[str, Any]
    rows: _Rows
    origin: str | None = None
    helpers: tuple[str, ...] = ()  # check-only columns in _stage (see _HELPER_CHECKS)


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
    if o.interval is not None and store.interval_seconds(o.interval) <= 0:
        raise ConfigError(f"--interval {o.interval!r}: a bar lasts at least a second, e.g. 1m")
    if o.time_unit is not None and o.time_unit not in ("ms", "us", "s", "iso"):
        raise ConfigError(f"--time-unit {o.time_unit!r}: expected ms, us, s or iso")
    if o.symbol is not None and not is_valid_symbol(normalise_symbol(o.symbol)):
        raise ConfigError(
            f"--symbol {_clip(o.symbol, 40)!r}: expected a venue symbol such as BTCUSDT or BTC/USDT"
        )
    if o.max_unpacked_bytes is not None and o.max_unpacked_bytes <= 0:
        raise ConfigError(f"max_unpacked_bytes {o.max_unpacked_bytes}: expected a positive byte count")


def import_file(
    db: Database, kind: str, path: Path, options: ImportOptions, *, run_id: int | None = None
) -> ImportResult:
    """One file, one transaction: read into ``_stage``, check, append what is new."""
    if not path.is_file():
        raise InputError("no such file", path=path, hint="check the path")
    table = _TABLES[kind]
    try:
        with _readable(path, options) as f:
            reader = _plan(kind, f, options)
            with db.write() as con:
                # Rows carry their own times; insertion order is irrelevant and costs parallelism.
                con.execute("SET preserve_insertion_order = false")
                try:
                    meta, rows, origin, helpers = reader(con)
                    checks = _CHECKS[table] + tuple(c for h in helpers for c in _HELPER_CHECKS[h])
                    # One scan: the row count, distinct times and every check (see _scan).
                    rows_read, n_times, failing = _scan(con, checks, store.TIME_COLUMN[table])
                    if not rows_read:
                        raise InputError(
                            "no rows (an empty file, or a header only)",
                            path=f.where,
                            hint="is the download complete? nothing from this file was imported",
                        )
                    _refuse(con, failing, f.where, rows)
                    if n_times < rows_read:
                        _check_duplicates(con, table, f.where, rows)
                    if kind == "candles":
                        _check_interval(con, f.where, meta["interval"], origin or "")
                    for helper in helpers:  # the stage must match the table for the insert
                        con.execute(f"ALTER TABLE _stage DROP COLUMN {helper}")
                    rows_new = store.insert_new(con, table, "_stage", run_id)
                    first, last = _range(con, table)
                except duckdb.Error as exc:
                    raise _input_error(exc, f) from exc
                finally:
                    _drop(con, *_TEMP)
    except (OSError, UnicodeError) as exc:  # unreadable (permissions, a vanished file, a full disk)
        raise InputError(f"cannot read: {_clip(str(exc))}", path=path) from exc
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


#: Suffixes of files whose lines may be long by design (a JSON array on one line) or that are
#: not text: the line-length check skips them.
_NOT_LINES = (".json", ".jsonl", ".ndjson", ".feather")
#: Compressions DuckDB would unpack by itself, unbounded: refused, as flushwatch does not unpack them.
_OTHER_COMPRESSION = (".zst", ".zstd", ".bz2", ".xz", ".lz4", ".7z", ".tar", ".tgz")


@contextmanager
def _readable(path: Path, options: ImportOptions) -> Iterator[_File]:
    """A plain file DuckDB can read: a .zip member or a .gz file is unpacked to a temp dir.

    Unpacking is streamed and capped (:func:`_unpack_cap`), so a bomb stops at the cap instead
    of filling the disk; CSV lines are checked for length on the way (:class:`_LineCheck`), and
    a plain CSV is scanned for the same. A damaged archive (bad CRC, scrambled deflate data,
    truncated) is an InputError naming the file, so a multi-file import reports it and goes on.
    DuckDB itself is told never to decompress (``compression = 'none'``): everything it reads
    went through here.
    """
    suffix = path.suffix.lower()
    if suffix in _OTHER_COMPRESSION:
        raise InputError(
            f"{suffix} files are not read", path=path, hint="unpack it, or recompress it as .gz or .zip"
        )
    if suffix not in (".zip", ".gz"):
        if not _skips_line_check(path, options):
            with open(path, "rb") as src:
                _stream(src, None, None, _LineCheck(str(path)), str(path))
        yield _File(path, path)
        return
    tmp = Path(tempfile.mkdtemp(prefix="flushwatch-unpack-"))
    try:
        target = tmp / "unpacked"
        cap = options.max_unpacked_bytes or _unpack_cap(path.stat().st_size)
        if suffix == ".gz":
            lines = None if _skips_line_check(path, options) else _LineCheck(str(path))
            try:
                with gzip.open(path, "rb") as src, open(target, "wb") as dst:
                    _stream(src, dst, _Cap(cap, options), lines, str(path))
            except _GZIP_ERRORS as exc:
                raise InputError(
                    f"corrupt or unreadable gzip file: {_clip(str(exc))}",
                    path=path,
                    hint="download it again; nothing from this file was imported",
                ) from exc
            yield _File(path, target)
            return
        try:
            with zipfile.ZipFile(path) as zf:
                members = [i for i in zf.infolist() if not i.is_dir()]
                if len(members) != 1:
                    raise InputError(f"zip holds {len(members)} files, expected one CSV", path=path)
                info = members[0]
                member = info.filename
                where = f"{path}!{member}"
                if info.file_size > cap:
                    raise _too_big(where, cap, options, info.file_size)
                lines = None if _skips_line_check(Path(member), options) else _LineCheck(where)
                with zf.open(info) as src, open(target, "wb") as dst:
                    _stream(src, dst, _Cap(cap, options), lines, where)
        except _ZIP_ERRORS as exc:
            raise InputError(
                f"corrupt or unreadable zip file: {_clip(str(exc))}",
                path=path,
                hint="download it again; nothing from this file was imported",
            ) from exc
        yield _File(path, target, member)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _skips_line_check(path: Path, options: ImportOptions) -> bool:
    names = "".join(path.suffixes).lower()
    return not options.mapping and any(ext in names for ext in _NOT_LINES)


def _unpack_cap(packed: int) -> int:
    return max(UNPACK_FLOOR, UNPACK_RATIO * packed)


class _Cap(NamedTuple):
    """How many bytes an archive may unpack to, and the options that said so (for the hint)."""

    limit: int
    options: ImportOptions


def _too_big(where: str, cap: int, options: ImportOptions, declared: int | None = None) -> InputError:
    what = (
        f"declares {declared:,} bytes unpacked, over the cap of {cap:,}"
        if declared is not None
        else f"unpacks past the cap of {cap:,} bytes"
    )
    rule = (
        "the cap was set by max_unpacked_bytes"
        if options.max_unpacked_bytes
        else f"the cap is max({UNPACK_FLOOR:,}, {UNPACK_RATIO} x the packed size)"
    )
    return InputError(
        f"{what} (a zip or gzip bomb?)",
        path=where,
        hint=f"{rule}; unpack it yourself if it is genuine; nothing from this file was imported",
    )


class _LineCheck:
    """Refuses a line longer than MAX_LINE_BYTES, fed the file in chunks of at most that size.

    A line inside one chunk is shorter than a chunk, so only lines that span chunks need
    counting: ``run`` is the length of the line still open at the end of the last chunk. Two
    memchr-speed scans per MiB, so millions of lines cost no Python loop.
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self.run = 0
        self.line = 1

    def feed(self, chunk: bytes) -> None:
        first = chunk.find(b"\n")
        if first < 0:
            self.run += len(chunk)
            self._check()
            return
        self.run += first
        self._check()
        self.line += chunk.count(b"\n")
        self.run = len(chunk) - chunk.rfind(b"\n") - 1
        self._check()

    def _check(self) -> None:
        if self.run > MAX_LINE_BYTES:
            raise InputError(
                f"malformed line: longer than {MAX_LINE_BYTES:,} bytes (not market data)",
                path=self.where,
                line=self.line,
                hint="fix or remove that line; nothing from this file was imported",
            )


class _Source(Protocol):
    """What :func:`_stream` reads: a file, a zip member or a gzip stream."""

    def read(self, size: int = -1, /) -> bytes: ...


def _stream(
    src: _Source, dst: IO[bytes] | None, cap: _Cap | None, lines: _LineCheck | None, where: str
) -> None:
    """Copy ``src`` to ``dst`` (or just read it), stopping past ``cap`` bytes, checking lines."""
    total = 0
    while chunk := src.read(MAX_LINE_BYTES):
        total += len(chunk)
        if cap is not None and total > cap.limit:
            raise _too_big(where, cap.limit, cap.options)
        if lines is not None:
            lines.feed(chunk)
        if dst is not None:
            dst.write(chunk)


def _input_error(exc: duckdb.Error, f: _File) -> InputError:
    text = str(exc)
    m = _LINE_RE.search(text)
    lines = text.splitlines() or [type(exc).__name__]
    # DuckDB's CSV errors: 'CSV Error on Line: N', 'Original Line: ...', then what is wrong.
    said = [ln for ln in lines[1:] if ln.strip() and not ln.startswith(("Original Line", "Possible fixes"))]
    first = _clip(said[0] if m and said else lines[0], 200)
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
    # A zip member's own name counts too: fundingRate_BTCUSDT.json zipped is still JSON.
    suffixes = "".join(f.path.suffixes).lower() + "".join(PurePosixPath(f.member or "").suffixes).lower()
    if o.mapping:
        return _generic_csv(kind, f, o, venue, symbol, hints)
    if ".feather" in suffixes:
        return _freqtrade_feather(kind, f, o, venue, symbol, hints)
    if ".json" in suffixes:
        return _json_file(kind, f, o, venue, symbol, hints)
    lines, _ = sniff.head_lines(f.real, 3)
    layout = sniff.csv_kind(lines[0] if lines else "")
    if layout == "unknown":
        shown = _clip(lines[0].strip(), 80) if lines and lines[0].strip() else "empty"
        raise InputError(
            f"unrecognised CSV layout (first line: {shown})",
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


def _meta(
    fmt: str, venue: str, symbol: str | None, market: str | None, interval: str | None
) -> dict[str, Any]:
    return {"fmt": fmt, "venue": venue, "symbol": symbol, "market": market, "interval": interval}


# -- checks --------------------------------------------------------------------------------------

_PRICES = "open, high, low, close"


class _Check(NamedTuple):
    """A predicate over the stage's columns that marks a bad row, what is wrong, and optionally
    SQL over the re-read rows (:class:`_Rows`) whose value the message quotes."""

    pred: str
    what: str
    show: str | None = None


def _time_check(col: str, label: str) -> _Check:
    """The time is there and in [EARLIEST, LATEST), whatever unit it was written in: epoch
    readers leave NULL for a number no unit places in range, so both cases land here."""
    lo, hi = EARLIEST.isoformat(), LATEST.isoformat()
    return _Check(
        f"{col} IS NULL OR NOT ({col} >= TIMESTAMPTZ '{lo}' AND {col} < TIMESTAMPTZ '{hi}')",
        f"{label} is empty or outside {_TIME_RANGE} in every unit the format allows",
        "_raw",
    )


def _amount_check(cols: Sequence[str], label: str, *, optional: bool, positive: bool = False) -> _Check:
    """Each of ``cols`` is a finite number in [0, MAX_AMOUNT] (> 0 with ``positive``); NULL is
    allowed when ``optional`` (a field the source lacks) and refused otherwise."""
    low = f"> 0 AND {{c}} <= {MAX_AMOUNT:g}" if positive else f">= 0 AND {{c}} <= {MAX_AMOUNT:g}"
    ok = " AND ".join(f"(isfinite({c}) AND {c} {low.format(c=c)})" for c in cols)
    nulls = " OR ".join(f"{c} IS NULL" for c in cols)
    bad = f"NOT coalesce({ok}, true)" if optional else f"{nulls} OR NOT ({ok})"
    sign = "zero, negative" if positive else "negative"
    return _Check(
        bad,
        f"{label} is {'' if optional else 'empty, '}{sign}, not a finite number or above {MAX_AMOUNT:g}",
        "concat_ws(', ', " + ", ".join(cols) + ")",
    )


def _symbol_check() -> _Check:
    return _Check(
        f"symbol IS NULL OR NOT {valid_symbol_sql('symbol')}",
        "no symbol, or not a venue symbol (letters, digits, '_', '-', '.')",
        "symbol",
    )


#: Per table: what a stored row must satisfy (see Bounds). NULLs would otherwise surface as a
#: bare NOT NULL constraint error from the final INSERT.
_CHECKS: dict[str, tuple[_Check, ...]] = {
    "candles": (
        _time_check("open_time", "open time"),
        _Check(
            "open IS NULL OR high IS NULL OR low IS NULL OR close IS NULL",
            "a price (open, high, low or close) is empty",
        ),
        _Check(
            "NOT (isfinite(open) AND isfinite(high) AND isfinite(low) AND isfinite(close)) "
            f"OR least({_PRICES}) <= 0",
            "a price is zero, negative or not a finite number",
            f"concat_ws(', ', {_PRICES})",
        ),
        _Check(
            f"greatest({_PRICES}) > {MAX_PRICE:g}",
            f"a price is above {MAX_PRICE:g}",
            f"concat_ws(', ', {_PRICES})",
        ),
        _Check(
            "high < low OR high < greatest(open, close) OR low > least(open, close)",
            "high and low do not enclose the bar (high < low, high < max(open, close) "
            "or low > min(open, close))",
            f"concat_ws(', ', {_PRICES})",
        ),
        _amount_check(
            ("volume", "quote_volume", "taker_buy_volume", "taker_buy_quote_volume"),
            "a volume (base, quote or taker buy)",
            optional=True,
        ),
        _Check(
            f"trades < 0 OR trades > {MAX_TRADES:.0f}",
            f"the trade count is not a whole number from 0 to {MAX_TRADES:g}",
        ),
    ),
    "liquidations": (
        _symbol_check(),
        _Check("side IS NULL", "side is not BUY or SELL (or long/short)"),
        _time_check("event_time", "time"),
        _Check("price IS NULL OR quantity IS NULL", "no price or quantity"),
        _Check(
            "NOT (isfinite(price) AND isfinite(quantity)) OR price <= 0 OR quantity <= 0",
            "price or quantity is zero, negative or not a finite number",
            "concat_ws(', ', price, quantity)",
        ),
        _Check(f"price > {MAX_PRICE:g}", f"price is above {MAX_PRICE:g}", "price"),
        _amount_check(("quantity",), "quantity", optional=False, positive=True),
        _Check("notional_usd IS NULL", "no notional value"),
        _amount_check(("notional_usd",), "notional value", optional=False, positive=True),
    ),
    "funding_rates": (
        _symbol_check(),
        _time_check("funding_time", "funding time"),
        _Check("rate IS NULL OR NOT isfinite(rate)", "no funding rate, or not a finite number", "rate"),
        _Check(
            f"abs(rate) > {MAX_FUNDING_RATE:g}",
            f"funding rate beyond ±{MAX_FUNDING_RATE:g} ({MAX_FUNDING_RATE:.0%}) per interval "
            "(a percentage where a fraction belongs?)",
            "rate",
        ),
        _Check(
            f"NOT coalesce(isfinite(mark_price) AND mark_price > 0 AND mark_price <= {MAX_PRICE:g}, true)",
            f"mark price is zero, negative, not a finite number or above {MAX_PRICE:g}",
            "mark_price",
        ),
    ),
    "open_interest": (
        _symbol_check(),
        _time_check("ts", "time"),
        _Check(
            "open_interest IS NULL OR NOT isfinite(open_interest) OR open_interest < 0",
            "open interest is empty, negative or not a finite number",
            "open_interest",
        ),
        _amount_check(("open_interest",), "open interest", optional=False),
        _amount_check(("open_interest_usd",), "open interest value", optional=True),
    ),
}


#: Columns a reader may stage beside the table's own, only to be checked (dropped before the
#: insert): fields a file carries but the table does not store. Unselected, DuckDB's CSV reader
#: would not even parse them, so 'abc' for a close time would pass unseen.
_HELPER_CHECKS: dict[str, tuple[_Check, ...]] = {
    "_close_time": (
        _Check(
            "_close_time IS NULL OR _close_time <= open_time",
            "close_time is not a time after the open time",
        ),
    ),
    "_interval_hours": (
        _Check(
            "_interval_hours IS NULL OR NOT (_interval_hours = trunc(_interval_hours) "
            "AND _interval_hours BETWEEN 1 AND 24)",
            "funding_interval_hours is not a whole number of hours from 1 to 24",
            "_interval_hours",
        ),
    ),
}


def _scan(
    con: Connection, checks: Sequence[_Check], tcol: str, table: str = "_stage"
) -> tuple[int, int, list[_Check]]:
    """One scan of ``table``: its rows, its distinct ``tcol`` values and the checks that fail."""
    flags = ", ".join(f"coalesce(bool_or({c.pred}), false)" for c in checks)
    got = con.execute(f"SELECT count(*), count(DISTINCT {tcol}), {flags} FROM {table}").fetchone()
    if not got:
        return 0, 0, []
    return int(got[0]), int(got[1]), [check for check, bad in zip(checks, got[2:], strict=True) if bad]


def _refuse(con: Connection, failing: Sequence[_Check], where: str, rows: _Rows) -> None:
    """Refuse the whole file at its first bad row (one bad line rejects the file).

    Only called with failing checks is it costly: the rows are read again numbered, and the
    earliest offending row is named, quoting the value ``show`` selects.
    """
    if not failing:
        return
    sql = (
        "SELECT "
        + ", ".join(
            f"min(_line) FILTER (WHERE {c.pred}), "
            f"arg_min(CAST({c.show or 'NULL'} AS VARCHAR), _line) FILTER (WHERE {c.pred})"
            for c in failing
        )
        + f" FROM ({rows.sql})"
    )
    got: Sequence[Any] = con.execute(sql, _used(sql, rows.params)).fetchone() or (None,) * (2 * len(failing))
    found = [
        (int(got[2 * i]), check, got[2 * i + 1])
        for i, check in enumerate(failing)
        if got[2 * i] is not None
    ]
    if not found:
        raise rows.error(where, None, failing[0].what)
    n, check, shown = min(found, key=lambda x: x[0])
    raise rows.error(where, n, f"{check.what}: {_quote(shown, 80)}" if shown else check.what)


def _check_duplicates(con: Connection, table: str, where: str, rows: _Rows) -> None:
    """Refuse a file that gives one natural key two sets of values (two different bars for one
    open time): which is right cannot be told, and keeping the first would drop the other
    unseen. Exact repeats are harmless (an archive overlapping itself) and stored once.

    Called only when the stage repeats a time (:func:`_scan` counts them): distinct times imply
    distinct keys, so a good file of distinct times never pays for this.
    """
    keys = store.KEYS[table]
    tcol = store.TIME_COLUMN[table]
    columns = [r[0] for r in con.execute("DESCRIBE _stage").fetchall()]
    value_cols = [
        c for c in columns if c not in (*keys, "receive_time", "source") and c not in _HELPER_CHECKS
    ]
    values = ", ".join(value_cols)
    key_list = ", ".join(keys)
    conflicting = f"GROUP BY {key_list} HAVING count(DISTINCT ({values})) > 1"
    found = con.execute(f"SELECT count(*) FROM (SELECT 1 FROM _stage {conflicting})").fetchone()
    if not found or not found[0]:
        return
    sql = f"""
        WITH r AS ({rows.sql}),
        k AS (SELECT {key_list}, min(_line) AS first_line, arg_min(({values}), _line) AS first_values
                FROM r {conflicting})
        SELECT k.first_line, min(r._line), any_value(k.{tcol})
          FROM k JOIN r ON {" AND ".join(f"r.{c} IS NOT DISTINCT FROM k.{c}" for c in keys)}
         WHERE ({", ".join(f"r.{c}" for c in value_cols)}) IS DISTINCT FROM k.first_values
         GROUP BY k.first_line ORDER BY k.first_line LIMIT 1
    """
    row = con.execute(sql, _used(sql, rows.params)).fetchone()
    first, other, when = row if row else (None, None, None)
    label = tcol.replace("_", " ")
    raise rows.error(
        where,
        first,
        f"conflicting duplicate: {rows.unit} {other} has the same {label} ({when}) with other values "
        f"({found[0]} {label}{'s' if found[0] > 1 else ''} with conflicting rows in this file)",
    )


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
        label, _, _, what = fields[row[1]]
        raise rows.error(where, int(row[0]), f"{label} {_quote(row[2])} is not {what}")


_WHAT = {"DOUBLE": "a number", "BIGINT": "a whole number"}


def _check_interval(con: Connection, where: str, interval: str | None, origin: str) -> None:
    """The bars must sit on the interval's grid and be no further apart than it.

    The grid check catches an interval coarser than the data (1m bars called 5m); the spacing
    check one finer than the data (5m bars called 1m, which the grid cannot see): the most
    common gap between consecutive open times over the first bars of the series (a candle
    stage holds one series). The grid is checked in whole µs: a bar at 00:00:59.6 is off the
    minute grid, though its epoch in seconds rounds onto it.

    Runs after :func:`_refuse`, so every time is known to be in range; an interval that could
    not be inferred (``None``) is refused here, once the rows are known to be sane.
    """
    if interval is None:
        raise InputError(f"cannot infer the interval from {origin}", path=where, hint="pass --interval")
    step = store.interval_seconds(interval)
    if step <= 0:
        raise InputError(
            f"interval {interval!r} ({origin}) is not a bar length", path=where, hint="pass --interval"
        )
    if step >= 7 * 86400:
        return
    row = con.execute(
        f"SELECT open_time FROM _stage WHERE epoch_us(open_time) % {step * 1_000_000} <> 0 LIMIT 1"
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

#: Times and counts are read as DOUBLE, not BIGINT: DuckDB's CSV reader rounds '42.7' into a
#: BIGINT 43 silently, while a DOUBLE keeps the fraction for the checks to refuse.
_ARCHIVE_TYPES = (
    "DOUBLE",
    "DOUBLE",
    "DOUBLE",
    "DOUBLE",
    "DOUBLE",
    "DOUBLE",
    "DOUBLE",
    "DOUBLE",
    "DOUBLE",
    "DOUBLE",
    "DOUBLE",
    "VARCHAR",
)


def _num_text(col: str) -> str:
    """A DOUBLE column as the file most likely wrote it (1735689600000, not 1735689600000.0)."""
    return (
        f"CASE WHEN {col} = trunc({col}) AND abs({col}) < 1e18 "
        f"THEN CAST(CAST({col} AS BIGINT) AS VARCHAR) ELSE CAST({col} AS VARCHAR) END"
    )


def _epoch_unit(value: int) -> str | None:
    """Which of ms and µs places the epoch number ``value`` in [EARLIEST, LATEST) (see
    :func:`_epoch_sql`); None for neither."""
    for unit in ("ms", "us"):
        lo, hi = _epoch_range(unit)
        if lo <= value < hi:
            return unit
    return None


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
                unit = _epoch_unit(ot)
                # A time in no unit's range leaves the interval open: the time check names the line.
                if unit is not None:
                    interval = sniff.millis_to_interval(span // 1000 if unit == "us" else span)
                origin = "close_time - open_time"
        except (ValueError, IndexError) as exc:
            raise InputError(
                f"malformed line: {_clip(line.strip(), 80)}",
                path=f.where,
                line=n,
                hint="fix or remove that line; nothing from this file was imported",
            ) from exc
    cols = ", ".join(
        f"'{c}': '{t}'" for c, t in zip(sniff.ARCHIVE_KLINE_COLUMNS, _ARCHIVE_TYPES, strict=True)
    )
    select = f"""$venue::VARCHAR AS venue, $market::VARCHAR AS market, $symbol::VARCHAR AS symbol,
                 $interval::VARCHAR AS interval, {_epoch_sql("open_time")} AS open_time,
                 open, high, low, close, volume, quote_volume, {_count_sql("count")} AS trades,
                 taker_buy_volume, taker_buy_quote_volume, {_epoch_sql("close_time")} AS _close_time"""
    source = f"""read_csv($path, header = {str(not noheader).lower()}, delim = ',', quote = '"',
                          auto_detect = false, compression = 'none', columns = {{{cols}}})"""
    params = {"venue": venue, "market": market, "symbol": symbol, "interval": interval, "path": str(f.real)}

    def read(con: Connection) -> Staged:
        _create(con, "_stage", select, source, params)
        rows = _Rows.read(select, source, params, first_line, raw=_num_text("open_time"))
        meta = _meta("binance-archive", venue, symbol, market, interval)
        return Staged(meta, rows, origin, ("_close_time",))

    return read


def _freqtrade_csv_layout(layout: str) -> tuple[str, str]:
    """(read_csv columns, time expression) for freqtrade CSV exports: our converted shape with
    epoch milliseconds, or freqtrade's own with a ``date`` column. Candle and funding files share it
    (in funding files ``open`` is the rate)."""
    if layout == "freqtrade-csv":
        columns = (
            "{'open_time_ms': 'DOUBLE', 'open_time_utc': 'VARCHAR', 'open': 'DOUBLE', 'high': 'DOUBLE', "
            "'low': 'DOUBLE', 'close': 'DOUBLE', 'volume': 'DOUBLE'}"
        )
        return columns, "open_time_ms"
    columns = (
        "{'date': 'TIMESTAMPTZ', 'open': 'DOUBLE', 'high': 'DOUBLE', 'low': 'DOUBLE', "
        "'close': 'DOUBLE', 'volume': 'DOUBLE'}"
    )
    return columns, "date"


def _freqtrade_raw(con: Connection, f: _File, layout: str) -> _Rows:
    """A freqtrade CSV into ``_raw(open_time, open, high, low, close, volume)``."""
    columns, t_col = _freqtrade_csv_layout(layout)
    t_sql = _epoch_sql(t_col) if layout == "freqtrade-csv" else t_col
    shown = _num_text(t_col) if layout == "freqtrade-csv" else t_col
    select = f"{t_sql} AS open_time, open, high, low, close, volume"
    source = (
        "read_csv($path, header = true, delim = ',', auto_detect = false, compression = 'none', "
        f"columns = {columns})"
    )
    params = {"path": str(f.real)}
    _create(con, "_raw", select, source, params)
    return _Rows.read(select, source, params, 2, raw=shown)


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
        # Over times in range only: the rest are refused by the time check, which names their line.
        row = con.execute(
            "SELECT min(d) FROM (SELECT epoch(open_time - lag(open_time) OVER (ORDER BY open_time)) AS d "
            f"FROM _raw WHERE open_time >= TIMESTAMPTZ '{EARLIEST.isoformat()}' "
            f"AND open_time < TIMESTAMPTZ '{LATEST.isoformat()}') WHERE d > 0"
        ).fetchone()
        if row and row[0] is not None and row[0] >= 1:
            interval, origin = store.interval_name(int(row[0])), "the smallest gap between bars"
        else:
            origin = "fewer than two bars a second or more apart"
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
    return Staged(_meta(fmt, venue, symbol, market, interval), raw.then(select, params), origin)


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
            raise InputError(f"not a readable feather file: {_clip(str(exc))}", path=f.where) from exc
        con.register("_feather", table)
        try:
            # Numbered here: the Arrow table is gone once unregistered, so it cannot be re-read.
            con.execute(
                "CREATE TEMP TABLE _raw AS SELECT row_number() OVER () AS _line, "
                "date::TIMESTAMPTZ AS open_time, open, high, low, close, volume FROM _feather"
            )
        finally:
            con.unregister("_feather")
        raw = _Rows.table(
            "open_time, open, high, low, close, volume", "_raw", {}, unit="row", raw="open_time"
        )
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
    return Staged(_meta(fmt, venue, symbol, "perp", None), raw.then(select, params))


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
                 last_funding_rate AS rate, NULL::DOUBLE AS mark_price,
                 funding_interval_hours AS _interval_hours"""
    source = f"""read_csv($path, header = {str(not noheader).lower()}, delim = ',', auto_detect = false,
                          compression = 'none',
                          columns = {{'calc_time': 'DOUBLE', 'funding_interval_hours': 'DOUBLE',
                                      'last_funding_rate': 'DOUBLE'}})"""
    params = {"venue": venue, "symbol": symbol, "path": str(f.real)}

    def read(con: Connection) -> Staged:
        _create(con, "_stage", select, source, params)
        rows = _Rows.read(select, source, params, 1 if noheader else 2, raw=_num_text("calc_time"))
        return Staged(_meta("binance-funding", venue, symbol, "perp", None), rows, None, ("_interval_hours",))

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
    source = """read_csv($path, header = true, delim = ',', auto_detect = false, compression = 'none',
                         columns = {'timestamp': 'TIMESTAMPTZ', 'symbol': 'VARCHAR', 'side': 'VARCHAR',
                                    'avg_price': 'DOUBLE', 'filled_qty': 'DOUBLE', 'usd_value': 'DOUBLE'})"""
    params = {"venue": venue, "path": str(f.real)}

    def read(con: Connection) -> Staged:
        _create(con, "_stage", select, source, params)
        rows = _Rows.read(select, source, params, 2, raw="timestamp")
        return Staged(_meta("liquidation-log", venue, None, "perp", None), rows)

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
                "FROM read_json_objects($path, format = 'auto', compression = 'none')",
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
                f"""$venue::VARCHAR AS venue, upper(symbol) AS symbol,
                   date_trunc('second', {_epoch_sql(_whole("funding_time"), ("ms",))}) AS funding_time,
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
                f"""$venue::VARCHAR AS venue, upper(symbol) AS symbol, $interval::VARCHAR AS interval,
                   {_epoch_sql(_whole("ts"), ("ms",))} AS ts,
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
    by_key = {key: col for col, key in keys.items()}
    time_col = by_key[numbers[0][0]]  # the first number is the time
    rows = _Rows.table(select, "_vals", params, unit, raw=time_col)
    _check_values(
        con,
        "_vals",
        [(key, by_key[key], _convert(by_key[key], t), _WHAT[t]) for key, t in numbers],
        rows,
        f.where,
    )
    found = con.execute(
        "SELECT count(*) FROM _vals WHERE " + " OR ".join(f"{by_key[k]} IS NOT NULL" for k, _ in numbers)
    ).fetchone()
    if not found or not found[0]:
        raise InputError(f"no {what} objects found", path=f.where, hint="is this the right file and command?")
    _create(con, "_stage", select, "_vals", params)
    return Staged(meta, rows)


def _convert(text: str, to: str) -> str:
    """Text as ``to`` (DOUBLE, or BIGINT without rounding), NULL when it does not convert."""
    return _whole(text) if to == "BIGINT" else f"TRY_CAST({text} AS {to})"


def _first_json_char(path: Path) -> str:
    with open(path, "rb") as fh:
        chunk = fh.read(4096).lstrip()
    return chunk[:1].decode("ascii", errors="replace")


def _array_of_arrays(path: Path) -> bool:
    with open(path, "rb") as fh:
        chunk = fh.read(4096).lstrip()
    return chunk[:1] == b"[" and chunk[1:].lstrip()[:1] in (b"[", b"]")


#: The JSON error path parses a whole file in Python only up to this size; past it, line by line.
_JSON_WHOLE_FILE = 64 << 20
#: DuckDB's maximum_object_size: no JSON line or element may be longer.
_JSON_MAX_LINE = 16 << 20


def _json_error(f: _File, exc: Exception) -> InputError:
    """Name the first line that is not JSON (scans the file only on this error path).

    A file that parses as a whole (a pretty-printed array DuckDB choked on) gets DuckDB's own
    message; memory stays bounded: no line is read past _JSON_MAX_LINE.
    """
    if f.real.stat().st_size <= _JSON_WHOLE_FILE:
        try:
            json.loads(f.real.read_text(encoding="utf-8", errors="replace"))
        except (json.JSONDecodeError, RecursionError):
            pass
        else:
            return _json_whole_file_error(f, exc)
    with open(f.real, encoding="utf-8", errors="replace") as fh:
        for n, line in enumerate(iter(lambda: fh.readline(_JSON_MAX_LINE + 1), ""), 1):
            problem: str | None = None
            if len(line) > _JSON_MAX_LINE:
                problem = f"longer than {_JSON_MAX_LINE:,} characters"
            elif line.strip():
                try:
                    json.loads(line)
                except json.JSONDecodeError as err:
                    problem = err.msg
                except RecursionError:
                    problem = "nested too deeply"
            if problem:
                return InputError(
                    f"malformed JSON: {problem}",
                    path=f.where,
                    line=n,
                    hint="fix or remove that line; nothing from this file was imported",
                )
    return _json_whole_file_error(f, exc)


def _json_whole_file_error(f: _File, exc: Exception) -> InputError:
    lines = str(exc).splitlines() or [type(exc).__name__]
    return InputError(
        f"malformed JSON: {_clip(lines[0], 200)}", path=f.where, hint="nothing from this file was imported"
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
        f"{_epoch_sql('r[1]')} AS open_time, r[2] AS open, r[3] AS high, r[4] AS low, "
        "r[5] AS close, r[6] AS volume, len(r) AS n_values"
    )
    source = (
        "read_json($path, format = 'array', records = false, compression = 'none', "
        "columns = {'r': 'DOUBLE[]'})"
    )
    params = {"path": str(f.real)}
    _create(con, "_raw", select, source, params)
    raw = _Rows.read(select, source, params, unit="bar", raw=_num_text("r[1]"))
    # A bar of other than six values is another layout: its fields would land in the wrong columns.
    shape = _Check(
        "n_values IS DISTINCT FROM 6", "not [date, open, high, low, close, volume] (six numbers)", "r"
    )
    _, _, failing = _scan(con, (shape,), "open_time", "_raw")
    _refuse(con, failing, f.where, _Rows.read(select + ", r", source, params, unit="bar"))
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
    select = f"""venue, upper(s) AS symbol, side, price, quantity, price * quantity AS notional_usd,
                {_epoch_sql(_whole("t"), ("ms",))} AS event_time,
                NULL::TIMESTAMPTZ AS receive_time, 'import' AS source"""
    rows = _Rows.table(select, source, {}, unit, raw="t")
    _check_values(
        con,
        "_liq",
        [
            ("ap", "ap", "TRY_CAST(ap AS DOUBLE)", _WHAT["DOUBLE"]),
            ("p", "p", "TRY_CAST(p AS DOUBLE)", _WHAT["DOUBLE"]),
            ("z", "z", "TRY_CAST(z AS DOUBLE)", _WHAT["DOUBLE"]),
            ("q (Bybit v)", "q", "TRY_CAST(q AS DOUBLE)", _WHAT["DOUBLE"]),
            ("T", "t", _whole("t"), _WHAT["BIGINT"]),
        ],
        rows,
        f.where,
    )
    _create(con, "_stage", select, source, {})
    venues = con.execute("SELECT DISTINCT venue FROM _stage").fetchall()
    venue = venues[0][0] if len(venues) == 1 else venue_default
    return Staged(_meta("liquidation-json", venue, None, "perp", None), rows)


# -- open interest -------------------------------------------------------------------------------


def _binance_metrics(f: _File, venue: str) -> Reader:
    """data.binance.vision ``BTCUSDT-metrics-2024-01-01.csv`` (5-minute open interest)."""
    select = """$venue::VARCHAR AS venue, upper(symbol) AS symbol, '5m' AS interval,
                create_time AS ts, sum_open_interest AS open_interest,
                sum_open_interest_value AS open_interest_usd"""
    # No null_padding: a short line is a truncated one (its last number may be cut short too).
    source = """read_csv($path, header = true, delim = ',', auto_detect = false, compression = 'none',
                         columns = {'create_time': 'TIMESTAMPTZ', 'symbol': 'VARCHAR',
                                    'sum_open_interest': 'DOUBLE', 'sum_open_interest_value': 'DOUBLE',
                                    'c1': 'VARCHAR', 'c2': 'VARCHAR', 'c3': 'VARCHAR', 'c4': 'VARCHAR'})"""
    params = {"venue": venue, "path": str(f.real)}

    def read(con: Connection) -> Staged:
        _create(con, "_stage", select, source, params)
        rows = _Rows.read(select, source, params, 2, raw="create_time")
        return Staged(_meta("binance-metrics", venue, None, "perp", "5m"), rows)

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


#: Delimiters a --map CSV may use; the header line's most frequent one is taken.
_DELIMITERS = (",", ";", "\t", "|")


def _generic_header(f: _File, mapped: Sequence[str]) -> tuple[str, list[str]]:
    """The delimiter and column names of a --map CSV, from its header line.

    Read here and given to DuckDB explicitly, not sniffed: DuckDB's sniffer skips a first line
    that does not fit (a silent misread), and one line with an extra field makes it read the
    whole file as a single column. With an explicit dialect a line with too many or too few
    fields is an error naming its line.
    """
    lines, _ = sniff.head_lines(f.real, 1)
    header = lines[0].lstrip("\ufeff").rstrip("\r\n") if lines else ""
    delim = max(_DELIMITERS, key=header.count)
    if not header.count(delim):
        delim = ","
    names = next(csv.reader([header], delimiter=delim), [])
    if not names or not any(n.strip() for n in names):
        raise InputError("no header line (column names) in a --map CSV", path=f.where, line=1)
    names = [n if n else f"column{i + 1}" for i, n in enumerate(names)]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(f"column {_quote(dup)} appears twice in the header", path=f.where, line=1)
    missing = [m for m in mapped if m not in names]
    if missing:
        shown = ", ".join(_quote(n) for n in names[:20])
        raise InputError(
            f"--map names column {_quote(missing[0])}, which the header lacks; columns: {shown}",
            path=f.where,
            line=1,
            hint="check --map",
        )
    return delim, names


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
        if name not in o.mapping:
            return "NULL::BIGINT" if name == "trades" else "NULL::DOUBLE"
        return _whole(col(name)) if name == "trades" else f"TRY_CAST({col(name)} AS DOUBLE)"

    unit = o.time_unit or "ms"
    raw_t = col("time")
    iso = f"TRY_CAST({raw_t} AS TIMESTAMPTZ)"
    time_sql = {
        "ms": _epoch_sql(_whole(raw_t), ("ms",)),
        "us": _epoch_sql(_whole(raw_t), ("us",)),
        "s": _epoch_sql(f"TRY_CAST({raw_t} AS DOUBLE)", ("s",)),
        "iso": f"(CASE WHEN {iso} >= TIMESTAMPTZ '{EARLIEST.isoformat()}' "
        f"AND {iso} < TIMESTAMPTZ '{LATEST.isoformat()}' THEN {iso} END)",
    }[unit]
    sym_sql = (
        f"upper(replace(replace({col('symbol')}, '/', ''), '_', ''))" if "symbol" in o.mapping else "$symbol"
    )
    # Every mapped value must convert: a bad optional number would otherwise become NULL unseen.
    values = [
        (f"time (column {o.mapping['time']})", raw_t, time_sql, f"a time ({unit}) in {_TIME_RANGE}")
    ] + [
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
        delim, names = _generic_header(f, [o.mapping[x] for x in o.mapping])
        columns = ", ".join(f"'{n.replace(chr(39), chr(39) * 2)}': 'VARCHAR'" for n in names)
        # Numbered as read (the streaming window keeps file order); header = line 1.
        con.execute(
            "CREATE TEMP TABLE _src AS SELECT row_number() OVER () + 1 AS _line, * "
            "FROM read_csv($path, header = true, auto_detect = false, delim = $delim, quote = '\"', "
            f"compression = 'none', columns = {{{columns}}})",
            {"path": str(f.real), "delim": delim},
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
            raw = _Rows.table(select, "_src", {}, raw=raw_t)
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
        return Staged(meta, _Rows.table(select, "_src", params, raw=raw_t))

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
