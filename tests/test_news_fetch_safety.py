"""Fetching feeds safely: decompression bombs, where redirects may lead, and what may be a feed.

Real parts only: a threaded HTTP server on 127.0.0.1 serving real compressed bytes, real DuckDB
files. Nothing leaves loopback: which addresses a redirect may reach is tested as a pure
function on URLs and IPs, and through the server by telling the fetcher how names resolve.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import gzip
import json
import re
import subprocess
import sys
import textwrap
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from flushwatch.errors import InputError, PartialFailure
from flushwatch.ingest.news.catalogue import parse_catalogue, parse_opml
from flushwatch.ingest.news.fetch import (
    MAX_BODY_BYTES,
    FeedFetchOptions,
    address_class,
    redirect_problem,
    resolve_host,
)
from flushwatch.ingest.news.inflate import STEP, InflateLimit, Inflater, accept_encoding
from flushwatch.ingest.news.service import run_ingest
from flushwatch.ingest.web import retry_after, url_problem
from flushwatch.storage.db import Database
from tests.test_ingest_http import FIXTURES, Server

brotli = pytest.importorskip("brotli")

FAST = FeedFetchOptions(timeout_s=5.0, retries=0, backoff_s=0.01)
ATOM = (FIXTURES / "atom.xml").read_bytes()
INFLATES_PAST = f"body inflates past the {MAX_BODY_BYTES} byte cap; refused"


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def _zeros(mib: int) -> Iterator[bytes]:
    chunk = b"\0" * 2**20
    for _ in range(mib):
        yield chunk


def brotli_bomb(mib: int) -> bytes:
    """``mib`` MiB of zeros as brotli, compressed a MiB at a time (the test never holds them)."""
    c = brotli.Compressor(quality=5)
    return b"".join(c.process(chunk) for chunk in _zeros(mib)) + c.finish()


def zlib_bomb(mib: int, wbits: int) -> bytes:
    """Zeros as gzip (wbits 31), zlib-wrapped deflate (15) or raw deflate (-15)."""
    c = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return b"".join(c.compress(chunk) for chunk in _zeros(mib)) + c.flush()


def _encoded(body: bytes, encoding: str) -> tuple[int, dict[str, str], bytes]:
    return 200, {"Content-Type": "application/atom+xml", "Content-Encoding": encoding}, body


def _serve(server: Server, path: str, body: bytes, encoding: str) -> str:
    server.routes[path] = lambda req: _encoded(body, encoding)
    return server.url(path)


def _errors(db: Database) -> dict[str, str]:
    with db.read() as con:
        return dict(con.execute("SELECT url, last_error FROM feeds WHERE last_error IS NOT NULL").fetchall())


# -- decompression bombs -----------------------------------------------------------------------


_MEASURE = textwrap.dedent(
    """
    import json, resource, sys
    from flushwatch.cli.main import main

    def run(*args):
        try:
            main(list(args))
        except SystemExit as exc:
            return exc.code
        return 0

    db, good, *bombs = sys.argv[1:]
    warm = run("ingest", "--db", db, "--feed", good, "--retries", "0")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    args = [a for url in [good, *bombs] for a in ("--feed", url)]
    code = run("ingest", "--db", db, "--retries", "0", "--timeout", "60", *args)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"warm": warm, "code": code, "growth_kib": after - before}))
    """
)


def test_compression_bombs_fail_alone_with_bounded_memory(server: Server, tmp_path: Path) -> None:
    """A 1 GiB brotli bomb (a few hundred bytes on the wire) once took ingest past 2 GB of
    memory: the body cap was checked after httpx had inflated a whole network chunk."""
    good = _serve(server, "/good.xml", gzip.compress(ATOM), "gzip")
    bombs = {
        "/br.xml": (brotli_bomb(1024), "br"),
        "/gzip.xml": (zlib_bomb(256, 31), "gzip"),
        "/deflate.xml": (zlib_bomb(256, 15), "deflate"),
        "/raw-deflate.xml": (zlib_bomb(256, -15), "deflate"),
        "/two-layers.xml": (gzip.compress(brotli_bomb(256)), "br, gzip"),
    }
    assert len(bombs["/br.xml"][0]) < 4096
    urls = [_serve(server, path, body, enc) for path, (body, enc) in bombs.items()]
    db_path = tmp_path / "bombs.duckdb"
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(db_path), good, *urls],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["warm"] == 0 and result["code"] == 3
    assert result["growth_kib"] < 100 * 1024, result  # 1 GiB inflated would be 10x that
    assert "Traceback" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if INFLATES_PAST in line]
    assert len(warnings) == len(bombs)  # one line per bomb, naming it
    db = Database(db_path, wait_s=5, snapshot=False)
    errors = _errors(db)
    assert set(errors) == set(urls) and all(INFLATES_PAST in e for e in errors.values())
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM headlines").fetchone() == (3,)  # the good feed's


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send it
        ("br", brotli.compress),
        ("br, gzip", lambda b: gzip.compress(brotli.compress(b))),
        ("identity", lambda b: b),
    ],
)
def test_compressed_feeds_decode_and_store(
    server: Server, db: Database, encoding: str, encode: object
) -> None:
    assert callable(encode)
    url = _serve(server, "/feed.xml", encode(ATOM), encoding)
    summary = run_ingest(db, urls=[url], options=FAST)
    assert summary.n("ok") == 1 and summary.counts.new == 3


def test_accept_encoding_names_only_what_is_decoded_with_a_bound(server: Server, db: Database) -> None:
    server.static("/atom.xml", ATOM, "application/atom+xml")
    run_ingest(db, urls=[server.url("/atom.xml")], options=FAST)
    sent = {e.strip() for e in server.hits["/atom.xml"][0]["Accept-Encoding"].split(",")}
    assert {"gzip", "deflate", "br"} <= sent
    try:
        import zstandard  # noqa: F401
    except ImportError:
        assert "zstd" not in sent
    assert sent == {e.strip() for e in accept_encoding().split(",")}


@pytest.mark.parametrize(
    ("encoding", "bomb"),
    [
        ("br", lambda: brotli_bomb(32)),
        ("gzip", lambda: zlib_bomb(32, 31)),
        ("deflate", lambda: zlib_bomb(32, -15)),
        ("br, gzip", lambda: gzip.compress(brotli_bomb(32))),
    ],
)
@pytest.mark.parametrize("chunk", [1, 4096, None])
def test_inflater_works_in_bounded_steps_and_stops_at_the_cap(
    encoding: str, bomb: object, chunk: int | None
) -> None:
    assert callable(bomb)
    data: bytes = bomb()
    step = chunk or len(data)
    unlimited = Inflater(encoding, 2**40)
    sizes = [len(p) for i in range(0, len(data), step) for p in unlimited.feed(data[i : i + step])]
    assert sum(sizes) == 32 * 2**20
    assert max(sizes) <= 2 * STEP  # brotli's limit is soft: a call may run a little past it
    capped = Inflater(encoding, 2**20)
    with pytest.raises(InflateLimit):
        for i in range(0, len(data), step):
            capped.feed(data[i : i + step])
    assert capped.size <= 2**20 + 2 * STEP


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "br, gzip"])
def test_inflater_round_trips_in_any_chunking(encoding: str) -> None:
    body = b"".join(f"<item>{i}</item>".encode() for i in range(60_000))
    data = brotli.compress(body) if encoding.startswith("br") else body
    if "gzip" in encoding:
        data = gzip.compress(data)
    if encoding == "deflate":
        data = zlib.compress(body)
    for chunk in (1, 7, 65536, len(data)):
        inflater = Inflater(encoding, len(body))
        out = [p for i in range(0, len(data), chunk) for p in inflater.feed(data[i : i + chunk])]
        assert b"".join([*out, *inflater.finish()]) == body


def test_zstd_bomb_stops_at_the_cap() -> None:
    zstandard = pytest.importorskip("zstandard")
    bomb = zstandard.ZstdCompressor(level=3).compress(b"\0" * (256 * 2**20))
    inflater = Inflater("zstd", 2**20)
    with pytest.raises(InflateLimit):
        inflater.feed(bomb)
    body = b"<rss>" * 100_000
    two_frames = zstandard.ZstdCompressor().compress(body) * 2
    inflater = Inflater("zstd", 10 * len(body))
    assert b"".join([*inflater.feed(two_frames), *inflater.finish()]) == body * 2


def test_raw_body_over_the_cap_without_content_length(server: Server, db: Database) -> None:
    big = ATOM.replace(b"</feed>", b"<!--" + b"x" * 300_000 + b"--></feed>")
    server.routes["/big.xml"] = lambda req: (200, {"Content-Length": ""}, big)
    opts = FeedFetchOptions(timeout_s=5.0, retries=0, max_body_bytes=200_000)
    with pytest.raises(PartialFailure):
        run_ingest(db, urls=[server.url("/big.xml")], options=opts)
    assert "body over the 200000 byte cap; refused" in _errors(db)[server.url("/big.xml")]


def test_corrupt_compressed_body_is_one_feed_error(server: Server, db: Database) -> None:
    good = _serve(server, "/good.xml", ATOM, "identity")
    bad = _serve(server, "/bad.xml", b"this is not gzip at all", "gzip")
    with pytest.raises(PartialFailure) as info:
        run_ingest(db, urls=[good, bad], options=FAST)
    assert len(info.value.failures) == 1
    assert "cannot decode the gzip body" in _errors(db)[bad]


# -- where a redirect may lead -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("ip", "kind"),
    [
        ("169.254.169.254", "link-local"),
        ("10.0.0.1", "private"),
        ("192.168.1.20", "private"),
        ("172.16.0.1", "private"),
        ("::1", "loopback"),
        ("127.0.0.1", "loopback"),
        ("127.0.0.2", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("fd00::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("100.64.0.1", "reserved"),
        ("240.0.0.1", "private"),  # reserved for future use; Python files it under private
        ("8.8.8.8", "public"),
        ("93.184.216.34", "public"),
        ("2606:4700:4700::1111", "public"),
    ],
)
def test_address_class(ip: str, kind: str) -> None:
    assert address_class(ip) == kind


def _names(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    """A resolver over a fixed table, so a test can say a name is public without DNS."""
    return lambda host: table.get(host, [host])


PUBLIC_FEED = "https://news.example/rss"
RESOLVE = _names(
    {
        "news.example": ["93.184.216.34"],
        "cdn.example": ["93.184.216.35", "2606:2800:220:1::1"],
        "localhost": ["127.0.0.1", "::1"],
        "sneaky.example": ["93.184.216.36", "10.1.2.3"],
        "metadata.example": ["169.254.169.254"],
        "intranet.example": ["10.0.0.7"],
    }
)


@pytest.mark.parametrize(
    ("feed", "target", "refused"),
    [
        (PUBLIC_FEED, "https://cdn.example/rss", None),
        (PUBLIC_FEED, "http://93.184.216.40/feed", None),
        (PUBLIC_FEED, "http://169.254.169.254/latest/meta-data/", "link-local"),
        (PUBLIC_FEED, "http://metadata.example/", "link-local"),
        (PUBLIC_FEED, "http://10.0.0.1/admin", "private"),
        (PUBLIC_FEED, "http://[::1]:6379/", "loopback"),
        (PUBLIC_FEED, "http://127.0.0.2:8080/", "loopback"),
        (PUBLIC_FEED, "http://localhost:6379/", "loopback"),
        (PUBLIC_FEED, "http://[fe80::1]/", "link-local"),
        (PUBLIC_FEED, "http://sneaky.example/", "private"),  # one bad address is enough
        (PUBLIC_FEED, "file:///etc/passwd", "file:"),
        (PUBLIC_FEED, "gopher://cdn.example/", "gopher:"),
        ("http://127.0.0.1:8001/feed", "http://127.0.0.1:8002/feed", None),  # loopback stays loopback
        ("http://localhost:8001/feed", "http://[::1]:8002/feed", None),
        ("http://127.0.0.1:8001/feed", "http://169.254.169.254/", "link-local"),
        ("http://127.0.0.1:8001/feed", "http://intranet.example/", "private"),
        ("http://10.0.0.5/rss", "http://intranet.example/rss", None),  # an office feed in its office
        ("http://10.0.0.5/rss", "http://localhost/", "loopback"),
    ],
)
def test_redirect_problem(feed: str, target: str, refused: str | None) -> None:
    problem = redirect_problem(feed, target, RESOLVE)
    if refused is None:
        assert problem is None
    else:
        assert problem is not None and refused in problem and "refused" in problem


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("https://news.test/rss?x=1", None),
        ("HTTP://news.test", None),
        ("javascript:alert(1)", "a javascript: URL"),
        ("file:///etc/passwd", "a file: URL"),
        ("/news/relative", "a relative URL"),
        ("http://", "without a host"),
        ("http://[::1/rss", "an invalid URL"),
    ],
)
def test_one_http_url_rule(url: str, phrase: str | None) -> None:
    """The rule behind redirects, feed URLs and stored links."""
    problem = url_problem(url)
    assert problem is None if phrase is None else (problem is not None and phrase in problem)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert [retry_after(v) for v in (None, "", " 7 ", "2.5", "-3", "soon", "nan")] == [
        None,
        None,
        7.0,
        2.5,
        0.0,
        None,
        None,
    ]
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # already past
    soon = email.utils.format_datetime(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60), usegmt=True)
    assert 50 < (retry_after(soon) or 0) <= 60
    assert retry_after("Wed, 21 Oct 2015 07:28:00 -0000") == 0.0  # no zone stated: UTC


def test_resolve_host_reads_literals_and_names() -> None:
    assert resolve_host("127.0.0.1") == ["127.0.0.1"]
    assert "127.0.0.1" in resolve_host("localhost") or "::1" in resolve_host("localhost")
    assert resolve_host("no-such-host.invalid") == []


def _internal_page(server: Server) -> str:
    server.static(
        "/internal",
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>admin</title>'
        b"<item><title>internal admin page</title><link>http://127.0.0.1/admin</link></item>"
        b"</channel></rss>",
    )
    return server.url("/internal")


def _redirect(server: Server, path: str, target: str) -> str:
    server.routes[path] = lambda req: (302, {"Location": target}, b"")
    return server.url(path)


def test_loopback_feed_may_redirect_within_loopback(server: Server, db: Database) -> None:
    other = Server()
    try:
        url = _redirect(server, "/feed", _internal_page(other))
        summary = run_ingest(db, urls=[url], options=FAST)
        assert summary.n("ok") == 1 and summary.counts.new == 1
        assert len(other.hits["/internal"]) == 1
    finally:
        other.close()


def test_public_feed_redirecting_to_loopback_is_refused(server: Server, db: Database) -> None:
    """The fetcher is told this server's address is public (as a real outlet's would be); its
    redirect to a page on another loopback port must not be followed, let alone stored."""
    other = Server()
    try:
        internal = _internal_page(other).replace("127.0.0.1", "localhost")
        url = _redirect(server, "/feed", internal)
        good = server.url("/atom.xml")
        server.static("/atom.xml", ATOM, "application/atom+xml")
        seen_as_public = _names({"127.0.0.1": ["93.184.216.34"], "localhost": ["127.0.0.1", "::1"]})
        opts = FeedFetchOptions(timeout_s=5.0, retries=0, resolve=seen_as_public)
        with pytest.raises(PartialFailure) as info:
            run_ingest(db, urls=[url, good], options=opts)
        assert len(info.value.failures) == 1
        assert other.hits == {}  # never even asked
        error = _errors(db)[url]
        assert "redirect to localhost (loopback address) refused" in error and "\n" not in error
        with db.read() as con:
            titles = [r[0] for r in con.execute("SELECT title FROM headlines").fetchall()]
        assert len(titles) == 3 and "internal admin page" not in titles
    finally:
        other.close()


def test_redirect_to_a_file_url_is_refused(server: Server, db: Database) -> None:
    url = _redirect(server, "/feed", f"file://{FIXTURES / 'atom.xml'}")
    with pytest.raises(PartialFailure):
        run_ingest(db, urls=[url], options=FAST)
    assert "redirect to a file: URL refused" in _errors(db)[url]


def test_redirects_are_still_followed_and_counted(server: Server, db: Database) -> None:
    server.static("/atom.xml", ATOM, "application/atom+xml")
    _redirect(server, "/a", "/b")  # relative Location
    _redirect(server, "/b", server.url("/atom.xml"))
    summary = run_ingest(db, urls=[server.url("/a")], options=FAST)
    assert summary.counts.new == 3
    server.routes["/loop"] = lambda req: (301, {"Location": "/loop"}, b"")
    with pytest.raises(PartialFailure):
        run_ingest(db, urls=[server.url("/loop")], options=FAST)
    assert "more than 5 redirects" in _errors(db)[server.url("/loop")]
    assert len(server.hits["/loop"]) == 6  # the first request and five redirects


# -- what may be a feed ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "/etc/passwd", "localhost:6379", "gopher://x.test/", "javascript:alert(1)"],
)
def test_opml_and_catalogue_take_http_urls_only(url: str) -> None:
    opml = f'<opml version="2.0"><body><outline text="x" xmlUrl="{url}"/></body></opml>'.encode()
    with pytest.raises(InputError, match=re.escape("subs.opml: outline 'x'")):
        parse_opml(opml, "subs.opml")
    with pytest.raises(InputError, match=re.escape("feeds.toml: feed #1")):
        parse_catalogue(f'version = "1"\n[[feed]]\nname = "x"\nurl = "{url}"\n')


def test_import_opml_refuses_a_local_file_with_one_line(cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    opml = tmp_path / "evil.opml"
    opml.write_text(
        '<opml version="2.0"><body><outline text="Good" xmlUrl="https://good.test/rss"/>'
        '<outline text="Passwords" xmlUrl="file:///etc/passwd"/></body></opml>',
        encoding="utf-8",
    )
    res = cli("feeds", "import-opml", str(opml), "--db", str(db_path))
    assert res.code == 1 and "Traceback" not in res.err
    assert len(res.err.strip().splitlines()) == 1
    assert str(opml) in res.err
    assert "a local file can be a feed only when named on the command line" in res.err
    listed = cli("feeds", "list", "--db", str(db_path), "-f", "csv").out
    assert "good.test" not in listed and "passwd" not in listed


def test_local_files_still_work_from_the_command_line(cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = ["--db", str(db_path)]
    atom = str(FIXTURES / "atom.xml")
    assert cli("feeds", "add", atom, "--name", "Local", *db).code == 0
    assert cli("ingest", *db, "--only", "Local").code == 0
    assert cli("ingest", *db, "--feed", f"file://{FIXTURES / 'rss1.rdf'}").code == 0
    # ...and an export leaves them out, so it imports anywhere.
    out = tmp_path / "out.opml"
    assert cli("feeds", "export-opml", str(out), *db).code == 0
    assert "atom.xml" not in out.read_text(encoding="utf-8")
    assert cli("feeds", "import-opml", str(out), "--db", str(tmp_path / "other.duckdb")).code == 0
