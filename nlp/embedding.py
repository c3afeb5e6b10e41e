"""Story embeddings: a compact sentence vector per headline, read off the encoder's exit layer.

Why from the exit layer: the fast path runs every title through the encoder up to the early
exit (layer 3 of 6) anyway, and its front graph pools that layer for the exit head, so the
pooled vector is one more graph output (:mod:`flushwatch.nlp.graph`). Why
projected: measured on 328 labelled headline pairs (``eval/story_pairs.csv``,
``bench/eval_stories.py``), that raw fine-tuned vector tells "same story" from "different
story" worse than title-token Jaccard (average precision 0.86 against 0.91), while the base
model's own sentence embedding (all-MiniLM-L6-v2, all six layers, mean-pooled) does best (0.94)
but would cost a second full forward pass per title, halving scoring speed. A linear map fitted
by ridge regression from the exit-layer vector to the base sentence embedding, on unlabelled
titles (:mod:`flushwatch.training.story_fit`), gets most of the way (0.93) for one small
matrix product. Reduced to 128 directions it loses nothing measurable, so a stored vector is
128 int8 values and one scale.

File: ``story.safetensors`` in the model directory, tensors ``mean`` (hidden, float32: the
exit-layer vectors' mean, subtracted first), ``weight`` (hidden x dim, int8) and ``scale``
(dim, float32: ``weight * scale`` is the map), and the exit layer and fit details as JSON in
its metadata key ``story``. A model without the file (or without an early exit) writes no
embeddings, and its headlines keep the stories ingest gave them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flushwatch.errors import ModelError

if TYPE_CHECKING:  # numpy is imported where used: the scorer module is on every CLI path
    import numpy as np

FILE = "story.safetensors"
_HINT = "restore the file from git or re-run `flushwatch model train`"


@dataclass(frozen=True)
class StoryMap:
    layer: int  # the encoder layer whose pooled output it maps (the exit layer)
    mean: np.ndarray  # (hidden,) float32
    weight: np.ndarray  # (hidden, dim) float32: int8 values times their column scale
    revision: str  # first 12 hex of the file's sha256: part of every embedding's lineage

    @property
    def dim(self) -> int:
        return int(self.weight.shape[1])


def project(story: StoryMap, pooled: np.ndarray) -> np.ndarray:
    """Unit story vectors (n x dim, float32) of exit-layer vectors ``pooled`` (n x hidden)."""
    import numpy as np

    z = (np.asarray(pooled, np.float32) - story.mean) @ story.weight
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    return np.asarray(z / np.maximum(norms, 1e-12), dtype=np.float32)


def quantize(unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per row: (int8 values, float32 scales), ``values * scale`` ~ ``unit``.

    Cosines between the int8 rows equal those of the float rows to about 1e-3: what the
    clustering reads (tested)."""
    import numpy as np

    scale = np.maximum(np.abs(unit).max(axis=1), 1e-12) / 127.0
    q = np.clip(np.rint(unit / scale[:, None]), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def save(path: Path, *, layer: int, mean: np.ndarray, weight: np.ndarray, meta: dict[str, Any]) -> None:
    """Write the map: ``weight`` (hidden x dim, float) is stored int8 per column."""
    import numpy as np
    from safetensors.numpy import save_file

    w = np.asarray(weight, dtype=np.float64)
    scale = np.maximum(np.abs(w).max(axis=0), 1e-12) / 127.0
    tensors = {
        "mean": np.ascontiguousarray(mean, dtype=np.float32),
        "weight": np.ascontiguousarray(np.clip(np.rint(w / scale), -127, 127).astype(np.int8)),
        "scale": np.ascontiguousarray(scale, dtype=np.float32),
    }
    # One metadata key: safetensors writes several in no fixed order, and the bytes must not vary.
    save_file(tensors, str(path), metadata={"story": json.dumps({"layer": layer, **meta}, sort_keys=True)})


def load(path: Path, *, hidden: int, exit_layer: int) -> StoryMap:
    """Read ``story.safetensors`` without torch; one ModelError naming the file if it is bad
    or was fitted on another layer than the model's exit."""
    import hashlib

    import numpy as np
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="numpy") as fh:
            spec = json.loads((fh.metadata() or {})["story"])
            mean = fh.get_tensor("mean").astype(np.float32)
            q = fh.get_tensor("weight")
            scale = fh.get_tensor("scale").astype(np.float32)
        layer = int(spec["layer"])
        revision = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except (SafetensorError, OSError, ValueError, KeyError, TypeError) as exc:
        message = f"story map {path} is unreadable: {exc}".splitlines()[0]
        raise ModelError(message, path=path, hint=_HINT) from exc
    if (
        mean.shape != (hidden,)
        or q.ndim != 2
        or q.shape[0] != hidden
        or q.dtype != np.int8
        or scale.shape != (q.shape[1],)
        or not 0 < q.shape[1] <= hidden
        or layer != exit_layer
        or not (np.isfinite(mean).all() and np.isfinite(scale).all())
        or not math.isfinite(float(scale.sum()))
    ):
        raise ModelError(
            f"story map {path} does not fit the network (weight {q.shape}, layer {layer}, exit layer "
            f"{exit_layer})",
            path=path,
            hint=_HINT,
        )
    return StoryMap(layer, mean, q.astype(np.float32) * scale[None, :], revision)
