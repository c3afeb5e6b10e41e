"""What every market-file reader shares: the options, the file, the stage and the checks on it.

A reader fills the TEMP table ``_stage`` in the shape of the target table and says what the file
was (:class:`Staged`). Checks run on the stage in SQL, in one scan (:func:`scan`). Only when one
fails is the file read again with row numbers (:class:`Rows`) to name the first offending line:
numbering rows needs a ``row_number()`` window, which serialises DuckDB's parallel CSV reader,
so good files never pay for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import duckdb

from flushwatch.errors import InputError
from flushwatch.ingest.market import sniff
from flushwatch.ingest.market.bounds import Check, in_time_range
from flushwatch.storage import market as store

Connection = duckdb.DuckDBPyConnection
#: The end of every refusal's hint: a file is imported whole or not at all.
NOTHING = "nothing from this file was imported"
#: What a text value must convert to, in words.
WHAT = {"DOUBLE": "a number", "BIGINT": "a whole number"}
#: A JSON value's objects: the value itself, or an array's elements.
UNNEST = "unnest(CASE WHEN json_type(j) = 'ARRAY' THEN j::JSON[] ELSE [j] END)"


@dataclass(frozen=True)
class MarketImportOptions:
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
class File:
    """A file as the user named it (``path``, for messages) and as DuckDB reads it (``real``:
    the unpacked member of a zip, else ``path`` itself)."""

    path: Path
    real: Path
    member: str | None = None

    @property
    def where(self) -> str:
        return f"{self.path}!{self.member}" if self.member else str(self.path)


@dataclass(frozen=True)
class Source:
    """A file about to be read and what is known of it: the kind of data the command imports,
    the options, and the venue and symbol they or the file's name give (``hints``: all the name
    says)."""

    kind: str
    file: File
    options: MarketImportOptions
    venue: str
    symbol: str | None
    hints: sniff.NameHints


def clip(text: str, limit: int = 120) -> str:
    """User text for a one-line message: control characters escaped, at most ``limit`` chars."""
    shown = text if len(text) <= limit else text[: limit - 3] + "..."
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in shown)


def quote(text: str, limit: int = 40) -> str:
    """A value from the file, quoted for a message: repr escapes what would break the line."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def bad_line(message: str, where: str | Path, line: int, what: str = "line") -> InputError:
    """``FILE:LINE: malformed line: ...``: one line refuses its whole file."""
    return InputError(
        f"malformed {what}: {message}", path=where, line=line, hint=f"fix or remove that line; {NOTHING}"
    )


def need(value: str | None, what: str, f: File) -> str:
    if not value:
        raise InputError(f"cannot infer the {what} from the file name", path=f.where, hint=f"pass --{what}")
    return value


def meta(
    fmt: str, venue: str, symbol: str | None, market: str | None, interval: str | None
) -> dict[str, Any]:
    return {"fmt": fmt, "venue": venue, "symbol": symbol, "market": market, "interval": interval}


def used(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters ``sql`` names: DuckDB refuses unused named parameters."""
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}


def create(con: Connection, table: str, select: str, source: str, params: dict[str, Any]) -> None:
    con.execute(f"CREATE TEMP TABLE {table} AS SELECT {select} FROM {source}", used(select + source, params))


def read_csv(
    columns: dict[str, str], *, header: bool = True, delim: str = "','", quoted: bool = False
) -> str:
    """DuckDB's CSV reader over ``$path`` with every column named and typed, never sniffed (its
    sniffer skips a first line that does not fit) and never decompressing: everything it reads
    went through :mod:`flushwatch.ingest.market.unpack`."""
    typed = ", ".join(f"'{name.replace(chr(39), chr(39) * 2)}': '{t}'" for name, t in columns.items())
    quoting = ", quote = '\"'" if quoted else ""
    return (
        f"read_csv($path, header = {str(header).lower()}, delim = {delim}{quoting}, auto_detect = false, "
        f"compression = 'none', columns = {{{typed}}})"
    )


def num_text(col: str) -> str:
    """A DOUBLE column as the file most likely wrote it (1735689600000, not 1735689600000.0)."""
    return (
        f"CASE WHEN {col} = trunc({col}) AND abs({col}) < 1e18 "
        f"THEN CAST(CAST({col} AS BIGINT) AS VARCHAR) ELSE CAST({col} AS VARCHAR) END"
    )


@dataclass(frozen=True)
class Rows:
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
    ) -> Rows:
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
    ) -> Rows:
        """Rows of a source that already carries ``_line`` (a numbered temp table)."""
        return cls(f"SELECT _line, CAST({raw} AS VARCHAR) AS _raw, {select} FROM {source}", params, unit)

    def then(self, select: str, params: dict[str, Any] | None = None) -> Rows:
        """These rows seen through one more projection (raw table -> stage)."""
        return Rows(
            f"SELECT _line, _raw, {select} FROM ({self.sql})", {**self.params, **(params or {})}, self.unit
        )

    def error(self, where: str, n: int | None, message: str) -> InputError:
        """The one-line error for row ``n``: ``FILE:LINE: malformed line: ...`` for lines."""
        if n is None:
            return InputError(message, path=where, hint=NOTHING)
        if self.unit == "line":
            return bad_line(message, where, n)
        return InputError(
            f"{self.unit} {n}: {message}", path=where, hint=f"fix or remove that {self.unit}; {NOTHING}"
        )


class Staged(NamedTuple):
    """What a reader left in ``_stage``: what the file is (``meta``), the rows again for naming
    lines, and for candles where the interval came from (``origin``; the interval is checked
    against the bars once the rows are known to be sane), and the check-only columns it staged."""

    meta: dict[str, Any]
    rows: Rows
    origin: str | None = None
    helpers: tuple[str, ...] = ()  # check-only columns in _stage (see bounds.HELPER_CHECKS)


Reader = Callable[[Connection], Staged]


def csv_reader(
    source: str,
    select: str,
    params: dict[str, Any],
    staged_meta: dict[str, Any],
    *,
    raw: str,
    first_line: int = 2,
    origin: str | None = None,
    helpers: tuple[str, ...] = (),
) -> Reader:
    """A reader that stages ``SELECT select FROM source`` as it stands: CSV layouts whose columns
    are known, so DuckDB reads them straight into the stage in parallel."""

    def read(con: Connection) -> Staged:
        create(con, "_stage", select, source, params)
        rows = Rows.read(select, source, params, first_line, raw=raw)
        return Staged(staged_meta, rows, origin, helpers)

    return read


def scan(
    con: Connection, checks: Sequence[Check], tcol: str, table: str = "_stage"
) -> tuple[int, int, list[Check]]:
    """One scan of ``table``: its rows, its distinct ``tcol`` values and the checks that fail."""
    flags = ", ".join(f"coalesce(bool_or({c.pred}), false)" for c in checks)
    got = con.execute(f"SELECT count(*), count(DISTINCT {tcol}), {flags} FROM {table}").fetchone()
    if not got:
        return 0, 0, []
    return int(got[0]), int(got[1]), [check for check, bad in zip(checks, got[2:], strict=True) if bad]


def refuse(con: Connection, failing: Sequence[Check], where: str, rows: Rows) -> None:
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
    got: Sequence[Any] = con.execute(sql, used(sql, rows.params)).fetchone() or (None,) * (2 * len(failing))
    found = [
        (int(got[2 * i]), check, got[2 * i + 1]) for i, check in enumerate(failing) if got[2 * i] is not None
    ]
    if not found:
        raise rows.error(where, None, failing[0].what)
    n, check, shown = min(found, key=lambda x: x[0])
    raise rows.error(where, n, f"{check.what}: {quote(shown, 80)}" if shown else check.what)


def check_values(
    con: Connection, table: str, fields: Sequence[tuple[str, str, str, str]], rows: Rows, where: str
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
        raise rows.error(where, int(row[0]), f"{label} {quote(row[2])} is not {what}")


#: Candle columns beyond OHLCV that only some sources carry, and their types.
_EXTRA_CANDLE_COLUMNS = {
    "quote_volume": "DOUBLE",
    "trades": "BIGINT",
    "taker_buy_volume": "DOUBLE",
    "taker_buy_quote_volume": "DOUBLE",
}


def stage_ohlcv(
    con: Connection, raw: Rows, src: Source, symbol: str, fmt: str, extra: bool = False
) -> Staged:
    """_raw(open_time, open, high, low, close, volume[, extras]) -> _stage, inferring the interval
    if needed. ``extra``: _raw also has quote_volume, trades, taker_buy_volume and
    taker_buy_quote_volume (generic CSV); else they are NULL. Without a market, bars are spot."""
    venue, o, hints = src.venue, src.options, src.hints
    market = o.market or hints.market or "spot"
    interval, origin = (o.interval, "--interval") if o.interval else (hints.interval, "the file name")
    if interval is None:
        # Over times in range only: the rest are refused by the time check, which names their line.
        row = con.execute(
            "SELECT min(d) FROM (SELECT epoch(open_time - lag(open_time) OVER (ORDER BY open_time)) AS d "
            f"FROM _raw WHERE {in_time_range('open_time')}) WHERE d > 0"
        ).fetchone()
        if row and row[0] is not None and row[0] >= 1:
            interval, origin = store.interval_name(int(row[0])), "the smallest gap between bars"
        else:
            origin = "fewer than two bars a second or more apart"
    extras = ", ".join(
        f"{c}::{t} AS {c}" if extra else f"NULL::{t} AS {c}" for c, t in _EXTRA_CANDLE_COLUMNS.items()
    )
    select = f"""$venue::VARCHAR AS venue, $market::VARCHAR AS market, $symbol::VARCHAR AS symbol,
                 $interval::VARCHAR AS interval, open_time::TIMESTAMPTZ AS open_time,
                 open::DOUBLE AS open, high::DOUBLE AS high, low::DOUBLE AS low, close::DOUBLE AS close,
                 volume::DOUBLE AS volume, {extras}"""
    params = {"venue": venue, "market": market, "symbol": symbol, "interval": interval}
    create(con, "_stage", select, "_raw", params)
    return Staged(meta(fmt, venue, symbol, market, interval), raw.then(select, params), origin)
