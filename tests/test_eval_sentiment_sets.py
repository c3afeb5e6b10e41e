"""The labelled crypto sentiment rows (eval/sentiment_real.csv): keys only in the repo, titles
from the shared data, a split per row, and `model eval`'s rows for them (the real shipped
model, no mocks)."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import pytest

from flushwatch.errors import InputError
from flushwatch.nlp.scorer import Scorer
from flushwatch.training import labelled_sets
from flushwatch.training.evaluate import REAL_SENTIMENT_SETS, crypto_sentiment_rows
from flushwatch.training.labelled_sets import LABELS, in_split, read_rows, sentiment_set

COLUMNS = ["dataset", "title_md5", "sentiment", "second_pass", "split"]


def _rows(name: str = labelled_sets.SENTIMENT_FILE) -> list[dict[str, str]]:
    return read_rows(name)


def test_every_row_has_keys_labels_and_a_split() -> None:
    """No third-party text: dataset, md5, our labels and the row's split; the evaluation rows
    label the same 2,000 titles as the real event-type rows, and the training titles are none
    of them."""
    rows = _rows()
    assert list(rows[0]) == COLUMNS
    assert [len(in_split(rows, s)) for s in ("train", "dev", "test")] == [1981, 1800, 200]
    assert all(len(r["title_md5"]) == 32 and int(r["title_md5"], 16) >= 0 for r in rows)
    keys = [(r["dataset"], r["title_md5"]) for r in rows]
    assert len(set(keys)) == len(keys)
    events = read_rows(labelled_sets.EVENT_REAL_FILE)
    evaluation = [(r["dataset"], r["title_md5"]) for r in rows if r["split"] != "train"]
    assert set(evaluation) == {(r["dataset"], r["title_md5"]) for r in events}
    held_out = {(r["dataset"], r["title_md5"]) for r in in_split(rows, "test")}
    assert held_out == {(r["dataset"], r["title_md5"]) for r in in_split(events, "test")}
    for r in rows:
        assert r["sentiment"] in LABELS
        assert r["second_pass"] in LABELS if r["split"] != "train" else r["second_pass"] == ""


def test_the_second_pass_labels_the_evaluation_titles_independently() -> None:
    """The blind second pass is not a copy of the first: they disagree somewhere, in each split."""
    for split in ("dev", "test"):
        rows = in_split(_rows(), split)
        differ = sum(r["sentiment"] != r["second_pass"] for r in rows)
        assert 0 < differ < len(rows)


def test_every_split_resolves_against_the_shared_data(shared_data: Path) -> None:
    for split in ("train", "dev", "test"):
        texts, labels = sentiment_set(split)
        md5s = [r["title_md5"] for r in in_split(_rows(), split)]
        assert [hashlib.md5(t.encode()).hexdigest() for t in texts] == md5s
        assert sorted(set(labels)) == [0, 1, 2]


def test_label_readings_second_pass_and_agreed_titles(shared_data: Path) -> None:
    """The agreed reading keeps exactly the titles whose two passes match, with that label."""
    for split in ("dev", "test"):
        texts, first = sentiment_set(split, "first pass")
        same_texts, second = sentiment_set(split, "second pass")
        agreed_texts, agreed = sentiment_set(split, "both passes agree")
        assert same_texts == texts
        keep = [i for i in range(len(texts)) if first[i] == second[i]]
        assert agreed_texts == [texts[i] for i in keep] and agreed == [first[i] for i in keep]
        assert 0 < len(keep) < len(texts)
    with pytest.raises(ValueError, match="unknown label reading"):
        sentiment_set("dev", "third pass")
    with pytest.raises(ValueError, match="unknown split"):
        sentiment_set("test6")


def test_a_bad_label_names_the_file_and_line(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = in_split(_rows(), "test")[:2]
    (tmp_path / labelled_sets.SENTIMENT_FILE).write_text(
        ",".join(COLUMNS) + "\n"
        f"{good[0]['dataset']},{good[0]['title_md5']},bullish,bullish,test\n"
        f"{good[1]['dataset']},{good[1]['title_md5']},positive,bullish,test\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(labelled_sets, "EVAL_DIR", tmp_path)
    with pytest.raises(InputError, match="bad sentiment 'positive'") as err:
        sentiment_set("test")
    assert err.value.line == 3 and "bearish, neutral or bullish" in err.value.one_line()


def test_without_a_checkout_the_labelled_sets_are_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed package has no eval/ folder: say where the sets live."""
    monkeypatch.setattr(labelled_sets, "EVAL_DIR", tmp_path / "eval")
    with pytest.raises(InputError, match="cannot read labelled set") as err:
        sentiment_set("dev")
    assert "checkout's eval/ folder" in err.value.one_line()


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
    for data, split, reading, _ in REAL_SENTIMENT_SETS:
        model, vader = by["sentiment (fast)", data], by["sentiment (floor)", data]
        assert model[3] == vader[3] == len(sentiment_set(split, reading)[1])
        if reading == "first pass":
            assert model[3] == {"dev": 1800, "test": 200}[split]
        # accuracy, macro-F1; on the second pass (29% neutral; the model's answers follow the
        # first pass's 55%) the margin is smaller
        margin = 0.05 if reading == "second pass" else 0.1
        assert model[4] > vader[4] + margin and model[5] > vader[5] + margin


def test_the_file_is_plain_csv() -> None:
    """One header, LF line ends, UTF-8: what csv.DictReader and DuckDB both read."""
    path = labelled_sets.EVAL_DIR / labelled_sets.SENTIMENT_FILE
    raw = path.read_bytes()
    assert b"\r" not in raw and raw.endswith(b"\n")
    with path.open(encoding="utf-8", newline="") as fh:
        assert next(csv.reader(fh)) == COLUMNS
