"""The ONNX graphs written by nlp/graph.py from the numpy merge (nlp/merge.py), against the torch
network they replace: the real shipped model, fp32 graphs run by onnxruntime, padded batches.
Headlines are written for this test."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from flushwatch.nlp import graph
from flushwatch.nlp.base import base_model_dir
from flushwatch.nlp.merge import merged_weights
from flushwatch.nlp.scorer import Scorer, shipped_model_dir

TITLES = [
    "Exchange halts withdrawals after a suspected hot wallet breach",
    "Bitcoin climbs",
    "Fed leaves rates unchanged and signals patience on cuts while markets price two reductions",
    "Token plunges 30% after the team unlocks a large allocation",
    "",
]


def _session(model: Any) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def full() -> Scorer:
    return Scorer(mode="full")


@pytest.fixture(scope="module")
def weights() -> dict[str, np.ndarray]:
    return merged_weights(shipped_model_dir(), base_model_dir())


def _batches(full: Scorer) -> list[tuple[np.ndarray, np.ndarray]]:
    """Padded batches: the titles differ in length, so every batch but one has padding."""
    ids = full.tokenizer(TITLES)["input_ids"]
    width = max(len(i) for i in ids)
    x = np.zeros((len(ids), width), np.int64)
    m = np.zeros_like(x)
    for r, row in enumerate(ids):
        x[r, : len(row)], m[r, : len(row)] = row, 1
    return [(x, m), (x[:2, : int(m[:2].sum(1).max())], m[:2, : int(m[:2].sum(1).max())])]


def _torch_logits(full: Scorer, x: np.ndarray, m: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        out: np.ndarray = full.net(torch.as_tensor(x), torch.as_tensor(m)).numpy()
    return out


def test_the_numpy_merge_is_the_torch_network(full: Scorer, weights: dict[str, np.ndarray]) -> None:
    state = {k: v.numpy() for k, v in full.net.state_dict().items()}
    assert state.keys() == weights.keys()
    assert all(np.array_equal(state[k], weights[k]) for k in state)  # one merge serves both


def test_the_fp32_graph_is_the_torch_network(full: Scorer, weights: dict[str, np.ndarray]) -> None:
    session = _session(graph.build(weights, "net"))
    for x, m in _batches(full):
        ours = session.run(None, {"input_ids": x, "attention_mask": m})[0]
        assert ours.shape == (len(x), 3)
        assert np.allclose(ours, _torch_logits(full, x, m), atol=1e-4)


def test_front_then_back_is_the_whole_network(full: Scorer, weights: dict[str, np.ndarray]) -> None:
    rng = np.random.default_rng(0)
    head_w, head_b = rng.normal(size=(3, 384)), rng.normal(size=3)
    whole = _session(graph.build(weights, "net"))
    front = _session(graph.build(weights, "front", layer=2, exit_weight=head_w, exit_bias=head_b))
    back = _session(graph.build(weights, "back", layer=2))
    probe = _session(graph.build(weights, "probe", taps=(2, 4)))
    for x, m in _batches(full):
        hidden, exit_logits, front_pooled = front.run(None, {"input_ids": x, "attention_mask": m})
        assert hidden.shape == (*x.shape, 384)
        split = back.run(None, {"hidden": hidden, "attention_mask": m})[0]
        expected = whole.run(None, {"input_ids": x, "attention_mask": m})[0]
        assert np.allclose(split, expected, atol=1e-5)
        logits, pooled2, pooled4 = probe.run(None, {"input_ids": x, "attention_mask": m})
        assert np.allclose(logits, expected, atol=1e-5) and pooled4.shape == (len(x), 384)
        keep = m[:, :, None].astype(np.float32)
        mean = (hidden * keep).sum(1) / keep.sum(1)  # the probe pools what the front hands over
        assert np.allclose(pooled2, mean, atol=1e-5)
        assert np.allclose(exit_logits, mean @ head_w.T + head_b, atol=1e-4)
        assert np.allclose(front_pooled, mean, atol=1e-5)  # what story vectors are made from


def test_a_split_needs_a_layer_inside_the_encoder(weights: dict[str, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="0 < layer < 6"):
        graph.build(weights, "back", layer=6)
    with pytest.raises(ValueError, match="unknown graph kind"):
        graph.build(weights, "sideways")


def test_building_the_fast_path_never_imports_torch(tmp_path: Any) -> None:
    """An empty graph cache: the first fast scorer merges, smooths, builds and quantises its
    graphs in a process where torch is never imported."""
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    code = (
        "import sys; from flushwatch.nlp.scorer import Scorer; s = Scorer(); "
        "p, _ = s.probabilities(['Exchange halts withdrawals']); "
        "assert abs(sum(p[0]) - 1) < 1e-6; assert s.has_early_exit; "
        "print('torch' in sys.modules)"
    )
    env = subprocess_env(FLUSHWATCH_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
    assert len(list((tmp_path / "onnx").glob("*.int8.onnx"))) == 2  # front and back, cached


def test_two_processes_building_the_same_graphs_at_once_both_succeed(tmp_path: Any) -> None:
    """A cron `score` and a live `ingest --score` starting together after an install: both
    build into the same empty cache; each gets whole graphs, and the cache keeps one copy."""
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    code = (
        "from flushwatch.nlp.scorer import Scorer; "
        "p, _ = Scorer().probabilities(['Exchange halts withdrawals', 'Bitcoin climbs']); "
        "print(','.join(f'{x:.6f}' for row in p for x in row))"
    )
    env = subprocess_env(FLUSHWATCH_CACHE_DIR=str(tmp_path))
    run = [sys.executable, "-c", code]
    pipe = subprocess.PIPE
    procs = [subprocess.Popen(run, env=env, stdout=pipe, stderr=pipe, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err for _, err in outs]
    assert outs[0][0] == outs[1][0] != ""  # the same answers from either build
    names = sorted(p.name for p in (tmp_path / "onnx").iterdir())
    assert len(names) == 2 and all(n.endswith((".front.int8.onnx", ".back.int8.onnx")) for n in names)
