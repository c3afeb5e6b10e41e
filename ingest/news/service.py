"""One ingest pass, end to end: choose feeds -> fetch all -> parse -> normalise -> store.

The database is held twice per pass and briefly each time: once to read which feeds to fetch
(and their validators), once to store. Fetching happens with no database held, so a live
``--loop`` leaves the file free for readers most of the time. Each feed's items and its new
ETag / Last-Modified commit in one transaction. A failed feed records its error and the pass
goes on; when any feed failed, :class:`PartialFailure` is raised after everything good is
stored (exit code 3).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from flushwatch.errors import FeedError, PartialFailure
from flushwatch.ingest.news.assets import tag_assets
from flushwatch.ingest.news.batch import counts_by_feed, store_headlines
from flushwatch.ingest.news.catalogue import default_catalogue, url_problem
from flushwatch.ingest.news.fetch import FeedFetchOptions, FetchRequest, fetch_feeds, is_local, local_path
from flushwatch.ingest.news.normalise import normalise_item
from flushwatch.ingest.news.parse import parse_feed
from flushwatch.ingest.news.stories import DEFAULT_WINDOW
from flushwatch.records.news import (
    AssetTag,
    FeedOutcome,
    FeedSpec,
    FetchResult,
    Headline,
    IngestSummary,
    ParsedFeed,
    StoreCounts,
)
from flushwatch.storage import news as store
from flushwatch.storage.db import Connection, Database

log = logging.getLogger(__name__)


class IngestPartialFailure(PartialFailure):
    """Some feeds failed; ``summary`` is the pass's full outcome, so the CLI can print it on
    stdout as on success before exiting 3 (the message alone goes to stderr)."""

    def __init__(self, message: str, failures: list[str], summary: IngestSummary) -> None:
        super().__init__(message, failures)
        self.summary = summary


@dataclass(frozen=True)
class _Feed:
    feed_id: int
    name: str
    url: str
    kind: str
    etag: str | None
    last_modified: str | None


def ensure_catalogue(con: Connection) -> int:
    """Load the default catalogue into ``feeds`` the first time a database is used."""
    if store.catalogue_loaded(con):
        return 0
    version, specs = default_catalogue()
    return store.load_catalogue(con, specs, version)


def _adhoc_spec(url: str) -> FeedSpec:
    name = local_path(url).name if is_local(url) else (urlsplit(url).netloc or url)
    return FeedSpec(name=name, url=url, kind="crypto", language=None, tier=3, enabled=False)


def _select_feeds(db: Database, only: Sequence[str], urls: Sequence[str]) -> list[_Feed]:
    with db.write() as con:
        ensure_catalogue(con)
        known = store.known_urls(con, urls)
        new = [url for url in urls if url not in known]
        for url in new:  # all checked before any is stored: the transaction rolls back on a typo
            problem = url_problem(url, allow_local=True)  # the user's own command line
            if problem:
                from flushwatch.errors import ConfigError

                raise ConfigError(f"--feed {problem}", hint="give an http(s) feed URL or an existing file")
        for url in new:
            # A URL given for one run is remembered disabled, so its validators persist.
            store.add_feed(con, _adhoc_spec(url), origin="adhoc")
        wanted = [*only, *urls]
        rows = store.feeds_to_fetch(con, wanted)
    if wanted and not rows:
        from flushwatch.errors import ConfigError

        raise ConfigError(f"no feed matches {', '.join(wanted)}", hint="see `flushwatch feeds list`")
    return [_Feed(*r) for r in rows]


def headlines_from(feed: _Feed, parsed: ParsedFeed, first_seen: dt.datetime) -> list[Headline]:
    out = []
    for raw in parsed.items:
        h = normalise_item(
            raw,
            source=feed.name,
            first_seen=first_seen,
            origin="feed",
            feed_id=feed.feed_id,
            feed_language=parsed.language,
        )
        if h is not None:
            out.append(h)
    return out


def run_ingest(
    db: Database,
    *,
    only: Sequence[str] = (),
    urls: Sequence[str] = (),
    options: FeedFetchOptions | None = None,
    story_window: dt.timedelta = DEFAULT_WINDOW,
    progress: Callable[[int], Callable[[], None]] | None = None,
) -> IngestSummary:
    """One pass over the enabled feeds (or those named). Raises PartialFailure (after storing
    every good feed) when some feeds failed. Scoring what it stored is a job's decision
    (:mod:`flushwatch.jobs.ingest`), not the stage's."""
    start = time.perf_counter()
    with db.run("ingest") as run:
        feeds = _select_feeds(db, only, urls)
        requests = [FetchRequest(f.url, f.etag, f.last_modified) for f in feeds]
        tick = progress(len(requests)) if progress else None
        results = fetch_feeds(requests, options or FeedFetchOptions(), tick)
        outcomes = _store(db, feeds, results, run.run_id, story_window)
        summary = IngestSummary(tuple(outcomes), time.perf_counter() - start)
        c = summary.counts
        for key, n in (
            ("feeds_ok", summary.n("ok")),
            ("feeds_not_modified", summary.n("not_modified")),
            ("feeds_failed", summary.n("failed")),
            ("items_new", c.new),
            ("items_updated", c.updated),
            ("items_duplicate", c.duplicate),
        ):
            run.add(key, n)
        failed = [o for o in outcomes if o.status == "failed"]
        if failed:
            raise IngestPartialFailure(
                f"{len(failed)} of {len(outcomes)} feeds failed; {summary.line()}",
                [f"{o.name}: {o.error}" for o in failed],
                summary,
            )
    return summary


def _store(
    db: Database,
    feeds: Sequence[_Feed],
    results: Sequence[FetchResult | FeedError],
    run_id: int,
    story_window: dt.timedelta,
) -> list[FeedOutcome]:
    # Parse everything first (CPU, no database held), then store in one short connection.
    prepared: list[tuple[_Feed, FetchResult | FeedError, list[Headline], ParsedFeed | None]] = []
    for feed, result in zip(feeds, results, strict=True):
        if isinstance(result, FetchResult) and result.status != 304:
            try:
                parsed = parse_feed(feed.url, result.body or b"", result.content_type)
            except FeedError as exc:
                prepared.append((feed, exc, [], None))
                continue
            first_seen = result.fetched_at or dt.datetime.now(dt.UTC)
            prepared.append((feed, result, headlines_from(feed, parsed, first_seen), parsed))
        else:
            prepared.append((feed, result, [], None))
    kinds = {f.feed_id: f.kind for f in feeds}

    def tagger(h: Headline) -> tuple[AssetTag, ...]:
        return tag_assets(h.title, default_market=kinds.get(h.feed_id or -1) in ("macro", "regulator"))

    outcomes: list[FeedOutcome] = []
    now = dt.datetime.now(dt.UTC)
    # One transaction for the pass: every feed's items together with its validators and health
    # commit at once (a crash can never record an ETag whose items were lost), and the whole
    # batch is decided, inserted, tagged and clustered in bulk.
    with db.write() as con:
        plan = store_headlines(
            con,
            [h for _, _, items, _ in prepared for h in items],
            run_id=run_id,
            tagger=tagger,
            story_window=story_window,
        )
        per_feed = counts_by_feed(plan)
        for feed, result, _items, doc in prepared:
            if isinstance(result, FeedError):
                message = str(result)
                log.warning("%s", result.one_line())
                store.record_feed_failure(con, feed.feed_id, error=message, status=result.status, at=now)
                outcomes.append(FeedOutcome(feed.name, feed.url, "failed", error=message))
                continue
            counts = per_feed.get(feed.feed_id, StoreCounts())
            store.record_feed_success(
                con,
                feed.feed_id,
                status=result.status,
                etag=result.etag,
                last_modified=result.last_modified,
                items=counts.new,
                at=now,
                note=doc.note if doc else None,
            )
            status = "not_modified" if result.status == 304 else "ok"
            log.info(
                "%s: %s, %d new, %d updated, %d duplicate",
                feed.name,
                status,
                counts.new,
                counts.updated,
                counts.duplicate,
            )
            skipped = doc.skipped if doc else 0
            outcomes.append(FeedOutcome(feed.name, feed.url, status, counts, skipped_entries=skipped))
    return outcomes
