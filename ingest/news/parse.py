"""The pure feed parser: ``(url, bytes, content type) -> ParsedFeed``. It never fetches.

feedparser does the RSS 0.9x/1.0/2.0 and Atom work on bytes we already hold. Before it runs we
refuse what must not be parsed at all: a document declaring XML entities (billion laughs and
external entities), an HTML page served where a feed should be, and an encoding no codec
knows. After it runs, a document that is not well-formed XML fails as a whole (a
truncated download would otherwise yield a silent prefix), while one broken entry inside a good
feed is skipped with a warning.

feedparser reports only its *first* problem (``bozo_exception``), so it is classified here:
a media type it does not consider XML, an encoding it took from the document instead of the
media type's default (``text/xml`` without a charset means US-ASCII by RFC 3023), or bytes that
are not the encoding they claim (Latin-1 labelled UTF-8, common in hand-rolled feeds), which
feedparser reads as windows-1252, are logged and the feed is kept; the last one is also returned
as the feed's ``note``, so its health shows the publisher's mistake. An entity XML does not
define (``&nbsp;``) stops its strict parser, so the rest of the document is checked for
well-formedness again with those entities skipped, and a later truncation still fails the feed.
"""

from __future__ import annotations

import calendar
import codecs
import datetime as dt
import io
import logging
import re
import xml.parsers.expat
from typing import Any

from flushwatch.errors import FeedError
from flushwatch.records.news import ParsedFeed, RawItem

log = logging.getLogger(__name__)

_PROLOG_BYTES = 4096
_ENTITY_RE = re.compile(rb"<!ENTITY", re.IGNORECASE)
_HTML_RE = re.compile(
    rb"^\s*(<!--.*?-->\s*)*(<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>])", re.IGNORECASE | re.DOTALL
)
_DECL_ENC_RE = re.compile(rb"<\?xml[^>]*encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")
_CT_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", re.IGNORECASE)
_XML_DECL_RE = re.compile(r"^<\?xml[^>]*?>")
# The one strict-parser error feedparser's loose parser recovers from with every entry right.
_UNDEFINED_ENTITY = "undefined entity"
_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)


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
            codecs.lookup(encoding)
        except LookupError as exc:
            raise FeedError(url, f"declares unknown encoding {encoding!r}") from exc


_CHAR_REF_RE = re.compile(rb"&#(x[0-9a-fA-F]{1,8}|[0-9]{1,10});")


def _without_surrogate_refs(body: bytes) -> bytes:
    """``&#xD800;`` names half of a UTF-16 pair, not a character: XML forbids it, and feedparser
    fails the whole feed when it meets one. Each such reference becomes U+FFFD, so one odd
    title costs a replacement character instead of every item of the feed."""
    if b"&#" not in body:
        return body

    def fix(match: re.Match[bytes]) -> bytes:
        ref = match.group(1)
        code = int(ref[1:], 16) if ref.startswith(b"x") else int(ref)
        return b"&#xFFFD;" if 0xD800 <= code <= 0xDFFF else match.group(0)

    return _CHAR_REF_RE.sub(fix, body)


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


def parse_feed(url: str, body: bytes, content_type: str | None = None) -> ParsedFeed:
    """Parse one feed document. Raises FeedError when the document as a whole is unusable."""
    check_bytes(url, body, content_type)
    feed, entries, note = _feedparser(url, _without_surrogate_refs(body), content_type)
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
        note=note,
    )


def _feedparser(url: str, body: bytes, content_type: str | None) -> tuple[Any, Any, str | None]:
    """feedparser's (feed, entries) and the note on a problem it recovered from, or FeedError
    for documents that fail as a whole."""
    import feedparser

    headers = {"content-type": content_type} if content_type else {}
    try:
        # A stream, never bare bytes: feedparser opens bytes that name an existing path as a file.
        parsed = feedparser.parse(
            io.BytesIO(body), response_headers=headers, sanitize_html=False, resolve_relative_uris=False
        )
    except Exception as exc:  # feedparser raises odd things on odd bytes
        raise FeedError(url, f"cannot parse feed: {exc}") from exc
    note = None
    if parsed.get("bozo"):
        note = _judge_problem(url, body, parsed.get("bozo_exception"), parsed.get("encoding"))
    if not parsed.get("version"):
        raise FeedError(url, "not an RSS or Atom document", hint="check the feed URL")
    return parsed.get("feed", {}), parsed.entries, note


def _judge_problem(url: str, body: bytes, problem: object, used_encoding: str | None) -> str | None:
    """Raise FeedError when feedparser's reported problem makes the document unusable; return
    the note for the feed's health when the bytes are not the encoding the feed declares.

    Warnings feedparser raises while still parsing every entry right are logged, not fatal:
    ``NonXMLContentType`` (served as text/plain, application/octet-stream, ...) and a
    ``CharacterEncodingOverride``: either it only replaced the media type's default (US-ASCII
    for text/xml without a charset) by the encoding the document itself declares, or the bytes
    are not what the feed claims and feedparser found an encoding that reads them. Losing every
    item of a feed over one mislabelled accent helps nobody; a wrong guess costs a few odd
    characters. No usable encoding at all (``CharacterEncodingUnknown``) is fatal."""
    name = type(problem).__name__
    message = str(problem) or name
    if name == "NonXMLContentType":
        log.info("%s: %s; parsed as XML anyway", url, message)
        return None
    if name == "CharacterEncodingOverride":
        if _same_codec(used_encoding, _document_encoding(body)):
            log.info("%s: %s (the document's own declaration)", url, message)
            return None
        log.warning("%s: %s; the bytes are not the encoding the feed declares", url, message)
        return f"mislabelled encoding, items kept: {message}"
    if name.startswith("CharacterEncoding"):
        raise FeedError(url, f"encoding problem: {message}")
    if "SAX" in name or "Parse" in name or "Unicode" in name:
        if _UNDEFINED_ENTITY in message:
            later = _xml_error_skipping_entities(body, used_encoding)
            if later is None:
                return None
            message = later
        raise FeedError(url, f"malformed or truncated XML: {message}")
    return None


def _document_encoding(body: bytes) -> str:
    """The encoding the document names for itself: its BOM, its XML declaration, else UTF-8."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return encoding
    decl = _DECL_ENC_RE.search(body[:_PROLOG_BYTES])
    return decl.group(1).decode("ascii") if decl else "utf-8"


def _same_codec(a: str | None, b: str | None) -> bool:
    """Whether two encoding labels name one codec (feedparser reads gb2312 as gb18030)."""

    def norm(label: str) -> str:
        name = codecs.lookup(label).name
        return "gb18030" if name == "gb2312" else name

    if not a or not b:
        return False
    try:
        return norm(a) == norm(b)
    except LookupError:
        return False


def _xml_error_skipping_entities(body: bytes, encoding: str | None) -> str | None:
    """The first well-formedness error after undefined entities, or None when there is none.

    feedparser's strict parser stops at the first ``&nbsp;`` and its loose parser accepts any
    prefix, so a download cut off later would be stored silently. expat with a foreign DTD
    treats undefined entities as skipped (the DTD could have defined them) and still reports
    every other error; it never loads a DTD here (no external-entity handler, and check_bytes
    refused entity declarations). The input is what feedparser's strict parser reads: the body
    decoded, BOM dropped, XML declaration naming UTF-8."""
    text = body.decode(encoding or "utf-8", errors="replace").lstrip("\ufeff")
    text = _XML_DECL_RE.sub("<?xml version='1.0' encoding='utf-8'?>", text, count=1)
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    parser.UseForeignDTD(True)
    try:
        parser.Parse(text, True)
    except xml.parsers.expat.ExpatError as exc:
        return str(exc)
    return None
