"""A minimal LoRA (low-rank adapter) for ``torch.nn.Linear``, written here to avoid a peft dependency.

Why LoRA: a frozen MiniLM plus a linear head cannot reach the sentiment target, and full
fine-tuned weights (90 MB) do not belong in git. Rank-16 adapters on every attention and
feed-forward projection are ~0.7 M parameters (~1.4 MB in fp16) and are merged into the base
weights at load time, so inference costs exactly what the plain encoder costs.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

#: Linear layers of a BERT layer that get adapters (attention q/k/v/out and both FFN linears).
DEFAULT_TARGETS = ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense")


class LoRALinear(nn.Module):
    """``base(x) + (dropout(x) @ A^T @ B^T) * alpha / r``.

    ``B`` starts at zero, so training starts exactly at the base model.
    """

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0) -> None:
        super().__init__()
        self.base = base
        self.r = r
        self.scale = alpha / r
        self.lora_a = nn.Parameter(torch.empty(r, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, r))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (self.drop(x) @ self.lora_a.t() @ self.lora_b.t()) * self.scale

    def merged(self) -> nn.Linear:
        """The base Linear with the adapter folded in (``W + scale * B @ A``)."""
        with torch.no_grad():
            self.base.weight += (self.lora_b @ self.lora_a) * self.scale
        return self.base


def _matches(name: str, targets: tuple[str, ...]) -> bool:
    # 'encoder.layer.0.output.dense' must match 'output.dense' but not 'attention.output.dense'
    # twice: test the most specific target first.
    for t in targets:
        if name.endswith(t):
            if t == "output.dense" and name.endswith("attention.output.dense"):
                return "attention.output.dense" in targets
            return True
    return False


def apply_lora(
    model: nn.Module,
    *,
    r: int,
    alpha: float,
    dropout: float = 0.0,
    targets: tuple[str, ...] = DEFAULT_TARGETS,
) -> list[str]:
    """Replace every matching Linear in ``model`` by a :class:`LoRALinear`; returns their names."""
    replaced = []
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.Linear) and _matches(name, targets):
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, LoRALinear(module, r, alpha, dropout))
            replaced.append(name)
    return replaced


def merge_lora(model: nn.Module) -> int:
    """Fold every adapter into its base Linear in place; returns how many were merged."""
    n = 0
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRALinear):
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, module.merged())
            n += 1
    return n


def trainable_state(model: nn.Module) -> dict[str, Any]:
    """The parameters that training changed (adapters, LayerNorms, head), detached on CPU."""
    return {k: v.detach().cpu().clone() for k, v in model.named_parameters() if v.requires_grad}
