"""`flushwatch model compare`: paired differences of two models on the same labelled titles.

The pure parts (the paired bootstrap, the row, the verdict) are checked against slow
references; the command runs the real shipped model against a real Hugging Face checkpoint
on disk (built from the base encoder, no download) whose answer is always "bearish", so one
side's figures are known exactly by construction.
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest

from flushwatch.nlp.compare import COMPARE_COLUMNS, compare_answers, verdict
from flushwatch.nlp.confidence import Interval, bootstrap_intervals, paired_difference_intervals
from flushwatch.nlp.train import accuracy, macro_f1
from tests.test_hf_model import _checkpoint

# Titles written for this test (dataset labels: 0 bearish, 1 bullish, 2 neutral).
TITLES = {
    0: [
        "Exchange halts withdrawals as regulators freeze its accounts",
        "Bitcoin plunges after a major lender files for bankruptcy",
        "Hackers drain 200 million dollars from a lending protocol",
        "Shares tumble as the company cuts its profit forecast",
        "Ether slides to a three-month low as traders dump positions",
        "Stablecoin loses its peg and falls to 90 cents",
        "Regulator sues the exchange for selling unregistered securities",
        "Miners sell record amounts as hash price collapses",
        "Token crashes 60% after the team wallet dumps supply",
        "Stocks sink as inflation comes in hotter than expected",
    ],
    1: [
        "Bitcoin surges to a record high as ETF inflows accelerate",
        "Shares jump after the company beats earnings estimates",
        "Ether rallies as the network upgrade goes live without problems",
        "Regulator approves the first spot ether funds",
        "Major bank to let clients buy bitcoin in its app",
        "Solana climbs 20% on a wave of new institutional buying",
        "Stocks rise as the central bank signals rate cuts",
        "Exchange reports record deposits after the market rebound",
        "Payments giant adds stablecoin settlement for merchants",
        "Company raises its full-year guidance as demand booms",
    ],
    2: [
        "Exchange publishes its quarterly transparency report",
        "Developers schedule a community call for next Tuesday",
        "What is a blockchain oracle and how does it work",
        "Conference on digital assets opens in Lisbon this week",
        "The project names a new chief technology officer",
        "Analysts meet to discuss the outlook for the sector",
        "Wallet app releases version 4.2 with a new design",
        "Weekly podcast: five questions about crypto taxes",
        "The foundation moves its office to a new city",
        "Here is how to read an order book",
    ],
}


def _answers(n: int, error_rate: float, seed: int) -> tuple[list[int], list[int]]:
    rng = random.Random(seed)
    truth = [rng.choice([0, 1, 1, 2]) for _ in range(n)]
    pred = [t if rng.random() > error_rate else (t + 1) % 3 for t in truth]
    return truth, pred


def test_the_paired_difference_matches_a_slow_reference_resample_by_resample() -> None:
    truth, pred_a = _answers(120, 0.2, seed=3)
    _, pred_b = _answers(120, 0.3, seed=4)
    pred_b = [
        b if random.Random(i).random() < 0.5 else a
        for i, (a, b) in enumerate(zip(pred_a, pred_b, strict=True))
    ]
    reps = 250
    got = paired_difference_intervals(truth, pred_a, pred_b, 3, reps=reps, seed=5)
    idx = np.random.default_rng(5).integers(0, len(truth), size=(reps, len(truth)))
    d_acc, d_f1 = [], []
    for row in idx:
        t, a, b = ([x[i] for i in row] for x in (truth, pred_a, pred_b))
        d_acc.append(accuracy(t, a) - accuracy(t, b))
        d_f1.append(macro_f1(t, a, 3) - macro_f1(t, b, 3))
    assert got.accuracy.low == pytest.approx(float(np.percentile(d_acc, 2.5)))
    assert got.accuracy.high == pytest.approx(float(np.percentile(d_acc, 97.5)))
    assert got.macro_f1.low == pytest.approx(float(np.percentile(d_f1, 2.5)))
    assert got.macro_f1.high == pytest.approx(float(np.percentile(d_f1, 97.5)))


def test_pairing_sees_a_small_shared_noise_difference_that_separate_intervals_hide() -> None:
    # B is A with 25 of its right answers on 2,000 rows turned wrong: 1.25 points worse.
    truth, pred_a = _answers(2000, 0.15, seed=9)
    pred_b = list(pred_a)
    right = [i for i, (t, a) in enumerate(zip(truth, pred_a, strict=True)) if t == a]
    for i in right[:25]:
        pred_b[i] = (truth[i] + 1) % 3
    paired = paired_difference_intervals(truth, pred_a, pred_b, 3)
    assert paired.accuracy.low > 0 and paired.accuracy.excludes_zero
    single_a, single_b = bootstrap_intervals(truth, pred_a, 3), bootstrap_intervals(truth, pred_b, 3)
    assert single_a.accuracy.low < single_b.accuracy.high  # the two single intervals overlap
    same = paired_difference_intervals(truth, pred_a, pred_a, 3)
    assert (same.accuracy.low, same.accuracy.high) == (0.0, 0.0) and not same.accuracy.excludes_zero
    with pytest.raises(ValueError, match="length"):
        paired_difference_intervals(truth, pred_a, pred_b[:-1], 3)


def test_a_row_counts_what_only_one_side_gets_right_and_words_the_verdict() -> None:
    truth = [0, 1, 2, 1, 0, 2]
    pred_a = [0, 1, 2, 0, 0, 1]  # right on 0, 1, 2, 4
    pred_b = [0, 0, 2, 1, 1, 1]  # right on 0, 2, 3
    row = compare_answers("set", truth, pred_a, pred_b)
    assert list(row._asdict()) == COMPARE_COLUMNS
    assert (row.n, row.only_a_right, row.only_b_right) == (6, 2, 1)
    assert row.accuracy_diff == round(4 / 6 - 3 / 6, 4)
    assert row.a == f"{4 / 6:.4f} / {macro_f1(truth, pred_a, 3):.4f}"
    assert verdict(Interval(0.01, 0.03), Interval(-0.02, 0.01)) == (
        "accuracy: A higher; macro-F1: no clear difference"
    )
    assert (
        verdict(Interval(-0.03, -0.001), Interval(-0.02, -0.01)) == "accuracy: B higher; macro-F1: B higher"
    )
    assert Interval(-0.0123, 0.004).signed_text() == "-0.012 to +0.004"


@pytest.fixture(scope="module")
def always_bearish(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("hf-cmp") / "always-bearish"
    return _checkpoint(out, {0: "positive", 1: "negative", 2: "neutral"}, winner=1)


@pytest.fixture
def labelled_csv(tmp_path: Path) -> Path:
    path = tmp_path / "labelled.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for label, titles in TITLES.items():
            w.writerows([t, label] for t in titles)
    return path


def test_compare_the_shipped_model_with_a_local_checkpoint(
    cli, always_bearish: Path, labelled_csv: Path
) -> None:
    res = cli(
        "model",
        "compare",
        "flushwatch-minilm",
        str(always_bearish),
        "--data",
        str(labelled_csv),
        "--format",
        "json",
    )
    assert res.code == 0, res.err
    (row,) = json.loads(res.out)
    assert row["n"] == 30
    b_acc, b_f1 = (float(x) for x in row["b"].split(" / "))
    assert b_acc == pytest.approx(10 / 30, abs=1e-4)  # always bearish: right on the 10 bearish titles
    assert b_f1 == pytest.approx(macro_f1([0] * 10 + [2] * 10 + [1] * 10, [0] * 30, 3), abs=1e-4)
    a_acc = float(row["a"].split(" / ")[0])
    assert row["accuracy_diff"] == pytest.approx(a_acc - b_acc, abs=1e-4)
    assert row["only_a_right"] - row["only_b_right"] == round((a_acc - b_acc) * 30)
    assert row["verdict"].startswith("accuracy: A higher")


def test_a_model_against_itself_differs_by_nothing(cli, labelled_csv: Path) -> None:
    res = cli(
        "model",
        "compare",
        "flushwatch-minilm",
        "--data",
        str(labelled_csv),
        "--mode",
        "fast",
        "--format",
        "markdown",
    )
    assert res.code == 0, res.err
    assert "+0.000 to +0.000" in res.out and "no clear difference" in res.out


def test_bad_data_is_one_line_naming_the_file_before_any_model_loads(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nfine title,1\nbroken,7\n", encoding="utf-8")
    res = cli("model", "compare", "/no/such/model", "--data", str(bad))
    assert res.code == 1
    assert "bad.csv:3: bad label '7'" in res.err and len(res.err.strip().splitlines()) == 1
    empty = tmp_path / "shared"
    empty.mkdir()
    monkeypatch.setenv("FLUSHWATCH_SHARED_DATA", str(empty))
    res = cli("model", "compare", "/no/such/model")  # the data is checked first, then the model
    assert res.code == 1
    assert "sent_valid.csv.gz not found" in res.err and "FLUSHWATCH_SHARED_DATA" in res.err
    assert "Traceback" not in res.err
