"""Measuring the activation ranges the fast path's int8 smoothing needs (:mod:`flushwatch.nlp.smoothing`).

Read in fp32 from the network as written, on training titles batched exactly as scoring
batches them; scoring only reads the stored ranges.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flushwatch.nlp import smoothing

if TYPE_CHECKING:
    import numpy as np

    from flushwatch.nlp.scorer import Scorer


def measure(net: Any, batches: Sequence[tuple[Any, Any]]) -> np.ndarray:
    """Per layer, per channel, the largest |GELU output| entering FFN2 over ``batches`` (fp32)."""
    import numpy as np
    import torch

    layers = list(net.encoder.encoder.layer)
    amax = [np.zeros(layer.output.dense.in_features) for layer in layers]
    hooks = []
    for i, layer in enumerate(layers):

        def hook(_m: Any, inp: tuple[Any, ...], i: int = i) -> None:
            x = inp[0].detach().abs().reshape(-1, inp[0].shape[-1]).amax(0).double().numpy()
            amax[i] = np.maximum(amax[i], x)

        hooks.append(layer.output.dense.register_forward_pre_hook(hook))
    try:
        with torch.inference_mode():
            for x, m in batches:
                net(torch.as_tensor(x), torch.as_tensor(m))
    finally:
        for h in hooks:
            h.remove()
    return np.stack(amax)


def fit(full: Scorer, out_dir: Path, texts: Sequence[str], alpha: float) -> dict[str, Any]:
    """Measure the ranges on ``texts`` with ``full`` (the fp32 model as written) and write
    ``smooth.safetensors`` into ``out_dir``; what config.json records."""
    batch = full.prepare(texts)
    amax = measure(full.net, [(x, m) for x, m, _ in batch.arrays])
    smoothing.save(amax, alpha, out_dir / smoothing.FILE)
    return {"alpha": alpha, "rows": len(texts)}
