"""JSON market files: freqtrade arrays of bars, Binance REST payloads, liquidation stream messages.

An array of arrays is freqtrade's; anything else is read as JSON objects (one document, JSON
lines or an array of them), numbered as read: a JSON-lines object is a line, an array's element
a message.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NamedTuple

import duckdb

from flushwatch.errors import InputError
from flushwatch.ingest.market import freqtrade, liquidations
from flushwatch.ingest.market.bounds import epoch_sql, whole
from flushwatch.ingest.market.staging import (
    NOTHING,
    UNNEST,
    WHAT,
    Connection,
    File,
    Reader,
    Rows,
    Source,
    Staged,
    bad_line,
    check_values,
    clip,
    create,
    meta,
)

#: The error path parses a whole file in Python only up to this size; past it, line by line.
_JSON_WHOLE_FILE = 64 << 20
#: DuckDB's maximum_object_size: no JSON line or element may be longer.
_JSON_MAX_LINE = 16 << 20


class _Rest(NamedTuple):
    """A Binance REST payload: its objects' fields as (column, JSON key, type it must convert to;
    None for text), the first typed one being the time, and the stage's SELECT over the columns."""

    what: str
    fields: tuple[tuple[str, str, str | None], ...]
    select: str


_FUNDING = _Rest(
    "fundingRate (GET /fapi/v1/fundingRate)",
    (
        ("symbol", "symbol", None),
        ("funding_time", "fundingTime", "BIGINT"),
        ("rate", "fundingRate", "DOUBLE"),
        ("mark", "markPrice", "DOUBLE"),
    ),
    f"""$venue::VARCHAR AS venue, upper(symbol) AS symbol,
        date_trunc('second', {epoch_sql(whole("funding_time"), ("ms",))}) AS funding_time,
        TRY_CAST(rate AS DOUBLE) AS rate, TRY_CAST(nullif(mark, '') AS DOUBLE) AS mark_price""",
)
_OPEN_INTEREST = _Rest(
    "openInterestHist (GET /futures/data/openInterestHist)",
    (
        ("symbol", "symbol", None),
        ("ts", "timestamp", "BIGINT"),
        ("oi", "sumOpenInterest", "DOUBLE"),
        ("oi_usd", "sumOpenInterestValue", "DOUBLE"),
    ),
    f"""$venue::VARCHAR AS venue, upper(symbol) AS symbol, $interval::VARCHAR AS interval,
        {epoch_sql(whole("ts"), ("ms",))} AS ts,
        TRY_CAST(oi AS DOUBLE) AS open_interest, TRY_CAST(oi_usd AS DOUBLE) AS open_interest_usd""",
)


def reader(src: Source) -> Reader:
    f, kind = src.file, src.kind

    def read(con: Connection) -> Staged:
        with open(f.real, "rb") as fh:
            head = fh.read(4096).lstrip()
        array = head[:1] == b"["
        try:
            if array and head[1:].lstrip()[:1] in (b"[", b"]"):
                return freqtrade.stage_json(con, src)
            con.execute(
                "CREATE TEMP TABLE _obj AS SELECT row_number() OVER () AS _line, json AS j "
                "FROM read_json_objects($path, format = 'auto', compression = 'none')",
                {"path": str(f.real)},
            )
        except duckdb.InvalidInputException as exc:
            raise _json_error(f, exc) from exc
        unit = "message" if array else "line"
        if kind == "liquidations":
            return liquidations.stage_messages(con, src, unit)
        if kind == "funding":
            return _stage_rest(con, src, unit, _FUNDING, None)
        if kind == "open_interest":
            interval = src.options.interval or src.hints.interval or "5m"
            return _stage_rest(con, src, unit, _OPEN_INTEREST, interval)
        raise InputError(
            "JSON objects are not candle data (expected freqtrade's [[ts, o, h, l, c, v], ...])",
            path=f.where,
        )

    return read


def _stage_rest(con: Connection, src: Source, unit: str, rest: _Rest, interval: str | None) -> Staged:
    """Binance REST objects in ``_obj`` -> _vals (their fields as text) -> _stage.

    Fields are kept as text and converted with TRY_CAST after :func:`check_values` has named
    any line whose value does not convert.
    """
    where, params = src.file.where, {"venue": src.venue, "interval": interval}
    cols = ", ".join(f"j->>'{key}' AS {col}" for col, key, _ in rest.fields)
    con.execute(
        f"CREATE TEMP TABLE _vals AS SELECT _line, {cols} FROM (SELECT _line, {UNNEST} AS j FROM _obj)"
    )
    numbers = [(col, key, to) for col, key, to in rest.fields if to is not None]
    rows = Rows.table(rest.select, "_vals", params, unit, raw=numbers[0][0])
    converted = [
        (key, col, whole(col) if to == "BIGINT" else f"TRY_CAST({col} AS {to})", WHAT[to])
        for col, key, to in numbers
    ]
    check_values(con, "_vals", converted, rows, where)
    found = con.execute(
        "SELECT count(*) FROM _vals WHERE " + " OR ".join(f"{col} IS NOT NULL" for col, _, _ in numbers)
    ).fetchone()
    if not found or not found[0]:
        raise InputError(
            f"no {rest.what} objects found", path=where, hint="is this the right file and command?"
        )
    create(con, "_stage", rest.select, "_vals", params)
    return Staged(meta("binance-rest-json", src.venue, None, "perp", interval), rows)


def _json_error(f: File, exc: Exception) -> InputError:
    """Name the first line that is not JSON (scans the file only on this error path).

    A file that parses as a whole (a pretty-printed array DuckDB choked on) gets DuckDB's own
    message; memory stays bounded: no line is read past _JSON_MAX_LINE.
    """
    if f.real.stat().st_size <= _JSON_WHOLE_FILE and _parses(f.real):
        return _whole_file_error(f, exc)
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
                return bad_line(problem, f.where, n, "JSON")
    return _whole_file_error(f, exc)


def _parses(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (json.JSONDecodeError, RecursionError):
        return False
    return True


def _whole_file_error(f: File, exc: Exception) -> InputError:
    lines = str(exc).splitlines() or [type(exc).__name__]
    return InputError(f"malformed JSON: {clip(lines[0], 200)}", path=f.where, hint=NOTHING)
