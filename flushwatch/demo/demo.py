"""``flushwatch demo``: the 2025-10-10 BTC flush taken through the real pipeline, offline.

Bundled in ``data/`` (see ``data/README.md``):

* three feed files (RSS 2.0 and Atom) with 30 headlines the flushwatch authors wrote about
  that day — the rare-earth export curbs, the afternoon tariff threat, the 20:51 UTC post
  announcing a 100% tariff on Chinese imports, the market's reaction and the liquidation
  reports — plus unrelated noise;
* ``BTCUSDT-1m-2025-10-10.csv``: Binance USD-M BTCUSDT perpetual 1-minute klines, 20:56 →
  22:59 UTC, in Binance's archive CSV format (public market figures);
* ``BTCUSDT-fundingRate-2025-10-08_10.csv``: its 8-hourly funding rates 10-08 → 10-10 16:00,
  in Binance's funding archive format.

Steps, each the stage's own library code: ingest the feeds (parse, normalise, tag, dedupe,
store), score with the shipped model, import the candles, detect, attribute, then read the
explain view and the day's digest. Nothing is hard-coded about which headline wins.

Replay clock: the feeds are historical, so the demo polls them as a live ``ingest --loop``
would have on that day: each item is first seen at the first poll (every
:data:`POLL_EVERY`) after its pubDate. Attribution times live headlines by first-seen, so this
keeps a headline from looking like it was known before it was published, or 2026.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb

from flushwatch.errors import InputError
from flushwatch.scoring.digest import Digest
from flushwatch.scoring.explain import Explanation
from flushwatch.storage.db import Connection, Database

log = logging.getLogger(__name__)

DEMO_DAY = dt.date(2025, 10, 10)
POLL_EVERY = dt.timedelta(minutes=2)
#: (file, outlet name, feed kind, tier)
FEEDS = (
    ("macro_wire.rss", "Demo Macro Wire", "macro", 1),
    ("crypto_desk.atom", "Demo Crypto Desk", "crypto", 2),
    ("markets_blog.rss", "Demo Markets Blog", "crypto", 3),
)
CANDLES = "BTCUSDT-1m-2025-10-10.csv"
FUNDING = "BTCUSDT-fundingRate-2025-10-08_10.csv"


@dataclass(frozen=True)
class DemoResult:
    db_path: Path
    headlines: int
    scored: int
    candles: int
    flush_id: int | None
    explanation: Explanation | None
    digest: Digest


def data_dir() -> Path:
    return Path(str(resources.files("flushwatch.demo").joinpath("data")))


def default_db_path() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("flushwatch", appauthor=False)) / "demo.duckdb"


#: The table the demo writes into its database; only a file holding it is ever replaced.
DEMO_MARKER = "flushwatch_demo"


def mark_demo(con: Connection) -> None:
    """Record in the open database that the demo made it (and may delete it next run)."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {DEMO_MARKER} (created_at TIMESTAMPTZ, note VARCHAR)")
    con.execute(
        f"INSERT INTO {DEMO_MARKER} VALUES (now(), 'made by flushwatch demo; recreated on every run')"
    )


def is_demo_db(con: Connection) -> bool:
    """Whether the open database is one the demo made: it holds :data:`DEMO_MARKER`, or (made
    before the marker existed) its only feeds are the bundled demo feed files."""
    tables = {
        str(r[0])
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    if DEMO_MARKER in tables:
        return True
    if "feeds" not in tables:
        return False
    urls = [str(r[0]) for r in con.execute("SELECT url FROM feeds").fetchall()]
    names = {filename for filename, *_ in FEEDS}
    return bool(urls) and all(u.startswith("file:") and u.rsplit("/", 1)[-1] in names for u in urls)


def _refuse(path: Path, why: str) -> InputError:
    return InputError(
        f"{why}; the demo only replaces a database it made itself: give a new path with --db",
        path=path,
    )


def fresh_db(path: Path, *, wait_s: float | None = None) -> Database:
    """The demo database, recreated so every run starts from nothing.

    ``path`` is replaced only when it is missing or an earlier demo database; any other file
    is an :class:`InputError`, and one another process holds open raises
    :class:`DatabaseBusy` after ``wait_s`` (default: ``--wait`` / ``FLUSHWATCH_WAIT``).
    """
    from flushwatch.config import resolve_wait
    from flushwatch.storage.db import connect

    wal = path.with_name(path.name + ".wal")
    if path.is_dir():
        raise _refuse(path, "is a directory")
    if path.exists():
        try:
            with path.open("rb") as fh:
                head = fh.read(12)
        except OSError as exc:
            raise _refuse(path, f"cannot read it ({exc.strerror or exc})") from exc
        if head[8:12] != b"DUCK":
            raise _refuse(path, "exists and is not a DuckDB database")
        con = connect(path, read_only=False, wait_s=resolve_wait(None) if wait_s is None else wait_s)
        try:
            try:
                demo = is_demo_db(con)
            except duckdb.Error:
                demo = False
            if not demo:
                raise _refuse(path, "exists and is not a flushwatch demo database")
            if os.name != "nt":  # unlink while holding the lock, so no other writer slips in
                for p in (path, wal):
                    p.unlink(missing_ok=True)
        finally:
            con.close()
        for p in (path, wal):
            p.unlink(missing_ok=True)
    elif wal.exists():
        # A WAL with no database beside it: nothing of the user's to keep, but do not replay it.
        wal.unlink()
    db = Database(path, snapshot=False, wait_s=resolve_wait(None) if wait_s is None else wait_s)
    with db.write() as con:
        mark_demo(con)
    return db


def first_poll_after(published: dt.datetime) -> dt.datetime:
    """The first poll, on a POLL_EVERY grid, strictly after ``published``."""
    step = POLL_EVERY.total_seconds()
    return dt.datetime.fromtimestamp((published.timestamp() // step + 1) * step, dt.UTC)


def ingest_feeds(db: Database, run_id: int) -> int:
    """Replay-ingest the bundled feed files through the news stages; returns headlines stored."""
    from flushwatch.ingest.news.assets import tag_assets
    from flushwatch.ingest.news.batch import store_headlines
    from flushwatch.ingest.news.parse import parse_feed
    from flushwatch.ingest.news.service import _Feed, headlines_from
    from flushwatch.records.news import AssetTag, FeedSpec, Headline, ParsedFeed
    from flushwatch.storage import news as store

    total = 0
    with db.write() as con:
        for filename, name, kind, tier in FEEDS:
            path = data_dir() / filename
            url = path.as_uri()
            store.add_feed(
                con, FeedSpec(name=name, url=url, kind=kind, language="en", tier=tier), origin="user"
            )
            (feed_id,) = con.execute("SELECT feed_id FROM feeds WHERE url = ?", [url]).fetchall()[0]
            feed = _Feed(int(feed_id), name, url, kind, None, None)
            parsed = parse_feed(url, path.read_bytes(), "application/xml")
            # Group entries by the poll that would first have seen them.
            polls: dict[dt.datetime, list] = {}
            for item in parsed.items:
                seen = first_poll_after(item.published_at) if item.published_at else dt.datetime.now(dt.UTC)
                polls.setdefault(seen, []).append(item)
            items = []
            for seen, raw in sorted(polls.items()):
                items += headlines_from(feed, ParsedFeed(parsed.title, parsed.language, tuple(raw)), seen)
            default_market = kind in ("macro", "regulator")

            def tagger(h: Headline, dm: bool = default_market) -> tuple[AssetTag, ...]:
                return tag_assets(h.title, default_market=dm)

            store_headlines(con, items, run_id=run_id, tagger=tagger)
            (stored,) = con.execute(
                "SELECT count(*) FROM headlines WHERE feed_id = ?", [feed.feed_id]
            ).fetchall()[0]
            store.record_feed_success(
                con, feed.feed_id, status=200, etag=None, last_modified=None, items=int(stored), at=max(polls)
            )
            total += int(stored)
    return total


def import_market(db: Database, run_id: int) -> tuple[int, int]:
    """Load the bundled candles and funding rates with the market importer; returns rows added."""
    from flushwatch.ingest.market.importer import import_candles, import_funding

    candles = import_candles(db, [data_dir() / CANDLES], run_id=run_id, venue="binance", market="perp")
    funding = import_funding(db, [data_dir() / FUNDING], run_id=run_id, venue="binance", symbol="BTCUSDT")
    return candles.rows_new, funding.rows_new


def run_demo(
    db_path: Path | None = None,
    say: Callable[[str], None] = lambda _: None,
    *,
    wait_s: float | None = None,
) -> DemoResult:
    """Build the demo database from scratch and return the flush explanation and the digest.

    An existing ``db_path`` that is not an earlier demo database is refused (see :func:`fresh_db`).
    """
    path = db_path or default_db_path()
    db = fresh_db(path, wait_s=wait_s)  # first: a refused path fails before the heavy imports

    from flushwatch.nlp.pipeline import score_unscored
    from flushwatch.scoring.attribution import attribute
    from flushwatch.scoring.detect import detect
    from flushwatch.scoring.digest import build_digest, day_window
    from flushwatch.scoring.explain import explain

    with db.run("demo") as run:
        n = ingest_feeds(db, run.run_id)
        say(f"1/5 ingest: {n} headlines from {len(FEEDS)} bundled feeds")
        scored = score_unscored(db)
        n_scored = scored.scored
        say(f"2/5 score: {n_scored} headlines scored by the shipped model")
        candles, funding = import_market(db, run.run_id)
        say(f"3/5 import: {candles} BTCUSDT perpetual 1m candles, {funding} funding rates")
        d = detect(db, run_id=run.run_id)
        say(f"4/5 detect: {d.flushes_found} flush(es) found in {d.bars} bars")
        a = attribute(db, run_id=run.run_id)
        say(f"5/5 attribute: {a.catalysts} catalyst rows for {a.flushes} flush(es)")
        run.add("headlines", n)
        run.add("candles", candles)
    with db.read() as con:
        row = con.execute(
            "SELECT flush_id FROM flushes WHERE asset = 'BTC' ORDER BY severity DESC, flush_id LIMIT 1"
        ).fetchone()
    flush_id = int(row[0]) if row else None
    ex = explain(db, flush_id) if flush_id is not None else None
    digest = build_digest(db, day_window(DEMO_DAY))
    return DemoResult(path, n, n_scored, candles, flush_id, ex, digest)
