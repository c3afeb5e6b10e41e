"""``flushwatch market fetch``: Binance public REST -> candles, funding, open interest.

Incremental by construction: for every series the missing stretches of the wanted window are
computed in SQL (:func:`flushwatch.storage.market.missing_ranges`) and only those are
requested, page by page (1,500 perp / 1,000 spot klines per call). Each page is stored in its
own short transaction, so an interrupted fetch keeps what it got and the next run resumes.
One failing series is reported and the others go on, except when a host cannot be reached at
all (no network, DNS, refused): the series that need it are then reported as not attempted
instead of each spending its own retries (a cron run without network took six minutes).

Open interest history (5m) is only kept by Binance for 30 days; older windows are clipped.
A stretch the exchange has no bars for (maintenance) comes back empty and is re-asked next
run; that costs one request per stretch.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flushwatch.errors import ConfigError, MarketDataError
from flushwatch.ingest.market.binance_rest import BinanceClient, fapi_url, klines_weight, spot_url
from flushwatch.records.market import FetchSummary, Gap, SeriesFetch
from flushwatch.records.symbols import normalise_symbol
from flushwatch.storage import market as store
from flushwatch.storage.db import Database

log = logging.getLogger(__name__)

#: Top USD-M perpetuals by open interest; override with [market] symbols in the config file
#: or FLUSHWATCH_MARKET_SYMBOLS=BTCUSDT,ETHUSDT.
DEFAULT_SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "BNBUSDT", "DOGEUSDT")
DATASETS = ("klines", "funding", "open_interest")
MARKETS = ("perp", "spot")
OI_RETENTION = dt.timedelta(days=30)
VENUE = "binance"

_MS = dt.timedelta(milliseconds=1)
_MINUTE = dt.timedelta(minutes=1)


def default_symbols() -> list[str]:
    """Watch-list: FLUSHWATCH_MARKET_SYMBOLS, else config [market] symbols, else DEFAULT_SYMBOLS."""
    env = os.environ.get("FLUSHWATCH_MARKET_SYMBOLS")
    if env:
        return [normalise_symbol(s) for s in env.split(",") if s.strip()]
    from flushwatch.config import load_settings

    configured = load_settings().extra.get("market", {}).get("symbols")
    if configured:
        if not isinstance(configured, list):
            raise ConfigError('[market] symbols must be a list of symbols, e.g. ["BTCUSDT"]')
        return [normalise_symbol(str(s)) for s in configured]
    return list(DEFAULT_SYMBOLS)


@dataclass(frozen=True)
class MarketFetchOptions:
    symbols: tuple[str, ...]
    since: dt.timedelta = dt.timedelta(hours=24)
    markets: tuple[str, ...] = MARKETS
    datasets: tuple[str, ...] = DATASETS
    fapi: str | None = None
    spot: str | None = None
    now: dt.datetime | None = None  # tests pin "now"


def _ms(t: dt.datetime) -> int:
    return int(t.timestamp() * 1000)


def _from_ms(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def fetch(
    db: Database,
    options: MarketFetchOptions,
    *,
    run_id: int | None = None,
    sleep: Callable[[float], None] | None = None,
) -> FetchSummary:
    """Fetch every (dataset, market, symbol) series of ``options``; returns what each did."""
    for m in options.markets:
        if m not in MARKETS:
            raise ConfigError(f"--markets {m!r}: expected perp and/or spot")
    for d in options.datasets:
        if d not in DATASETS:
            raise ConfigError(f"--datasets {d!r}: expected {', '.join(DATASETS)}")
    now = (options.now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    start = (now - options.since).replace(second=0, microsecond=0)
    end = now.replace(second=0, microsecond=0) - _MINUTE  # the last closed 1m bar
    kwargs: dict[str, Any] = {"fapi": fapi_url(options.fapi), "spot": spot_url(options.spot)}
    if sleep is not None:
        kwargs["sleep"] = sleep
    with BinanceClient(**kwargs) as client:
        jobs = _jobs(db, client, options, start, end, now, run_id)
        results = _run_all(client, jobs)
    summary = FetchSummary(tuple(results))
    log.info("market fetch: %s", summary)
    return summary


@dataclass(frozen=True)
class _Job:
    """One series to fetch, and which API host it needs (so an unreachable host skips it)."""

    dataset: str
    market: str
    symbol: str
    api: str  # fapi | spot
    body: Callable[[], tuple[int, int]]


def _jobs(
    db: Database,
    client: BinanceClient,
    options: MarketFetchOptions,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    run_id: int | None,
) -> list[_Job]:
    """Every series of ``options``, in fetch order: per symbol klines, funding, open interest."""
    jobs: list[_Job] = []
    for symbol in options.symbols:
        if "klines" in options.datasets:
            for market in options.markets:
                api = "fapi" if market == "perp" else "spot"
                body = functools.partial(_klines, db, client, market, symbol, start, end, run_id)
                jobs.append(_Job("klines", market, symbol, api, body))
        if "perp" in options.markets:
            if "funding" in options.datasets:
                body = functools.partial(_funding, db, client, symbol, start, now, run_id)
                jobs.append(_Job("funding", "perp", symbol, "fapi", body))
            if "open_interest" in options.datasets:
                body = functools.partial(_open_interest, db, client, symbol, start, now, run_id)
                jobs.append(_Job("open_interest", "perp", symbol, "fapi", body))
    return jobs


def _run_all(client: BinanceClient, jobs: list[_Job]) -> list[SeriesFetch]:
    """Run each job, except those whose host was found unreachable: without network every
    series would spend its own ~15 s of retries. The skipped ones are listed in one log line
    and reported as failed (not attempted), so the exit code still says data is missing."""
    results: list[SeriesFetch] = []
    skipped: list[str] = []
    for job in jobs:
        why = client.unreachable(job.api)
        if why is not None:
            skipped.append(f"{job.dataset} {job.market} {job.symbol}")
            results.append(
                SeriesFetch(
                    job.dataset, job.market, job.symbol, 0, 0, 0, f"not attempted: host unreachable ({why})"
                )
            )
            continue
        results.append(_run(client, job.dataset, job.market, job.symbol, job.body))
    if skipped:
        shown = ", ".join(skipped[:4]) + (f", and {len(skipped) - 4} more" if len(skipped) > 4 else "")
        log.error("binance unreachable: %d of %d series not attempted (%s)", len(skipped), len(jobs), shown)
    return results


def fetch_market(db: Database, *, run_id: int | None = None) -> FetchSummary:
    """The cron step (``flushwatch run``): the watch-list, last 24 h, everything."""
    return fetch(db, MarketFetchOptions(symbols=tuple(default_symbols())), run_id=run_id)


def _run(
    client: BinanceClient, dataset: str, market: str, symbol: str, body: Callable[[], tuple[int, int]]
) -> SeriesFetch:
    before = client.requests
    try:
        rows, gaps = body()
    except MarketDataError as exc:
        log.error("%s %s %s: %s", dataset, market, symbol, exc.one_line())
        return SeriesFetch(dataset, market, symbol, client.requests - before, 0, 0, exc.one_line())
    return SeriesFetch(dataset, market, symbol, client.requests - before, rows, gaps)


def _gaps(
    db: Database, table: str, where: dict[str, str], interval: str, start: dt.datetime, end: dt.datetime
) -> list[Gap]:
    if end < start:
        return []
    with db.read() as con:
        return store.missing_ranges(con, table=table, where=where, interval=interval, start=start, end=end)


# -- klines --------------------------------------------------------------------------------------


def _klines(
    db: Database,
    client: BinanceClient,
    market: str,
    symbol: str,
    start: dt.datetime,
    end: dt.datetime,
    run_id: int | None,
) -> tuple[int, int]:
    api, path, limit = (
        ("fapi", "/fapi/v1/klines", 1500) if market == "perp" else ("spot", "/api/v3/klines", 1000)
    )
    gaps = _gaps(db, "candles", {"venue": VENUE, "market": market, "symbol": symbol}, "1m", start, end)
    added = 0
    for gap in gaps:
        cursor = gap.start
        while cursor <= gap.end:
            page = client.get(
                api,
                path,
                {
                    "symbol": symbol,
                    "interval": "1m",
                    "startTime": _ms(cursor),
                    "endTime": _ms(gap.end + _MINUTE - _MS),
                    "limit": limit,
                },
                weight=klines_weight(api, limit),
            )
            if not isinstance(page, list):
                raise MarketDataError(path, f"expected a JSON array of klines, got {type(page).__name__}")
            if not page:
                break
            added += _store_klines(db, page, market, symbol, run_id)
            cursor = _from_ms(int(page[-1][0])) + _MINUTE
            if len(page) < limit:
                break
    return added, len(gaps)


def _store_klines(db: Database, page: list[Any], market: str, symbol: str, run_id: int | None) -> int:
    import pyarrow as pa

    try:
        cols = list(zip(*page, strict=False))
        table = pa.table(
            {
                "open_time": pa.array(cols[0], pa.int64()),
                "open": pa.array([float(x) for x in cols[1]]),
                "high": pa.array([float(x) for x in cols[2]]),
                "low": pa.array([float(x) for x in cols[3]]),
                "close": pa.array([float(x) for x in cols[4]]),
                "volume": pa.array([float(x) for x in cols[5]]),
                "quote_volume": pa.array([float(x) for x in cols[7]]),
                "trades": pa.array(cols[8], pa.int64()),
                "taker_buy_volume": pa.array([float(x) for x in cols[9]]),
                "taker_buy_quote_volume": pa.array([float(x) for x in cols[10]]),
            }
        )
    except (IndexError, TypeError, ValueError) as exc:
        raise MarketDataError("klines", f"unexpected kline row shape: {exc}") from exc
    select = """
        SELECT $venue::VARCHAR AS venue, $market::VARCHAR AS market, $symbol::VARCHAR AS symbol,
               '1m' AS interval, make_timestamptz(open_time * 1000) AS open_time,
               open, high, low, close,
               volume, quote_volume, trades, taker_buy_volume, taker_buy_quote_volume
          FROM _page"""
    return _insert(db, "candles", table, select, {"venue": VENUE, "market": market, "symbol": symbol}, run_id)


def _insert(
    db: Database, table: str, page: Any, select: str, params: dict[str, Any], run_id: int | None
) -> int:
    """One page (an Arrow table, as ``_page``) through ``select`` into ``table``; returns rows added."""
    with db.write() as con:
        con.register("_page", page)
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE _stage AS {select}", params)
            return store.insert_new(con, table, "_stage", run_id)
        finally:
            con.unregister("_page")
            con.execute("DROP TABLE IF EXISTS _stage")


# -- funding -------------------------------------------------------------------------------------


def _funding(
    db: Database, client: BinanceClient, symbol: str, start: dt.datetime, now: dt.datetime, run_id: int | None
) -> tuple[int, int]:
    """Funding prints are irregular (8h, 4h or 1h by symbol), so 'missing' = before the first
    stored print or after the last one inside the window."""
    with db.read() as con:
        row = con.execute(
            "SELECT min(funding_time), max(funding_time) FROM funding_rates WHERE venue = ? AND symbol = ? "
            "AND funding_time BETWEEN ? AND ?",
            [VENUE, symbol, start, now],
        ).fetchone()
    lo: dt.datetime | None = row[0] if row else None
    hi: dt.datetime | None = row[1] if row else None
    ranges: list[tuple[dt.datetime, dt.datetime]] = [(start, now)]
    if lo is not None and hi is not None:
        ranges = [(start, lo - _MS), (hi + dt.timedelta(seconds=1), now)]
    added = 0
    for a, b in ranges:
        cursor = a
        while cursor < b:
            page = client.get(
                "fapi",
                "/fapi/v1/fundingRate",
                {"symbol": symbol, "startTime": _ms(cursor), "endTime": _ms(b), "limit": 1000},
            )
            if not isinstance(page, list) or not page:
                break
            added += _store_json(
                db,
                "funding_rates",
                page,
                run_id,
                """
                SELECT $venue::VARCHAR AS venue, upper(symbol) AS symbol,
                       date_trunc('second', make_timestamptz(fundingTime::BIGINT * 1000)) AS funding_time,
                       fundingRate::DOUBLE AS rate, TRY_CAST(markPrice AS DOUBLE) AS mark_price
                  FROM _page""",
            )
            cursor = _from_ms(int(page[-1]["fundingTime"])) + dt.timedelta(seconds=1)
            if len(page) < 1000:
                break
    return added, len([r for r in ranges if r[0] < r[1]])


def _store_json(db: Database, table: str, page: list[dict[str, Any]], run_id: int | None, select: str) -> int:
    import pyarrow as pa

    keys = sorted({k for row in page for k in row})
    arrow = pa.table(
        {
            k: pa.array([None if row.get(k) is None else str(row.get(k)) for row in page], pa.string())
            for k in keys
        }
    )
    return _insert(db, table, arrow, select, {"venue": VENUE}, run_id)


# -- open interest -------------------------------------------------------------------------------


def _open_interest(
    db: Database, client: BinanceClient, symbol: str, start: dt.datetime, now: dt.datetime, run_id: int | None
) -> tuple[int, int]:
    step = dt.timedelta(minutes=5)
    floor = now - OI_RETENTION + step
    first = max(start, floor)
    first = first - dt.timedelta(
        minutes=first.minute % 5, seconds=first.second, microseconds=first.microsecond
    )
    if first < floor:
        first += step
    last = now.replace(second=0, microsecond=0)
    last -= dt.timedelta(minutes=last.minute % 5) + step  # the last complete 5m point
    gaps = _gaps(db, "open_interest", {"venue": VENUE, "symbol": symbol}, "5m", first, last)
    added = 0
    for gap in gaps:
        cursor = gap.start
        while cursor <= gap.end:
            page = client.get(
                "fapi",
                "/futures/data/openInterestHist",
                {
                    "symbol": symbol,
                    "period": "5m",
                    "startTime": _ms(cursor),
                    "endTime": _ms(gap.end),
                    "limit": 500,
                },
            )
            if not isinstance(page, list) or not page:
                break
            added += _store_json(
                db,
                "open_interest",
                page,
                run_id,
                """
                SELECT $venue::VARCHAR AS venue, upper(symbol) AS symbol, '5m' AS interval,
                       make_timestamptz(timestamp::BIGINT * 1000) AS ts,
                       sumOpenInterest::DOUBLE AS open_interest, TRY_CAST(sumOpenInterestValue AS DOUBLE)
                           AS open_interest_usd
                  FROM _page""",
            )
            cursor = _from_ms(int(page[-1]["timestamp"])) + step
            if len(page) < 500:
                break
    return added, len(gaps)


__all__: Sequence[str] = (
    "DEFAULT_SYMBOLS",
    "MarketFetchOptions",
    "default_symbols",
    "fetch",
    "fetch_market",
)
