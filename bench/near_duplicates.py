"""Word-set near duplicates: what keeps data added to training apart from evaluation text.

Both extra training sets (the crypto training titles, the synthetic tweets) are held to the same
rule: no text may share a word-set Jaccard index >= 0.6 with an evaluation text.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict

from flushwatch.nlp.train import clean_text

NEAR_DUPLICATE_JACCARD = 0.6
_WORDS = re.compile(r"[a-z0-9$%.]+")


def word_set(text: str) -> set[str]:
    """Lower-cased words, URLs dropped (as the training rows are cleaned)."""
    return set(_WORDS.findall(clean_text(text).lower()))


def closest_overlaps(
    texts: list[str], reference: list[str], threshold: float = NEAR_DUPLICATE_JACCARD
) -> list[tuple[float, str, str]]:
    """For each text, its highest word-set Jaccard index with a reference text, and that text.

    Exact for every pair at or above ``threshold`` (prefix filtering): such a pair shares at
    least ``ceil(threshold * |A|)`` of text A's words, so it shares one of A's
    ``|A| - ceil(threshold * |A|) + 1`` rarest; only references holding one of those are
    compared. Below the threshold the figure is the closest among those candidates.
    """
    ref_sets = [word_set(t) for t in reference]
    index: dict[str, list[int]] = defaultdict(list)
    for i, words in enumerate(ref_sets):
        for w in words:
            index[w].append(i)
    out = []
    for text in texts:
        words = word_set(text)
        rarest = sorted(words, key=lambda w: (len(index.get(w, ())), w))
        prefix = rarest[: len(words) - math.ceil(threshold * len(words)) + 1]
        candidates: Counter[int] = Counter()
        for w in prefix:
            candidates.update(index.get(w, ()))
        best, best_ref = 0.0, ""
        for i in candidates:
            j = len(words & ref_sets[i]) / len(words | ref_sets[i])
            if j > best:
                best, best_ref = j, reference[i]
        out.append((best, text, best_ref))
    return out
