"""data.binance.vision archive CSVs: klines, funding rates and metrics (open interest).

Their columns are fixed, so DuckDB reads them with explicit types straight into the stage.
"""

from __future__ import annotations

import logging

from flushwatch.ingest.market import sniff
from flushwatch.ingest.market.bounds import count_sql, epoch_sql, epoch_unit
from flushwatch.ingest.market.staging import (
    Reader,
    Source,
    bad_line,
    clip,
    csv_reader,
    meta,
    need,
    num_text,
    read_csv,
)

log = logging.getLogger(__name__)

#: Times and counts are read as DOUBLE, not BIGINT: DuckDB's CSV reader rounds '42.7' into a
#: BIGINT 43 silently, while a DOUBLE keeps the fraction for the checks to refuse.
_KLINE_TYPES = dict.fromkeys(sniff.ARCHIVE_KLINE_COLUMNS, "DOUBLE") | {"ignore": "VARCHAR"}


def klines(src: Source, lines: list[str], noheader: bool) -> Reader:
    """Kline archives; the market and interval, unless named, come from the first data line."""
    f, o, venue = src.file, src.options, src.venue
    symbol = need(src.symbol, "symbol", f)
    first_line = 1 if noheader else 2
    numbered = [(n, ln) for n, ln in enumerate(lines, 1) if n >= first_line and ln.strip()]
    market = o.market or src.hints.market
    interval, origin = (o.interval, "--interval") if o.interval else (src.hints.interval, "the file name")
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
                unit = epoch_unit(ot)
                # A time in no unit's range leaves the interval open: the time check names the line.
                if unit is not None:
                    interval = sniff.millis_to_interval(span // 1000 if unit == "us" else span)
                origin = "close_time - open_time"
        except (ValueError, IndexError) as exc:
            raise bad_line(clip(line.strip(), 80), f.where, n) from exc
    select = f"""$venue::VARCHAR AS venue, $market::VARCHAR AS market, $symbol::VARCHAR AS symbol,
                 $interval::VARCHAR AS interval, {epoch_sql("open_time")} AS open_time,
                 open, high, low, close, volume, quote_volume, {count_sql("count")} AS trades,
                 taker_buy_volume, taker_buy_quote_volume, {epoch_sql("close_time")} AS _close_time"""
    return csv_reader(
        read_csv(_KLINE_TYPES, header=not noheader, quoted=True),
        select,
        {"venue": venue, "market": market, "symbol": symbol, "interval": interval, "path": str(f.real)},
        meta("binance-archive", venue, symbol, market, interval),
        raw=num_text("open_time"),
        first_line=first_line,
        origin=origin,
        helpers=("_close_time",),
    )


def funding(src: Source, noheader: bool) -> Reader:
    """``BTCUSDT-fundingRate-2024-01.csv``: calc_time (ms), hours, rate."""
    f, venue = src.file, src.venue
    symbol = need(src.symbol, "symbol", f)
    select = f"""$venue::VARCHAR AS venue, $symbol::VARCHAR AS symbol,
                 date_trunc('second', {epoch_sql("calc_time")}) AS funding_time,
                 last_funding_rate AS rate, NULL::DOUBLE AS mark_price,
                 funding_interval_hours AS _interval_hours"""
    columns = dict.fromkeys(("calc_time", "funding_interval_hours", "last_funding_rate"), "DOUBLE")
    return csv_reader(
        read_csv(columns, header=not noheader),
        select,
        {"venue": venue, "symbol": symbol, "path": str(f.real)},
        meta("binance-funding", venue, symbol, "perp", None),
        raw=num_text("calc_time"),
        first_line=1 if noheader else 2,
        helpers=("_interval_hours",),
    )


def metrics(src: Source) -> Reader:
    """``BTCUSDT-metrics-2024-01-01.csv`` (5-minute open interest)."""
    select = """$venue::VARCHAR AS venue, upper(symbol) AS symbol, '5m' AS interval,
                create_time AS ts, sum_open_interest AS open_interest,
                sum_open_interest_value AS open_interest_usd"""
    columns = {
        "create_time": "TIMESTAMPTZ",
        "symbol": "VARCHAR",
        "sum_open_interest": "DOUBLE",
        "sum_open_interest_value": "DOUBLE",
    } | dict.fromkeys(("c1", "c2", "c3", "c4"), "VARCHAR")
    # No null_padding: a short line is a truncated one (its last number may be cut short too).
    return csv_reader(
        read_csv(columns),
        select,
        {"venue": src.venue, "path": str(src.file.real)},
        meta("binance-metrics", src.venue, None, "perp", "5m"),
        raw="create_time",
    )
