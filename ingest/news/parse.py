"""The pure feed parser: ``(url, bytes, content type) -> ParsedFeed``. It never fetches.

feedparser does the RSS 0.9x/1.0/2.0 and Atom work on bytes we already hold (plain RSS 2.0 /
Atom 1.0 documents take an exact expat fast path first, see ``fastparse``). Before either runs we
refuse what must not be parsed at all: a document declaring XML entities (billion laughs and
external entities), an HTML page served where a feed should be, and bytes that contradict their
declared encoding. After it runs, a document that is not well-formed XML fails as a whole (a
truncated download would otherwise yield a silent prefix), while one broken entry inside a good
feed is skipped with a warning.
"""

from __future__ import annotations

import calendar
import codecs
import datetime as dt
import io
import logging
import re
from typing import Any

from flushwatch.errors import FeedError
from flushwatch.ingest.news.fastparse import parse_fast
from flushwatch.records.news import ParsedFeed, RawItem

log = logging.getLogger(__name__)

_PROLOG_BYTES = 4096
_ENTITY_RE = re.compile(rb"<!ENTITY", re.IGNORECASE)
_HTML_RE = re.compile(
    rb"^\s*(<!--.*?-->\s*)*(<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])", re.IGNORECASE | re.DOTALL
)
_DECL_ENC_RE = re.compile(rb"<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_CT_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", re.IGNORECASE)
# feedparser falls back to its loose parser on these and still gets every entry right.
_TOLERATED_SAX = ("undefined entity",)


def _declared_encoding(body: bytes, content_type: str | None) -> str | None:
    if content_type:
        ct = _CT_CHARSET_RE.search(content_type)
        if ct:
            return ct.group(1)
    decl = _DECL_ENC_RE.search(body[:_PROLOG_BYTES])
    return decl.group(1).decode("ascii") if decl else None


def check_bytes(url: str, body: bytes, content_type: str | None) -> None:
    """Refuse bytes that must not reach an XML parser; raises FeedError (terminal)."""
    if not body.strip():
        raise FeedError(url, "empty response body", hint="the server sent no feed")
    head = body[:_PROLOG_BYTES]
    if _ENTITY_RE.search(head) or (b"<!DOCTYPE" in head.upper() and _ENTITY_RE.search(body[:65536])):
        raise FeedError(url, "the document declares XML entities; refused (entity expansion)")
    if _HTML_RE.match(head) or (
        (content_type or "").lower().startswith("text/html")
        and b"<rss" not in head
        and b"<feed" not in head
        and b"<rdf" not in head.lower()
    ):
        raise FeedError(url, "served an HTML page, not an RSS/Atom feed", hint="check the feed URL")
    encoding = _declared_encoding(body, content_type)
    if encoding:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError as exc:
            raise FeedError(url, f"declares unknown encoding {encoding!r}") from exc
        try:
            body.decode(codec)
        except UnicodeDecodeError as exc:
            raise FeedError(
                url,
                f"declares encoding {encoding} but the bytes are not {encoding} "
                f"(byte {exc.start}: {body[exc.start : exc.start + 1]!r})",
            ) from exc


def _struct_to_utc(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromtimestamp(calendar.timegm(value), tz=dt.UTC)
    except (OverflowError, ValueError, TypeError):
        return None


def _entry(entry: Any) -> RawItem | None:
    title = entry.get("title")
    if not title or not str(title).strip():
        return None
    link = entry.get("link")
    guid = entry.get("id") or None
    summary = entry.get("summary")
    published = _struct_to_utc(entry.get("published_parsed") or entry.get("updated_parsed"))
    return RawItem(
        guid=str(guid).strip() if guid else None,
        url=str(link).strip() if link else None,
        title=str(title),
        summary=str(summary) if summary else None,
        published_at=published,
    )


def parse_feed(url: str, body: bytes, content_type: str | None = None, *, fast: bool = True) -> ParsedFeed:
    """Parse one feed document. Raises FeedError when the document as a whole is unusable.

    Plain RSS 2.0 / Atom 1.0 documents take the expat fast path (``fastparse``), which yields
    exactly what feedparser would; anything it is unsure of, and every error, goes to feedparser.
    ``fast=False`` forces feedparser (benchmarks, equivalence tests)."""
    check_bytes(url, body, content_type)
    quick = parse_fast(body, content_type) if fast else None
    if quick is not None:
        feed, entries = quick.feed, quick.entries
    else:
        feed, entries = _feedparser(url, body, content_type)
    items: list[RawItem] = []
    skipped = 0
    for i, entry in enumerate(entries):
        try:
            item = _entry(entry)
        except Exception as exc:  # one broken entry never fails the feed
            item = None
            log.warning("%s: entry %d skipped: %s", url, i + 1, exc)
        if item is None:
            skipped += 1
            log.warning("%s: entry %d skipped: no title", url, i + 1)
            continue
        items.append(item)
    if skipped and not items:
        raise FeedError(url, f"all {skipped} entries are broken")
    return ParsedFeed(
        title=feed.get("title"),
        language=feed.get("language"),
        items=tuple(items),
        skipped=skipped,
    )


def _feedparser(url: str, body: bytes, content_type: str | None) -> tuple[Any, Any]:
    """feedparser's (feed, entries), or FeedError for documents that fail as a whole."""
    import feedparser

    headers = {"content-type": content_type} if content_type else {}
    try:
        # A stream, never bare bytes: feedparser opens bytes that name an existing path as a file.
        parsed = feedparser.parse(
            io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
        )
    except Exception as exc:  # feedparser raises odd things on odd bytes
        raise FeedError(url, f"cannot parse feed: {exc}") from exc
    if parsed.get("bozo"):
        problem = parsed.get("bozo_exception")
        name = type(problem).__name__
        message = str(problem)
        if "SAX" in name or "Parse" in name or "NonXMLContentType" in name or "Unicode" in name:
            if not any(t in message for t in _TOLERATED_SAX):
                raise FeedError(url, f"malformed or truncated XML: {message or name}")
        elif "CharacterEncoding" in name:
            raise FeedError(url, f"encoding problem: {message}")
    if not parsed.get("version"):
        raise FeedError(url, "not an RSS or Atom document", hint="check the feed URL")
    return parsed.get("feed", {}), parsed.entries
