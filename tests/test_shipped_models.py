"""The two shipped models by name: the default and the opt-in crypto-trained one (real files,
real scoring, a real DuckDB); names resolve to package folders, anything else to a path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flushwatch.nlp.base import (
    CRYPTO_MODEL,
    DEFAULT_MODEL,
    SHIPPED_MODELS,
    model_dir_for,
    shipped_model_dir,
    shipped_name,
)
from flushwatch.nlp.scorer import Scorer, file_revision, model_revision
from tests.helpers.query import fetch
from tests.test_score_command import TITLES, _fill

CRYPTO_DIR = shipped_model_dir(CRYPTO_MODEL)


def test_names_resolve_to_package_folders_and_paths_stay_paths(tmp_path: Path) -> None:
    for name in SHIPPED_MODELS:
        assert model_dir_for(name) == shipped_model_dir(name)
        assert shipped_name(model_dir_for(name)) == name
    assert model_dir_for(str(tmp_path)) == tmp_path
    assert shipped_name(tmp_path) is None
    assert model_dir_for("ProsusAI/finbert") == Path("ProsusAI/finbert")  # a hub id, left to HF


def test_a_shipped_models_identity_is_known_without_loading_it() -> None:
    """What lets `score` find nothing to do without torch: (name, revision) from the files."""
    from flushwatch.nlp.pipeline import shipped_identity

    for name in SHIPPED_MODELS:
        assert shipped_identity(name) == (name, model_revision(shipped_model_dir(name)))
    assert shipped_identity("ProsusAI/finbert") is None


def test_the_crypto_model_is_the_training_commands_output_with_the_crypto_titles() -> None:
    """What is committed is what `model train --crypto-titles` writes: the extra rows are
    recorded, the dev split is the default model's (same seed), and it stays under 5 MB."""
    meta = json.loads((CRYPTO_DIR / "config.json").read_text(encoding="utf-8"))
    default = json.loads((shipped_model_dir() / "config.json").read_text(encoding="utf-8"))
    assert meta["train"]["extra"] == [{"data": "crypto training titles", "rows": 1981}]
    same = {k: v for k, v in default["train"].items() if k != "n_train"}
    assert {k: meta["train"][k] for k in same} == same  # seed, dev split, every hyperparameter
    assert meta["train"]["n_train"] == default["train"]["n_train"] + 1981  # to training only
    assert sum(p.stat().st_size for p in CRYPTO_DIR.iterdir()) < 5_000_000
    assert model_revision(CRYPTO_DIR) != model_revision(shipped_model_dir())
    # the rule inputs are model-agnostic: the same event head and importance weights as the
    # default, so both models' rows agree on event type, report flag and importance priors
    assert file_revision(CRYPTO_DIR / "event_head.safetensors") == file_revision(
        shipped_model_dir() / "event_head.safetensors"
    )
    crypto, default_w = (
        json.loads((d / "importance.json").read_text()) for d in (CRYPTO_DIR, shipped_model_dir())
    )
    assert crypto["weights"] == default_w["weights"]


@pytest.mark.parametrize("mode", ["fast", "full"])
def test_the_crypto_model_scores_by_name_and_records_its_own_identity(mode: str) -> None:
    crypto = Scorer(CRYPTO_MODEL, mode=mode)
    default = Scorer(DEFAULT_MODEL, mode=mode)
    assert crypto.name == CRYPTO_MODEL and crypto.revision == model_revision(CRYPTO_DIR)
    assert crypto.has_lexical and crypto.revision != default.revision
    titles = [
        "Exchange freezes withdrawals after hackers drain its hot wallet",
        "Spot bitcoin ETFs pull in record inflows as institutions pile in",
        "Ethereum developers publish the agenda for Thursday's core call",
    ]
    a, b = crypto.probabilities(titles)[0], default.probabilities(titles)[0]
    assert a != b  # a different network, not the default under another name
    bear, bull, _ = crypto.score_texts(titles)
    assert bear.sentiment == "bearish" and bull.sentiment == "bullish"
    assert crypto.score_texts(titles) == crypto.score_texts(titles)  # deterministic


def test_score_with_the_crypto_model_adds_its_own_rows(cli, db, db_path: Path) -> None:
    """Through the CLI on a real DuckDB: rows named for the model, idempotent, the default
    model's rows kept beside them."""
    _fill(db)
    assert cli("score", "--db", str(db_path)).code == 0
    res = cli("score", "--db", str(db_path), "--model", CRYPTO_MODEL, "--format", "json")
    assert res.code == 0, res.err
    assert json.loads(res.out)[0]["scored"] == len(TITLES)
    again = cli("score", "--db", str(db_path), "--model", CRYPTO_MODEL, "--format", "json")
    assert json.loads(again.out)[0]["scored"] == 0
    rows = fetch(
        db_path,
        "SELECT model_name, model_revision, count(*) FROM headline_scores GROUP BY ALL ORDER BY 1",
    )
    assert rows == [
        (DEFAULT_MODEL, model_revision(shipped_model_dir()), len(TITLES)),
        (CRYPTO_MODEL, model_revision(CRYPTO_DIR), len(TITLES)),
    ]


def test_model_info_names_the_crypto_model_and_its_extra_rows(cli) -> None:
    res = cli("model", "info", "--model", CRYPTO_MODEL, "--format", "json")
    assert res.code == 0, res.err
    info = json.loads(res.out)
    assert info["name"] == CRYPTO_MODEL
    assert info["directory"] == str(CRYPTO_DIR)
    assert "1,981" in info["extra training rows"]


def test_the_config_file_can_choose_the_crypto_model(cli, db, db_path: Path, tmp_path: Path) -> None:
    """`[model] name` picks the model for every scoring command without a flag."""
    (tmp_path / "config.toml").write_text(f'[model]\nname = "{CRYPTO_MODEL}"\n', encoding="utf-8")
    _fill(db)
    res = cli("score", "--db", str(db_path))
    assert res.code == 0, res.err
    assert fetch(db_path, "SELECT DISTINCT model_name FROM headline_scores") == [(CRYPTO_MODEL,)]
