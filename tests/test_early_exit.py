"""The early exit: its decision rule and choice (pure), its file, and the split fast path.

The integration tests run the real shipped model through real onnxruntime graphs (cached in
a tmp dir by conftest). Headlines are written for this test.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from flushwatch.errors import ModelError
from flushwatch.nlp import early_exit
from flushwatch.nlp.base import HIDDEN
from flushwatch.nlp.early_exit import ExitHead
from flushwatch.nlp.scorer import Scorer, model_revision, shipped_model_dir
from flushwatch.training.exit_fit import ExitChoice, choose, cost

TITLES = [
    "Custodian pauses all client withdrawals while it reviews a wallet incident",
    "Ether rallies past its July high on record staking deposits",
    "Prosecutors charge the founder of a lending desk with wire fraud",
    "Dollar-pegged token trades at 96 cents as reserves are questioned",
    "Central bank holds its policy rate and hints at one cut this year",
    "Miner posts record quarterly revenue and raises guidance",
    "Lender files for bankruptcy protection, freezing customer funds",
    "Shares tumble after the company misses earnings and cuts outlook",
    "Court dismisses the lawsuit against the decentralised exchange",
    "Token plunges 30% after the team unlocks a large allocation",
    "Analysts see range-bound trading ahead of the holiday",
    "Weekly newsletter: five charts to watch this month",
    "Payments firm reports steady volumes in the third quarter",
    "Protocol exploited for $40 million through an oracle bug",
]


# -- pure parts ------------------------------------------------------------------------------


def test_the_exit_decides_on_the_blend_the_final_head_would_ship() -> None:
    confident = np.log(np.array([[0.99, 0.005, 0.005], [0.4, 0.3, 0.3]]))
    assert early_exit.exits(confident, None, 0.98).tolist() == [True, False]
    # A lexical head that disagrees pulls the first row under the threshold; one that agrees
    # with the second row's leader pushes it over.
    lexical = np.array([[0.0, 3.0, 0.0], [6.0, 0.0, 0.0]])
    assert early_exit.exits(confident, lexical, 0.98).tolist() == [False, True]


def test_cost_counts_the_layers_run() -> None:
    assert cost(3, 0.0, 6) == 1.0
    assert cost(3, 1.0, 6) == 0.5
    assert cost(2, 0.5, 6) == pytest.approx(4 / 6)


def test_the_cheapest_candidate_close_enough_is_chosen() -> None:
    table = [
        ExitChoice(2, 0.95, 0.70, 0.960, cost(2, 0.70, 6)),  # cheapest, too far off
        ExitChoice(3, 0.97, 0.60, 0.978, cost(3, 0.60, 6)),
        ExitChoice(3, 0.98, 0.60, 0.979, cost(3, 0.60, 6)),  # same cost, more careful
        ExitChoice(4, 0.99, 0.70, 0.981, cost(4, 0.70, 6)),
    ]
    chosen = choose(table, 0.977)
    assert chosen is not None and (chosen.layer, chosen.threshold) == (3, 0.98)
    assert choose(table, 0.99) is None
    # Perfect agreement because nothing exits saves nothing: not an exit worth shipping.
    assert choose([ExitChoice(2, 0.995, 0.0, 1.0, 1.0)], 0.9) is None


def _head(layer: int = 3, threshold: float = 0.98) -> ExitHead:
    rng = np.random.default_rng(0)
    return ExitHead(layer, rng.normal(size=(3, HIDDEN)), rng.normal(size=3), threshold)


def test_the_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / early_exit.FILE
    head = _head()
    early_exit.save(head, path)
    back = early_exit.load(path, hidden=HIDDEN, n_layers=6)
    assert (back.layer, back.threshold) == (3, 0.98)
    assert np.allclose(back.weight, head.weight, atol=1e-6) and np.allclose(back.bias, head.bias, atol=1e-6)


@pytest.mark.parametrize(
    ("head", "hidden"),
    [(_head(layer=6), HIDDEN), (_head(threshold=1.5), HIDDEN), (_head(), 128)],
    ids=["layer past the last", "threshold above 1", "another hidden size"],
)
def test_a_head_that_does_not_fit_is_one_error_naming_the_file(
    tmp_path: Path, head: ExitHead, hidden: int
) -> None:
    path = tmp_path / early_exit.FILE
    early_exit.save(head, path)
    with pytest.raises(ModelError, match=r"exit\.safetensors does not fit"):
        early_exit.load(path, hidden=hidden, n_layers=6)


def test_a_corrupt_file_is_one_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / early_exit.FILE
    path.write_bytes(b"\x00not a safetensors file")
    with pytest.raises(ModelError, match=r"exit\.safetensors is unreadable"):
        early_exit.load(path, hidden=HIDDEN, n_layers=6)


# -- the shipped model's fast path -----------------------------------------------------------


def test_the_shipped_model_exits_early_on_the_fast_path_only() -> None:
    fast = Scorer(mode="fast")
    assert fast.has_early_exit and fast.exit_rate is None  # nothing scored yet
    assert not Scorer(mode="fast", early_exit=False).has_early_exit
    assert not Scorer(mode="full").has_early_exit
    probs = np.array(fast.probabilities(TITLES)[0])
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    rate = fast.exit_rate
    assert rate is not None and 0.0 < rate < 1.0, rate  # some easy titles, some hard ones


def test_split_graphs_are_the_whole_network_when_nothing_exits() -> None:
    """Front + back graphs compute exactly what the single graph does; the exit only skips work."""
    split = Scorer(mode="fast")
    split._ort.exit_head = dataclasses.replace(split._ort.exit_head, threshold=1.01)  # never reached
    whole = Scorer(mode="fast", early_exit=False)
    a = np.array(split.probabilities(TITLES)[0])
    b = np.array(whole.probabilities(TITLES)[0])
    assert split.exit_rate == 0.0
    assert np.allclose(a, b, atol=1e-6)


def test_exited_titles_keep_the_networks_answer_mostly() -> None:
    fast, whole = Scorer(mode="fast"), Scorer(mode="fast", early_exit=False)
    a = np.array(fast.probabilities(TITLES)[0]).argmax(axis=1)
    b = np.array(whole.probabilities(TITLES)[0]).argmax(axis=1)
    assert (a == b).mean() >= 0.85


def test_the_exit_head_is_part_of_the_revision(tmp_path: Path) -> None:
    copy = tmp_path / "model"
    shutil.copytree(shipped_model_dir(), copy)
    with_exit = model_revision(copy)
    (copy / early_exit.FILE).unlink()
    assert model_revision(copy) != with_exit
    scorer = Scorer(str(copy), mode="fast")
    assert not scorer.has_early_exit and scorer.revision == model_revision(copy)


def test_a_corrupt_exit_head_is_one_clear_cli_error(cli, tmp_path: Path, db_path: Path) -> None:
    from flushwatch.storage.db import Database

    copy = tmp_path / "model"
    shutil.copytree(shipped_model_dir(), copy)
    (copy / early_exit.FILE).write_bytes(b"garbage")
    db = Database(db_path, snapshot=False)
    with db.write() as con:
        con.execute(
            "INSERT INTO headlines (dedup_key, source, title, first_seen_at, origin, content_hash) "
            "VALUES ('t:1', 'test', 'Exchange halts withdrawals', now(), 'import', md5('x'))"
        )
    res = cli("score", "--db", str(db_path), "--model", str(copy))
    assert res.code == 1
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and str(copy / early_exit.FILE) in lines[0], res.err
    assert "Traceback" not in res.err


def test_the_config_file_can_turn_the_exit_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flushwatch.errors import ConfigError
    from flushwatch.nlp.pipeline import get_scorer

    cfg = tmp_path / "config.toml"
    monkeypatch.setenv("FLUSHWATCH_CONFIG", str(cfg))
    assert get_scorer().has_early_exit  # no config file: on
    cfg.write_text("[model]\nearly_exit = false\n")
    assert not get_scorer().has_early_exit
    cfg.write_text('[model]\nearly_exit = "no"\n')
    with pytest.raises(ConfigError, match="early_exit must be true or false"):
        get_scorer()


def test_the_score_flag_overrides_the_config(cli, db, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    cfg = db_path.parent / "config.toml"
    cfg.write_text("[model]\nearly_exit = true\n")
    monkeypatch.setenv("FLUSHWATCH_CONFIG", str(cfg))
    with db.write() as con:
        con.execute(
            "INSERT INTO feeds (feed_id, url, name, kind, tier) "
            "VALUES (1, 'http://127.0.0.1/a', 'A', 'crypto', 1)"
        )
        for i, title in enumerate(TITLES, start=1):
            con.execute(
                "INSERT INTO headlines (headline_id, dedup_key, feed_id, source, title, first_seen_at, "
                "origin, content_hash) VALUES (?, ?, 1, 'test', ?, now(), 'feed', md5(?))",
                [i, f"k{i}", title, title],
            )
    res = cli("score", "--db", str(db_path), "--no-early-exit", "--format", "json")
    assert res.code == 0, res.err
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        stored = con.execute(
            "SELECT p_bearish, p_neutral, p_bullish FROM headline_scores ORDER BY headline_id"
        ).fetchall()
    finally:
        con.close()
    whole, _ = Scorer(early_exit=False).probabilities(TITLES)
    exiting = Scorer()
    early, _ = exiting.probabilities(TITLES)
    assert exiting.exit_rate  # some of these titles do stop early when the exit is on ...
    assert np.allclose(stored, whole, atol=1e-6)  # ... but --no-early-exit ran all six layers
    assert not np.allclose(stored, early, atol=1e-6)


def test_model_info_says_how_the_fast_path_runs(cli) -> None:
    import json

    res = cli("model", "info", "--format", "json")
    assert res.code == 0, res.err
    rows = json.loads(res.out)  # property -> value
    head = early_exit.load(shipped_model_dir() / early_exit.FILE, hidden=HIDDEN, n_layers=6)
    assert rows["early exit (fast path)"].startswith(f"after layer {head.layer} at p >= {head.threshold}")
    assert rows["int8 smoothing (fast path)"].startswith("FFN output projections, alpha 0.7")
    assert "exit.safetensors" in rows["files"] and "smooth.safetensors" in rows["files"]
