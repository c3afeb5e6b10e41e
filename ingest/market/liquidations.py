"""Liquidation files: CSV logs of forceOrder events, and the venues' stream messages as JSON.

Sides are stored as the position that was liquidated: a forced SELL closes a long.
"""

from __future__ import annotations

from flushwatch.errors import InputError
from flushwatch.ingest.market.bounds import epoch_sql, whole
from flushwatch.ingest.market.staging import (
    UNNEST,
    WHAT,
    Connection,
    Reader,
    Rows,
    Source,
    Staged,
    check_values,
    create,
    csv_reader,
    meta,
    read_csv,
)

#: (label, column) of the numbers in a message that must convert.
_NUMBERS = (("ap", "ap"), ("p", "p"), ("z", "z"), ("q (Bybit v)", "q"))


def log_reader(src: Source) -> Reader:
    """CSV logs of forceOrder events: SELL = a long was liquidated, BUY = a short.

    ``timestamp`` is read as TIMESTAMPTZ, so a zone offset (``+02:00``) is honoured; one without
    a zone is UTC (the sessions run in UTC).
    """
    select = """$venue::VARCHAR AS venue, upper(symbol) AS symbol,
                CASE upper(side) WHEN 'SELL' THEN 'long' WHEN 'BUY' THEN 'short' END AS side,
                avg_price AS price, filled_qty AS quantity,
                coalesce(usd_value, avg_price * filled_qty) AS notional_usd,
                timestamp AS event_time, NULL::TIMESTAMPTZ AS receive_time, 'import' AS source"""
    columns = {"timestamp": "TIMESTAMPTZ", "symbol": "VARCHAR", "side": "VARCHAR"} | dict.fromkeys(
        ("avg_price", "filled_qty", "usd_value"), "DOUBLE"
    )
    return csv_reader(
        read_csv(columns),
        select,
        {"venue": src.venue, "path": str(src.file.real)},
        meta("liquidation-log", src.venue, None, "perp", None),
        raw="timestamp",
    )


def stage_messages(con: Connection, src: Source, unit: str) -> Staged:
    """Binance ``forceOrder`` messages (bare or combined-stream wrapped) and Bybit ``allLiquidation``,
    from ``_obj(_line, j)``.

    Binance: ``o.S`` is the forced order's side (SELL closes a long); price = ``o.ap`` (average),
    quantity = ``o.z`` (filled), time = ``o.T`` (trade time). Bybit: ``S`` is the *position*
    side (Buy = a long was liquidated). Other messages (a combined stream's other channels) are
    skipped, but a file with none of these is refused: it is not a liquidation dump.
    """
    con.execute(
        f"""
        CREATE TEMP TABLE _liq AS
        WITH msgs AS (SELECT _line, {UNNEST} AS m FROM _obj),
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
            path=src.file.where,
            hint="expected Binance !forceOrder@arr payloads or Bybit allLiquidation messages",
        )
    source = """(SELECT _line, venue, s, side, t,
                        coalesce(nullif(TRY_CAST(ap AS DOUBLE), 0), TRY_CAST(p AS DOUBLE)) AS price,
                        coalesce(TRY_CAST(z AS DOUBLE), TRY_CAST(q AS DOUBLE)) AS quantity
                   FROM _liq)"""
    select = f"""venue, upper(s) AS symbol, side, price, quantity, price * quantity AS notional_usd,
                {epoch_sql(whole("t"), ("ms",))} AS event_time,
                NULL::TIMESTAMPTZ AS receive_time, 'import' AS source"""
    rows = Rows.table(select, source, {}, unit, raw="t")
    numbers = [(label, col, f"TRY_CAST({col} AS DOUBLE)", WHAT["DOUBLE"]) for label, col in _NUMBERS]
    check_values(con, "_liq", [*numbers, ("T", "t", whole("t"), WHAT["BIGINT"])], rows, src.file.where)
    create(con, "_stage", select, source, {})
    venues = con.execute("SELECT DISTINCT venue FROM _stage").fetchall()
    venue = venues[0][0] if len(venues) == 1 else src.venue
    return Staged(meta("liquidation-json", venue, None, "perp", None), rows)
