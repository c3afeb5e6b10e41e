"""Decide without I/O: is an item new, an update of a stored headline, or a duplicate?

``decide(existing, headline)`` is a pure function of the old state (what the database holds
for any of the item's identity keys, or None) and the new item. The storage layer looks the
state up in one query per batch, calls this per item, and writes the outcome in bulk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

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


def plan_batch(items: Iterable[Headline], known: Mapping[str, Existing]) -> Planned:
    """Decide a whole batch; ``known`` maps every stored identity key to its row.

    Items repeated inside the batch (two entries with one GUID, or a URL listed twice) are
    decided against the earlier one, as if it had already been stored.
    """
    state: dict[str, Existing] = dict(known)
    new: dict[str, Headline] = {}
    updated: dict[str, tuple[Existing, Headline]] = {}
    duplicates: list[Headline] = []
    for item in items:
        keys = (item.dedup_key, *item.alt_keys)
        existing = next((state[k] for k in keys if k in state), None)
        decision = decide(existing, item)
        if decision is Decision.duplicate:
            duplicates.append(item)
            continue
        if decision is Decision.new:
            new[item.dedup_key] = item
            placeholder = Existing(-1, item.dedup_key, item.title, item.content_hash)
            for k in keys:
                state[k] = placeholder
            continue
        assert existing is not None
        if existing.headline_id < 0:  # changed again within this batch: keep the latest
            new[existing.dedup_key] = _rekey(item, existing.dedup_key)
        else:
            first = updated.get(existing.dedup_key, (existing, item))[0]
            updated[existing.dedup_key] = (first, _rekey(item, existing.dedup_key))
        changed = Existing(existing.headline_id, existing.dedup_key, item.title, item.content_hash)
        for k in keys:
            state[k] = changed
    return Planned(tuple(new.values()), tuple(updated.values()), tuple(duplicates))


def _rekey(item: Headline, key: str) -> Headline:
    if item.dedup_key == key:
        return item
    from dataclasses import replace

    return replace(item, dedup_key=key)
