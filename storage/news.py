"""News SQL: feeds and their health, headlines with dedup, title history, assets, stories.

Everything here takes an open connection and runs inside the caller's transaction: ingest
stores each feed's items *and* its HTTP validators in one transaction (a crash can never record
an ETag whose items were lost); an import stores a whole file in one. Bulk rows travel to DuckDB
as registered column arrays, never row-by-row INSERTs.

What to write is decided above this layer: :mod:`flushwatch.ingest.news.batch` reads the stored
state through these functions, plans the batch and assigns stories, then writes through them,
all on the one connection (the storage layer imports no stage).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from flushwatch.records.news import AssetTag, Existing, FeedHealth, FeedSpec, Headline
from flushwatch.storage.db import Connection


def _columns(name: str, con: Connection, data: dict[str, list[Any]]) -> None:
    """Register ``data`` (equal-length columns) as a view ``name`` for one bulk statement."""
    con.register(name, {k: np.array(v, dtype=object) for k, v in data.items()})


# -- feeds -------------------------------------------------------------------------------------


def catalogue_loaded(con: Connection) -> bool:
    # fetchall, not fetchone: an unfinished result blocks register() on this connection.
    rows = con.execute("SELECT value FROM news_state WHERE key = 'catalogue_loaded'").fetchall()
    return bool(rows)


def load_catalogue(con: Connection, specs: Sequence[FeedSpec], version: str) -> int:
    """Insert catalogue feeds not yet present (by URL); remember that it was loaded."""
    added = 0
    for s in specs:
        added += add_feed(con, s, origin="catalogue")
    con.execute("INSERT OR REPLACE INTO news_state VALUES ('catalogue_loaded', ?)", [version])
    return added


def subscribe(con: Connection, spec: FeedSpec, *, origin: str = "user") -> str:
    """Subscribe to ``spec``: ``'added'`` (new row), ``'subscribed'`` or ``'exists'``.

    A URL once fetched with ``ingest --feed`` is stored disabled with origin ``adhoc`` so its
    validators persist; that row is no subscription, so subscribing takes it over (enabled,
    name/kind/language/tier as given now, its validators and health kept) and says
    ``'subscribed'``. A real subscription is left as it is (``'exists'``). Ad-hoc rows never
    overwrite anything."""
    rows = con.execute("SELECT origin FROM feeds WHERE url = ?", [spec.url]).fetchall()
    if not rows:
        con.execute(
            """
            INSERT INTO feeds (url, name, kind, language, tier, enabled, origin)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """,
            [spec.url, spec.name, spec.kind, spec.language, spec.tier, spec.enabled, origin],
        )
        return "added"
    if rows[0][0] != "adhoc" or origin == "adhoc":
        return "exists"
    con.execute(
        """
        UPDATE feeds SET name = ?, kind = ?, language = ?, tier = ?, enabled = ?, origin = ?
         WHERE url = ?
        """,
        [spec.name, spec.kind, spec.language, spec.tier, spec.enabled, origin, spec.url],
    )
    return "subscribed"


def add_feed(con: Connection, spec: FeedSpec, *, origin: str = "user") -> int:
    """1 if added (or an ad-hoc row became this subscription), 0 if subscribed already."""
    return 0 if subscribe(con, spec, origin=origin) == "exists" else 1


def known_urls(con: Connection, urls: Sequence[str]) -> set[str]:
    """Which of ``urls`` are already in ``feeds`` (one query, not one per URL)."""
    if not urls:
        return set()
    _columns("fw_urls", con, {"u": list(urls)})
    found = {
        r[0] for r in con.execute("SELECT url FROM feeds WHERE url IN (SELECT u FROM fw_urls)").fetchall()
    }
    con.unregister("fw_urls")
    return found


def find_feeds(con: Connection, ref: str) -> list[tuple[int, str, str]]:
    """Feeds whose URL, name (case-insensitive) or id is ``ref``: (feed_id, name, url)."""
    return [
        (int(r[0]), str(r[1]), str(r[2]))
        for r in con.execute(
            """
            SELECT feed_id, name, url FROM feeds
             WHERE url = ? OR lower(name) = lower(?) OR CAST(feed_id AS VARCHAR) = ?
             ORDER BY feed_id
            """,
            [ref, ref, ref],
        ).fetchall()
    ]


def remove_feed(con: Connection, feed_id: int) -> None:
    """Delete the feed; its headlines stay (feed_id kept as a dangling reference for lineage)."""
    con.execute("DELETE FROM feeds WHERE feed_id = ?", [feed_id])


def set_enabled(con: Connection, feed_id: int, enabled: bool) -> None:
    con.execute("UPDATE feeds SET enabled = ? WHERE feed_id = ?", [enabled, feed_id])


def feeds_to_fetch(
    con: Connection, only: Sequence[str] = ()
) -> list[tuple[int, str, str, str, str | None, str | None]]:
    """(feed_id, name, url, kind, etag, last_modified) of enabled feeds, or of those named."""
    rows = con.execute(
        """
        SELECT feed_id, name, url, kind, etag, last_modified, enabled FROM feeds ORDER BY tier, feed_id
        """
    ).fetchall()
    if only:
        wanted = {o.lower() for o in only}
        rows = [r for r in rows if r[2].lower() in wanted or r[1].lower() in wanted or str(r[0]) in wanted]
    else:
        rows = [r for r in rows if r[6]]
    return [(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]


def feed_health(con: Connection) -> list[FeedHealth]:
    rows = con.execute(
        """
        SELECT feed_id, name, url, kind, tier, enabled, last_success_at, last_error_at, last_error,
               consecutive_failures, items_seen, median_latency_s
          FROM feeds ORDER BY tier, name
        """
    ).fetchall()
    return [FeedHealth(*r) for r in rows]


def all_feeds(con: Connection, *, include_adhoc: bool = False) -> list[FeedSpec]:
    """Every subscription (enabled or not) as a spec. URLs only fetched once with
    ``ingest --feed`` (origin ``adhoc``) are not subscriptions and are left out unless asked."""
    rows = con.execute(
        """
        SELECT name, url, kind, language, tier, enabled FROM feeds
         WHERE ? OR origin <> 'adhoc'
         ORDER BY tier, name
        """,
        [include_adhoc],
    ).fetchall()
    return [FeedSpec(r[0], r[1], r[2], r[3], int(r[4]), bool(r[5])) for r in rows]


def record_feed_success(
    con: Connection,
    feed_id: int,
    *,
    status: int,
    etag: str | None,
    last_modified: str | None,
    items: int,
    at: dt.datetime,
    note: str | None = None,
) -> None:
    """Validators, health and latency, in the transaction that stored the feed's items.
    The latency median is recomputed only when the feed brought new items. A ``note`` (a
    problem the parser recovered from) goes where the feed's errors are shown, stamped with
    this success, so the publisher's mistake is visible while the feed counts as healthy."""
    con.execute(
        """
        UPDATE feeds SET
            etag = ?, last_modified = ?, last_status = ?, last_fetched_at = ?, last_success_at = ?,
            consecutive_failures = 0, items_seen = items_seen + ?
         WHERE feed_id = ?
        """,
        [etag, last_modified, status, at, at, items, feed_id],
    )
    if note:
        con.execute(
            "UPDATE feeds SET last_error = ?, last_error_at = ? WHERE feed_id = ?", [note[:500], at, feed_id]
        )
    if items:
        con.execute(
            """
            UPDATE feeds SET median_latency_s = (
                -- Skip the feed's first batch: those items were published long before we subscribed.
                SELECT median(epoch(first_seen_at) - epoch(published_at))
                  FROM headlines
                 WHERE feed_id = ? AND time_flag IS NULL
                   AND first_seen_at > (SELECT min(first_seen_at) FROM headlines WHERE feed_id = ?)
            )
             WHERE feed_id = ?
            """,
            [feed_id, feed_id, feed_id],
        )


def record_feed_failure(
    con: Connection, feed_id: int, *, error: str, status: int | None, at: dt.datetime
) -> None:
    con.execute(
        """
        UPDATE feeds SET last_error = ?, last_error_at = ?, last_fetched_at = ?, last_status = ?,
                         consecutive_failures = consecutive_failures + 1
         WHERE feed_id = ?
        """,
        [error[:500], at, at, status, feed_id],
    )


# -- headlines ---------------------------------------------------------------------------------


def load_known(con: Connection, items: Sequence[Headline]) -> dict[str, Existing]:
    """Stored rows for any identity key of ``items``: key -> Existing (the decider's state)."""
    keys = sorted({k for h in items for k in (h.dedup_key, *h.alt_keys)})
    if not keys:
        return {}
    _columns("fw_keys", con, {"k": keys})
    rows = con.execute(
        """
        SELECT k.k, h.headline_id, h.dedup_key, h.title, h.content_hash
          FROM fw_keys k JOIN headlines h ON h.dedup_key = k.k
        UNION ALL
        SELECT k.k, h.headline_id, h.dedup_key, h.title, h.content_hash
          FROM fw_keys k JOIN headlines h ON 'url:' || h.canonical_url = k.k
         WHERE h.canonical_url IS NOT NULL
        """
    ).fetchall()
    con.unregister("fw_keys")
    return {r[0]: Existing(int(r[1]), r[2], r[3], r[4]) for r in rows}


def _next_ids(con: Connection, sequence: str, n: int) -> list[int]:
    if n == 0:
        return []
    return [int(r[0]) for r in con.execute(f"SELECT nextval('{sequence}') FROM range(?)", [n]).fetchall()]


def new_headline_ids(con: Connection, n: int) -> list[int]:
    """``n`` fresh headline ids, taken before the rows are inserted (assets and stories need them)."""
    return _next_ids(con, "headline_id_seq", n)


def new_story_ids(con: Connection, n: int) -> list[int]:
    return _next_ids(con, "story_id_seq", n)


def insert_headlines(con: Connection, rows: Sequence[tuple[int, Headline]], *, run_id: int | None) -> None:
    """Insert new headlines, each with the id it was given (:func:`new_headline_ids`)."""
    if not rows:
        return
    new = [h for _, h in rows]
    _columns(
        "fw_new",
        con,
        {
            "headline_id": [hid for hid, _ in rows],
            "dedup_key": [h.dedup_key for h in new],
            "feed_id": [h.feed_id for h in new],
            "source": [h.source for h in new],
            "title": [h.title for h in new],
            "summary": [h.summary for h in new],
            "url": [h.url for h in new],
            "canonical_url": [h.canonical_url for h in new],
            "guid": [h.guid for h in new],
            "language": [h.language for h in new],
            "published_at": [h.published_at for h in new],
            "first_seen_at": [h.first_seen_at for h in new],
            "time_flag": [h.time_flag for h in new],
            "origin": [h.origin for h in new],
            "content_hash": [h.content_hash for h in new],
        },
    )
    con.execute(
        """
        INSERT INTO headlines (headline_id, dedup_key, feed_id, source, title, summary, url,
                               canonical_url, guid, language, published_at, first_seen_at,
                               time_flag, origin, content_hash, run_id)
        SELECT CAST(headline_id AS BIGINT), dedup_key, CAST(feed_id AS INTEGER), source, title,
               summary, url, canonical_url, guid, language, CAST(published_at AS TIMESTAMPTZ),
               CAST(first_seen_at AS TIMESTAMPTZ), time_flag, origin, content_hash, ?
          FROM fw_new
        """,
        [run_id],
    )
    con.unregister("fw_new")


def update_headlines(
    con: Connection, updated: Sequence[tuple[Existing, Headline]], *, run_id: int | None, at: dt.datetime
) -> None:
    """Overwrite stored headlines with their new version; a title that changed is kept first in
    ``headline_titles``, so the history of an edited headline survives."""
    if not updated:
        return
    _columns(
        "fw_upd",
        con,
        {
            "headline_id": [old.headline_id for old, _ in updated],
            "old_title": [old.title for old, _ in updated],
            "title": [h.title for _, h in updated],
            "summary": [h.summary for _, h in updated],
            "content_hash": [h.content_hash for _, h in updated],
        },
    )
    con.execute(
        """
        INSERT INTO headline_titles (headline_id, title, seen_at)
        SELECT CAST(headline_id AS BIGINT), old_title, ? FROM fw_upd WHERE old_title <> title
        ON CONFLICT DO NOTHING
        """,
        [at],
    )
    con.execute(
        """
        UPDATE headlines AS h
           SET title = u.title, summary = u.summary, content_hash = u.content_hash,
               updated_at = ?, run_id = ?
          FROM fw_upd AS u
         WHERE h.headline_id = CAST(u.headline_id AS BIGINT)
        """,
        [at, run_id],
    )
    con.unregister("fw_upd")


def replace_assets(
    con: Connection, tags_by_id: Mapping[int, Sequence[AssetTag]], *, retagged: Sequence[int] = ()
) -> None:
    """Store each headline's asset tags; the ``retagged`` headlines (updated ones, tagged again
    from their new title) lose their previous tags first."""
    if retagged:
        _columns("fw_ids", con, {"id": list(retagged)})
        con.execute(
            "DELETE FROM headline_assets WHERE headline_id IN (SELECT CAST(id AS BIGINT) FROM fw_ids)"
        )
        con.unregister("fw_ids")
    asset_rows = [(hid, t.asset, t.method, t.ambiguous) for hid, tags in tags_by_id.items() for t in tags]
    if not asset_rows:
        return
    _columns(
        "fw_assets",
        con,
        {
            "headline_id": [r[0] for r in asset_rows],
            "asset": [r[1] for r in asset_rows],
            "method": [r[2] for r in asset_rows],
            "ambiguous": [r[3] for r in asset_rows],
        },
    )
    con.execute(
        """
        INSERT INTO headline_assets
        SELECT CAST(headline_id AS BIGINT), asset, method, CAST(ambiguous AS BOOLEAN) FROM fw_assets
        ON CONFLICT DO NOTHING
        """
    )
    con.unregister("fw_assets")


# -- stories -----------------------------------------------------------------------------------

#: A stored headline that a new one may join: (headline_id, source, title, published_at,
#: its unambiguous assets, story_id).
StoryMember = tuple[int, str, str, dt.datetime, list[str], int]


def story_members(
    con: Connection, lo: dt.datetime, hi: dt.datetime, *, exclude: Sequence[int] = ()
) -> list[StoryMember]:
    """Headlines published between ``lo`` and ``hi`` that already belong to a story, except
    ``exclude`` (the batch being assigned)."""
    _columns("fw_ids", con, {"id": list(exclude)})
    rows = con.execute(
        """
        SELECT h.headline_id, h.source, h.title, h.published_at, h.story_id,
               coalesce(list(a.asset) FILTER (WHERE a.asset IS NOT NULL AND NOT a.ambiguous), [])
          FROM headlines h LEFT JOIN headline_assets a USING (headline_id)
         WHERE h.published_at BETWEEN ? AND ? AND h.story_id IS NOT NULL
           AND h.headline_id NOT IN (SELECT CAST(id AS BIGINT) FROM fw_ids)
         GROUP BY ALL
        """,
        [lo, hi],
    ).fetchall()
    con.unregister("fw_ids")
    return [(int(r[0]), r[1], r[2], r[3], list(r[5]), int(r[4])) for r in rows]


def mark_stories(con: Connection, story_ids: Sequence[int], *, method: str) -> None:
    """Record ``method`` as what placed the latest headlines of ``story_ids`` (their headlines
    stayed where they were)."""
    if not story_ids:
        return
    con.register("fw_marked", {"story_id": np.asarray(story_ids, dtype=np.int64)})
    con.execute(
        "UPDATE stories SET method = ? WHERE story_id IN (SELECT story_id FROM fw_marked) "
        "AND method IS DISTINCT FROM ?",
        [method, method],
    )
    con.unregister("fw_marked")


def set_stories(con: Connection, story_of: Mapping[int, int], *, method: str = "tokens") -> None:
    """Put each headline (headline_id -> story_id) in its story: stories not stored yet are
    created, each story given headlines records ``method`` ('tokens' from ingest, 'vectors'
    from scoring: what placed its latest headlines), every touched story is recomputed from its
    headlines (first report, title, outlets, counts, echoes), and a story its headlines all
    left is deleted."""
    if not story_of:
        return
    # Typed columns, not _columns' objects: scoring moves thousands of headlines per chunk.
    ids = np.fromiter(story_of.keys(), dtype=np.int64, count=len(story_of))
    targets = np.fromiter(story_of.values(), dtype=np.int64, count=len(ids))
    con.register("fw_story", {"headline_id": ids, "story_id": targets})
    left = con.execute(
        """
        SELECT DISTINCT h.story_id FROM headlines h JOIN fw_story s USING (headline_id)
         WHERE h.story_id IS NOT NULL AND h.story_id <> s.story_id
        """
    ).fetchall()
    touched = np.unique(np.concatenate([targets, np.array([r[0] for r in left], dtype=np.int64)]))
    con.register("fw_touched", {"story_id": touched})
    con.execute(
        """
        UPDATE headlines AS h SET story_id = s.story_id
          FROM fw_story AS s
         WHERE h.headline_id = s.headline_id AND h.story_id IS DISTINCT FROM s.story_id
        """
    )
    con.execute(
        """
        INSERT INTO stories (story_id, first_headline_id, first_reported_at, title, outlets,
                             outlet_count, headline_count, updated_at)
        SELECT DISTINCT s.story_id, 0, now(), '', [], 0, 0, now()
          FROM fw_story s
         WHERE s.story_id NOT IN (SELECT story_id FROM stories)
        """
    )
    # A headline's time is its published_at; first_seen_at where the source gave none.
    con.execute(
        """
        UPDATE stories AS st SET
            first_headline_id = agg.first_id, first_reported_at = agg.first_at, title = agg.title,
            outlets = agg.outlets, outlet_count = agg.outlet_count,
            headline_count = agg.headline_count, last_reported_at = agg.last_at,
            echo_count = agg.headline_count - 1, burst_rate = agg.first_hour - 1, updated_at = now(),
            method = CASE WHEN st.story_id IN (SELECT story_id FROM fw_story) THEN ? ELSE st.method END
          FROM (
            SELECT story_id,
                   arg_min(headline_id, (t, headline_id)) AS first_id,
                   min(t) AS first_at,
                   max(t) AS last_at,
                   arg_min(title, (t, headline_id)) AS title,
                   list(DISTINCT source ORDER BY source) AS outlets,
                   count(DISTINCT source) AS outlet_count,
                   count(*) AS headline_count,
                   count(*) FILTER (WHERE t <= t0 + INTERVAL 1 HOUR) AS first_hour
              FROM (SELECT h.story_id, h.headline_id, h.title, h.source,
                           coalesce(h.published_at, h.first_seen_at) AS t,
                           min(coalesce(h.published_at, h.first_seen_at)) OVER (PARTITION BY h.story_id) AS t0
                      FROM headlines h
                     WHERE h.story_id IN (SELECT story_id FROM fw_touched))
             GROUP BY story_id
          ) AS agg
         WHERE st.story_id = agg.story_id
        """,
        [method],
    )
    con.execute(
        """
        DELETE FROM stories
         WHERE story_id IN (SELECT story_id FROM fw_touched)
           AND NOT EXISTS (SELECT 1 FROM headlines h WHERE h.story_id = stories.story_id)
        """
    )
    con.unregister("fw_touched")
    con.unregister("fw_story")
