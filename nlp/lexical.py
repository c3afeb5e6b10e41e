"""The lexical head: a bag-of-words logistic regression blended with the network's output.

Why: a fine-tuned MiniLM and a TF-IDF linear model make different mistakes. The network reads
context; the linear model weighs every word it saw in training, including rare finance words
the frozen tokenizer splits into pieces. Adding the linear model's scores to the network's
log-probabilities, at a weight chosen on sent_train's dev split, improved dev accuracy and
macro-F1 for each of the five fine-tuned networks we measured it on (docs/experiments.md).

Fitting (:mod:`flushwatch.training.lexical_fit`) uses scikit-learn (``TfidfVectorizer`` +
``LogisticRegression``) at training time only. Scoring reimplements the vectoriser exactly
(lower case, ``\\b\\w\\w+\\b`` tokens, sublinear tf, smooth idf, l2 norm) in a few numpy
operations over all titles at once, so a cold ``flushwatch score`` never imports scikit-learn;
a test checks the two agree to 1e-9.

File: ``lexical.safetensors`` with tensors ``idf`` (V), ``coef`` (3 x V, rows bearish, neutral,
bullish), ``intercept`` (3), ``weight`` (1), and the vocabulary, one word per line in column
order, in the file's metadata. The same machinery, over any list of classes, is the event-type
head (:mod:`flushwatch.nlp.event_head`): its file also holds ``classes``, the class names
one per line as UTF-8 bytes (uint8); a file without that tensor is a sentiment head.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flushwatch.errors import ModelError

if TYPE_CHECKING:  # numpy is imported where used: the scorer module is on every CLI path
    import numpy as np

#: scikit-learn's default token pattern: words of two or more word characters (the fitting
#: code hands this same pattern to scikit-learn's vectoriser).
TOKEN = re.compile(r"(?u)\b\w\w+\b")
FILE = "lexical.safetensors"


@dataclass(frozen=True)
class LexicalHead:
    vocabulary: dict[str, int]
    idf: np.ndarray  # (V,)
    coef: np.ndarray  # (K, V): K = 3 sentiment labels, or len(classes)
    intercept: np.ndarray  # (K,)
    weight: float  # how much of the linear scores is added to the network's log-probabilities
    classes: tuple[str, ...] | None = None  # None: the sentiment labels, in LABELS order

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Linear decision scores (n x K) for ``texts``: tf-idf (sublinear, l2) times coef."""
        return self.scores_and_known(texts)[0]

    def scores_and_known(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`scores`, and whether each text has a word of the vocabulary (a text without
        one scores the intercept alone: the training prior, no evidence about the text)."""
        import numpy as np

        rows: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        vocab = self.vocabulary
        for r, text in enumerate(texts):
            for word, k in Counter(TOKEN.findall(text.lower())).items():
                c = vocab.get(word)
                if c is not None:
                    rows.append(r)
                    cols.append(c)
                    counts.append(k)
        n = len(texts)
        out = np.tile(self.intercept, (n, 1))
        if not rows:
            return out, np.zeros(n, dtype=bool)
        r_idx = np.asarray(rows)
        c_idx = np.asarray(cols)
        x = (1.0 + np.log(np.asarray(counts, dtype=np.float64))) * self.idf[c_idx]
        norm = np.sqrt(np.bincount(r_idx, weights=x * x, minlength=n))
        x = x / norm[r_idx]
        for j in range(self.coef.shape[0]):
            out[:, j] += np.bincount(r_idx, weights=x * self.coef[j, c_idx], minlength=n)
        return out, np.bincount(r_idx, minlength=n) > 0

    def weighted(self, texts: Sequence[str]) -> np.ndarray:
        """What the blend adds to the network's log-probabilities: the scores times the weight."""
        return self.weight * self.scores(texts)


def save(head: LexicalHead, path: Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    words = sorted(head.vocabulary, key=head.vocabulary.__getitem__)
    if any("\n" in w for w in words):  # cannot happen with \w tokens; the format relies on it
        raise ValueError("vocabulary words must not contain newlines")
    tensors = {
        "idf": head.idf,
        "coef": head.coef,
        "intercept": head.intercept,
        "weight": np.array([head.weight]),
    }
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
    if head.classes is not None:  # absent for a sentiment head: its file stays byte for byte
        # A tensor, not a second metadata key: safetensors writes metadata keys in a
        # per-process hash order, which made two identical fits differ byte for byte.
        tensors["classes"] = np.frombuffer("\n".join(head.classes).encode(), dtype=np.uint8).copy()
    save_file(tensors, str(path), metadata={"vocabulary": "\n".join(words)})


def load(path: Path, *, what: str = "lexical head", retrain: str = "flushwatch model train") -> LexicalHead:
    """Read ``lexical.safetensors`` without torch; one ModelError naming the file if it is bad.

    ``what`` and ``retrain`` name the head in that error: the event head is stored the same way,
    and a corrupt ``event_head.safetensors`` must not be reported as the lexical head.
    """
    import numpy as np
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
            arrays = {k: fh.get_tensor(k).astype(np.float64) for k in ("idf", "coef", "intercept", "weight")}
            stored = set(fh.keys())
            names = fh.get_tensor("classes").tobytes().decode() if "classes" in stored else None
    except (SafetensorError, OSError, ValueError, KeyError) as exc:
        raise ModelError(
            f"{what} {path} is unreadable: {exc}".splitlines()[0],
            path=path,
            hint=f"restore the file from git or re-run `{retrain}`",
        ) from exc
    words = meta.get("vocabulary", "").split("\n") if meta.get("vocabulary") else []
    classes = tuple(names.split("\n")) if names else None
    v, k = len(words), 3 if classes is None else len(classes)
    shapes = (arrays["idf"].shape, arrays["coef"].shape, arrays["intercept"].shape, arrays["weight"].shape)
    if shapes != ((v,), (k, v), (k,), (1,)) or not all(map(math.isfinite, arrays["weight"])):
        raise ModelError(
            f"{what} {path} does not fit its vocabulary of {v} words and {k} classes",
            path=path,
            hint=f"restore the file from git or re-run `{retrain}`",
        )
    return LexicalHead(
        {w: i for i, w in enumerate(words)},
        arrays["idf"],
        arrays["coef"],
        arrays["intercept"],
        float(arrays["weight"][0]),
        classes,
    )
