"""flushwatch ingest against a real HTTP server on 127.0.0.1 serving real bytes."""

from __future__ import annotations

import email.utils
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from flushwatch.errors import PartialFailure
from flushwatch.ingest.news.fetch import USER_AGENT, FeedFetchOptions
from flushwatch.ingest.news.service import run_ingest
from flushwatch.storage.db import Database

FIXTURES = Path(__file__).parent / "data" / "feeds"
COINDESK = "rss_coindesk_snapshot_2023_03_13/coindesk_rss_2023-03-13T10-39Z.xml"
FAST = FeedFetchOptions(timeout_s=1.0, retries=2, backoff_s=0.01)

Route = Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]


class _Threading(ThreadingHTTPServer):
    request_queue_size = 64  # many feeds connect at once; the default backlog of 5 drops SYNs
    daemon_threads = True


class Server:
    """A threaded HTTP server whose routes tests set; records each request's headers."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, list[dict[str, str]]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.hits.setdefault(self.path, []).append(dict(self.headers))
                route = server.routes.get(self.path)
                if route is None:
                    status, headers, body = 404, {"Content-Type": "text/plain"}, b"not found"
                else:
                    status, headers, body = route(self)
                # An empty Content-Length sends none: the body then ends when the connection closes.
                headers.setdefault("Content-Length", str(len(body)))
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        if v:
                            self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = _Threading(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def static(
        self, path: str, body: bytes, content_type: str = "application/rss+xml", etag: str | None = None
    ) -> None:
        def route(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
            headers = {"Content-Type": content_type}
            if etag:
                headers["ETag"] = etag
                headers["Last-Modified"] = "Mon, 13 Mar 2023 10:39:40 GMT"
                if req.headers.get("If-None-Match") == etag:
                    return 304, headers, b""
            return 200, headers, body

        self.routes[path] = route

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def _expected_from_xml(xml: bytes) -> list[tuple[str, str]]:
    """(title, UTC ISO time) per item, computed with xml.etree + email.utils, not feedparser."""
    root = ET.fromstring(xml)
    out = []
    for item in root.iter("item"):
        title = re.sub(r"\s+", " ", item.findtext("title") or "").strip()
        when = email.utils.parsedate_to_datetime(item.findtext("pubDate") or "")
        out.append((title, when.astimezone(__import__("datetime").UTC).strftime("%Y-%m-%dT%H:%M:%S")))
    return out


def _stored(db: Database) -> list[tuple[str, str]]:
    with db.read() as con:
        rows = con.execute(
            "SELECT title, strftime(published_at, '%Y-%m-%dT%H:%M:%S') FROM headlines ORDER BY headline_id"
        ).fetchall()
    return [(r[0], r[1]) for r in rows]


def test_coindesk_snapshot_all_items_exact_then_304_and_no_duplicates(
    server: Server, db: Database, shared_data: Path
) -> None:
    xml = (shared_data / COINDESK).read_bytes()
    server.static("/coindesk.xml", xml, etag='"cd-1"')
    url = server.url("/coindesk.xml")

    first = run_ingest(db, urls=[url], options=FAST)
    assert first.n("ok") == 1 and first.counts.new == 50
    expected = _expected_from_xml(xml)
    assert len(expected) == 50
    assert sorted(_stored(db)) == sorted(expected)
    sent = server.hits["/coindesk.xml"][0]
    assert sent["User-Agent"] == USER_AGENT
    assert "br" in sent["Accept-Encoding"] and "gzip" in sent["Accept-Encoding"]

    second = run_ingest(db, urls=[url], options=FAST)
    assert second.n("not_modified") == 1 and second.counts.new == 0
    assert server.hits["/coindesk.xml"][1]["If-None-Match"] == '"cd-1"'

    # The server forgets its ETag: a full re-fetch still stores nothing twice.
    server.static("/coindesk.xml", xml)
    third = run_ingest(db, urls=[url], options=FAST)
    assert third.counts.new == 0 and third.counts.duplicate == 50
    with db.read() as con:
        n, keys, stories = con.execute(
            "SELECT count(*), count(DISTINCT dedup_key), count(DISTINCT story_id) FROM headlines"
        ).fetchone()
        etag, status = con.execute("SELECT etag, last_status FROM feeds WHERE url = ?", [url]).fetchone()
    assert n == keys == 50
    assert 1 <= stories <= 50
    assert status == 200 and etag is None  # the server stopped sending one
    assert status == 200


def _atom_expected() -> list[tuple[str, str]]:
    import datetime as dt

    ns = {"a": "http://www.w3.org/2005/Atom"}
    root = ET.parse(FIXTURES / "atom.xml").getroot()
    out = []
    for e in root.findall("a:entry", ns):
        raw_title = e.findtext("a:title", namespaces=ns) or ""
        title = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", raw_title)).strip()
        when = e.findtext("a:published", namespaces=ns) or e.findtext("a:updated", namespaces=ns) or ""
        t = dt.datetime.fromisoformat(when.replace("Z", "+00:00")).astimezone(dt.UTC)
        out.append((title, t.strftime("%Y-%m-%dT%H:%M:%S")))
    return out


def test_atom_and_rss1_feeds(server: Server, db: Database) -> None:
    import datetime as dt

    server.static("/atom.xml", (FIXTURES / "atom.xml").read_bytes(), "application/atom+xml")
    server.static("/rss1.rdf", (FIXTURES / "rss1.rdf").read_bytes(), "application/rdf+xml")
    summary = run_ingest(db, urls=[server.url("/atom.xml"), server.url("/rss1.rdf")], options=FAST)
    assert summary.n("ok") == 2 and summary.counts.new == 5
    rdf = ET.parse(FIXTURES / "rss1.rdf").getroot()
    rss1_expected = [
        (
            item.findtext("{http://purl.org/rss/1.0/}title"),
            dt.datetime.fromisoformat(item.findtext("{http://purl.org/dc/elements/1.1/}date") or "")
            .astimezone(dt.UTC)
            .strftime("%Y-%m-%dT%H:%M:%S"),
        )
        for item in rdf.findall("{http://purl.org/rss/1.0/}item")
    ]
    assert sorted(_stored(db)) == sorted(_atom_expected() + rss1_expected)
    with db.read() as con:
        url, summary_text = con.execute(
            "SELECT canonical_url, summary FROM headlines WHERE title LIKE 'Exchange halts%'"
        ).fetchone()
    assert url == "https://wire.example.test/news/exchange-halts-withdrawals"
    assert summary_text == "The venue said customer funds are safe."


def test_broken_entry_skipped_missing_and_future_times_flagged(server: Server, db: Database) -> None:
    server.static("/mixed.xml", (FIXTURES / "broken_entry.xml").read_bytes())
    summary = run_ingest(db, urls=[server.url("/mixed.xml")], options=FAST)
    (outcome,) = summary.outcomes
    assert outcome.status == "ok" and outcome.skipped_entries == 1 and outcome.counts.new == 3
    with db.read() as con:
        rows = dict(con.execute("SELECT guid, time_flag FROM headlines").fetchall())
        same = con.execute(
            "SELECT count(*) FROM headlines WHERE time_flag IS NOT NULL AND published_at = first_seen_at"
        ).fetchone()[0]
        assets = con.execute(
            "SELECT asset, method, ambiguous FROM headline_assets JOIN headlines USING (headline_id) "
            "WHERE guid = 'mixed-1'"
        ).fetchall()
    assert rows == {"mixed-1": None, "mixed-3": "missing", "mixed-4": "future"}
    assert same == 2
    assert ("LINK", "name", False) in assets


def _failure_routes(server: Server, coindesk: bytes) -> dict[str, str]:
    """path -> a phrase the recorded error must contain."""
    slow_done = threading.Event()

    def slow(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        slow_done.wait(3)
        return 200, {}, b"<rss/>"

    server.routes["/slow.xml"] = slow
    server.routes["/500.xml"] = lambda r: (500, {}, b"oops")
    server.routes["/loop.xml"] = lambda r: (302, {"Location": "/loop.xml"}, b"")
    server.static(
        "/html.xml",
        b"<!DOCTYPE html><html><head><title>Blocked</title></head><body>hi</body></html>",
        "text/html",
    )
    server.static(
        "/malformed.xml",
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
        b"<item><title>a</item></channel></rss>",
    )
    server.static("/truncated.xml", coindesk[: len(coindesk) // 2])
    server.static(
        "/huge.xml",
        b'<?xml version="1.0"?><rss version="2.0"><channel>' + b" " * 300_000 + b"</channel></rss>",
    )
    lol = b"".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">'.encode() for i in range(1, 9))
    server.static(
        "/bomb.xml",
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol0 "lol">' + lol + b']><rss version="2.0"><channel>'
        b"<title>&lol8;</title><item><title>&lol8;</title></item></channel></rss>",
    )
    return {
        "/404.xml": "HTTP 404",
        "/500.xml": "HTTP 500",
        "/slow.xml": "timed out",
        "/loop.xml": "redirect",
        "/html.xml": "HTML page",
        "/malformed.xml": "malformed",
        "/truncated.xml": "malformed or truncated",
        "/huge.xml": "cap",
        "/bomb.xml": "entities",
    }


def test_every_failure_mode_recorded_good_feeds_stored(
    server: Server, db: Database, shared_data: Path
) -> None:
    coindesk = (shared_data / COINDESK).read_bytes()
    server.static("/good.xml", coindesk)
    server.static("/atom.xml", (FIXTURES / "atom.xml").read_bytes(), "application/atom+xml")
    bad = _failure_routes(server, coindesk)
    urls = [server.url("/good.xml"), server.url("/atom.xml"), *(server.url(p) for p in bad)]
    opts = FeedFetchOptions(timeout_s=0.5, retries=1, backoff_s=0.01, max_body_bytes=200_000)
    with pytest.raises(PartialFailure) as info:
        run_ingest(db, urls=urls, options=opts)
    assert len(info.value.failures) == len(bad)
    with db.read() as con:
        n = con.execute("SELECT count(*) FROM headlines").fetchone()[0]
        errors = dict(
            con.execute("SELECT url, last_error FROM feeds WHERE last_error IS NOT NULL").fetchall()
        )
        failures = dict(con.execute("SELECT url, consecutive_failures FROM feeds").fetchall())
        run = con.execute("SELECT status, counts FROM runs WHERE command = 'ingest'").fetchone()
    assert n == 53  # 50 CoinDesk + 3 Atom items, nothing from any broken feed
    for path, phrase in bad.items():
        assert phrase in errors[server.url(path)], (path, errors[server.url(path)])
        assert failures[server.url(path)] == 1
    assert failures[server.url("/good.xml")] == 0
    assert len(server.hits["/500.xml"]) == 2  # transient: retried once
    assert len(server.hits["/404.xml"]) == 1  # terminal: not retried
    assert run[0] == "partial" and '"feeds_failed": 9' in run[1]


def test_429_retry_after_is_honoured(server: Server, db: Database) -> None:
    body = (FIXTURES / "rss1.rdf").read_bytes()
    calls = {"n": 0}

    def limited(req: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        calls["n"] += 1
        if calls["n"] == 1:
            return 429, {"Retry-After": "1"}, b"slow down"
        return 200, {"Content-Type": "application/rdf+xml"}, body

    server.routes["/limited.rdf"] = limited
    started = time.monotonic()
    summary = run_ingest(
        db,
        urls=[server.url("/limited.rdf")],
        options=FeedFetchOptions(timeout_s=2, retries=2, backoff_s=0.01),
    )
    waited = time.monotonic() - started
    assert summary.n("ok") == 1 and calls["n"] == 2
    assert waited >= 0.9  # the server asked for one second; the backoff alone would be 10 ms


def test_changed_title_updates_row_and_keeps_old_title(server: Server, db: Database) -> None:
    template = (FIXTURES / "broken_entry.xml").read_text()
    server.static("/mixed.xml", template.encode())
    run_ingest(db, urls=[server.url("/mixed.xml")], options=FAST)
    server.static("/mixed.xml", template.replace("jumps 9%", "jumps 11%").encode())
    summary = run_ingest(db, urls=[server.url("/mixed.xml")], options=FAST)
    assert (summary.counts.new, summary.counts.updated, summary.counts.duplicate) == (0, 1, 2)
    with db.read() as con:
        title = con.execute("SELECT title FROM headlines WHERE guid = 'mixed-1'").fetchone()[0]
        old = con.execute(
            "SELECT t.title FROM headline_titles t JOIN headlines h USING (headline_id)"
        ).fetchall()
    assert title == "Chainlink (LINK) jumps 11% on new staking pool"
    assert old == [("Chainlink (LINK) jumps 9% on new staking pool",)]


def test_cli_ingest_exit_codes_and_feeds_list(server: Server, cli, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    server.static("/atom.xml", (FIXTURES / "atom.xml").read_bytes(), "application/atom+xml")
    ok = cli("ingest", "--db", str(db_path), "--feed", server.url("/atom.xml"))
    assert ok.code == 0, ok.err
    assert "feeds: 1 ok, 0 not modified, 0 failed; items: 3 new, 0 updated, 0 duplicate" in ok.out
    bad = cli(
        "ingest",
        "--db",
        str(db_path),
        "--feed",
        server.url("/atom.xml"),
        "--feed",
        server.url("/gone.xml"),
        "--retries",
        "0",
    )
    assert bad.code == 3
    assert "1 of 2 feeds failed" in bad.err and "Traceback" not in bad.err
    # Scripts read the summary from stdout, failed feeds or not.
    assert "feeds: 1 ok, 0 not modified, 1 failed; items: 0 new, 0 updated, 3 duplicate" in bad.out
    listed = cli("feeds", "list", "--db", str(db_path), "-f", "csv")
    line = next(x for x in listed.out.splitlines() if x.endswith(server.url("/gone.xml")))
    assert "HTTP 404" in line and ",1," in line
    # list commands share --limit (README)
    one = cli("feeds", "list", "--db", str(db_path), "-f", "csv", "--limit", "1")
    assert one.code == 0 and len(one.out.splitlines()) == 2 and len(listed.out.splitlines()) > 2


def test_ingest_database_busy_exits_75(server: Server, db: Database, db_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    server.static("/atom.xml", (FIXTURES / "atom.xml").read_bytes(), "application/atom+xml")
    with db.write():
        pass  # create the file
    repo = Path(__file__).resolve().parent.parent
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.hold_db", str(db_path), "20"],
        cwd=repo,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        res = cli("ingest", "--db", str(db_path), "--wait", "0.3", "--feed", server.url("/atom.xml"))
    finally:
        holder.kill()
        holder.wait()
    assert res.code == 75 and "database busy" in res.err
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM headlines").fetchone()[0] == 0


def test_local_file_feed(db: Database) -> None:
    summary = run_ingest(
        db, urls=[f"file://{FIXTURES / 'atom.xml'}", str(FIXTURES / "rss1.rdf")], options=FAST
    )
    assert summary.n("ok") == 2 and summary.counts.new == 5


def test_loop_runs_passes_and_survives_failed_feeds(server: Server, db: Database) -> None:
    from flushwatch.jobs.ingest import ingest_loop
    from flushwatch.records.news import IngestSummary

    server.static("/atom.xml", (FIXTURES / "atom.xml").read_bytes(), "application/atom+xml", etag='"a1"')
    seen: list[str] = []

    def on_pass(result: IngestSummary | PartialFailure) -> None:
        seen.append("PartialFailure" if isinstance(result, PartialFailure) else type(result).__name__)
        if len(seen) == 2:
            raise KeyboardInterrupt

    urls = [server.url("/atom.xml"), server.url("/missing.xml")]
    with pytest.raises(KeyboardInterrupt):
        ingest_loop(db, 0.01, on_pass, urls=urls, options=FeedFetchOptions(timeout_s=1, retries=0))
    assert seen == ["PartialFailure", "PartialFailure"]
    assert len(server.hits["/atom.xml"]) == 2
    assert server.hits["/atom.xml"][1].get("If-None-Match") == '"a1"'
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM headlines").fetchone()[0] == 3
        statuses = [r[0] for r in con.execute("SELECT status FROM runs WHERE command = 'ingest'").fetchall()]
    assert statuses == ["partial", "partial"]


@pytest.mark.parametrize(
    "content_type", ["text/xml", "text/plain; charset=utf-8", "application/octet-stream"]
)
def test_valid_feed_with_a_loose_content_type_is_stored(
    server: Server, db: Database, shared_data: Path, content_type: str
) -> None:
    # nginx serves .xml as text/xml without a charset (US-ASCII by RFC 3023); other servers
    # send text/plain or octet-stream. feedparser warns and parses every entry right.
    xml = (shared_data / COINDESK).read_bytes()
    server.static("/feed", xml, content_type)
    summary = run_ingest(db, urls=[server.url("/feed")], options=FAST)
    assert summary.n("ok") == 1 and summary.counts.new == 50
    assert sorted(_stored(db)) == sorted(_expected_from_xml(xml))


def _with_nbsp(xml: bytes) -> bytes:
    """The CoinDesk snapshot with an HTML entity XML does not define in its first item title."""
    at = xml.index(b"<title>", xml.index(b"<item>")) + len(b"<title>")
    return xml[:at] + b"Breaking&nbsp;" + xml[at:]


@pytest.mark.parametrize("content_type", ["application/rss+xml", "text/xml"])
def test_truncated_feed_with_an_undefined_entity_fails_whole(
    server: Server, db: Database, shared_data: Path, content_type: str
) -> None:
    whole = _with_nbsp((shared_data / COINDESK).read_bytes())
    server.static("/cut.xml", whole[: len(whole) // 2], content_type)
    with pytest.raises(PartialFailure) as info:
        run_ingest(db, urls=[server.url("/cut.xml")], options=FAST)
    assert "malformed or truncated" in info.value.failures[0]
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM headlines").fetchone()[0] == 0
    # The same document complete is fine: the entity alone never fails a feed.
    server.static("/whole.xml", whole, content_type)
    summary = run_ingest(db, urls=[server.url("/whole.xml")], options=FAST)
    assert summary.counts.new == 50
    with db.read() as con:
        titles = [r[0] for r in con.execute("SELECT title FROM headlines").fetchall()]
    assert sum(t.startswith("Breaking ") for t in titles) == 1


_DUPLICATE_GUIDS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Wire</title><link>https://wire.example.test/</link>
<item><title>Exchange halts withdrawals</title><link>https://wire.example.test/a</link>
  <guid isPermaLink="false">wire-1</guid><pubDate>Mon, 13 Mar 2023 09:00:00 GMT</pubDate></item>
<item><title>Stablecoin loses its peg</title><link>https://wire.example.test/b</link>
  <guid isPermaLink="false">wire-1</guid><pubDate>Mon, 13 Mar 2023 09:30:00 GMT</pubDate></item>
<item><title>Bitcoin jumps 9%</title><link>https://wire.example.test/c</link>
  <guid isPermaLink="false">wire-3</guid><pubDate>Mon, 13 Mar 2023 10:00:00 GMT</pubDate></item>
<item><title>Bitcoin jumps 10%</title><link>https://wire.example.test/c?utm_source=rss</link>
  <guid isPermaLink="false">wire-3</guid><pubDate>Mon, 13 Mar 2023 10:00:00 GMT</pubDate></item>
</channel></rss>
"""


def test_guid_repeated_in_one_feed_stores_each_article_and_reruns_change_nothing(
    server: Server, db: Database
) -> None:
    server.static("/dup.xml", _DUPLICATE_GUIDS)
    url = server.url("/dup.xml")
    first = run_ingest(db, urls=[url], options=FAST)
    # wire-1 names two articles (different links): both stored, keyed by URL. wire-3 is one
    # article listed twice (same canonical link): stored once, in its later version.
    assert (first.counts.new, first.counts.updated, first.counts.duplicate) == (3, 0, 1)
    with db.read() as con:
        stored = con.execute("SELECT title, dedup_key, run_id FROM headlines ORDER BY title").fetchall()
    assert [r[0] for r in stored] == [
        "Bitcoin jumps 10%",
        "Exchange halts withdrawals",
        "Stablecoin loses its peg",
    ]
    assert (
        stored[1][1] == "url:https://wire.example.test/a"
        and stored[2][1] == "url:https://wire.example.test/b"
    )
    for _ in range(2):
        again = run_ingest(db, urls=[url], options=FAST)
        assert (again.counts.new, again.counts.updated, again.counts.duplicate) == (0, 0, 4)
    with db.read() as con:
        after = con.execute("SELECT title, dedup_key, run_id FROM headlines ORDER BY title").fetchall()
        touched = con.execute("SELECT count(*) FROM headlines WHERE updated_at IS NOT NULL").fetchone()[0]
        history = con.execute("SELECT count(*) FROM headline_titles").fetchone()[0]
    assert after == stored and touched == 0 and history == 0


def test_loop_reports_a_busy_pass_and_goes_on(
    server: Server,
    db_path: Path,
    cli,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    import flushwatch.jobs.ingest as ingest_job

    server.static("/atom.xml", (FIXTURES / "atom.xml").read_bytes(), "application/atom+xml")
    with Database(db_path, snapshot=False).write():
        pass  # create the file
    repo = Path(__file__).resolve().parent.parent
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.hold_db", str(db_path), "30"],
        cwd=repo,
        stdout=subprocess.PIPE,
        text=True,
    )
    sleeps = {"n": 0}

    class Clock:
        """The loop's clock: the first pause frees the database, the second ends the loop."""

        monotonic = staticmethod(time.monotonic)
        perf_counter = staticmethod(time.perf_counter)

        @staticmethod
        def sleep(seconds: float) -> None:
            sleeps["n"] += 1
            if sleeps["n"] == 1:
                holder.kill()
                holder.wait()
            else:
                raise KeyboardInterrupt

    monkeypatch.setattr(ingest_job, "time", Clock)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        res = cli(
            "ingest", "--db", str(db_path), "--wait", "0.3", "--loop", "1", "--feed", server.url("/atom.xml")
        )
    finally:
        holder.kill()
        holder.wait()
    assert res.code == 130 and "Traceback" not in res.err  # ended by the simulated Ctrl-C
    lines = res.out.strip().splitlines()
    assert len(lines) == 2, res.out
    assert "pass skipped: database busy" in lines[0]
    assert "feeds: 1 ok, 0 not modified, 0 failed; items: 3 new" in lines[1]
    with Database(db_path, snapshot=False).read() as con:
        assert con.execute("SELECT count(*) FROM headlines").fetchone()[0] == 3
