"""``flushwatch model train``: LoRA fine-tuning of MiniLM on sent_train, seeded and reproducible.

Data: ``labels_twitter_financial_news_sentiment/sent_train.csv.gz`` from the shared data folder
(0 = bearish, 1 = bullish, 2 = neutral). A stratified 10% dev split is carved out of sent_train
(fixed seed) and used for choosing the best epoch; ``sent_valid`` is never read here.

Output under ``out_dir``: ``adapter.safetensors`` (LoRA matrices, LayerNorms and head, fp16) and
``config.json`` (hyperparameters, label order, base sha256, library versions, dev metrics).
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import os
import random
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flushwatch.errors import InputError

log = logging.getLogger(__name__)

#: Dataset label -> our label index (LABELS = bearish, neutral, bullish).
DATASET_TO_OURS = {0: 0, 1: 2, 2: 1}
_URL_RE = re.compile(r"https?://\S+")


def clean_text(text: str) -> str:
    """Drop URLs (t.co links carry no sentiment and waste tokens) and squeeze whitespace."""
    return " ".join(_URL_RE.sub(" ", text).split())


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 13
    epochs: int = 3  # the committed revision was trained with 3; dev F1 flattens after 2
    batch_size: int = 32
    lr: float = 8e-4
    head_lr: float = 2e-3
    weight_decay: float = 0.01
    warmup_frac: float = 0.06
    lora_r: int = 16
    lora_alpha: float = 32.0
    lora_dropout: float = 0.05
    max_length: int = 64
    dev_frac: float = 0.1
    label_smoothing: float = 0.0
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    dev_accuracy: float
    dev_macro_f1: float
    best_epoch: int
    seconds: float
    history: list[dict[str, float]]


def read_labelled(path: Path) -> tuple[list[str], list[int]]:
    """Texts and our label indices from a ``text,label`` CSV (gzip ok)."""
    opener = gzip.open if path.suffix == ".gz" else open
    texts: list[str] = []
    labels: list[int] = []
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as fh:
            for i, row in enumerate(csv.DictReader(fh), start=2):
                try:
                    labels.append(DATASET_TO_OURS[int(row["label"])])
                except (KeyError, ValueError) as exc:
                    raise InputError(f"bad label {row.get('label')!r}", path=path, line=i) from exc
                texts.append(clean_text(row["text"] or ""))
    except OSError as exc:
        raise InputError(f"cannot read: {exc}", path=path) from exc
    return texts, labels


def stratified_split(labels: list[int], frac: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices (train, dev), each class split in the same proportion, deterministic for a seed."""
    rng = random.Random(seed)
    train, dev = [], []
    for c in sorted(set(labels)):
        idx = [i for i, y in enumerate(labels) if y == c]
        rng.shuffle(idx)
        k = round(len(idx) * frac)
        dev += idx[:k]
        train += idx[k:]
    return sorted(train), sorted(dev)


def macro_f1(y_true: list[int], y_pred: list[int], n: int = 3) -> float:
    f1s = []
    for c in range(n):
        tp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == c and p == c)
        fp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t != c and p == c)
        fn = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == c and p != c)
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / n


def accuracy(y_true: list[int], y_pred: list[int]) -> float:
    return sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == p) / max(1, len(y_true))


def train(data_path: Path, out_dir: Path, config: TrainConfig = TrainConfig()) -> TrainResult:
    """Train adapters + head, keep the best dev epoch, write the artefacts; deterministic per seed."""
    import numpy as np
    import torch
    from safetensors.torch import save_file

    from flushwatch.nlp.base import BASE_NAME, BASE_SHA256, LABELS
    from flushwatch.nlp.encoder import SentimentNet, load_base
    from flushwatch.nlp.lora import apply_lora, trainable_state

    t0 = time.monotonic()
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(config.threads)

    texts, labels = read_labelled(data_path)
    tr_idx, dev_idx = stratified_split(labels, config.dev_frac, config.seed)
    tokenizer, encoder = load_base()
    enc = tokenizer(texts, truncation=True, max_length=config.max_length)
    ids: list[list[int]] = enc["input_ids"]

    for p in encoder.parameters():
        p.requires_grad = False
    apply_lora(encoder, r=config.lora_r, alpha=config.lora_alpha, dropout=config.lora_dropout)
    for name, p in encoder.named_parameters():
        if "LayerNorm" in name:
            p.requires_grad = True
    net = SentimentNet(encoder)
    head_params = list(net.head.parameters())
    other = [p for n, p in net.named_parameters() if p.requires_grad and not n.startswith("head.")]
    opt = torch.optim.AdamW(
        [{"params": other, "lr": config.lr}, {"params": head_params, "lr": config.head_lr}],
        weight_decay=config.weight_decay,
    )
    steps_per_epoch = (len(tr_idx) + config.batch_size - 1) // config.batch_size
    total = steps_per_epoch * config.epochs
    warm = max(1, int(total * config.warmup_frac))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    rng = random.Random(config.seed)

    def batch(idx: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(ids[i]) for i in idx)
        x = torch.zeros((len(idx), width), dtype=torch.long)
        m = torch.zeros((len(idx), width), dtype=torch.long)
        for r, i in enumerate(idx):
            x[r, : len(ids[i])] = torch.tensor(ids[i])
            m[r, : len(ids[i])] = 1
        return x, m

    def predict(idx: list[int]) -> list[int]:
        net.eval()
        order = sorted(idx, key=lambda i: len(ids[i]))
        preds: dict[int, int] = {}
        with torch.inference_mode():
            for s in range(0, len(order), 128):
                chunk = order[s : s + 128]
                x, m = batch(chunk)
                for i, p in zip(chunk, net(x, m).argmax(-1).tolist(), strict=True):
                    preds[i] = p
        return [preds[i] for i in idx]

    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    history: list[dict[str, float]] = []
    dev_true = [labels[i] for i in dev_idx]
    for epoch in range(1, config.epochs + 1):
        net.train()
        order = tr_idx[:]
        rng.shuffle(order)
        # Length bucketing: sort chunks of 50 batches by length, then shuffle the batches.
        chunk = config.batch_size * 50
        batches: list[list[int]] = []
        for s in range(0, len(order), chunk):
            part = sorted(order[s : s + chunk], key=lambda i: len(ids[i]))
            batches += [part[k : k + config.batch_size] for k in range(0, len(part), config.batch_size)]
        rng.shuffle(batches)
        total_loss = 0.0
        for b in batches:
            x, m = batch(b)
            y = torch.tensor([labels[i] for i in b])
            loss = loss_fn(net(x, m), y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], 1.0)
            opt.step()
            sched.step()
            total_loss += float(loss.detach()) * len(b)
        pred = predict(dev_idx)
        acc, f1 = accuracy(dev_true, pred), macro_f1(dev_true, pred)
        history.append(
            {
                "epoch": epoch,
                "train_loss": total_loss / len(tr_idx),
                "dev_accuracy": acc,
                "dev_macro_f1": f1,
                "elapsed_s": round(time.monotonic() - t0, 1),
            }
        )
        log.info(
            "epoch %d: loss %.4f dev acc %.4f macro-F1 %.4f (%.0f s)",
            epoch,
            total_loss / len(tr_idx),
            acc,
            f1,
            time.monotonic() - t0,
        )
        if best is None or f1 > best[0]:
            best = (f1, epoch, trainable_state(net))
    assert best is not None
    f1, best_epoch, state = best
    best_hist = history[best_epoch - 1]

    import tokenizers
    import transformers

    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.to(torch.float16).contiguous() for k, v in state.items()}, str(out_dir / "adapter.safetensors")
    )
    meta = {
        "format": 1,
        "base_model": BASE_NAME,
        "base_sha256": BASE_SHA256,
        "labels": list(LABELS),
        "train": {**asdict(config), "data": data_path.name, "n_train": len(tr_idx), "n_dev": len(dev_idx)},
        "dev": {
            "accuracy": best_hist["dev_accuracy"],
            "macro_f1": best_hist["dev_macro_f1"],
            "best_epoch": best_epoch,
        },
        "history": history,
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
        },
    }
    (out_dir / "config.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return TrainResult(
        out_dir,
        best_hist["dev_accuracy"],
        best_hist["dev_macro_f1"],
        best_epoch,
        time.monotonic() - t0,
        history,
    )
