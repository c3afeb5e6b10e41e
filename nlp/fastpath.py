"""The default inference path: the merged network as an int8 ONNX Runtime graph, run on every core.

Why ONNX Runtime: measured side by side on this project's 2-core CPU (``bench/bench_scoring.py``),
its dynamic-int8 MiniLM spends less CPU per headline than torch's fbgemm int8 Linear, and, more
important, ``InferenceSession.run`` releases the GIL, so one single-threaded run per core on
different batches scales almost linearly, where torch's intra-op threading over one small batch
(20 tokens x 64 headlines) does not.

The graph is derived, never committed: the base weights plus the committed fine-tuning delta,
added, exported once (``torch.onnx``) and quantised once (:func:`quantize_int8`: weights int8
per output channel, activations per batch). The result is cached under the user cache
directory (``FLUSHWATCH_CACHE_DIR`` overrides it), named by everything it depends on: adapter
revision, base sha256, onnxruntime version and this module's format number. A later process
with a warm cache loads it with onnxruntime and ``tokenizers`` only, so it never imports torch.
A cache file that onnxruntime cannot load is rebuilt once; a cache directory that cannot be
written falls back to a temporary directory.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flushwatch.errors import ModelError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

#: Bump when the export or quantisation recipe changes: it is part of the cache file's name.
FORMAT = 2  # 2: own int8 quantiser (quantize_int8) instead of onnxruntime's quantize_dynamic


def cache_dir() -> Path:
    env = os.environ.get("FLUSHWATCH_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("flushwatch", appauthor=False))


def graph_path(revision: str, base_sha256: str) -> Path:
    """Where the int8 graph for this adapter revision and base lives (it may not exist yet)."""
    import onnxruntime

    name = f"minilm-{revision}-{base_sha256[:12]}-ort{onnxruntime.__version__}-f{FORMAT}.int8.onnx"
    return cache_dir() / "onnx" / name


def _int8_columns(graph: Any, name: str) -> None:
    """Add an int8 copy of the 2-D initializer ``name``, symmetric per column (axis 1), with
    its fp32 scales and zero points as ``{name}_int8``, ``{name}_scale``, ``{name}_zero``."""
    import numpy as np
    from onnx import numpy_helper

    if any(i.name == f"{name}_int8" for i in graph.initializer):
        return  # a weight shared by several nodes is quantised once
    w = numpy_helper.to_array(next(i for i in graph.initializer if i.name == name)).astype(np.float32)
    scale = (np.maximum(np.abs(w).max(axis=0), 1e-12) / 127.0).astype(np.float32)
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.clip(np.rint(w / scale), -127, 127).astype(np.int8), f"{name}_int8"),
            numpy_helper.from_array(scale, f"{name}_scale"),
            numpy_helper.from_array(np.zeros(w.shape[1], np.int8), f"{name}_zero"),
        ]
    )


def quantize_int8(model: Any) -> Any:
    """Dynamic int8 quantisation of an ONNX model in place; returns ``model``.

    Every MatMul by a constant 2-D weight becomes ONNX Runtime's ``DynamicQuantizeMatMul``
    (activations quantised per batch at run time, weights int8 symmetric per output column),
    and every lookup in a large embedding table (words, positions) reads an int8 table
    dequantised per hidden unit.

    Why not ``onnxruntime.quantization.quantize_dynamic``: it produces the same kind of graph
    (ONNX Runtime fuses its MatMulInteger chains into this very op at load), but quantises each
    of the 20,741 weight columns in a Python loop, 1.7 s of a first ``flushwatch score``; this
    is one numpy expression per matrix (0.55 s in all). Measured on 3,000 headlines, single
    thread: argmax agreement with fp32 97.5% (quantize_dynamic: 97.6%), 609-645 vs 571-594
    headlines/s.
    """
    from onnx import helper

    graph = model.graph
    matrices = {i.name for i in graph.initializer if len(i.dims) == 2}
    tables = {i.name for i in graph.initializer if len(i.dims) == 2 and i.dims[0] >= 512}
    nodes = []
    for node in graph.node:
        if node.op_type == "Gather" and node.input[0] in tables:
            q = node.input[0]
            _int8_columns(graph, q)
            rows = f"{node.output[0]}_int8"
            nodes.append(
                helper.make_node("Gather", [f"{q}_int8", node.input[1]], [rows], name=node.name, axis=0)
            )
            nodes.append(
                helper.make_node(
                    "DequantizeLinear",
                    [rows, f"{q}_scale", f"{q}_zero"],
                    list(node.output),
                    name=f"{node.name}_dequantize",
                    axis=-1,
                )
            )
        elif node.op_type == "MatMul" and node.input[1] in matrices:
            q = node.input[1]
            _int8_columns(graph, q)
            nodes.append(
                helper.make_node(
                    "DynamicQuantizeMatMul",
                    [node.input[0], f"{q}_int8", f"{q}_scale", f"{q}_zero"],
                    list(node.output),
                    name=f"{node.name}_int8",
                    domain="com.microsoft",
                )
            )
        else:
            nodes.append(node)
    used = {i for n in nodes for i in n.input}
    del graph.node[:]
    graph.node.extend(nodes)
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model


def export(net: Any, dest: Path) -> Path:
    """Export ``net`` (the fp32 ``SentimentNet``), quantise it to int8, publish atomically.

    Written to a temporary file beside ``dest`` and renamed, so a concurrent process never
    reads half a graph; two processes building at once both succeed and one rename wins.
    """
    import onnx
    import torch

    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".build-") as tmp:
        fp32, int8 = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        ids = torch.ones((2, 8), dtype=torch.long)
        mask = torch.ones((2, 8), dtype=torch.long)
        with warnings.catch_warnings(), torch.inference_mode():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
            torch.onnx.export(
                net.eval(),
                (ids, mask),
                str(fp32),
                input_names=["input_ids", "attention_mask"],
                output_names=["logits"],
                dynamic_axes={
                    "input_ids": {0: "batch", 1: "tokens"},
                    "attention_mask": {0: "batch", 1: "tokens"},
                    "logits": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        onnx.save(quantize_int8(onnx.load(str(fp32))), str(int8))
        os.replace(int8, dest)
    return dest


class OrtNet:
    """An int8 graph and a pool of one worker per core, each running whole batches alone."""

    def __init__(self, path: Path, workers: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # parallelism comes from running batches side by side
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"cannot load ONNX graph {path}: {exc}".splitlines()[0], path=path) from exc
        self.path = path
        self.workers = max(1, workers)
        self._pool: ThreadPoolExecutor | None = None

    def submit(self, batches: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[Future[np.ndarray]]:
        """Start every batch on the pool (one per worker at a time); futures in batch order."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="flushwatch-ort")
        return [self._pool.submit(self._run, b) for b in batches]

    def _run(self, batch: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        ids, mask = batch
        out = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
        return out[0]


def load_or_build(revision: str, base_sha256: str, build_net: Callable[[], Any], workers: int) -> OrtNet:
    """The cached graph for this revision, built first when missing or unloadable.

    ``build_net`` is a zero-argument callable returning the merged fp32 network; it is only
    called (and torch only imported) when the graph has to be built.
    """
    path = graph_path(revision, base_sha256)
    if path.is_file():
        try:
            return OrtNet(path, workers)
        except ModelError as exc:
            log.warning("rebuilding the ONNX cache: %s", exc)
    net = build_net()
    try:
        export(net, path)
    except OSError as exc:
        log.warning("cannot write the ONNX cache under %s (%s); using a temporary copy", path.parent, exc)
        path = export(net, Path(tempfile.mkdtemp(prefix="flushwatch-onnx-")) / path.name)
    return OrtNet(path, workers)
