"""Would task-adaptive pretraining (TAPT) of the encoder buy sentiment quality? Measured on dev.

TAPT (masked-language-model training on the task's own unlabelled texts before fine-tuning)
is the usual lever for a small labelled set. all-MiniLM-L6-v2 ships without its MLM head, so
a fresh one (dense + GELU + LayerNorm, decoder tied to the frozen word embeddings) is trained
with the encoder on the training rows' texts of sent_train (15% of word pieces masked, 80 / 10
/ 10 mask / random / kept), then one fine-tuning member runs exactly as ``model train`` runs
it (``nlp.train._Trainer``), and the lexical head is blended at each weight. Compare with the
plain member of the same seed (model card: seed 13, 0.8585 / 0.8095; with the lexical head at
0.5, 0.8648 / 0.8178). Only sent_train is read: the training rows' texts and labels, the dev
rows' labels for the figures; sent_valid is not read.
Usage: ``python bench/eval_tapt.py [--seed 13] [--mlm-epochs 6] [--mlm-lr 1e-4]`` (about 9
minutes on 2 cores; needs ../shared/data).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any


def mlm_pretrain(
    encoder: Any, rows: list[list[int]], tokenizer: Any, epochs: int, lr: float, seed: int
) -> None:
    """Train ``encoder`` in place as a masked language model on token-id ``rows``."""
    import torch
    from torch import nn

    from flushwatch.nlp.base import HIDDEN
    from flushwatch.nlp.train import FROZEN, bucket_batches, linear_schedule, optimiser_step, pad_batch

    class MLMHead(nn.Module):
        def __init__(self, emb: nn.Embedding) -> None:
            super().__init__()
            self.dense = nn.Linear(HIDDEN, HIDDEN)
            self.ln = nn.LayerNorm(HIDDEN, eps=1e-12)
            self.emb = emb
            self.bias = nn.Parameter(torch.zeros(emb.num_embeddings))

        def forward(self, h: torch.Tensor) -> torch.Tensor:
            h = self.ln(nn.functional.gelu(self.dense(h)))
            return h @ self.emb.weight.t() + self.bias

    torch.manual_seed(1000 + seed)
    rng = random.Random(1000)
    word = encoder.embeddings.word_embeddings
    head = MLMHead(word)
    groups: list[dict[str, Any]] = []
    for name, p in encoder.named_parameters():
        if any(part in name for part in FROZEN):
            p.requires_grad = False
            continue
        decay = 0.0 if name.endswith(".bias") or "LayerNorm" in name else 0.01
        groups.append({"params": [p], "lr": lr, "weight_decay": decay})
    head_params = [head.dense.weight, head.dense.bias, head.ln.weight, head.ln.bias, head.bias]
    groups.append({"params": head_params, "lr": 1e-3, "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups)
    bs = 32
    sched = linear_schedule(opt, (len(rows) + bs - 1) // bs * epochs, 0.06)
    special = torch.tensor(sorted({tokenizer.cls_token_id, tokenizer.sep_token_id, tokenizer.pad_token_id}))
    vocab = word.num_embeddings
    order = list(range(len(rows)))
    t0 = time.monotonic()
    for epoch in range(epochs):
        encoder.train()
        head.train()
        rng.shuffle(order)
        batches = bucket_batches(order, rows, bs)  # length bucketing, as fine-tuning does
        rng.shuffle(batches)
        total, n = 0.0, 0
        for b in batches:
            x, m = pad_batch(rows, b)
            candidates = m.bool() & ~torch.isin(x, special)
            masked = (torch.rand(x.shape) < 0.15) & candidates
            for r in range(len(b)):  # at least one masked word piece per row
                if not masked[r].any() and candidates[r].any():
                    js = candidates[r].nonzero().flatten()
                    masked[r, js[torch.randint(len(js), (1,))]] = True
            target = x[masked]
            inputs = x.clone()
            u = torch.rand(x.shape)
            inputs[masked & (u < 0.8)] = tokenizer.mask_token_id
            swap = masked & (u >= 0.8) & (u < 0.9)
            inputs[swap] = torch.randint(1000, vocab, (int(swap.sum()),))
            with torch.autocast("cpu", dtype=torch.bfloat16):
                hidden = encoder(input_ids=inputs, attention_mask=m).last_hidden_state
                logits = head(hidden[masked])
            loss = nn.functional.cross_entropy(logits.float(), target)
            optimiser_step(opt, sched, loss)
            total += float(loss.detach()) * len(target)
            n += len(target)
        print(f"mlm epoch {epoch + 1}: loss {total / n:.4f} ({time.monotonic() - t0:.0f} s)", flush=True)
    for p in encoder.parameters():
        p.requires_grad = True


def main() -> None:
    import torch

    from flushwatch.nlp.encoder import SentimentNet, load_base
    from flushwatch.nlp.train import TrainConfig, _Trainer, fit_lexical, read_labelled, stratified_split
    from flushwatch.nlp.workflows import default_train_data

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=13, help="the fine-tuning member's seed")
    ap.add_argument("--mlm-epochs", type=int, default=6, help="0: no TAPT (the plain member)")
    ap.add_argument("--mlm-lr", type=float, default=1e-4)
    args = ap.parse_args()

    cfg = TrainConfig(threads=2)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(cfg.threads)
    texts, labels = read_labelled(default_train_data())
    tr, dev = stratified_split(labels, cfg.dev_frac, cfg.seed)
    tokenizer, encoder = load_base()
    ids: list[list[int]] = tokenizer(texts, truncation=True, max_length=cfg.max_length)["input_ids"]
    t0 = time.monotonic()
    if args.mlm_epochs:
        mlm_pretrain(encoder, [ids[i] for i in tr], tokenizer, args.mlm_epochs, args.mlm_lr, args.seed)
    trainer = _Trainer(cfg, ids, labels)
    net = SentimentNet(encoder)
    for row in trainer.fit([net], [args.seed], tr, dev, f"member seed {args.seed}"):
        print(row, flush=True)
    _, by_weight = fit_lexical(texts, labels, tr, dev, trainer.log_probs(net, dev), cfg)
    print("dev with the lexical head, by weight:", json.dumps(by_weight))
    print(f"total {time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main()
