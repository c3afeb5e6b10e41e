"""`flushwatch model train` end to end on a tiny labelled file written for this test.

Real base encoder, real fine-tuning, real compression: the run is seeded and deterministic
(two runs write the same bytes), its output is a model directory the Scorer loads, and the
file stays inside the byte budget. One epoch on 42 rows: the point is the machinery, not quality.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from flushwatch.nlp.scorer import Scorer
from flushwatch.training.train import TrainConfig, train

DATA = Path(__file__).parent / "data" / "sentiment" / "tiny_train.csv"


def tiny(**changes: Any) -> TrainConfig:
    """The tiny recipe: one epoch, small batches, a quarter of the rows for dev, no crypto titles
    (so no story map either: tests/test_stories.py fits one)."""
    base = TrainConfig(
        epochs=1,
        batch_size=8,
        dev_frac=0.25,
        delta_budget_bytes=600_000,
        threads=2,
        exit_selection_titles=0,
        story_titles=0,
    )
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    cfg = tiny()
    a, b = tmp_path_factory.mktemp("a"), tmp_path_factory.mktemp("b")
    train(DATA, a, cfg)
    train(DATA, b, cfg)
    return a, b


def test_training_is_deterministic(trained: tuple[Path, Path]) -> None:
    a, b = trained
    assert (a / "adapter.safetensors").read_bytes() == (b / "adapter.safetensors").read_bytes()


def test_the_early_exit_is_measured_on_the_fast_path_and_recorded(trained: tuple[Path, Path]) -> None:
    from flushwatch.nlp import early_exit
    from flushwatch.training import exit_fit

    a, b = trained
    meta = json.loads((a / "config.json").read_text())
    ex = meta["early_exit"]
    assert len(ex["candidates"]) == len(exit_fit.LAYERS) * len(exit_fit.THRESHOLDS)
    assert ex["selection"] == {"dev_rows": meta["train"]["n_dev"], "crypto_titles": 0}
    assert 0.0 < ex["baseline_agreement"] <= 1.0
    for c in ex["candidates"]:
        assert 0.0 <= c["exit_rate"] <= 1.0 and c["cost"] == pytest.approx(
            exit_fit.cost(c["layer"], c["exit_rate"], 6), abs=1e-4
        )
    path = a / early_exit.FILE
    if ex["chosen"] is None:
        assert not path.exists()
        return
    assert ex["chosen"]["agreement"] >= ex["baseline_agreement"] - ex["max_loss"] - 1e-9
    assert path.read_bytes() == (b / early_exit.FILE).read_bytes()  # deterministic too
    head = early_exit.load(path, hidden=384, n_layers=6)
    assert (head.layer, head.threshold) == (ex["layer"], ex["threshold"])
    assert Scorer(str(a), mode="fast").has_early_exit


def test_the_int8_smoothing_statistics_are_measured_and_deterministic(trained: tuple[Path, Path]) -> None:
    from flushwatch.nlp import smoothing

    a, b = trained
    meta = json.loads((a / "config.json").read_text())
    assert meta["smoothing"] == {"alpha": 0.7, "rows": meta["train"]["n_train"]}  # < 2,000 rows here
    assert (a / smoothing.FILE).read_bytes() == (b / smoothing.FILE).read_bytes()
    amax, alpha = smoothing.load(a / smoothing.FILE, n_layers=6, channels=1536)
    assert alpha == 0.7 and (amax > 0).all()


def test_the_output_fits_its_budget_and_records_how_it_was_made(trained: tuple[Path, Path]) -> None:
    a, _ = trained
    size = (a / "adapter.safetensors").stat().st_size
    meta = json.loads((a / "config.json").read_text())
    assert meta["format"] == 2
    assert meta["delta"]["bytes"] <= 600_000 and size < 640_000  # + the header
    assert 0.0 < meta["delta"]["energy_kept"] <= 1.0
    assert meta["train"]["n_train"] + meta["train"]["n_dev"] == 42
    assert meta["history"][0]["epoch"] == 1 and "dev_macro_f1" in meta["history"][0]
    assert set(meta["versions"]) == {"torch", "transformers", "tokenizers"}


def test_the_trained_directory_scores(trained: tuple[Path, Path]) -> None:
    a, _ = trained
    scorer = Scorer(str(a), mode="full")
    out = scorer.score_texts(["Exchange halts withdrawals", "Token rallies to a record"])
    assert scorer.name == str(a) and len(scorer.revision) == 12
    for s in out:
        assert abs(s.p_bearish + s.p_neutral + s.p_bullish - 1.0) < 1e-4


def test_a_model_directory_of_an_older_format_is_refused(trained: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    from flushwatch.errors import ModelError

    copy = tmp_path / "old"
    shutil.copytree(trained[0], copy)
    meta = json.loads((copy / "config.json").read_text())
    meta["format"] = 1
    (copy / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ModelError, match="format 1"):
        Scorer(str(copy), mode="full")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("text,label\nfine headline,2\nanother one,bullish\n", r"labels\.csv:3: bad label 'bullish'"),
        ("text,label\nonly one row,2\n", "too few labelled rows"),
    ],
)
def test_bad_training_data_is_one_clear_line(cli, tmp_path: Path, rows: str, message: str) -> None:
    import re

    data = tmp_path / "labels.csv"
    data.write_text(rows, encoding="utf-8")
    r = cli("model", "train", "--data", str(data), "--out", str(tmp_path / "m"), "--no-calibrate")
    assert r.code == 1
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and str(data) in lines[0] and re.search(message, lines[0]), r.err
    assert "Traceback" not in r.err
    assert not (tmp_path / "m").exists()


def test_the_lexical_head_is_chosen_on_dev_and_part_of_the_revision(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    import shutil

    from flushwatch.nlp import lexical
    from flushwatch.nlp.scorer import file_revision, model_revision

    a, _ = trained
    meta = json.loads((a / "config.json").read_text())
    assert meta["lexical"]["weight"] in meta["train"]["lexical_weights"]
    assert set(meta["lexical"]["dev_by_weight"]) == {str(w) for w in meta["train"]["lexical_weights"]}
    assert meta["dev"] == meta["lexical"]["dev_by_weight"][str(meta["lexical"]["weight"])]
    copy = tmp_path / "reweighted"
    shutil.copytree(a, copy)
    head = lexical.load(copy / lexical.FILE)
    lexical.save(dataclasses.replace(head, weight=head.weight + 1.0), copy / lexical.FILE)

    full = Scorer(str(a), mode="full")
    reweighted = Scorer(str(copy), mode="full")
    network = Scorer(str(a), mode="full", lexical=False)
    assert full.has_lexical and not network.has_lexical
    assert full.revision == model_revision(a) != file_revision(a / "adapter.safetensors")
    assert reweighted.revision != full.revision  # same delta, another lexical head: a new revision
    assert network.revision == full.revision + "-net"
    titles = ["Exchange halts withdrawals", "Token rallies to a record", "Fund reports quarterly holdings"]
    assert reweighted.probabilities(titles)[0] != full.probabilities(titles)[0]


def test_a_refit_trains_on_every_row_with_the_weight_dev_chose(tmp_path: Path) -> None:
    """``--refit``: the dev rows join the training rows; nothing is judged on rows trained on."""
    from flushwatch.nlp import lexical
    from flushwatch.nlp.model_info import model_info

    cfg = tiny(refit=True, refit_lexical_weight=0.25)
    meta = train(DATA, tmp_path, cfg)
    assert (meta["train"]["n_train"], meta["train"]["n_dev"]) == (42, 0)
    assert meta["dev"] is None and meta["dev_network_only"] is None
    assert meta["lexical"]["weight"] == 0.25 and meta["lexical"]["dev_by_weight"] == {}
    assert lexical.load(tmp_path / lexical.FILE).weight == 0.25
    assert all("dev_accuracy" not in row for row in meta["history"])
    # the dev rows still measure the early exit's agreement (no labels read there)
    assert meta["early_exit"]["selection"]["dev_rows"] == round(0.25 * 42)
    assert Scorer(str(tmp_path), mode="full").score_texts(["Exchange halts withdrawals"])
    info = dict(model_info(str(tmp_path)))  # a trained directory shows what its config.json records
    assert info["directory"] == str(tmp_path)
    assert info["dev accuracy / macro-F1"] == "none: refit on all 42 rows of tiny_train.csv"


def test_extra_rows_join_the_training_rows_only(trained: tuple[Path, Path], tmp_path: Path) -> None:
    """``--extra-data`` / ``--crypto-titles``: more training rows, the same dev split."""
    from flushwatch.nlp import lexical
    from flushwatch.training.data import ExtraRows

    cfg = tiny()
    titles = ["Zorblax token rallies on a new listing", "Zorblax climbs again", "Zorblax doubles in a day"]
    train(DATA, tmp_path, cfg, [ExtraRows("own titles", titles, [2, 2, 2])])  # our label 2: bullish
    meta = json.loads((tmp_path / "config.json").read_text())
    plain = json.loads((trained[0] / "config.json").read_text())
    assert meta["train"]["n_dev"] == plain["train"]["n_dev"]
    assert meta["train"]["n_train"] == plain["train"]["n_train"] + 3
    assert meta["train"]["extra"] == [{"data": "own titles", "rows": 3}] and plain["train"]["extra"] == []
    assert "zorblax" in lexical.load(tmp_path / lexical.FILE).vocabulary  # a word only the extra rows hold
    assert "zorblax" not in lexical.load(trained[0] / lexical.FILE).vocabulary


def test_bad_extra_data_is_one_line_before_any_training(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = tmp_path / "extra.csv"
    bad.write_text("text,label\nfine,1\nbroken,9\n", encoding="utf-8")
    out = tmp_path / "model"
    res = cli("model", "train", "--out", str(out), "--data", str(DATA), "--extra-data", str(bad))
    assert res.code != 0 and "extra.csv:3: bad label '9'" in res.err
    assert len(res.err.strip().splitlines()) == 1 and not out.exists()
    empty = tmp_path / "shared"
    empty.mkdir()
    monkeypatch.setenv("FLUSHWATCH_SHARED_DATA", str(empty))
    res = cli("model", "train", "--out", str(out), "--data", str(DATA), "--crypto-titles")
    assert res.code != 0 and "shared data" in res.err and "Traceback" not in res.err
    assert len(res.err.strip().splitlines()) == 1 and not out.exists()
