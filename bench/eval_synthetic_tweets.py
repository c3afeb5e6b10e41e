"""Do LLM-written finance tweets help the sentiment network? (measured: no; see the model card)

``bench/data/synthetic_finance_tweets.csv`` holds 2,700 finance-news tweets written for this
project on 2026-12-03 by six helper agents (LLM annotators), one topic each (analyst actions,
earnings, macro, corporate news, price moves, opinion pieces), every text invented and labelled
by its writer, blind to the shared data. Labels as sent_train: 0 bearish, 1 bullish, 2 neutral.

This script checks what the model card claims about the file: its size and label counts, and
that no text is a near duplicate of any sent_train or sent_valid text (word-set Jaccard index
>= 0.6, the threshold used for the crypto training titles), so training on it cannot leak
held-out tweets. Only the texts of the shared files are read, never a sent_valid label.

The training comparison itself is the CLI (about 10 minutes each on 2 cores)::

    flushwatch model train --members 1 --seed 13 --no-calibrate --out A
    flushwatch model train --members 1 --seed 13 --no-calibrate --out B \\
        --extra-data bench/data/synthetic_finance_tweets.csv

and ``python bench/eval_synthetic_tweets.py A B`` prints the two runs' dev figures side by side.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

SYNTHETIC = Path(__file__).resolve().parent / "data" / "synthetic_finance_tweets.csv"
NEAR_DUPLICATE_JACCARD = 0.6
_WORDS = re.compile(r"[a-z0-9$%.]+")
_URL = re.compile(r"https?://\S+")


def word_set(text: str) -> set[str]:
    return set(_WORDS.findall(_URL.sub("", text.lower())))


def closest_overlaps(texts: list[str], reference: list[str]) -> list[tuple[float, str, str]]:
    """For each text, its highest word-set Jaccard index with any reference text (and that
    text). Candidates come from an inverted index over the rarer words, so it takes seconds."""
    ref_sets = [word_set(t) for t in reference]
    index: dict[str, list[int]] = defaultdict(list)
    for i, words in enumerate(ref_sets):
        for w in words:
            index[w].append(i)
    out = []
    for text in texts:
        words = word_set(text)
        shared: Counter[int] = Counter()
        for w in words:
            if len(index[w]) < 2000:  # words in a fifth of the rows cannot single out a match
                shared.update(index[w])
        best, best_ref = 0.0, ""
        for i, _ in shared.most_common(50):
            j = len(words & ref_sets[i]) / max(1, len(words | ref_sets[i]))
            if j > best:
                best, best_ref = j, reference[i]
        out.append((best, text, best_ref))
    return out


def read_synthetic() -> tuple[list[str], list[int]]:
    with SYNTHETIC.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], [int(r["label"]) for r in rows]


def shared_texts(base: Path) -> list[str]:
    texts = []
    for name in ("sent_train", "sent_valid"):
        path = base / "labels_twitter_financial_news_sentiment" / f"{name}.csv.gz"
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            texts += [r["text"] for r in csv.DictReader(fh)]
    return texts


def check_file(base: Path) -> None:
    texts, labels = read_synthetic()
    counts = Counter(labels)
    print(f"{len(texts):,} texts: bearish {counts[0]}, bullish {counts[1]}, neutral {counts[2]}")
    overlaps = sorted(closest_overlaps(texts, shared_texts(base)), reverse=True)
    near = [o for o in overlaps if o[0] >= NEAR_DUPLICATE_JACCARD]
    print(
        f"closest to a sent_train/sent_valid text: Jaccard {overlaps[0][0]:.2f}; "
        f">= {NEAR_DUPLICATE_JACCARD}: {len(near)}"
    )
    for j, text, ref in overlaps[:5]:
        print(f"  {j:.2f}  {text!r}  ~  {ref[:90]!r}")


def compare_runs(without: Path, with_: Path) -> None:
    for label, path in (("without", without), ("with synthetic", with_)):
        cfg = json.loads((path / "config.json").read_text())
        last = [h for h in cfg["history"] if h["epoch"] == cfg["train"]["epochs"]]
        members = ", ".join(
            f"seed {h['seed']} {h['dev_accuracy']:.4f} / {h['dev_macro_f1']:.4f}" for h in last
        )
        dev = cfg["dev"]
        extra = sum(e["rows"] for e in cfg["train"].get("extra") or [])
        print(
            f"{label:>15}: +{extra:,} rows; network at the last epoch {members}; "
            f"as written (compressed + lexical) {dev['accuracy']:.4f} / {dev['macro_f1']:.4f}"
        )


def main(argv: list[str]) -> int:
    from flushwatch.config import shared_data_dir

    if len(argv) == 2:
        compare_runs(Path(argv[0]), Path(argv[1]))
        return 0
    base = shared_data_dir()
    if base is None:
        print(
            "shared data not found: set FLUSHWATCH_SHARED_DATA to the folder holding "
            "labels_twitter_financial_news_sentiment/"
        )
        return 2
    check_file(base)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
