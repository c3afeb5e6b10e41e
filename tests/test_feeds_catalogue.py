"""The shipped feed catalogue and `flushwatch feeds ...` subscription management."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from flushwatch.errors import InputError
from flushwatch.ingest.news.catalogue import default_catalogue, parse_opml, to_opml
from flushwatch.records.news import FEED_KINDS


def test_catalogue_is_large_real_and_valid() -> None:
    version, specs = default_catalogue()
    assert version and len(specs) >= 30
    assert len({s.url for s in specs}) == len(specs)
    assert {s.kind for s in specs} == set(FEED_KINDS)
    for s in specs:
        parts = urlsplit(s.url)
        assert parts.scheme == "https" and "." in parts.netloc, s
        assert 1 <= s.tier <= 3 and s.language
    names = {s.name for s in specs}
    for outlet in (
        "CoinDesk",
        "Cointelegraph",
        "The Block",
        "Decrypt",
        "SEC press releases",
        "Federal Reserve press releases",
        "CFTC press releases",
        "BLS latest numbers",
    ):
        assert outlet in names


def test_opml_round_trip_and_refuses_entities() -> None:
    _, specs = default_catalogue()
    back = parse_opml(to_opml(specs).encode())
    assert [(s.url, s.name, s.kind, s.tier, s.enabled) for s in back] == [
        (s.url, s.name, s.kind, s.tier, s.enabled) for k in FEED_KINDS for s in specs if s.kind == k
    ]
    with pytest.raises(InputError):
        parse_opml(b'<?xml version="1.0"?><!DOCTYPE o [<!ENTITY a "b">]><opml><body>&a;</body></opml>')


def test_feeds_cli(cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = ["--db", str(db_path)]
    listed = cli("feeds", "list", *db, "-f", "csv")
    assert listed.code == 0 and "CoinDesk" in listed.out  # catalogue loaded on first use
    n_catalogue = len(listed.out.strip().splitlines()) - 1
    assert (
        cli("feeds", "add", "https://wire.example.test/rss", "--name", "Wire", "--kind", "macro", *db).code
        == 0
    )
    assert "already" in cli("feeds", "add", "https://wire.example.test/rss", *db).out
    assert cli("feeds", "add", "https://x.test/rss", "--kind", "gossip", *db).code == 2
    assert cli("feeds", "disable", "Wire", *db).code == 0
    line = next(x for x in cli("feeds", "list", *db, "-f", "csv").out.splitlines() if ",Wire," in x)
    assert ",False," in line
    assert cli("feeds", "enable", "wire", *db).code == 0
    missing = cli("feeds", "remove", "No Such Feed", *db)
    assert missing.code == 2 and "no feed named" in missing.err
    assert cli("feeds", "remove", "Wire", *db).code == 0
    opml = tmp_path / "feeds.opml"
    assert cli("feeds", "export-opml", str(opml), *db).code == 0
    assert cli("feeds", "remove", "CoinDesk", *db).code == 0
    res = cli("feeds", "import-opml", str(opml), *db)
    assert res.code == 0 and f"added 1 of {n_catalogue} feeds" in res.out
    # Removing every catalogue feed does not bring the catalogue back by itself.
    assert cli("feeds", "add", "--catalogue", *db).out.startswith("added 0")


FIXTURES = Path(__file__).parent / "data" / "feeds"


def _feed_row(cli, db: list[str], url: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    import csv
    import io

    listed = cli("feeds", "list", *db, "-f", "csv")
    return next(r for r in csv.DictReader(io.StringIO(listed.out)) if r["url"] == url)


def test_adding_a_url_used_once_with_ingest_feed_subscribes_to_it(cli, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = ["--db", str(db_path)]
    atom, rss1 = str(FIXTURES / "atom.xml"), str(FIXTURES / "rss1.rdf")
    assert cli("ingest", *db, "--feed", atom, "--feed", rss1).code == 0
    assert _feed_row(cli, db, atom)["enabled"] == "False"  # remembered, not subscribed
    added = cli("feeds", "add", atom, "--name", "Wire Atom", "--tier", "1", "--kind", "macro", *db)
    assert added.code == 0 and "subscribed to" in added.out and "already" not in added.out
    row = _feed_row(cli, db, atom)
    assert (row["name"], row["kind"], row["tier"], row["enabled"]) == ("Wire Atom", "macro", "1", "True")
    assert row["items_seen"] == "3"  # its history stays
    assert "already subscribed" in cli("feeds", "add", atom, *db).out


def test_import_opml_takes_over_a_url_used_once_with_ingest_feed(cli, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.test_ingest_http import Server

    db = ["--db", str(db_path)]
    server = Server()
    try:
        server.static("/rss1.rdf", (FIXTURES / "rss1.rdf").read_bytes(), "application/rdf+xml")
        url = server.url("/rss1.rdf")
        assert cli("ingest", *db, "--feed", url).code == 0
        assert _feed_row(cli, db, url)["enabled"] == "False"
        opml = db_path.parent / "in.opml"
        opml.write_text(
            f'<opml version="2.0"><body><outline text="RSS 1" xmlUrl="{url}" tier="3"/></body></opml>',
            encoding="utf-8",
        )
        res = cli("feeds", "import-opml", str(opml), *db)
        assert res.code == 0 and "added 1 of 1" in res.out
        row = _feed_row(cli, db, url)
        assert (row["name"], row["tier"], row["enabled"]) == ("RSS 1", "3", "True")
    finally:
        server.close()


def test_export_opml_keeps_settings_and_leaves_out_one_off_urls(cli, db_path: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = ["--db", str(db_path)]
    assert cli("ingest", *db, "--feed", str(FIXTURES / "atom.xml")).code == 0
    assert (
        cli("feeds", "add", "https://wire.example.test/rss", "--name", "Wire", "--tier", "3", *db).code == 0
    )
    assert cli("feeds", "disable", "Wire", *db).code == 0
    before = _feed_row(cli, db, "https://wire.example.test/rss")
    opml = tmp_path / "feeds.opml"
    assert cli("feeds", "export-opml", str(opml), *db).code == 0
    text = opml.read_text(encoding="utf-8")
    assert "atom.xml" not in text  # fetched once with --feed: not a subscription
    specs = {s.url: s for s in parse_opml(text.encode())}
    wire = specs["https://wire.example.test/rss"]
    assert (wire.tier, wire.enabled) == (3, False)
    # Round trip into a fresh database: every subscription comes back with its settings.
    other = ["--db", str(tmp_path / "other.duckdb")]
    assert cli("feeds", "import-opml", str(opml), *other).code == 0
    after = _feed_row(cli, other, "https://wire.example.test/rss")
    keep = ("name", "kind", "tier", "enabled")
    assert [after[k] for k in keep] == [before[k] for k in keep] == ["Wire", "crypto", "3", "False"]
    _, catalogue = default_catalogue()
    assert len(specs) == len(catalogue) + 1
    assert all((specs[s.url].tier, specs[s.url].enabled) == (s.tier, s.enabled) for s in catalogue)


def test_opml_round_trip_carries_tier_and_enabled() -> None:
    from flushwatch.records.news import FeedSpec

    specs = [
        FeedSpec("A", "https://a.test/rss", "crypto", "en", 1, True),
        FeedSpec("B", "https://b.test/rss", "macro", "en", 3, False),
    ]
    back = parse_opml(to_opml(specs).encode())
    assert [(s.url, s.tier, s.enabled) for s in back] == [(s.url, s.tier, s.enabled) for s in specs]
    # Feed readers' OPML has neither attribute: tier 2, enabled.
    plain = parse_opml(
        b'<opml version="2.0"><body><outline text="C" xmlUrl="https://c.test/rss"/></body></opml>'
    )
    assert [(s.tier, s.enabled) for s in plain] == [(2, True)]


@pytest.mark.parametrize(
    "outline",
    [
        '<outline text="Blank" xmlUrl="  "/>',
        '<outline text="FTP" xmlUrl="ftp://files.test/feed.xml"/>',
        '<outline text="T" xmlUrl="https://t.test/rss" tier="high"/>',
        '<outline text="E" xmlUrl="https://t.test/rss" enabled="maybe"/>',
    ],
)
def test_import_opml_refuses_unusable_outlines(cli, db_path: Path, tmp_path: Path, outline: str) -> None:  # type: ignore[no-untyped-def]
    opml = tmp_path / "bad.opml"
    opml.write_text(
        f'<opml version="2.0"><body><outline text="Good" xmlUrl="https://good.test/rss"/>{outline}</body></opml>',
        encoding="utf-8",
    )
    res = cli("feeds", "import-opml", str(opml), "--db", str(db_path))
    assert res.code == 1 and str(opml) in res.err and "Traceback" not in res.err
    assert len(res.err.strip().splitlines()) == 1
    listed = cli("feeds", "list", "--db", str(db_path), "-f", "csv").out
    assert "good.test" not in listed  # nothing of the file stored


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["ftp://foo"], "only http(s)"),
        (["not a url"], "not an http(s) URL or an existing file"),
        (["/nonexistent/file.xml"], "not an http(s) URL or an existing file"),
        (["http://"], "without a host"),
        (["https://x.test/rss", "--kind", "bogus"], "kind 'bogus'"),
    ],
)
def test_feeds_add_refuses_unusable_values_as_usage_errors(
    cli, db_path: Path, args: list[str], phrase: str
) -> None:  # type: ignore[no-untyped-def]
    res = cli("feeds", "add", *args, "--db", str(db_path))
    assert res.code == 2 and phrase in res.err and "Traceback" not in res.err
    assert len(res.err.strip().splitlines()) == 1
    assert cli("feeds", "add", str(FIXTURES / "atom.xml"), "--db", str(db_path)).code == 0  # a file is fine


@pytest.mark.parametrize("url", ["ftp://foo", "/nonexistent/file.xml", "http://"])
def test_ingest_feed_refuses_an_unusable_url_and_stores_nothing(cli, db_path: Path, url: str) -> None:  # type: ignore[no-untyped-def]
    good = str(FIXTURES / "atom.xml")
    res = cli("ingest", "--db", str(db_path), "--feed", good, "--feed", url)
    assert res.code == 2 and "--feed" in res.err and "Traceback" not in res.err
    import duckdb

    with duckdb.connect(str(db_path), read_only=True) as con:
        stored = [
            r[0]
            for r in con.execute(
                "SELECT url FROM feeds WHERE url LIKE '%atom.xml' OR url = ?", [url]
            ).fetchall()
        ]
    assert stored == []  # checked before either was stored
    assert cli("ingest", "--db", str(db_path), "--feed", good).code == 0  # the good one alone is fine
    with duckdb.connect(str(db_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM feeds WHERE url LIKE '%atom.xml'").fetchone() == (1,)
