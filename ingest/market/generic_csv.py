"""Any CSV through a column mapping (``--map time=ts,open=o,...``) and a time unit (``--time-unit``).

Every value is read as text and converted in SQL, so a value that does not convert is named with
its line rather than lost as NULL.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from typing import Any

from flushwatch.errors import ConfigError, InputError
from flushwatch.ingest.market import sniff
from flushwatch.ingest.market.bounds import TIME_RANGE, epoch_sql, in_time_range, whole
from flushwatch.ingest.market.staging import (
    WHAT,
    Connection,
    File,
    Reader,
    Rows,
    Source,
    Staged,
    check_values,
    create,
    meta,
    need,
    quote,
    read_csv,
    stage_ohlcv,
)

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
#: Delimiters a --map CSV may use; the header line's most frequent one is taken.
_DELIMITERS = (",", ";", "\t", "|")


def parse_mapping(text: str) -> dict[str, str]:
    """'time=ts,open=o' -> {'time': 'ts', 'open': 'o'}."""
    out: dict[str, str] = {}
    for part in [p for p in text.split(",") if p.strip()]:
        if "=" not in part:
            raise ConfigError(f"--map {text!r}: expected FIELD=COLUMN pairs separated by commas")
        k, v = part.split("=", 1)
        out[k.strip().lower()] = v.strip()
    return out


def _header(f: File, mapped: Sequence[str]) -> tuple[str, list[str]]:
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
        raise InputError(f"column {quote(dup)} appears twice in the header", path=f.where, line=1)
    missing = [m for m in mapped if m not in names]
    if missing:
        shown = ", ".join(quote(n) for n in names[:20])
        raise InputError(
            f"--map names column {quote(missing[0])}, which the header lacks; columns: {shown}",
            path=f.where,
            line=1,
            hint="check --map",
        )
    return delim, names


def reader(src: Source) -> Reader:
    kind, f, o, venue, symbol = src.kind, src.file, src.options, src.venue, src.symbol
    required, optional = GENERIC_FIELDS[kind]
    missing = [x for x in required if x not in o.mapping]
    unknown = [x for x in o.mapping if x not in required + optional]
    if missing or unknown:
        raise ConfigError(
            f"--map for {kind}: missing {missing or 'nothing'}, unknown {unknown or 'nothing'}; "
            f"fields: {', '.join(required)} (required), {', '.join(optional)}"
        )
    if "symbol" not in o.mapping:
        symbol = need(symbol, "symbol", f)

    def col(name: str) -> str:
        return '"' + o.mapping[name].replace('"', '""') + '"'

    def num(name: str) -> str:
        if name not in o.mapping:
            return "NULL::BIGINT" if name == "trades" else "NULL::DOUBLE"
        return whole(col(name)) if name == "trades" else f"TRY_CAST({col(name)} AS DOUBLE)"

    unit = o.time_unit or "ms"
    raw_t = col("time")
    iso = f"TRY_CAST({raw_t} AS TIMESTAMPTZ)"
    time_sql = {
        "ms": epoch_sql(whole(raw_t), ("ms",)),
        "us": epoch_sql(whole(raw_t), ("us",)),
        "s": epoch_sql(f"TRY_CAST({raw_t} AS DOUBLE)", ("s",)),
        "iso": f"(CASE WHEN {in_time_range(iso)} THEN {iso} END)",
    }[unit]
    sym_sql = (
        f"upper(replace(replace({col('symbol')}, '/', ''), '_', ''))" if "symbol" in o.mapping else "$symbol"
    )
    # Every mapped value must convert: a bad optional number would otherwise become NULL unseen.
    values = [(f"time (column {o.mapping['time']})", raw_t, time_sql, f"a time ({unit}) in {TIME_RANGE}")]
    values += [
        (
            f"{name} (column {o.mapping[name]})",
            col(name),
            num(name),
            WHAT["BIGINT" if name == "trades" else "DOUBLE"],
        )
        for name in o.mapping
        if name not in _TEXT_FIELDS
    ]

    def read(con: Connection) -> Staged:
        delim, names = _header(f, list(o.mapping.values()))
        # Numbered as read (the streaming window keeps file order); header = line 1.
        con.execute(
            "CREATE TEMP TABLE _src AS SELECT row_number() OVER () + 1 AS _line, * "
            f"FROM {read_csv(dict.fromkeys(names, 'VARCHAR'), delim='$delim', quoted=True)}",
            {"path": str(f.real), "delim": delim},
        )
        check_values(con, "_src", values, Rows.table("*", "_src", {}), f.where)
        params: dict[str, Any] = {"venue": venue}
        if "symbol" not in o.mapping:
            params["symbol"] = symbol
        if kind == "candles":
            bars = [f"{num(c)} AS {c}" for c in required + optional if c != "time"]
            select = ", ".join([f"{time_sql} AS open_time", *bars])
            create(con, "_raw", select, "_src", {})
            raw = Rows.table(select, "_src", {}, raw=raw_t)
            return stage_ohlcv(con, raw, src, str(symbol), "generic-csv", extra=True)
        interval = None
        if kind == "funding":
            select = f"""$venue::VARCHAR AS venue, {sym_sql}::VARCHAR AS symbol,
                date_trunc('second', {time_sql}) AS funding_time, {num("rate")} AS rate,
                {num("mark_price")} AS mark_price"""
        elif kind == "open_interest":
            interval = params["interval"] = need(o.interval or src.hints.interval, "interval", f)
            select = f"""$venue::VARCHAR AS venue, {sym_sql}::VARCHAR AS symbol,
                $interval::VARCHAR AS interval, {time_sql} AS ts,
                {num("open_interest")} AS open_interest,
                {num("open_interest_usd")} AS open_interest_usd"""
        else:
            select = f"""$venue::VARCHAR AS venue, {sym_sql}::VARCHAR AS symbol,
                CASE lower({col("side")}) WHEN 'sell' THEN 'long' WHEN 'long' THEN 'long'
                     WHEN 'buy' THEN 'short' WHEN 'short' THEN 'short' END AS side,
                {num("price")} AS price, {num("quantity")} AS quantity,
                coalesce({num("notional_usd")}, {num("price")} * {num("quantity")}) AS notional_usd,
                {time_sql} AS event_time, NULL::TIMESTAMPTZ AS receive_time, 'import' AS source"""
        create(con, "_stage", select, "_src", params)
        staged_meta = meta("generic-csv", venue, symbol, "perp", interval)
        return Staged(staged_meta, Rows.table(select, "_src", params, raw=raw_t))

    return read
