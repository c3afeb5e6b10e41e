"""Market tables: idempotent bulk inserts, gap finding and resampling, all in SQL.

The market tables have no index constraints (see storage/sql/30_market.sql), so every insert
here is an anti-join on the table's natural key, run inside the caller's write transaction.
Callers stage rows in a TEMP table shaped like the target (minus ``run_id``) and call one
``insert_*`` function; it de-duplicates the stage itself too, and returns the rows added.
Restricting the probe to the stage's time range lets DuckDB skip row groups by zone map.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from typing import Any

import duckdb

from flushwatch.errors import ConfigError
from flushwatch.records.market import Gap

Connection = duckdb.DuckDBPyConnection

#: Natural keys (see storage/sql/30_market.sql).
KEYS: dict[str, tuple[str, ...]] = {
    "candles": ("venue", "market", "symbol", "interval", "open_time"),
    "liquidations": ("venue", "symbol", "event_time", "side", "price", "quantity"),
    "funding_rates": ("venue", "symbol", "funding_time"),
    "open_interest": ("venue", "symbol", "interval", "ts"),
}
TIME_COLUMN = {
    "candles": "open_time",
    "liquidations": "event_time",
    "funding_rates": "funding_time",
    "open_interest": "ts",
}

_INTERVAL_RE = re.compile(r"^(\d+)([smhdw])$")
_UNIT_SQL = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week"}
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def interval_seconds(interval: str) -> int:
    """'1m' -> 60, '4h' -> 14400. Raises ConfigError for anything else."""
    m = _INTERVAL_RE.match(interval.strip())
    if not m:
        raise ConfigError(f"interval {interval!r}: expected e.g. 1m, 5m, 15m, 1h, 8h, 1d")
    return int(m.group(1)) * _UNIT_S[m.group(2)]


def interval_sql(interval: str) -> str:
    """'15m' -> "INTERVAL 15 minute" (validated, safe to splice into SQL)."""
    m = _INTERVAL_RE.match(interval.strip())
    if not m:
        raise ConfigError(f"interval {interval!r}: expected e.g. 1m, 5m, 15m, 1h, 8h, 1d")
    return f"INTERVAL {int(m.group(1))} {_UNIT_SQL[m.group(2)]}"


def interval_name(seconds: int) -> str:
    """60 -> '1m', 3600 -> '1h', 28800 -> '8h': the canonical name for a bar length."""
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_S[unit]
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def insert_new(con: Connection, table: str, stage: str, run_id: int | None) -> int:
    """Append the stage's rows whose natural key ``table`` lacks; returns rows added.

    ``stage`` must have the target's columns except ``run_id``, in order. Duplicate keys inside
    the stage keep their first row.
    """
    keys = KEYS[table]
    tcol = TIME_COLUMN[table]
    found = con.execute(
        f"SELECT min({tcol}), max({tcol}), count(*), count(DISTINCT {tcol}) FROM {stage}"
    ).fetchall()
    bounds = found[0] if found else None
    if not bounds or not bounds[2]:
        return 0
    lo, hi, n, n_times = bounds
    before = _count(con, table)
    join = " AND ".join(f"t.{k} = s.{k}" for k in keys)
    # Distinct times imply distinct keys; only a stage that repeats a time pays for DISTINCT ON
    # (a hash over every column: ~8x the cost of the count above on 2M candles).
    source = stage if n == n_times else f"(SELECT DISTINCT ON ({', '.join(keys)}) * FROM {stage})"
    con.execute(
        f"""
        INSERT INTO {table}
        SELECT s.*, $run_id
          FROM {source} s
         WHERE NOT EXISTS (
                 SELECT 1 FROM {table} t
                  WHERE t.{tcol} BETWEEN $lo AND $hi  -- zone maps: only the touched range
                    AND {join})
        """,
        {"run_id": run_id, "lo": lo, "hi": hi},
    )
    added = _count(con, table) - before
    if added:
        _note_changes(con, table, stage, run_id)
    return added


def _note_changes(con: Connection, table: str, stage: str, run_id: int | None) -> None:
    """List in ``market_changes`` the stage's (venue, symbol) time ranges that reach back to
    or before a detected series' watermark, so the next incremental detect re-examines them.

    Rows newer than every watermark of their symbol (the live case: the recorder, an
    incremental fetch) are not listed; detect reaches them anyway. The stage's range is a
    superset of the rows actually added, which can only make detect re-examine a little more.
    """
    tcol = TIME_COLUMN[table]
    con.execute(
        f"""
        INSERT INTO market_changes
        SELECT $tbl, s.venue, s.symbol, min(s.{tcol}), max(s.{tcol}), $run_id, now()
          FROM {stage} s
         GROUP BY s.venue, s.symbol
        HAVING min(s.{tcol}) <= (SELECT max(d.watermark) FROM detector_state d
                                  WHERE d.symbol = s.symbol)
        """,
        {"tbl": table, "run_id": run_id},
    )


def _count(con: Connection, table: str) -> int:
    rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()  # fetchall: leave no open result
    return int(rows[0][0]) if rows else 0


def insert_liquidations_arrow(con: Connection, batch: Any, run_id: int | None) -> int:
    """Insert a pyarrow table of liquidations (the recorder's batch) idempotently."""
    con.register("_liq_batch", batch)
    try:
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _liq_stage AS
            SELECT venue, symbol, side, price, quantity, notional_usd,
                   event_time::TIMESTAMPTZ AS event_time, receive_time::TIMESTAMPTZ AS receive_time,
                   source
              FROM _liq_batch
            """
        )
        return insert_new(con, "liquidations", "_liq_stage", run_id)
    finally:
        # After a failed statement the transaction is aborted and this cleanup would fail too,
        # hiding the real error; the rollback drops the temp table anyway.
        with contextlib.suppress(duckdb.Error):
            con.unregister("_liq_batch")
            con.execute("DROP TABLE IF EXISTS _liq_stage")


def missing_ranges(
    con: Connection,
    *,
    table: str = "candles",
    where: dict[str, str],
    interval: str,
    start: dt.datetime,
    end: dt.datetime,
) -> list[Gap]:
    """Stretches of [start, end] (bar open times, inclusive) with no row, computed in SQL.

    The sentinels one step before ``start`` and after ``end`` make the leading and trailing
    stretches come out as ordinary gaps.
    """
    tcol = TIME_COLUMN[table]
    step = interval_sql(interval)
    cond = " AND ".join(f"{k} = ${k}" for k in where)
    rows = con.execute(
        f"""
        WITH t AS (
            SELECT DISTINCT {tcol} AS ts FROM {table}
             WHERE {cond} {"AND interval = $interval" if table in ("candles", "open_interest") else ""}
               AND {tcol} BETWEEN $start AND $end
            UNION ALL SELECT $start - {step}
            UNION ALL SELECT $end + {step}
        ), d AS (
            SELECT ts, lag(ts) OVER (ORDER BY ts) AS prev FROM t
        )
        SELECT prev + {step} AS gap_start, ts - {step} AS gap_end
          FROM d
         WHERE prev IS NOT NULL AND ts - prev > {step}
         ORDER BY gap_start
        """,
        {**where, "interval": interval, "start": start, "end": end},
    ).fetchall()
    return [Gap(r[0], r[1]) for r in rows]


def resample_sql(target_interval: str) -> str:
    """SQL resampling stored candles to ``target_interval`` (e.g. 1m -> 5m / 15m / 1h).

    Parameters: $venue, $market, $symbol, $interval (the stored source interval), $start, $end.
    Open is the first bar's open, close the last bar's close, high/low the extremes, volumes
    summed; ``bars`` counts the source bars in the bucket so callers can drop partial ones
    (``complete`` is TRUE when none is missing). Buckets start on UTC multiples of the target.
    """
    step = interval_sql(target_interval)
    return f"""
        SELECT venue, market, symbol, '{target_interval}' AS interval,
               time_bucket({step}, open_time) AS open_time,
               arg_min(open, open_time)  AS open,
               max(high)                 AS high,
               min(low)                  AS low,
               arg_max(close, open_time) AS close,
               sum(volume)               AS volume,
               sum(quote_volume)         AS quote_volume,
               sum(trades)               AS trades,
               sum(taker_buy_volume)     AS taker_buy_volume,
               sum(taker_buy_quote_volume) AS taker_buy_quote_volume,
               count(*)                  AS bars,
               count(*) = epoch({step}) / epoch(min(interval_step)) AS complete
          FROM (SELECT *, CASE interval
                             WHEN '1m' THEN INTERVAL 1 minute WHEN '3m' THEN INTERVAL 3 minute
                             WHEN '5m' THEN INTERVAL 5 minute WHEN '15m' THEN INTERVAL 15 minute
                             WHEN '30m' THEN INTERVAL 30 minute WHEN '1h' THEN INTERVAL 1 hour
                             WHEN '4h' THEN INTERVAL 4 hour WHEN '1d' THEN INTERVAL 1 day END AS interval_step
                  FROM candles
                 WHERE venue = $venue AND market = $market AND symbol = $symbol AND interval = $interval
                   AND open_time >= $start AND open_time < $end)
         GROUP BY ALL
         ORDER BY open_time
    """


def resample(
    con: Connection,
    *,
    venue: str,
    market: str,
    symbol: str,
    source_interval: str,
    target_interval: str,
    start: dt.datetime,
    end: dt.datetime,
) -> list[tuple[Any, ...]]:
    """Rows of :func:`resample_sql` for one series and window [start, end)."""
    if interval_seconds(target_interval) % interval_seconds(source_interval):
        raise ConfigError(f"cannot resample {source_interval} bars to {target_interval}")
    return con.execute(
        resample_sql(target_interval),
        {
            "venue": venue,
            "market": market,
            "symbol": symbol,
            "interval": source_interval,
            "start": start,
            "end": end,
        },
    ).fetchall()


def record_gap(
    con: Connection,
    *,
    venue: str,
    stream: str,
    start: dt.datetime,
    end: dt.datetime | None,
    reason: str,
    run_id: int | None,
) -> None:
    con.execute(
        "INSERT INTO coverage_gaps VALUES (?, ?, ?, ?, ?, ?)", [venue, stream, start, end, reason, run_id]
    )
