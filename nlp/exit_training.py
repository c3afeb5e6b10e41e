"""Fitting the early-exit head at ``flushwatch model train`` time, on the int8 path that runs it.

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
  head), as are those of the fast path without an exit; :func:`flushwatch.nlp.early_exit.choose`
  keeps the cheapest candidate whose agreement is at most ``max_loss`` below the latter.

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
from flushwatch.nlp.early_exit import ExitChoice, ExitHead

if TYPE_CHECKING:
    from flushwatch.nlp.fastpath import GraphWeights
    from flushwatch.nlp.scorer import Scorer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExitFit:
    head: ExitHead | None  # None: no candidate was close enough to the fast path without an exit
    chosen: ExitChoice | None
    table: list[ExitChoice]
    baseline_agreement: float  # the fast path without an exit vs full precision, same titles
    n_select: int


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
    batch = scorer._prepare(texts)

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

    batch = scorer._prepare(texts)
    futures = ort.submit(batch.arrays)
    probs = scorer._collect(batch, lambda: [f.result() for f in futures])
    return np.asarray(probs).argmax(axis=1)


def fit(
    full: Scorer,
    model_dir: Path,
    train_texts: Sequence[str],
    train_labels: Sequence[int],
    select_texts: Sequence[str],
    *,
    n_layers: int,
    max_loss: float,
    c: float,
    threads: int,
) -> ExitFit:
    """Fit, measure and choose the early-exit head for the model written in ``model_dir``.

    ``full`` is that model in full precision (``mode="full"``, no exit): the reference the
    candidates are compared with; their graphs are built from ``model_dir``'s files, as the
    fast path builds them.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from flushwatch.nlp.fastpath import OrtNet, export
    from flushwatch.nlp.scorer import Scorer

    weights = Scorer.graph_weights(model_dir)  # what the fast path builds its graphs from
    layers = early_exit.LAYERS
    train_feats = _probe_features(full, weights, train_texts, layers, threads)
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
            for th in early_exit.THRESHOLDS:
                ort.exit_head = dataclasses.replace(heads[k], threshold=th)
                ort.rows = ort.exited = 0
                agreement = float((_answers(full, ort, select_texts) == reference).mean())
                rate = ort.exited / max(1, ort.rows)
                table.append(
                    ExitChoice(
                        k,
                        th,
                        round(rate, 4),
                        round(agreement, 4),
                        round(early_exit.cost(k, rate, n_layers), 4),
                    )
                )
    chosen = early_exit.choose(table, round(baseline - max_loss, 4))
    head = dataclasses.replace(heads[chosen.layer], threshold=chosen.threshold) if chosen else None
    return ExitFit(head, chosen, table, round(baseline, 4), len(select_texts))
