"""Compressed fine-tuning deltas (flushwatch/training/delta.py, merged by nlp/merge.py): budget, allocation,
round trip. Pure tensors."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from flushwatch.nlp.merge import apply as merge_apply
from flushwatch.training.delta import compress


def apply(params: dict[str, torch.Tensor], delta: Mapping[str, torch.Tensor]) -> list[str]:
    """``merge.apply`` (numpy) on ``params``, written back into them; returns the unknown keys."""
    arrays = {k: v.numpy().copy() for k, v in params.items()}
    unknown = merge_apply(arrays, {k: v.numpy() for k, v in delta.items()})
    params.update({k: torch.from_numpy(np.asarray(v)) for k, v in arrays.items()})
    return unknown


def _pair(seed: int = 0) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """A base and a 'tuned' copy whose matrix deltas have a known low rank."""
    g = torch.Generator().manual_seed(seed)
    base = {
        "enc.layer.0.query.weight": torch.randn(48, 32, generator=g),
        "enc.layer.0.ffn.weight": torch.randn(96, 32, generator=g),
        "enc.layer.0.query.bias": torch.randn(48, generator=g),
        "enc.embeddings.word_embeddings.weight": torch.randn(100, 32, generator=g),
        "enc.embeddings.position_embeddings.weight": torch.randn(16, 32, generator=g),
    }
    tuned = {k: v.clone() for k, v in base.items()}
    # rank 3 and rank 1 deltas of different sizes
    tuned["enc.layer.0.query.weight"] += torch.randn(48, 3, generator=g) @ torch.randn(3, 32, generator=g)
    tuned["enc.layer.0.ffn.weight"] += 0.1 * torch.randn(96, 1, generator=g) @ torch.randn(1, 32, generator=g)
    tuned["enc.layer.0.query.bias"] += 0.01
    tuned["enc.embeddings.position_embeddings.weight"] += 0.02
    tuned["head.weight"] = torch.randn(3, 32, generator=g)
    tuned["head.bias"] = torch.zeros(3)
    return base, tuned


def test_a_generous_budget_reconstructs_the_tuned_weights() -> None:
    base, tuned = _pair()
    delta, stats = compress(base, tuned, budget_bytes=1_000_000)
    assert stats.energy_kept > 0.999999
    assert stats.ranks["enc.layer.0.query.weight"] == 32  # every direction fits
    params = {k: v.clone() for k, v in base.items()}
    params["head.weight"], params["head.bias"] = torch.zeros(3, 32), torch.ones(3)
    assert apply(params, delta) == []
    for k in tuned:
        if "word_embeddings" in k:
            assert torch.equal(params[k], base[k])  # frozen: never stored, never changed
            continue
        err = (params[k] - tuned[k]).abs().max().item()
        scale = tuned[k].abs().max().item()
        assert err <= 0.02 * scale, (k, err)  # int8 factors, fp16 small deltas


def test_the_budget_is_respected_and_spent_on_the_largest_directions() -> None:
    base, tuned = _pair()
    small, _ = compress(base, tuned, budget_bytes=0)
    fixed = sum(v.numel() * v.element_size() for v in small.values())  # head + small deltas only
    budget = fixed + 3 * (48 + 32 + 4)  # room for exactly three query directions
    delta, stats = compress(base, tuned, budget_bytes=budget)
    assert stats.bytes <= budget
    assert sum(v.numel() * v.element_size() for v in delta.values()) == stats.bytes
    # The rank-3 query delta is far larger than the 0.1-scaled rank-1 FFN delta: it wins.
    assert stats.ranks == {"enc.layer.0.query.weight": 3, "enc.layer.0.ffn.weight": 0}
    assert stats.energy_kept > 0.95


def test_compression_is_deterministic() -> None:
    base, tuned = _pair()
    a, _ = compress(base, tuned, budget_bytes=20_000)
    b, _ = compress(base, tuned, budget_bytes=20_000)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_delta_for_another_network_is_reported() -> None:
    base, tuned = _pair()
    delta, _ = compress(base, tuned, budget_bytes=50_000)
    params = {k: v.clone() for k, v in base.items() if "query" not in k}
    params["head.weight"], params["head.bias"] = torch.zeros(3, 32), torch.zeros(3)
    unknown = apply(params, delta)
    assert "enc.layer.0.query.weight.du" in unknown and "enc.layer.0.query.bias.delta" in unknown


def test_factors_of_the_wrong_shape_are_an_error_not_a_broadcast() -> None:
    import pytest

    base, tuned = _pair()
    delta, _ = compress(base, tuned, budget_bytes=50_000)
    key = "enc.layer.0.query.weight.du"
    delta[key] = delta[key][:, :1].contiguous()  # rank 1 against r scales would broadcast silently
    params = {k: v.clone() for k, v in base.items()}
    params["head.weight"], params["head.bias"] = torch.zeros(3, 32), torch.zeros(3)
    with pytest.raises(ValueError, match="do not fit"):
        apply(params, delta)
