"""Dynamic int8 quantisation of every ``nn.Linear``, per output channel, without torch.ao's tracer.

Why not ``torch.ao.quantization.quantize_dynamic``: it is deprecated in favour of torchao (not
a dependency) and costs over a second at load. This does the same thing directly: weights
quantised symmetrically per output channel (more accurate than per tensor), activations
quantised per batch at run time by the fbgemm int8 kernels (AVX-512 VNNI on this CPU).
"""

from __future__ import annotations

import warnings

import torch
from torch import nn


def _quantized(lin: nn.Linear) -> nn.Module:
    import torch.ao.nn.quantized.dynamic as qd

    w = lin.weight.detach().float()
    scales = (w.abs().amax(dim=1) / 127.0).clamp(min=1e-8).double()
    zeros = torch.zeros(w.shape[0], dtype=torch.long)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the quantised-tensor API's torchao deprecation notice
        qw = torch.quantize_per_channel(w, scales, zeros, axis=0, dtype=torch.qint8)
        q = qd.Linear(lin.in_features, lin.out_features, dtype=torch.qint8)
        q.set_weight_bias(qw, None if lin.bias is None else lin.bias.detach().float())
    return q


def quantize_linears(model: nn.Module) -> None:
    """Replace every ``nn.Linear`` in ``model`` in place."""
    for name, module in list(model.named_modules()):
        if type(module) is nn.Linear:
            parent_name, _, child = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, child, _quantized(module))
