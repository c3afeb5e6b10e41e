"""Early exit: a small head after an early encoder layer that answers the easy titles there.

Why: on this 2-core CPU the int8 encoder is ~90% of scoring time, and most headlines are easy.
A linear head on the mean-pooled output of layer ``k`` (of 6), blended with the lexical head
exactly as the final head is, answers the titles whose top probability reaches a threshold
(38% of crypto titles for the shipped head); only the others run the remaining layers. The
fast path (:mod:`flushwatch.nlp.fastpath`) builds the encoder as two graphs split at ``k``.
The full-precision modes never exit early: they are the reference the fast path is measured
against (``flushwatch model eval`` prints both, and the fast path without the exit).

Fitting (:mod:`flushwatch.training.exit_fit`, at ``flushwatch model train`` time) reads
the features from the int8 graph the fast path runs, measures every candidate layer and
threshold on that very path, and keeps the cheapest whose answers agree with the
full-precision model's nearly as often as the fast path without an exit does. Scoring is
numpy: :func:`exits` is the decision rule.

File: ``exit.safetensors`` with tensors ``weight`` (3 x hidden, rows bearish, neutral,
bullish), ``bias`` (3), and the layer and threshold as JSON in its metadata key ``exit``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flushwatch.errors import ModelError

if TYPE_CHECKING:  # numpy is imported where used: the scorer module is on every CLI path
    import numpy as np

FILE = "exit.safetensors"


@dataclass(frozen=True)
class ExitHead:
    layer: int  # exit after this many encoder layers
    weight: np.ndarray  # (3, hidden)
    bias: np.ndarray  # (3,)
    threshold: float  # exit when the blended top probability is at least this


def exits(exit_log_probs: np.ndarray, lexical: np.ndarray | None, threshold: float) -> np.ndarray:
    """Which rows stop at the exit: top probability of (exit log-probs + lexical scores) >= threshold.

    ``lexical`` is the lexical head's weighted scores (n x 3) or None without one: the blend
    the final head's output gets, so the decision is made on the probabilities that would ship.
    """
    import numpy as np

    from flushwatch.nlp.probs import log_softmax

    z = exit_log_probs if lexical is None else exit_log_probs + lexical
    return np.asarray(np.exp(log_softmax(z).max(axis=1)) >= threshold)


def save(head: ExitHead, path: Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    tensors = {"weight": head.weight, "bias": head.bias}
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
    # One metadata key: safetensors writes several in no fixed order, and the bytes must not vary.
    save_file(
        tensors, str(path), metadata={"exit": json.dumps({"layer": head.layer, "threshold": head.threshold})}
    )


def load(path: Path, *, hidden: int, n_layers: int) -> ExitHead:
    """Read ``exit.safetensors`` without torch; one ModelError naming the file if it is bad."""
    import numpy as np
    from safetensors import SafetensorError, safe_open

    hint = "restore the file from git or re-run `flushwatch model train`"
    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
            weight = fh.get_tensor("weight").astype(np.float64)
            bias = fh.get_tensor("bias").astype(np.float64)
        spec = json.loads(meta["exit"])
        layer, threshold = int(spec["layer"]), float(spec["threshold"])
    except (SafetensorError, OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"early-exit head {path} is unreadable: {exc}".splitlines()[0], path=path, hint=hint
        ) from exc
    if (
        weight.shape != (3, hidden)
        or bias.shape != (3,)
        or not 1 <= layer < n_layers
        or not (math.isfinite(threshold) and 0.0 < threshold <= 1.0)
        or not (np.isfinite(weight).all() and np.isfinite(bias).all())
    ):
        raise ModelError(
            f"early-exit head {path} does not fit the network (weight {weight.shape}, layer {layer}, "
            f"threshold {threshold})",
            path=path,
            hint=hint,
        )
    return ExitHead(layer, weight, bias, threshold)
