"""``flushwatch model compare``: is one model revision better than another, on the same titles?

Why a separate table: ``model eval`` prints each model's figure with its own interval, and two
such intervals overlap even when one model is reliably better, because most of their noise is
shared (the titles that are hard for one are hard for the other). The honest question for a
retrained or third-party model ("does it beat the shipped one?") is answered by the paired
difference: both models' answers on the same rows, resampled together
(:func:`flushwatch.training.metrics.paired_difference_intervals`), and the counts of titles only
one of them gets right.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from flushwatch.errors import InputError
from flushwatch.training.data import read_labelled, sent_valid_path
from flushwatch.training.evaluate import predict_labels
from flushwatch.training.labelled_sets import sentiment_set
from flushwatch.training.metrics import Interval, accuracy, macro_f1, paired_difference_intervals


class CompareRow(NamedTuple):
    """One data set of the comparison; differences are A minus B, in points of the metric."""

    data: str
    n: int
    a_accuracy: float
    b_accuracy: float
    accuracy_diff: float
    accuracy_ci95: str
    accuracy_higher: str
    a_macro_f1: float
    b_macro_f1: float
    macro_f1_diff: float
    macro_f1_ci95: str
    macro_f1_higher: str
    only_a_right: int
    only_b_right: int


#: Column names in :class:`CompareRow`'s order (JSON keys of ``--format json``).
COMPARE_COLUMNS = list(CompareRow._fields)


def higher(ci: Interval) -> str:
    """Which model an interval of A - B puts higher: "A", "B", or "-" (no clear difference)
    where the interval holds 0."""
    if not ci.excludes_zero:
        return "-"
    return "A" if ci.low > 0 else "B"


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
        round(acc_a, 4),
        round(acc_b, 4),
        round(acc_a - acc_b, 4),
        ci.accuracy.signed_text(),
        higher(ci.accuracy),
        round(f1_a, 4),
        round(f1_b, 4),
        round(f1_a - f1_b, 4),
        ci.macro_f1.signed_text(),
        higher(ci.macro_f1),
        only_a,
        only_b,
    )


#: The labelled crypto headlines beside sent_valid: the dev and held-out test splits of
#: ``eval/sentiment_real.csv``, named short for the table; each on its first pass and on the
#: titles both label passes agree on (``labelled_sets.LABEL_READINGS``).
CRYPTO_SETS = (
    ("crypto dev", "dev", "first pass"),
    ("crypto test", "test", "first pass"),
    ("crypto dev agreed", "dev", "both passes agree"),
    ("crypto test agreed", "test", "both passes agree"),
)

#: The terminal layout: two lines per set (accuracy, macro-F1; the set's size under its name).
TABLE_COLUMNS = ["data", "metric", "A", "B", "A - B", "95% interval", "higher", "only A / B"]


def table_rows(rows: Sequence[CompareRow]) -> list[tuple[Any, ...]]:
    """:data:`TABLE_COLUMNS` rows of ``rows``: accuracy, then macro-F1, of each set.

    Why a second layout: fourteen columns of the full record fold into unreadable slivers in a
    terminal; csv, json and markdown keep the full record for scripts.
    """
    out: list[tuple[Any, ...]] = []
    for r in rows:
        counts = f"{r.only_a_right} / {r.only_b_right}"
        out.append(
            (r.data, "accuracy", f"{r.a_accuracy:.4f}", f"{r.b_accuracy:.4f}",
             f"{r.accuracy_diff:+.4f}", r.accuracy_ci95, r.accuracy_higher, counts)
        )  # fmt: skip
        out.append(
            (f"n={r.n}", "macro-F1", f"{r.a_macro_f1:.4f}", f"{r.b_macro_f1:.4f}",
             f"{r.macro_f1_diff:+.4f}", r.macro_f1_ci95, r.macro_f1_higher, "")
        )  # fmt: skip
    return out


def labelled_sets(data: Path | None) -> list[tuple[str, list[str], list[int]]]:
    """The sets to compare on: ``data`` alone when given (a ``text,label`` CSV as for training),
    else sent_valid and the labelled crypto headlines that the shared data holds."""
    if data is not None:
        texts, labels = read_labelled(data)
        if not texts:
            raise InputError("no labelled rows", path=data, hint="give a text,label CSV with rows")
        return [(data.name, texts, labels)]
    texts, labels = read_labelled(sent_valid_path())
    sets = [("sent_valid", texts, labels)]
    for name, split, reading in CRYPTO_SETS:
        try:
            texts, labels = sentiment_set(split, reading)
        except InputError:
            continue  # the crypto titles are read from the shared data; sent_valid is there
        sets.append((name, texts, labels))
    return sets


def compare(
    model_a: str,
    model_b: str | None,
    mode: str = "full",
    data: Path | None = None,
    mode_b: str | None = None,
) -> tuple[str, str, list[CompareRow]]:
    """Score every labelled set with both models; one row per set.

    Both run on the inference path ``mode`` unless ``mode_b`` gives B its own, which compares
    two paths of one model (the fast path against full precision, say). Returns each side's
    ``name@revision (mode)`` and the rows. ``model_b`` None is the shipped (or configured) model.
    """
    from flushwatch.nlp.scorer import Scorer

    sets = labelled_sets(data)  # fail on missing data before loading any model
    modes = [mode, mode_b or mode]
    scorers: list[Any] = [Scorer(model_a, mode=modes[0]), Scorer(model_b, mode=modes[1])]
    names = [f"{s.name}@{s.revision} ({m})" for s, m in zip(scorers, modes, strict=True)]
    rows = []
    for name, texts, labels in sets:
        pred_a, pred_b = (predict_labels(s, texts)[0] for s in scorers)
        rows.append(compare_answers(name, labels, pred_a, pred_b))
    return names[0], names[1], rows
