"""The feed parser: feedparser on fetched bytes, what it refuses, and what it recovers from.

A feed whose bytes are Latin-1 / windows-1252 while it declares UTF-8 is real (hand-rolled
feeds write "Café" and curly quotes as single bytes): every item is stored with the right
text, and the mislabel shows in the feed's health so someone can tell the publisher.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from flushwatch.errors import FeedError
from flushwatch.ingest.news.fetch import FeedFetchOptions
from flushwatch.ingest.news.parse import parse_feed
from flushwatch.ingest.news.service import run_ingest
from flushwatch.storage.db import Database
from tests.test_ingest_http import Server

FAST = FeedFetchOptions(timeout_s=5.0, retries=0, backoff_s=0.01)
# windows-1252 bytes: 0xE9 is "é", 0x93/0x94 are curly double quotes; none of them is UTF-8.
MISLABELLED = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Desk</title>'
    b"<item><title>Caf\xe9 owner buys bitcoin</title><guid>m-1</guid>"
    b"<pubDate>Mon, 13 Mar 2023 10:00:00 GMT</pubDate></item>"
    b"<item><title>Exchange calls it \x93temporary\x94</title><guid>m-2</guid>"
    b"<pubDate>Mon, 13 Mar 2023 10:01:00 GMT</pubDate></item></channel></rss>"
)
TITLES = {"Café owner buys bitcoin", "Exchange calls it “temporary”"}
NOTE = "mislabelled encoding, items kept: document declared as utf-8, but parsed as windows-1252"


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def _health(db: Database, urls: list[str]) -> list[tuple[str, str | None, int]]:
    with db.read() as con:
        return con.execute(
            "SELECT url, last_error, consecutive_failures FROM feeds WHERE list_contains(?, url) ORDER BY 1",
            [urls],
        ).fetchall()


def _titles(db: Database) -> set[str]:
    with db.read() as con:
        return {r[0] for r in con.execute("SELECT title FROM headlines").fetchall()}


@pytest.mark.parametrize("content_type", ["application/rss+xml", "application/rss+xml; charset=utf-8"])
def test_mislabelled_feed_over_http_keeps_items_and_notes_it(
    server: Server, db: Database, content_type: str
) -> None:
    server.static("/latin1.xml", MISLABELLED, content_type)
    server.static("/utf8.xml", MISLABELLED.decode("cp1252").encode("utf-8"), content_type)
    urls = [server.url("/latin1.xml"), server.url("/utf8.xml")]
    summary = run_ingest(db, urls=urls, options=FAST)
    assert summary.n("ok") == 2 and summary.n("failed") == 0
    assert _titles(db) == TITLES  # the UTF-8 copy meets the same GUIDs' rows: nothing twice
    assert summary.counts.new == 2 and summary.counts.duplicate == 2
    # Healthy (no failure counted), with the note where feed errors are shown; the correctly
    # labelled copy has none.
    assert _health(db, urls) == [(urls[0], NOTE, 0), (urls[1], None, 0)]


def test_mislabelled_feed_file_keeps_items_and_feeds_list_shows_the_note(
    cli,  # type: ignore[no-untyped-def]
    db_path: Path,
    tmp_path: Path,
) -> None:
    path = tmp_path / "latin1.xml"
    path.write_bytes(MISLABELLED)
    ingested = cli("ingest", "--db", str(db_path), "--feed", str(path))
    assert ingested.code == 0, ingested.err
    assert "feeds: 1 ok, 0 not modified, 0 failed; items: 2 new" in ingested.out
    assert _titles(Database(db_path, wait_s=5, snapshot=False)) == TITLES
    listed = json.loads(cli("feeds", "list", "--db", str(db_path), "-f", "json").out)
    (row,) = [r for r in listed if r["url"] == str(path)]
    assert row["last_error"] == NOTE and row["failures"] == 0 and row["last_success"]


def test_parse_feed_reads_the_bytes_as_windows_1252_and_returns_the_note() -> None:
    feed = parse_feed("https://x.test/feed", MISLABELLED, "application/rss+xml")
    assert {i.title for i in feed.items} == TITLES and feed.note == NOTE
    # The document's own declaration replacing text/xml's US-ASCII default is no mislabel.
    utf8 = parse_feed("https://x.test/feed", MISLABELLED.decode("cp1252").encode("utf-8"), "text/xml")
    assert {i.title for i in utf8.items} == TITLES and utf8.note is None


# -- refusals and whole-document failures -----------------------------------------------------

RSS = (
    b'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title>'
    b"<item><title>Bitcoin rallies</title><guid>1</guid></item></channel></rss>"
)


def test_errors_name_what_is_wrong_with_the_document() -> None:
    with pytest.raises(FeedError, match="malformed or truncated XML"):
        parse_feed("u", RSS[:-30], "application/rss+xml")
    with pytest.raises(FeedError, match="not an RSS or Atom document"):
        parse_feed("u", b'<?xml version="1.0"?><note><to>x</to></note>', "application/xml")
    with pytest.raises(FeedError, match="entities"):
        parse_feed("u", b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><rss/>', None)
    with pytest.raises(FeedError, match="unknown encoding"):
        parse_feed("u", RSS.replace(b"UTF-8", b"no-such-codec"), None)


def test_all_broken_entries_fail_the_feed() -> None:
    body = RSS.replace(
        b"<item><title>Bitcoin rallies</title><guid>1</guid></item>",
        b"<item><link>https://x.test/a</link></item><item><title> </title></item>",
    )
    with pytest.raises(FeedError, match="all 2 entries are broken"):
        parse_feed("u", body)


def test_feedparser_never_reads_a_path_named_by_the_body(tmp_path: Path) -> None:
    """Bare bytes naming an existing file would make feedparser open it."""
    local = tmp_path / "feed.xml"
    local.write_bytes(RSS)
    with pytest.raises(FeedError):
        parse_feed("u", str(local).encode(), None)
