"""Pure normalisation, identity, decide and parse rules: no database, no network."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flushwatch.errors import FeedError
from flushwatch.ingest.news.decide import decide, plan_batch
from flushwatch.ingest.news.normalise import (
    canonical_url,
    identity_keys,
    normalise_item,
    normalise_language,
    plain_text,
    resolve_time,
)
from flushwatch.ingest.news.parse import check_bytes, parse_feed
from flushwatch.nlp.language import detect_language
from flushwatch.records.news import Decision, Existing, RawItem

NOW = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<p>Bitcoin <b>rallies</b></p>", "Bitcoin rallies"),
        ("Fed &amp; SEC &#8217;talk&#8217;", "Fed & SEC \u2019talk\u2019"),
        ("double &amp;#8217;escaped", "double \u2019escaped"),
        ("  lots \n of\t\u00a0space  ", "lots of space"),
        ("Ethereum\u00e2\u20ac\u2122s upgrade", "Ethereum\u2019s upgrade"),  # UTF-8 read as cp1252
        ("Bitcoin\\xa0hits \\x93record\\x94", "Bitcoin hits \u201crecord\u201d"),  # literal escapes in dumps
        ("line<br/>break", "line break"),
        ("Bitcoin \x80\x9b falls\x9f", "Bitcoin falls"),  # C1 controls, like C0 ones
        ("Next\x85line", "Next line"),
        ("Ether\u00e2\x80\x99s run", "Ether\u2019s run"),  # UTF-8 read as Latin-1: repaired first
        ("\ud800 Bitcoin \udfff", "\ufffd Bitcoin \ufffd"),  # lone surrogates (JSON "\ud800")
        ("split \ud83d\ude00 pair", "split \U0001f600 pair"),
        (
            "Caf\u00e9 na\u00efve r\u00e9sum\u00e9",
            "Caf\u00e9 na\u00efve r\u00e9sum\u00e9",
        ),  # correct text untouched
    ],
)
def test_plain_text(raw: str, clean: str) -> None:
    assert plain_text(raw) == clean


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "HTTP://WWW.CoinDesk.com/markets/2024/01/02/x/?utm_source=rss&utm_medium=feed",
            "https://coindesk.com/markets/2024/01/02/x",
        ),
        ("https://cointelegraph.com/news/abc/amp", "https://cointelegraph.com/news/abc"),
        ("https://amp.example.com/story?id=7&fbclid=zzz#comments", "https://example.com/story?id=7"),
        ("https://cryptonews.comhttps://cryptonews.com/news/a.htm", "https://cryptonews.com/news/a.htm"),
        ("https://site.test/a?b=2&a=1", "https://site.test/a?a=1&b=2"),
        ("mailto:x@y.z", None),
        ("", None),
    ],
)
def test_canonical_url(url: str, canonical: str | None) -> None:
    assert canonical_url(url) == canonical


@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=200))  # surrogates too
def test_plain_text_is_idempotent_and_single_spaced(text: str) -> None:
    once = plain_text(text)
    assert "  " not in once and once == once.strip()
    assert plain_text(once) == once
    assert not any(unicodedata.category(c) in ("Cc", "Cs") for c in once), repr(once)
    once.encode("utf-8")


def test_normalise_item_replaces_lone_surrogates_in_every_field() -> None:
    """Feeds and imports meet here: nothing of an item may fail to encode when it is hashed or
    stored."""
    raw = RawItem("g\ud800", "https://x.test/a?q=\udc00", "T\udbff", "S\ud83d", NOW)
    h = normalise_item(raw, source="Wire\udfff", first_seen=NOW, origin="feed")
    assert h is not None
    assert (h.title, h.summary, h.source, h.guid, h.url) == (
        "T\ufffd",
        "S\ufffd",
        "Wire\ufffd",
        "g\ufffd",
        "https://x.test/a?q=\ufffd",
    )
    assert h.canonical_url == "https://x.test/a?q=%EF%BF%BD"
    for text in (h.dedup_key, *h.alt_keys):
        text.encode("utf-8")


def test_resolve_time_missing_future_and_offsets() -> None:
    assert resolve_time(None, NOW) == (NOW, "missing")
    assert resolve_time(NOW + dt.timedelta(hours=2), NOW) == (NOW, "future")
    berlin = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert resolve_time(berlin, NOW) == (dt.datetime(2024, 3, 5, 11, 0, tzinfo=dt.UTC), None)
    naive = dt.datetime(2024, 3, 5, 11, 0)
    assert resolve_time(naive, NOW)[0].tzinfo is not None


def test_languages() -> None:
    assert normalise_language("en-US") == "en"
    assert detect_language("Bitcoin price falls after the Fed decision") == "en"
    assert detect_language("\u6bd4\u7279\u5e01\u4ef7\u683c\u4e0b\u8dcc") == "zh"
    assert (
        detect_language("\u0411\u0438\u0442\u043a\u043e\u0438\u043d \u043f\u0430\u0434\u0430\u0435\u0442")
        == "ru"
    )


def test_identity_keys_prefer_guid_and_meet_on_url() -> None:
    k1 = identity_keys(source="X", guid="abc-1", canonical="https://x.test/a", title="T", published=None)
    assert k1 == ("guid:x:abc-1", "url:https://x.test/a")
    # A permalink GUID is keyed by its canonical URL, so http/https/AMP variants meet.
    k2 = identity_keys(source="X", guid="http://www.x.test/a/amp", canonical=None, title="T", published=None)
    assert k2 == ("url:https://x.test/a",)
    k3 = identity_keys(source="X", guid=None, canonical=None, title="Same  title", published=NOW)
    k4 = identity_keys(source="X", guid=None, canonical=None, title="same title", published=NOW)
    assert k3 == k4 and k3[0].startswith("title:x:")


def _item(title: str, guid: str | None = "g1", url: str | None = "https://x.test/a") -> object:
    h = normalise_item(RawItem(guid, url, title, None, NOW), source="X", first_seen=NOW, origin="feed")
    assert h is not None
    return h


def test_decide_is_pure() -> None:
    h = _item("Bitcoin rallies")
    assert decide(None, h) is Decision.new  # type: ignore[arg-type]
    same = Existing(1, h.dedup_key, h.title, h.content_hash)  # type: ignore[attr-defined]
    assert decide(same, h) is Decision.duplicate  # type: ignore[arg-type]
    changed = Existing(1, h.dedup_key, "Bitcoin rallies 5%", "other-hash")  # type: ignore[attr-defined]
    assert decide(changed, h) is Decision.updated  # type: ignore[arg-type]


def test_plan_batch_dedups_within_batch_and_across_keys() -> None:
    a = _item("Bitcoin rallies")
    a_again = _item("Bitcoin rallies")
    a_changed = _item("Bitcoin rallies 5%")
    other_guid_same_url = _item("Bitcoin rallies 5%", guid="g2")
    plan = plan_batch([a, a_again, a_changed, other_guid_same_url], {})  # type: ignore[list-item]
    # One article: stored once, with its latest title; every other occurrence is a duplicate
    # (each item counted exactly once).
    assert len(plan.new) == 1 and plan.new[0].title == "Bitcoin rallies 5%"
    assert plan.new[0].dedup_key == "guid:x:g1"
    assert plan.duplicate == 3 and not plan.updated
    # Stored row keyed by URL; new item keyed by GUID with the same URL -> an update, not new.
    stored = Existing(7, "url:https://x.test/a", "Old title", "old")
    plan2 = plan_batch([a], {"url:https://x.test/a": stored})  # type: ignore[list-item]
    assert not plan2.new and plan2.updated[0][0].headline_id == 7


def _stored_rows(plan: object, start: int = 1) -> dict[str, Existing]:
    """What the database would know after storing ``plan``: every key of every new row."""
    known: dict[str, Existing] = {}
    for i, h in enumerate(plan.new, start):  # type: ignore[attr-defined]
        row = Existing(i, h.dedup_key, h.title, h.content_hash)
        known[h.dedup_key] = row
        if h.canonical_url:
            known[f"url:{h.canonical_url}"] = row
    return known


def test_guid_repeated_for_different_links_keys_each_by_url_and_reruns_are_no_ops() -> None:
    a = _item("Bitcoin rallies", guid="g1", url="https://x.test/a")
    b = _item("Ether slides", guid="g1", url="https://x.test/b")
    first = plan_batch([a, b], {})  # type: ignore[list-item]
    assert sorted(h.title for h in first.new) == ["Bitcoin rallies", "Ether slides"]
    assert {h.dedup_key for h in first.new} == {"url:https://x.test/a", "url:https://x.test/b"}
    known = _stored_rows(first)
    again = plan_batch([a, b], known)  # type: ignore[list-item]
    assert not again.new and not again.updated and again.duplicate == 2
    # Later the feed lists only the second article under that GUID: still itself, no update.
    alone = plan_batch([b], known)  # type: ignore[list-item]
    assert not alone.new and not alone.updated and alone.duplicate == 1


def test_guid_repeated_with_one_link_stores_the_last_and_reruns_are_no_ops() -> None:
    a = _item("Bitcoin rallies", guid="g1")
    a_edit = _item("Bitcoin rallies 5%", guid="g1")
    first = plan_batch([a, a_edit], {})  # type: ignore[list-item]
    assert [h.title for h in first.new] == ["Bitcoin rallies 5%"] and first.duplicate == 1
    again = plan_batch([a, a_edit], _stored_rows(first))  # type: ignore[list-item]
    assert not again.new and not again.updated and again.duplicate == 2
    # A real edit still updates the row once, against the stored title.
    edited = _item("Bitcoin rallies 7%", guid="g1")
    changed = plan_batch([a, edited], _stored_rows(first))  # type: ignore[list-item]
    assert [(old.title, h.title) for old, h in changed.updated] == [
        ("Bitcoin rallies 5%", "Bitcoin rallies 7%")
    ]
    assert changed.duplicate == 1


def test_check_bytes_refuses_entities_and_html() -> None:
    with pytest.raises(FeedError, match="entities"):
        check_bytes("u", b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "b">]><rss/>', None)
    with pytest.raises(FeedError, match="HTML"):
        check_bytes("u", b"\n<!doctype html><html><body/></html>", "text/html; charset=utf-8")
    with pytest.raises(FeedError, match="unknown encoding"):
        check_bytes("u", b'<?xml version="1.0" encoding="no-such-codec"?><rss/>', None)
    with pytest.raises(FeedError, match="empty"):
        check_bytes("u", b"  ", None)


def test_parse_feed_rejects_non_feed_xml() -> None:
    with pytest.raises(FeedError):
        parse_feed("u", b'<?xml version="1.0"?><note><to>x</to></note>', "application/xml")


@given(
    st.sampled_from(["http", "https", "HTTPS"]),
    st.sampled_from(["www.Example.com", "example.com", "amp.example.com"]),
    st.lists(st.sampled_from(["news", "2024", "a-b", "amp"]), min_size=1, max_size=4),
    st.lists(st.sampled_from(["utm_source=x", "id=3", "fbclid=q", "page=2"]), max_size=3),
)
def test_canonical_url_is_idempotent_and_drops_tracking(
    scheme: str, host: str, path: list[str], query: list[str]
) -> None:
    url = f"{scheme}://{host}/{'/'.join(path)}" + (f"?{'&'.join(query)}" if query else "")
    once = canonical_url(url)
    assert once is not None and canonical_url(once) == once
    assert once.startswith("https://example.com") and "utm_" not in once and "fbclid" not in once
