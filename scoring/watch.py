"""The live view behind ``flushwatch watch``: one read-only frame at a time.

A frame is read in one short read-only session (the file is free again before the frame is
drawn), so ``watch`` never keeps ``ingest --loop`` or the liquidation recorder waiting. When
asked, each tick first runs one pass of the pipeline (:mod:`flushwatch.jobs.run`),
whose steps each hold the file for short transactions only.

``now`` can be pinned to replay history (``--at``): the frame then shows what was known at
that instant, headlines by the time a live poller would have seen them.

The frame also sums the liquidations of the last :data:`LIQ_WINDOW_MIN` minutes per venue and
symbol (whoever records them: ``liquidations record`` in another process, or ``watch --record``
in this one), and :func:`render_frame` can add the live recorder's state lines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flushwatch.scoring.thresholds import bar_minutes_sql
from flushwatch.storage.db import Connection, Database

#: How far back a flush counts as "in progress or just over".
ACTIVE_FLUSH_MIN = 180
#: Liquidations summed per venue and symbol over this many minutes before `now`.
LIQ_WINDOW_MIN = 15


@dataclass(frozen=True)
class WatchHeadline:
    at: dt.datetime
    headline_id: int
    title: str
    source: str
    importance: float | None
    sentiment: str | None


@dataclass(frozen=True)
class WatchCatalyst:
    rank: int
    title: str
    score: float
    is_coverage: bool


@dataclass(frozen=True)
class WatchFlush:
    flush_id: int
    asset: str
    direction: str
    start_at: dt.datetime
    #: From the start to the extreme of the bars closed by the frame's time (not the whole flush).
    extreme_move_pct: float | None
    severity: float | None  # None while the flush is still forming at the frame's time
    catalysts: tuple[WatchCatalyst, ...]


@dataclass(frozen=True)
class WatchLiquidations:
    venue: str
    symbol: str
    events: int
    notional_usd: float
    long_usd: float  # liquidated longs (forced sells)
    newest: dt.datetime


@dataclass(frozen=True)
class Frame:
    now: dt.datetime
    headlines: tuple[WatchHeadline, ...]
    flushes: tuple[WatchFlush, ...]
    latest_candle: dt.datetime | None
    liquidations: tuple[WatchLiquidations, ...] = ()


_HTIME = """CASE WHEN h.origin = 'feed' OR h.published_at IS NULL OR h.time_flag IS NOT NULL
                 THEN h.first_seen_at ELSE h.published_at END"""


def frame_in(con: Connection, now: dt.datetime, *, min_importance: float = 40.0, limit: int = 12) -> Frame:
    rows = con.execute(
        f"""
        WITH h AS (  -- the most recent day is enough for a screenful of latest headlines
            SELECT * FROM (
                SELECT h.headline_id, h.title, h.source, {_HTIME} AS t FROM headlines h
                 WHERE h.first_seen_at BETWEEN $now - INTERVAL 3 DAY AND $now
                    OR h.published_at BETWEEN $now - INTERVAL 3 DAY AND $now)
             WHERE t <= $now
        ),
        s AS (
            SELECT * FROM headline_scores WHERE headline_id IN (SELECT headline_id FROM h)
            QUALIFY row_number() OVER (PARTITION BY headline_id
                                       ORDER BY scored_at DESC, model_revision DESC) = 1
        )
        SELECT h.t, h.headline_id, h.title, h.source, s.importance, s.sentiment
          FROM h LEFT JOIN s USING (headline_id)
         WHERE h.t <= $now AND (s.importance IS NULL OR s.importance >= $imp)
         ORDER BY h.t DESC, h.headline_id DESC
         LIMIT $limit
        """,
        {"now": now, "imp": min_importance, "limit": limit},
    ).fetchall()
    flushes = []
    for fid, asset, direction, start, move, sev in con.execute(
        f"""
        WITH f AS (
            SELECT *, to_minutes(CAST({bar_minutes_sql("interval", otherwise=1)} AS BIGINT)) AS bar
              FROM flushes
        )
        SELECT flush_id, asset, direction, start_at,
               -- the move so far, from bars closed by `now`: a replay shows no later price
               (SELECT CASE WHEN f.direction = 'long_flush' THEN min(c.low) ELSE max(c.high) END
                       / arg_min(c.open, c.open_time) * 100 - 100
                  FROM candles c
                 WHERE (c.venue, c.market, c.symbol, c.interval) = (f.venue, f.market, f.symbol, f.interval)
                   AND c.open_time >= f.start_at AND c.open_time < f.end_at AND c.open_time + f.bar <= $now),
               CASE WHEN f.end_at <= $now THEN severity END
          FROM f
         -- shown once detectable: its first flagged bar (opening at trigger_at) has closed by `now`
         WHERE trigger_at + bar <= $now AND start_at >= $now - to_minutes(CAST($active AS BIGINT))
         ORDER BY start_at DESC, flush_id
        """,
        {"now": now, "active": ACTIVE_FLUSH_MIN},
    ).fetchall():
        # Only catalysts a trader could have seen by `now` (replay shows the ranking as it formed).
        cats = con.execute(
            """
            SELECT row_number() OVER (ORDER BY c.is_coverage, c.rank), h.title, c.score, c.is_coverage
              FROM catalysts c JOIN headlines h USING (headline_id)
             WHERE c.flush_id = ? AND c.headline_time <= ?
            QUALIFY c.attribution_version = max(c.attribution_version) OVER ()
             ORDER BY c.is_coverage, c.rank LIMIT 5
            """,
            [fid, now],
        ).fetchall()
        flushes.append(
            WatchFlush(fid, asset, direction, start, move, sev, tuple(WatchCatalyst(*c) for c in cats))
        )
    latest = con.execute("SELECT max(open_time) FROM candles WHERE open_time <= ?", [now]).fetchone()
    liqs = con.execute(
        """
        SELECT venue, symbol, count(*), sum(notional_usd),
               coalesce(sum(notional_usd) FILTER (WHERE side = 'long'), 0), max(event_time)
          FROM liquidations
         WHERE event_time > $now - to_minutes(CAST($window AS BIGINT)) AND event_time <= $now
         GROUP BY venue, symbol
         ORDER BY sum(notional_usd) DESC, venue, symbol
         LIMIT 8
        """,
        {"now": now, "window": LIQ_WINDOW_MIN},
    ).fetchall()
    return Frame(
        now,
        tuple(WatchHeadline(*r) for r in rows),
        tuple(flushes),
        latest[0] if latest else None,
        tuple(WatchLiquidations(*r) for r in liqs),
    )


def read_frame(
    db: Database, now: dt.datetime | None = None, *, writable: bool = False, **kwargs: float
) -> Frame:
    """One frame, in one short session.

    Read-only, unless ``writable``: ``watch --record`` writes from a thread of this same process,
    and DuckDB refuses a read-only connection to a file the process already has open read-write
    (and the reverse). Either kind blocks other processes only for the frame's few milliseconds.
    """
    now = now or dt.datetime.now(dt.UTC)
    with db.connection(read_only=not writable) as con:
        return frame_in(con, now, **kwargs)  # type: ignore[arg-type]


def render_frame(frame: Frame, recorder: list[tuple[str, bool]] | None = None) -> Any:
    """A rich renderable for the frame (rich imported here: the CLI only). ``recorder``: the
    live recorder's state lines, each with ok=False for a problem (shown in red, one line each)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = [
        Text(
            f"flushwatch watch — {frame.now:%Y-%m-%d %H:%M:%S} UTC · latest candle "
            f"{frame.latest_candle:%H:%M} UTC"
            if frame.latest_candle
            else f"flushwatch watch — {frame.now:%Y-%m-%d %H:%M:%S} UTC · no candles yet",
            style="bold",
        )
    ]
    if frame.flushes:
        for f in frame.flushes:
            t = Table(
                title=f"FLUSH #{f.flush_id} {f.asset} {f.direction} "
                f"{(f.extreme_move_pct or 0):+.1f}% since {f.start_at:%H:%M} UTC "
                + ("(forming)" if f.severity is None else f"(severity {f.severity:.0f})"),
                title_style="bold red",
                header_style="bold",
            )
            t.add_column("#", justify="right")
            t.add_column("candidate catalyst")
            t.add_column("score", justify="right")
            for c in f.catalysts:
                title = Text(("[coverage] " if c.is_coverage else "") + c.title)  # data, not markup
                t.add_row(str(c.rank), title, f"{c.score:.1f}")
            parts.append(t)
    else:
        parts.append(Text("No flush in progress.", style="green"))
    ht = Table(title="Latest important headlines", header_style="bold")
    ht.add_column("time (UTC)")
    ht.add_column("headline")
    ht.add_column("source")
    ht.add_column("imp", justify="right")
    ht.add_column("sentiment")
    for h in frame.headlines:
        ht.add_row(
            f"{h.at:%m-%d %H:%M}",
            Text(h.title),
            Text(h.source),
            "-" if h.importance is None else f"{h.importance:.0f}",
            h.sentiment or "unscored",
        )
    parts.append(ht)
    if recorder is not None or frame.liquidations:
        parts.append(_liquidations_table(frame))
    for line, ok in recorder or ():
        parts.append(Text(f"recorder · {line}", style="green" if ok else "bold red", overflow="ellipsis",
                          no_wrap=True))
    return Group(*parts)


def _liquidations_table(frame: Frame) -> Any:
    from rich.table import Table

    lt = Table(title=f"Liquidations, last {LIQ_WINDOW_MIN} min", header_style="bold")
    lt.add_column("venue")
    lt.add_column("symbol")
    lt.add_column("events", justify="right")
    lt.add_column("USD", justify="right")
    lt.add_column("longs %", justify="right")
    lt.add_column("newest (UTC)")
    for q in frame.liquidations:
        share = 100 * q.long_usd / q.notional_usd if q.notional_usd else 0.0
        lt.add_row(q.venue, q.symbol, f"{q.events:,}", f"{q.notional_usd:,.0f}", f"{share:.0f}",
                   f"{q.newest:%H:%M:%S}")
    if not frame.liquidations:
        lt.add_row("-", "none recorded", "", "", "", "")
    return lt
