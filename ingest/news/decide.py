"""Decide without I/O: is an item new, an update of a stored headline, or a duplicate?

``decide(existing, headline)`` is a pure function of the old state (what the database holds
for any of the item's identity keys, or None) and the new item. :mod:`flushwatch.ingest.news.batch`
looks the state up in one query per batch, plans it here, and writes the outcome in bulk.

Two rules make a re-run of the same documents a no-op (nothing new, nothing updated):

* **A GUID repeated for different links** within one feed (one source in one batch) does not
  identify an article: each of those items is identified by its canonical URL instead, so both
  articles are stored and each meets itself on the next run. Items of that GUID without a link
  keep the GUID.
* **Repeats of one identity inside a batch** collapse into one: the first occurrence, or the
  last one whose title/summary differs from the one kept before it, is what gets stored, and it
  is decided once against the stored row (so a feed listing two versions of one article does
  not flip the row on every run). Every other occurrence counts as a duplicate, so each item is
  counted exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from flushwatch.records.news import Decision, Existing, Headline


def decide(existing: Existing | None, item: Headline) -> Decision:
    if existing is None:
        return Decision.new
    if existing.content_hash == item.content_hash:
        return Decision.duplicate
    return Decision.updated


@dataclass(frozen=True)
class Planned:
    """The plan for one batch: rows to insert, rows to update (with their old title)."""

    new: tuple[Headline, ...]
    updated: tuple[tuple[Existing, Headline], ...]
    duplicates: tuple[Headline, ...]

    @property
    def duplicate(self) -> int:
        return len(self.duplicates)


@dataclass
class _Article:
    """One identity within a batch: the stored row it matched (if any) and its occurrences."""

    stored: Existing | None
    dedup_key: str
    items: list[Headline] = field(default_factory=list)


def plan_batch(items: Iterable[Headline], known: Mapping[str, Existing]) -> Planned:
    """Decide a whole batch; ``known`` maps every stored identity key to its row.

    Items repeated inside the batch (two entries with one GUID and one link, or a URL listed
    twice) are one article, decided once against the stored row; the other occurrences are
    duplicates (see the module docstring for which one is kept, and for GUIDs repeated with
    different links).
    """
    articles: list[_Article] = []
    by_key: dict[str, _Article] = {}
    by_row: dict[int, _Article] = {}  # one article per stored row, however it was reached
    for item in disambiguate_guids(list(items)):
        keys = (item.dedup_key, *item.alt_keys)
        article = next((by_key[k] for k in keys if k in by_key), None)
        if article is None or article.stored is None:
            stored = stored_match(item, known)
            if stored is not None and stored.headline_id in by_row:
                article = by_row[stored.headline_id]
            elif article is None:
                article = _Article(stored, stored.dedup_key if stored else item.dedup_key)
                articles.append(article)
            elif stored is not None:
                # A later occurrence names a key the database knows: that row, not a new one.
                article.stored, article.dedup_key = stored, stored.dedup_key
            if article.stored is not None:
                by_row[article.stored.headline_id] = article
        article.items.append(item)
        for k in keys:
            by_key.setdefault(k, article)
    new: list[Headline] = []
    updated: list[tuple[Existing, Headline]] = []
    duplicates: list[Headline] = []
    for article in articles:
        kept = _kept(article.items)
        duplicates.extend(h for h in article.items if h is not kept)
        latest = _rekey(kept, article.dedup_key)
        decision = decide(article.stored, latest)
        if decision is Decision.new:
            new.append(latest)
        elif decision is Decision.updated:
            assert article.stored is not None
            updated.append((article.stored, latest))
        else:
            duplicates.append(kept)
    return Planned(tuple(new), tuple(updated), tuple(duplicates))


def _kept(items: Sequence[Headline]) -> Headline:
    """The occurrence to store: the last one that changed the content, so an unchanged repeat
    keeps the first (feeds come in tier order: the most important outlet's copy) and an edit
    keeps the latest version."""
    kept = items[0]
    for h in items[1:]:
        if h.content_hash != kept.content_hash:
            kept = h
    return kept


def stored_match(item: Headline, known: Mapping[str, Existing]) -> Existing | None:
    """The stored row ``item`` is, by its strongest key; when its GUID and its canonical URL
    name two different rows (a GUID reused for another article), the URL's row wins."""
    matches = [known[k] for k in (item.dedup_key, *item.alt_keys) if k in known]
    if not matches:
        return None
    by_url = known.get(f"url:{item.canonical_url}") if item.canonical_url else None
    return by_url if by_url is not None else matches[0]


def disambiguate_guids(items: Sequence[Headline]) -> list[Headline]:
    """``items`` with every GUID that one feed repeats for different canonical URLs replaced,
    as identity, by each item's canonical URL (see the module docstring)."""
    urls: dict[tuple[int | None, str, str], set[str]] = {}
    for h in items:
        if h.guid and h.canonical_url:
            urls.setdefault((h.feed_id, h.source, h.guid), set()).add(h.canonical_url)
    ambiguous = {k for k, seen in urls.items() if len(seen) > 1}
    if not ambiguous:
        return list(items)
    return [
        replace(h, dedup_key=f"url:{h.canonical_url}", alt_keys=())
        if h.guid and h.canonical_url and (h.feed_id, h.source, h.guid) in ambiguous
        else h
        for h in items
    ]


def _rekey(item: Headline, key: str) -> Headline:
    return item if item.dedup_key == key else replace(item, dedup_key=key)
