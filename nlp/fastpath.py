"""The default inference path: the merged network as an int8 ONNX Runtime graph, run on every core.

Why ONNX Runtime: measured side by side on this project's 2-core CPU (``bench/bench_scoring.py``),
its dynamic-int8 MiniLM spends less CPU per headline than torch's fbgemm int8 Linear, and, more
important, ``InferenceSession.run`` releases the GIL, so one single-threaded run per core on
different batches scales almost linearly, where torch's intra-op threading over one small batch
(20 tokens x 64 headlines) does not.

The graph is derived, never committed: the base weights plus the committed fine-tuning delta,
added, exported once (``torch.onnx``) and quantised once (``onnxruntime.quantization``, weights
int8 per output channel, activations per batch). The result is cached under the user cache
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
FORMAT = 1


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


def export(net: Any, dest: Path) -> Path:
    """Export ``net`` (a merged fp32 ``SentimentNet``), quantise it to int8, publish atomically.

    Written to a temporary file beside ``dest`` and renamed, so a concurrent process never
    reads half a graph; two processes building at once both succeed and one rename wins.
    """
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

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
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # quantize_dynamic logs a pre-processing hint on the root logger
        try:
            quantize_dynamic(
                str(fp32),
                str(int8),
                weight_type=QuantType.QInt8,
                per_channel=True,
                extra_options={"DefaultTensorType": 1},  # FLOAT, where shape inference leaves it open
            )
        finally:
            root.setLevel(level)
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
