"""The event-type head (nlp/event_head.py): combined with the rules (reports stay the rules',
a rule's type gets a bonus, no bonus where no pattern fired), its file is a rule input
(fingerprint, refresh), bad files are one clear error, and `model train --events-only`
(flushwatch/training/event_head_fit.py) reproduces the committed file from the labelled sets
without their held-out split."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from flushwatch.errors import ModelError
from flushwatch.nlp import event_head, lexical
from flushwatch.nlp.events import CAUSE_TYPES, EVENT_TYPES, OTHER, SEVERITY, EventGuess, classify_event
from flushwatch.nlp.probs import softmax
from flushwatch.nlp.rules import rule_set, rules_revision
from flushwatch.nlp.scorer import shipped_model_dir
from flushwatch.storage.db import Database

MODEL = "flushwatch-minilm"
SHIPPED = shipped_model_dir() / event_head.FILE
PLACED = "Exchange halts withdrawals as reserves come into question"  # a rule fires: 0.9
UNPLACED = "A brand brings its loyalty points onchain"  # no pattern fires: "other" at 0.5


@pytest.fixture(scope="module")
def head() -> event_head.EventHead:
    loaded = event_head.load(SHIPPED)
    assert loaded is not None, f"{SHIPPED} is missing"
    return loaded


def _scored(db_path: Path, columns: str) -> list[tuple]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(f"SELECT {columns} FROM headline_scores ORDER BY headline_id").fetchall()
    finally:
        con.close()


def test_the_shipped_head_loads_over_every_event_type(head: event_head.EventHead) -> None:
    assert head.head.classes == EVENT_TYPES
    probs = softmax(head.head.scores([PLACED, UNPLACED, ""]))
    assert probs.shape == (3, len(EVENT_TYPES))
    assert abs(float(probs.sum(axis=1).max()) - 1.0) < 1e-9


def test_the_rules_answer_adds_to_the_heads_probabilities(head: event_head.EventHead) -> None:
    import numpy as np

    guesses = [classify_event(PLACED), classify_event(UNPLACED)]
    assert guesses[1].event_type == OTHER and not any(g.is_market_report for g in guesses)
    placed, unplaced = head.combine([PLACED, UNPLACED], guesses)
    probs = softmax(head.head.scores([PLACED, UNPLACED]))
    # The placed title: the rules' type gets RULE_WEIGHT x their confidence on top, and as the
    # rules named a cause (exchange trouble), a market move is ruled out.
    assert guesses[0].event_type in CAUSE_TYPES
    bonus = probs[0].copy()
    bonus[EVENT_TYPES.index(guesses[0].event_type)] += event_head.RULE_WEIGHT * guesses[0].confidence
    bonus[EVENT_TYPES.index("market_move")] = 0.0
    j = int(bonus.argmax())
    share = round(float(bonus[j] / bonus.sum()), 3)
    assert placed == EventGuess(EVENT_TYPES[j], share, SEVERITY[EVENT_TYPES[j]], False)  # not a move
    assert placed.event_type == guesses[0].event_type  # here the two agree
    # The title no pattern placed: the head alone ("other" earns no bonus).
    k = int(np.argmax(probs[1]))
    assert unplaced == EventGuess(
        EVENT_TYPES[k], round(float(probs[1][k]), 3), SEVERITY[EVENT_TYPES[k]], False
    )
    assert unplaced.event_type == "partnership_adoption"  # what the head makes of it


def test_a_weak_rule_answer_can_lose_to_a_confident_head(head: event_head.EventHead) -> None:
    title = "Hackers drain $40 million from a lending protocol's bridge"
    weak = EventGuess("listing", 0.55, SEVERITY["listing"], False)  # a weak, wrong rule answer
    (out,) = head.combine([title], [weak])
    assert out.event_type == "hack_exploit"


def test_a_move_with_a_named_cause_keeps_the_cause(head: event_head.EventHead) -> None:
    """The words of a move ("slips below $119,000") must not outvote the cause the rules found."""
    title = "Bitcoin slips below $119,000 as tariff threat hits risk assets"
    rules = classify_event(title)
    assert rules.event_type == "macro" and not rules.is_market_report
    probs = softmax(head.head.scores([title]))[0]
    assert EVENT_TYPES[int(probs.argmax())] == "market_move"  # the head alone would say move
    (out,) = head.combine([title], [rules])
    assert out.event_type == "macro"


def test_a_move_the_rules_did_not_flag_becomes_a_report(head: event_head.EventHead) -> None:
    """A daily wrap names moves but no size: the rules see no report, the combination does."""
    title = "Bitcoin and Ethereum stuck in a range, altcoins inch higher"
    rules = classify_event(title)
    assert not rules.is_market_report
    (out,) = head.combine([title], [rules])
    assert out.event_type == "market_move" and out.is_market_report


@pytest.mark.parametrize("title", ["", "🚀🚀🚀", "qwzx vbnm", "比特币价格暴跌"])
def test_a_title_the_head_has_no_word_for_keeps_the_rules_answer(
    head: event_head.EventHead, title: str
) -> None:
    rules = classify_event(title)
    assert rules.event_type == OTHER
    assert head.combine([title], [rules]) == [rules]  # not the head's training prior


def test_market_reports_keep_the_rules_answer(head: event_head.EventHead) -> None:
    title = "Bitcoin drops 5% in an hour as longs are wiped out"
    report = classify_event(title)
    assert report.is_market_report and report.event_type == "market_move"
    (out,) = head.combine([title], [report])
    assert out == report


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
    assert "event head" in res.err and "lexical head" not in res.err and "--events-only" in res.err
    assert _scored(db_path, "headline_id") == []


def test_scored_rows_carry_the_heads_answer(cli, db: Database, db_path: Path) -> None:
    with db.write() as con:
        for i, title in enumerate([PLACED, UNPLACED], start=1):
            con.execute(
                "INSERT INTO headlines (headline_id, dedup_key, source, title, first_seen_at, origin, "
                "content_hash) VALUES (?, ?, 'test', ?, now(), 'feed', md5(?))",
                [i, f"k{i}", title, title],
            )
    assert cli("score", "--db", str(db_path)).code == 0
    rows = _scored(db_path, "event_type, event_confidence")
    (_, placed), (_, unplaced) = rule_set(MODEL).title_rules([PLACED, UNPLACED])
    assert rows == [(placed.event_type, placed.confidence), (unplaced.event_type, unplaced.confidence)]
    assert rows[0][0] == "exchange_trouble"
    assert rows[1][0] == "partnership_adoption"


def test_training_never_reads_the_held_out_set_and_reproduces_the_shipped_file(
    shared_data: Path, tmp_path: Path, cli
) -> None:
    from flushwatch.training import event_head_fit
    from flushwatch.training.labelled_sets import in_split, real_event_rows

    rows = event_head_fit.training_rows()
    held_out = {r["title"] for r in in_split(real_event_rows(), "test")}
    assert len(rows) == 2066 and not held_out & {t for t, _ in rows}
    res = cli("model", "train", "--events-only", "--out", str(tmp_path / "a"))
    assert res.code == 0, res.err
    assert "2066 labelled titles" in res.out
    assert not (tmp_path / "a" / "adapter.safetensors").exists()  # the network was not trained
    # Deterministic on one machine: a second fit writes the same bytes.
    assert cli("model", "train", "--events-only", "--out", str(tmp_path / "b")).code == 0
    refit = (tmp_path / "a" / event_head.FILE).read_bytes()
    assert refit == (tmp_path / "b" / event_head.FILE).read_bytes()
    # Across machines the solver's BLAS rounds differently (an AMD EPYC fit differed from the
    # committed file by 1.5e-4 at most, coefficients up to 8.8): the same words, weights equal
    # to float precision, and the same answer for every labelled title.
    ours, shipped = lexical.load(tmp_path / "a" / event_head.FILE), lexical.load(SHIPPED)
    assert ours.vocabulary == shipped.vocabulary and ours.classes == shipped.classes
    assert (ours.idf == shipped.idf).all() and ours.weight == shipped.weight
    assert abs(ours.coef - shipped.coef).max() < 1e-3 and abs(ours.intercept - shipped.intercept).max() < 1e-3
    titles = [t for t, _ in rows] + sorted(held_out)
    assert (ours.scores(titles).argmax(1) == shipped.scores(titles).argmax(1)).all()


def test_refitting_without_the_shared_data_is_one_clear_line(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLUSHWATCH_SHARED_DATA", str(tmp_path / "nowhere"))
    res = cli("model", "train", "--events-only", "--out", str(tmp_path / "m"))
    assert res.code != 0 and "Traceback" not in res.err
    assert "shared data" in res.err and "FLUSHWATCH_SHARED_DATA" in res.err
    assert not (tmp_path / "m" / event_head.FILE).exists()
