"""The learned fallback for titles the event rules cannot place.

Why: the keyword rules (:mod:`flushwatch.nlp.events`) are right about 80% of the time when a
pattern fires, but real headlines are more varied than any list of phrasings, and where no
pattern fires the rules can only say "other". On the 400 held-out real headlines of
``event_types_real_test2/3.csv`` that happened to 19.5% of titles, and "other" was right for
only 19% of them. A bag-of-words logistic regression trained on every labelled headline we
have guesses better there, while it is worse than the rules where they fire (models/README.md
has both figures). So the shipped event type is the rules' answer when a rule fired with
confidence of at least :data:`FALLBACK_BELOW`, else this head's.

The head is the lexical head's machinery (:mod:`flushwatch.nlp.lexical`: TF-IDF words,
scikit-learn at training time, numpy at scoring time) over :data:`EVENT_TYPES`. It reads only
the title, so event types stay a pure function of stored inputs: ``flushwatch score
--refresh-rules`` can recompute them without the model, and the head's file is part of the
rules fingerprint (:func:`flushwatch.nlp.rules.rules_revision`), not of the model revision.

Training data: the event sets under ``models/eval/`` (own-words sets and real headlines read
from ../shared/data), except :data:`HELD_OUT`, which no rule and no head has been fitted on.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flushwatch.nlp import lexical
from flushwatch.nlp.events import EVENT_TYPES, SEVERITY, EventGuess

if TYPE_CHECKING:
    import numpy as np

FILE = "event_head.safetensors"
#: A rule answer below this confidence is replaced by the head's: "other" (0.5, no pattern
#: fired) and a type that won against three or more competing types. Fixed before the head
#: was read on its held-out set; the rules' own "market move" (0.8) and "view" (0.6) answers
#: are always kept.
FALLBACK_BELOW = 0.6
#: Logistic-regression strength and the fewest titles a word must occur in. C 10 and words in
#: two or more titles were the best of C 3-100 x min_df 1-2 for the head alone on the real
#: titles of the development sets, in 5-fold cross-validation (the hybrid's cross-validation
#: there favours the rules, which were written on those same titles, so it cannot choose the
#: threshold).
C = 10.0
MIN_DF = 2
#: Labelled sets never trained on: the held-out reading of the rules and of this head.
HELD_OUT = ("event_types_real_test4.csv",)


@dataclass(frozen=True)
class EventHead:
    """A fitted head and the sha256 of the file it came from (the rules fingerprint reads it)."""

    head: lexical.LexicalHead
    digest: str

    def probabilities(self, titles: Sequence[str]) -> np.ndarray:
        """Probability of each of :data:`EVENT_TYPES` per title (n x 14)."""
        from flushwatch.nlp.probs import softmax

        return softmax(self.head.scores(titles))

    def fallback(self, titles: Sequence[str], guesses: Sequence[EventGuess]) -> list[EventGuess]:
        """``guesses`` with every answer below :data:`FALLBACK_BELOW` replaced by the head's.

        A replaced answer's confidence is the head's probability for it; its market-report
        flag stays the rules' (the flag is rules-only: 92-95% right on held-out headlines).
        """
        out = list(guesses)
        weak = [i for i, g in enumerate(guesses) if g.confidence < FALLBACK_BELOW]
        if not weak:
            return out
        probs = self.probabilities([titles[i] for i in weak])
        for row, i in zip(probs, weak, strict=True):
            j = int(row.argmax())
            name = EVENT_TYPES[j]
            out[i] = EventGuess(name, round(float(row[j]), 3), SEVERITY[name], guesses[i].is_market_report)
        return out


def training_rows() -> list[tuple[str, str]]:
    """(title, event type) of every labelled set but :data:`HELD_OUT`; needs the shared data."""
    from flushwatch.nlp.evaluate import OWN_EVENT_SETS, REAL_EVENT_SETS, own_event_set, real_event_set

    rows: list[dict[str, str]] = []
    for name, _ in OWN_EVENT_SETS:
        rows += own_event_set(name)
    for name, _ in REAL_EVENT_SETS:
        if name not in HELD_OUT:
            rows += real_event_set(name)
    return [(r["title"], r["event_type"]) for r in rows]


def fit(rows: Sequence[tuple[str, str]]) -> lexical.LexicalHead:
    """The head fitted on (title, event type) rows; deterministic (lbfgs, fixed data order)."""
    index = {t: i for i, t in enumerate(EVENT_TYPES)}
    return lexical.fit(
        [t for t, _ in rows],
        [index[e] for _, e in rows],
        c=C,
        min_df=MIN_DF,
        classes=EVENT_TYPES,
    )


def train(out_dir: Path) -> dict[str, Any]:
    """Fit on :func:`training_rows`, write ``out_dir/event_head.safetensors``; what was fitted."""
    rows = training_rows()
    head = fit(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    lexical.save(head, out_dir / FILE)
    return {
        "file": str(out_dir / FILE),
        "titles": len(rows),
        "vocabulary": len(head.vocabulary),
        "c": C,
        "min_df": MIN_DF,
        "fallback_below": FALLBACK_BELOW,
        "held_out": list(HELD_OUT),
    }


def load(path: Path) -> EventHead | None:
    """The head in ``path``, None when there is no such file (the rules then answer alone).

    A file that is there but unreadable is a ModelError naming it (from the lexical loader).
    """
    if not path.is_file():
        return None
    stat = path.stat()
    return _load(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int, size: int) -> EventHead:
    from flushwatch.errors import ModelError

    del mtime_ns, size  # cache key only: a rewritten file is read again
    file = Path(path)
    head = lexical.load(file)
    if head.classes != EVENT_TYPES:
        raise ModelError(
            f"event head {file} was fitted on other event types ({json.dumps(head.classes)[:80]})",
            path=file,
            hint="re-run `flushwatch model train --events-only`",
        )
    return EventHead(head, hashlib.sha256(file.read_bytes()).hexdigest())
