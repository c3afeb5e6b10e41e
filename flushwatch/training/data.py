"""The finance-tweet sentiment data the network is trained and judged on, and extra rows.

``labels_twitter_financial_news_sentiment`` in the shared data folder: ``sent_train`` (trained
on; a stratified dev split is carved out of it) and ``sent_valid`` (never trained or tuned on,
read by ``model eval``). Labels there are 0 bearish, 1 bullish, 2 neutral; ours are
:data:`flushwatch.nlp.base.LABELS`.
"""

from __future__ import annotations

import csv
import gzip
import random
from pathlib import Path
from typing import NamedTuple

from flushwatch.errors import InputError
from flushwatch.nlp.text import clean_text

#: Dataset label -> our label index (LABELS = bearish, neutral, bullish).
DATASET_TO_OURS = {0: 0, 1: 2, 2: 1}
_FOLDER = "labels_twitter_financial_news_sentiment"


def sent_train_path() -> Path:
    """The shared training split; without ``--data``, ``model train`` reads it."""
    from flushwatch.config import require_shared_file

    return require_shared_file(f"{_FOLDER}/sent_train.csv.gz", "model train (without --data)")


def sent_valid_path() -> Path:
    """The shared held-out split ``model eval`` and ``model compare`` read."""
    from flushwatch.config import require_shared_file

    return require_shared_file(f"{_FOLDER}/sent_valid.csv.gz", "model eval")


def read_labelled(path: Path) -> tuple[list[str], list[int]]:
    """Texts and our label indices from a ``text,label`` CSV (gzip ok)."""
    opener = gzip.open if path.suffix == ".gz" else open
    texts: list[str] = []
    labels: list[int] = []
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh), start=2):
                try:
                    labels.append(DATASET_TO_OURS[int(row["label"])])
                except (KeyError, ValueError) as exc:
                    raise InputError(f"bad label {row.get('label')!r}", path=path, line=i) from exc
                texts.append(clean_text(row["text"] or ""))
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", path=path) from exc
    return texts, labels


def stratified_split(labels: list[int], frac: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (train, dev), each class split in the same proportion, deterministic for a seed."""
    rng = random.Random(seed)
    train, dev = [], []
    for c in sorted(set(labels)):
        idx = [i for i, y in enumerate(labels) if y == c]
        rng.shuffle(idx)
        k = round(len(idx) * frac)
        dev += idx[:k]
        train += idx[k:]
    return sorted(train), sorted(dev)


class ExtraRows(NamedTuple):
    """Labelled rows added to the training rows only: never to the dev split, so the dev
    figures stay comparable with a run without them. Texts are cleaned as
    :func:`read_labelled` cleans them (:func:`flushwatch.nlp.text.clean_text`)."""

    name: str
    texts: list[str]
    labels: list[int]
