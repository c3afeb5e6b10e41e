"""Score records: what the model says about one headline (produced by nlp, stored by storage.scores)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
