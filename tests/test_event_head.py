"""The event-type fallback head (nlp/event_head.py): the rules keep the titles they place, the
head answers the rest, its file is a rule input (fingerprint, refresh), bad files are one clear
error, and `model train --events-only` reproduces the committed file from the labelled sets."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from flushwatch.errors import ModelError
from flushwatch.nlp import event_head, lexical
from flushwatch.nlp.events import EVENT_TYPES, SEVERITY, EventGuess, classify_event
from flushwatch.nlp.rules import rule_set, rules_revision
from flushwatch.nlp.scorer import shipped_model_dir
from flushwatch.storage.db import Database

MODEL = "flushwatch-minilm"
SHIPPED = shipped_model_dir() / event_head.FILE
PLACED = "Exchange halts withdrawals after a hot wallet hack"  # a rule fires: 0.9
UNPLACED = "A brand brings its loyalty points onchain"  # no pattern fires: "other" at 0.5


def test_the_shipped_head_loads_over_every_event_type() -> None:
    head = event_head.load(SHIPPED)
    assert head is not None and head.head.classes == EVENT_TYPES
    probs = head.probabilities([PLACED, UNPLACED, ""])
    assert probs.shape == (3, len(EVENT_TYPES))
    assert abs(float(probs.sum(axis=1).max()) - 1.0) < 1e-9


def test_rules_keep_the_titles_they_place_and_the_head_answers_the_rest() -> None:
    head = event_head.load(SHIPPED)
    assert head is not None
    guesses = [classify_event(PLACED), classify_event(UNPLACED)]
    assert guesses[0].confidence >= event_head.FALLBACK_BELOW > guesses[1].confidence
    kept, replaced = head.fallback([PLACED, UNPLACED], guesses)
    assert kept == guesses[0]  # the very same answer
    probs = head.probabilities([UNPLACED])[0]
    j = int(probs.argmax())
    assert replaced == EventGuess(EVENT_TYPES[j], round(float(probs[j]), 3), SEVERITY[EVENT_TYPES[j]], False)
    assert replaced.event_type == "partnership_adoption"  # what the head makes of it


def test_the_market_report_flag_stays_the_rules() -> None:
    head = event_head.load(SHIPPED)
    assert head is not None
    weak_report = EventGuess("promotion_other", 0.5, 0.05, True)  # a flag the head never sets
    (out,) = head.fallback(["Bitcoin slides"], [weak_report])
    assert out.is_market_report is True


def test_scoring_uses_the_rule_set_and_its_fingerprint_covers_the_head(tmp_path: Path) -> None:
    rules = rule_set(MODEL)
    assert rules.head is not None
    (_, event), *_ = rules.title_rules([UNPLACED])
    assert event.event_type == "partnership_adoption"
    assert rules.revision == rules_revision(rules.weights, rules.head.digest)
    assert rules.revision != rules_revision(rules.weights)  # no head: another fingerprint

    # A local model directory with a head of its own gets its own fingerprint; without one,
    # the shipped head.
    own = tmp_path / "own-model"
    own.mkdir()
    assert rule_set(str(own)).revision == rules.revision
    fitted = lexical.load(SHIPPED)
    lexical.save(
        lexical.LexicalHead(fitted.vocabulary, fitted.idf, -fitted.coef, fitted.intercept, 0.0, EVENT_TYPES),
        own / event_head.FILE,
    )
    assert rule_set(str(own)).revision != rules.revision


@pytest.mark.parametrize("damage", ["garbage", "sentiment head", "other types"])
def test_a_bad_head_file_is_one_error_naming_it(tmp_path: Path, damage: str) -> None:
    path = tmp_path / event_head.FILE
    if damage == "garbage":
        path.write_bytes(b"not a safetensors file")
    elif damage == "sentiment head":
        shutil.copy(shipped_model_dir() / lexical.FILE, path)
    else:
        h = lexical.load(SHIPPED)
        classes = tuple(f"t{i}" for i in range(len(EVENT_TYPES)))
        lexical.save(lexical.LexicalHead(h.vocabulary, h.idf, h.coef, h.intercept, 0.0, classes), path)
    with pytest.raises(ModelError) as err:
        event_head.load(path)
    assert str(path) in err.value.one_line()


def test_score_with_a_corrupt_head_exits_with_one_line(
    cli, db: Database, db_path: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    shutil.copytree(shipped_model_dir(), model)
    (model / event_head.FILE).write_bytes(b"\x00" * 64)
    with db.write() as con:
        con.execute(
            "INSERT INTO headlines (headline_id, dedup_key, source, title, first_seen_at, origin, "
            "content_hash) VALUES (1, 'k1', 'test', ?, now(), 'feed', md5(?))",
            [UNPLACED, UNPLACED],
        )
    res = cli("score", "--db", str(db_path), "--model", str(model))
    assert res.code == 1
    assert "event_head.safetensors" in res.err and "Traceback" not in res.err
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM headline_scores").fetchone() == (0,)
    finally:
        con.close()


def test_scored_rows_carry_the_heads_answer(cli, db: Database, db_path: Path) -> None:
    with db.write() as con:
        for i, title in enumerate([PLACED, UNPLACED], start=1):
            con.execute(
                "INSERT INTO headlines (headline_id, dedup_key, source, title, first_seen_at, origin, "
                "content_hash) VALUES (?, ?, 'test', ?, now(), 'feed', md5(?))",
                [i, f"k{i}", title, title],
            )
    assert cli("score", "--db", str(db_path)).code == 0
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = con.execute(
            "SELECT event_type, event_confidence FROM headline_scores ORDER BY headline_id"
        ).fetchall()
    finally:
        con.close()
    assert rows[0] == (classify_event(PLACED).event_type, classify_event(PLACED).confidence)
    assert rows[1][0] == "partnership_adoption" and rows[1][1] < event_head.FALLBACK_BELOW


def test_training_never_reads_the_held_out_set_and_reproduces_the_shipped_file(
    shared_data: Path, tmp_path: Path, cli
) -> None:
    from flushwatch.nlp.evaluate import real_event_set

    rows = event_head.training_rows()
    held_out = {r["title"] for name in event_head.HELD_OUT for r in real_event_set(name)}
    assert len(rows) == 1066 and not held_out & {t for t, _ in rows}
    res = cli("model", "train", "--events-only", "--out", str(tmp_path))
    assert res.code == 0, res.err
    assert "1066 labelled titles" in res.out
    assert (tmp_path / event_head.FILE).read_bytes() == SHIPPED.read_bytes()  # deterministic
    assert not (tmp_path / "adapter.safetensors").exists()  # the network was not trained
