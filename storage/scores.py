"""Reading headlines that need a score and writing score rows (SQL lives here, nowhere else).

Idempotency comes from the primary key (headline_id, model_name, model_revision): an insert
of a row that exists is skipped (``ON CONFLICT DO NOTHING``), so re-running ``score`` never
duplicates, and a new model revision adds rows beside the old ones, never overwriting them.
The one update is :func:`refresh_rule_fields`: the rule-derived columns of rows written by other
rules (``rules_revision``), never the model's probabilities or sentiment.
"""

from __future__ import annotations

import json
from typing import Any

from flushwatch.records.scores import (
    HeadlineScore,
    ImportanceContext,
    RuleFields,
    StoredScore,
    UnscoredHeadline,
)
from flushwatch.storage.db import Connection

# What ingest knows about each headline, for importance: story outlets and whether it is the
# story's first report, the feed's tier, and the assets it names.
_CONTEXT_COLUMNS = """
       s.outlet_count,
       f.tier,
       CASE WHEN s.story_id IS NULL THEN NULL ELSE s.first_headline_id = h.headline_id END AS is_first,
       (SELECT list(a.asset ORDER BY a.asset) FROM headline_assets a
         WHERE a.headline_id = h.headline_id) AS assets
"""
_CONTEXT_JOINS = """
  LEFT JOIN stories s ON s.story_id = h.story_id
  LEFT JOIN feeds f ON f.feed_id = h.feed_id
"""

# Headlines with no row for this model and revision (anti-join), with their context.
_UNSCORED_SQL = f"""
SELECT h.headline_id,
       h.title,
       {_CONTEXT_COLUMNS}
  FROM headlines h
  {_CONTEXT_JOINS}
 WHERE NOT EXISTS (
        SELECT 1 FROM headline_scores sc
         WHERE sc.headline_id = h.headline_id
           AND sc.model_name = ? AND sc.model_revision = ?)
 ORDER BY h.headline_id
"""

# Rows of one model whose rule fields were written by other rules (or unknown ones); a row
# needs its headline's title to be refreshed. Shared by the count and the fetch below.
_STALE_FROM = """
  FROM headline_scores sc
  JOIN headlines h ON h.headline_id = sc.headline_id
"""
_STALE_WHERE = "WHERE sc.model_name = $model AND sc.rules_revision IS DISTINCT FROM $rules"

# Those rows with the title, the stored model outputs and the context the rules need.
_STALE_SQL = f"""
SELECT h.headline_id,
       h.title,
       {_CONTEXT_COLUMNS},
       sc.model_revision,
       sc.sentiment, sc.p_bearish, sc.p_neutral, sc.p_bullish, sc.sentiment_score,
       sc.event_type, sc.event_confidence, sc.is_market_report, sc.language, sc.flags,
       sc.importance
  {_STALE_FROM}
  {_CONTEXT_JOINS}
 {_STALE_WHERE}
 ORDER BY sc.headline_id, sc.model_revision
 LIMIT $limit
"""


def _context(r: tuple[Any, ...]) -> ImportanceContext:
    return ImportanceContext(
        assets=tuple(r[5] or ()), outlet_count=r[2], feed_tier=r[3], is_first_report=r[4]
    )


def fetch_unscored(
    con: Connection, model_name: str, model_revision: str, limit: int | None = None
) -> list[UnscoredHeadline]:
    """Headlines without a score from this model revision, oldest id first."""
    sql = _UNSCORED_SQL + (f" LIMIT {int(limit)}" if limit is not None else "")
    rows = con.execute(sql, [model_name, model_revision]).fetchall()
    return [UnscoredHeadline(headline_id=int(r[0]), title=r[1] or "", context=_context(r)) for r in rows]


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
        INSERT INTO headline_scores (headline_id, model_name, model_revision, run_id, scored_at,
               sentiment, p_bearish, p_neutral, p_bullish, sentiment_score, importance,
               event_type, event_confidence, is_market_report, language, flags, label_map,
               rules_revision)
        SELECT u.headline_id, ?, ?, ?, now(), u.sentiment, u.p_bearish, u.p_neutral, u.p_bullish,
               u.sentiment_score, u.importance, u.event_type, u.event_confidence,
               u.is_market_report, u.language, u.flags, ?::JSON, ?
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
            scores[0].rules_revision,
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


def count_stale(con: Connection, model_name: str, rules: str) -> int:
    """Rows of ``model_name`` whose rule fields other rules (or unknown ones) wrote: the rows
    :func:`fetch_stale` would return."""
    row = con.execute(
        f"SELECT count(*) {_STALE_FROM} {_STALE_WHERE}", {"model": model_name, "rules": rules}
    ).fetchone()
    return int(row[0]) if row else 0


def scored_models(con: Connection) -> list[str]:
    """Every model name with score rows, sorted."""
    return [
        str(r[0])
        for r in con.execute("SELECT DISTINCT model_name FROM headline_scores ORDER BY 1").fetchall()
    ]


def fetch_stale(con: Connection, model_name: str, rules: str, limit: int) -> list[StoredScore]:
    """Up to ``limit`` rows of ``model_name`` not written by ``rules``, with what refreshing needs."""
    rows = con.execute(_STALE_SQL, {"model": model_name, "rules": rules, "limit": int(limit)}).fetchall()
    return [
        StoredScore(
            headline_id=int(r[0]),
            model_name=model_name,
            model_revision=str(r[6]),
            title=r[1] or "",
            context=_context(r),
            probs=(float(r[8]), float(r[9]), float(r[10])),
            sentiment=str(r[7]),
            sentiment_score=float(r[11]),
            rules=RuleFields(
                event_type=str(r[12]),
                event_confidence=None if r[13] is None else float(r[13]),
                is_market_report=bool(r[14]),
                language=r[15],
                flags=tuple(r[16] or ()),
                importance=float(r[17]),
            ),
        )
        for r in rows
    ]


def refresh_rule_fields(
    con: Connection, model_name: str, rows: list[tuple[StoredScore, RuleFields]], rules: str
) -> int:
    """Write new rule fields and ``rules`` onto stored rows; returns rows updated.

    Only rows still not written by ``rules`` are touched, so a concurrent refresh of the same
    rows updates each once. The model's columns, ``scored_at`` and ``run_id`` stay as they are.
    """
    if not rows:
        return 0
    con.execute(
        """
        UPDATE headline_scores AS sc
           SET event_type = u.event_type, event_confidence = u.event_confidence,
               is_market_report = u.is_market_report, language = u.language, flags = u.flags,
               importance = u.importance, rules_revision = $rules
          FROM (SELECT unnest($ids::BIGINT[]) AS headline_id, unnest($revs::VARCHAR[]) AS model_revision,
                       unnest($types::VARCHAR[]) AS event_type, unnest($conf::DOUBLE[]) AS event_confidence,
                       unnest($report::BOOLEAN[]) AS is_market_report, unnest($lang::VARCHAR[]) AS language,
                       unnest($flags::VARCHAR[][]) AS flags, unnest($imp::DOUBLE[]) AS importance) u
         WHERE sc.headline_id = u.headline_id AND sc.model_revision = u.model_revision
           AND sc.model_name = $model AND sc.rules_revision IS DISTINCT FROM $rules
        """,
        {
            "rules": rules,
            "model": model_name,
            "ids": [old.headline_id for old, _ in rows],
            "revs": [old.model_revision for old, _ in rows],
            "types": [new.event_type for _, new in rows],
            "conf": [new.event_confidence for _, new in rows],
            "report": [new.is_market_report for _, new in rows],
            "lang": [new.language for _, new in rows],
            "flags": [list(new.flags) for _, new in rows],
            "imp": [new.importance for _, new in rows],
        },
    )
    row = con.fetchone()
    return int(row[0]) if row else 0
