"""Records that pass between the news stages: catalogue -> fetch -> parse -> normalise -> store.

Small frozen dataclasses, nothing heavy imported. Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum

FEED_KINDS = ("crypto", "macro", "regulator", "exchange")


@dataclass(frozen=True)
class FeedSpec:
    """One subscribed feed as the catalogue, OPML or the user names it."""

    name: str
    url: str
    kind: str = "crypto"
    language: str | None = "en"
    tier: int = 2
    enabled: bool = True


@dataclass(frozen=True)
class FetchResult:
    """What the retriever got for one feed: bytes (200), nothing (304), never a parse."""

    url: str
    status: int  # HTTP status; 200 for a local file
    body: bytes | None
    etag: str | None
    last_modified: str | None
    content_type: str | None
    elapsed_s: float
    attempts: int = 1
    fetched_at: dt.datetime | None = None  # when the bytes arrived: the items' first-seen time


@dataclass(frozen=True)
class RawItem:
    """One entry as the feed states it, before normalisation (text may hold HTML)."""

    guid: str | None
    url: str | None
    title: str
    summary: str | None
    published_at: dt.datetime | None  # UTC, or None when missing / unparseable


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed document: its language and entries; ``skipped`` counts broken entries, ``note``
    names a problem the parser recovered from (bytes not in the declared encoding)."""

    title: str | None
    language: str | None
    items: tuple[RawItem, ...]
    skipped: int = 0
    note: str | None = None


class TimeFlag(StrEnum):
    missing = "missing"  # the source gave no usable time: published_at = first_seen_at
    future = "future"  # the source's time was ahead of first-seen: published_at = first_seen_at


@dataclass(frozen=True)
class Headline:
    """A normalised headline ready to store. ``dedup_key`` is its identity."""

    dedup_key: str
    source: str
    title: str
    summary: str | None
    url: str | None
    canonical_url: str | None
    guid: str | None
    language: str | None
    published_at: dt.datetime
    first_seen_at: dt.datetime
    time_flag: str | None
    content_hash: str
    origin: str  # feed | import
    feed_id: int | None = None
    alt_keys: tuple[str, ...] = ()  # other identities (canonical URL when keyed by GUID)


class Decision(StrEnum):
    new = "new"
    updated = "updated"  # same identity, changed title/summary
    duplicate = "duplicate"  # same identity, same content


@dataclass(frozen=True)
class Existing:
    """What the database already holds for an identity (the decider's old state)."""

    headline_id: int
    dedup_key: str
    title: str
    content_hash: str


@dataclass(frozen=True)
class AssetTag:
    asset: str  # ticker, or 'MARKET'
    method: str  # ticker | name | alias | context | market | entity:<id>
    ambiguous: bool = False


@dataclass(frozen=True)
class StoreCounts:
    new: int = 0
    updated: int = 0
    duplicate: int = 0

    def __add__(self, other: StoreCounts) -> StoreCounts:
        return StoreCounts(
            self.new + other.new, self.updated + other.updated, self.duplicate + other.duplicate
        )


@dataclass(frozen=True)
class FeedOutcome:
    """One feed's result in a pass: a status and counts, or an error line."""

    name: str
    url: str
    status: str  # ok | not_modified | failed
    counts: StoreCounts = field(default_factory=StoreCounts)
    error: str | None = None
    skipped_entries: int = 0


@dataclass(frozen=True)
class IngestSummary:
    outcomes: tuple[FeedOutcome, ...]
    elapsed_s: float

    @property
    def counts(self) -> StoreCounts:
        total = StoreCounts()
        for o in self.outcomes:
            total = total + o.counts
        return total

    def n(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def line(self) -> str:
        c = self.counts
        return (
            f"feeds: {self.n('ok')} ok, {self.n('not_modified')} not modified, {self.n('failed')} failed; "
            f"items: {c.new} new, {c.updated} updated, {c.duplicate} duplicate ({self.elapsed_s:.1f} s)"
        )


@dataclass(frozen=True)
class ImportSummary:
    path: str
    rows: int
    counts: StoreCounts
    skipped: int  # rows without a title (warned, not stored)


@dataclass(frozen=True)
class FeedHealth:
    feed_id: int
    name: str
    url: str
    kind: str
    tier: int
    enabled: bool
    last_success_at: dt.datetime | None
    last_error_at: dt.datetime | None
    last_error: str | None
    consecutive_failures: int
    items_seen: int
    median_latency_s: float | None
