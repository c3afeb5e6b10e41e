"""Which assets a headline is about, from the dictionary in ``data/assets.toml``.

Pure and precompiled: one case-insensitive regex for names and aliases, one case-sensitive
regex for tickers, one for market-wide words. The hard part is tickers that are also English
words (ONE, GAS, LINK, NEAR, SUN, ...) and very short tickers (OP, AR, S): those count only
when written in capitals *and* the words around them say "coin" ("$LINK", "LINK price", "NEAR
token", "ONE surges 20%"). A capitalised word-ticker without such context is recorded with
``ambiguous = TRUE`` instead of guessed. Tagging reads the title only: summaries mention many
coins in passing and would tag noise.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING

from flushwatch.records.news import AssetTag

if TYPE_CHECKING:
    from flushwatch.ingest.news.entities import Entity, EntityCatalogue

MARKET = "MARKET"

# Single-word names that are everyday English words, or people's names that coins borrowed
# ("Trump" is a president far more often than the TRUMP memecoin): matched only with coin context.
_WORD_NAMES_TEXT = (
    "sky safe flow dash beam turbo blur mask prime super grass ocean band render movement blast "
    "quant compound waves dogs amp core story treasure gas one sun near link people sonic maker "
    "maple magic neo mantra kava celo ray hot ronin venus notcoin brett mog sui dai terra helium "
    "stacks jupiter immutable cosmos optimism polygon avalanche mantle flare gala chia golem amp "
    "bonk pepe trump melania"
)
_WORD_NAMES = frozenset(_WORD_NAMES_TEXT.split())
_CONTEXT_WORDS_TEXT = (
    "token tokens coin coins price prices crypto network protocol blockchain chain mainnet "
    "testnet airdrop staking stakers holders whales whale rally rallies surges surge soars jumps "
    "jump plunges plunge tumbles dips drops slides spikes climbs gains rises falls etf futures "
    "dao listing listed delists delisting ecosystem defi foundation validators wallet hack "
    "exploit exploited bridge traders trading bulls bears breakout"
)
_CONTEXT_WORDS = frozenset(_CONTEXT_WORDS_TEXT.split())
_TOKEN_RE = re.compile(r"\$?[A-Za-z0-9][A-Za-z0-9.'-]*|%")


@dataclass(frozen=True)
class AssetDictionary:
    tickers: frozenset[str]
    names: dict[str, str]  # lower-case name or alias, tokens joined by one space -> ticker
    word_tickers: frozenset[str]  # need context
    max_name_tokens: int
    market_re: re.Pattern[str]
    # first token of a name -> most tokens any name starting with it has: most title tokens
    # start no name, so matching skips them with one dict lookup instead of trying every length.
    name_starts: dict[str, int]

    def __len__(self) -> int:
        return len(self.tickers)


_Trie = dict[str, "_Trie"]


def _trie_alternation(words: list[str]) -> str:
    """A regex matching exactly ``words``, common prefixes factored out.

    The same language as a flat ``a|b|c`` alternation (so ``search`` finds a keyword wherever
    the flat one would), but the engine tries one branch per first letter at each word start
    instead of every keyword: about twice as fast on a title."""
    trie: _Trie = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}  # a word ends here

    def emit(node: _Trie) -> str:
        ends = "" in node
        branches = [re.escape(ch) + emit(node[ch]) for ch in sorted(k for k in node if k)]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 and not ends else "(?:" + "|".join(branches) + ")"
        return body + "?" if ends else body

    return emit(trie)


def build_dictionary(text: str) -> AssetDictionary:
    data = tomllib.loads(text)
    names: dict[str, str] = {}
    word_tickers: set[str] = set()
    tickers: list[str] = []
    for ticker, entry in data["assets"].items():
        tickers.append(ticker)
        if entry.get("word") or len(ticker) <= 2:
            word_tickers.add(ticker)
        for name in [entry["name"], *entry.get("aliases", [])]:
            key = " ".join(t for t, _, _ in _name_tokens(name.lower().lstrip("$")))
            if key:
                names.setdefault(key, ticker)  # first definition wins: the list is in cap order
    keywords = [k.strip().lower() for k in data.get("market", {}).get("keywords", [])]
    market_re = re.compile(r"(?<![\w])(" + _trie_alternation(keywords) + r")(?![\w])", re.IGNORECASE)
    max_n = max(len(k.split(" ")) for k in names)
    starts: dict[str, int] = {}
    for key in names:
        first, *rest = key.split(" ")
        starts[first] = max(starts.get(first, 0), 1 + len(rest))
    return AssetDictionary(frozenset(tickers), names, frozenset(word_tickers), max_n, market_re, starts)


# Names are matched by looking up runs of word tokens in a dict (one pass over the title),
# not by a regex alternation of 300 names (which tries every name at every position).
# One token is a maximal run of [\w$.]; its bare part (group 1) drops leading "$" ("$SOL") and
# trailing dots (sentence end: "... Bitcoin."). The regex yields the bare span directly.
_NAME_TOKEN_RE = re.compile(r"(?=[\w$.])\$*((?:[\w$.]*[\w$])?)\.*")
_TICKER_RE = re.compile(r"(?<![\w$])(\$?)([A-Z0-9]{1,10})(?![\w])")


def _name_tokens(text: str) -> list[tuple[str, int, int]]:
    """(bare token lower-case, start, end) for each token with a non-empty bare part."""
    out = []
    for m in _NAME_TOKEN_RE.finditer(text):
        start, end = m.span(1)
        if start != end:
            out.append((text[start:end].lower(), start, end))
    return out


def _name_matches(
    title: str, d: AssetDictionary, toks: list[tuple[str, int, int]] | None = None
) -> list[tuple[str, str, int, int]]:
    """(matched text lower-case, ticker, start, end), longest match first at each position;
    ``toks`` is ``_name_tokens(title)`` when the caller has it already."""
    if toks is None:
        toks = _name_tokens(title)
    names, starts = d.names, d.name_starts
    out = []
    i, count = 0, len(toks)
    while i < count:
        longest = starts.get(toks[i][0])
        if longest is None:
            i += 1  # no name starts with this token
            continue
        for n in range(min(longest, count - i), 0, -1):
            key = " ".join(t for t, _, _ in toks[i : i + n]) if n > 1 else toks[i][0]
            ticker = names.get(key)
            if ticker is not None:
                out.append((key, ticker, toks[i][1], toks[i + n - 1][2]))
                i += n
                break
        else:
            i += 1
    return out


@lru_cache(maxsize=1)
def default_dictionary() -> AssetDictionary:
    text = resources.files("flushwatch.ingest.news").joinpath("data", "assets.toml").read_text("utf-8")
    return build_dictionary(text)


def _has_context(title: str, start: int, end: int) -> bool:
    if title[start - 1 : start] == "(" and title[end : end + 1] == ")":
        return True  # "Polkadot (DOT)", "... (LINK)"
    if title[end : end + 1] == "/" or title[start - 1 : start] == "/":
        return True  # trading pairs: "LINK/USDT"
    before = [t.lower() for t in _TOKEN_RE.findall(title[:start])][-2:]
    after = [t.lower() for t in _TOKEN_RE.findall(title[end:])][:2]
    return any(t.strip("'s") in _CONTEXT_WORDS or t == "%" or t.endswith("%") for t in before + after)


def _entity_matches(
    title: str, toks: list[tuple[str, int, int]], catalogue: EntityCatalogue | None
) -> list[tuple[Entity, int, int]]:
    # Imported here, not at the top: the catalogue is built on this module's tokenizer and
    # checked against its dictionary, so it imports this module.
    from flushwatch.ingest.news.entities import default_catalogue, match_entities

    return match_entities(title, toks, catalogue or default_catalogue())


def tag_assets(
    title: str,
    *,
    default_market: bool = False,
    dictionary: AssetDictionary | None = None,
    entities: EntityCatalogue | None = None,
) -> tuple[AssetTag, ...]:
    """The assets ``title`` is about; ``default_market`` tags MARKET when no asset is found
    (macro and regulator feeds).

    Entities named in the title (``data/entities.toml``: exchanges, issuers, regulators, central
    banks, ...) add the assets they move, with method ``entity:<id>``. They only add: an asset
    the dictionary tagged keeps its tag (an ambiguous one is resolved), and an asset name longer
    than the entity's form wins its span ("Binance Coin" is BNB, not the exchange)."""
    d = dictionary or default_dictionary()
    found: dict[str, AssetTag] = {}
    all_caps = title.isupper()
    toks = _name_tokens(title)
    name_hits = _name_matches(title, d, toks)
    for word, ticker, start, end in name_hits:
        if word in _WORD_NAMES and not _has_context(title, start, end):
            continue  # "Sky", "Safe", "Near" as plain English: not evidence of a coin
        found.setdefault(ticker, AssetTag(ticker, "name"))
    matches = [m for m in _TICKER_RE.finditer(title) if m.group(2) in d.tickers]
    # Plain tickers first, so word-tickers can use them as context.
    for m in sorted(matches, key=lambda m: m.group(2) in d.word_tickers):
        dollar, ticker = m.group(1), m.group(2)
        if ticker in found and not found[ticker].ambiguous:
            continue
        if ticker not in d.word_tickers:
            if not all_caps or dollar:
                found[ticker] = AssetTag(ticker, "ticker")
            continue
        if dollar:
            found[ticker] = AssetTag(ticker, "ticker")
        elif all_caps:
            continue  # an all-caps headline says nothing about which words are tickers
        elif _has_context(title, m.start(), m.end()) or any(
            t.method == "ticker" and not t.ambiguous for t in found.values()
        ):
            # Context: coin words around it, or other plain tickers in the same headline
            # ("BTC, ETH and DOT slide").
            found[ticker] = AssetTag(ticker, "context")
        elif len(ticker) > 1:
            found.setdefault(ticker, AssetTag(ticker, "ticker", ambiguous=True))
    if d.market_re.search(title):
        found.setdefault(MARKET, AssetTag(MARKET, "market"))
    for entity, start, end in _entity_matches(title, toks, entities):
        if any(s <= start and end <= e and e - s > end - start for _, _, s, e in name_hits):
            continue  # inside a longer asset name
        for asset in entity.moves:
            tag = found.get(asset)
            if tag is None or tag.ambiguous:
                found[asset] = AssetTag(asset, entity.method)
    if default_market and not any(not t.ambiguous for t in found.values()):
        found.setdefault(MARKET, AssetTag(MARKET, "market"))
    return tuple(found.values())
