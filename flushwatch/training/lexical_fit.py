"""Fitting a bag-of-words head (:class:`flushwatch.nlp.lexical.LexicalHead`) with scikit-learn,
and choosing the sentiment head's blend weight on the dev split.

The same fit serves the sentiment head (three labels) and the event-type head (any list of
classes); scoring reads the result with numpy alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from flushwatch.nlp.lexical import TOKEN, LexicalHead
from flushwatch.training.metrics import accuracy, macro_f1


def fit(
    texts: Sequence[str],
    labels: Sequence[int],
    *,
    c: float = 4.0,
    min_df: int = 2,
    classes: tuple[str, ...] | None = None,
) -> LexicalHead:
    """Fit the vectoriser and the logistic regression on training rows (weight 0 until chosen).

    ``labels`` index ``classes`` (default: the three sentiment labels); every class must occur.
    """
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    k = 3 if classes is None else len(classes)
    vec = TfidfVectorizer(min_df=min_df, sublinear_tf=True, token_pattern=TOKEN.pattern)
    x = vec.fit_transform(list(texts))
    model = LogisticRegression(C=c, max_iter=5000).fit(x, list(labels))
    if list(model.classes_) != list(range(k)):
        raise ValueError(f"training labels must cover all {k} classes, got {list(model.classes_)}")
    vocab = {str(w): int(i) for w, i in vec.vocabulary_.items()}
    return LexicalHead(
        vocab,
        np.asarray(vec.idf_, dtype=np.float64),
        np.asarray(model.coef_, dtype=np.float64),
        np.asarray(model.intercept_, dtype=np.float64),
        0.0,
        classes,
    )


def fit_sentiment_head(
    texts: list[str],
    labels: list[int],
    fit_idx: list[int],
    dev_idx: list[int],
    dev_log_probs: Any,
    *,
    c: float,
    weights: Sequence[float],
    refit_weight: float,
) -> tuple[LexicalHead, dict[str, dict[str, float]]]:
    """The sentiment head fitted on rows ``fit_idx``, its blend weight chosen on dev.

    The weight is the one of ``weights`` whose blend with the network's dev log-probabilities
    has the best macro-F1 (ties: the earlier). Returns the head (weight set) and the dev
    figures for every weight tried. With no dev rows (a final fit) the weight is
    ``refit_weight`` and there are no figures.
    """
    head = fit([texts[i] for i in fit_idx], [labels[i] for i in fit_idx], c=c)
    if not dev_idx:
        return dataclasses.replace(head, weight=refit_weight), {}
    dev_texts = [texts[i] for i in dev_idx]
    dev_true = [labels[i] for i in dev_idx]
    linear = head.scores(dev_texts)
    by_weight: dict[str, dict[str, float]] = {}
    best = (-1.0, 0.0)
    for w in weights:
        pred = [int(p) for p in (dev_log_probs + w * linear).argmax(-1)]
        f1 = macro_f1(dev_true, pred)
        by_weight[str(w)] = {"accuracy": round(accuracy(dev_true, pred), 4), "macro_f1": round(f1, 4)}
        if round(f1, 6) > best[0]:
            best = (round(f1, 6), w)
    return dataclasses.replace(head, weight=best[1]), by_weight
