"""The rule-derived half of a score, and the fingerprint that says which rules wrote it.

A score row holds two kinds of field. The model's: the three probabilities and the sentiment
they give, fixed by the model revision. The rules': event type, its confidence, the
market-report flag, the language guess, the flags, and importance, which combines those with
what ingest knows under the importance weights. The rules are code, not model files, so a
rule change leaves the model revision alone. :func:`rules_revision` fingerprints everything
the rule fields depend on, each score row records it (``headline_scores.rules_revision``),
and :mod:`flushwatch.nlp.refresh` brings rows written by other rules up to date from their
stored probabilities, without the model. Pure and torch-free.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from flushwatch.nlp.base import LABELS
from flushwatch.nlp.events import EventGuess, classify_event
from flushwatch.nlp.language import detect_language
from flushwatch.records.scores import TextScore

#: The modules whose code decides the rule fields: event rules, language guess, the way they
#: are combined with the probabilities (this file) and the importance formula.
RULE_MODULES = ("events.py", "language.py", "rules.py", "importance.py")


@functools.cache
def _code_digest() -> bytes:
    digest = hashlib.sha256()
    for name in RULE_MODULES:
        digest.update(Path(__file__).with_name(name).read_bytes())
    return digest.digest()


def rules_revision(weights: Mapping[str, float]) -> str:
    """First 12 hex of sha256 over the rule modules' source and the importance weights.

    Weights enter as canonical JSON (sorted keys, floats' repr), so the same weights give the
    same fingerprint whichever file they came from; refitted weights give a new one.
    """
    return _revision(tuple(sorted((str(k), float(v)) for k, v in weights.items())))


@functools.cache
def _revision(weights: tuple[tuple[str, float], ...]) -> str:
    digest = hashlib.sha256(_code_digest())
    digest.update(json.dumps(dict(weights), sort_keys=True).encode())
    return digest.hexdigest()[:12]


def title_rules(title: str) -> tuple[str | None, EventGuess]:
    """The rule-based half of a score (language guess, event type); no model involved."""
    stripped = (title or "").strip()
    return detect_language(stripped), classify_event(stripped)


def text_score(
    title: str,
    probs: Sequence[float],
    truncated: bool = False,
    *,
    rules: tuple[str | None, EventGuess] | None = None,
) -> TextScore:
    """Combine model probabilities with the rule-based parts (event, language, flags). Pure.

    ``rules`` is :func:`title_rules` of the same title when the caller computed it already.
    """
    p_bear, p_neu, p_bull = (round(float(v), 6) for v in probs)
    sentiment = LABELS[max(range(3), key=lambda j: (probs[j], -j))]
    flags: list[str] = []
    stripped = (title or "").strip()
    language, event = rules if rules is not None else title_rules(title)
    if not stripped:
        flags.append("empty")
    elif language is None:
        flags.append("no_letters")
    elif language != "en":
        flags.append("non_english")
    if truncated:
        flags.append("truncated")
    return TextScore(
        sentiment=sentiment,
        p_bearish=p_bear,
        p_neutral=p_neu,
        p_bullish=p_bull,
        sentiment_score=round(p_bull - p_bear, 6),
        event_type=event.event_type,
        event_confidence=event.confidence,
        is_market_report=event.is_market_report,
        language=language,
        flags=tuple(flags),
        severity=event.severity,
    )
