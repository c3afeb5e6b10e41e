"""Fitting and choosing the early-exit head (:mod:`flushwatch.nlp.early_exit`) on the int8 path that runs it.

Why not fit and choose it on the fp32 network the training loop has: measured on unlabelled
crypto titles, an exit head chosen on fp32 figures changed about twice as many fast-path
answers as those figures predicted. Dynamic int8 quantisation perturbs the early layers'
features, and a confident exit head amplifies that; and the rows that do not exit run the
remaining layers as a smaller batch, whose per-batch activation scales differ, which moves
some borderline answers too. So everything here is read off the deployed path:

* features: a probe graph (the whole network, also returning the pooled hidden states after
  each candidate layer), quantised as the fast path's graphs are; one logistic regression per
  layer on the training rows' pooled features and labels;
* selection: for each candidate layer the fast path's two graphs are built with that exit
  head, and every threshold is run on the selection titles (dev rows plus unlabelled crypto
  headlines from the shared data: the domain flushwatch scores; no labels needed). Each
  candidate's answers are compared with the full-precision model's (fp32, network + lexical
  head), as are those of the fast path without an exit; :func:`choose` keeps the cheapest
  candidate whose agreement is at most ``max_loss`` below the latter.

scikit-learn and torch are needed here only, never at scoring time.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flushwatch.nlp import early_exit
from flushwatch.nlp.early_exit import ExitHead

if TYPE_CHECKING:
    from flushwatch.nlp.fastpath import GraphWeights
    from flushwatch.nlp.scorer import Scorer

log = logging.getLogger(__name__)

#: Candidate exit layers and thresholds.
LAYERS = (2, 3, 4)
THRESHOLDS = (0.9, 0.95, 0.97, 0.98, 0.99, 0.995)


@dataclass(frozen=True)
class ExitChoice:
    """One (layer, threshold) candidate as measured on the selection titles."""

    layer: int
    threshold: float
    exit_rate: float  # share of the selection titles answered at the exit
    agreement: float  # share of the selection titles labelled as the full-precision model labels them
    cost: float  # encoder layers run, as a share of all of them


def cost(layer: int, exit_rate: float, n_layers: int) -> float:
    """Encoder layers run per title at this exit rate, as a share of ``n_layers``."""
    return (layer + (1.0 - exit_rate) * (n_layers - layer)) / n_layers


def choose(table: Sequence[ExitChoice], min_agreement: float) -> ExitChoice | None:
    """The cheapest candidate agreeing with the reference on >= ``min_agreement``, or None. Pure.

    A candidate no title exits at saves nothing and is never chosen; ties in cost go to the
    higher threshold (the more careful exit).
    """
    ok = [c for c in table if c.agreement >= min_agreement and c.exit_rate > 0]  # one that saves work
    return min(ok, key=lambda c: (c.cost, -c.threshold)) if ok else None


def crypto_titles(n: int) -> list[str]:
    """``n`` unlabelled crypto headlines from the shared data (cryptonews 2021-22), or none.

    The titles with the highest hashes: ``bench/bench_scoring.py`` scores the lowest, so the
    benchmark never measures the exit on the titles it was chosen on.
    """
    from flushwatch.config import shared_data_dir

    base = shared_data_dir()
    path = base / "news_cryptonews_2021_2022" / "cryptonews_2021-10-12_2022-07-05.csv.gz" if base else None
    if n <= 0 or path is None or not path.is_file():
        return []
    import duckdb

    sql = (
        "SELECT DISTINCT title FROM read_csv(?, delim=';', header=true, all_varchar=true) "
        "WHERE title IS NOT NULL ORDER BY hash(title) DESC, title LIMIT ?"
    )
    return [r[0] for r in duckdb.connect().execute(sql, [str(path), n]).fetchall()]


def _probe_features(
    scorer: Scorer, weights: GraphWeights, texts: Sequence[str], layers: Sequence[int], threads: int
) -> dict[int, Any]:
    """Pooled hidden states after each of ``layers``, read from the int8 probe graph."""
    import numpy as np
    import onnx

    from flushwatch.nlp import graph
    from flushwatch.nlp.fastpath import open_session

    probe = graph.build(weights.params, "probe", ffn2_scales=weights.scales, taps=tuple(layers), int8=True)
    with tempfile.TemporaryDirectory(prefix="flushwatch-probe-") as tmp:
        int8 = Path(tmp) / "probe.int8.onnx"
        onnx.save(probe, str(int8))
        session = open_session(int8)
    batch = scorer.prepare(texts)

    def run(arrays: tuple[Any, Any, Any]) -> list[Any]:
        return list(session.run(None, {"input_ids": arrays[0], "attention_mask": arrays[1]}))

    feats: dict[int, Any] = {}
    with ThreadPoolExecutor(threads) as pool:
        for chunk, out in zip(batch.chunks, pool.map(run, batch.arrays), strict=True):
            for k, pooled in zip(layers, out[1:], strict=True):
                feats.setdefault(k, np.zeros((len(texts), pooled.shape[1])))[chunk] = pooled
    return feats


def _answers(scorer: Scorer, ort: Any, texts: Sequence[str]) -> Any:
    """Labels the fast path gives ``texts`` through ``ort`` (an OrtNet), lexical head included."""
    import numpy as np

    batch = scorer.prepare(texts)
    futures = ort.submit(batch.arrays)
    probs = scorer.collect(batch, lambda: [f.result() for f in futures])
    return np.asarray(probs).argmax(axis=1)


def fit_and_save(
    full: Scorer,
    out_dir: Path,
    train_texts: Sequence[str],
    train_labels: Sequence[int],
    dev_texts: Sequence[str],
    *,
    max_loss: float,
    c: float,
    selection_titles: int,
    threads: int,
) -> dict[str, Any]:
    """Fit, measure and choose the early-exit head for the model written in ``out_dir``, and
    write ``exit.safetensors`` (or none); what config.json records about it.

    ``full`` is that model in full precision (``mode="full"``, no exit): the reference the
    candidates are compared with; their graphs are built from ``out_dir``'s files, as the
    fast path builds them. The selection titles are ``dev_texts`` plus ``selection_titles``
    unlabelled crypto headlines (:func:`crypto_titles`).
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from flushwatch.nlp.base import N_LAYERS
    from flushwatch.nlp.fastpath import OrtNet, export
    from flushwatch.nlp.scorer import Scorer

    crypto = crypto_titles(selection_titles)
    select_texts = [*dev_texts, *crypto]
    weights = Scorer.graph_weights(out_dir)  # what the fast path builds its graphs from
    train_feats = _probe_features(full, weights, train_texts, LAYERS, threads)
    fitted = {
        k: LogisticRegression(C=c, max_iter=5000).fit(x, list(train_labels)) for k, x in train_feats.items()
    }
    for clf in fitted.values():
        if list(clf.classes_) != [0, 1, 2]:
            raise ValueError(f"training labels must cover bearish, neutral and bullish, got {clf.classes_}")
    reference = np.asarray(full.probabilities(select_texts)[0]).argmax(axis=1)
    table: list[ExitChoice] = []
    heads: dict[int, ExitHead] = {}
    with tempfile.TemporaryDirectory(prefix="flushwatch-exit-") as tmp:
        plain = OrtNet(export(weights, Path(tmp) / "plain.int8.onnx"), threads)
        baseline = float((_answers(full, plain, select_texts) == reference).mean())
        for k, clf in fitted.items():
            heads[k] = ExitHead(
                k, np.asarray(clf.coef_, np.float64), np.asarray(clf.intercept_, np.float64), 1.0
            )
            ort = OrtNet(export(weights, Path(tmp) / f"exit{k}.int8.onnx", heads[k]), threads, heads[k])
            for th in THRESHOLDS:
                ort.exit_head = dataclasses.replace(heads[k], threshold=th)
                ort.rows = ort.exited = 0
                agreement = float((_answers(full, ort, select_texts) == reference).mean())
                rate = ort.exited / max(1, ort.rows)
                table.append(
                    ExitChoice(k, th, round(rate, 4), round(agreement, 4), round(cost(k, rate, N_LAYERS), 4))
                )
    chosen = choose(table, round(baseline - max_loss, 4))
    head = dataclasses.replace(heads[chosen.layer], threshold=chosen.threshold) if chosen else None
    if head is not None and chosen is not None:
        early_exit.save(head, out_dir / early_exit.FILE)
        log.info(
            "early exit after layer %d at p >= %s: %.0f%% of %d titles exit, agreement with full "
            "precision %.4f (without the exit %.4f), %.0f%% of the layers run",
            head.layer,
            head.threshold,
            100 * chosen.exit_rate,
            len(select_texts),
            chosen.agreement,
            round(baseline, 4),
            100 * chosen.cost,
        )
    else:
        log.info("no early exit: every candidate loses more than %s agreement", max_loss)
    return {
        "layer": head.layer if head else None,
        "threshold": head.threshold if head else None,
        "selection": {"dev_rows": len(dev_texts), "crypto_titles": len(crypto)},
        "baseline_agreement": round(baseline, 4),
        "max_loss": max_loss,
        "chosen": dataclasses.asdict(chosen) if chosen else None,
        "candidates": [dataclasses.asdict(c) for c in table],
    }
