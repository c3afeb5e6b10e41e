"""Fit the story map (:mod:`flushwatch.nlp.embedding`): exit-layer vectors -> base sentence space.

Why a fitted map: the base all-MiniLM-L6-v2 sentence embedding tells paraphrases apart from
other news best of the vectors measured (``bench/eval_stories.py``), but computing it means a
second full forward pass per title; the fine-tuned encoder's exit-layer vector is free and,
as is, worse than title tokens. Ridge regression from the second to the first, on unlabelled
crypto titles, then reduced to its top ``dim`` directions, keeps most of the base's quality at
the cost of one small matrix product.

The regression: ``x`` = the exit-layer vector (the int8 fast path's, read through
:meth:`flushwatch.nlp.scorer.Scorer.pooled`, exactly what scoring computes), centred by its mean;
``y`` = the base model's L2-normalised mean-pooled last layer, in fp32 from the published
weights. ``W = (X'X + ridge I)^-1 X'Y`` (with ``X`` centred, also the fit to the centred ``Y``,
whose common part only narrows the range of cosines); then reduced rank: ``W`` times the top
``dim`` right singular vectors of ``XW``, which leaves the predictions' dot products within
those directions unchanged. About a minute and a half for 12,700 titles on 2 cores.

The titles: every distinct title of the three shared crypto news sets less those in
``eval/story_pairs.csv``, so the labelled pairs that judge the map never trained it.
Run by ``flushwatch model train``; ``python -m flushwatch.training.story_fit MODEL_DIR...``
refits a model directory in place (the model's revision does not change: the map is named
by its own hash in each vector's lineage).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RIDGE = 1.0  # held-out average precision moved by < 0.001 between 0.01 and 10
DIM = 128  # 96: -0.003 average precision; 192 and 384: +0.001 at 1.5-3x the bytes
STORY_PAIRS_FILE = "story_pairs.csv"
DATASETS = (
    "news_cryptonews_2021_2022",
    "news_cryptonews_ftx_window_2022_11",
    "news_cryptocompare_feed_2025_2026",
)


def fit_titles() -> list[str]:
    """The fitting titles (sorted): the shared news sets' titles less the labelled pairs' (none
    without the shared data)."""
    from flushwatch.config import shared_data_dir
    from flushwatch.errors import InputError
    from flushwatch.training.labelled_sets import headline_titles, read_rows

    if shared_data_dir() is None:
        return []
    try:
        held = {r[k] for r in read_rows(STORY_PAIRS_FILE) for k in ("md5_a", "md5_b")}
    except InputError as exc:  # outside a checkout: nothing to hold out
        log.warning("%s; the story map is fitted on every title", exc)
        held = set()
    titles: set[str] = set()
    for dataset in DATASETS:
        titles |= {t for md5, t in headline_titles(dataset, "the story map").items() if md5 not in held}
    return sorted(titles)


def base_sentence_vectors(scorer: Any, texts: Sequence[str], threads: int = 2) -> Any:
    """The base model's sentence embedding of ``texts`` (n x hidden, unit rows): fp32, mean over
    tokens after its last layer, as all-MiniLM-L6-v2 was trained; tokenised as ``scorer`` does."""
    import tempfile
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    import onnx

    from flushwatch.nlp import graph
    from flushwatch.nlp.base import HIDDEN, N_LAYERS, base_model_dir, verify_base
    from flushwatch.nlp.fastpath import open_session
    from flushwatch.nlp.merge import base_weights

    base = verify_base(base_model_dir()).parent
    probe = graph.build(base_weights(base), "probe", taps=(N_LAYERS,))
    with tempfile.TemporaryDirectory(prefix="flushwatch-base-") as tmp:
        path = Path(tmp) / "base.onnx"
        onnx.save(probe, str(path))
        session = open_session(path)
    batch = scorer.prepare(texts)

    def run(arrays: tuple[Any, Any, Any]) -> Any:
        return session.run(None, {"input_ids": arrays[0], "attention_mask": arrays[1]})[1]

    out = np.zeros((len(texts), HIDDEN), np.float32)
    with ThreadPoolExecutor(threads) as pool:
        for chunk, pooled in zip(batch.chunks, pool.map(run, batch.arrays), strict=True):
            out[chunk] = pooled
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def fit(x: Any, y: Any, *, ridge: float = RIDGE, dim: int = DIM) -> tuple[Any, Any]:
    """(mean of ``x``, hidden x ``dim`` map) of the reduced-rank ridge regression above. Pure."""
    import numpy as np

    mean = x.mean(axis=0)
    a = (x - mean).astype(np.float64)
    w = np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ y.astype(np.float64))
    _, _, vt = np.linalg.svd(a @ w, full_matrices=False)
    return mean.astype(np.float32), w @ vt[:dim].T


def fit_and_save(
    out_dir: Path, texts: Sequence[str] | None = None, *, threads: int = 2
) -> dict[str, Any] | None:
    """Fit the map of the model in ``out_dir`` (which must have an early exit) on ``texts``
    (default :func:`fit_titles`) and write ``story.safetensors``; what config.json records.
    None, with no file written, without titles or without an early exit."""
    from flushwatch.nlp import embedding
    from flushwatch.nlp.scorer import Scorer

    t0 = time.monotonic()
    texts = list(fit_titles() if texts is None else texts)
    (out_dir / embedding.FILE).unlink(missing_ok=True)  # a refit never reads the old map
    scorer = Scorer(str(out_dir), mode="fast")
    layer = scorer.exit_layer
    if not texts or layer is None:
        log.warning("no story map fitted for %s (%s)", out_dir, "no titles" if not texts else "no early exit")
        return None
    x = scorer.pooled(texts)
    y = base_sentence_vectors(scorer, texts, threads)
    mean, weight = fit(x, y)
    meta = {"titles": len(texts), "ridge": RIDGE, "dim": DIM, "target": "all-MiniLM-L6-v2 mean-pooled, unit"}
    embedding.save(out_dir / embedding.FILE, layer=layer, mean=mean, weight=weight, meta=meta)
    seconds = time.monotonic() - t0
    log.info(
        "story map for %s: layer %d -> %d dims, %d titles, %.0f s", out_dir, layer, DIM, len(texts), seconds
    )
    return {"layer": layer, **meta}


def main(argv: Sequence[str] | None = None) -> None:
    """Refit the story map of each model directory given (the shipped ones: models/NAME)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for arg in argv if argv is not None else sys.argv[1:]:
        print(arg, fit_and_save(Path(arg)))


if __name__ == "__main__":
    main()
