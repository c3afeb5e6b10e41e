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
import sys
from collections import Counter
from pathlib import Path

from near_duplicates import NEAR_DUPLICATE_JACCARD, closest_overlaps

from flushwatch.errors import InputError

SYNTHETIC = Path(__file__).resolve().parent / "data" / "synthetic_finance_tweets.csv"


def read_synthetic() -> tuple[list[str], list[int]]:
    with SYNTHETIC.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [r["text"] for r in rows], [int(r["label"]) for r in rows]


def shared_texts() -> list[str]:
    """Every sent_train and sent_valid text (their labels are not read)."""
    from flushwatch.nlp.evaluate import sent_valid_path
    from flushwatch.nlp.workflows import default_train_data

    texts = []
    for path in (default_train_data(), sent_valid_path()):
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            texts += [r["text"] for r in csv.DictReader(fh)]
    return texts


def check_file() -> None:
    texts, labels = read_synthetic()
    counts = Counter(labels)
    print(f"{len(texts):,} texts: bearish {counts[0]}, bullish {counts[1]}, neutral {counts[2]}")
    overlaps = sorted(closest_overlaps(texts, shared_texts()), reverse=True)
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
    if len(argv) == 2:
        compare_runs(Path(argv[0]), Path(argv[1]))
        return 0
    try:
        check_file()
    except InputError as exc:
        print(exc.one_line())
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
