"""The default inference path: the merged network as an int8 ONNX Runtime graph, run on every core.

Why ONNX Runtime: measured side by side on this project's 2-core CPU (``bench/bench_scoring.py``),
its dynamic-int8 MiniLM spends less CPU per headline than torch's fbgemm int8 Linear, and, more
important, ``InferenceSession.run`` releases the GIL, so one single-threaded run per core on
different batches scales almost linearly, where torch's intra-op threading over one small batch
(20 tokens x 64 headlines) does not.

The graph is derived, never committed: the base weights plus the committed fine-tuning delta,
added in numpy (:mod:`flushwatch.nlp.merge`), written as an ONNX graph node by node
(:mod:`flushwatch.nlp.graph`) in its int8 form (weights int8 per output channel, activations
quantised per batch), all without torch. The result is cached under the user cache
directory (``FLUSHWATCH_CACHE_DIR`` overrides it), named by everything it depends on: adapter
revision, base sha256, onnxruntime version and this module's format number. A model with an
early-exit head (:mod:`flushwatch.nlp.early_exit`) gets two graphs instead, the encoder split
at the exit layer; the name then covers the exit head too, and the smoothing statistics
(:mod:`flushwatch.nlp.smoothing`) when the model has them. Neither building nor loading
them imports torch: the fast path runs on onnxruntime, numpy and ``tokenizers``.
A cache file that onnxruntime cannot load is rebuilt once; a cache directory that cannot be
written falls back to a temporary directory.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flushwatch.errors import ModelError

if TYPE_CHECKING:
    import numpy as np

    from flushwatch.nlp.early_exit import ExitHead


log = logging.getLogger(__name__)

#: Bump when the export or quantisation recipe changes: it is part of the cache file's name.
#: 2: own int8 quantiser instead of onnxruntime's quantize_dynamic; 3: graphs written by
#: :mod:`flushwatch.nlp.graph` from the numpy merge instead of ``torch.onnx``; 4: the front
#: graph also outputs the exit layer's pooled states (story vectors).
FORMAT = 4


@dataclass(frozen=True)
class GraphWeights:
    """What the int8 graphs are built from: the merged network (float32 arrays under
    SentimentNet names) and, when the model has smoothing statistics, the per-layer vectors
    the GELU outputs are multiplied by (:func:`flushwatch.nlp.smoothing.apply`)."""

    params: dict[str, np.ndarray]
    scales: list[np.ndarray] | None = None


def graph_path(revision: str, base_sha256: str) -> Path:
    """Where the int8 graph for this adapter revision and base lives (it may not exist yet)."""
    import onnxruntime
    import platformdirs

    env = os.environ.get("FLUSHWATCH_CACHE_DIR")  # else the user cache directory
    cache = Path(env).expanduser() if env else Path(platformdirs.user_cache_dir("flushwatch", False))
    name = f"minilm-{revision}-{base_sha256[:12]}-ort{onnxruntime.__version__}-f{FORMAT}.int8.onnx"
    return cache / "onnx" / name


def export(weights: GraphWeights, dest: Path, exit_head: ExitHead | None = None) -> list[Path]:
    """Build the int8 graph(s) of the merged network ``weights`` and publish them atomically.

    Without an exit head: one graph, ``dest``. With one: two graphs, the encoder split at the
    exit layer (:func:`split_paths` of ``dest``). Written to a temporary directory beside
    ``dest`` and renamed, so a concurrent process never reads half a graph; two processes
    building at once both succeed and one rename wins.
    """
    import functools

    import onnx

    from flushwatch.nlp import graph

    build = functools.partial(graph.build, weights.params, ffn2_scales=weights.scales, int8=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if exit_head is None:
        models = [(build("net"), dest)]
    else:
        front_dest, back_dest = split_paths(dest)
        k = exit_head.layer
        front = build("front", layer=k, exit_weight=exit_head.weight, exit_bias=exit_head.bias)
        models = [(front, front_dest), (build("back", layer=k), back_dest)]
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".build-") as tmp:
        for model, final in models:
            int8 = Path(tmp) / final.name
            onnx.save(model, str(int8))
            os.replace(int8, final)
    return [final for _, final in models]


def split_paths(dest: Path) -> tuple[Path, Path]:
    """The two graph files of a model with an early exit: encoder front (with the exit head), back."""
    stem = dest.name.removesuffix(".int8.onnx")
    return dest.with_name(f"{stem}.front.int8.onnx"), dest.with_name(f"{stem}.back.int8.onnx")


def graph_files(path: Path, *, split: bool) -> list[Path]:
    """The cached file(s) behind ``path``: itself, or its front and back graphs when ``split``."""
    return list(split_paths(path)) if split else [path]


def open_session(path: Path) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # parallelism comes from running batches side by side
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        # SkipLayerNormFusion fires only where a residual's shape is known statically: in a back
        # graph, whose input is declared (batch, tokens, 384), not after the embeddings. Left on,
        # the split graphs would compute what the whole graph computes slightly differently.
        return ort.InferenceSession(
            str(path),
            options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=["SkipLayerNormFusion"],
        )
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ModelError(f"cannot load ONNX graph {path}: {exc}".splitlines()[0], path=path) from exc


class OrtNet:
    """Int8 graph(s) and a pool of one worker per core, each running whole batches alone.

    With an early-exit head the encoder is two graphs: every batch runs the front (the first
    layers and the exit head); the rows whose blended exit probability reaches the threshold
    stop there (:func:`flushwatch.nlp.early_exit.exits`), the others run the back. Each batch
    returns the network's log-probabilities, from whichever head answered its row.
    """

    def __init__(self, paths: Sequence[Path], workers: int, exit_head: ExitHead | None = None) -> None:
        self.sessions = [open_session(p) for p in paths]
        self.paths = list(paths)
        self.exit_head = exit_head if len(self.sessions) == 2 else None
        self.workers = max(1, workers)
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.rows = 0  # rows scored, and how many of them stopped at the exit
        self.exited = 0

    def submit(
        self,
        batches: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray | None]],
        pooled: Sequence[np.ndarray] | None = None,
    ) -> list[Future[np.ndarray]]:
        """Start every batch (ids, mask, weighted lexical scores or None) on the pool; futures in order.

        ``pooled`` (split graphs only): one (rows, hidden) float32 array per batch, filled with
        the attention-masked mean of the exit layer's output, which the front graph computes
        for every row anyway for its exit head (:mod:`flushwatch.nlp.embedding`); filled by the
        time its future is done.
        """
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="flushwatch-ort")
        if pooled is None:
            return [self._pool.submit(self._run, b) for b in batches]
        if self.exit_head is None:
            raise ValueError("pooled exit-layer vectors need the split graphs of an early exit")
        return [self._pool.submit(self._run, b, p) for b, p in zip(batches, pooled, strict=True)]

    def _run(
        self, batch: tuple[np.ndarray, np.ndarray, np.ndarray | None], pooled: np.ndarray | None = None
    ) -> np.ndarray:
        from flushwatch.nlp.early_exit import exits
        from flushwatch.nlp.probs import log_softmax

        ids, mask, lexical = batch
        if self.exit_head is None:  # logits; the scorer normalises them
            logits: np.ndarray = self.sessions[0].run(None, {"input_ids": ids, "attention_mask": mask})[0]
            self._count(len(ids), 0)
            return logits
        feeds = {"input_ids": ids, "attention_mask": mask}
        if pooled is None:
            hidden, z = self.sessions[0].run(["hidden", "exit_logits"], feeds)
        else:
            hidden, z, pooled[:] = self.sessions[0].run(["hidden", "exit_logits", "pooled"], feeds)
        out = log_softmax(z.astype("float64"))
        rest = (~exits(out, lexical, self.exit_head.threshold)).nonzero()[0]
        if len(rest):
            width = int(mask[rest].sum(axis=1).max())  # the rows left may be shorter than the batch
            back = self.sessions[1].run(
                None, {"hidden": hidden[rest, :width], "attention_mask": mask[rest, :width]}
            )[0]
            out[rest] = log_softmax(back.astype("float64"))
        self._count(len(ids), len(ids) - len(rest))
        return out

    def _count(self, rows: int, exited: int) -> None:
        with self._lock:
            self.rows += rows
            self.exited += exited


def load_or_build(
    revision: str,
    base_sha256: str,
    build_weights: Callable[[], GraphWeights],
    workers: int,
    exit_head: ExitHead | None = None,
) -> OrtNet:
    """The cached graph(s) for this revision, built first when missing or unloadable.

    ``build_weights`` is a zero-argument callable returning the merged (and smoothed) weights;
    it is only called when a graph has to be built. ``revision`` names what the graphs depend
    on: the delta, the smoothing and the exit head when there are.
    """
    path = graph_path(revision, base_sha256)
    paths = graph_files(path, split=exit_head is not None)
    if all(p.is_file() for p in paths):
        try:
            return OrtNet(paths, workers, exit_head)
        except ModelError as exc:
            log.warning("rebuilding the ONNX cache: %s", exc)
    weights = build_weights()
    try:
        paths = export(weights, path, exit_head)
    except OSError as exc:
        log.warning("cannot write the ONNX cache under %s (%s); using a temporary copy", path.parent, exc)
        spare_dir = Path(tempfile.mkdtemp(prefix="flushwatch-onnx-"))
        try:
            # The sessions hold the graphs in memory once created, so the copy (~22 MB) is
            # removed at once: a cron job with an unwritable cache must not fill /tmp.
            return OrtNet(export(weights, spare_dir / path.name, exit_head), workers, exit_head)
        finally:
            shutil.rmtree(spare_dir, ignore_errors=True)
    return OrtNet(paths, workers, exit_head)
