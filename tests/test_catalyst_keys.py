"""The catalyst keys in eval/ follow their codebook (eval/catalysts.md) and resolve to real
headlines in the shared data."""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter
from pathlib import Path

import pytest

from .conftest import REPO

EVAL = REPO / "eval"
EVENT_COLUMNS = [
    "event_id", "asset", "direction", "window_start", "window_end", "onset", "onset_interval",
    "move_pct", "kind", "release", "release_time", "catalyst", "first_catalyst_at", "late_min",
    "news_dataset", "notes",
]
HEADLINE_COLUMNS = ["event_id", "dataset", "title_md5", "published_at", "role"]
ROLES = {"first_report", "same_story", "coverage_with_cause"}


def _rows(name: str, columns: list[str]) -> list[dict[str, str]]:
    with (EVAL / name).open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == columns, f"{name}: columns {reader.fieldnames}"
        return list(reader)


def _utc(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert when.tzinfo is not None and when.utcoffset() == dt.timedelta(0), text
    return when


def test_events_follow_the_codebook() -> None:
    events = _rows("catalyst_events.csv", EVENT_COLUMNS)
    assert len(events) >= 15
    assert len({e["event_id"] for e in events}) == len(events)
    for e in events:
        assert e["direction"] in ("down", "up"), e["event_id"]
        assert e["kind"] in ("news", "release", "none"), e["event_id"]
        start, end, onset = _utc(e["window_start"]), _utc(e["window_end"]), _utc(e["onset"])
        assert start <= onset < end, e["event_id"]
        assert e["onset_interval"] in ("1m", "5m", "15m", "1h"), e["event_id"]
        if e["kind"] == "release":
            assert e["release"] and _utc(e["release_time"]), e["event_id"]
        if e["kind"] != "none" and e["first_catalyst_at"]:
            late = (_utc(e["first_catalyst_at"]) - onset).total_seconds() / 60
            assert abs(late - float(e["late_min"])) <= 1, e["event_id"]
    kinds = Counter(e["kind"] for e in events)
    assert kinds["release"] >= 2
    assert sum(1 for e in events if e["late_min"] and 15 <= float(e["late_min"]) <= 180) >= 2


def test_every_news_event_names_its_story() -> None:
    events = {e["event_id"]: e for e in _rows("catalyst_events.csv", EVENT_COLUMNS)}
    heads = _rows("catalyst_headlines.csv", HEADLINE_COLUMNS)
    assert {h["event_id"] for h in heads} <= set(events)
    for h in heads:
        assert h["role"] in ROLES and re.fullmatch(r"[0-9a-f]{32}", h["title_md5"]), h
        _utc(h["published_at"])
    firsts = Counter(h["event_id"] for h in heads if h["role"] == "first_report")
    for event_id, e in events.items():
        if e["kind"] == "news":
            assert firsts[event_id] >= 1, f"{event_id} names no first report"


@pytest.mark.shared
def test_every_key_resolves_to_a_shared_headline() -> None:
    from flushwatch.config import shared_data_dir
    from flushwatch.training.labelled_sets import headline_titles

    if shared_data_dir() is None:
        pytest.skip("../shared/data is absent (set FLUSHWATCH_SHARED_DATA)")
    heads = _rows("catalyst_headlines.csv", HEADLINE_COLUMNS)
    missing = [
        (h["event_id"], h["title_md5"])
        for h in heads
        if h["title_md5"] not in headline_titles(h["dataset"], "the catalyst keys test")
    ]
    assert not missing, missing


def test_the_codebook_names_every_column() -> None:
    text = Path(EVAL / "catalysts.md").read_text(encoding="utf-8")
    for column in EVENT_COLUMNS + HEADLINE_COLUMNS:
        assert f"`{column}`" in text, column


JUDGED_COLUMNS = ["flush", "dataset", "title_md5", "label", "pass"]


def test_judged_flushes_follow_the_codebook() -> None:
    rows = _rows("judged_flushes.csv", JUDGED_COLUMNS)
    assert {r["label"] for r in rows} <= {"cause", "coverage", "commentary", "unrelated"}
    assert {r["pass"] for r in rows} == {"1", "2"}
    first = {(r["flush"], r["dataset"], r["title_md5"]) for r in rows if r["pass"] == "1"}
    second = [(r["flush"], r["dataset"], r["title_md5"]) for r in rows if r["pass"] == "2"]
    assert len(first) == sum(1 for r in rows if r["pass"] == "1"), "a candidate judged twice in pass 1"
    assert set(second) <= first, "the second pass judged a candidate the first did not"
    assert len({f for f, _, _ in first}) >= 80
    assert len({f for f, _, _ in second}) >= 30
    for flush, _, md5 in first:
        assert re.fullmatch(r"[A-Z0-9]+-(1m|5m|15m|1h|4h)-\d{4}-\d\d-\d\dT\d\d:\d\dZ", flush), flush
        assert re.fullmatch(r"[0-9a-f]{32}", md5)


@pytest.mark.shared
def test_every_judged_candidate_resolves_to_a_shared_headline() -> None:
    from flushwatch.config import shared_data_dir
    from flushwatch.training.labelled_sets import headline_titles

    if shared_data_dir() is None:
        pytest.skip("../shared/data is absent (set FLUSHWATCH_SHARED_DATA)")
    rows = _rows("judged_flushes.csv", JUDGED_COLUMNS)
    missing = {
        (r["dataset"], r["title_md5"])
        for r in rows
        if r["title_md5"] not in headline_titles(r["dataset"], "the judged flushes test")
    }
    assert not missing, sorted(missing)[:5]
