"""The labelled crypto sentiment sets: keys only in the repo, titles from the shared data, and
`model eval`'s rows for them (the real shipped model, no mocks)."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

from flushwatch.errors import InputError
from flushwatch.nlp import evaluate
from flushwatch.nlp.evaluate import (
    CRYPTO_DEV_SENTIMENT_SETS,
    CRYPTO_TEST_SENTIMENT_SET,
    CRYPTO_TRAIN_SENTIMENT_SETS,
    LABELS,
    REAL_SENTIMENT_SETS,
    SECOND_PASS_DIR,
    SECOND_PASS_SENTIMENT_SETS,
    SECOND_PASS_TEST_SET,
    crypto_sentiment_rows,
    read_sentiment_sets,
    real_sentiment_set,
)
from flushwatch.nlp.scorer import Scorer

EVAL = Path(__file__).resolve().parent.parent / "models" / "eval"


def _keys(name: str) -> list[dict[str, str]]:
    return list(csv.DictReader((EVAL / name).open(encoding="utf-8")))


def test_sentiment_sets_hold_keys_only_on_the_event_sets_titles() -> None:
    """No third-party text: dataset, md5, our label; each labels the same 200 titles as the
    event set of the same name, and no two sets overlap (the held-out set least of all)."""
    keys = []
    for name in (*CRYPTO_DEV_SENTIMENT_SETS, CRYPTO_TEST_SENTIMENT_SET):
        rows = _keys(name)
        assert list(rows[0]) == ["dataset", "title_md5", "sentiment"]
        assert len(rows) == 200 and {r["sentiment"] for r in rows} == set(LABELS)
        events = _keys(name.replace("sentiment_", "event_types_"))
        pairs = [(r["dataset"], r["title_md5"]) for r in rows]
        assert pairs == [(r["dataset"], r["title_md5"]) for r in events]
        keys.append({r["title_md5"] for r in rows})
    assert len(keys) == 10 and all(not (a & b) for i, a in enumerate(keys) for b in keys[i + 1 :])


def test_training_titles_are_keys_only_and_never_an_evaluation_title() -> None:
    """The crypto training titles share no key with any labelled evaluation set (sentiment or
    event type, the held-out test6 above all) and hold valid labels only."""
    evaluation = {
        (r["dataset"], r["title_md5"])
        for f in EVAL.glob("*_real_*.csv")
        if "_real_train" not in f.name
        for r in _keys(f.name)
    }
    assert len(evaluation) == 2000
    seen: set[tuple[str, str]] = set()
    for name in CRYPTO_TRAIN_SENTIMENT_SETS:
        rows = _keys(name)
        assert list(rows[0]) == ["dataset", "title_md5", "sentiment"]
        assert {r["sentiment"] for r in rows} == set(LABELS)
        keys = {(r["dataset"], r["title_md5"]) for r in rows}
        assert len(keys) == len(rows) and not keys & seen and not keys & evaluation
        seen |= keys
    assert len(seen) == 1981


def test_training_titles_resolve_against_the_shared_data(shared_data: Path) -> None:
    for name in CRYPTO_TRAIN_SENTIMENT_SETS:
        texts, labels = real_sentiment_set(name)
        assert [hashlib.md5(t.encode()).hexdigest() for t in texts] == [r["title_md5"] for r in _keys(name)]
        assert sorted(set(labels)) == [0, 1, 2]


def test_second_pass_labels_the_same_titles_independently() -> None:
    """The blind second pass covers exactly its first-pass file's titles, in the same order, with
    valid labels, and is not a copy of the first pass (they disagree somewhere)."""
    assert CRYPTO_TEST_SENTIMENT_SET not in SECOND_PASS_SENTIMENT_SETS  # kept apart: no bench tunes on it
    for name in (*SECOND_PASS_SENTIMENT_SETS, SECOND_PASS_TEST_SET):
        first, second = _keys(name), _keys(f"{SECOND_PASS_DIR}/{name}")
        assert list(second[0]) == ["dataset", "title_md5", "sentiment"]
        assert [(r["dataset"], r["title_md5"]) for r in second] == [
            (r["dataset"], r["title_md5"]) for r in first
        ]
        assert {r["sentiment"] for r in second} <= set(LABELS)
        differ = sum(a["sentiment"] != b["sentiment"] for a, b in zip(first, second, strict=True))
        assert 0 < differ < len(first)


def test_second_pass_resolves_through_the_same_loader(shared_data: Path) -> None:
    for name in SECOND_PASS_SENTIMENT_SETS:
        titles, labels = real_sentiment_set(f"{SECOND_PASS_DIR}/{name}")
        assert titles == real_sentiment_set(name)[0] and len(labels) == 200


def test_sentiment_sets_resolve_against_the_shared_data(shared_data: Path) -> None:
    for name in (*CRYPTO_DEV_SENTIMENT_SETS, CRYPTO_TEST_SENTIMENT_SET):
        texts, labels = real_sentiment_set(name)
        md5s = [r["title_md5"] for r in _keys(name)]
        assert [hashlib.md5(t.encode()).hexdigest() for t in texts] == md5s
        assert sorted(set(labels)) == [0, 1, 2]


def test_a_bad_label_names_the_file_and_line(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _keys("sentiment_real_test6.csv")[:2]
    bad = tmp_path / "sentiment_bad.csv"
    bad.write_text(
        "dataset,title_md5,sentiment\n"
        f"{good[0]['dataset']},{good[0]['title_md5']},bullish\n"
        f"{good[1]['dataset']},{good[1]['title_md5']},positive\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(evaluate, "EVAL_DIR", tmp_path)
    with pytest.raises(InputError, match="bad sentiment 'positive'") as err:
        real_sentiment_set("sentiment_bad.csv")
    assert err.value.line == 3 and "bearish, neutral or bullish" in err.value.one_line()


def test_without_the_shared_data_each_set_is_a_skipped_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLUSHWATCH_SHARED_DATA", str(tmp_path))
    rows = crypto_sentiment_rows({})
    assert [r[2] for r in rows] == [data for data, *_ in REAL_SENTIMENT_SETS]
    assert all(r.n == 0 and r.other.startswith("skipped:") for r in rows)
    assert all("FLUSHWATCH_SHARED_DATA" in r.other for r in rows)
    assert all(r.ci95 == "" and r.accuracy is None for r in rows)


def test_the_shipped_model_beats_the_vader_floor_on_crypto_headlines(shared_data: Path) -> None:
    rows = crypto_sentiment_rows({"fast": Scorer(mode="fast")})
    by = {(r[0], r[2]): r for r in rows}
    for data, files, reading, _ in REAL_SENTIMENT_SETS:
        model, vader = by["sentiment (fast)", data], by["sentiment (floor)", data]
        assert model[3] == vader[3] == len(read_sentiment_sets(files, reading)[1])
        if reading == "first pass":
            assert model[3] == 200 * len(files)
        # accuracy, macro-F1; on the second pass (29% neutral; the model's answers follow the
        # first pass's 55%) the margin is smaller
        margin = 0.05 if reading == "second pass" else 0.1
        assert model[4] > vader[4] + margin and model[5] > vader[5] + margin


def test_label_readings_second_pass_and_agreed_titles(shared_data: Path) -> None:
    """The agreed reading keeps exactly the titles whose two passes match, with that label."""
    for names in (CRYPTO_DEV_SENTIMENT_SETS, (CRYPTO_TEST_SENTIMENT_SET,)):
        texts, first = read_sentiment_sets(names, "first pass")
        same_texts, second = read_sentiment_sets(names, "second pass")
        agreed_texts, agreed = read_sentiment_sets(names, "both passes agree")
        assert same_texts == texts
        keep = [i for i in range(len(texts)) if first[i] == second[i]]
        assert agreed_texts == [texts[i] for i in keep] and agreed == [first[i] for i in keep]
        assert 0 < len(keep) < len(texts)
        keys = [k for n in names for k in zip(_keys(n), _keys(f"{SECOND_PASS_DIR}/{n}"), strict=True)]
        assert len(keep) == sum(a["sentiment"] == b["sentiment"] for a, b in keys)
    with pytest.raises(ValueError, match="unknown label reading"):
        read_sentiment_sets(CRYPTO_DEV_SENTIMENT_SETS, "third pass")
