"""Flushes and their catalysts as typed records (what ``flushes``, ``explain`` and ``digest`` show)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

#: Which detector wrote a ``flushes`` row; rows of another version are not read back.
DETECTOR_VERSION = "det-2"
#: Which ranking wrote a ``catalysts`` row. attr-3: learned weights (models/attribution), a
#: candidate window reaching 4 h after the start, timing blind inside the start bar, and a
#: verdict per flush; attr-2: hand-set points with cross-asset contagion; attr-1: no contagion.
ATTRIBUTION_VERSION = "attr-3"

#: The verdicts a flush can get, strongest first (``flushes.verdict``), as shown to a user.
VERDICTS = {"likely": "likely catalyst", "possible": "possible catalyst", "none": "no convincing catalyst"}


def verdict_text(verdict: str | None, probability: float | None) -> str:
    """'likely catalyst (62% that #1 is the cause)': one wording for explain, flushes, digest."""
    if verdict is None:
        return "not ranked yet"
    p = "" if probability is None else f" ({probability:.0%} that #1 is the cause)"
    return VERDICTS.get(verdict, verdict) + p


@dataclass(frozen=True)
class Catalyst:
    """One headline ranked for one flush. ``components`` sum to ``score`` (log-odds, learned)."""

    flush_id: int
    headline_id: int | None  # None: a scheduled release (``release_kind``), no headline yet
    rank: int  # 1 = most likely cause; coverage rows rank after every cause
    score: float
    is_coverage: bool  # merely reports the move: shown apart, never the cause
    components: dict[
        str, Any
    ]  # importance, relevance, sentiment, timing, kind, novelty (+ unscored, relevance_basis)
    headline_time: dt.datetime  # the time attribution used (first_seen_at live, published_at backfill)
    delay_s: float  # headline_time - flush start; negative = before the start
    title: str
    source: str
    url: str | None
    published_at: dt.datetime | None
    first_seen_at: dt.datetime
    sentiment: str | None
    importance: float | None
    event_type: str | None
    release_kind: str | None = None  # a scheduled release (calendar_events.kind): title is its name


@dataclass(frozen=True)
class Flush:
    """One detected flush; ``catalysts`` ranked (causes first, then coverage)."""

    flush_id: int
    asset: str
    venue: str | None
    market: str | None
    symbol: str | None
    interval: str
    start_at: dt.datetime
    trigger_at: dt.datetime  # first bar that crossed the thresholds (when a live watcher could know)
    peak_at: dt.datetime
    end_at: dt.datetime
    direction: str  # long_flush | short_squeeze
    price_move_pct: float
    extreme_move_pct: float | None  # drawdown (long flush) or run-up, percent from start
    liquidated_usd: float | None  # None when no liquidations were recorded
    liquidation_note: str | None  # venue coverage caveat
    volume_multiple: float | None
    oi_change_pct: float | None
    funding_before: float | None
    signals: tuple[str, ...]
    severity: float  # 0..100
    market_wide: bool
    detector_version: str
    detected_at: dt.datetime
    verdict: str | None = None  # likely | possible | none (no convincing catalyst); None: not ranked yet
    cause_probability: float | None = None  # calibrated probability that rank 1 is the cause
    market_event_id: int | None = None  # flushes at the same time share it (the earliest one's id)
    catalysts: tuple[Catalyst, ...] = field(default=())

    @property
    def causes(self) -> tuple[Catalyst, ...]:
        return tuple(c for c in self.catalysts if not c.is_coverage)

    @property
    def coverage(self) -> tuple[Catalyst, ...]:
        return tuple(c for c in self.catalysts if c.is_coverage)
