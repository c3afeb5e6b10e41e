"""Fitting the event-type head (:mod:`flushwatch.nlp.event_head`) on the labelled titles.

Training data: every ``train`` row of the labelled event sets (:mod:`.labelled_sets`), the
own-words titles first, then the real headlines in file order (the solver's result depends on
the row order, and this order reproduces the shipped file byte for byte); the ``test`` rows are
held out from the rules and the head.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flushwatch.nlp import event_head, lexical
from flushwatch.nlp.events import EVENT_TYPES
from flushwatch.training import labelled_sets
from flushwatch.training.lexical_fit import fit as fit_lexical

#: Logistic-regression strength and the fewest titles a word must occur in. C 10 and words in
#: two or more titles were the best of C 3-100 x min_df 1-2 for the head alone on the real
#: training titles, in 5-fold cross-validation.
C = 10.0
MIN_DF = 2

_INDEX = {name: i for i, name in enumerate(EVENT_TYPES)}


def training_rows() -> list[tuple[str, str]]:
    """(title, event type) of every ``train`` row of the event sets; needs the shared data."""
    rows = labelled_sets.in_split(labelled_sets.own_event_rows(), "train")
    rows += labelled_sets.in_split(labelled_sets.real_event_rows(), "train")
    return [(r["title"], r["event_type"]) for r in rows]


def fit(rows: Sequence[tuple[str, str]]) -> lexical.LexicalHead:
    """The head fitted on (title, event type) rows; deterministic (lbfgs, fixed data order)."""
    return fit_lexical(
        [t for t, _ in rows],
        [_INDEX[e] for _, e in rows],
        c=C,
        min_df=MIN_DF,
        classes=EVENT_TYPES,
    )


def train(out_dir: Path) -> dict[str, Any]:
    """Fit on :func:`training_rows`, write ``out_dir/event_head.safetensors``; what was fitted."""
    rows = training_rows()
    head = fit(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    lexical.save(head, out_dir / event_head.FILE)
    return {
        "file": str(out_dir / event_head.FILE),
        "titles": len(rows),
        "vocabulary": len(head.vocabulary),
        "c": C,
        "min_df": MIN_DF,
        "rule_weight": event_head.RULE_WEIGHT,
        "held_out": f"the test split of {labelled_sets.EVENT_REAL_FILE}",
    }
