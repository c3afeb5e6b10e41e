"""How stable are the crypto sentiment labels, and how much of the model's gap do they explain?

One annotator labelled the 2,000 real crypto headlines of ``models/eval/sentiment_real_*.csv``
from the title alone. Every development set (1,800 titles) was labelled a second time,
blind: the titles shuffled, the first labels not shown (``models/eval/second_pass/``;
``real_dev`` and ``real_dev4`` on 2026-12-01 by the same annotator, the other seven on
2026-12-03 by four helper annotators). This prints, per set and pooled:

* how often the two passes agree, Cohen's kappa and the confusion of first against second;
* the shipped model (full precision) scored against each pass, on the titles both passes
  agree on, and on the disputed ones (which pass it sides with).

If the model's errors were mostly label noise, it would do much better where the two passes
agree than overall. Neither sent_valid nor the held-out ``sentiment_real_test6.csv`` is read.
Usage: ``python bench/eval_label_agreement.py`` (about 20 s; needs ../shared/data).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flushwatch.nlp.evaluate import (
    CRYPTO_TEST_SENTIMENT_SET,
    LABELS,
    SECOND_PASS_DIR,
    SECOND_PASS_SENTIMENT_SETS,
    real_sentiment_set,
)


def _figures(truth: Any, pred: Any) -> str:
    from flushwatch.nlp.train import accuracy, macro_f1

    t, p = [int(x) for x in truth], [int(x) for x in pred]
    if not t:
        return "n 0"
    return f"accuracy {accuracy(t, p):.3f} macro-F1 {macro_f1(t, p):.3f} (n {len(t)})"


def report(name: str, first: Any, second: Any, pred: Any) -> None:
    import numpy as np
    from sklearn.metrics import cohen_kappa_score

    same = first == second
    print(f"\n## {name}")
    print(
        f"passes agree {int(same.sum())}/{len(same)} = {same.mean():.3f}, "
        f"Cohen's kappa {cohen_kappa_score(first, second):.3f}"
    )
    pairs = Counter((LABELS[a], LABELS[b]) for a, b in zip(first, second, strict=True) if a != b)
    moved = ", ".join(f"{a}->{b} {n}" for (a, b), n in pairs.most_common())
    print("first -> second where they differ:", moved)
    print("model vs first pass: ", _figures(first, pred))
    print("model vs second pass:", _figures(second, pred))
    print("model where both agree:", _figures(first[same], pred[same]))
    if (~same).any():
        print(
            f"disputed titles: model = first pass {np.mean(pred[~same] == first[~same]):.3f}, "
            f"= second pass {np.mean(pred[~same] == second[~same]):.3f}, "
            f"neither {np.mean((pred[~same] != first[~same]) & (pred[~same] != second[~same])):.3f}"
        )


def main() -> None:
    import numpy as np

    from flushwatch.nlp.scorer import Scorer

    assert CRYPTO_TEST_SENTIMENT_SET not in SECOND_PASS_SENTIMENT_SETS  # the held-out set is never read here
    scorer = Scorer(mode="full")
    pooled: list[Any] = [[], [], []]
    for name in SECOND_PASS_SENTIMENT_SETS:
        titles, first = real_sentiment_set(name)
        titles2, second = real_sentiment_set(f"{SECOND_PASS_DIR}/{name}")
        assert titles == titles2, f"{name}: the passes list different titles"
        probs, _ = scorer.probabilities(titles)
        pred = np.asarray(probs).argmax(axis=1)
        a, b = np.asarray(first), np.asarray(second)
        report(name, a, b, pred)
        for acc, part in zip(pooled, (a, b, pred), strict=True):
            acc.extend(part)
    report(f"all {len(SECOND_PASS_SENTIMENT_SETS)} sets pooled", *(np.asarray(x) for x in pooled))


if __name__ == "__main__":
    main()
