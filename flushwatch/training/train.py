"""``flushwatch model train``: fine-tune MiniLM on sent_train, compress the change, seeded and reproducible.

Data: ``labels_twitter_financial_news_sentiment/sent_train.csv.gz`` from the shared data folder
(:mod:`.data`). A stratified 10% dev split is carved out of sent_train (fixed seed) for the
figures the command reports; ``sent_valid`` is never read here.

The recipe (each choice measured on that dev split: docs/experiments.md):

* every encoder weight except the word embeddings is fine-tuned, with a linear head over
  mean-pooled tokens, under bf16 autocast (the CPU has native bf16 dot products: 1.7x faster
  than fp32 per step);
* ``members`` runs that differ only in seed (head initialisation, dropout, batch order) are
  averaged weight by weight, a "model soup": one network, so inference costs nothing more;
* the tuned encoder is 90 MB, so what is written is the soup's *delta* over the published
  base, compressed to a byte budget by :mod:`.delta` (low rank, int8), and the dev figures
  are those of the compressed network, the one that ships;
* a lexical head (:mod:`flushwatch.nlp.lexical`: TF-IDF words, logistic regression) is fitted
  on the same training rows, and its scores are added to the network's log-probabilities at
  the weight that gives the best dev macro-F1 (the dev figures reported are of that blend);
* the fast path's int8 smoothing ranges (:mod:`.smoothing_fit`) and early-exit head
  (:mod:`.exit_fit`) are fitted on the network read back from what was written.

Output under ``out_dir``: ``adapter.safetensors`` (the compressed delta and the head),
``lexical.safetensors`` (the lexical head and its weight), ``smooth.safetensors`` (activation
ranges for the int8 graphs' smoothing), ``exit.safetensors`` (the early-exit head, its layer
and threshold) and ``config.json`` (hyperparameters, label order, base sha256, library
versions, dev metrics).
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from flushwatch.errors import InputError
from flushwatch.training.data import ExtraRows, read_labelled, stratified_split
from flushwatch.training.metrics import accuracy, macro_f1

log = logging.getLogger(__name__)

#: Never trained: the word embeddings (11.7 M parameters, too big to ship a delta for) and HF's
#: pooler (unused: the head reads mean-pooled tokens; the scoring encoder has none).
FROZEN = ("word_embeddings", "pooler.")


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 13  # fixes the dev split; member i trains with seed + i
    members: int = 2  # runs averaged into the model soup
    epochs: int = 5
    batch_size: int = 32
    lr: float = 1e-4  # encoder
    head_lr: float = 1e-3
    weight_decay: float = 0.01  # not on biases and LayerNorms
    warmup_frac: float = 0.06
    max_length: int = 64
    dev_frac: float = 0.1
    #: Tensor bytes of adapter.safetensors: the compressed delta plus the head, so that a model
    #: directory stays under 5 MB (the file header, config.json and importance.json add
    #: ~35 kB, lexical.safetensors ~0.2 MB).
    delta_budget_bytes: int = 4_500_000
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    lexical_c: float = 4.0  # inverse regularisation of the lexical head's logistic regression
    #: Weights of the lexical head tried on dev; the best macro-F1 wins (ties: the smaller).
    lexical_weights: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    #: How much agreement with the full-precision model (share of the selection titles: dev
    #: rows + unlabelled crypto titles) the early exit may cost the fast path: a quarter point,
    #: half of the half point of agreement the fast path as a whole may lose.
    exit_max_loss: float = 0.0025
    exit_c: float = 1.0  # inverse regularisation of the exit head's logistic regression
    exit_selection_titles: int = 3000  # unlabelled crypto titles from the shared data (0: dev only)
    #: Unlabelled crypto titles from the shared data the story map is fitted on, at most
    #: (``flushwatch.training.story_fit``; 0: no story map, so scoring writes no story vectors).
    story_titles: int = 20_000
    #: SmoothQuant strength for the int8 graphs' FFN output projections, and how many training
    #: rows measure the activations it needs.
    smooth_alpha: float = 0.7
    smooth_rows: int = 2000
    #: Final fit: the networks and the lexical head train on every row, the dev split included,
    #: with the recipe above and the lexical weight ``refit_lexical_weight`` (what the dev split
    #: chose for the shipped recipe) instead of choosing one. No dev figures exist then; the
    #: dev rows stay in the early exit's selection titles, where only agreement is read.
    refit: bool = False
    refit_lexical_weight: float = 0.5


def pad_batch(ids: list[list[int]], idx: list[int]) -> tuple[Any, Any]:
    """(input ids, attention mask) tensors of rows ``idx``, zero-padded to the longest."""
    import torch

    width = max(len(ids[i]) for i in idx)
    x = torch.zeros((len(idx), width), dtype=torch.long)
    m = torch.zeros((len(idx), width), dtype=torch.long)
    for r, i in enumerate(idx):
        x[r, : len(ids[i])] = torch.tensor(ids[i])
        m[r, : len(ids[i])] = 1
    return x, m


def bucket_batches(order: list[int], ids: list[list[int]], batch_size: int) -> list[list[int]]:
    """Length bucketing: chunks of 50 batches of ``order`` sorted by length, cut into batches.

    The caller shuffles ``order`` before and the batches after, so each epoch mixes lengths
    across batches while each batch pads little.
    """
    chunk = batch_size * 50
    batches: list[list[int]] = []
    for s in range(0, len(order), chunk):
        part = sorted(order[s : s + chunk], key=lambda i: len(ids[i]))
        batches += [part[k : k + batch_size] for k in range(0, len(part), batch_size)]
    return batches


def linear_schedule(opt: Any, steps: int, warmup_frac: float) -> Any:
    """Linear warm-up over ``warmup_frac`` of ``steps``, then linear decay to 0."""
    import torch

    warm = max(1, int(steps * warmup_frac))
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm)))
    )


def optimiser_step(opt: Any, sched: Any, loss: Any) -> None:
    """Backward, clip the gradient norm at 1.0, step the optimiser and the schedule."""
    import torch

    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], 1.0)
    opt.step()
    sched.step()


class _Trainer:
    """Fine-tuning one network at a time over fixed tokenised data."""

    def __init__(self, config: TrainConfig, ids: list[list[int]], labels: list[int]) -> None:
        self.config, self.ids, self.labels = config, ids, labels

    def log_probs(self, model: Any, idx: list[int]) -> Any:
        """(len(idx) x 3) numpy log-probabilities of ``model`` on rows ``idx``, in that order."""
        import numpy as np
        import torch

        model.eval()
        order = sorted(idx, key=lambda i: len(self.ids[i]))
        out: dict[int, list[float]] = {}
        with torch.inference_mode():
            for s in range(0, len(order), 128):
                chunk = order[s : s + 128]
                x, m = pad_batch(self.ids, chunk)
                z = model(x, m).float().log_softmax(-1).tolist()
                for i, row in zip(chunk, z, strict=True):
                    out[i] = row
        return np.array([out[i] for i in idx], dtype=np.float64)

    def optimiser(self, net: Any, steps: int) -> tuple[Any, Any]:
        """AdamW over ``net``'s trainable parameters (frozen ones switched off) and its schedule."""
        import torch

        c = self.config
        groups: list[dict[str, Any]] = []
        for name, p in net.named_parameters():
            if any(part in name for part in FROZEN):
                p.requires_grad = False
                continue
            lr = c.head_lr if name.startswith("head.") else c.lr
            decay = 0.0 if name.endswith(".bias") or "LayerNorm" in name else c.weight_decay
            groups.append({"params": [p], "lr": lr, "weight_decay": decay})
        opt = torch.optim.AdamW(groups)
        return opt, linear_schedule(opt, steps, c.warmup_frac)

    def fit(
        self, net: Any, seed: int, tr_idx: list[int], dev_idx: list[int], log_prefix: str
    ) -> list[dict[str, float]]:
        """Train ``net`` in place for the configured epochs; per-epoch dev figures.

        ``seed`` fixes the head's initialisation, dropout and batch order.
        """
        import numpy as np
        import torch

        c = self.config
        steps = (len(tr_idx) + c.batch_size - 1) // c.batch_size * c.epochs
        torch.manual_seed(seed)
        np.random.seed(seed)
        net.head.reset_parameters()  # the head's initialisation is part of the member's seed
        opt, sched = self.optimiser(net, steps)
        loss_fn = torch.nn.CrossEntropyLoss()
        rng = random.Random(seed)
        history: list[dict[str, float]] = []
        t0 = time.monotonic()
        for epoch in range(1, c.epochs + 1):
            net.train()
            order = tr_idx[:]
            rng.shuffle(order)
            batches = bucket_batches(order, self.ids, c.batch_size)
            rng.shuffle(batches)
            total = 0.0
            for b in batches:
                x, m = pad_batch(self.ids, b)
                y = torch.tensor([self.labels[i] for i in b])
                with torch.autocast("cpu", dtype=torch.bfloat16):  # weights, optimiser stay fp32
                    logits = net(x, m).float()
                loss = loss_fn(logits, y)
                optimiser_step(opt, sched, loss)
                total += float(loss.detach()) * len(b)
            history.append(self._epoch_row(net, seed, epoch, total / len(tr_idx), dev_idx, t0, log_prefix))
        return history

    def _epoch_row(
        self, net: Any, seed: int, epoch: int, loss: float, dev_idx: list[int], t0: float, prefix: str
    ) -> dict[str, float]:
        """One epoch's history row (dev figures unless a final fit), logged."""
        row = {"seed": seed, "epoch": epoch, "train_loss": round(loss, 4)}
        dev = ""
        if dev_idx:  # a final fit (``refit``) has no dev rows to report
            dev_true = [self.labels[i] for i in dev_idx]
            pred = [int(p) for p in self.log_probs(net, dev_idx).argmax(-1)]
            row["dev_accuracy"] = round(accuracy(dev_true, pred), 4)
            row["dev_macro_f1"] = round(macro_f1(dev_true, pred), 4)
            dev = f", dev acc {row['dev_accuracy']:.4f} macro-F1 {row['dev_macro_f1']:.4f}"
        row["elapsed_s"] = round(time.monotonic() - t0, 1)
        log.info("%s epoch %d: loss %.4f%s (%.0f s)", prefix, epoch, row["train_loss"], dev, row["elapsed_s"])
        return row


def train(
    data_path: Path,
    out_dir: Path,
    config: TrainConfig = TrainConfig(),
    extra: Sequence[ExtraRows] = (),
) -> dict[str, Any]:
    """Fine-tune ``members`` runs, average them, compress the delta, write it; deterministic per seed.

    Returns what ``out_dir/config.json`` records.
    """
    import torch
    from safetensors.torch import save_file

    from flushwatch.nlp import early_exit, lexical, merge, smoothing
    from flushwatch.nlp.base import BASE_NAME, BASE_SHA256, LABELS, MODEL_FORMAT
    from flushwatch.nlp.encoder import SentimentNet, load_base
    from flushwatch.training import delta as deltas
    from flushwatch.training import exit_fit, smoothing_fit, story_fit
    from flushwatch.training.lexical_fit import fit_sentiment_head

    t0 = time.monotonic()
    random.seed(config.seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(config.threads)

    texts, labels = read_labelled(data_path)
    tr_idx, dev_idx = stratified_split(labels, config.dev_frac, config.seed)
    if not tr_idx or not dev_idx:
        raise InputError(f"too few labelled rows to train ({len(labels)})", path=data_path)
    # The rows the networks and heads learn from, and the rows they are judged on (none: refit).
    fit_idx, judge_idx = (sorted(tr_idx + dev_idx), []) if config.refit else (tr_idx, dev_idx)
    for rows in extra:  # after the split, so the dev split is the same with or without them
        fit_idx = fit_idx + list(range(len(texts), len(texts) + len(rows.texts)))
        texts += rows.texts
        labels += list(rows.labels)
    tokenizer, encoder = load_base()
    ids: list[list[int]] = tokenizer(texts, truncation=True, max_length=config.max_length)["input_ids"]
    trainer = _Trainer(config, ids, labels)

    net = SentimentNet(encoder)
    base = {k: v.detach().clone() for k, v in net.named_parameters() if not k.startswith("head.")}
    soup: dict[str, torch.Tensor] = {}
    history: list[dict[str, float]] = []

    def reset_to_base() -> None:
        with torch.no_grad():
            for k, p in net.named_parameters():
                if k in base:
                    p.copy_(base[k])

    for member in range(config.members):
        if member:
            reset_to_base()
        prefix = f"member {member + 1}/{config.members}"
        history += trainer.fit(net, config.seed + member, fit_idx, judge_idx, prefix)
        for k, p in net.named_parameters():
            v = p.detach() / config.members
            soup[k] = soup[k] + v if k in soup else v.clone()

    state, stats = deltas.compress(base, soup, config.delta_budget_bytes, frozen=FROZEN)
    # Judge what ships: the base plus the compressed delta (the same network, reset to the base).
    reset_to_base()
    params = {k: p.detach().numpy().copy() for k, p in net.named_parameters()}
    if merge.apply(params, {k: v.numpy() for k, v in state.items()}):  # as every scorer merges it
        raise AssertionError("the compressed delta does not fit its own network")
    with torch.no_grad():
        for k, p in net.named_parameters():
            p.copy_(torch.from_numpy(params[k]))
    network: dict[str, float] | None = None
    dev_lp = None
    if judge_idx:
        dev_true = [labels[i] for i in judge_idx]
        dev_lp = trainer.log_probs(net, judge_idx)
        pred = [int(p) for p in dev_lp.argmax(-1)]
        network = {
            "accuracy": round(accuracy(dev_true, pred), 4),
            "macro_f1": round(macro_f1(dev_true, pred), 4),
        }
    log.info(
        "soup of %d, compressed (%.0f%% of the delta kept) on %d rows: dev %s",
        config.members,
        100 * stats.energy_kept,
        len(fit_idx),
        network or "none (refit)",
    )
    head, by_weight = fit_sentiment_head(
        texts,
        labels,
        fit_idx,
        judge_idx,
        dev_lp,
        c=config.lexical_c,
        weights=config.lexical_weights,
        refit_weight=config.refit_lexical_weight,
    )
    dev = by_weight.get(str(head.weight))  # None for a refit: no dev rows were held out
    log.info("lexical head weight %s: dev %s", head.weight, dev or "none (refit, weight fixed)")
    import tokenizers
    import transformers

    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out_dir / "adapter.safetensors"))
    lexical.save(head, out_dir / lexical.FILE)
    for stale in (early_exit.FILE, smoothing.FILE):  # never leave files fitted to another network
        (out_dir / stale).unlink(missing_ok=True)
    meta: dict[str, Any] = {
        "format": MODEL_FORMAT,
        "base_model": BASE_NAME,
        "base_sha256": BASE_SHA256,
        "labels": list(LABELS),
        "train": {
            **asdict(config),
            "data": data_path.name,
            "n_train": len(fit_idx),
            "n_dev": len(judge_idx),
            "extra": [{"data": rows.name, "rows": len(rows.texts)} for rows in extra],
        },
        "delta": {"bytes": stats.bytes, "energy_kept": round(stats.energy_kept, 4), "ranks": stats.ranks},
        "dev": dev,
        "dev_network_only": network,
        "lexical": {
            "vocabulary": len(head.vocabulary),
            "c": config.lexical_c,
            "weight": head.weight,
            "dev_by_weight": by_weight,
        },
        "smoothing": None,
        "early_exit": None,
        "story": None,
        "history": history,
        "seconds": round(time.monotonic() - t0, 1),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
        },
    }
    config_path = out_dir / "config.json"
    config_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    # The int8 smoothing and the early exit are fitted on the network read back from what
    # was just written; the exit is measured on the smoothed int8 graphs it will run in.
    from flushwatch.nlp.scorer import Scorer

    full = Scorer(str(out_dir), mode="full", early_exit=False)  # the fp32 model as written
    smooth_texts = [texts[i] for i in fit_idx[: config.smooth_rows]]
    meta["smoothing"] = smoothing_fit.fit(full, out_dir, smooth_texts, config.smooth_alpha)
    meta["early_exit"] = exit_fit.fit_and_save(
        full,
        out_dir,
        [texts[i] for i in fit_idx],
        [labels[i] for i in fit_idx],
        [texts[i] for i in dev_idx],
        max_loss=config.exit_max_loss,
        c=config.exit_c,
        selection_titles=config.exit_selection_titles,
        threads=config.threads,
    )
    # The story map reads the exit layer through the fast path, so it comes last.
    if config.story_titles:
        titles = story_fit.fit_titles()[: config.story_titles]
        meta["story"] = story_fit.fit_and_save(out_dir, titles, threads=config.threads)
    meta["seconds"] = round(time.monotonic() - t0, 1)
    config_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta
