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

from flushwatch.scoring.thresholds import DetectThresholds, bar_minutes_sql
from flushwatch.storage.db import Connection, Database
from flushwatch.storage.flushes import CATALYST_JOINS, CATALYST_TITLE

#: How long after it became detectable (or after its end) a flush counts as "in progress or
#: just over".
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
    #: From the start to the extreme of the bars closed by the frame's time (not the whole flush);
    #: ``direction`` too is the larger excursion from the start among those bars.
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


def frame_in(
    con: Connection,
    now: dt.datetime,
    *,
    min_importance: float = 40.0,
    limit: int = 12,
    min_move_pct: float = DetectThresholds.min_move_pct,
) -> Frame:
    """What was known at ``now``. ``min_move_pct``: detection's (config ``[detect]``), so that a
    flush shows only once its move so far would have made it one."""
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
        ),
        shown AS (
            SELECT * FROM f
             -- shown once detectable: its first flagged bar (opening at trigger_at) has closed by
             -- `now`; and for ACTIVE_FLUSH_MIN after that, or after its end once that has passed
             -- (a multi-hour flush can start hours before its trigger bar, so not from the start)
             WHERE trigger_at + bar <= $now
               AND greatest(trigger_at + bar, CASE WHEN end_at <= $now THEN end_at END)
                   >= $now - to_minutes(CAST($active AS BIGINT))
        ),
        so_far AS (  -- bars closed by `now`: a replay shows no later price
            SELECT f.flush_id, arg_min(c.open, c.open_time) AS o, min(c.low) AS lo, max(c.high) AS hi
              FROM shown f
              JOIN candles c
                ON (c.venue, c.market, c.symbol, c.interval) = (f.venue, f.market, f.symbol, f.interval)
               AND c.open_time >= f.start_at AND c.open_time < f.end_at AND c.open_time + f.bar <= $now
             GROUP BY f.flush_id
        ),
        d AS (  -- the direction so far: the larger excursion from the start price, as detect decides
            SELECT f.*, s.o, s.lo, s.hi,
                   CASE WHEN s.o IS NULL THEN f.direction
                        WHEN s.o - s.lo >= s.hi - s.o THEN 'long_flush' ELSE 'short_squeeze' END AS dir
              FROM shown f LEFT JOIN so_far s USING (flush_id)
        )
        SELECT flush_id, asset, dir, start_at,
               CASE WHEN dir = 'long_flush' THEN lo ELSE hi END / o * 100 - 100 AS move,
               CASE WHEN end_at <= $now THEN severity END
          FROM d
         -- not a flush yet while its move so far is below detection's floor (a later bar took
         -- it there); one that fired on liquidations is exempt there too
         WHERE abs(move) >= $min_move OR list_contains(signals, 'liquidations')
         ORDER BY start_at DESC, flush_id
        """,
        {"now": now, "active": ACTIVE_FLUSH_MIN, "min_move": min_move_pct},
    ).fetchall():
        # Only catalysts a trader could have seen by `now` (replay shows the ranking as it formed).
        cats = con.execute(
            f"""
            SELECT row_number() OVER (ORDER BY c.is_coverage, c.rank), {CATALYST_TITLE}, c.score,
                   c.is_coverage
              FROM catalysts c{CATALYST_JOINS}
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
        parts.append(
            Text(f"recorder · {line}", style="green" if ok else "bold red", overflow="ellipsis", no_wrap=True)
        )
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
        lt.add_row(
            q.venue,
            q.symbol,
            f"{q.events:,}",
            f"{q.notional_usd:,.0f}",
            f"{share:.0f}",
            f"{q.newest:%H:%M:%S}",
        )
    if not frame.liquidations:
        lt.add_row("-", "none recorded", "", "", "", "")
    return lt
