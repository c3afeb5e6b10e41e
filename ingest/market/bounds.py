"""What an imported market row may hold, and the SQL that reads epoch times and counts into it.

A value outside these bounds is a misread (a wrong unit, a shifted column, a placeholder such as
0 or 9999-12-31) or junk, never a market, so the file is refused at its first such line. Each
bound sits far from any real series so that no real file meets it (docs/market-data.md, "Bounds").
Input is refused loudly rather than read wrongly: a line longer than MAX_LINE_BYTES, an archive
that unpacks past its cap (:mod:`flushwatch.ingest.market.unpack`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from flushwatch.records.symbols import valid_symbol_sql

#: Times: no market data predates Bitcoin (2009-01-03). 2100 is far past any series, and keeps the
#: epoch ranges of seconds, ms, µs and ns apart (see :func:`epoch_sql`).
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
TIME_RANGE = f"{EARLIEST:%Y-%m-%d} .. {LATEST:%Y-%m-%d} UTC"


def in_time_range(col: str) -> str:
    """SQL: the TIMESTAMPTZ ``col`` lies in [EARLIEST, LATEST)."""
    return f"{col} >= TIMESTAMPTZ '{EARLIEST.isoformat()}' AND {col} < TIMESTAMPTZ '{LATEST.isoformat()}'"


def epoch_range(unit: str) -> tuple[int, int]:
    """[lo, hi) of epoch numbers in ``unit`` that fall in [EARLIEST, LATEST)."""
    per_s = 1_000_000 // _EPOCH_UNITS[unit]
    return int(EARLIEST.timestamp()) * per_s, int(LATEST.timestamp()) * per_s


def epoch_unit(value: int) -> str | None:
    """Which of ms and µs places the epoch number ``value`` in [EARLIEST, LATEST) (see
    :func:`epoch_sql`); None for neither."""
    for unit in ("ms", "us"):
        lo, hi = epoch_range(unit)
        if lo <= value < hi:
            return unit
    return None


def epoch_sql(value: str, units: Sequence[str] = ("ms", "us")) -> str:
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
        lo, hi = epoch_range(unit)
        factor = _EPOCH_UNITS[unit]
        if unit == "s":
            exact, us = "", f"CAST(round({value} * {factor}) AS BIGINT)"
        else:
            exact, us = f" AND {value} = trunc({value})", f"CAST({value} AS BIGINT) * {factor}"
        cases.append(f"WHEN {value} >= {lo} AND {value} < {hi}{exact} THEN make_timestamptz({us})")
    return f"(CASE {' '.join(cases)} END)"


def whole(text: str) -> str:
    """Text (or a number) as BIGINT when it is a whole number; NULL otherwise (never rounded:
    TRY_CAST('42.7' AS BIGINT) is 43)."""
    number = f"TRY_CAST({text} AS DOUBLE)"
    return f"(CASE WHEN {number} = trunc({number}) THEN TRY_CAST({text} AS BIGINT) END)"


def count_sql(value: str) -> str:
    """A count read as DOUBLE, as BIGINT; -1 (refused by the trades check) when it is not a
    whole number in [0, MAX_TRADES], so a fraction is not rounded into another count."""
    return (
        f"(CASE WHEN {value} IS NULL THEN NULL WHEN {value} = trunc({value}) AND {value} >= 0 "
        f"AND {value} <= {MAX_TRADES:.0f} THEN CAST({value} AS BIGINT) ELSE -1 END)"
    )


class Check(NamedTuple):
    """A predicate over the stage's columns that marks a bad row, what is wrong, and optionally
    SQL over the re-read rows (:class:`~flushwatch.ingest.market.staging.Rows`) whose value the
    message quotes."""

    pred: str
    what: str
    show: str | None = None


def _time_check(col: str, label: str) -> Check:
    """The time is there and in [EARLIEST, LATEST), whatever unit it was written in: epoch
    readers leave NULL for a number no unit places in range, so both cases land here."""
    return Check(
        f"{col} IS NULL OR NOT ({in_time_range(col)})",
        f"{label} is empty or outside {TIME_RANGE} in every unit the format allows",
        "_raw",
    )


def _amount_check(cols: Sequence[str], label: str, *, optional: bool, positive: bool = False) -> Check:
    """Each of ``cols`` is a finite number in [0, MAX_AMOUNT] (> 0 with ``positive``); NULL is
    allowed when ``optional`` (a field the source lacks) and refused otherwise."""
    low = ">" if positive else ">="
    ok = " AND ".join(f"(isfinite({c}) AND {c} {low} 0 AND {c} <= {MAX_AMOUNT:g})" for c in cols)
    nulls = " OR ".join(f"{c} IS NULL" for c in cols)
    bad = f"NOT coalesce({ok}, true)" if optional else f"{nulls} OR NOT ({ok})"
    sign = "zero, negative" if positive else "negative"
    return Check(
        bad,
        f"{label} is {'' if optional else 'empty, '}{sign}, not a finite number or above {MAX_AMOUNT:g}",
        "concat_ws(', ', " + ", ".join(cols) + ")",
    )


_SYMBOL_CHECK = Check(
    f"symbol IS NULL OR NOT {valid_symbol_sql('symbol')}",
    "no symbol, or not a venue symbol (letters, digits, '_', '-', '.')",
    "symbol",
)
_PRICES = "open, high, low, close"

#: Per table: what a stored row must satisfy. NULLs would otherwise surface as a bare NOT NULL
#: constraint error from the final INSERT.
CHECKS: dict[str, tuple[Check, ...]] = {
    "candles": (
        _time_check("open_time", "open time"),
        Check(
            "open IS NULL OR high IS NULL OR low IS NULL OR close IS NULL",
            "a price (open, high, low or close) is empty",
        ),
        Check(
            "NOT (isfinite(open) AND isfinite(high) AND isfinite(low) AND isfinite(close)) "
            f"OR least({_PRICES}) <= 0",
            "a price is zero, negative or not a finite number",
            f"concat_ws(', ', {_PRICES})",
        ),
        Check(
            f"greatest({_PRICES}) > {MAX_PRICE:g}",
            f"a price is above {MAX_PRICE:g}",
            f"concat_ws(', ', {_PRICES})",
        ),
        Check(
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
        Check(
            f"trades < 0 OR trades > {MAX_TRADES:.0f}",
            f"the trade count is not a whole number from 0 to {MAX_TRADES:g}",
        ),
    ),
    "liquidations": (
        _SYMBOL_CHECK,
        Check("side IS NULL", "side is not BUY or SELL (or long/short)"),
        _time_check("event_time", "time"),
        Check("price IS NULL OR quantity IS NULL", "no price or quantity"),
        Check(
            "NOT (isfinite(price) AND isfinite(quantity)) OR price <= 0 OR quantity <= 0",
            "price or quantity is zero, negative or not a finite number",
            "concat_ws(', ', price, quantity)",
        ),
        Check(f"price > {MAX_PRICE:g}", f"price is above {MAX_PRICE:g}", "price"),
        _amount_check(("quantity",), "quantity", optional=False, positive=True),
        Check("notional_usd IS NULL", "no notional value"),
        _amount_check(("notional_usd",), "notional value", optional=False, positive=True),
    ),
    "funding_rates": (
        _SYMBOL_CHECK,
        _time_check("funding_time", "funding time"),
        Check("rate IS NULL OR NOT isfinite(rate)", "no funding rate, or not a finite number", "rate"),
        Check(
            f"abs(rate) > {MAX_FUNDING_RATE:g}",
            f"funding rate beyond ±{MAX_FUNDING_RATE:g} ({MAX_FUNDING_RATE:.0%}) per interval "
            "(a percentage where a fraction belongs?)",
            "rate",
        ),
        Check(
            f"NOT coalesce(isfinite(mark_price) AND mark_price > 0 AND mark_price <= {MAX_PRICE:g}, true)",
            f"mark price is zero, negative, not a finite number or above {MAX_PRICE:g}",
            "mark_price",
        ),
    ),
    "open_interest": (
        _SYMBOL_CHECK,
        _time_check("ts", "time"),
        Check(
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
HELPER_CHECKS: dict[str, tuple[Check, ...]] = {
    "_close_time": (
        Check(
            "_close_time IS NULL OR _close_time <= open_time",
            "close_time is not a time after the open time",
        ),
    ),
    "_interval_hours": (
        Check(
            "_interval_hours IS NULL OR NOT (_interval_hours = trunc(_interval_hours) "
            "AND _interval_hours BETWEEN 1 AND 24)",
            "funding_interval_hours is not a whole number of hours from 1 to 24",
            "_interval_hours",
        ),
    ),
}
