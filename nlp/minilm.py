"""A plain-torch BERT encoder for MiniLM inference, so scoring never imports transformers.

Why: a cold ``flushwatch score`` must finish in seconds, and importing transformers plus its
``from_pretrained`` machinery costs more than the model itself. Module and parameter names
mirror Hugging Face's ``BertModel`` exactly, so the published ``model.safetensors`` loads as
is and the fine-tuning delta trained on the HF model applies unchanged. A test checks the outputs
match HF's ``BertModel`` to 1e-4. Training still uses HF (autograd-tested, dropout in place).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class _Embeddings(nn.Module):
    def __init__(self, c: dict[str, Any]) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(
            c["vocab_size"], c["hidden_size"], padding_idx=c.get("pad_token_id", 0)
        )
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        pos = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = (
            self.word_embeddings(input_ids)
            + self.position_embeddings(pos)[None]
            + self.token_type_embeddings.weight[0]
        )
        return self.LayerNorm(x)


class _SelfAttention(nn.Module):
    def __init__(self, h: int) -> None:
        super().__init__()
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)


class _Output(nn.Module):
    def __init__(self, d_in: int, h: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(d_in, h)
        self.LayerNorm = nn.LayerNorm(h, eps=eps)


class _Attention(nn.Module):
    def __init__(self, h: int, eps: float) -> None:
        super().__init__()
        self.self = _SelfAttention(h)
        self.output = _Output(h, h, eps)


class _Intermediate(nn.Module):
    def __init__(self, h: int, inter: int) -> None:
        super().__init__()
        self.dense = nn.Linear(h, inter)


class _Layer(nn.Module):
    def __init__(self, c: dict[str, Any]) -> None:
        super().__init__()
        h, eps = c["hidden_size"], c["layer_norm_eps"]
        self.heads = c["num_attention_heads"]
        self.attention = _Attention(h, eps)
        self.intermediate = _Intermediate(h, c["intermediate_size"])
        self.output = _Output(c["intermediate_size"], h, eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, h = x.shape
        a = self.attention.self
        q, k, v = (
            lin(x).view(b, n, self.heads, h // self.heads).transpose(1, 2)
            for lin in (a.query, a.key, a.value)
        )
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=1.0 / math.sqrt(h // self.heads))
        ctx = ctx.transpose(1, 2).reshape(b, n, h)
        o = self.attention.output
        x = o.LayerNorm(o.dense(ctx) + x)
        y = self.output.dense(F.gelu(self.intermediate.dense(x)))
        return self.output.LayerNorm(y + x)


class _Encoder(nn.Module):
    def __init__(self, c: dict[str, Any]) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(c) for _ in range(c["num_hidden_layers"]))


class _Out:
    """Mimics HF's output object: only ``last_hidden_state`` is used."""

    def __init__(self, last_hidden_state: torch.Tensor) -> None:
        self.last_hidden_state = last_hidden_state


class MiniLM(nn.Module):
    """BERT encoder (no pooler), names as in HF ``BertModel``; inference only."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.embeddings = _Embeddings(config)
        self.encoder = _Encoder(config)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> _Out:
        x = self.embeddings(input_ids)
        mask = attention_mask.bool()[:, None, None, :]  # True = attend; broadcast over heads, queries
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return _Out(x)


def mean_pool(x: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Attention-masked mean over tokens, as all-MiniLM-L6-v2 was trained."""
    mask = attention_mask.unsqueeze(-1).to(x.dtype)
    return (x * mask).sum(1) / mask.sum(1).clamp(min=1.0)
