"""Reading flushes and catalysts back as records (one place for the SQL the commands share)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from flushwatch.errors import InputError
from flushwatch.records.flushes import ATTRIBUTION_VERSION, DETECTOR_VERSION, Catalyst, Flush
from flushwatch.storage.db import Connection, Database

_FLUSH_COLS = (
    "flush_id, asset, venue, market, symbol, interval, start_at, trigger_at, peak_at, end_at, direction, "
    "price_move_pct, extreme_move_pct, liquidated_usd, liquidation_note, volume_multiple, "
    "oi_change_pct, funding_before, signals, severity, market_wide, detector_version, detected_at, "
    "verdict, cause_probability, market_event_id"
)

#: A catalyst row names a headline or a scheduled release: the joins and columns that give
#: either a title and a source (every reader of catalysts uses these).
CATALYST_JOINS = """
  LEFT JOIN headlines h ON h.headline_id = c.headline_id
  LEFT JOIN calendar_events ce ON ce.kind = c.release_kind AND ce.release_at = c.release_at"""
CATALYST_TITLE = "coalesce(h.title, ce.name || ' released', c.release_kind || ' released')"
CATALYST_SOURCE = "coalesce(h.source, coalesce(ce.country, 'US') || ' macro calendar')"

_CATALYST_SQL = f"""
SELECT c.flush_id, c.headline_id, c.rank, c.score, c.is_coverage, c.components, c.headline_time,
       c.delay_s, {CATALYST_TITLE}, {CATALYST_SOURCE}, h.url, h.published_at,
       coalesce(h.first_seen_at, c.headline_time), s.sentiment, s.importance, s.event_type, c.release_kind
  FROM catalysts c{CATALYST_JOINS}
  LEFT JOIN (SELECT headline_id, sentiment, importance, event_type FROM headline_scores
             WHERE headline_id IN (SELECT headline_id FROM catalysts WHERE flush_id IN (SELECT unnest($ids)))
             QUALIFY row_number() OVER (PARTITION BY headline_id
                                        ORDER BY scored_at DESC, model_revision DESC) = 1) s
    ON s.headline_id = c.headline_id
 WHERE c.attribution_version = '{ATTRIBUTION_VERSION}'
   AND c.flush_id IN (SELECT unnest($ids))
   AND ((NOT c.is_coverage AND c.rank <= $per) OR (c.is_coverage AND $coverage))
 ORDER BY c.flush_id, c.rank
"""


@dataclass(frozen=True)
class FlushQuery:
    """Which flushes to list. Times are UTC; ``start``/``end`` bound the flush start."""

    asset: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    min_severity: float | None = None
    limit: int | None = None
    catalysts_per_flush: int = 3
    include_coverage: bool = False


def _catalyst(row: tuple[Any, ...]) -> Catalyst:
    comps = row[5]
    return Catalyst(
        flush_id=row[0],
        headline_id=row[1],
        rank=row[2],
        score=row[3],
        is_coverage=row[4],
        components=json.loads(comps) if isinstance(comps, str) else dict(comps or {}),
        headline_time=row[6],
        delay_s=row[7],
        title=row[8],
        source=row[9],
        url=row[10],
        published_at=row[11],
        first_seen_at=row[12],
        sentiment=row[13],
        importance=row[14],
        event_type=row[15],
        release_kind=row[16],
    )


def _flushes(
    con: Connection, where: str, params: dict[str, object], limit: int | None, per: int, coverage: bool
) -> list[Flush]:
    lim = f"LIMIT {int(limit)}" if limit is not None else ""
    rows = con.execute(
        f"SELECT {_FLUSH_COLS} FROM flushes WHERE {where} ORDER BY start_at DESC, asset {lim}", params
    ).fetchall()
    ids = [r[0] for r in rows]
    cats: dict[int, list[Catalyst]] = {}
    if ids:
        for c in con.execute(_CATALYST_SQL, {"ids": ids, "per": per, "coverage": coverage}).fetchall():
            cats.setdefault(c[0], []).append(_catalyst(c))
    return [_flush(r, tuple(cats.get(r[0], ()))) for r in rows]


def _flush(r: tuple[Any, ...], catalysts: tuple[Catalyst, ...]) -> Flush:
    names = [n.strip() for n in _FLUSH_COLS.split(",")]
    values = dict(zip(names, r, strict=True))
    values["signals"] = tuple(values["signals"] or ())
    return Flush(**values, catalysts=catalysts)


def list_flushes_in(con: Connection, q: FlushQuery) -> list[Flush]:
    """:func:`list_flushes` on an open connection."""
    cond = ["detector_version = $dv"]
    params: dict[str, object] = {"dv": DETECTOR_VERSION}
    if q.asset:
        cond.append("asset = $asset")
        params["asset"] = q.asset.upper()
    if q.start is not None:
        cond.append("start_at >= $start")
        params["start"] = q.start
    if q.end is not None:
        cond.append("start_at < $end")
        params["end"] = q.end
    if q.min_severity is not None:
        cond.append("severity >= $sev")
        params["sev"] = q.min_severity
    return _flushes(con, " AND ".join(cond), params, q.limit, q.catalysts_per_flush, q.include_coverage)


def list_flushes(db: Database, q: FlushQuery) -> list[Flush]:
    """Flushes matching ``q``, newest first, each with its top catalysts (and coverage if asked)."""
    with db.read() as con:
        return list_flushes_in(con, q)


def get_flush_in(con: Connection, flush_id: int, *, catalysts: int = 10, coverage: bool = True) -> Flush:
    """:func:`get_flush` on an open connection."""
    found = _flushes(con, "flush_id = $id", {"id": flush_id}, 1, catalysts, coverage)
    if not found:
        raise InputError(
            f"no flush with id {flush_id}",
            hint="list them with `flushwatch flushes`, or run `flushwatch detect`",
        )
    return found[0]


def get_flush(db: Database, flush_id: int, *, catalysts: int = 10) -> Flush:
    """One flush with up to ``catalysts`` causes and all its stored coverage rows."""
    with db.read() as con:
        return get_flush_in(con, flush_id, catalysts=catalysts)
