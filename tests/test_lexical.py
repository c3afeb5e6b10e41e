"""The lexical head (nlp/lexical.py): our vectoriser matches scikit-learn's, the file round-trips,
bad files are one clear error. Fitted on the 42 own-words rows of tests/data/sentiment."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from flushwatch.errors import ModelError
from flushwatch.nlp import lexical
from flushwatch.training.data import read_labelled
from flushwatch.training.lexical_fit import fit

DATA = Path(__file__).parent / "data" / "sentiment" / "tiny_train.csv"
PROBES = [
    "Exchange halts withdrawals as reserves come into question",
    "exchange EXCHANGE exchange halts",  # case folding and sublinear tf of repeats
    "zzqx unknown words only",  # nothing in the vocabulary: intercept alone
    "",
    "a",  # one-letter tokens are not tokens
    "Token rallies, token rallies again; the treasury is safe",
    "Börse stoppt Auszahlungen",  # non-ASCII word characters
]


@pytest.fixture(scope="module")
def fitted() -> tuple[lexical.LexicalHead, object, object]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts, labels = read_labelled(DATA)
    head = fit(texts, labels, c=4.0, min_df=1)
    vec = TfidfVectorizer(min_df=1, sublinear_tf=True)  # scikit-learn's defaults otherwise
    model = LogisticRegression(C=4.0, max_iter=5000).fit(vec.fit_transform(texts), labels)
    return head, vec, model


def test_scores_match_scikit_learn(fitted) -> None:
    head, vec, model = fitted
    ours = head.scores(PROBES)
    theirs = model.decision_function(vec.transform(PROBES))
    assert ours.shape == (len(PROBES), 3)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours[2], head.intercept)  # no known word: the intercept


def test_blend_adds_weighted_scores_to_log_probabilities(fitted) -> None:
    """The scorer's blend: softmax(network log-probabilities + the head's weighted scores)."""
    from flushwatch.nlp.probs import softmax

    head, _, _ = fitted
    log_probs = np.log(np.array([[0.2, 0.5, 0.3]] * len(PROBES)))
    off = softmax(log_probs + dataclasses.replace(head, weight=0.0).weighted(PROBES))
    np.testing.assert_allclose(off, np.exp(log_probs))
    on = softmax(log_probs + dataclasses.replace(head, weight=0.5).weighted(PROBES))
    z = log_probs + 0.5 * head.scores(PROBES)
    np.testing.assert_allclose(on, np.exp(z) / np.exp(z).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(on.sum(axis=1), 1.0)


def test_the_file_round_trips(fitted, tmp_path: Path) -> None:
    head, _, _ = fitted
    head = dataclasses.replace(head, weight=0.75)
    path = tmp_path / lexical.FILE
    lexical.save(head, path)
    back = lexical.load(path)
    assert back.vocabulary == head.vocabulary and back.weight == 0.75
    np.testing.assert_allclose(back.scores(PROBES), head.scores(PROBES), atol=1e-5)  # float32 on disk


def test_a_corrupt_file_is_one_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / lexical.FILE
    path.write_bytes(b"\x00not a safetensors file")
    with pytest.raises(ModelError, match=r"lexical\.safetensors"):
        lexical.load(path)


def test_a_vocabulary_that_does_not_fit_the_weights_is_refused(fitted, tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    head, _, _ = fitted
    path = tmp_path / lexical.FILE
    arrays = {
        "idf": head.idf.astype(np.float32),
        "coef": head.coef.astype(np.float32),
        "intercept": head.intercept.astype(np.float32),
        "weight": np.array([0.5], dtype=np.float32),
    }
    save_file(arrays, str(path), metadata={"vocabulary": "just\nthree\nwords"})
    with pytest.raises(ModelError, match="does not fit its vocabulary of 3 words"):
        lexical.load(path)
