"""Can crypto-specific heads close the gap between finance tweets and crypto headlines?

The shipped sentiment model reads 0.88 on sent_valid (equities tweets) and about 0.72 on real
crypto headlines labelled by hand (``flushwatch model eval``). This measures, on the crypto
*development* sets only (the nine ``models/eval/sentiment_real_*.csv`` other than the
held-out ``sentiment_real_test6.csv``, 1,800 titles) and on sent_train's 954-row dev split,
what cheap crypto-specific additions to the shipped blend would give:

* a crypto lexical head: TF-IDF words fitted on crypto titles (``nlp/lexical.py``), its scores
  added to the blend at a weight;
* a logistic regression on the shipped network's mean-pooled output, fitted on crypto titles;
* ``--train-titles``: the same with the 1,981 crypto training titles
  (``sentiment_real_train*.csv``) added, scored on all nine development sets (about 14 minutes);
* ``--finetune``: one fine-tuning member (seed 13, the shipped recipe) with and without 1,200
  crypto titles (six of the sets) in its training data, scored on the other two sets (about
  13 minutes on 2 cores).

Crypto figures are leave-one-set-out: each set is scored by a head fitted on the other eight.
Tweets-dev figures use a head fitted on all 1,800. Neither sent_valid nor the held-out crypto
set is read. Usage: ``python bench/eval_crypto_sentiment.py [--finetune | --train-titles]``.
"""

from __future__ import annotations

import sys
from typing import Any

from eval_importance_embedding import embed
from near_duplicates import NEAR_DUPLICATE_JACCARD, word_set

from flushwatch.nlp.evaluate import (
    CRYPTO_DEV_SENTIMENT_SETS,
    CRYPTO_TEST_SENTIMENT_SET,
    CRYPTO_TRAIN_SENTIMENT_SETS,
)

#: The fine-tuning comparison: six sets added to the training data, two others scored.
FINETUNE_EXTRA = tuple(
    f"sentiment_real_{name}.csv" for name in ("dev", "test", "test2", "test3", "test5", "dev2")
)
FINETUNE_HELD = ("sentiment_real_dev3.csv", "sentiment_real_test4.csv")
TRAIN_RANKS = range(1000, 2000)


def check_train_titles() -> None:
    """The training files hold exactly the titles the model card says: ranks 1000-1999 of each
    file in md5 order, less those whose word set overlaps an evaluation title's (ranks 0-999)
    by a Jaccard index >= 0.6."""
    import csv

    from flushwatch.nlp.evaluate import EVAL_DIR, HEADLINE_DATASETS, headline_titles

    ranked = {
        d: sorted(headline_titles(d, needed_by="the training titles").items()) for d in HEADLINE_DATASETS
    }
    held = [word_set(t) for rows in ranked.values() for _, t in rows[: TRAIN_RANKS.start]]
    expected = set()
    for dataset, rows in ranked.items():
        for md5, title in rows[TRAIN_RANKS.start : TRAIN_RANKS.stop]:
            w = word_set(title)
            if all(len(w & h) / max(1, len(w | h)) < NEAR_DUPLICATE_JACCARD for h in held):
                expected.add((dataset, md5))
    got = set()
    for name in CRYPTO_TRAIN_SENTIMENT_SETS:
        with (EVAL_DIR / name).open(encoding="utf-8", newline="") as fh:
            got |= {(r["dataset"], r["title_md5"]) for r in csv.DictReader(fh)}
    assert got == expected, f"training files differ from the recipe: {len(got ^ expected)} titles"
    print(f"crypto training titles: {len(got)}, as the model card describes")


def crypto_dev() -> tuple[list[str], Any, Any]:
    """Cleaned titles, labels and set index of the development titles."""
    import numpy as np

    from flushwatch.nlp.evaluate import real_sentiment_set
    from flushwatch.nlp.train import clean_text

    assert CRYPTO_TEST_SENTIMENT_SET not in CRYPTO_DEV_SENTIMENT_SETS  # never read here
    titles: list[str] = []
    labels: list[int] = []
    group: list[int] = []
    for g, name in enumerate(CRYPTO_DEV_SENTIMENT_SETS):
        t, y = real_sentiment_set(name)
        titles += [clean_text(x) for x in t]
        labels += y
        group += [g] * len(t)
    return titles, np.array(labels), np.array(group)


def tweets_dev() -> tuple[list[str], list[str], list[int], Any]:
    """sent_train's train texts and labels, and its dev split (texts, labels), as `model train` splits it."""
    import numpy as np

    from flushwatch.config import shared_data_dir
    from flushwatch.nlp.train import TrainConfig, read_labelled, stratified_split

    base = shared_data_dir()
    assert base is not None
    texts, labels = read_labelled(base / "labels_twitter_financial_news_sentiment" / "sent_train.csv.gz")
    config = TrainConfig()
    tr, dv = stratified_split(labels, config.dev_frac, config.seed)
    train = [texts[i] for i in tr], [labels[i] for i in tr]
    return train[0], [texts[i] for i in dv], train[1], np.array([labels[i] for i in dv])


def score(y: Any, z: Any) -> str:
    return score_labels(list(y), [int(p) for p in z.argmax(1)])


def score_labels(y: list[int], pred: list[int]) -> str:
    from flushwatch.nlp.train import accuracy, macro_f1

    return f"{accuracy(y, pred):.4f} / {macro_f1(y, pred):.4f}"


def heads() -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from flushwatch.nlp import lexical
    from flushwatch.nlp.scorer import Scorer, shipped_model_dir

    titles, y, group = crypto_dev()
    _, dev_texts, _, dev_y = tweets_dev()
    net = Scorer(mode="full", lexical=False)

    def log_probs(texts: list[str]) -> Any:
        p, _ = net.probabilities(texts)
        return np.log(np.clip(np.array(p), 1e-12, 1.0))

    shipped_lex = lexical.load(shipped_model_dir() / lexical.FILE)
    base_c = log_probs(titles) + shipped_lex.weighted(titles)
    base_d = log_probs(dev_texts) + shipped_lex.weighted(dev_texts)
    n_sets = len(CRYPTO_DEV_SENTIMENT_SETS)
    print(f"crypto development titles: {len(titles)} in {n_sets} sets; tweets dev {len(dev_texts)}")
    print(f"{'variant':58s} {'crypto (leave one set out)':>28s} {'tweets dev':>18s}")
    print(f"{'shipped (network + lexical head)':58s} {score(y, base_c):>28s} {score(dev_y, base_d):>18s}")

    def cross_fit(fit: Any, x: Any, x_dev: Any) -> tuple[Any, Any]:
        """Leave-one-set-out scores on the crypto rows of ``fit(x, y) -> score(x)``, and the
        tweets-dev scores of the model fitted on every crypto row."""
        out = np.zeros((len(titles), 3))
        for g in range(n_sets):
            held = group == g
            out[held] = fit(x[~held], y[~held])(x[held])
        return out, fit(x, y)(x_dev)

    def report(name: str, s_c: Any, s_d: Any, weights: tuple[float, ...]) -> None:
        for w in weights:
            what = f"+ {name}, weight {w:g}"
            print(f"{what:58s} {score(y, base_c + w * s_c):>28s} {score(dev_y, base_d + w * s_d):>18s}")

    crypto_titles, dev_titles = np.array(titles, dtype=object), np.array(dev_texts, dtype=object)
    for c in (1.0, 4.0, 10.0):

        def fit_lexical(x: Any, labels: Any, c: float = c) -> Any:
            head = lexical.fit(list(x), list(labels), c=c)
            return lambda rows: head.scores(list(rows))

        s_c, s_d = cross_fit(fit_lexical, crypto_titles, dev_titles)
        report(f"crypto lexical head, C {c:g}", s_c, s_d, (0.25, 0.5, 0.75, 1.0, 1.5))

    emb_c, emb_d = embed(titles), embed(dev_texts)
    mu, sd = emb_c.mean(0), emb_c.std(0) + 1e-6
    emb_c, emb_d = (emb_c - mu) / sd, (emb_d - mu) / sd
    for c in (0.01, 0.1, 1.0):

        def fit_probe(x: Any, labels: Any, c: float = c) -> Any:
            return LogisticRegression(C=c, max_iter=3000).fit(x, labels).decision_function

        s_c, s_d = cross_fit(fit_probe, emb_c, emb_d)
        print(f"{f'pooled-output probe alone, C {c:g}':58s} {score(y, s_c):>28s}")
        report(f"pooled-output probe, C {c:g}", s_c, s_d, (0.25, 0.5, 1.0))


def finetune(
    extra_sets: tuple[str, ...] = FINETUNE_EXTRA, held_sets: tuple[str, ...] = FINETUNE_HELD
) -> None:
    """One member with and without ``extra_sets`` in its training data; scored on ``held_sets``
    and on the tweets dev split, each difference with its paired 95% interval."""
    import random

    import numpy as np
    import torch

    from flushwatch.nlp import lexical
    from flushwatch.nlp.confidence import paired_difference_intervals
    from flushwatch.nlp.encoder import SentimentNet, load_base
    from flushwatch.nlp.evaluate import (
        SECOND_PASS_DIR,
        SECOND_PASS_SENTIMENT_SETS,
        real_sentiment_set,
        real_sentiment_sets,
    )
    from flushwatch.nlp.scorer import shipped_model_dir
    from flushwatch.nlp.train import TrainConfig, _Trainer, clean_text

    assert CRYPTO_TEST_SENTIMENT_SET not in extra_sets + held_sets  # never read here
    assert not set(extra_sets) & set(held_sets)
    config = TrainConfig()
    tr_texts, dev_texts, tr_labels, dev_y = tweets_dev()
    c_titles, c_labels = real_sentiment_sets(extra_sets)
    # Held sets one by one, so those with a blind second pass (the same titles in the same
    # order, tests/test_eval_sentiment_sets.py) can be scored against it too, position by position.
    h_titles: list[str] = []
    h_labels: list[int] = []
    second_idx: list[int] = []
    second_labels: list[int] = []
    for name in held_sets:
        titles, labels_1 = real_sentiment_set(name)
        if name in SECOND_PASS_SENTIMENT_SETS:
            second_idx += range(len(h_labels), len(h_labels) + len(labels_1))
            second_labels += real_sentiment_set(f"{SECOND_PASS_DIR}/{name}")[1]
        h_titles += titles
        h_labels += labels_1
    c_texts, h_texts = [clean_text(t) for t in c_titles], [clean_text(t) for t in h_titles]
    h_y = np.array(h_labels)
    texts = tr_texts + dev_texts + c_texts + h_texts
    labels = tr_labels + list(dev_y) + c_labels + h_labels
    n_tr, n_dev, n_c = len(tr_texts), len(dev_texts), len(c_texts)
    dev_idx = list(range(n_tr, n_tr + n_dev))
    crypto_idx = list(range(n_tr + n_dev, n_tr + n_dev + n_c))
    held_idx = list(range(n_tr + n_dev + n_c, len(texts)))
    shipped_lex = lexical.load(shipped_model_dir() / lexical.FILE)
    lex_d, lex_h = shipped_lex.weighted(dev_texts), shipped_lex.weighted(h_texts)
    print(
        f"fine-tuning: {n_tr} tweets (+ {n_c} crypto titles, {len(extra_sets)} sets); "
        f"scored on {len(held_idx)} crypto titles ({len(held_sets)} sets) and the tweets dev split"
    )
    tokenizer, _ = load_base()
    trainer = _Trainer(
        config, tokenizer(texts, truncation=True, max_length=config.max_length)["input_ids"], labels
    )
    answers: dict[str, list[list[int]]] = {}
    for with_crypto in (False, True):
        random.seed(config.seed)
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(config.threads)
        net = SentimentNet(load_base()[1])  # a fresh copy of the published encoder per run
        train_idx = list(range(n_tr)) + (crypto_idx if with_crypto else [])
        trainer.fit([net], [config.seed], train_idx, dev_idx, "with crypto" if with_crypto else "tweets only")
        lp_d, lp_h = trainer.log_probs(net, dev_idx), trainer.log_probs(net, held_idx)
        what = "with crypto titles" if with_crypto else "tweets only"
        print(
            f"{what:20s} network: crypto {score(h_y, lp_h)}, tweets dev {score(dev_y, lp_d)}; "
            f"+ lexical head: crypto {score(h_y, lp_h + lex_h)}, tweets dev {score(dev_y, lp_d + lex_d)}",
            flush=True,
        )
        answers[what] = [
            [int(x) for x in (lp_h + lex_h).argmax(1)],
            [int(x) for x in (lp_d + lex_d).argmax(1)],
        ]
    with_c, without = answers["with crypto titles"], answers["tweets only"]
    comparisons = [("crypto", h_labels, with_c[0], without[0])]
    comparisons.append(("tweets dev", [int(y) for y in dev_y], with_c[1], without[1]))
    # The titles labelled a second time, blind: both passes as the truth, since the first pass
    # is the more conservative at the neutral boundary (model card, "How stable the labels are").
    if second_idx:
        a, b = ([answer[i] for i in second_idx] for answer in (with_c[0], without[0]))
        n = len(second_idx)
        comparisons.append((f"{n} titles, first pass", [h_labels[i] for i in second_idx], a, b))
        comparisons.append((f"{n} titles, second pass", second_labels, a, b))
    for name, truth, got_with, got_without in comparisons:
        ci = paired_difference_intervals(truth, got_with, got_without, 3)
        print(
            f"{name:28s} with {score_labels(truth, got_with)}, without {score_labels(truth, got_without)}; "
            f"with minus without: accuracy {ci.accuracy.signed_text()}, "
            f"macro-F1 {ci.macro_f1.signed_text()} (paired 95%)"
        )


def main() -> None:
    import warnings

    from flushwatch.config import shared_data_dir

    if shared_data_dir() is None:
        sys.exit("shared data not found: set FLUSHWATCH_SHARED_DATA")
    warnings.filterwarnings("ignore")
    heads()
    if "--train-titles" in sys.argv[1:]:
        check_train_titles()
        finetune(CRYPTO_TRAIN_SENTIMENT_SETS, CRYPTO_DEV_SENTIMENT_SETS)
    elif "--finetune" in sys.argv[1:]:
        finetune()


if __name__ == "__main__":
    main()
