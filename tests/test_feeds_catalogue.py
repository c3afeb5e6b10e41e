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
    assert [(s.url, s.name, s.kind) for s in back] == [
        (s.url, s.name, s.kind) for k in FEED_KINDS for s in specs if s.kind == k
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
    assert cli("feeds", "add", "https://x.test/rss", "--kind", "gossip", *db).code != 0
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
