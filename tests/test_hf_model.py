"""`--model PATH` with a real Hugging Face sequence-classification checkpoint on disk.

The checkpoints are built here from the shipped base encoder (no download): a
``BertForSequenceClassification`` whose classifier is set so that one class always wins, saved
with ``save_pretrained`` as any hub model would be. Their labels are in an order that is not
ours, so the scores prove the mapping goes through the model's ``id2label``; each row records
that mapping, the model path and a revision from the weights file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flushwatch.nlp.base import base_model_dir
from flushwatch.storage.db import Database
from tests.helpers.query import fetch
from tests.test_score_command import TITLES, _fill


def _checkpoint(out: Path, id2label: dict[int, str], winner: int) -> Path:
    """A sequence-classification model over the base encoder whose class ``winner`` always wins."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    base = str(base_model_dir())
    net = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=len(id2label),
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
        local_files_only=True,
    )
    with torch.no_grad():
        net.classifier.weight.zero_()
        net.classifier.bias.zero_()
        net.classifier.bias[winner] = 8.0
    net.save_pretrained(out)
    AutoTokenizer.from_pretrained(base, local_files_only=True).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def three_class(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Hub order of many sentiment models: positive, negative, neutral; "negative" always wins.
    out = tmp_path_factory.mktemp("hf3") / "finance-sentiment"
    return _checkpoint(out, {0: "positive", 1: "negative", 2: "neutral"}, winner=1)


def _scores(path: Path) -> list[tuple]:
    return fetch(
        path,
        "SELECT headline_id, model_name, model_revision, sentiment, p_bearish, p_neutral, p_bullish, "
        "label_map FROM headline_scores ORDER BY headline_id",
    )


def test_score_with_a_local_checkpoint_maps_labels_through_its_config(
    cli, db: Database, db_path: Path, three_class: Path
) -> None:
    _fill(db)
    res = cli("score", "--db", str(db_path), "--model", str(three_class))
    assert res.code == 0, res.err
    rows = _scores(db_path)
    assert len(rows) == len(TITLES)
    names = {r[1] for r in rows}
    revisions = {r[2] for r in rows}
    assert names == {str(three_class)} and len(revisions) == 1 and revisions != {"local"}
    for _, _, _, sentiment, p_bear, p_neu, p_bull, label_map in rows:
        assert sentiment == "bearish" and p_bear > 0.99  # "negative" is index 1 in this model
        assert abs(p_bear + p_neu + p_bull - 1) < 1e-6
        assert json.loads(label_map) == {"positive": "bullish", "negative": "bearish", "neutral": "neutral"}
    # Idempotent for this model too; the shipped model's rows are a separate revision.
    again = cli("score", "--db", str(db_path), "--model", str(three_class))
    assert again.code == 0 and len(_scores(db_path)) == len(TITLES)


def test_config_file_names_the_model(
    cli, db: Database, db_path: Path, three_class: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(db)
    config = tmp_path / "config.toml"
    config.write_text(f'[model]\nname = "{three_class}"\n', encoding="utf-8")
    monkeypatch.setenv("FLUSHWATCH_CONFIG", str(config))
    res = cli("score", "--db", str(db_path))
    assert res.code == 0, res.err
    assert {r[1] for r in _scores(db_path)} == {str(three_class)}


def test_two_class_model_scores_with_no_neutral(cli, db: Database, db_path: Path, tmp_path: Path) -> None:
    model = _checkpoint(tmp_path / "two", {0: "Bearish", 1: "Bullish"}, winner=1)
    _fill(db)
    res = cli("score", "--db", str(db_path), "--model", str(model))
    assert res.code == 0, res.err
    rows = _scores(db_path)
    assert rows and all(r[3] == "bullish" and r[5] == 0.0 and r[6] > 0.99 for r in rows)
    assert json.loads(rows[0][7]) == {"Bearish": "bearish", "Bullish": "bullish"}


def test_unmappable_labels_are_one_clear_error_and_store_nothing(
    cli, db: Database, db_path: Path, tmp_path: Path
) -> None:
    model = _checkpoint(tmp_path / "generic", {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}, winner=0)
    _fill(db)
    res = cli("score", "--db", str(db_path), "--model", str(model))
    assert res.code != 0
    assert "LABEL_0" in res.err and "Traceback" not in res.err and len(res.err.strip().splitlines()) == 1
    assert _scores(db_path) == []


def test_a_missing_model_directory_is_named_as_such(cli, db: Database, db_path: Path, tmp_path: Path) -> None:
    _fill(db)
    missing = tmp_path / "no-such-model"
    res = cli("score", "--db", str(db_path), "--model", str(missing))
    assert res.code != 0 and len(res.err.strip().splitlines()) == 1
    assert f"cannot load model {missing}: no such directory" in res.err
    assert "Repo id" not in res.err  # not the hub's complaint about an id's characters
    assert _scores(db_path) == []


def test_a_hub_id_with_no_hub_in_reach_fails_at_once_in_one_line(
    cli, db: Database, db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An id that is neither a directory nor cached, with the hub unreachable (here: a closed
    port on loopback as $HF_ENDPOINT), is one line, not a minute of transformers' retries."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    _fill(db)
    res = cli("score", "--db", str(db_path), "--model", "someone/not-cached-model")
    assert res.code == 1 and len(res.err.strip().splitlines()) == 1, res.err
    assert "not in the Hugging Face cache, and the hub cannot be reached" in res.err
    assert _scores(db_path) == []
