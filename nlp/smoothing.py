"""Activation smoothing for the int8 fast path: the FFN output projection, per input channel.

Why: dynamic int8 quantises each batch's activations with one scale per tensor, and the GELU
outputs that feed each layer's FFN output projection (1,536 channels) have a few channels far
larger than the rest, so most channels are quantised coarsely. Measured on the dev rows plus
3,000 unlabelled crypto titles, keeping those projections in fp32 raised the int8 network's
agreement with full precision from 98.0% to 98.9% but cost a fifth of the speed; smoothing
them (SmoothQuant: divide channel j of the activation by s_j and multiply row j of the
weight by it, an identity in exact arithmetic) recovered most of that at no cost.

``s_j = amax_j ** alpha / wmax_j ** (1 - alpha)``, with ``amax_j`` the channel's largest
absolute activation over training titles (measured in fp32 by ``flushwatch model train``,
:mod:`flushwatch.training.smoothing_fit`, and stored in ``smooth.safetensors``) and
``wmax_j`` the weight row's. It is applied to a copy of the merged weights right before the
int8 graphs are built; full precision never sees it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from flushwatch.errors import ModelError

if TYPE_CHECKING:
    import numpy as np

FILE = "smooth.safetensors"


def apply(weights: dict[str, np.ndarray], amax: np.ndarray, alpha: float) -> list[np.ndarray]:
    """Smooth the merged network's FFN output projections in place; returns, per layer, the
    vector the GELU output is multiplied by in the graph (:mod:`flushwatch.nlp.graph`).

    ``weights`` are float32 arrays under SentimentNet names. Exact in exact arithmetic; the
    fp32 graph with it matches the unsmoothed network to 1e-4 (tested).
    """
    import numpy as np

    scales: list[np.ndarray] = []
    for i, a in enumerate(amax):
        name = f"encoder.encoder.layer.{i}.output.dense.weight"
        w = weights[name]  # (out, in)
        wmax = np.maximum(np.abs(w).max(axis=0).astype(np.float64), 1e-8)
        act = np.maximum(np.asarray(a, dtype=np.float64), 1e-8)
        s = np.clip(act**alpha / wmax ** (1.0 - alpha), 1e-3, 1e3)
        weights[name] = w * s.astype(np.float32)[None, :]
        scales.append((1.0 / s).astype(np.float32))
    return scales


def save(amax: np.ndarray, alpha: float, path: Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    save_file(
        {"amax": np.ascontiguousarray(amax, dtype=np.float32)},
        str(path),
        metadata={"smooth": json.dumps({"alpha": alpha})},
    )


def load(path: Path, *, n_layers: int, channels: int) -> tuple[np.ndarray, float]:
    """(amax, alpha) from ``smooth.safetensors``; one ModelError naming the file if it is bad."""
    import numpy as np
    from safetensors import SafetensorError, safe_open

    hint = "restore the file from git or re-run `flushwatch model train`"
    try:
        with safe_open(str(path), framework="numpy") as fh:
            amax = fh.get_tensor("amax").astype(np.float64)
            alpha = float(json.loads((fh.metadata() or {})["smooth"])["alpha"])
    except (SafetensorError, OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"smoothing file {path} is unreadable: {exc}".splitlines()[0], path=path, hint=hint
        ) from exc
    if amax.shape != (n_layers, channels) or not np.isfinite(amax).all() or not (0.0 <= alpha <= 1.0):
        raise ModelError(
            f"smoothing file {path} does not fit the network (amax {amax.shape}, alpha {alpha})",
            path=path,
            hint=hint,
        )
    return amax, alpha
