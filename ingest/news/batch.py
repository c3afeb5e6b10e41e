"""Store one batch of headlines: decide, insert or update, tag assets, assign stories.

Everything runs on the connection of the caller's write transaction (``db.write()``): the stored
state is read, the batch planned (:func:`~flushwatch.ingest.news.decide.plan_batch`) and written,
and the new headlines clustered into stories before the commit. A second process storing the
same items waits for the lock and then finds them stored, and a re-run of the same documents is
a no-op. The SQL lives in :mod:`flushwatch.storage.news`; this module holds the order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from flushwatch.ingest.news.decide import Planned, plan_batch
from flushwatch.ingest.news.stories import DEFAULT_WINDOW, StoryInput, assign_stories
from flushwatch.records.news import AssetTag, Headline, StoreCounts
from flushwatch.storage import news as store
from flushwatch.storage.db import Connection

Tagger = Callable[[Headline], tuple[AssetTag, ...]]


def store_headlines(
    con: Connection,
    items: Sequence[Headline],
    *,
    run_id: int | None,
    tagger: Tagger,
    story_window: dt.timedelta = DEFAULT_WINDOW,
) -> Planned:
    """Decide, insert new rows, update changed ones (keeping earlier titles), tag assets and
    assign stories for one batch, inside the caller's transaction. Returns what was decided
    (:func:`counts_by_feed` splits it per feed)."""
    plan = plan_batch(items, store.load_known(con, items))
    if not items:
        return plan
    new = list(zip(store.new_headline_ids(con, len(plan.new)), plan.new, strict=True))
    store.insert_headlines(con, new, run_id=run_id)
    store.update_headlines(con, plan.updated, run_id=run_id, at=dt.datetime.now(dt.UTC))
    # Assets: new rows, and updated rows re-tagged from their new title.
    tagged = [*new, *((old.headline_id, h) for old, h in plan.updated)]
    tags_by_id = {hid: tagger(h) for hid, h in tagged}
    store.replace_assets(con, tags_by_id, retagged=[old.headline_id for old, _ in plan.updated])
    if new:
        _assign_stories(con, new, tags_by_id, story_window)
    return plan


def counts_by_feed(plan: Planned) -> dict[int | None, StoreCounts]:
    """Split a batch's outcome per feed (one pass stores every feed's items in one batch)."""
    out: dict[int | None, StoreCounts] = {}
    for h in plan.new:
        out[h.feed_id] = out.get(h.feed_id, StoreCounts()) + StoreCounts(new=1)
    for _, h in plan.updated:
        out[h.feed_id] = out.get(h.feed_id, StoreCounts()) + StoreCounts(updated=1)
    for h in plan.duplicates:
        out[h.feed_id] = out.get(h.feed_id, StoreCounts()) + StoreCounts(duplicate=1)
    return out


def _shifted(at: dt.datetime, by: dt.timedelta) -> dt.datetime:
    """``at + by``, held at the ends of datetime's range: a time near year 1 or 9999 (a
    sentinel some sources write) must not crash the pass with OverflowError."""
    try:
        return at + by
    except OverflowError:
        edge = dt.datetime.min if by < dt.timedelta(0) else dt.datetime.max
        return edge.replace(tzinfo=dt.UTC)


def _assign_stories(
    con: Connection,
    new: list[tuple[int, Headline]],
    tags_by_id: dict[int, tuple[AssetTag, ...]],
    window: dt.timedelta,
) -> None:
    """Put each new headline in a story: one of the stored stories within ``window`` of the
    batch when it reports the same event, else a new one."""
    lo = _shifted(min(h.published_at for _, h in new), -window)
    hi = _shifted(max(h.published_at for _, h in new), window)
    recent = [
        StoryInput(hid, source, title, at, frozenset(assets), story_id)
        for hid, source, title, at, assets, story_id in store.story_members(
            con, lo, hi, exclude=[hid for hid, _ in new]
        )
    ]
    batch = [
        StoryInput(
            hid,
            h.source,
            h.title,
            h.published_at,
            frozenset(t.asset for t in tags_by_id.get(hid, ()) if not t.ambiguous),
        )
        for hid, h in new
    ]
    assigned = assign_stories(batch, recent, window)
    provisional = sorted({sid for sid in assigned.values() if sid < 0}, reverse=True)
    real = dict(zip(provisional, store.new_story_ids(con, len(provisional)), strict=True))
    store.set_stories(con, {hid: real.get(assigned[hid], assigned[hid]) for hid, _ in new})
