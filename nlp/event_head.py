"""The learned half of the event type: a bag-of-words head combined with the keyword rules.

Why: the keyword rules (:mod:`flushwatch.nlp.events`) are right about 80% of the time when a
pattern fires, but real headlines are more varied than any list of phrasings, and where no
pattern fires the rules can only say "other" (on held-out real headlines that was 19% of
titles, and "other" was right for under a fifth of them). A TF-IDF logistic regression over
the 14 types, trained on every labelled headline we have, is better than the rules alone on
held-out real headlines, and the two combined are better than either (models/README.md).

How they combine (:meth:`EventHead.combine`): a title the rules call a market report keeps
the rules' answer (``market_move``); otherwise the event type is the argmax of the head's
probabilities plus :data:`RULE_WEIGHT` times the rules' confidence on the type the rules chose
(no bonus when no pattern fired), never ``market_move`` where the rules named a cause, and a
``market_move`` answer makes the title a market report (the type and the flag agree, as in
every labelled set). The confidence is that score over the total.

The head is the lexical head's machinery (:mod:`flushwatch.nlp.lexical`: TF-IDF words,
scikit-learn at training time, numpy at scoring time) over :data:`EVENT_TYPES`. It reads only
the title, so event types stay a pure function of stored inputs: ``flushwatch score
--refresh-rules`` can recompute them without the model, and the head's file is part of the
rules fingerprint (:func:`flushwatch.nlp.rules.rules_revision`), not of the model revision.

Fitting (:mod:`flushwatch.training.event_head_fit`): the labelled event sets of a
checkout's ``eval/`` folder (own-words titles and real headlines read from ../shared/data),
except their ``test`` split, which no rule and no head has been fitted on.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from flushwatch.nlp import lexical
from flushwatch.nlp.events import CAUSE_TYPES, EVENT_TYPES, OTHER, SEVERITY, EventGuess

FILE = "event_head.safetensors"
#: How much the rules' confidence adds to the head's probability of the rules' type. Chosen
#: from 0.1, 0.2, 0.3, 0.5 on a labelled batch of real headlines the head was not fitted on
#: at the time (docs/experiments.md).
RULE_WEIGHT = 0.2


_INDEX = {name: i for i, name in enumerate(EVENT_TYPES)}


@dataclass(frozen=True)
class EventHead:
    """A fitted head and the sha256 of the file it came from (the rules fingerprint reads it)."""

    head: lexical.LexicalHead
    digest: str

    def combine(self, titles: Sequence[str], guesses: Sequence[EventGuess]) -> list[EventGuess]:
        """The shipped event type of each title from the rules' ``guesses`` and the head.

        A market report keeps the rules' answer. Otherwise: the head's probabilities, plus
        :data:`RULE_WEIGHT` x the rules' confidence on the type they chose when a pattern
        fired; the winner's share of that total is the confidence. Where the rules named a
        cause (:data:`CAUSE_TYPES`: "Bitcoin slips as tariff threat hits risk assets" is
        macro), the head may not answer ``market_move``: a move with a named cause is news by
        the labelling convention, and the words of a move would otherwise outvote the cause.
        Where the combined answer is ``market_move`` the title is a market report too: the
        rules flag a report only when they find a move and its size, and miss the daily
        wraps ("bitcoin and ether hold steady while two altcoins jump"). A title with no
        word the head knows (empty, emoji, another script, garbage) keeps the rules' answer:
        the head would only give its training prior.
        """
        from flushwatch.nlp.probs import softmax

        out = list(guesses)
        rows = [i for i, g in enumerate(guesses) if not g.is_market_report]
        if not rows:
            return out
        raw, known = self.head.scores_and_known([titles[i] for i in rows])
        scores = softmax(raw)  # one tokenisation serves the scores and the known-word test
        for r, i in enumerate(rows):
            if not known[r]:
                continue
            g = guesses[i]
            if g.event_type != OTHER:  # "other" is what the rules say when nothing fired
                scores[r, _INDEX[g.event_type]] += RULE_WEIGHT * g.confidence
            if g.event_type in CAUSE_TYPES:
                scores[r, _INDEX["market_move"]] = 0.0
            j = int(scores[r].argmax())
            name = EVENT_TYPES[j]
            confidence = round(float(scores[r, j] / scores[r].sum()), 3)
            # A market move is coverage: the type and the flag say the same thing, as in
            # every labelled set.
            out[i] = EventGuess(name, confidence, SEVERITY[name], name == "market_move")
        return out


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
    head = lexical.load(file, what="event head", retrain="flushwatch model train --events-only")
    if head.classes != EVENT_TYPES:
        raise ModelError(
            f"event head {file} was fitted on other event types ({json.dumps(head.classes)[:80]})",
            path=file,
            hint="re-run `flushwatch model train --events-only`",
        )
    return EventHead(head, hashlib.sha256(file.read_bytes()).hexdigest())
