"""Market events: flushes of several assets and intervals at the same time are one event.

A trader sees one sell-off, not twelve rows: BTC on 1m, ETH and SOL on 1h, all flushing within
the same hour, are one market event. Flushes going the same way whose time spans overlap
(each from its start to its end, widened by ``join_gap_min``) chain into one event, in time
order; the event's id is its earliest flush's id, so it stays put when a later flush joins.
Computed in SQL over every stored flush after each detection: a gaps-and-islands pass, cheap
next to detection itself.
"""

from __future__ import annotations

from flushwatch.records.flushes import DETECTOR_VERSION
from flushwatch.storage.db import Connection

_GROUP_SQL = """
UPDATE flushes SET market_event_id = x.event_id FROM (
    WITH o AS (
        SELECT flush_id, direction, start_at, end_at,
               -- a new event begins where no earlier flush (same direction) still runs
               CASE WHEN start_at > max(end_at + to_minutes(CAST($gap AS BIGINT))) OVER (
                             PARTITION BY direction ORDER BY start_at, flush_id
                             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                    THEN 1 ELSE 0 END AS begins
          FROM flushes WHERE detector_version = $v
    ),
    n AS (
        SELECT *, sum(begins) OVER (PARTITION BY direction ORDER BY start_at, flush_id) AS island FROM o
    )
    SELECT flush_id, min(flush_id) OVER (PARTITION BY direction, island) AS event_id FROM n
) x
 WHERE flushes.flush_id = x.flush_id AND flushes.market_event_id IS DISTINCT FROM x.event_id
"""


def group_market_events(con: Connection, join_gap_min: int) -> None:
    """Set ``flushes.market_event_id`` for every flush of the current detector."""
    con.execute(_GROUP_SQL, {"gap": join_gap_min, "v": DETECTOR_VERSION})
