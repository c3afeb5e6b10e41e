"""``flushwatch import candles|funding|liquidations|open-interest``: files -> market tables.

Each file is read by DuckDB's own readers (read_csv with explicit columns and types,
read_json, Arrow for feather) into a TEMP stage, checked, then appended with an anti-join on
the natural key (storage/market.py) -- all in ONE transaction per file, so a malformed line
leaves nothing of that file behind and a repeat import adds nothing. What a file is (format,
venue, market, symbol, interval) comes from :mod:`flushwatch.ingest.market.sniff` unless the
caller says so.

Here: the entry points, the choice of reader, and the checks of a whole stage. The readers live
beside this module, one per format family (:mod:`~flushwatch.ingest.market.binance_archive`,
:mod:`~flushwatch.ingest.market.freqtrade`, :mod:`~flushwatch.ingest.market.json_files`,
:mod:`~flushwatch.ingest.market.liquidations`, :mod:`~flushwatch.ingest.market.generic_csv`),
on the shared machinery of :mod:`~flushwatch.ingest.market.staging`. What a row may hold is
bounded in :mod:`~flushwatch.ingest.market.bounds`; archives are unpacked, capped, by
:mod:`~flushwatch.ingest.market.unpack`. A conflicting duplicate (same natural key, other
values) refuses its file.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb

from flushwatch.errors import ConfigError, InputError
from flushwatch.ingest.market import binance_archive, freqtrade, generic_csv, json_files, liquidations, sniff
from flushwatch.ingest.market.bounds import CHECKS, HELPER_CHECKS
from flushwatch.ingest.market.generic_csv import parse_mapping
from flushwatch.ingest.market.staging import (
    NOTHING,
    Connection,
    File,
    MarketImportOptions,
    Reader,
    Rows,
    Source,
    bad_line,
    clip,
    refuse,
    scan,
    used,
)
from flushwatch.ingest.market.unpack import readable
from flushwatch.records.market import ImportResult
from flushwatch.records.symbols import is_valid_symbol, normalise_symbol
from flushwatch.storage import market as store
from flushwatch.storage.db import Database

log = logging.getLogger(__name__)

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
    options: MarketImportOptions | None = None,
    *,
    run_id: int | None = None,
) -> ImportSummary:
    """Import each file in its own transaction; a failing file is reported, the rest go on."""
    if kind not in KINDS:
        raise ConfigError(f"unknown import kind {kind!r}; expected one of {', '.join(KINDS)}")
    options = options or MarketImportOptions()
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
    return import_files(db, "candles", paths, MarketImportOptions(**opts), run_id=run_id)


def import_funding(
    db: Database, paths: Sequence[Path | str], *, run_id: int | None = None, **opts: Any
) -> ImportSummary:
    return import_files(db, "funding", paths, MarketImportOptions(**opts), run_id=run_id)


def import_liquidations(
    db: Database, paths: Sequence[Path | str], *, run_id: int | None = None, **opts: Any
) -> ImportSummary:
    return import_files(db, "liquidations", paths, MarketImportOptions(**opts), run_id=run_id)


def import_open_interest(
    db: Database, paths: Sequence[Path | str], *, run_id: int | None = None, **opts: Any
) -> ImportSummary:
    return import_files(db, "open_interest", paths, MarketImportOptions(**opts), run_id=run_id)


def _check_options(o: MarketImportOptions) -> None:
    if o.market is not None and o.market not in sniff.MARKETS:
        raise ConfigError(f"--market {o.market!r}: expected one of {', '.join(sniff.MARKETS)}")
    if o.interval is not None and store.interval_seconds(o.interval) <= 0:
        raise ConfigError(f"--interval {o.interval!r}: a bar lasts at least a second, e.g. 1m")
    if o.time_unit is not None and o.time_unit not in ("ms", "us", "s", "iso"):
        raise ConfigError(f"--time-unit {o.time_unit!r}: expected ms, us, s or iso")
    if o.symbol is not None and not is_valid_symbol(normalise_symbol(o.symbol)):
        raise ConfigError(
            f"--symbol {clip(o.symbol, 40)!r}: expected a venue symbol such as BTCUSDT or BTC/USDT"
        )
    if o.max_unpacked_bytes is not None and o.max_unpacked_bytes <= 0:
        raise ConfigError(f"max_unpacked_bytes {o.max_unpacked_bytes}: expected a positive byte count")


def import_file(
    db: Database, kind: str, path: Path, options: MarketImportOptions, *, run_id: int | None = None
) -> ImportResult:
    """One file, one transaction: read into ``_stage``, check, append what is new."""
    if not path.is_file():
        raise InputError("no such file", path=path, hint="check the path")
    table = _TABLES[kind]
    try:
        with readable(path, options) as f:
            reader = _plan(kind, f, options)
            with db.write() as con:
                # Rows carry their own times; insertion order is irrelevant and costs parallelism.
                con.execute("SET preserve_insertion_order = false")
                try:
                    meta, rows, origin, helpers = reader(con)
                    checks = CHECKS[table] + tuple(c for h in helpers for c in HELPER_CHECKS[h])
                    # One scan: the row count, distinct times and every check.
                    rows_read, n_times, failing = scan(con, checks, store.TIME_COLUMN[table])
                    if not rows_read:
                        raise InputError(
                            "no rows (an empty file, or a header only)",
                            path=f.where,
                            hint=f"is the download complete? {NOTHING}",
                        )
                    refuse(con, failing, f.where, rows)
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
                    # One call (small files pay per statement); harmless in an aborted transaction.
                    with contextlib.suppress(duckdb.Error):
                        con.execute("".join(f"DROP TABLE IF EXISTS {t};" for t in _TEMP))
    except (OSError, UnicodeError) as exc:  # unreadable (permissions, a vanished file, a full disk)
        raise InputError(f"cannot read: {clip(str(exc))}", path=path) from exc
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


def _plan(kind: str, f: File, o: MarketImportOptions) -> Reader:
    """Decide how to read the file; returns a function that fills ``_stage`` and says what it was."""
    hints = sniff.path_hints(f.path, f.member)
    venue = (o.venue or hints.venue or "binance").lower()
    symbol = normalise_symbol(o.symbol) if o.symbol else hints.symbol
    src = Source(kind, f, o, venue, symbol, hints)
    # A zip member's own name counts too: fundingRate_BTCUSDT.json zipped is still JSON.
    suffixes = "".join(f.path.suffixes).lower() + "".join(PurePosixPath(f.member or "").suffixes).lower()
    if o.mapping:
        return generic_csv.reader(src)
    if ".feather" in suffixes:
        return freqtrade.feather(src)
    if ".json" in suffixes:
        return json_files.reader(src)
    lines, _ = sniff.head_lines(f.real, 3)
    layout = sniff.csv_kind(lines[0] if lines else "")
    noheader = layout.endswith("noheader")
    if layout == "unknown":
        shown = clip(lines[0].strip(), 80) if lines and lines[0].strip() else "empty"
        raise InputError(
            f"unrecognised CSV layout (first line: {shown})",
            path=f.where,
            line=1,
            hint="use --map time=COL,open=COL,... for a generic CSV",
        )
    if layout.startswith("freqtrade") and kind in ("candles", "funding"):
        return freqtrade.csv(src, layout)
    if kind == "candles" and layout.startswith("binance-archive"):
        return binance_archive.klines(src, lines, noheader)
    if kind == "funding" and layout.startswith("binance-funding"):
        return binance_archive.funding(src, noheader)
    if kind == "liquidations" and layout == "liquidation-log":
        return liquidations.log_reader(src)
    if kind == "open_interest" and layout == "binance-metrics":
        return binance_archive.metrics(src)
    raise InputError(
        f"a {layout} file is not {kind} data",
        path=f.where,
        hint="use the matching `flushwatch import` command, or --map for a generic CSV",
    )


def _input_error(exc: duckdb.Error, f: File) -> InputError:
    text = str(exc)
    m = _LINE_RE.search(text)
    lines = text.splitlines() or [type(exc).__name__]
    # DuckDB's CSV errors: 'CSV Error on Line: N', 'Original Line: ...', then what is wrong.
    said = [ln for ln in lines[1:] if ln.strip() and not ln.startswith(("Original Line", "Possible fixes"))]
    first = clip(said[0] if m and said else lines[0], 200)
    if m:
        return bad_line(first, f.where, int(m.group(1)))
    return InputError(f"cannot read: {first}", path=f.where, hint=NOTHING)


def _range(con: Connection, table: str) -> tuple[Any, Any]:
    tcol = store.TIME_COLUMN[table]
    row = con.execute(f"SELECT min({tcol}), max({tcol}) FROM _stage").fetchone()
    return (row[0], row[1]) if row else (None, None)


def _check_duplicates(con: Connection, table: str, where: str, rows: Rows) -> None:
    """Refuse a file that gives one natural key two sets of values (two different bars for one
    open time): which is right cannot be told, and keeping the first would drop the other
    unseen. Exact repeats are harmless (an archive overlapping itself) and stored once.

    Called only when the stage repeats a time (:func:`scan` counts them): distinct times imply
    distinct keys, so a good file of distinct times never pays for this.
    """
    keys = store.KEYS[table]
    tcol = store.TIME_COLUMN[table]
    columns = [r[0] for r in con.execute("DESCRIBE _stage").fetchall()]
    value_cols = [c for c in columns if c not in (*keys, "receive_time", "source") and c not in HELPER_CHECKS]
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
    row = con.execute(sql, used(sql, rows.params)).fetchone()
    first, other, when = row if row else (None, None, None)
    label = tcol.replace("_", " ")
    raise rows.error(
        where,
        first,
        f"conflicting duplicate: {rows.unit} {other} has the same {label} ({when}) with other values "
        f"({found[0]} {label}{'s' if found[0] > 1 else ''} with conflicting rows in this file)",
    )


def _check_interval(con: Connection, where: str, interval: str | None, origin: str) -> None:
    """The bars must sit on the interval's grid and be no further apart than it.

    The grid check catches an interval coarser than the data (1m bars called 5m); the spacing
    check one finer than the data (5m bars called 1m, which the grid cannot see): the most
    common gap between consecutive open times over the first bars of the series (a candle
    stage holds one series). The grid is checked in whole µs: a bar at 00:00:59.6 is off the
    minute grid, though its epoch in seconds rounds onto it.

    Runs after :func:`refuse`, so every time is known to be in range; an interval that could
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
            hint=f"check --interval; {NOTHING}",
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
            hint=f"pass --interval {spacing} if that is what it holds; {NOTHING}",
        )


__all__ = [
    "ImportSummary",
    "MarketImportOptions",
    "import_candles",
    "import_file",
    "import_files",
    "import_funding",
    "import_liquidations",
    "import_open_interest",
    "parse_mapping",
]
