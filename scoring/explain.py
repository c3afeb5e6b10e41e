"""Why this flush, and why these headlines: everything ``flushwatch explain`` shows, from SQL.

One read-only pass over the database builds an :class:`Explanation`: the flush's numbers, the
price bars around it (with liquidated notional per bar when recorded), the headlines around it
on one timeline, the ranked catalysts with each score component, and the coverage headlines
(which merely report the move) kept apart. Rendering lives in the CLI and
:mod:`flushwatch.scoring.charts`; nothing here prints.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass
from typing import Any

from flushwatch.records.flushes import Flush
from flushwatch.scoring.attribution import FEATURES
from flushwatch.storage.db import Connection, Database
from flushwatch.storage.flushes import CATALYST_JOINS, CATALYST_SOURCE, CATALYST_TITLE, get_flush_in

#: Bars shown before the flush start and after its end, in minutes.
CONTEXT_BEFORE_MIN = 120
CONTEXT_AFTER_MIN = 60
#: Headlines on the timeline: from this long before the start (the attribution lookback) ...
TIMELINE_LOOKBACK_MIN = 360
#: ... at most this many, the most important first (catalysts are always included).
TIMELINE_MAX_HEADLINES = 25

#: The component names attribution stores, in the order they are shown.
COMPONENTS = tuple(dict.fromkeys(FEATURES.values()))


@dataclass(frozen=True)
class RankedHeadline:
    """One catalyst row joined to its headline and score, with each component's points."""

    rank: int
    headline_id: int | None  # None: a scheduled release
    title: str
    source: str
    url: str | None
    published_at: dt.datetime | None
    first_seen_at: dt.datetime
    headline_time: dt.datetime
    delay_s: float
    score: float
    is_coverage: bool
    components: dict[str, Any]  # points per component; also 'unscored' and 'relevance_basis' (attr-2)
    sentiment: str | None
    importance: float | None
    event_type: str | None

    def why(self) -> str:
        """'importance 27.0 + relevance 20.0 + ...' — the components that add up to the score."""
        parts = [f"{k} {self.components[k]:+.1f}" for k in COMPONENTS if k in self.components]
        basis = self.components.get("relevance_basis")
        if isinstance(basis, str) and basis.startswith("contagion"):
            # The one component whose reason is not obvious from the headline: say it.
            parts = [f"{p} ({basis})" if p.startswith("relevance") else p for p in parts]
        return ", ".join(parts)


@dataclass(frozen=True)
class Bar:
    open_time: dt.datetime
    open: float
    high: float
    low: float
    close: float
    volume: float | None  # quote units when known, else base units * close
    liquidated_usd: float | None  # NULL when no liquidations recorded in the bar


@dataclass(frozen=True)
class TimelineHeadline:
    at: dt.datetime  # the time attribution uses for it
    headline_id: int
    title: str
    source: str
    importance: float | None
    sentiment: str | None
    catalyst_rank: int | None  # its rank when it is a catalyst of this flush
    is_coverage: bool


@dataclass(frozen=True)
class Explanation:
    flush: Flush
    catalysts: tuple[RankedHeadline, ...]  # causes, rank order
    coverage: tuple[RankedHeadline, ...]  # headlines that report the move
    bars: tuple[Bar, ...]
    headlines: tuple[TimelineHeadline, ...]  # time order
    # the other flushes of its market event (same time, other assets or intervals), start order
    event_flushes: tuple[Flush, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``flushwatch explain --format json`` (documented in docs/).

        The flush record's own ``catalysts`` field is left out: explain reads the flush without
        them (they are ranked below, with components), so it would always be an empty list
        beside the full top-level ``catalysts``, reading as "none".
        """
        flush = {k: v for k, v in asdict(self.flush).items() if k != "catalysts"}
        return {
            "flush": flush | {"signals": list(self.flush.signals)},
            "catalysts": [asdict(c) for c in self.catalysts],
            "coverage": [asdict(c) for c in self.coverage],
            "timeline": [asdict(h) for h in self.headlines],
            "bars": [asdict(b) for b in self.bars],
            "market_event": [
                {k: v for k, v in asdict(o).items() if k != "catalysts"} for o in self.event_flushes
            ],
        }


def _flush(con: Connection, flush_id: int) -> Flush:
    # The flush's numbers only: explain ranks its own catalyst rows below, with components.
    return get_flush_in(con, flush_id, catalysts=0, coverage=False)


_CATALYSTS_SQL = f"""
WITH s AS (
    SELECT * FROM headline_scores
     WHERE headline_id IN (SELECT headline_id FROM catalysts WHERE flush_id = $id)
    QUALIFY row_number() OVER (PARTITION BY headline_id ORDER BY scored_at DESC, model_revision DESC) = 1
),
c AS (  -- the newest attribution version that ranked this flush
    SELECT * FROM catalysts WHERE flush_id = $id
    QUALIFY attribution_version = max(attribution_version) OVER ()
)
SELECT c.rank, c.headline_id, {CATALYST_TITLE}, {CATALYST_SOURCE}, h.url, h.published_at,
       coalesce(h.first_seen_at, c.headline_time), c.headline_time, c.delay_s, c.score, c.is_coverage,
       CAST(c.components AS VARCHAR), s.sentiment, s.importance, s.event_type
  FROM c{CATALYST_JOINS}
  LEFT JOIN s ON s.headline_id = c.headline_id
 ORDER BY c.rank, c.headline_id
"""


def _ranked(con: Connection, flush_id: int) -> list[RankedHeadline]:
    out = []
    for row in con.execute(_CATALYSTS_SQL, {"id": flush_id}).fetchall():
        raw = json.loads(row[11]) if row[11] else {}
        comps = {
            k: float(v) for k, v in raw.items() if isinstance(v, int | float) and not isinstance(v, bool)
        }
        out.append(RankedHeadline(*row[:11], comps, *row[12:]))  # type: ignore[call-arg]
    return out


_BARS_SQL = """
WITH b AS (
    SELECT open_time, open, high, low, close, coalesce(quote_volume, volume * close) AS vol
      FROM candles
     WHERE venue = $venue AND market = $market AND symbol = $symbol AND interval = $interval
       AND open_time BETWEEN $from AND $to
),
l AS (  -- liquidated notional per bar of the flush's interval
    SELECT time_bucket(to_minutes(CAST($minutes AS BIGINT)), event_time) AS open_time,
           sum(notional_usd) AS liq
      FROM liquidations
     WHERE venue = $venue AND symbol = $symbol AND event_time BETWEEN $from AND $to
     GROUP BY 1
)
SELECT b.open_time, b.open, b.high, b.low, b.close, b.vol, l.liq
  FROM b LEFT JOIN l USING (open_time)
 ORDER BY b.open_time
"""


def _interval_minutes(interval: str) -> int:
    from flushwatch.scoring.thresholds import INTERVAL_MINUTES

    return INTERVAL_MINUTES.get(interval, 1)


def _bars(con: Connection, f: Flush) -> list[Bar]:
    if f.venue is None or f.symbol is None:
        return []
    rows = con.execute(
        _BARS_SQL,
        {
            "venue": f.venue,
            "market": f.market,
            "symbol": f.symbol,
            "interval": f.interval,
            "minutes": _interval_minutes(f.interval),
            "from": f.start_at - dt.timedelta(minutes=CONTEXT_BEFORE_MIN),
            "to": f.end_at + dt.timedelta(minutes=CONTEXT_AFTER_MIN),
        },
    ).fetchall()
    return [Bar(*r) for r in rows]


# Headlines are placed by the same rule attribution uses (live: first seen; backfill: published).
_TIMELINE_SQL = """
WITH c AS (
    SELECT headline_id, rank, is_coverage FROM catalysts WHERE flush_id = $id
    QUALIFY attribution_version = max(attribution_version) OVER ()
),
h AS (  -- the window's headlines (published_at is indexed; first-seen is never much later), + catalysts
    SELECT * FROM (
        SELECT h.headline_id, h.title, h.source,
               CASE WHEN h.origin = 'feed' OR h.published_at IS NULL OR h.time_flag IS NOT NULL
                    THEN h.first_seen_at ELSE h.published_at END AS t
          FROM headlines h
         WHERE h.published_at BETWEEN $from - INTERVAL 2 DAY AND $to
            OR h.first_seen_at BETWEEN $from AND $to
            OR h.headline_id IN (SELECT headline_id FROM c))
     WHERE t BETWEEN $from AND $to OR headline_id IN (SELECT headline_id FROM c)
),
s AS (
    SELECT * FROM headline_scores WHERE headline_id IN (SELECT headline_id FROM h)
    QUALIFY row_number() OVER (PARTITION BY headline_id ORDER BY scored_at DESC, model_revision DESC) = 1
),
w AS (
    SELECT h.t, h.headline_id, h.title, h.source, s.importance, s.sentiment, c.rank,
           coalesce(c.is_coverage, s.is_market_report, FALSE) AS cov
      FROM h LEFT JOIN s USING (headline_id) LEFT JOIN c USING (headline_id)
    QUALIFY c.rank IS NOT NULL
         OR row_number() OVER (PARTITION BY c.rank IS NULL
                               ORDER BY s.importance DESC NULLS LAST, h.t, h.headline_id) <= $limit
)
SELECT * FROM w ORDER BY t, headline_id
"""


def _timeline(con: Connection, f: Flush) -> list[TimelineHeadline]:
    rows = con.execute(
        _TIMELINE_SQL,
        {
            "id": f.flush_id,
            "from": f.start_at - dt.timedelta(minutes=TIMELINE_LOOKBACK_MIN),
            "to": f.end_at + dt.timedelta(minutes=CONTEXT_AFTER_MIN),
            "limit": TIMELINE_MAX_HEADLINES,
        },
    ).fetchall()
    return [TimelineHeadline(*r) for r in rows]


def explain_in(con: Connection, flush_id: int) -> Explanation:
    """:func:`explain` on an open connection (read-only is enough)."""
    f = _flush(con, flush_id)
    ranked = _ranked(con, flush_id)
    return Explanation(
        flush=f,
        catalysts=tuple(r for r in ranked if not r.is_coverage),
        coverage=tuple(r for r in ranked if r.is_coverage),
        bars=tuple(_bars(con, f)),
        headlines=tuple(_timeline(con, f)),
        event_flushes=tuple(_event_flushes(con, f)),
    )


def _event_flushes(con: Connection, f: Flush) -> list[Flush]:
    if f.market_event_id is None:
        return []
    rows = con.execute(
        "SELECT flush_id FROM flushes WHERE market_event_id = ? AND flush_id <> ? "
        "ORDER BY start_at, flush_id",
        [f.market_event_id, f.flush_id],
    ).fetchall()
    return [get_flush_in(con, r[0], catalysts=0, coverage=False) for r in rows]


def explain(db: Database, flush_id: int) -> Explanation:
    """Everything known about one flush, read in one short read-only session."""
    with db.read() as con:
        return explain_in(con, flush_id)
