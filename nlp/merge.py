"""The shipped network as numpy arrays: the published base plus the committed delta, no torch.

Why numpy: every inference path starts from ``base + delta``, and the fast path's graphs are
built from it (:mod:`flushwatch.nlp.graph`) in a process that otherwise never needs torch.
Full precision loads the same arrays into torch, so both paths start from one merge.

Parameter names are those of :class:`flushwatch.nlp.encoder.SentimentNet` (``encoder.`` +
Hugging Face's ``BertModel`` names, then ``head.weight`` / ``head.bias``); the delta's format
is described in :mod:`flushwatch.training.delta`, which writes it.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING

from flushwatch.errors import ModelError
from flushwatch.nlp.base import HIDDEN

if TYPE_CHECKING:
    import numpy as np

ADAPTER_FILE = "adapter.safetensors"
_HINT = "restore the file from git or re-run `flushwatch model train`"


def apply(params: MutableMapping[str, np.ndarray], delta: Mapping[str, np.ndarray]) -> list[str]:
    """Add ``delta`` to ``params`` (float32 arrays, changed in place); returns delta keys not used.

    A low-rank factor pair ``W.du`` / ``W.dv`` with their per-direction scales adds
    ``(du * du_scale) @ (dv * dv_scale)`` to ``W``; ``T.delta`` adds to ``T``; any other key
    (the head) replaces the parameter. A key naming no parameter is returned rather than
    ignored, so a file that does not fit its network is refused by the caller; factors of the
    wrong shape raise ValueError, a factor without its scale KeyError.
    """
    import numpy as np

    unknown: list[str] = []
    for key, value in delta.items():
        if key.endswith((".du_scale", ".dv", ".dv_scale")):
            continue
        if key.endswith(".du"):
            name = key[: -len(".du")]
            if name not in params:
                unknown.append(key)
                continue
            du, du_s = delta[key], delta[f"{name}.du_scale"]
            dv, dv_s = delta[f"{name}.dv"], delta[f"{name}.dv_scale"]
            out_f, in_f = params[name].shape
            r = du.shape[1] if du.ndim == 2 else -1
            if (du.shape, dv.shape, du_s.shape, dv_s.shape) != ((out_f, r), (r, in_f), (r,), (r,)):
                raise ValueError(f"{name}: factors {tuple(du.shape)} x {tuple(dv.shape)} do not fit")
            u = du.astype(np.float32) * du_s.astype(np.float32)[None, :]
            v = dv.astype(np.float32) * dv_s.astype(np.float32)[:, None]
            params[name] += u @ v
        elif key.endswith(".delta"):
            name = key[: -len(".delta")]
            if name not in params:
                unknown.append(key)
                continue
            if value.shape != params[name].shape:
                raise ValueError(f"{name}: delta {tuple(value.shape)} does not fit")
            params[name] += value.astype(np.float32)
        elif key in params:
            if value.shape != params[key].shape:
                raise ValueError(f"{key}: {tuple(value.shape)} does not fit")
            params[key] = value.astype(np.float32).copy()
        else:
            unknown.append(key)
    return unknown


def base_weights(model_dir: Path) -> dict[str, np.ndarray]:
    """The published encoder's weights (already verified) under SentimentNet names, float32,
    writable; the head starts at zeros, for the delta to replace."""
    import numpy as np
    from safetensors.numpy import load_file

    state = load_file(str(model_dir / "model.safetensors"))
    out = {
        f"encoder.{k}": np.array(v, dtype=np.float32)
        for k, v in state.items()
        if not k.startswith("pooler.") and k != "embeddings.position_ids"
    }
    out["head.weight"] = np.zeros((3, HIDDEN), np.float32)
    out["head.bias"] = np.zeros(3, np.float32)
    return out


def merged_weights(model_dir: Path, base_dir: Path) -> dict[str, np.ndarray]:
    """Base plus ``model_dir``'s delta; one ModelError naming the file if it is unreadable or
    does not fit the network (missing head, unknown keys, wrong shapes)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = model_dir / ADAPTER_FILE
    params = base_weights(base_dir)
    try:
        delta = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"model weights {path} are corrupt: {exc}", path=path, hint=_HINT) from exc
    missing = [k for k in ("head.weight", "head.bias") if k not in delta]
    try:
        unknown = apply(params, delta)
    except (KeyError, ValueError) as exc:  # a factor without its scale, a wrong shape
        unknown = [str(exc).splitlines()[0]]
    if missing or unknown:
        raise ModelError(
            f"model weights {path} do not fit the network (missing {missing[:2]}, unexpected {unknown[:2]})",
            path=path,
        )
    return params
