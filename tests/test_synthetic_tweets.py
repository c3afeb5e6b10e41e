"""The synthetic finance tweets of the model card's last recipe row (``bench/data``).

The card says the file holds 2,700 invented, labelled tweets and that none is a near duplicate
of a sent_train or sent_valid text (so a run trained on it reads held-out figures honestly).
These tests hold the file to that: it reads through ``--extra-data``'s own reader, and its
overlap with the shared tweets is checked against the real shared files (skipped without them).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import ModuleType

from flushwatch.nlp.train import read_labelled
from tests.helpers.bench import load_bench


def _bench() -> ModuleType:
    return load_bench("eval_synthetic_tweets")


def test_file_reads_as_extra_training_rows() -> None:
    bench = _bench()
    texts, labels = read_labelled(bench.SYNTHETIC)
    assert len(texts) == 2700
    assert len(set(texts)) == 2700
    # our label order (bearish, neutral, bullish) after the dataset's 0/1/2 remap
    assert Counter(labels) == {0: 890, 1: 912, 2: 898}
    assert all(t.strip() for t in texts)


def test_closest_overlap_finds_the_nearest_text() -> None:
    bench = _bench()
    reference = ["Fed holds rates steady", "Acme shares jump 5% after earnings beat", "Oil slips"]
    (j1, _, ref1), (j2, _, ref2) = bench.closest_overlaps(
        ["Acme shares jump 7% after earnings beat", "Nothing in common here"], reference
    )
    assert ref1 == reference[1]
    assert j1 == 6 / 8  # six words shared; 5% and 7% differ
    assert (j2, ref2) == (0.0, "")


def test_no_text_is_a_near_duplicate_of_a_shared_tweet(shared_data: Path) -> None:
    bench = _bench()
    texts, _ = bench.read_synthetic()
    overlaps = bench.closest_overlaps(texts, bench.shared_texts())
    worst = max(overlaps)
    assert worst[0] < bench.NEAR_DUPLICATE_JACCARD, worst


def test_spot_check_is_the_documented_sample_and_agrees() -> None:
    """bench/data/README.md: 60 rows drawn with a fixed seed, labelled blind a second time."""
    import csv
    import random

    bench = _bench()
    _, labels = bench.read_synthetic()
    with (bench.SYNTHETIC.parent / "synthetic_spot_check.csv").open(encoding="utf-8", newline="") as fh:
        spot = [(int(r["row"]), int(r["label"])) for r in csv.DictReader(fh)]
    assert [row for row, _ in spot] == random.Random(20261203).sample(range(2700), 60)
    assert sum(labels[row] == label for row, label in spot) == 60
