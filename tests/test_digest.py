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
    from flushwatch.atomic import write_atomic

    target = tmp_path / "d.md"
    target.write_text("old\n", encoding="utf-8")

    with pytest.raises(TypeError):
        write_atomic(target, 42)  # type: ignore[arg-type]  # not text: fails mid-write
    assert target.read_text(encoding="utf-8") == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["d.md"]


def test_digest_out_honours_the_umask_and_keeps_an_existing_files_mode(
    db: Database, db_path: Path, tmp_path: Path, cli
) -> None:
    import stat

    seed_flush(db)
    new, kept = tmp_path / "web" / "new.html", tmp_path / "web" / "kept.html"
    kept.parent.mkdir()
    kept.write_text("old\n", encoding="utf-8")
    kept.chmod(0o640)
    old_umask = os.umask(0o022)
    try:
        for out in (new, kept):
            r = cli("digest", "--date", "2025-10-10", "--db", str(db_path), "-f", "html", "--out", str(out))
            assert r.code == 3, r.err
    finally:
        os.umask(old_umask)
    # a cron job writing into a web directory: readable by the web server, like `> FILE` would be
    assert stat.S_IMODE(new.stat().st_mode) == 0o644
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640 and kept.read_text(encoding="utf-8") != "old\n"


def test_digest_out_to_an_unwritable_path_is_one_line(
    db: Database, db_path: Path, tmp_path: Path, cli
) -> None:
    seed_flush(db)
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    for out in (blocker / "digest.md", Path("/proc/nope/x.md")):
        r = cli("digest", "--date", "2025-10-10", "--db", str(db_path), "--out", str(out))
        assert r.code == 1 and "Traceback" not in r.err, r.err
        lines = r.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"flushwatch: error: cannot write {out}: "), lines
    assert sorted(os.listdir(tmp_path)) == ["a-file", "test.duckdb"]


def test_since_out_of_range_is_usage_error(db_path: Path, cli) -> None:
    import datetime as dt

    from flushwatch.errors import ConfigError
    from flushwatch.scoring.digest import since_window

    assert cli("db", "migrate", "--db", str(db_path)).code == 0
    r = cli("digest", "--since", "1000000d", "--db", str(db_path))
    assert r.code == 2 and r.err.strip().splitlines() == [
        "flushwatch: error: --since '1000000d': out of range; durations go up to 36600d"
    ]
    with pytest.raises(ConfigError, match="before year 1"):
        since_window(dt.timedelta(days=999_999_999), dt.datetime(2025, 10, 11, tzinfo=dt.UTC))


def test_unattributed_flush_says_so_and_a_failed_feed_names_its_url_once(
    db: Database, db_path: Path, cli
) -> None:
    seed_flush(db)
    with db.write() as con:  # a flush detection found but attribution never ranked
        con.execute(
            """INSERT INTO flushes (flush_id, asset, venue, market, symbol, interval, start_at, peak_at,
                                    end_at, trigger_at, direction, price_move_pct, signals, severity,
                                    detector_version, detected_at)
               SELECT 8, 'ETH', venue, market, 'ETHUSDT', interval, start_at, peak_at, end_at, trigger_at,
                      direction, price_move_pct, signals, severity, detector_version, detected_at
                 FROM flushes WHERE flush_id = 7"""
        )
        # as ingest stores it: str(FeedError), which starts with the URL
        con.execute("UPDATE feeds SET last_error = url || ': HTTP 503'")
    md = cli("digest", "--date", "2025-10-10", "--db", str(db_path)).out
    eth = md[md.index("### #8 ETH") :]
    assert "- not attributed yet (run `flushwatch detect`)" in eth
    assert "no candidate catalysts" not in md
    assert "**feed_failed** Dead Feed: https://dead.example/rss: HTTP 503 (4 consecutive failures)" in md
    html_out = cli("digest", "--date", "2025-10-10", "--db", str(db_path), "-f", "html").out
    assert "<p>not attributed yet (run `flushwatch detect`)</p>" in html_out
    as_json = cli("digest", "--date", "2025-10-10", "--db", str(db_path), "-f", "json").out
    flushes = json.loads(as_json)["flushes"]
    assert [(f["flush_id"], f["attributed"]) for f in flushes] == [(7, True), (8, False)]
    with db.write() as con:  # attributed, and no headline was in the lookback window
        con.execute("UPDATE flushes SET attributed_run_id = 1 WHERE flush_id = 8")
    md = cli("digest", "--date", "2025-10-10", "--db", str(db_path)).out
    assert "- no candidate catalysts (no headlines in the lookback window)" in md[md.index("### #8 ETH") :]


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
