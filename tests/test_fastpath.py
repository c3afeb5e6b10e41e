"""The ONNX Runtime fast path: same answers as full precision, a cache built once, reused, repaired.

Real shipped model, real onnxruntime, real cache files in a tmp dir (conftest points
FLUSHWATCH_CACHE_DIR there). Headlines below are written for this test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from flushwatch.nlp.base import BASE_SHA256
from flushwatch.nlp.fastpath import graph_path, split_paths
from flushwatch.nlp.scorer import Scorer, graph_revision, shipped_model_dir
from flushwatch.storage.db import Database

TITLES = [
    "Exchange halts withdrawals after a suspected hot wallet breach",
    "Bitcoin climbs to a three-month high as ETF inflows accelerate",
    "Regulator sues token issuer over unregistered securities sales",
    "Stablecoin slips below its peg as redemptions pile up",
    "Fed leaves rates unchanged and signals patience on cuts",
    "Layer-2 network completes its scheduled upgrade without downtime",
    "Miner posts record quarterly revenue and raises guidance",
    "Lender files for bankruptcy protection, freezing customer funds",
    "Payments giant adds support for paying with stablecoins",
    "Whale moves 20,000 ETH to an exchange, stoking sell fears",
    "Shares tumble after the company misses earnings and cuts outlook",
    "Court dismisses the lawsuit against the decentralised exchange",
    "Inflation cools more than expected in October",
    "Altcoins rally as traders rotate out of bitcoin",
    "Protocol exploited for $40 million through an oracle bug",
    "Asset manager files for a spot SOL ETF",
    "Jobs report beats estimates, dollar strengthens",
    "Token plunges 30% after the team unlocks a large allocation",
    "Analysts see range-bound trading ahead of the holiday",
    "Bank launches custody service for institutional crypto clients",
]


def _cached_graphs() -> list[Path]:
    """The shipped model's two cached graphs (it has an early-exit head): front, back."""
    path = graph_path(graph_revision(shipped_model_dir()), BASE_SHA256)
    return list(split_paths(path))


def test_fast_path_agrees_with_full_precision() -> None:
    fast, full = Scorer(mode="fast", early_exit=False), Scorer(mode="full")
    assert fast._ort is not None and full._ort is None and not fast.has_early_exit
    p_fast = np.array(fast.probabilities(TITLES)[0])
    p_full = np.array(full.probabilities(TITLES)[0])
    assert p_fast.shape == (len(TITLES), 3)
    assert np.allclose(p_fast.sum(axis=1), 1.0, atol=1e-5)
    agree = (p_fast.argmax(axis=1) == p_full.argmax(axis=1)).mean()
    assert agree >= 0.9, agree
    assert np.abs(p_fast - p_full).mean() < 0.03


def test_graphs_are_built_once_and_reused() -> None:
    Scorer(mode="fast")
    paths = _cached_graphs()
    assert all(p.is_file() and p.stat().st_size > 500_000 for p in paths)
    before = [p.stat().st_mtime_ns for p in paths]
    again = Scorer(mode="fast")
    assert again._ort.paths == paths
    assert [p.stat().st_mtime_ns for p in paths] == before


def test_unloadable_cache_file_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLUSHWATCH_CACHE_DIR", str(tmp_path / "cache"))
    front, back = _cached_graphs()
    front.parent.mkdir(parents=True)
    front.write_bytes(b"not an onnx graph")
    scorer = Scorer(mode="fast")
    assert front.stat().st_size > 500_000 and back.is_file()
    assert scorer.score_texts(["Exchange halts withdrawals"])[0].sentiment in ("bearish", "neutral")


def test_unwritable_cache_falls_back_to_a_temporary_graph(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("FLUSHWATCH_CACHE_DIR", str(blocker / "cache"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    scorer = Scorer(mode="fast")
    assert not any(str(p).startswith(str(blocker)) for p in scorer._ort.paths)
    assert len(scorer.score_texts(TITLES[:3])) == 3
    # The temporary graphs are gone once loaded: a cron job must not fill /tmp with them.
    assert not list((tmp_path / "tmp").glob("flushwatch-onnx-*"))


def test_warm_cache_scores_without_importing_torch(tmp_path: Path) -> None:
    """A cold `flushwatch score` with a built graph needs onnxruntime and tokenizers only."""
    Scorer(mode="fast")  # make sure the session's cache holds the graph
    db_file = tmp_path / "h.duckdb"
    db = Database(db_file, snapshot=False)
    with db.write() as con:
        con.executemany(
            "INSERT INTO headlines (dedup_key, source, title, first_seen_at, origin, content_hash) "
            "VALUES (?, 'test', ?, now(), 'import', md5(?))",
            [(f"t:{i}", t, t) for i, t in enumerate(TITLES[:10])],
        )
    probe = (
        "import sys\n"
        "from flushwatch.cli.main import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
        "print('torch' in sys.modules, 'onnxruntime' in sys.modules, code, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, "score", "--db", str(db_file)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "FLUSHWATCH_SNAPSHOT": "0"},
    )
    assert proc.stderr.strip().splitlines()[-1].split() == ["False", "True", "0"], proc.stderr
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM headline_scores").fetchone() == (10,)


def test_the_int8_graph_quantises_every_weight_matmul_and_embedding_table() -> None:
    """graph.build(int8=True) on the real shipped weights: no fp32 weight matrix or table is left,
    and its answers stay close to the fp32 graph's."""
    import onnxruntime as ort
    from onnx import TensorProto

    from flushwatch.nlp import graph
    from flushwatch.nlp.scorer import Scorer

    weights = Scorer.graph_weights(shipped_model_dir())
    fp32 = graph.build(weights.params, "net", ffn2_scales=weights.scales)
    int8 = graph.build(weights.params, "net", ffn2_scales=weights.scales, int8=True)
    ops = [n.op_type for n in int8.graph.node]
    assert ops.count("DynamicQuantizeMatMul") == 36 and ops.count("DequantizeLinear") == 2  # words, positions
    consts = {i.name for i in int8.graph.initializer}
    assert not [n for n in int8.graph.node if n.op_type == "MatMul" and n.input[1] in consts]
    big = [i for i in int8.graph.initializer if len(i.dims) == 2 and i.dims[0] >= 384]
    assert big and all(i.data_type == TensorProto.INT8 for i in big)
    q, scale = graph.int8_columns(np.array([[1.0, -2.0], [0.5, 4.0]], np.float32))
    assert q.tolist() == [[127, -64], [64, 127]] and np.allclose(scale, [1 / 127, 4 / 127])
    x = np.array([[101, 7592, 2088, 102], [101, 2088, 102, 0]], np.int64)
    m = (x > 0).astype(np.int64)
    a, b = (
        ort.InferenceSession(g.SerializeToString(), providers=["CPUExecutionProvider"]).run(
            None, {"input_ids": x, "attention_mask": m}
        )[0]
        for g in (fp32, int8)
    )
    assert (a.argmax(1) == b.argmax(1)).all() and np.abs(a - b).max() < 0.1 * np.abs(a).max()
