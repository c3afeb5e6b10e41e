"""Int8 smoothing of the FFN output projections: exact in fp32, part of the graph's name, its file.

Real shipped model and its committed ``smooth.safetensors``; headlines written for this test.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from flushwatch.errors import ModelError
from flushwatch.nlp import smoothing
from flushwatch.nlp.scorer import Scorer, graph_revision, model_revision, shipped_model_dir

TITLES = [
    "Exchange halts withdrawals after a suspected hot wallet breach",
    "Bitcoin climbs to a three-month high as ETF inflows accelerate",
    "Fed leaves rates unchanged and signals patience on cuts",
    "Token plunges 30% after the team unlocks a large allocation",
    "Payments firm reports steady volumes in the third quarter",
]


def test_smoothing_changes_nothing_in_full_precision() -> None:
    """Dividing a channel's activation and multiplying its weight row by the same factor is an
    identity: the smoothed fp32 graph gives the merged network's logits."""
    import onnxruntime as ort

    from flushwatch.nlp import graph
    from flushwatch.nlp.base import base_model_dir
    from flushwatch.nlp.merge import merged_weights

    model_dir = shipped_model_dir()
    smoothed = Scorer.graph_weights(model_dir)
    plain = merged_weights(model_dir, base_model_dir())
    assert smoothed.scales is not None and len(smoothed.scales) == 6
    name = "encoder.encoder.layer.0.output.dense.weight"
    assert not np.array_equal(smoothed.params[name], plain[name])  # the weights carry the inverse
    sessions = [
        ort.InferenceSession(graph.build(w, "net", ffn2_scales=s).SerializeToString())
        for w, s in ((plain, None), (smoothed.params, smoothed.scales))
    ]
    batch = Scorer(mode="fast", early_exit=False).prepare(TITLES)
    for x, m, _ in batch.arrays:
        a, b = (s.run(None, {"input_ids": x, "attention_mask": m})[0] for s in sessions)
        assert np.allclose(a, b, atol=1e-4)


def test_the_statistics_name_the_graphs_and_the_revision(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(shipped_model_dir(), copy)
    graphs, revision = graph_revision(copy), model_revision(copy)
    (copy / smoothing.FILE).unlink()
    assert graph_revision(copy) != graphs and model_revision(copy) != revision
    probs = np.array(Scorer(str(copy), mode="fast").probabilities(TITLES)[0])  # unsmoothed graphs
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-6)


def test_the_file_round_trips_and_bad_ones_are_one_error(tmp_path: Path) -> None:
    path = tmp_path / smoothing.FILE
    amax = np.abs(np.random.default_rng(0).normal(size=(6, 1536)))
    smoothing.save(amax, 0.7, path)
    back, alpha = smoothing.load(path, n_layers=6, channels=1536)
    assert alpha == 0.7 and np.allclose(back, amax, rtol=1e-6)
    with pytest.raises(ModelError, match=r"smooth\.safetensors does not fit"):
        smoothing.load(path, n_layers=5, channels=1536)
    path.write_bytes(b"\x00garbage")
    with pytest.raises(ModelError, match=r"smooth\.safetensors is unreadable"):
        smoothing.load(path, n_layers=6, channels=1536)


def test_a_corrupt_smoothing_file_is_refused_naming_it(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(shipped_model_dir(), copy)
    bad = copy / smoothing.FILE
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(ModelError, match=str(bad)):
        Scorer(str(copy), mode="fast")
