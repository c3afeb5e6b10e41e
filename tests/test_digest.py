"""digest: deterministic bytes, atomic --out, exit 3 when data is missing, JSON shape."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from flushwatch.storage.db import Database
from tests.test_explain import seed_flush


def _fill_day_of_candles(db: Database) -> None:
    """Make 2025-10-10 complete for the seeded series, so no market gap is reported."""
    with db.write() as con:
        con.execute(
            """
            INSERT INTO candles (venue, market, symbol, interval, open_time, open, high, low, close)
            SELECT 'binance', 'perp', 'BTCUSDT', '1m', t, 115000, 115100, 114900, 115000
              FROM range(TIMESTAMPTZ '2025-10-10 00:00+00', TIMESTAMPTZ '2025-10-11 00:00+00',
                         INTERVAL 1 MINUTE) r(t)
             WHERE t < TIMESTAMPTZ '2025-10-10 20:30+00' OR t >= TIMESTAMPTZ '2025-10-10 22:30+00'
            """
        )
        con.execute("UPDATE feeds SET last_success_at = TIMESTAMPTZ '2025-10-10 13:00+00'")


def test_digest_is_byte_identical_across_runs_and_formats(db: Database, db_path: Path, cli) -> None:
    seed_flush(db)
    for fmt in ("markdown", "html", "json"):
        a = cli("digest", "--date", "2025-10-10", "--db", str(db_path), "--format", fmt)
        b = cli("digest", "--date", "2025-10-10", "--db", str(db_path), "--format", fmt)
        assert a.out == b.out and a.out.strip(), fmt
        assert "Tariff of 100% announced on imports" in a.out


def test_digest_sections_and_missing_data_exit_3(db: Database, db_path: Path, cli) -> None:
    seed_flush(db)
    r = cli("digest", "--date", "2025-10-10", "--db", str(db_path))
    assert r.code == 3, r.err
    out = r.out
    assert out.index("## Flushes (1)") < out.index("## Most important headlines") < out.index("## Sentiment")
    # coverage headline is not a catalyst line but is counted
    assert "1 coverage headlines" in out
    assert "**feed_failed** Dead Feed" in out
    assert "**market_gap** binance perp BTCUSDT 1m: 1230 candles missing 2025-10-10 00:00" in out
    assert "coverage warnings" in r.err and "Traceback" not in r.err


def test_digest_exit_0_when_nothing_is_missing(db: Database, db_path: Path, cli) -> None:
    seed_flush(db)
    _fill_day_of_candles(db)
    r = cli("digest", "--date", "2025-10-10", "--db", str(db_path))
    assert r.code == 0, r.out + r.err
    assert "None: every feed answered" in r.out


def test_digest_json_shape(db: Database, db_path: Path, cli) -> None:
    seed_flush(db)
    r = cli("digest", "--date", "2025-10-10", "--db", str(db_path), "--format", "json")
    d = json.loads(r.out)
    assert set(d) == {
        "window",
        "data_until",
        "headline_count",
        "flushes",
        "top_headlines",
        "sentiment",
        "warnings",
    }
    assert d["window"] == {
        "start": "2025-10-10T00:00:00Z",
        "end": "2025-10-11T00:00:00Z",
        "label": "2025-10-10",
    }
    f = d["flushes"][0]
    assert f["flush_id"] == 7 and f["catalysts"][0]["rank"] == 1 and f["coverage_count"] == 1
    assert [h["importance"] for h in d["top_headlines"]] == sorted(
        (h["importance"] for h in d["top_headlines"]), reverse=True
    )
    assert all(h["title"] != "Bitcoin plunges as liquidations cascade" for h in d["top_headlines"])
    market = next(s for s in d["sentiment"] if s["asset"] == "MARKET")
    assert market["headlines"] == 2 and market["bearish"] == 2 and len(market["by_quarter"]) == 4
    assert {w["kind"] for w in d["warnings"]} == {"feed_failed", "market_gap"}


def test_digest_out_is_atomic_and_replaces(db: Database, db_path: Path, tmp_path: Path, cli) -> None:
    seed_flush(db)
    out = tmp_path / "reports" / "digest.html"
    out.parent.mkdir()
    out.write_text("old digest\n", encoding="utf-8")
    inode_before = out.stat().st_ino
    r = cli("digest", "--date", "2025-10-10", "--db", str(db_path), "--format", "html", "--out", str(out))
    assert r.code == 3 and r.out == ""
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "Tariff of 100% announced on imports" in text
    # written to a temp file beside it and renamed over: a new inode, no temp file left behind
    assert out.stat().st_ino != inode_before
    assert sorted(os.listdir(out.parent)) == ["digest.html"]


def test_write_atomic_keeps_old_file_when_writing_fails(tmp_path: Path) -> None:
    from flushwatch.scoring.digest import write_atomic

    target = tmp_path / "d.md"
    target.write_text("old\n", encoding="utf-8")

    with pytest.raises(TypeError):
        write_atomic(target, 42)  # type: ignore[arg-type]  # not text: fails mid-write
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["d.md"]


def test_empty_window_warns_no_headlines_and_no_market_data(db: Database, db_path: Path, cli) -> None:
    seed_flush(db)
    r = cli("digest", "--date", "2024-01-01", "--db", str(db_path), "--format", "json")
    assert r.code == 3
    kinds = {w["kind"] for w in json.loads(r.out)["warnings"]}
    assert {"no_headlines", "no_market_data"} <= kinds


def test_date_and_since_together_is_usage_error(db_path: Path, cli) -> None:
    r = cli("digest", "--date", "2025-10-10", "--since", "24h", "--db", str(db_path))
    assert r.code == 2 and "not both" in r.err
    r = cli("digest", "--since", "yesterday", "--db", str(db_path))
    assert r.code == 2 and "duration" in r.err


def test_recorder_gaps_and_unscored_headlines_are_warnings(db: Database) -> None:
    import datetime as dt

    from flushwatch.scoring.digest import build_digest, day_window

    seed_flush(db)
    _fill_day_of_candles(db)
    with db.write() as con:
        con.execute(
            """INSERT INTO coverage_gaps VALUES ('binance', 'forceOrder', TIMESTAMPTZ '2025-10-10 21:05+00',
                      TIMESTAMPTZ '2025-10-10 21:40+00', 'websocket closed 1006', NULL)"""
        )
        con.execute(
            """INSERT INTO headlines (headline_id, dedup_key, source, title, published_at, first_seen_at,
                                      origin, content_hash)
               VALUES (99, 'k99', 'Desk', 'Not scored yet', TIMESTAMPTZ '2025-10-10 23:00+00',
                       TIMESTAMPTZ '2025-10-10 23:00+00', 'import', 'h')"""
        )
    d = build_digest(db, day_window(dt.date(2025, 10, 10)))
    assert [(w.kind, w.subject) for w in d.warnings] == [
        ("recorder_gap", "binance forceOrder"),
        ("unscored", "headlines"),
    ]
    assert "21:05 → 21:40 UTC (websocket closed 1006)" in d.warnings[0].message
    assert d.headline_count == 6 and d.data_until is not None
