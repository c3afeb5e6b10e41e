"""What a feed or an export may put into the headlines table: links, title lengths, odd files.

Feeds are served by a real HTTP server on 127.0.0.1, imports read real files, rows land in real
DuckDB files; every assertion reads the stored rows back.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from flushwatch.errors import PartialFailure
from flushwatch.ingest.news.catalogue import parse_opml
from flushwatch.ingest.news.fetch import FeedFetchOptions
from flushwatch.ingest.news.importer import import_headlines
from flushwatch.ingest.news.normalise import MAX_TITLE_CHARS, web_url
from flushwatch.ingest.news.service import run_ingest
from flushwatch.storage.db import Database
from tests.test_ingest_http import Server

FAST = FeedFetchOptions(timeout_s=5.0, retries=0, backoff_s=0.01)


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def _rss(items: list[tuple[str, str]], declaration: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    body = "".join(
        f'<item><title>{title}</title><link>{link}</link><guid isPermaLink="false">g{i}</guid>'
        f"<pubDate>Mon, 13 Mar 2023 10:{i:02d}:00 GMT</pubDate></item>"
        for i, (title, link) in enumerate(items)
    )
    return f'{declaration}<rss version="2.0"><channel><title>t</title>{body}</channel></rss>'


def _stored(db: Database) -> dict[str, str | None]:
    with db.read() as con:
        return dict(con.execute("SELECT title, url FROM headlines").fetchall())


# -- links -------------------------------------------------------------------------------------


def test_only_http_links_are_stored(server: Server, db: Database) -> None:
    links = {
        "Script link": "javascript:alert(document.cookie)",
        "Upper-case script link": " JavaScript:alert(1)",
        "Data link": "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "VBScript link": "vbscript:msgbox(1)",
        "Relative link": "/news/relative",
        "Mail link": "mailto:desk@news.test",
        "Good link": "https://news.test/a",
        "Plain http link": "http://news.test/b",
    }
    server.static("/feed.xml", _rss(list(links.items())).encode())
    summary = run_ingest(db, urls=[server.url("/feed.xml")], options=FAST)
    assert summary.counts.new == len(links)  # every entry is kept, only its link dropped
    assert _stored(db) == {
        title: (link.strip() if link.startswith("http") else None) for title, link in links.items()
    }


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://a.test/x", True),
        ("  HTTP://a.test/x  ", True),
        ("javascript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("data:text/html,hi", False),
        ("vbscript:x", False),
        ("//a.test/x", False),
        ("http://", False),
        ("http://[broken/x", False),
        ("", False),
        (None, False),
    ],
)
def test_web_url(url: str | None, kept: bool) -> None:
    assert web_url(url) == (url.strip() if kept and url else None)


def test_imported_script_links_are_dropped(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "links.csv"
    path.write_text(
        "title,date,url\nA,2024-01-01T00:00:00Z,javascript:alert(1)\nB,2024-01-01T00:00:00Z,https://b.test/\n",
        encoding="utf-8",
    )
    import_headlines(db, [path])
    assert _stored(db) == {"A": None, "B": "https://b.test/"}


# -- one title length, every path --------------------------------------------------------------


def _cut_ok(title: str, source: str) -> None:
    assert len(title) <= MAX_TITLE_CHARS and title.endswith("…")
    assert title[:-1] == source[: MAX_TITLE_CHARS - 1].rstrip()


def test_feed_title_over_the_limit_is_cut_and_kept(server: Server, db: Database) -> None:
    huge = "Bitcoin " * 130_000  # about 1 MB in one title
    exact = "E" * MAX_TITLE_CHARS
    server.static(
        "/feed.xml",
        _rss(
            [(huge, "https://x.test/huge"), (exact, "https://x.test/exact"), ("Short", "https://x.test/s")]
        ).encode(),
    )
    summary = run_ingest(db, urls=[server.url("/feed.xml")], options=FAST)
    assert summary.counts.new == 3
    titles = set(_stored(db))
    assert {"Short", exact} < titles  # at the limit: whole
    (cut,) = titles - {"Short", exact}
    _cut_ok(cut, huge.strip())
    # A second pass meets the same cut title: nothing new, nothing updated.
    again = run_ingest(db, urls=[server.url("/feed.xml")], options=FAST)
    assert again.counts.new == 0 and again.counts.updated == 0


def test_atom_title_over_the_limit_is_cut(server: Server, db: Database) -> None:
    huge = "Ether " * 50_000
    atom = (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>a</title>'
        f'<entry><title>{huge}</title><id>urn:x:1</id><link href="https://x.test/1"/>'
        "<updated>2023-03-13T10:00:00Z</updated></entry></feed>"
    )
    server.static("/atom.xml", atom.encode(), "application/atom+xml")
    run_ingest(db, urls=[server.url("/atom.xml")], options=FAST)
    (title,) = _stored(db)
    _cut_ok(title, huge.strip())


def test_csv_field_over_the_csv_module_limit_is_imported_and_cut(db: Database, tmp_path: Path) -> None:
    """csv refuses fields over 131,072 characters; that was a traceback, not a FILE:LINE."""
    huge = "Solana " * 30_000  # 210,000 characters
    path = tmp_path / "big.csv"
    path.write_text(
        f'title,date\n"{huge}",2024-01-01T00:00:00Z\nSmall one,2024-01-02T00:00:00Z\n', encoding="utf-8"
    )
    (summary,) = import_headlines(db, [path])
    assert summary.rows == 2 and summary.counts.new == 2
    titles = set(_stored(db))
    (cut,) = titles - {"Small one"}
    _cut_ok(cut, huge.strip())


def test_csv_header_over_the_csv_module_limit_is_read(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_text(f'title,date,"{"x" * 200_000}"\nA,2024-01-01T00:00:00Z,1\n', encoding="utf-8")
    (summary,) = import_headlines(db, [path])
    assert summary.counts.new == 1


def test_import_cli_with_a_huge_field_has_no_traceback(cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(f'title,date\n"{"A" * 200_000}",2024-01-01T00:00:00Z\n'.encode()))
    res = cli("import", "headlines", str(path), "--db", str(db_path), "-f", "csv")
    assert res.code == 0 and "Traceback" not in res.err, res.err


def test_jsonl_title_over_the_limit_is_cut(db: Database, tmp_path: Path) -> None:
    huge = "Ripple " * 2_000
    path = tmp_path / "rows.jsonl"
    path.write_text(
        json.dumps({"title": huge, "published_at": "2024-01-01T00:00:00Z", "url": "https://r.test/1"}) + "\n",
        encoding="utf-8",
    )
    import_headlines(db, [path])
    (title,) = _stored(db)
    _cut_ok(title, huge.strip())


# -- odd JSON and odd headers, through the CLI -------------------------------------------------

_ROW = '{"title": "Bitcoin up", "published_at": "2024-01-01T00:00:00Z"}'
_DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("name", "text", "where", "says"),
    [
        ("deep.json", _DEEP, "deep.json: ", "nested too deeply"),
        ("deep.jsonl", _ROW + "\n" + _DEEP + "\n", "deep.jsonl:2: ", "nested too deeply"),
        ("twice.csv", "title,date,title\nA,2024-01-01T00:00:00Z,B\n", "twice.csv:1: ", "'title' appears"),
        ("case.jsonl", _ROW + "\n" + _ROW.replace("title", "Title") + "\n", "case.jsonl:2: ", "'Title'"),
    ],
)  # fmt: skip
def test_import_cli_refuses_odd_json_and_twin_columns_in_one_line(  # type: ignore[no-untyped-def]
    cli, db_path: Path, tmp_path: Path, name: str, text: str, where: str, says: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    res = cli("import", "headlines", str(path), "--db", str(db_path))
    assert res.code == 1 and "Traceback" not in res.err, res.err
    (line,) = res.err.strip().splitlines()
    assert f"{tmp_path}/{where}" in line and says in line
    assert _stored(Database(db_path, snapshot=False)) == {}


def test_import_cli_keeps_rows_with_separators_and_lone_surrogates(  # type: ignore[no-untyped-def]
    cli, db_path: Path, tmp_path: Path
) -> None:
    """JSON may hold U+2028 unescaped and a lone surrogate escaped; both rows are stored."""
    path = tmp_path / "odd.jsonl.gz"
    rows = [
        '{"title": "Ether\u2028rallies", "published_at": "2024-01-01T00:00:00Z", "url": "https://e.test/1"}',
        '{"title": "Solana \\udc00 dips", "published_at": "2024-01-01T01:00:00Z", "url": "https://s.test/\\ud800"}',
    ]
    path.write_bytes(gzip.compress("\n".join(rows).encode()))
    res = cli("import", "headlines", str(path), "--db", str(db_path))
    assert res.code == 0 and "Traceback" not in res.err, res.err
    assert _stored(Database(db_path, snapshot=False)) == {
        "Ether rallies": "https://e.test/1",
        "Solana \ufffd dips": "https://s.test/\ufffd",
    }


# -- OPML nesting ------------------------------------------------------------------------------


def _deep_opml(depth: int) -> bytes:
    return (
        b'<opml version="2.0"><body>'
        + b'<outline text="group">' * depth
        + b'<outline text="Deep" xmlUrl="https://deep.test/rss"/>'
        + b"</outline>" * depth
        + b'<outline text="After" xmlUrl="https://after.test/rss"/></body></opml>'
    )


def test_deeply_nested_opml_is_read_in_document_order() -> None:
    specs = parse_opml(_deep_opml(5_000), "deep.opml")
    assert [s.url for s in specs] == ["https://deep.test/rss", "https://after.test/rss"]
    nested = parse_opml(
        b'<opml><body><outline text="macro"><outline text="A" xmlUrl="https://a.test/"/>'
        b'<outline text="x"><outline text="B" xmlUrl="https://b.test/"/></outline></outline>'
        b'<outline text="C" xmlUrl="https://c.test/"/></body></opml>'
    )
    assert [(s.name, s.kind) for s in nested] == [("A", "macro"), ("B", "macro"), ("C", "crypto")]


def test_import_opml_nested_5000_deep_has_no_traceback(cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "deep.opml"
    path.write_bytes(_deep_opml(5_000))
    res = cli("feeds", "import-opml", str(path), "--db", str(db_path))
    assert res.code == 0 and "added 2 of 2" in res.out and "Traceback" not in res.err


# -- mislabelled encodings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declaration", "content_type"),
    [
        ('<?xml version="1.0" encoding="utf-8"?>', "application/rss+xml"),
        ('<?xml version="1.0" encoding="UTF-8"?>', "application/rss+xml; charset=utf-8"),
        ('<?xml version="1.0"?>', "text/xml; charset=utf-8"),
    ],
)
def test_latin1_bytes_labelled_utf8_are_stored(
    server: Server, db: Database, declaration: str, content_type: str
) -> None:
    """One accented title used to fail the whole feed ("declares encoding utf-8 but the bytes
    are not utf-8"); feedparser reads such bytes as windows-1252, and every item is kept."""
    items = [("Café owner buys bitcoin", "https://x.test/a"), ("Señor Ether’s rally", "https://x.test/b")]
    body = _rss(items, declaration).encode("cp1252")
    server.static("/feed.xml", body, content_type)
    summary = run_ingest(db, urls=[server.url("/feed.xml")], options=FAST)
    assert summary.n("ok") == 1 and summary.counts.new == 2
    assert set(_stored(db)) == {"Café owner buys bitcoin", "Señor Ether’s rally"}


def test_truncated_latin1_feed_still_fails_whole(server: Server, db: Database) -> None:
    body = _rss([("Café one", "https://x.test/a"), ("Two", "https://x.test/b")]).encode("latin-1")
    server.static("/feed.xml", body[: len(body) - 40])
    with pytest.raises(PartialFailure, match="1 of 1 feeds failed"):
        run_ingest(db, urls=[server.url("/feed.xml")], options=FAST)
    assert _stored(db) == {}


def test_a_surrogate_character_reference_costs_one_character_not_the_feed() -> None:
    """``&#xD800;`` is no character; feedparser failed the whole feed on it."""
    from flushwatch.ingest.news.parse import parse_feed

    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>Bad &#xD800; and &#56320; here &#8217;s</title><guid>1</guid></item>"
        b"<item><title>Good item</title><guid>2</guid></item></channel></rss>"
    )
    feed = parse_feed("https://example.org/feed", body, "application/rss+xml")
    assert [i.title for i in feed.items] == ["Bad \ufffd and \ufffd here \u2019s", "Good item"]
