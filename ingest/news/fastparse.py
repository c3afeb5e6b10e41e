"""A fast, conservative parse path for plain RSS 2.0 and Atom 1.0 documents.

Why: feedparser is the parser of record, but on ordinary feeds it is most of ingest's CPU time
(a pure-Python SAX handler per element). For the plain, well-formed documents that make up
nearly all traffic, expat via the C-accelerated ``xml.etree.ElementTree`` builds the same
values several times faster.

Contract: :func:`parse_fast` returns exactly the subset of feedparser's result that
``parse.parse_feed`` reads (feed ``title`` and ``language``; per entry ``title``, ``link``,
``id``, ``summary``, ``published_parsed`` / ``updated_parsed``), computed the way feedparser's
strict (SAX) parser computes them, or ``None`` to hand the document to feedparser. It returns
``None`` at any doubt: an element or attribute outside the small set modelled here, a DOCTYPE,
a parse error (undefined entity, truncation), an encoding other than UTF-8 (or ASCII), a
content type feedparser would flag, xml:base, a relative or non-http link, a date feedparser's
own date parser cannot read, duplicated fields whose precedence is subtle, inline XHTML.
tests/test_fastparse.py holds it equal to feedparser field by field.

The feedparser rules reproduced here, each from feedparser 6's mixin/namespace code:
* text values are stripped, then (pure-ASCII aside) re-read as UTF-8 when they are UTF-8 bytes
  read as Latin-1, then C1 controls are mapped to their cp1252 characters;
* ``link`` and permalink ``id`` go through feedparser's ``_urljoin`` with an empty base (only
  its "scheme:///" fix-up applies); an entry ``link`` has ``&amp;`` / ``&name;`` undone;
* a permalink guid (RSS default, every Atom ``id``) is the link when no link came before it;
* the first description-like element is the summary; ``content:encoded`` / Atom ``content``
  fill it only when none is set; a later one is read as content (no effect) or, when a
  content element came first, replaces it unless it sits deeper (feedparser's depth map);
* dates go through feedparser's own ``_parse_date``, so they cannot disagree.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_ATOM = "http://www.w3.org/2005/Atom"
_XML = "http://www.w3.org/XML/1998/namespace"
_DC = "http://purl.org/dc/elements/1.1/"
_CONTENT = "http://purl.org/rss/1.0/modules/content/"
_MEDIA = "http://search.yahoo.com/mrss/"
_XML_LANG = "{" + _XML + "}lang"

# feedparser's prefix for each namespace URI a modelled element may live in, lower-cased as
# feedparser matches them. A document that binds one of these prefixes to another namespace
# would make feedparser route elements to other handlers: declined.
_STANDARD_PREFIX = {
    "http://www.w3.org/2005/atom": "",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://purl.org/dc/terms/": "dcterms",
    "http://purl.org/rss/1.0/modules/content/": "content",
    "http://search.yahoo.com/mrss/": "media",
    "http://search.yahoo.com/mrss": "media",
    "http://purl.org/rss/1.0/modules/syndication/": "sy",
    "http://purl.org/rss/1.0/modules/slash/": "slash",
    "http://wellformedweb.org/commentapi/": "wfw",
    "http://www.itunes.com/dtds/podcast-1.0.dtd": "itunes",
    "http://www.georss.org/georss": "georss",
}
# URIs that set feedparser's version when declared first, or have side effects on declaration.
_VERSION_URIS = frozenset(
    {"http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/", "http://www.w3.org/1999/xlink"}
)

_XMLNS_RE = re.compile(rb"""\sxmlns(?::([^\s=/>]+))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")
# The first element start, and an entity reference left in a link: the same tests feedparser
# applies. Its XML-declaration encoding pattern and URI fixer are used from feedparser itself
# (imported where needed, below), so they cannot drift from the installed version.
_FIRST_ELEMENT_RE = re.compile(rb"<\w")
_LINK_ENTITY_RE = re.compile("&([A-Za-z0-9_]+);")


@functools.cache
def _fp_pi_encoding_re() -> re.Pattern[bytes]:
    from feedparser.encodings import RE_XML_PI_ENCODING

    return RE_XML_PI_ENCODING


@functools.cache
def _fp_urifixer() -> re.Pattern[str]:
    from feedparser.urls import _urifixer

    return _urifixer


# The only XML declaration accepted: version 1.0, UTF-8 or no encoding.
_DECLARATION_RE = re.compile(
    rb"""<\?xml\s+version\s*=\s*["']1\.0["'](\s+encoding\s*=\s*["']utf-8["'])?"""
    rb"""(\s+standalone\s*=\s*["'](yes|no)["'])?\s*\?>""",
    re.IGNORECASE,
)
_APPLICATION_XML = ("application/xml", "application/xml-dtd", "application/xml-external-parsed-entity")
_TEXT_XML = ("text/xml", "text/xml-external-parsed-entity")
# Content types (Atom ``type`` attribute values, lower-cased) that feedparser reads as text or
# HTML without base64 decoding or inline-XHTML handling.
_PLAIN_TYPES = frozenset({"text", "html", "plain", "text/plain", "text/html"})
# feedparser maps C1 controls to the cp1252 characters (its html._cp1252): the defined ones.
_CP1252_UNDEFINED = (0x81, 0x8D, 0x8F, 0x90, 0x9D)
_CP1252 = {b: bytes([b]).decode("cp1252") for b in range(0x80, 0xA0) if b not in _CP1252_UNDEFINED}


@dataclass(frozen=True)
class FastFeed:
    """The part of feedparser's result that parse_feed reads, as feedparser would hold it."""

    feed: dict[str, str]
    entries: list[dict[str, Any]]


class _Decline(Exception):
    """Raised anywhere in the walk: the document is not one this path can match exactly."""


@lru_cache(maxsize=1)
def _date_parser() -> Callable[[str], Any]:
    """feedparser's own date parser (lazy: importing feedparser costs startup time)."""
    from feedparser.datetimes import _parse_date

    return _parse_date


@lru_cache(maxsize=1)
def fast_path_available() -> bool:
    """False when feedparser would not use expat (a libxml2 SAX driver is installed)."""
    import importlib.util

    return importlib.util.find_spec("drv_libxml2") is None


# -- bytes and declarations ----------------------------------------------------------------------


def _content_type(value: str) -> tuple[str, str]:
    """(mime type, charset) the way feedparser's ``parse_content_type`` splits the header."""
    chunks = value.split(";")
    charset = ""
    for chunk in chunks[1:]:
        key, _, val = chunk.partition("=")
        if key.strip().lower() == "charset":
            charset = val.strip().strip("\"'")
    return chunks[0].strip(), charset


def _is_utf8(name: str) -> bool:
    try:
        return codecs.lookup(name).name == "utf-8"
    except LookupError:
        return False


def _bytes_ok(body: bytes, content_type: str | None) -> bool:
    """True when feedparser would decode ``body`` as UTF-8 (or ASCII) without complaint, with
    no DOCTYPE or prolog comment, and expat here would read the same characters."""
    if body[:1] != b"<":
        return False  # BOMs, leading space, UTF-16: feedparser's sniffing, not ours
    if body.startswith(b"<?xml") and not _DECLARATION_RE.match(body):
        return False
    first = _FIRST_ELEMENT_RE.search(body)
    if first is None or b"<!" in body[: first.start()]:
        return False  # DOCTYPE (feedparser rewrites it) or comment in the prolog
    decl = _fp_pi_encoding_re().match(body)
    xml_encoding = decl.group(1).decode("ascii", "replace").lower() if decl else ""
    if xml_encoding not in ("", "utf-8"):
        return False
    if not content_type:
        return True  # feedparser: xml encoding or utf-8, no complaint
    mime, charset = _content_type(content_type)
    if mime in _APPLICATION_XML or (mime.startswith("application/") and mime.endswith("+xml")):
        return not charset or _is_utf8(charset)
    if mime in _TEXT_XML or (mime.startswith("text/") and mime.endswith("+xml")):
        if charset:
            return _is_utf8(charset)
        return body.isascii()  # RFC 3023: us-ascii; anything else is an encoding complaint
    return False  # feedparser flags any other content type (NonXMLContentType)


def _namespaces_ok(body: bytes) -> bool:
    """No declaration that changes feedparser's version guess or re-routes a prefix we rely on.

    A regex over the bytes may also see text that looks like a declaration; that can only make
    this stricter."""
    if b"xmlns" not in body:
        return True
    for m in _XMLNS_RE.finditer(body):
        prefix = m.group(1)
        uri_bytes = m.group(2) if m.group(2) is not None else m.group(3)
        if b"&" in uri_bytes:
            return False
        uri = uri_bytes.decode("utf-8", "replace").lower()
        if uri in _VERSION_URIS:
            return False
        if prefix is None:
            continue
        name = prefix.decode("utf-8", "replace")
        if name in _ROUTED_PREFIXES and _STANDARD_PREFIX.get(uri) != name:
            return False
    return True


# feedparser looks up the prefixes of the elements modelled here in its declared-prefix map.
_ROUTED_PREFIXES = frozenset(p for p in _STANDARD_PREFIX.values() if p)


# -- text values ---------------------------------------------------------------------------------


def _text(raw: str | None) -> str:
    """An element's text as feedparser's ``pop`` leaves it (no URI resolution)."""
    if not raw:
        return ""
    value = raw.strip()
    return value if value.isascii() else _repair(value)


def _repair(value: str) -> str:
    """feedparser's two fix-ups for non-ASCII text: UTF-8 read as Latin-1, then cp1252 C1s."""
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("iso-8859-1").decode("utf-8")
    return value.translate(_CP1252)


def _uri_text(raw: str | None) -> str:
    """Text of an element feedparser resolves against the (empty) base URI first."""
    if not raw:
        return ""
    value = raw.strip()
    if "://" in value:
        value = _fp_urifixer().sub(r"\1\3", value)
    return value if value.isascii() else _repair(value)


def _entry_link_text(raw: str | None) -> str:
    """An entry's ``<link>`` text: resolved, repaired, then feedparser's '&amp;' undo."""
    value = _uri_text(raw)
    if "&" in value:
        value = _LINK_ENTITY_RE.sub(r"&\g<1>", value.replace("&amp;", "&"))
    return value


def _date(raw: str | None) -> Any:
    """feedparser's parsed date for an element's text; declines what it cannot read."""
    parsed = _date_parser()(_text(raw))
    if not parsed:
        raise _Decline
    return parsed


# -- element checks ------------------------------------------------------------------------------


def _leaf(el: ET.Element, allowed_attrs: frozenset[str] = frozenset()) -> ET.Element:
    """``el`` when it has no child elements and only ``allowed_attrs``; else decline."""
    if len(el) or (el.attrib and not allowed_attrs.issuperset(el.attrib)):
        raise _Decline
    return el


def _typed_leaf(el: ET.Element) -> ET.Element:
    """A leaf whose only attribute is a text/HTML ``type`` (Atom text constructs)."""
    _leaf(el, _TYPE_ATTR)
    kind = el.get("type")
    if kind is not None and kind.lower() not in _PLAIN_TYPES:
        raise _Decline  # xhtml (inline markup), base64 payloads, media types
    return el


def _inert(el: ET.Element) -> None:
    """Elements whose feedparser handlers store only keys parse_feed never reads."""
    if len(el) or "base" in el.attrib or "{" + _XML + "}base" in el.attrib:
        raise _Decline


_TYPE_ATTR = frozenset({"type"})
_GUID_ATTRS = frozenset({"isPermaLink"})
_LINK_ATTRS = frozenset({"href", "rel", "type", "hreflang", "title", "length"})


# -- entries -------------------------------------------------------------------------------------

(
    _TITLE,
    _LINK,
    _GUID,
    _DESCRIPTION,
    _CONTENT_ENC,
    _PUBLISHED,
    _UPDATED,
    _INERT,
    _MEDIA_CONTENT,
    _ATOM_LINK,
    _ATOM_ID,
    _ATOM_SUMMARY,
    _ATOM_CONTENT,
    _PERSON,
) = range(14)

_RSS_ITEM = {
    "title": _TITLE,
    "link": _LINK,
    "guid": _GUID,
    "description": _DESCRIPTION,
    "pubDate": _PUBLISHED,
    "category": _INERT,
    "author": _INERT,
    "comments": _INERT,
    "enclosure": _INERT,
    "{" + _CONTENT + "}encoded": _CONTENT_ENC,
    "{" + _ATOM + "}updated": _UPDATED,
    "{" + _DC + "}date": _UPDATED,
    "{" + _DC + "}creator": _INERT,
    "{" + _DC + "}subject": _INERT,
    "{" + _MEDIA + "}content": _MEDIA_CONTENT,
    "{" + _MEDIA + "}thumbnail": _INERT,
    "{" + _MEDIA + "}keywords": _INERT,
    "{http://purl.org/rss/1.0/modules/slash/}comments": _INERT,
    "{http://wellformedweb.org/CommentAPI/}commentRss": _INERT,
}
_MEDIA_CHILDREN = {
    "{" + _MEDIA + "}description": _DESCRIPTION,
    "{" + _MEDIA + "}credit": _INERT,
    "{" + _MEDIA + "}thumbnail": _INERT,
}
_ATOM_ENTRY = {
    "{" + _ATOM + "}title": _TITLE,
    "{" + _ATOM + "}link": _ATOM_LINK,
    "{" + _ATOM + "}id": _ATOM_ID,
    "{" + _ATOM + "}summary": _ATOM_SUMMARY,
    "{" + _ATOM + "}content": _ATOM_CONTENT,
    "{" + _ATOM + "}published": _PUBLISHED,
    "{" + _ATOM + "}updated": _UPDATED,
    "{" + _ATOM + "}category": _INERT,
    "{" + _ATOM + "}author": _PERSON,
    "{" + _ATOM + "}contributor": _PERSON,
}
_PERSON_CHILDREN = frozenset({"{" + _ATOM + "}name", "{" + _ATOM + "}email", "{" + _ATOM + "}uri"})


class _Entry:
    """One entry's state while its children are walked in document order."""

    __slots__ = ("fields", "has_content", "seen", "summary_depth", "updated")

    def __init__(self) -> None:
        self.fields: dict[str, Any] = {}
        self.has_content = False
        self.summary_depth: int | None = None
        self.updated: str | None = None
        self.seen: set[int] = set()

    def once(self, kind: int) -> None:
        """A second title/link/guid/date/description: feedparser's precedence is subtle."""
        if kind in self.seen:
            raise _Decline
        self.seen.add(kind)

    def description(self, el: ET.Element, depth: int) -> None:
        """feedparser's ``_start_description`` / ``_start_summary``: a second one after a
        summary is read as content (setdefault: no change); otherwise the depth map decides."""
        if "summary" in self.fields and not self.has_content:
            self.has_content = True
            return
        if self.summary_depth is None or depth <= self.summary_depth:
            self.fields["summary"] = _text(el.text)
            self.summary_depth = depth

    def content(self, el: ET.Element) -> None:
        """``content:encoded`` / Atom ``content``: copied to the summary only if none is set."""
        self.has_content = True
        self.fields.setdefault("summary", _text(el.text))

    def finish(self) -> dict[str, Any]:
        """Lazy ``updated`` (read only when no published date), and the link check."""
        fields = self.fields
        if "published_parsed" not in fields and self.updated is not None:
            fields["updated_parsed"] = _date(self.updated)
        link = fields.get("link")
        if link and not link.startswith(("http://", "https://")):
            raise _Decline  # relative or odd-scheme link: feedparser's resolution rules
        return fields


def _rss_item(item: ET.Element) -> dict[str, Any]:
    if item.attrib:
        raise _Decline  # rdf:about, href, lastmod, xml:base, xml:lang all change the result
    entry = _Entry()
    fields = entry.fields
    for child in item:
        kind = _RSS_ITEM.get(child.tag)
        if kind is None:
            raise _Decline
        if kind == _TITLE:
            entry.once(kind)
            fields["title"] = _text(_leaf(child).text)
        elif kind == _LINK:
            entry.once(kind)
            fields["link"] = _entry_link_text(_leaf(child).text)
        elif kind == _GUID:
            entry.once(kind)
            _leaf(child, _GUID_ATTRS)
            if child.get("isPermaLink", "true") == "true":
                value = _uri_text(child.text)
                fields["id"] = value
                fields.setdefault("link", value)
            else:
                fields["id"] = _text(child.text)
        elif kind == _DESCRIPTION:
            entry.once(kind)
            entry.description(_leaf(child), 1)
        elif kind == _CONTENT_ENC:
            entry.once(kind)
            entry.content(_leaf(child))
        elif kind == _PUBLISHED:
            entry.once(kind)
            fields["published_parsed"] = _date(_leaf(child).text)
        elif kind == _UPDATED:
            entry.updated = _leaf(child).text or ""
        elif kind == _MEDIA_CONTENT:
            _media_content(child, entry)
        else:
            _inert(child)
    return entry.finish()


def _media_content(el: ET.Element, entry: _Entry) -> None:
    """media:content (attributes only to feedparser) and its description, one level deeper."""
    if "base" in el.attrib or "{" + _XML + "}base" in el.attrib:
        raise _Decline
    for child in el:
        kind = _MEDIA_CHILDREN.get(child.tag)
        if kind is None:
            raise _Decline
        if kind == _DESCRIPTION:
            entry.description(_typed_leaf(child), 2)
        else:
            _inert(child)


def _atom_entry(item: ET.Element) -> dict[str, Any]:
    if item.attrib:
        raise _Decline
    entry = _Entry()
    fields = entry.fields
    for child in item:
        kind = _ATOM_ENTRY.get(child.tag)
        if kind is None:
            raise _Decline
        if kind == _TITLE:
            entry.once(kind)
            fields["title"] = _text(_typed_leaf(child).text)
        elif kind == _ATOM_LINK:
            _atom_link(child, fields)
        elif kind == _ATOM_ID:
            entry.once(kind)
            value = _uri_text(_leaf(child).text)  # feedparser treats every Atom id as a permalink
            fields["id"] = value
            fields.setdefault("link", value)
        elif kind == _ATOM_SUMMARY:
            entry.once(kind)
            entry.description(_typed_leaf(child), 1)
        elif kind == _ATOM_CONTENT:
            entry.once(kind)
            entry.content(_typed_leaf(child))
        elif kind == _PUBLISHED:
            entry.once(kind)
            fields["published_parsed"] = _date(_leaf(child).text)
        elif kind == _UPDATED:
            entry.once(kind)
            entry.updated = _leaf(child).text or ""
        elif kind == _PERSON:
            _person(child)
        else:
            _inert(child)
    return entry.finish()


def _atom_link(el: ET.Element, context: dict[str, Any]) -> None:
    """feedparser's ``_start_link`` for a link with ``href``: an alternate HTML link is the link."""
    _leaf(el, _LINK_ATTRS)
    href = el.get("href")
    if href is None:
        raise _Decline  # a link without href is read as text by feedparser
    rel = el.get("rel", "alternate").lower()  # setdefault: an empty rel stays empty
    kind = el.get("type", "application/atom+xml" if rel == "self" else "text/html").lower()
    if kind == "html":
        kind = "text/html"
    elif kind == "xhtml":
        kind = "application/xhtml+xml"
    if rel == "alternate" and kind in ("text/html", "application/xhtml+xml"):
        context["link"] = _fp_urifixer().sub(r"\1\3", href) if "://" in href else href


def _person(el: ET.Element) -> None:
    """Atom author/contributor: name/email/uri leaves, stored under keys we never read."""
    if el.attrib:
        raise _Decline
    for child in el:
        if child.tag not in _PERSON_CHILDREN:
            raise _Decline
        _leaf(child)


# -- documents -----------------------------------------------------------------------------------

_RSS_CHANNEL_INERT = frozenset(
    {
        "link",
        "description",
        "copyright",
        "generator",
        "lastBuildDate",
        "pubDate",
        "ttl",
        "category",
        "docs",
        "managingEditor",
        "webMaster",
        "cloud",
        "rating",
        "{" + _ATOM + "}link",
        "{http://purl.org/rss/1.0/modules/syndication/}updatePeriod",
        "{http://purl.org/rss/1.0/modules/syndication/}updateFrequency",
        "{http://purl.org/rss/1.0/modules/syndication/}updateBase",
    }
)
_IMAGE_CHILDREN = frozenset({"title", "link", "url", "width", "height", "description"})
_ATOM_FEED_INERT = frozenset(
    {
        "{" + _ATOM + "}id",
        "{" + _ATOM + "}updated",
        "{" + _ATOM + "}link",
        "{" + _ATOM + "}subtitle",
        "{" + _ATOM + "}rights",
        "{" + _ATOM + "}generator",
        "{" + _ATOM + "}icon",
        "{" + _ATOM + "}logo",
        "{" + _ATOM + "}category",
    }
)


def _rss(root: ET.Element) -> FastFeed:
    if set(root.attrib) != {"version"} or not root.attrib["version"].startswith("2."):
        raise _Decline
    if len(root) != 1 or root[0].tag != "channel" or root[0].attrib:
        raise _Decline
    feed: dict[str, str] = {}
    entries = []
    seen_title = seen_language = False
    for child in root[0]:
        tag = child.tag
        if tag == "item":
            entries.append(_rss_item(child))
        elif tag == "title":
            if seen_title:
                raise _Decline
            seen_title = True
            feed["title"] = _text(_leaf(child).text)
        elif tag == "language":
            if seen_language:
                raise _Decline
            seen_language = True
            feed["language"] = _text(_leaf(child).text)
        elif tag == "image":
            if child.attrib:
                raise _Decline
            for part in child:
                if part.tag not in _IMAGE_CHILDREN:
                    raise _Decline
                _leaf(part)
        elif tag in _RSS_CHANNEL_INERT:
            _inert(child)
        else:
            raise _Decline
    return FastFeed(feed, entries)


def _atom(root: ET.Element) -> FastFeed:
    feed: dict[str, str] = {}
    if set(root.attrib) - {_XML_LANG}:
        raise _Decline
    lang = root.get(_XML_LANG)
    if lang:
        feed["language"] = lang.replace("_", "-")
    entries = []
    seen_title = False
    for child in root:
        tag = child.tag
        if tag == "{" + _ATOM + "}entry":
            entries.append(_atom_entry(child))
        elif tag == "{" + _ATOM + "}title":
            if seen_title:
                raise _Decline
            seen_title = True
            feed["title"] = _text(_typed_leaf(child).text)
        elif tag in ("{" + _ATOM + "}author", "{" + _ATOM + "}contributor"):
            _person(child)
        elif tag in _ATOM_FEED_INERT:
            _inert(child)
        else:
            raise _Decline
    return FastFeed(feed, entries)


def parse_fast(body: bytes, content_type: str | None = None) -> FastFeed | None:
    """The fields parse_feed needs, equal to feedparser's; None when feedparser must decide.

    The caller runs ``check_bytes`` first (entity declarations, HTML, encodings)."""
    if not fast_path_available() or not _bytes_ok(body, content_type) or not _namespaces_ok(body):
        return None
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None  # undefined entities, truncation, bad bytes: feedparser reports or recovers
    try:
        if root.tag == "rss":
            result = _rss(root)
        elif root.tag == "{" + _ATOM + "}feed":
            result = _atom(root)
        else:
            return None
    except _Decline:
        return None
    if result.entries and not any((e.get("title") or "").strip() for e in result.entries):
        return None  # every entry broken: a feed-level error, which feedparser's path reports
    return result
