"""Reading headlines that need a score and writing score rows (SQL lives here, nowhere else).

Idempotency comes from the primary key (headline_id, model_name, model_revision): an insert
of a row that exists is skipped (``ON CONFLICT DO NOTHING``), so re-running ``score`` never
duplicates, and a new model revision adds rows beside the old ones, never overwriting them.
"""

from __future__ import annotations

import json

from flushwatch.records.scores import HeadlineScore, ImportanceContext, UnscoredHeadline
from flushwatch.storage.db import Connection

# Context per headline: story outlets and whether it is the story's first report, the feed's
# tier, and the assets it names. Anti-join on headline_scores for this model and revision.
_UNSCORED_SQL = """
SELECT h.headline_id,
       h.title,
       s.outlet_count,
       f.tier,
       CASE WHEN s.story_id IS NULL THEN NULL ELSE s.first_headline_id = h.headline_id END AS is_first,
       (SELECT list(a.asset ORDER BY a.asset) FROM headline_assets a
         WHERE a.headline_id = h.headline_id) AS assets
  FROM headlines h
  LEFT JOIN stories s ON s.story_id = h.story_id
  LEFT JOIN feeds f ON f.feed_id = h.feed_id
 WHERE NOT EXISTS (
        SELECT 1 FROM headline_scores sc
         WHERE sc.headline_id = h.headline_id
           AND sc.model_name = ? AND sc.model_revision = ?)
 ORDER BY h.headline_id
"""


def fetch_unscored(
    con: Connection, model_name: str, model_revision: str, limit: int | None = None
) -> list[UnscoredHeadline]:
    """Headlines without a score from this model revision, oldest id first."""
    sql = _UNSCORED_SQL + (f" LIMIT {int(limit)}" if limit is not None else "")
    rows = con.execute(sql, [model_name, model_revision]).fetchall()
    return [
        UnscoredHeadline(
            headline_id=int(r[0]),
            title=r[1] or "",
            context=ImportanceContext(
                assets=tuple(r[5] or ()),
                outlet_count=r[2],
                feed_tier=r[3],
                is_first_report=r[4],
            ),
        )
        for r in rows
    ]


def count_scored(con: Connection, model_name: str, model_revision: str) -> int:
    row = con.execute(
        "SELECT count(*) FROM headline_scores WHERE model_name = ? AND model_revision = ?",
        [model_name, model_revision],
    ).fetchone()
    return int(row[0]) if row else 0


def insert_scores(con: Connection, scores: list[HeadlineScore], run_id: int | None) -> int:
    """Insert score rows column-wise in one statement; existing keys are skipped. Returns rows added."""
    if not scores:
        return 0
    before = con.execute("SELECT count(*) FROM headline_scores").fetchone()
    t = [s.text for s in scores]
    label_map = json.dumps(scores[0].label_map, sort_keys=True)
    con.execute(
        """
        INSERT INTO headline_scores
        SELECT u.headline_id, ?, ?, ?, now(), u.sentiment, u.p_bearish, u.p_neutral, u.p_bullish,
               u.sentiment_score, u.importance, u.event_type, u.event_confidence,
               u.is_market_report, u.language, u.flags, ?::JSON
          FROM (SELECT unnest(?::BIGINT[]) AS headline_id, unnest(?::VARCHAR[]) AS sentiment,
                       unnest(?::DOUBLE[]) AS p_bearish, unnest(?::DOUBLE[]) AS p_neutral,
                       unnest(?::DOUBLE[]) AS p_bullish, unnest(?::DOUBLE[]) AS sentiment_score,
                       unnest(?::DOUBLE[]) AS importance, unnest(?::VARCHAR[]) AS event_type,
                       unnest(?::DOUBLE[]) AS event_confidence, unnest(?::BOOLEAN[]) AS is_market_report,
                       unnest(?::VARCHAR[]) AS language, unnest(?::VARCHAR[][]) AS flags) u
        ON CONFLICT DO NOTHING
        """,
        [
            scores[0].model_name,
            scores[0].model_revision,
            run_id,
            label_map,
            [s.headline_id for s in scores],
            [x.sentiment for x in t],
            [x.p_bearish for x in t],
            [x.p_neutral for x in t],
            [x.p_bullish for x in t],
            [x.sentiment_score for x in t],
            [s.importance for s in scores],
            [x.event_type for x in t],
            [x.event_confidence for x in t],
            [x.is_market_report for x in t],
            [x.language for x in t],
            [list(x.flags) for x in t],
        ],
    )
    after = con.execute("SELECT count(*) FROM headline_scores").fetchone()
    return int(after[0]) - int(before[0]) if after and before else 0
