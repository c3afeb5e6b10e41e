"""The expat fast path equals feedparser, field by field, or declines.

feedparser stays the reference: every comparison here parses the same bytes twice, once with
``parse_feed(..., fast=False)`` (feedparser only) and once with the fast path, and requires the
same ParsedFeed (or the same error). Fixtures: our own RSS 2.0 / RSS 1.0 / Atom files, the
benchmark's generated feeds, the CoinDesk snapshot from shared data, and Hypothesis-generated
RSS 2.0 / Atom documents with awkward titles, links, guids and dates.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from flushwatch.errors import FeedError
from flushwatch.ingest.news import fastparse
from flushwatch.ingest.news.fastparse import parse_fast
from flushwatch.ingest.news.parse import parse_feed
from flushwatch.records.news import ParsedFeed
from tests.helpers.bench import load_bench

REPO = Path(__file__).resolve().parent.parent
FEEDS = REPO / "tests" / "data" / "feeds"
COINDESK = "rss_coindesk_snapshot_2023_03_13/coindesk_rss_2023-03-13T10-39Z.xml"
CONTENT_TYPES = [None, "application/rss+xml", "application/atom+xml", "application/xml", "text/xml"]


def _fields(parsed: ParsedFeed) -> tuple[Any, ...]:
    """Every field, with each time's offset spelled out (equal instants are not enough)."""
    items = tuple(
        (
            i.guid,
            i.url,
            i.title,
            i.summary,
            i.published_at,
            i.published_at.utcoffset() if i.published_at else None,
        )
        for i in parsed.items
    )
    return (parsed.title, parsed.language, parsed.skipped, items)


def _outcome(body: bytes, content_type: str | None, *, fast: bool) -> tuple[Any, ...]:
    try:
        return ("ok", _fields(parse_feed("https://feed.test/x", body, content_type, fast=fast)))
    except FeedError as exc:
        return ("error", str(exc))


def assert_same(body: bytes, content_type: str | None = None) -> bool:
    """Fast path and feedparser agree; returns whether the fast path took the document."""
    reference = _outcome(body, content_type, fast=False)
    assert _outcome(body, content_type, fast=True) == reference
    taken = parse_fast(body, content_type) is not None
    if taken:
        assert reference[0] == "ok", "the fast path took a document feedparser rejects"
    return taken


def _bench_feeds() -> dict[str, bytes]:
    bodies: dict[str, bytes] = load_bench("bench_ingest").BODIES
    return bodies


# -- fixtures ------------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
@pytest.mark.parametrize(
    ("name", "fast"), [("atom.xml", True), ("broken_entry.xml", True), ("rss1.rdf", False)]
)
def test_own_fixtures(name: str, fast: bool, content_type: str | None) -> None:
    body = (FEEDS / name).read_bytes()
    taken = assert_same(body, content_type)
    # text/xml without a charset is us-ascii to feedparser: fine here, every fixture is ASCII.
    assert taken is fast


def test_bench_feeds_all_take_the_fast_path() -> None:
    for body in _bench_feeds().values():
        assert assert_same(body, "application/rss+xml")


def test_coindesk_snapshot(shared_data: Path) -> None:
    path = shared_data / COINDESK
    if not path.exists():
        pytest.skip(f"{COINDESK} not in shared data")
    body = path.read_bytes()
    for content_type in (None, "application/rss+xml", "application/xml"):
        assert assert_same(body, content_type)
    parsed = parse_feed("https://coindesk.test/rss", body, "application/rss+xml")
    assert len(parsed.items) == 50 and parsed.language == "en-US"
    # CoinDesk is not ASCII: text/xml without a charset is an encoding complaint to feedparser.
    assert parse_fast(body, "text/xml") is None
    assert_same(body, "text/xml")


def test_tables_match_feedparser() -> None:
    """The copied rules stay in step with the installed feedparser."""
    from feedparser.html import _cp1252
    from feedparser.mixin import _FeedParserMixin

    assert {chr(k): v for k, v in _cp1252.items()} == {chr(k): v for k, v in fastparse._CP1252.items()}
    known = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
    for uri, prefix in fastparse._STANDARD_PREFIX.items():
        assert known[uri] == prefix, uri


# -- declines ------------------------------------------------------------------------------------

ITEM = (
    "<item><title>Bitcoin rallies</title><link>https://x.test/a</link>"
    "<guid isPermaLink='false'>g-1</guid><pubDate>Tue, 05 Mar 2024 09:30:00 GMT</pubDate></item>"
)


def rss(items: str = ITEM, *, head: str = '<?xml version="1.0" encoding="UTF-8"?>', attrs: str = "") -> bytes:
    return (
        f'{head}<rss version="2.0"{attrs}><channel><title>T</title><language>en</language>'
        f"{items}</channel></rss>"
    ).encode()


def test_plain_document_is_taken() -> None:
    assert assert_same(rss())


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (rss(head='<?xml version="1.0" encoding="ISO-8859-1"?>'), None),
        (rss(head='<?xml version="1.0"?><!DOCTYPE rss>'), None),
        (rss(head='<?xml version="1.0"?><!-- generated -->'), None),
        (b"\xef\xbb\xbf" + rss(), None),
        (b"  " + rss(head=""), None),
        (rss(), "text/html"),
        (rss(), "application/rss+xml; charset=iso-8859-1"),
        (rss(ITEM.replace("Bitcoin", "Bitcoin&nbsp;")), None),  # undefined entity
        (rss()[:-30], None),  # truncated
        (rss(attrs=' xml:base="https://x.test/"'), None),
        (rss(attrs=' xml:lang="en"'), None),
        (rss().replace(b'version="2.0"', b'version="0.91"'), None),
        (rss(attrs=' xmlns:dc="http://search.yahoo.com/mrss/"'), None),  # dc bound elsewhere
        (rss(attrs=' xmlns:r="http://purl.org/rss/1.0/"'), None),  # feedparser's version guess
        (rss(ITEM.replace("https://x.test/a", "/a")), None),  # relative link
        (rss(ITEM.replace("Tue, 05 Mar 2024 09:30:00 GMT", "last Tuesday")), None),
        (rss(ITEM.replace("<title>", "<title>A</title><title>")), None),  # two titles
        (rss(ITEM.replace("<item>", '<item xml:lang="de">')), None),
        (rss(ITEM.replace("</item>", "<source url='https://s.test/'>S</source></item>")), None),
        (rss(ITEM.replace("</item>", "<foo>bar</foo></item>")), None),  # unknown element
        (rss(ITEM.replace("<title>Bitcoin rallies", "<title>Bitcoin <b>rallies</b>")), None),
        (
            rss(
                ITEM.replace("<guid isPermaLink='false'>g-1</guid>", "<guid>g-1</guid>").replace(
                    "<link>https://x.test/a</link>", ""
                )
            ),
            None,
        ),  # a permalink guid that is no URL
        (
            b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title type="xhtml">'
            b'<div xmlns="http://www.w3.org/1999/xhtml">A <b>B</b></div></title></feed>',
            None,
        ),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>A</title>'
            b'<content type="image/png">aGVsbG8=</content></entry></feed>',
            None,
        ),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://x.test/"><entry>'
            b'<title>A</title><link href="a"/></entry></feed>',
            None,
        ),
        (b'<?xml version="1.0"?><note><to>x</to></note>', "application/xml"),
        (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel><x/></rss>', None),
    ],
)
def test_declines_what_it_cannot_match(body: bytes, content_type: str | None) -> None:
    assert parse_fast(body, content_type) is None
    assert_same(body, content_type)  # and the result (or error) is feedparser's


def test_errors_keep_feedparser_messages() -> None:
    with pytest.raises(FeedError, match="malformed or truncated XML"):
        parse_feed("u", rss()[:-30], "application/rss+xml")
    with pytest.raises(FeedError, match="not an RSS or Atom document"):
        parse_feed("u", b'<?xml version="1.0"?><note><to>x</to></note>', "application/xml")
    with pytest.raises(FeedError, match="entities"):
        parse_feed("u", b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><rss/>', None)


def test_all_broken_entries_fail_the_feed_on_both_paths() -> None:
    body = rss("<item><link>https://x.test/a</link></item><item><title> </title></item>")
    assert parse_fast(body, None) is None  # feedparser's path reports feed-level errors
    with pytest.raises(FeedError, match="all 2 entries are broken"):
        parse_feed("u", body)
    assert_same(body)


def test_feedparser_never_reads_a_path_named_by_the_body(tmp_path: Path) -> None:
    """Bare bytes naming an existing file would make feedparser open it."""
    local = tmp_path / "feed.xml"
    local.write_bytes(rss())
    with pytest.raises(FeedError):
        parse_feed("u", str(local).encode(), None, fast=False)


# -- properties ----------------------------------------------------------------------------------

TEXT_PIECES = st.one_of(
    st.sampled_from(
        [
            "Bitcoin",
            " rallies ",
            "ETH/BTC",
            "5%",
            "$SOL",
            "&amp;",
            "&lt;b&gt;bold&lt;/b&gt;",
            "&lt;p&gt;para&lt;/p&gt;",
            "&#8217;",
            "&#x2019;",
            "&quot;q&quot;",
            "&apos;",
            "&#150;",  # a C1 control: feedparser maps it to cp1252's en dash
            "&#133;",  # NEL: whitespace to str.strip, and a cp1252 ellipsis afterwards
            "\u2028",
            "&#233;",
            "&amp;#8217;",
            "&amp;amp;",
            "<![CDATA[<b>Bold</b> & co]]>",
            "<![CDATA[  spaced  ]]>",
            "é",
            "中文",
            "🚀",
            "\u00a0",
            "Ã©",  # UTF-8 read as Latin-1: feedparser repairs it
            "â€™",
            "\n",
            "\t",
            "   ",
        ]
    ),
    st.text(
        alphabet=st.characters(
            codec="utf-8", exclude_characters="<&\r", exclude_categories=("Cs", "Cc", "Co")
        ),
        max_size=12,
    ),
)
TEXT = st.lists(TEXT_PIECES, max_size=6).map("".join)
# Mostly usable titles; now and then an entity XML does not define (feedparser's loose parser).
TITLES = st.tuples(st.lists(TEXT_PIECES, min_size=1, max_size=6), st.sampled_from([False] * 24 + [True])).map(
    lambda t: "".join(t[0]) + ("&nbsp;" if t[1] else "")
)
GOOD_LINKS = st.sampled_from(
    [
        "https://x.test/a",
        "https://x.test/a?b=1&amp;c=2",
        "https://x.test/a?utm_source=rss&amp;amp;x=1",
        "https://x.test/a&amp;b;c",
        "http://x.test/é",
        "  https://x.test/space  ",
        "",
    ]
)
ODD_LINKS = st.sampled_from(["/relative/path", "https:///triple", "HTTPS://X.TEST/UP", "tag:x.test,2024:1"])
LINKS = st.one_of(GOOD_LINKS, GOOD_LINKS, GOOD_LINKS, ODD_LINKS)
GUIDS = st.sampled_from(["g-1", "https://x.test/g", "  https://x.test/g2 ", "urn:uuid:1234", ""])
PERMALINK = st.sampled_from([None, "true", "false", "True"])
TIMES = st.datetimes(min_value=dt.datetime(1995, 1, 1), max_value=dt.datetime(2035, 12, 31))
OFFSETS = st.sampled_from([0, 60, -300, 330, -570, 840])


@st.composite
def dates(draw: st.DrawFn) -> str:
    when = draw(TIMES).replace(microsecond=0)
    aware = when.replace(tzinfo=dt.timezone(dt.timedelta(minutes=draw(OFFSETS))))
    style = draw(st.sampled_from(range(12)))  # integers() would favour the odd ends
    if style == 0:
        return email.utils.format_datetime(aware)
    if style == 1:
        return email.utils.format_datetime(aware.astimezone(dt.UTC), usegmt=True)
    if style == 2:
        return when.strftime("%a, %d %b %Y %H:%M:%S EST")
    if style == 3:
        return when.strftime("%d %b %y %H:%M:%S +0000")  # no day name, two-digit year
    if style == 4:
        return aware.isoformat()
    if style == 5:
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == 6:
        return when.strftime("%Y-%m-%dT%H:%M:%S.123+05:30")
    if style == 7:
        return when.strftime("%Y-%m-%d")
    if style == 8:
        return when.strftime("%Y-%m-%d %H:%M:%S")
    if style == 9:
        return when.strftime(" %a, %d %b %Y %H:%M UT ")
    return draw(st.sampled_from(["yesterday", "", "2024-13-45T99:99:99Z", "Mon, 31 Feb 2024 10:00:00 GMT"]))


def _el(tag: str, text: str, attrs: str = "") -> str:
    return f"<{tag}{attrs}>{text}</{tag}>"


@st.composite
def rss_items(draw: st.DrawFn) -> str:
    parts = []
    if draw(st.booleans()) or draw(st.booleans()):
        parts.append(_el("title", draw(TITLES)))
    if draw(st.booleans()):
        parts.append(_el("link", draw(LINKS)))
    if draw(st.booleans()):
        permalink = draw(PERMALINK)
        attr = "" if permalink is None else f' isPermaLink="{permalink}"'
        parts.append(_el("guid", draw(GUIDS), attr))
    if draw(st.booleans()):
        parts.append(_el("pubDate", draw(dates())))
    if draw(st.booleans()):
        parts.append(_el("description", draw(TEXT)))
    if draw(st.booleans()):
        parts.append(_el("content:encoded", draw(TEXT)))
    if draw(st.booleans()):
        media = _el("media:description", draw(TEXT), ' type="plain"')
        parts.append(f'<media:content url="https://x.test/i.png" medium="image">{media}</media:content>')
    if draw(st.booleans()):
        parts.append(_el(draw(st.sampled_from(["atom:updated", "dc:date"])), draw(dates())))
    if draw(st.booleans()):
        parts.append(_el("category", draw(TEXT), ' domain="tag"'))
        parts.append(_el("dc:creator", draw(TEXT)))
    if draw(st.sampled_from([False] * 19 + [True])):
        parts.append(_el("title", draw(TEXT)))  # a second title: declined
    return "<item>" + "".join(draw(st.permutations(parts))) + "</item>"


@st.composite
def rss_documents(draw: st.DrawFn) -> bytes:
    head = draw(st.sampled_from(['<?xml version="1.0" encoding="UTF-8"?>\n', "<?xml version='1.0'?>", ""]))
    language = draw(st.sampled_from([None, "en", "en-US", " de ", "fr_FR"]))
    channel = [_el("title", draw(TITLES)), _el("link", "https://x.test/")]
    if language is not None:
        channel.append(_el("language", language))
    if draw(st.booleans()):
        channel.append(
            "<image><url>https://x.test/i.png</url><title>Logo</title><link>https://x.test/</link></image>"
        )
    channel += draw(st.lists(st.sampled_from(CHANNEL_EXTRAS), max_size=4, unique=True))
    channel += draw(st.lists(rss_items(), min_size=1, max_size=4))
    if draw(st.booleans()):
        channel = draw(st.permutations(channel))  # title, language, image after the items
    namespaces = (
        ' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom"'
        ' xmlns:media="http://search.yahoo.com/mrss/"'
    )
    body = f'{head}<rss version="2.0"{namespaces}><channel>{"".join(channel)}</channel></rss>'
    return body.encode()


CHANNEL_EXTRAS = [
    "<description>&lt;p&gt;About us&lt;/p&gt;</description>",
    "<copyright>(c) x</copyright>",
    "<generator>gen</generator>",
    "<lastBuildDate>Mon, 13 Mar 2023 10:39:40 +0000</lastBuildDate>",
    "<pubDate>garbage date</pubDate>",
    "<ttl>10</ttl>",
    '<category domain="d">News</category>',
    "<managingEditor>ed@x.test (Ed)</managingEditor>",
    "<webMaster>wm@x.test</webMaster>",
    '<atom:link href="https://x.test/rss" rel="self" type="application/rss+xml"/>',
    '<atom:link href="https://x.test/alt" rel="alternate"/>',
]


def _typed(draw: st.DrawFn, tag: str, types: list[str | None], text: st.SearchStrategy[str] = TEXT) -> str:
    kind = draw(st.sampled_from(types))
    return _el(tag, draw(text), "" if kind is None else f' type="{kind}"')


@st.composite
def atom_entries(draw: st.DrawFn) -> str:
    parts = []
    if draw(st.booleans()) or draw(st.booleans()):
        parts.append(_typed(draw, "title", [None, "text", "html", "HTML"], TITLES))
    if draw(st.booleans()):
        parts.append(_el("id", draw(st.one_of(GOOD_LINKS, GUIDS))))
    for _ in range(draw(st.integers(0, 2))):
        rel = draw(st.sampled_from([None, "alternate", "self", "enclosure", ""]))
        kind = draw(st.sampled_from([None, "text/html", "application/atom+xml", "html"]))
        attrs = f' href="{draw(LINKS)}"'
        attrs += "" if rel is None else f' rel="{rel}"'
        attrs += "" if kind is None else f' type="{kind}"'
        parts.append(f"<link{attrs}/>")
    if draw(st.booleans()):
        parts.append(_el("published", draw(dates())))
    if draw(st.booleans()):
        parts.append(_el("updated", draw(dates())))
    if draw(st.booleans()):
        parts.append(_typed(draw, "summary", [None, "html", "text"]))
    if draw(st.booleans()):
        parts.append(_typed(draw, "content", [None, "html", "text/html"]))
    if draw(st.booleans()):
        parts.append(f"<author><name>{draw(TEXT)}</name></author>")
    return "<entry>" + "".join(draw(st.permutations(parts))) + "</entry>"


FEED_EXTRAS = [
    "<updated>2024-08-05T06:30:00Z</updated>",
    '<subtitle type="html">&lt;b&gt;sub&lt;/b&gt;</subtitle>',
    "<rights>r</rights>",
    '<generator uri="https://g.test/" version="1">g</generator>',
    "<author><name>A</name><email>a@x.test</email><uri>https://a.test/</uri></author>",
    '<category term="btc" label="Bitcoin"/>',
    "<icon>https://x.test/i.ico</icon>",
]


@st.composite
def atom_documents(draw: st.DrawFn) -> bytes:
    lang = draw(st.sampled_from([None, "en", "en_GB", ""]))
    attrs = "" if lang is None else f' xml:lang="{lang}"'
    head = [
        _typed(draw, "title", [None, "text", "html"], TITLES),
        "<id>urn:x</id>",
        '<link href="https://x.test/"/>',
    ]
    head += draw(st.lists(st.sampled_from(FEED_EXTRAS), max_size=3, unique=True))
    parts = head + draw(st.lists(atom_entries(), min_size=1, max_size=4))
    if draw(st.booleans()):
        parts = draw(st.permutations(parts))  # the feed title after the entries
    body = (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"{attrs}>'
        + "".join(parts)
        + "</feed>"
    )
    return body.encode()


@settings(max_examples=400)
@given(rss_documents(), st.sampled_from(CONTENT_TYPES))
def test_rss_fast_path_equals_feedparser(body: bytes, content_type: str | None) -> None:
    event("fast path" if assert_same(body, content_type) else "declined")


@settings(max_examples=400)
@given(atom_documents(), st.sampled_from(CONTENT_TYPES))
def test_atom_fast_path_equals_feedparser(body: bytes, content_type: str | None) -> None:
    event("fast path" if assert_same(body, content_type) else "declined")


@pytest.mark.parametrize(
    "title",
    [
        "Fed &amp; SEC &#8217;talk&#8217;",
        "<![CDATA[<b>Bitcoin</b> & Ether]]>",
        "&lt;em&gt;ETH&lt;/em&gt; slides",
        "  Caf\u00e9 \u4e2d\u6587 \U0001f680 \n",
        "Ethereum\u00c3\u00a9 upgrade &#150; live",
    ],
)
def test_awkward_titles_take_the_fast_path(title: str) -> None:
    assert assert_same(rss(ITEM.replace("Bitcoin rallies", title)))
