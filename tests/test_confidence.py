"""Bootstrap intervals of the evaluation table (pure functions, checked against a slow reference)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from flushwatch.training.evaluate import COLUMNS, metric_row
from flushwatch.training.metrics import accuracy, bootstrap_intervals, macro_f1


def _answers(n: int, error_rate: float, seed: int = 1) -> tuple[list[int], list[int]]:
    rng = random.Random(seed)
    truth = [rng.choice([0, 1, 1, 2]) for _ in range(n)]
    pred = [t if rng.random() > error_rate else (t + 1) % 3 for t in truth]
    return truth, pred


def test_the_vectorised_resampling_matches_the_table_metrics_resample_by_resample() -> None:
    truth, pred = _answers(150, 0.25)
    reps = 300
    got = bootstrap_intervals(truth, pred, 3, reps=reps, seed=7)
    idx = np.random.default_rng(7).integers(0, len(truth), size=(reps, len(truth)))
    accs = [accuracy([truth[i] for i in row], [pred[i] for i in row]) for row in idx]
    f1s = [macro_f1([truth[i] for i in row], [pred[i] for i in row], 3) for row in idx]
    assert got.accuracy.low == pytest.approx(float(np.percentile(accs, 2.5)))
    assert got.accuracy.high == pytest.approx(float(np.percentile(accs, 97.5)))
    assert got.macro_f1.low == pytest.approx(float(np.percentile(f1s, 2.5)))
    assert got.macro_f1.high == pytest.approx(float(np.percentile(f1s, 97.5)))


def test_intervals_hold_the_estimate_and_narrow_with_more_rows() -> None:
    small, large = _answers(100, 0.2), _answers(4000, 0.2)
    widths = []
    for truth, pred in (small, large):
        ci = bootstrap_intervals(truth, pred, 3)
        assert ci.accuracy.low <= accuracy(truth, pred) <= ci.accuracy.high
        assert ci.macro_f1.low <= macro_f1(truth, pred) <= ci.macro_f1.high
        widths.append(ci.macro_f1.high - ci.macro_f1.low)
    assert widths[1] < widths[0] / 4  # about 1/sqrt(40) as wide


def test_perfect_answers_have_a_point_interval_and_the_same_seed_the_same_interval() -> None:
    truth = [0, 1, 2, 1] * 10
    ci = bootstrap_intervals(truth, truth, 3)
    assert (ci.accuracy.low, ci.accuracy.high) == (1.0, 1.0)
    assert ci.text() == "1.000-1.000 / 1.000-1.000"
    truth, pred = _answers(200, 0.3)
    assert bootstrap_intervals(truth, pred, 3) == bootstrap_intervals(truth, pred, 3)
    assert bootstrap_intervals(truth, pred, 3, seed=1) != bootstrap_intervals(truth, pred, 3, seed=2)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="length"):
        bootstrap_intervals([0, 1], [0], 3)
    with pytest.raises(ValueError, match="no rows"):
        bootstrap_intervals([], [], 3)


def test_a_table_row_carries_the_interval_between_the_figures_and_the_note() -> None:
    truth, pred = _answers(300, 0.15)
    row = metric_row("sentiment (x)", "m@r", "set", truth, pred, 3, "a note")
    assert COLUMNS.index("ci95") == COLUMNS.index("macro_f1") + 1
    assert (row.n, row.accuracy, row.other) == (300, round(accuracy(truth, pred), 4), "a note")
    acc_lo, acc_hi = map(float, row.ci95.split(" / ")[0].split("-"))
    assert acc_lo < row.accuracy < acc_hi
