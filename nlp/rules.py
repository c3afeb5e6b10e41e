"""The rule-derived half of a score, and the fingerprint that says which rules wrote it.

A score row holds two kinds of field. The model's: the three probabilities and the sentiment
they give, fixed by the model revision. The rules': event type, its confidence, the
market-report flag, the language guess, the flags, and importance, which combines those with
what ingest knows under the importance weights. They are the keyword rules, the event-type
head combined with them (:mod:`flushwatch.nlp.event_head`, which reads only the title) and the
importance weights: none of them is the network, so a change to any of them
leaves the model revision alone. A :class:`RuleSet` holds the weights and the head one model's
rows use; :func:`rules_revision` fingerprints everything the rule fields depend on, each score
row records it (``headline_scores.rules_revision``),
and :mod:`flushwatch.nlp.refresh` brings rows written by other rules up to date from their
stored probabilities, without the model. Pure and torch-free.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from flushwatch.nlp import event_head
from flushwatch.nlp.base import LABELS, model_dir_for, shipped_model_dir
from flushwatch.nlp.event_head import EventHead
from flushwatch.nlp.events import EventGuess, classify_event
from flushwatch.nlp.importance import load_weights
from flushwatch.nlp.language import detect_language
from flushwatch.records.scores import TextScore

#: The modules whose code decides the rule fields: event rules, the learned head combined and the
#: bag-of-words code it runs on, language guess, the way they are combined with the
#: probabilities (this file) and the importance formula.
RULE_MODULES = ("events.py", "event_head.py", "lexical.py", "language.py", "rules.py", "importance.py")

TitleRules = tuple[str | None, EventGuess]  # (language guess, event) for one title


@dataclass(frozen=True)
class RuleSet:
    """What the rule fields of one model's rows are computed with, and its fingerprint."""

    weights: Mapping[str, float]  # importance weights
    head: EventHead | None  # the event-type head; None: the rules answer alone
    revision: str

    def title_rules(self, titles: Sequence[str]) -> list[TitleRules]:
        """:func:`title_rules` of every title, the event type combined with the event head's
        (one vectorised head call for all of them)."""
        found = [title_rules(t) for t in titles]
        if self.head is None:
            return found
        events = self.head.combine([(t or "").strip() for t in titles], [e for _, e in found])
        return [(lang, e) for (lang, _), e in zip(found, events, strict=True)]


def _own_or_shipped(model_name: str, file: str) -> Path:
    """A local model directory's own copy of ``file`` when it has one, else the shipped one:
    the rule inputs are model-agnostic, but a directory trained with its own keeps them."""
    own = model_dir_for(model_name) / file
    return own if own.is_file() else shipped_model_dir() / file


def rule_set(model_name: str) -> RuleSet:
    """The rules a row of ``model_name`` scored now gets: weights (defaults when no file),
    event head, fingerprint."""
    weights = load_weights(_own_or_shipped(model_name, "importance.json"))
    head = event_head.load(_own_or_shipped(model_name, event_head.FILE))
    return RuleSet(weights, head, rules_revision(weights, head.digest if head else ""))


@functools.cache
def _code_digest() -> bytes:
    digest = hashlib.sha256()
    for name in RULE_MODULES:
        digest.update(Path(__file__).with_name(name).read_bytes())
    return digest.digest()


def rules_revision(weights: Mapping[str, float], head_digest: str = "") -> str:
    """First 12 hex of sha256 over the rule modules' source, the importance weights and the
    event head's file (its sha256; "" for none).

    Weights enter as canonical JSON (sorted keys, floats' repr), so the same weights give the
    same fingerprint whichever file they came from; refitted weights give a new one.
    """
    return _revision(tuple(sorted((str(k), float(v)) for k, v in weights.items())), head_digest)


@functools.cache
def _revision(weights: tuple[tuple[str, float], ...], head_digest: str) -> str:
    digest = hashlib.sha256(_code_digest())
    digest.update(json.dumps(dict(weights), sort_keys=True).encode())
    digest.update(head_digest.encode())
    return digest.hexdigest()[:12]


def title_rules(title: str) -> TitleRules:
    """The keyword rules' half of a score (language guess, event type), without the event
    head: :meth:`RuleSet.title_rules` is what scoring uses."""
    stripped = (title or "").strip()
    return detect_language(stripped), classify_event(stripped)


def text_score(
    title: str,
    probs: Sequence[float],
    truncated: bool = False,
    *,
    rules: TitleRules | None = None,
) -> TextScore:
    """Combine model probabilities with the rule-based parts (event, language, flags). Pure.

    ``rules`` is the same title's :meth:`RuleSet.title_rules` (scoring always passes it);
    without it, the keyword rules alone.
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
