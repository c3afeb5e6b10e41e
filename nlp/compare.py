"""``flushwatch model compare``: is one model revision better than another, on the same titles?

Why a separate table: ``model eval`` prints each model's figure with its own interval, and two
such intervals overlap even when one model is reliably better, because most of their noise is
shared (the titles that are hard for one are hard for the other). The honest question for a
retrained or third-party model ("does it beat the shipped one?") is answered by the paired
difference: both models' answers on the same rows, resampled together
(:func:`flushwatch.nlp.confidence.paired_difference_intervals`), and the counts of titles only
one of them gets right.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from flushwatch.errors import InputError
from flushwatch.nlp.confidence import Interval, paired_difference_intervals
from flushwatch.nlp.evaluate import REAL_SENTIMENT_SETS, predict_labels, real_sentiment_sets, sent_valid_path
from flushwatch.nlp.train import accuracy, macro_f1, read_labelled


class CompareRow(NamedTuple):
    """One data set of the comparison; differences are A minus B, in points of the metric."""

    data: str
    n: int
    a: str
    b: str
    accuracy_diff: float
    accuracy_ci95: str
    macro_f1_diff: float
    macro_f1_ci95: str
    only_a_right: int
    only_b_right: int
    verdict: str


#: Column names in :class:`CompareRow`'s order (JSON keys of ``--format json``).
COMPARE_COLUMNS = list(CompareRow._fields)


def verdict(acc: Interval, f1: Interval) -> str:
    """What the two intervals of A - B say, in words: a side only where its interval excludes 0."""

    def side(name: str, ci: Interval) -> str:
        if not ci.excludes_zero:
            return f"{name}: no clear difference"
        return f"{name}: {'A' if ci.low > 0 else 'B'} higher"

    return f"{side('accuracy', acc)}; {side('macro-F1', f1)}"


def compare_answers(
    data: str, truth: Sequence[int], pred_a: Sequence[int], pred_b: Sequence[int], n_classes: int = 3
) -> CompareRow:
    """The comparison row of two models' answers on one labelled set (a pure function)."""
    ci = paired_difference_intervals(truth, pred_a, pred_b, n_classes)
    acc_a, acc_b = accuracy(list(truth), list(pred_a)), accuracy(list(truth), list(pred_b))
    f1_a = macro_f1(list(truth), list(pred_a), n_classes)
    f1_b = macro_f1(list(truth), list(pred_b), n_classes)
    only_a = sum(1 for t, a, b in zip(truth, pred_a, pred_b, strict=True) if a == t != b)
    only_b = sum(1 for t, a, b in zip(truth, pred_a, pred_b, strict=True) if b == t != a)
    return CompareRow(
        data,
        len(truth),
        f"{acc_a:.4f} / {f1_a:.4f}",
        f"{acc_b:.4f} / {f1_b:.4f}",
        round(acc_a - acc_b, 4),
        ci.accuracy.signed_text(),
        round(f1_a - f1_b, 4),
        ci.macro_f1.signed_text(),
        only_a,
        only_b,
        verdict(ci.accuracy, ci.macro_f1),
    )


def labelled_sets(data: Path | None) -> list[tuple[str, list[str], list[int]]]:
    """The sets to compare on: ``data`` alone when given (a ``text,label`` CSV as for training),
    else sent_valid and the labelled crypto headlines that the shared data holds."""
    if data is not None:
        texts, labels = read_labelled(data)
        if not texts:
            raise InputError("no labelled rows", path=data, hint="give a text,label CSV with rows")
        return [(str(data), texts, labels)]
    texts, labels = read_labelled(sent_valid_path())
    sets = [("sent_valid", texts, labels)]
    for name, files, _ in REAL_SENTIMENT_SETS:
        try:
            texts, labels = real_sentiment_sets(files)
        except InputError:
            continue  # the crypto titles are read from the shared data; sent_valid is there
        sets.append((name, texts, labels))
    return sets


def compare(
    model_a: str, model_b: str | None, mode: str = "full", data: Path | None = None
) -> tuple[str, str, list[CompareRow]]:
    """Score every labelled set with both models on the same inference path; one row per set.

    Returns the two models' ``name@revision`` and the rows. ``model_b`` None is the shipped
    (or configured) model.
    """
    from flushwatch.nlp.scorer import Scorer

    sets = labelled_sets(data)  # fail on missing data before loading any model
    scorers: list[Any] = [Scorer(model_a, mode=mode), Scorer(model_b, mode=mode)]
    names = [f"{s.name}@{s.revision}" for s in scorers]
    rows = []
    for name, texts, labels in sets:
        pred_a, pred_b = (predict_labels(s, texts)[0] for s in scorers)
        rows.append(compare_answers(name, labels, pred_a, pred_b))
    return names[0], names[1], rows
