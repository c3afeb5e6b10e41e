"""Score records: what the model says about one headline (produced by nlp, stored by storage.scores)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TextScore:
    """What the model reads from the title alone (no database context). Deterministic per model."""

    sentiment: str  # bearish | neutral | bullish
    p_bearish: float
    p_neutral: float
    p_bullish: float
    sentiment_score: float  # p_bullish - p_bearish, in [-1, 1]
    event_type: str
    event_confidence: float
    is_market_report: bool
    language: str | None
    flags: tuple[str, ...] = ()  # 'empty', 'non_english', 'truncated', 'no_letters'
    severity: float = 0.0  # 0..1, the event type's severity used by importance


@dataclass(frozen=True)
class ImportanceContext:
    """What ingest knows about a headline; every field optional (imports lack most of them)."""

    assets: tuple[str, ...] = ()
    outlet_count: int | None = None
    feed_tier: int | None = None
    is_first_report: bool | None = None


@dataclass(frozen=True)
class UnscoredHeadline:
    """A headline waiting for a score, with its ingest context."""

    headline_id: int
    title: str
    context: ImportanceContext = ImportanceContext()


@dataclass(frozen=True)
class HeadlineScore:
    """One stored score row: the text score plus importance and lineage."""

    headline_id: int
    model_name: str
    model_revision: str
    text: TextScore
    importance: float  # 0..100
    label_map: dict[str, str] = field(default_factory=dict)
    rules_revision: str | None = None  # nlp.rules.rules_revision of the rules that wrote it


@dataclass(frozen=True)
class RuleFields:
    """The rule-derived columns of a score row (the model's probabilities are not among them)."""

    event_type: str
    event_confidence: float | None
    is_market_report: bool
    language: str | None
    flags: tuple[str, ...]
    importance: float


@dataclass(frozen=True)
class StoredScore:
    """A stored score row as refreshing its rule fields needs it: title, context, model outputs."""

    headline_id: int
    model_name: str
    model_revision: str
    title: str
    context: ImportanceContext
    probs: tuple[float, float, float]  # p_bearish, p_neutral, p_bullish as stored
    sentiment: str
    sentiment_score: float
    rules: RuleFields  # as stored


@dataclass(frozen=True)
class RefreshSummary:
    """What one ``flushwatch score --refresh-rules`` run did."""

    rules_revision: str  # for the shipped model's weights; other models' may differ
    run_id: int | None
    checked: int  # rows written by other rules, recomputed
    changed: int  # of those, rows whose rule fields came out different
    event_types_changed: int
    reports_changed: int
    flushes_reattributed: int
    seconds: float


@dataclass(frozen=True)
class ScoreSummary:
    """What one ``flushwatch score`` run did."""

    model_name: str
    model_revision: str
    run_id: int | None
    scored: int
    already_scored: int
    seconds: float
    headlines_per_s: float
    stale_rules: int = 0  # rows of this model written by other rules (see score --refresh-rules)
    story_vectors: int = 0  # story vectors written (nlp.embedding)
    story_moves: int = 0  # headlines the vectors moved to another story (nlp.stories)


@dataclass(frozen=True)
class StoryVectors:
    """Story vectors of a list of titles, in input order (:mod:`flushwatch.nlp.embedding`):
    int8 rows whose cosines decide which headlines tell one story."""

    encoder: str  # model@revision/L<layer>/story-<map revision>: only equal encoders compare
    model_name: str
    model_revision: str
    layer: int  # the encoder layer pooled
    values: Any  # (n, dim) int8
    scales: Any  # (n,) float32: values * scale ~ the unit vector
