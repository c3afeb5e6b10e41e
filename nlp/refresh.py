"""Bring stored score rows up to the current rules, from their stored model outputs.

A years-long database outlives many rule changes. Rows keep their model probabilities and
sentiment (those belong to the model revision), but their event type, market-report flag,
language, flags and importance were written by whatever rules were current then. Each row
records :func:`flushwatch.nlp.rules.rules_revision`; :func:`refresh_stale_rows` recomputes the
rule fields of every row whose fingerprint is not the current one, from the title, the stored
probabilities and the headline's context, exactly as scoring would now. No model is loaded and
torch is never imported: the rules are pure functions of text and stored numbers.

Work goes in chunks, each one short read then one short write transaction, like scoring: a
killed refresh keeps every chunk written, and a second run finds only what is left.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from flushwatch.nlp.importance import importance
from flushwatch.nlp.rules import RuleSet, rule_set, text_score
from flushwatch.records.scores import RuleFields, StoredScore

if TYPE_CHECKING:
    from flushwatch.storage.db import Database
    from flushwatch.storage.runs import Run

log = logging.getLogger(__name__)

CHUNK = 4096


def current_rules(model_name: str) -> str:
    """The rules fingerprint a row of ``model_name`` scored now would carry."""
    return rule_set(model_name).revision


def recompute(rows: Sequence[StoredScore], rules: RuleSet) -> list[RuleFields]:
    """The rule fields each of ``rows`` would get from scoring now. Pure.

    The stored probabilities stand in for the model; 'truncated' is the tokenizer's verdict,
    not a rule's, so it is carried over from the stored flags.
    """
    found = rules.title_rules([row.title for row in rows])
    out: list[RuleFields] = []
    for row, title_rules in zip(rows, found, strict=True):
        text = text_score(row.title, row.probs, "truncated" in row.rules.flags, rules=title_rules)
        # importance reads sentiment strength: keep the stored sentiment exactly (re-deriving
        # it from the rounded stored probabilities could differ in the sixth decimal).
        text = replace(text, sentiment=row.sentiment, sentiment_score=row.sentiment_score)
        out.append(
            RuleFields(
                event_type=text.event_type,
                event_confidence=text.event_confidence,
                is_market_report=text.is_market_report,
                language=text.language,
                flags=text.flags,
                importance=importance(text, row.context, rules.weights),
            )
        )
    return out


@dataclass
class RefreshCounts:
    """What a refresh did, counted as it goes (the summary record adds the run and timing)."""

    checked: int = 0
    changed: int = 0
    event_types_changed: int = 0
    reports_changed: int = 0


def refresh_stale_rows(db: Database, run: Run | None = None) -> RefreshCounts:
    """Recompute the rule fields of every row written by other rules; returns the counts.

    Idempotent: refreshed rows carry the current fingerprint, so a second call finds none.
    """
    from flushwatch.storage.scores import fetch_stale, refresh_rule_fields, scored_models

    counts = RefreshCounts()
    with db.read() as con:
        models = scored_models(con)
    for model_name in models:
        rules = rule_set(model_name)
        while True:
            with db.read() as con:
                stale = fetch_stale(con, model_name, rules.revision, CHUNK)
            if not stale:
                break
            pairs = list(zip(stale, recompute(stale, rules), strict=True))
            with db.write() as con:
                updated = refresh_rule_fields(con, model_name, pairs, rules.revision)
            counts.checked += updated
            counts.changed += sum(old.rules != new for old, new in pairs)
            counts.event_types_changed += sum(old.rules.event_type != new.event_type for old, new in pairs)
            counts.reports_changed += sum(
                old.rules.is_market_report != new.is_market_report for old, new in pairs
            )
            log.info("refreshed %d rows of %s (%d so far)", updated, model_name, counts.checked)
            if updated == 0:  # another process refreshed them meanwhile
                break
    if run is not None:
        run.counts.update(
            checked=counts.checked,
            changed=counts.changed,
            event_types_changed=counts.event_types_changed,
            reports_changed=counts.reports_changed,
        )
    return counts
