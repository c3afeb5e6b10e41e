"""Catalyst attribution: rank the headlines most likely to have set off each flush, in SQL.

For each flush, candidates are headlines timed from ``lookback`` before its start up to its
peak (or ``post_start_grace`` after its start, whichever is later). A headline's time is
``first_seen_at`` for live headlines (``origin = 'feed'``: what a trader could know) and
``published_at`` for backfilled ones (``origin = 'import'``), falling back to
``first_seen_at`` when ``published_at`` is missing or flagged unusable (``time_flag``).

The score is a sum of points, each component capped by :class:`AttributionWeights`
(defaults add up to 100) and stored in ``catalysts.components`` so "why this headline" can be
shown:

* ``importance``: weight * importance/100 (latest ``headline_scores`` row per headline);
* ``relevance``: full for the flushed asset, 60 % for MARKET, 20 % for untagged; a headline
  about other assets only gets ``contagion_share`` (35 %) when contagion is plausible (see
  :data:`RELEVANCE_SQL`), else 0;
* ``sentiment``: weight * (p_aligned - p_opposed): bearish before a long flush adds,
  bullish subtracts (and the reverse for a short squeeze);
* ``timing``: weight * exp(-lead/lead_tau) before the start; after the start a published-late
  headline is discounted by its delay, exp(-delay/delay_tau), never excluded;
* ``novelty``: full for a story's first report, decaying with the delay after it for echoes;
* ``latency``: weight * exp(-median feed latency/latency_tau); half for imports (unknown).

Headlines scored ``is_market_report`` only report the move: kept as coverage
(``is_coverage``), ranked after every cause, never the cause.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flushwatch.records.flushes import ATTRIBUTION_VERSION, DETECTOR_VERSION
from flushwatch.scoring.thresholds import AttributionWeights
from flushwatch.storage.db import Connection, Database

#: The time a headline is placed at (see the module docstring for the rule).
HEADLINE_TIME_SQL = """CASE WHEN h.origin = 'feed' OR h.published_at IS NULL OR h.time_flag IS NOT NULL
                           THEN h.first_seen_at ELSE h.published_at END"""

#: Relevance of a candidate to the flushed asset, as (share of the relevance weight, basis).
#:
#: Cross-asset contagion: a headline tagged only with OTHER assets can still be the cause when
#: the shock travels: Terra's collapse sold Bitcoin, a lender's freeze sold Ether. Such a
#: headline gets ``$contagion`` of the weight (default 35 %: below a MARKET headline's 60 %,
#: since the link is inferred, above an untagged one's 20 %, since it names something) when one
#: of three facts makes the link plausible, checked in this order:
#:
#: 1. one of its assets had its own flush starting inside this flush's candidate window
#:    (the other asset visibly moved first or with it);
#: 2. one of its assets is systemic (``$systemic``: by default Bitcoin and Ether, which lead
#:    the whole market, and the US-dollar stablecoins, whose depeg or freeze hits the
#:    collateral every leveraged position rests on);
#: 3. the flush itself is market-wide: several assets fell together, so the cause may be
#:    about any of them.
#:
#: ``basis`` says which rule applied (stored in the components JSON as ``relevance_basis``).
RELEVANCE_SQL = """
CASE WHEN list_contains(a.assets, c.asset) THEN 1.0
     WHEN list_contains(a.assets, 'MARKET') THEN 0.6
     WHEN a.assets IS NULL THEN 0.2
     WHEN len(list_intersect(a.assets, coalesce(c.flushed_assets, []))) > 0
       OR len(list_intersect(a.assets, $systemic)) > 0
       OR c.market_wide THEN $contagion
     ELSE 0.0 END
"""

RELEVANCE_BASIS_SQL = """
CASE WHEN list_contains(a.assets, c.asset) THEN 'flushed asset'
     WHEN list_contains(a.assets, 'MARKET') THEN 'market-wide headline'
     WHEN a.assets IS NULL THEN 'untagged'
     WHEN $contagion <= 0 THEN 'other asset'
     WHEN len(list_intersect(a.assets, coalesce(c.flushed_assets, []))) > 0
       THEN 'contagion: ' || array_to_string(list_sort(list_intersect(a.assets, c.flushed_assets)), ',')
            || ' flushed too'
     WHEN len(list_intersect(a.assets, $systemic)) > 0
       THEN 'contagion: systemic ' || array_to_string(list_sort(list_intersect(a.assets, $systemic)), ',')
     WHEN c.market_wide THEN 'contagion: market-wide flush'
     ELSE 'other asset' END
"""

_ATTRIBUTE_SQL = """
CREATE OR REPLACE TEMP TABLE _attr_new AS
WITH f0 AS (
    SELECT flush_id, asset, direction, start_at, peak_at, market_wide,
           start_at - to_minutes(CAST($lookback AS BIGINT)) AS win_from,
           greatest(peak_at, start_at + to_minutes(CAST($grace AS BIGINT))) AS win_to
      FROM flushes
     WHERE flush_id IN (SELECT flush_id FROM _attr_targets)
),
f AS (  -- + the other assets with a flush of their own starting inside the candidate window
    SELECT f0.*,
           (SELECT list(DISTINCT o.asset) FROM flushes o
             WHERE o.detector_version = $dv AND o.asset <> f0.asset
               AND o.start_at BETWEEN f0.win_from AND f0.win_to) AS flushed_assets
      FROM f0
),
h AS (
    SELECT h.headline_id, h.story_id, h.feed_id, {htime} AS t
      FROM headlines h
     WHERE {htime} BETWEEN (SELECT min(win_from) FROM f) AND (SELECT max(win_to) FROM f)
),
cand AS (
    SELECT f.*, h.headline_id, h.story_id, h.feed_id, h.t,
           epoch(h.t) - epoch(f.start_at) AS delay_s
      FROM f JOIN h ON h.t BETWEEN f.win_from AND f.win_to
),
s AS (  -- latest score row per candidate headline
    SELECT hs.* FROM headline_scores hs
     WHERE hs.headline_id IN (SELECT DISTINCT headline_id FROM cand)
    QUALIFY row_number() OVER (PARTITION BY hs.headline_id ORDER BY hs.scored_at DESC,
                                                                   hs.model_revision DESC) = 1
),
a AS (  -- what each candidate is about
    SELECT headline_id, list(asset) AS assets
      FROM headline_assets WHERE headline_id IN (SELECT DISTINCT headline_id FROM cand)
     GROUP BY headline_id
),
parts AS (
    SELECT c.flush_id, c.headline_id, c.t, c.delay_s,
           coalesce(s.is_market_report, FALSE) AS is_coverage,
           $w_imp * coalesce(s.importance, 0) / 100 AS importance,
           $w_rel * {relevance} AS relevance,
           {relevance_basis} AS relevance_basis,
           $w_sent * CASE c.direction
                         WHEN 'long_flush' THEN coalesce(s.p_bearish - s.p_bullish, 0)
                         ELSE coalesce(s.p_bullish - s.p_bearish, 0) END AS sentiment,
           $w_time * CASE WHEN c.delay_s <= 0 THEN exp(c.delay_s / (60 * $lead_tau))
                          ELSE exp(-c.delay_s / (60 * $delay_tau)) END AS timing,
           $w_nov * CASE WHEN st.first_headline_id IS NULL OR st.first_headline_id = c.headline_id
                              THEN 1.0
                         ELSE exp(-greatest(epoch(c.t) - epoch(st.first_reported_at), 0)
                                  / (60 * $echo_tau)) END AS novelty,
           $w_lat * CASE WHEN fd.median_latency_s IS NULL THEN 0.5
                         ELSE exp(-greatest(fd.median_latency_s, 0) / $lat_tau) END AS latency,
           s.headline_id IS NULL AS unscored
      FROM cand c
      LEFT JOIN s ON s.headline_id = c.headline_id
      LEFT JOIN a ON a.headline_id = c.headline_id
      LEFT JOIN stories st ON st.story_id = c.story_id
      LEFT JOIN feeds fd ON fd.feed_id = c.feed_id
),
scored AS (
    SELECT *, round(importance + relevance + sentiment + timing + novelty + latency, 3) AS score
      FROM parts
),
ranked AS (
    SELECT *,
           row_number() OVER (PARTITION BY flush_id, is_coverage
                              ORDER BY score DESC, t, headline_id) AS r_in_group
      FROM scored
)
SELECT flush_id, headline_id, t AS headline_time, delay_s, is_coverage, score,
       json_object('importance', round(importance, 3), 'relevance', round(relevance, 3),
                   'sentiment', round(sentiment, 3), 'timing', round(timing, 3),
                   'novelty', round(novelty, 3), 'latency', round(latency, 3),
                   'unscored', unscored, 'relevance_basis', relevance_basis) AS components,
       -- causes first (1..n), then coverage after them
       CASE WHEN is_coverage
            THEN r_in_group + count(*) FILTER (WHERE NOT is_coverage) OVER (PARTITION BY flush_id)
            ELSE r_in_group END AS rank
  FROM ranked
 WHERE (NOT is_coverage AND r_in_group <= $causes) OR (is_coverage AND r_in_group <= $coverage)
"""


@dataclass(frozen=True)
class AttributionResult:
    flushes: int  # flushes (re)attributed
    catalysts: int  # catalyst rows written


def attribute(
    db: Database,
    weights: AttributionWeights | None = None,
    *,
    flush_ids: list[int] | None = None,
    since: dt.datetime | None = None,
    only_missing: bool = False,
    run_id: int | None = None,
) -> AttributionResult:
    """(Re)rank catalysts for the chosen flushes: ``flush_ids``, those starting at or after
    ``since``, or all; ``only_missing`` keeps flushes that already have catalysts as they are.
    Replaces each chosen flush's rows for this attribution version in one transaction."""
    w = weights or AttributionWeights()
    with db.write() as con:
        n = attribute_in(con, w, flush_ids=flush_ids, since=since, only_missing=only_missing, run_id=run_id)
    return n


def attribute_in(
    con: Connection,
    w: AttributionWeights,
    *,
    flush_ids: list[int] | None = None,
    since: dt.datetime | None = None,
    only_missing: bool = False,
    run_id: int | None = None,
) -> AttributionResult:
    """:func:`attribute` inside a caller's transaction."""
    cond = ["detector_version = $dv"]
    params: dict[str, object] = {"dv": DETECTOR_VERSION}
    if flush_ids is not None:
        cond.append("flush_id IN (SELECT unnest($ids))")
        params["ids"] = list(flush_ids)
    if since is not None:
        cond.append("start_at >= $since")
        params["since"] = since
    if only_missing:
        cond.append("flush_id NOT IN (SELECT flush_id FROM catalysts WHERE attribution_version = $av)")
        params["av"] = ATTRIBUTION_VERSION
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _attr_targets AS "
        f"SELECT flush_id FROM flushes WHERE {' AND '.join(cond)}",
        params,
    )
    row = con.execute("SELECT count(*) FROM _attr_targets").fetchone()
    n_flushes = int(row[0]) if row else 0
    if n_flushes == 0:
        return AttributionResult(0, 0)
    con.execute(
        _ATTRIBUTE_SQL.replace("{htime}", HEADLINE_TIME_SQL)
        .replace("{relevance}", RELEVANCE_SQL)
        .replace("{relevance_basis}", RELEVANCE_BASIS_SQL),
        {
            "dv": DETECTOR_VERSION,
            "contagion": w.contagion_share,
            "systemic": [a.upper() for a in w.systemic_assets],
            "lookback": w.lookback_min,
            "grace": w.post_start_grace_min,
            "w_imp": w.importance,
            "w_rel": w.relevance,
            "w_sent": w.sentiment,
            "w_time": w.timing,
            "w_nov": w.novelty,
            "w_lat": w.latency,
            "lead_tau": w.lead_tau_min,
            "delay_tau": w.delay_tau_min,
            "echo_tau": w.echo_tau_min,
            "lat_tau": w.latency_tau_s,
            "causes": w.causes_kept,
            "coverage": w.coverage_kept,
        },
    )
    con.execute(
        "DELETE FROM catalysts WHERE attribution_version = ? "
        "AND flush_id IN (SELECT flush_id FROM _attr_targets)",
        [ATTRIBUTION_VERSION],
    )
    con.execute(
        "UPDATE flushes SET attributed_run_id = ? WHERE flush_id IN (SELECT flush_id FROM _attr_targets)",
        [run_id],
    )
    con.execute(
        """
        INSERT INTO catalysts (flush_id, headline_id, attribution_version, rank, score, is_coverage,
                               components, headline_time, delay_s, run_id)
        SELECT flush_id, headline_id, ?, rank, score, is_coverage, components, headline_time, delay_s, ?
          FROM _attr_new
        """,
        [ATTRIBUTION_VERSION, run_id],
    )
    row = con.execute("SELECT count(*) FROM _attr_new").fetchone()
    return AttributionResult(n_flushes, int(row[0]) if row else 0)
