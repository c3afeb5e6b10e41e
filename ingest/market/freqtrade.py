"""freqtrade exports: CSV, feather and JSON arrays of bars, candles or funding rates.

Every layout is read into ``_raw(open_time, open, high, low, close, volume)`` and staged from
there, as candles or as funding prints: freqtrade stores funding rates as bars whose ``open`` is
the rate.
"""

from __future__ import annotations

from flushwatch.errors import InputError
from flushwatch.ingest.market.bounds import Check, epoch_sql
from flushwatch.ingest.market.staging import (
    Connection,
    Reader,
    Rows,
    Source,
    Staged,
    clip,
    create,
    meta,
    need,
    num_text,
    read_csv,
    refuse,
    scan,
    stage_ohlcv,
)

_OHLCV = dict.fromkeys(("open", "high", "low", "close", "volume"), "DOUBLE")
#: A bar of other than six values is another layout: its fields would land in the wrong columns.
_SIX_VALUES = Check(
    "n_values IS DISTINCT FROM 6", "not [date, open, high, low, close, volume] (six numbers)", "r"
)


def _stage(con: Connection, raw: Rows, src: Source, symbol: str, funding: bool, fmt: str) -> Staged:
    """``_raw`` -> ``_stage``: candles, or funding prints (times truncated to the second: jitter)."""
    if not funding:
        return stage_ohlcv(con, raw, src, symbol, fmt)
    select = """$venue::VARCHAR AS venue, $symbol::VARCHAR AS symbol,
                date_trunc('second', open_time)::TIMESTAMPTZ AS funding_time,
                open::DOUBLE AS rate, NULL::DOUBLE AS mark_price"""
    params = {"venue": src.venue, "symbol": symbol}
    create(con, "_stage", select, "_raw", params)
    return Staged(meta(fmt, src.venue, symbol, "perp", None), raw.then(select, params))


def csv(src: Source, layout: str) -> Reader:
    """Our converted shape with epoch milliseconds (``open_time_ms``, µs accepted too), or
    freqtrade's own with a ``date`` column."""
    symbol = need(src.symbol, "symbol", src.file)
    if layout == "freqtrade-csv":
        columns = {"open_time_ms": "DOUBLE", "open_time_utc": "VARCHAR"} | _OHLCV
        time_sql, shown = epoch_sql("open_time_ms"), num_text("open_time_ms")
    else:
        columns = {"date": "TIMESTAMPTZ"} | _OHLCV
        time_sql = shown = "date"
    select = f"{time_sql} AS open_time, open, high, low, close, volume"
    source = read_csv(columns)
    params = {"path": str(src.file.real)}

    def read(con: Connection) -> Staged:
        create(con, "_raw", select, source, params)
        raw = Rows.read(select, source, params, 2, raw=shown)
        return _stage(con, raw, src, symbol, src.kind == "funding", "freqtrade-csv")

    return read


def feather(src: Source) -> Reader:
    f = src.file
    symbol = need(src.symbol, "symbol", f)

    def read(con: Connection) -> Staged:
        import pyarrow.feather

        try:
            table = pyarrow.feather.read_table(str(f.real))
        except Exception as exc:  # pyarrow raises several types for corrupt files
            raise InputError(f"not a readable feather file: {clip(str(exc))}", path=f.where) from exc
        con.register("_feather", table)
        try:
            # Numbered here: the Arrow table is gone once unregistered, so it cannot be re-read.
            con.execute(
                "CREATE TEMP TABLE _raw AS SELECT row_number() OVER () AS _line, "
                "date::TIMESTAMPTZ AS open_time, open, high, low, close, volume FROM _feather"
            )
        finally:
            con.unregister("_feather")
        raw = Rows.table("open_time, open, high, low, close, volume", "_raw", {}, unit="row", raw="open_time")
        return _stage(con, raw, src, symbol, src.kind == "funding" or src.hints.funding, "freqtrade-feather")

    return read


def stage_json(con: Connection, src: Source) -> Staged:
    """A JSON array of ``[date, open, high, low, close, volume]`` bars (date in epoch ms or µs)."""
    symbol = need(src.symbol, "symbol", src.file)
    select = (
        f"{epoch_sql('r[1]')} AS open_time, r[2] AS open, r[3] AS high, r[4] AS low, "
        "r[5] AS close, r[6] AS volume, len(r) AS n_values"
    )
    source = (
        "read_json($path, format = 'array', records = false, compression = 'none', "
        "columns = {'r': 'DOUBLE[]'})"
    )
    params = {"path": str(src.file.real)}
    create(con, "_raw", select, source, params)
    raw = Rows.read(select, source, params, unit="bar", raw=num_text("r[1]"))
    _, _, failing = scan(con, (_SIX_VALUES,), "open_time", "_raw")
    refuse(con, failing, src.file.where, Rows.read(select + ", r", source, params, unit="bar"))
    return _stage(con, raw, src, symbol, src.kind == "funding" or src.hints.funding, "freqtrade-json")
