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

from flushwatch.training.compare import (
    COMPARE_COLUMNS,
    TABLE_COLUMNS,
    compare_answers,
    higher,
    table_rows,
)
from flushwatch.training.metrics import (
    Interval,
    accuracy,
    bootstrap_intervals,
    macro_f1,
    paired_difference_intervals,
)
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


def test_a_row_counts_what_only_one_side_gets_right_and_names_the_higher_side() -> None:
    truth = [0, 1, 2, 1, 0, 2]
    pred_a = [0, 1, 2, 0, 0, 1]  # right on 0, 1, 2, 4
    pred_b = [0, 0, 2, 1, 1, 1]  # right on 0, 2, 3
    row = compare_answers("set", truth, pred_a, pred_b)
    assert list(row._asdict()) == COMPARE_COLUMNS
    assert (row.n, row.only_a_right, row.only_b_right) == (6, 2, 1)
    assert (row.a_accuracy, row.b_accuracy) == (round(4 / 6, 4), 0.5)
    assert row.accuracy_diff == round(4 / 6 - 3 / 6, 4)
    assert row.a_macro_f1 == round(macro_f1(truth, pred_a, 3), 4)
    assert higher(Interval(0.01, 0.03)) == "A" and higher(Interval(-0.03, -0.001)) == "B"
    assert higher(Interval(-0.02, 0.01)) == "-" and higher(Interval(0.0, 0.0)) == "-"
    assert Interval(-0.0123, 0.004).signed_text() == "-0.012 to +0.004"
    # The terminal layout: two lines per set, every figure of the record on them.
    acc_line, f1_line = table_rows([row])
    assert len(acc_line) == len(TABLE_COLUMNS) == len(f1_line)
    assert acc_line[:2] == ("set", "accuracy") and f1_line[:2] == ("n=6", "macro-F1")
    assert acc_line[-1] == "2 / 1" and acc_line[5] == row.accuracy_ci95 and f1_line[5] == row.macro_f1_ci95
    assert (acc_line[6], f1_line[6]) == (row.accuracy_higher, row.macro_f1_higher)


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
    b_acc, b_f1 = row["b_accuracy"], row["b_macro_f1"]
    assert b_acc == pytest.approx(10 / 30, abs=1e-4)  # always bearish: right on the 10 bearish titles
    assert b_f1 == pytest.approx(macro_f1([0] * 10 + [2] * 10 + [1] * 10, [0] * 30, 3), abs=1e-4)
    a_acc = row["a_accuracy"]
    assert row["accuracy_diff"] == pytest.approx(a_acc - b_acc, abs=1e-4)
    assert row["only_a_right"] - row["only_b_right"] == round((a_acc - b_acc) * 30)
    assert row["accuracy_higher"] == "A"


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
    assert "+0.000 to +0.000" in res.out
    assert "| - | " in res.out and "| A |" not in res.out and "| B |" not in res.out


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
    assert "sent_valid.csv.gz from the shared data, and it is not there" in res.err
    assert "FLUSHWATCH_SHARED_DATA" in res.err
    assert "Traceback" not in res.err


def test_the_terminal_table_gives_each_set_two_lines(
    cli, labelled_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "110")  # a terminal that fits the table, so no cell folds
    res = cli("model", "compare", "flushwatch-minilm", "--data", str(labelled_csv), "--mode", "fast")
    assert res.code == 0, res.err
    lines = [ln for ln in res.out.splitlines() if "accuracy" in ln or "macro-F1" in ln]
    assert len(lines) == 2 and "labelled.csv" in lines[0] and "n=30" in lines[1]
    assert all("+0.0000" in ln and "+0.000 to +0.000" in ln for ln in lines)


def test_mode_b_compares_two_inference_paths_of_one_model(
    cli, labelled_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    table = cli("model", "compare", "flushwatch-minilm", "--data", str(labelled_csv), "--mode-b", "fast")
    assert table.code == 0, table.err
    assert "A flushwatch-minilm@" in table.out and "(full), B flushwatch-minilm@" in table.out
    assert "(fast)" in table.out
    res = cli(
        "model", "compare", "flushwatch-minilm", "--data", str(labelled_csv),
        "--mode", "fast", "--mode-b", "full", "--format", "json",
    )  # fmt: skip
    assert res.code == 0, res.err
    (row,) = json.loads(res.out)
    # Each side's figure is the one its own path gives when run alone.
    from flushwatch.nlp.scorer import Scorer
    from flushwatch.training.data import read_labelled
    from flushwatch.training.evaluate import predict_labels

    texts, labels = read_labelled(labelled_csv)
    for side, mode in (("a", "fast"), ("b", "full")):
        preds, _ = predict_labels(Scorer("flushwatch-minilm", mode=mode), texts)
        assert row[f"{side}_accuracy"] == round(accuracy(labels, preds), 4)
        assert row[f"{side}_macro_f1"] == round(macro_f1(labels, preds, 3), 4)
    assert row["accuracy_diff"] == round(row["a_accuracy"] - row["b_accuracy"], 4)
