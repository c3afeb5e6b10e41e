"""Feed subscription management (the library behind ``flushwatch feeds ...``)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flushwatch.errors import ConfigError
from flushwatch.ingest.news.catalogue import default_catalogue, read_opml, spec_problem, to_opml
from flushwatch.ingest.news.fetch import is_local
from flushwatch.ingest.news.service import ensure_catalogue
from flushwatch.records.news import FeedHealth, FeedSpec
from flushwatch.storage import news as store
from flushwatch.storage.db import Connection, Database


def list_feeds(db: Database) -> list[FeedHealth]:
    with db.write() as con:
        ensure_catalogue(con)
        return store.feed_health(con)


def add_catalogue(db: Database) -> int:
    version, specs = default_catalogue()
    with db.write() as con:
        return store.load_catalogue(con, specs, version)


def add_one(db: Database, url: str, *, name: str | None, kind: str, language: str | None, tier: int) -> str:
    """Subscribe to one feed: ``'added'``, ``'subscribed'`` (a URL used once with
    ``ingest --feed`` became a subscription) or ``'exists'``.

    The URL, kind and tier are checked before the database is opened; a bad value is a usage
    error (ConfigError, exit 2), so a typo fails here and not on every later ingest. A local
    file is accepted here (the user named it), unlike in OPML files and the catalogue."""
    url = url.strip()
    spec = FeedSpec(
        name=name or urlsplit(url).netloc or url, url=url, kind=kind, language=language, tier=tier
    )
    problem = spec_problem(spec, allow_local=True)  # typed by the user: a local file is fine
    if problem:
        raise ConfigError(problem, hint="see `flushwatch feeds add --help`")
    with db.write() as con:
        ensure_catalogue(con)
        return store.subscribe(con, spec)


def _one(con: Connection, ref: str) -> tuple[int, str, str]:
    found = store.find_feeds(con, ref)
    if not found:
        raise ConfigError(f"no feed named {ref!r}", hint="see `flushwatch feeds list`")
    if len(found) > 1:
        raise ConfigError(f"{ref!r} matches {len(found)} feeds", hint="use the URL or id")
    return found[0]


def remove(db: Database, ref: str) -> str:
    with db.write() as con:
        ensure_catalogue(con)
        feed_id, name, url = _one(con, ref)
        store.remove_feed(con, feed_id)
    return f"{name} ({url})"


def set_enabled(db: Database, ref: str, enabled: bool) -> str:
    with db.write() as con:
        ensure_catalogue(con)
        feed_id, name, url = _one(con, ref)
        store.set_enabled(con, feed_id, enabled)
    return f"{name} ({url})"


def import_opml(db: Database, path: Path) -> tuple[int, int]:
    """(feeds subscribed, feeds in the file). Subscriptions already present stay as they are;
    URLs only used with ``ingest --feed`` become subscriptions with the file's settings."""
    specs = read_opml(path)
    with db.write() as con:
        ensure_catalogue(con)
        added = sum(store.add_feed(con, s, origin="opml") for s in specs)
    return added, len(specs)


def export_opml(db: Database) -> str:
    """Every subscription, enabled or not, as OPML. Left out: one-off ``ingest --feed`` URLs,
    and local-file feeds, which name a file on this machine and which ``import-opml`` refuses
    (so an export always imports)."""
    with db.write() as con:
        ensure_catalogue(con)
        return to_opml([s for s in store.all_feeds(con) if not is_local(s.url)])
