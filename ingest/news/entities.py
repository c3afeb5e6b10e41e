"""Which entities a headline names, from the catalogue in ``data/entities.toml``.

Exchanges, lenders, issuers, regulators, central banks and macro drivers move prices without
being coins, so a headline about them names no ticker ("FTX halts withdrawals", "Powell signals
more hikes"). Each entity lists the assets it moves; :func:`~flushwatch.ingest.news.assets.tag_assets`
adds those as tags. The file header documents the matching rules; this module precompiles them
into dict lookups over the title's tokens (the tokens the asset dictionary already splits), so
the whole catalogue costs one pass per title.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from flushwatch.ingest.news.assets import MARKET, _name_tokens, default_dictionary

MACRO = "MACRO"
_KINDS_TEXT = (
    "exchange lender trading_firm fund treasury stablecoin protocol person regulator legislature "
    "central_bank macro government geopolitics bank threat_actor"
)
KINDS = frozenset(_KINDS_TEXT.split())
#: A form right after one of these names a person who left ("ex-Paxos leaders", "former Binance.US
#: CEO"): the headline is about them, not about the entity.
_FORMER = frozenset({"ex", "former"})
#: How far (in tokens, either side) a ``near`` word may be from the form it vouches for.
NEAR_WINDOW = 3


@dataclass(frozen=True)
class Guard:
    """A word next to, before, after or (``where = "any"``) anywhere around a match."""

    where: str  # before | after | any
    word: str  # lower case; "#" after a form = any token starting with a digit

    @classmethod
    def parse(cls, text: str) -> Guard:
        parts = text.strip().lower().split()
        if len(parts) == 2 and parts[0] == "_" and parts[1] != "_":
            return cls("after", parts[1])
        if len(parts) == 2 and parts[1] == "_" and parts[0] != "_":
            return cls("before", parts[0])
        if len(parts) == 1 and parts[0] != "_":
            return cls("any", parts[0])
        raise ValueError(f"entity guard {text!r}: expected 'word', 'word _' or '_ word'")

    def hit(self, words: list[str], i: int, j: int, window: int | None) -> bool:
        """Whether the guard's word is where it says around tokens ``words[i:j]``; ``window``
        bounds ``any`` (None: the whole title). A possessive "s" token in between is looked
        past: "Brazil's Senate" has "brazil" just before, "Trump's sons" "sons" just after."""
        if self.where == "before":
            k = i - 1
            if k > 0 and words[k] == "s" and self.word != "s":
                k -= 1
            return k >= 0 and words[k] == self.word
        if self.where == "after":
            k = j + 1 if j < len(words) - 1 and words[j] == "s" and self.word != "s" else j
            if k >= len(words):
                return False
            return words[k][:1].isdigit() if self.word == "#" else words[k] == self.word
        lo, hi = (0, len(words)) if window is None else (max(0, i - window), min(len(words), j + window))
        return any(words[k] == self.word for k in range(lo, hi) if not i <= k < j)


@dataclass(frozen=True)
class Entity:
    key: str
    name: str
    kind: str
    moves: tuple[str, ...]
    near: tuple[Guard, ...] = ()
    unless: tuple[Guard, ...] = ()

    @property
    def method(self) -> str:
        """The ``headline_assets.method`` value of the tags this entity adds."""
        return f"entity:{self.key}"

    def allows(self, words: list[str], i: int, j: int) -> bool:
        """The guards of an exact-case form matched at tokens ``words[i:j]``."""
        if self.near and not any(g.hit(words, i, j, NEAR_WINDOW) for g in self.near):
            return False
        return not any(g.hit(words, i, j, None) for g in self.unless)


@dataclass(frozen=True)
class EntityCatalogue:
    entities: tuple[Entity, ...]
    folded: dict[str, Entity]  # lower-case form, tokens joined by one space -> entity
    exact: dict[str, Entity]  # form as written, tokens joined by one space -> entity (guarded)
    # first token of a form -> most tokens any form starting with it has (see AssetDictionary)
    folded_starts: dict[str, int]
    exact_starts: dict[str, int]

    def __len__(self) -> int:
        return len(self.entities)


def _key(form: str, *, fold: bool) -> str:
    """A form as the matcher sees it: its tokens (lower-case when ``fold``) joined by spaces."""
    if fold:
        return " ".join(t for t, _, _ in _name_tokens(form.lower()))
    return " ".join(form[s:e] for _, s, e in _name_tokens(form))


def build_catalogue(text: str, tickers: frozenset[str]) -> EntityCatalogue:
    """Parse and check the catalogue: known kinds and tickers, MACRO always with MARKET, and no
    form claimed by two entities (the second would silently never match)."""
    data = tomllib.loads(text)
    entities: list[Entity] = []
    folded: dict[str, Entity] = {}
    exact: dict[str, Entity] = {}
    for key, entry in data["entities"].items():
        moves = tuple(entry["moves"])
        unknown = [a for a in moves if a not in tickers and a not in (MARKET, MACRO)]
        if unknown or not moves:
            raise ValueError(f"entity {key}: moves {unknown or moves} not in the asset dictionary")
        if MACRO in moves and MARKET not in moves:
            raise ValueError(f"entity {key}: MACRO must come with MARKET")
        if entry["kind"] not in KINDS:
            raise ValueError(f"entity {key}: unknown kind {entry['kind']!r}")
        entity = Entity(
            key,
            entry["name"],
            entry["kind"],
            moves,
            tuple(Guard.parse(g) for g in entry.get("near", [])),
            tuple(Guard.parse(g) for g in entry.get("unless", [])),
        )
        entities.append(entity)
        exact_forms = entry.get("exact", [])
        forms = [
            (form, fold)
            for form, fold in [(entry["name"], True), *((a, True) for a in entry.get("aliases", []))]
            if form not in exact_forms
        ] + [(form, False) for form in exact_forms]
        for form, fold in forms:
            k = _key(form, fold=fold)
            table = folded if fold else exact
            owner = table.get(k)
            if not k or (owner is not None and owner is not entity):
                raise ValueError(f"entity {key}: form {form!r} is empty or already {owner and owner.key}")
            table[k] = entity
    return EntityCatalogue(tuple(entities), folded, exact, _starts(folded), _starts(exact))


def _starts(forms: dict[str, Entity]) -> dict[str, int]:
    starts: dict[str, int] = {}
    for k in forms:
        first, *rest = k.split(" ")
        starts[first] = max(starts.get(first, 0), 1 + len(rest))
    return starts


@lru_cache(maxsize=1)
def default_catalogue() -> EntityCatalogue:
    text = resources.files("flushwatch.ingest.news").joinpath("data", "entities.toml").read_text("utf-8")
    return build_catalogue(text, default_dictionary().tickers)


def match_entities(
    title: str, tokens: list[tuple[str, int, int]], catalogue: EntityCatalogue
) -> list[tuple[Entity, int, int]]:
    """(entity, start, end) for each entity named in ``title``, whose ``tokens`` are
    ``assets._name_tokens(title)``; longest form first at each position, no overlaps, none
    right after "ex"/"former"."""
    words = [t for t, _, _ in tokens]
    folded, exact = catalogue.folded, catalogue.exact
    f_starts, x_starts = catalogue.folded_starts, catalogue.exact_starts
    cased = [title[s:e] for _, s, e in tokens]  # as written, for the exact-case forms
    out = []
    i, count = 0, len(tokens)
    while i < count:
        n_fold = f_starts.get(words[i], 0)
        n_exact = x_starts.get(cased[i], 0)
        if not (n_fold or n_exact):
            i += 1  # most tokens start no form: one lookup each
            continue
        for n in range(min(max(n_fold, n_exact), count - i), 0, -1):
            found = None
            if n <= n_fold:
                found = folded.get(" ".join(words[i : i + n]) if n > 1 else words[i])
            if found is None and n <= n_exact:
                candidate = exact.get(" ".join(cased[i : i + n]) if n > 1 else cased[i])
                if candidate is not None and candidate.allows(words, i, i + n):
                    found = candidate
            if found is not None:
                if i == 0 or words[i - 1] not in _FORMER:
                    out.append((found, tokens[i][1], tokens[i + n - 1][2]))
                i += n
                break
        else:
            i += 1
    return out
