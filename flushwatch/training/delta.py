"""Low-rank deltas: how a fully fine-tuned encoder is committed in under 5 MB.

Why: fine-tuning every encoder weight beats LoRA adapters on sent_train (measured on its dev
split, see docs/experiments.md), but a tuned MiniLM is 90 MB and does not belong in git. What
fine-tuning changed, ``tuned - base``, is small and of low effective rank. For every weight
matrix we keep the truncated SVD of its delta, with the ranks chosen *across all matrices at
once*: singular directions are taken greedily by squared singular value per stored number
until a byte budget is spent, which keeps the most of the delta's energy (Frobenius norm) a
budget can buy. The factors are stored as int8 with one fp16 scale per singular direction
(the directions differ in size by orders of magnitude, so per-direction scales lose almost
nothing); everything small (biases, LayerNorms, position and token-type embeddings) is stored
whole as an fp16 delta, and the head as is. Word embeddings are frozen in training, so they
need nothing.

Loading is ``base + delta`` (:func:`flushwatch.nlp.merge.apply`, in numpy): the result is an
ordinary fp32 network, so both inference paths (the int8 fast path and fp32) cost what the
plain encoder costs.

Names in the file: for a matrix ``W``: ``W.du`` (out x r, int8), ``W.du_scale`` (r, fp16),
``W.dv`` (r x in, int8), ``W.dv_scale`` (r, fp16); for a small tensor ``T``: ``T.delta``
(fp16); head parameters under their own names (fp32).
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass

import torch

#: Bytes of one stored value: int8 factors, fp16 small deltas and scales.
_FACTOR_BYTES, _SMALL_BYTES, _SCALE_BYTES = 1, 2, 2


@dataclass(frozen=True)
class DeltaStats:
    """What compression kept: bytes, the share of the delta's squared norm, ranks per matrix."""

    bytes: int
    energy_kept: float
    ranks: dict[str, int]


def is_matrix(name: str, tensor: torch.Tensor) -> bool:
    """Encoder weight matrices get low-rank deltas; the embedding tables never do."""
    return tensor.dim() == 2 and name.endswith(".weight") and "embeddings" not in name


def _quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per row; returns (int8 values, fp16 scales)."""
    scale = (x.abs().amax(dim=1) / 127.0).clamp(min=1e-12).to(torch.float16)
    q = (x / scale.float()[:, None]).round().clamp(-127, 127).to(torch.int8)
    return q, scale


@torch.no_grad()
def compress(
    base: Mapping[str, torch.Tensor],
    tuned: Mapping[str, torch.Tensor],
    budget_bytes: int,
    *,
    frozen: tuple[str, ...] = ("word_embeddings",),
) -> tuple[dict[str, torch.Tensor], DeltaStats]:
    """The delta of ``tuned`` over ``base`` within ``budget_bytes``; pure, deterministic.

    ``tuned`` holds every parameter of the network (the head under ``head.``, stored as is);
    ``base`` the encoder's parameters under the same names. Tensors whose name contains a
    ``frozen`` part must be unchanged and are skipped.
    """
    out: dict[str, torch.Tensor] = {}
    used = 0
    svds: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
    for name in sorted(tuned):
        value = tuned[name].detach().float()
        if name.startswith("head."):
            out[name] = value.contiguous()
            used += value.numel() * 4
            continue
        if any(part in name for part in frozen):
            continue
        delta = value - base[name].float()
        if is_matrix(name, value):
            svds[name] = torch.linalg.svd(delta, full_matrices=False)
        else:
            out[f"{name}.delta"] = delta.to(torch.float16).contiguous()
            used += delta.numel() * _SMALL_BYTES
    # Greedy allocation: a heap of each matrix's next singular direction by s^2 per byte.
    cost = {
        n: (u.shape[0] + vh.shape[1]) * _FACTOR_BYTES + 2 * _SCALE_BYTES for n, (u, _, vh) in svds.items()
    }
    ranks = dict.fromkeys(svds, 0)
    heap = [(-(float(s[0]) ** 2) / cost[n], n) for n, (_, s, _) in svds.items() if len(s)]
    heapq.heapify(heap)
    while heap:
        _, n = heapq.heappop(heap)
        if used + cost[n] > budget_bytes:
            continue  # a cheaper matrix's direction may still fit
        used += cost[n]
        ranks[n] += 1
        s = svds[n][1]
        if ranks[n] < len(s):
            heapq.heappush(heap, (-(float(s[ranks[n]]) ** 2) / cost[n], n))
    total = kept = 0.0
    for n, (u, s, vh) in svds.items():
        r = ranks[n]
        total += float((s**2).sum())
        kept += float((s[:r] ** 2).sum())
        if r == 0:
            continue
        du, du_scale = _quantize_rows((u[:, :r] * s[:r]).t().contiguous())
        dv, dv_scale = _quantize_rows(vh[:r].contiguous())
        out[f"{n}.du"], out[f"{n}.du_scale"] = du.t().contiguous(), du_scale
        out[f"{n}.dv"], out[f"{n}.dv_scale"] = dv, dv_scale
    return out, DeltaStats(used, kept / total if total else 1.0, ranks)
