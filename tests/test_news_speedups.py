"""The ingest speed-ups change no result: each faster function against the code it replaced.

The reference implementations below are the previous versions (tokenizer, name matcher, flat
market-keyword alternation, story assignment), kept here as oracles. Hypothesis feeds both the
same inputs, built from the shipped asset dictionary and story-like titles so that matches,
near-misses and ties actually happen.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections import defaultdict
from collections.abc import Sequence
from importlib import resources
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from flushwatch.ingest.news import assets
from flushwatch.ingest.news.assets import AssetDictionary, default_dictionary
from flushwatch.ingest.news.normalise import _AMP_PATH_RE, _TRACKING_PARAMS, canonical_url
from flushwatch.ingest.news.stories import (
    BLOCK_KEYS,
    CANDIDATES_PER_KEY,
    NEAR_DUP,
    SAME_EVENT,
    StoryInput,
    assign_stories,
    title_tokens,
)

# -- reference implementations (the replaced code) ---------------------------------------------

_OLD_TOKEN_RE = re.compile(r"[\w$.]+")


def old_name_tokens(text: str) -> list[tuple[str, int, int]]:
    out = []
    for m in _OLD_TOKEN_RE.finditer(text):
        tok, start, end = m.group(), m.start(), m.end()
        stripped = tok.rstrip(".")
        end -= len(tok) - len(stripped)
        bare = stripped.lstrip("$")
        start += len(stripped) - len(bare)
        if bare:
            out.append((bare.lower(), start, end))
    return out


def old_name_matches(title: str, d: AssetDictionary) -> list[tuple[str, str, int, int]]:
    toks = old_name_tokens(title)
    out = []
    i = 0
    while i < len(toks):
        for n in range(min(d.max_name_tokens, len(toks) - i), 0, -1):
            key = " ".join(t for t, _, _ in toks[i : i + n]) if n > 1 else toks[i][0]
            ticker = d.names.get(key)
            if ticker is not None:
                out.append((key, ticker, toks[i][1], toks[i + n - 1][2]))
                i += n
                break
        else:
            i += 1
    return out


def old_market_re(keywords: list[str]) -> re.Pattern[str]:
    flat = "|".join(re.escape(w) for w in sorted(set(keywords), key=len, reverse=True))
    return re.compile(r"(?<![\w])(" + flat + r")(?![\w])", re.IGNORECASE)


def old_assign_stories(
    new: Sequence[StoryInput], recent: Sequence[StoryInput], window: dt.timedelta
) -> dict[int, int]:
    tokens: dict[int, frozenset[str]] = {}
    df: dict[str, int] = defaultdict(int)
    for h in (*recent, *new):
        t = title_tokens(h.title)
        tokens[h.headline_id] = t
        for w in t:
            df[w] += 1
    index: dict[str, list[StoryInput]] = defaultdict(list)
    story_of: dict[int, int] = {}

    def keys(hid: int) -> list[str]:
        return sorted(tokens[hid], key=lambda w: (df[w], w))[:BLOCK_KEYS]

    for h in recent:
        if h.story_id is not None:
            story_of[h.headline_id] = h.story_id
            for w in keys(h.headline_id):
                index[w].append(h)
    result: dict[int, int] = {}
    next_new = -1
    for h in sorted(new, key=lambda x: (x.at, x.headline_id)):
        mine = tokens[h.headline_id]
        n_mine = len(mine)
        specific = h.assets - {"MARKET"}
        best: tuple[float, int] | None = None
        seen: set[int] = set()
        for w in keys(h.headline_id):
            for c in reversed(index.get(w, [])[-CANDIDATES_PER_KEY:]):
                if c.headline_id in seen:
                    continue
                seen.add(c.headline_id)
                if abs(c.at - h.at) > window:
                    continue
                theirs = tokens[c.headline_id]
                inter = len(mine & theirs)
                score = inter / (n_mine + len(theirs) - inter) if inter else 0.0
                same = score >= NEAR_DUP or (
                    score >= SAME_EVENT and bool(specific) and specific == c.assets - {"MARKET"}
                )
                if same and (best is None or score > best[0]):
                    best = (score, story_of[c.headline_id])
        if best is not None:
            sid = best[1]
        else:
            sid = next_new
            next_new -= 1
        story_of[h.headline_id] = sid
        result[h.headline_id] = sid
        for w in keys(h.headline_id):
            index[w].append(h)
    return result


def old_canonical_url(url: str | None) -> str | None:
    if not url:
        return None
    url = url.strip()
    last = max(url.rfind("https://"), url.rfind("http://"))
    if last > 0:
        url = url[last:]
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    for prefix in ("www.", "amp.", "m."):
        if host.startswith(prefix) and host.count(".") >= 2:
            host = host[len(prefix) :]
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    path = parts.path
    while True:
        stripped = _AMP_PATH_RE.sub("", path)
        if stripped == path:
            break
        path = stripped
    path = path or "/"
    path = re.sub(r"/{2,}", "/", path)
    if len(path) > 1:
        path = path.rstrip("/")
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(("utm_", "at_", "pk_", "mtm_")) and k.lower() not in _TRACKING_PARAMS
    ]
    query.sort()
    return urlunsplit(("https", host, path, urlencode(query), ""))


# -- inputs --------------------------------------------------------------------------------------

DICTIONARY = default_dictionary()
_TOML = tomllib.loads(
    resources.files("flushwatch.ingest.news").joinpath("data", "assets.toml").read_text("utf-8")
)
KEYWORDS = [k.strip().lower() for k in _TOML["market"]["keywords"]]
NAMES = sorted(DICTIONARY.names)
TICKERS = sorted(DICTIONARY.tickers)


def _cased(word: str, style: int) -> str:
    return (word, word.upper(), word.title(), word.swapcase())[style]


WORD = st.one_of(
    st.tuples(st.sampled_from(NAMES), st.integers(0, 3)).map(lambda t: _cased(*t)),
    st.tuples(st.sampled_from(KEYWORDS), st.integers(0, 3)).map(lambda t: _cased(*t)),
    st.sampled_from(TICKERS).map(lambda t: "$" + t),
    st.sampled_from(TICKERS),
    st.sampled_from(["price", "token", "surges", "(", ")", "/USDT", "%", "20%", "'s", "...", "."]),
    st.sampled_from(["$", "$$", "..", "$.", ".a", "a.b.", "İstanbul", "ſec", "ß", "\u00a0", "é"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6),
)
SEPARATOR = st.sampled_from([" ", "", "  ", "-", ", ", ": ", ".", "\t", "’s "])
TITLES = st.lists(st.tuples(WORD, SEPARATOR), max_size=12).map(lambda ws: "".join(w + s for w, s in ws))


@settings(max_examples=600)
@given(TITLES)
def test_name_tokens_and_matches_unchanged(title: str) -> None:
    assert assets._name_tokens(title) == old_name_tokens(title)
    assert assets._name_matches(title, DICTIONARY) == old_name_matches(title, DICTIONARY)


@settings(max_examples=600)
@given(TITLES)
def test_market_keywords_unchanged(title: str) -> None:
    assert bool(DICTIONARY.market_re.search(title)) == bool(old_market_re(KEYWORDS).search(title))


def test_dictionary_name_starts_cover_every_name() -> None:
    for key in DICTIONARY.names:
        first, *rest = key.split(" ")
        assert DICTIONARY.name_starts[first] >= 1 + len(rest)


STORY_WORDS = ["binance", "ftx", "acquire", "deal", "liquidity", "crunch", "bitcoin", "etf", "sec", "1", "2"]
STORY_TITLES = st.lists(st.sampled_from([*STORY_WORDS, "the", "after", "amid"]), min_size=1, max_size=7).map(
    " ".join
)
ASSETS = st.frozensets(st.sampled_from(["BTC", "BNB", "FTT", "MARKET"]), max_size=2)
T0 = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.UTC)


@st.composite
def story_batches(draw: st.DrawFn) -> tuple[list[StoryInput], list[StoryInput]]:
    n_recent = draw(st.integers(0, 15))
    n_new = draw(st.integers(0, 40))
    hours = st.integers(-30, 30).map(lambda h: T0 + dt.timedelta(hours=h / 2))
    recent = [
        StoryInput(
            i + 1,
            draw(st.sampled_from("ABC")),
            draw(STORY_TITLES),
            draw(hours),
            draw(ASSETS),
            draw(st.one_of(st.none(), st.integers(1, 5))),
        )
        for i in range(n_recent)
    ]
    new = [
        StoryInput(100 + i, draw(st.sampled_from("ABC")), draw(STORY_TITLES), draw(hours), draw(ASSETS))
        for i in range(n_new)
    ]
    return new, recent


@settings(max_examples=400)
@given(story_batches(), st.sampled_from([dt.timedelta(hours=12), dt.timedelta(hours=2), dt.timedelta(0)]))
def test_assign_stories_unchanged(
    batch: tuple[list[StoryInput], list[StoryInput]], window: dt.timedelta
) -> None:
    new, recent = batch
    assert assign_stories(new, recent, window) == old_assign_stories(new, recent, window)


URL_PIECES = st.sampled_from(
    [
        "https://",
        "http://",
        "HTTPS://",
        "ftp://",
        "www.",
        "amp.",
        "m.",
        "WWW.Example.COM",
        "example.com",
        "site.test.",
        ":443",
        ":8080",
        ":abc",
        ":99999",
        "/",
        "//",
        "/amp",
        "/AMP/",
        ".amp",
        ".amp.html",
        "/news",
        "/a-b",
        "é",
        "?",
        "utm_source=x",
        "&",
        "id=3",
        "fbclid=q",
        "Ref=r",
        "page=2",
        "a=",
        "#frag",
        " ",
        "[",
        "]",
        "%2F",
    ]
)
STRUCTURED_URLS = st.builds(
    lambda scheme, prefix, host, port, path, query, frag, pad: (
        f"{pad}{scheme}{prefix}{host}{port}{''.join(path)}{'?' + '&'.join(query) if query else ''}{frag}{pad}"
    ),
    st.sampled_from(["https://", "http://", "HTTP://", "mailto:", ""]),
    st.sampled_from(["", "www.", "amp.", "m.", "WWW."]),
    st.sampled_from(["example.com", "Site.Test.", "a.b.c.test", "localhost", "xn--bcher-kva.test"]),
    st.sampled_from(["", ":80", ":443", ":8443", ":0"]),
    st.lists(
        st.sampled_from(["/", "//", "/amp", "/AMP", "/news", ".amp", ".amp.html", "/x.html", "/é"]),
        max_size=5,
    ),
    st.lists(
        st.sampled_from(["utm_source=rss", "id=3", "b=2", "a=1", "fbclid=z", "MTM_X=1", "k=", "k"]),
        max_size=4,
    ),
    st.sampled_from(["", "#frag", "#"]),
    st.sampled_from(["", " ", "\n"]),
)
URLS = st.one_of(st.none(), STRUCTURED_URLS, st.lists(URL_PIECES, max_size=12).map("".join))


def _outcome(f: object, url: str | None) -> object:
    try:
        return f(url)  # type: ignore[operator]
    except ValueError as exc:
        return ("ValueError", str(exc))


@settings(max_examples=800)
@given(URLS)
def test_canonical_url_unchanged(url: str | None) -> None:
    assert _outcome(canonical_url, url) == _outcome(old_canonical_url, url)
