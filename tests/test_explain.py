"""explain: the flush's numbers, catalysts with their components, coverage apart, charts.

Flush and catalyst rows are inserted with SQL here so these tests do not depend on detection
thresholds; tests/test_demo.py covers the whole pipeline end to end.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flushwatch.errors import InputError
from flushwatch.storage.db import Database

T0 = "2025-10-10 20:57:00+00"


def seed_flush(db: Database, *, with_liquidations: bool = False) -> int:
    """One BTC long flush with three causes and one coverage headline, candles around it."""
    with db.write() as con:
        con.execute(
            """
            INSERT INTO feeds (url, name, kind, last_error_at, last_error, consecutive_failures)
            VALUES ('https://dead.example/rss', 'Dead Feed', 'crypto', TIMESTAMPTZ '2025-10-10 12:00+00',
                    'HTTP 503', 4)
            """
        )
        heads = [
            (
                1,
                "Tariff of 100% announced on imports",
                "Wire",
                "2025-10-10 20:52+00",
                90.0,
                "bearish",
                False,
                "MARKET",
            ),
            (
                2,
                "Rare earth export curbs widened",
                "Wire",
                "2025-10-10 07:10+00",
                70.0,
                "bearish",
                False,
                "MARKET",
            ),
            (3, "Stablecoin supply at record", "Desk", "2025-10-10 13:05+00", 30.0, "bullish", False, "USDT"),
            (
                4,
                "Bitcoin plunges as liquidations cascade",
                "Desk",
                "2025-10-10 21:24+00",
                60.0,
                "bearish",
                True,
                "BTC",
            ),
            (
                5,
                "Ether developers set testnet date",
                "Desk",
                "2025-10-10 09:45+00",
                20.0,
                "neutral",
                False,
                "ETH",
            ),
        ]
        for hid, title, src, t, imp, sent, rep, asset in heads:
            con.execute(
                """INSERT INTO headlines (headline_id, dedup_key, source, title, published_at, first_seen_at,
                                          origin, content_hash)
                   VALUES (?, ?, ?, ?, ?, ?, 'import', 'h')""",
                [hid, f"k{hid}", src, title, t, t],
            )
            score = {"bearish": -0.8, "neutral": 0.0, "bullish": 0.7}[sent]
            con.execute(
                """INSERT INTO headline_scores VALUES (?, 'm', 'r1', NULL,
                          TIMESTAMPTZ '2025-10-11 00:00+00', ?,
                          0.1, 0.1, 0.1, ?, ?, 'macro', 0.9, ?, 'en', [], NULL, NULL)""",
                [hid, sent, score, imp, rep],
            )
            con.execute("INSERT INTO headline_assets VALUES (?, ?, 'ticker', FALSE)", [hid, asset])
        con.execute(
            """
            INSERT INTO candles (venue, market, symbol, interval, open_time, open, high, low, close,
                                 volume, quote_volume)
            SELECT 'binance', 'perp', 'BTCUSDT', '1m', t,
                   115000 - 10 * i, 115100 - 10 * i, 114900 - 10 * i - CASE WHEN i = 24 THEN 5000 ELSE 0 END,
                   115000 - 10 * i - 5, 100 + i, (100 + i) * 115000
              FROM (SELECT range AS t, row_number() OVER (ORDER BY range) - 1 AS i
                      FROM range(TIMESTAMPTZ '2025-10-10 20:30+00', TIMESTAMPTZ '2025-10-10 22:30+00',
                                 INTERVAL 1 MINUTE))
            """
        )
        if with_liquidations:
            con.execute(
                """INSERT INTO liquidations VALUES ('binance', 'BTCUSDT', 'long', 104000, 10, 1040000,
                          TIMESTAMPTZ '2025-10-10 21:20:30+00', NULL, 'import', NULL)"""
            )
        con.execute(
            f"""
            INSERT INTO flushes (flush_id, asset, venue, market, symbol, interval, start_at, peak_at, end_at,
                                 trigger_at, direction, price_move_pct, extreme_move_pct, volume_multiple,
                                 signals, severity, detector_version, detected_at)
            VALUES (7, 'BTC', 'binance', 'perp', 'BTCUSDT', '1m', TIMESTAMPTZ '{T0}',
                    TIMESTAMPTZ '2025-10-10 21:20+00', TIMESTAMPTZ '2025-10-10 21:57+00',
                    TIMESTAMPTZ '2025-10-10 21:26+00', 'long_flush', -0.7, -11.2, 3.1, ['move', 'range'],
                    62.5, 'det-1', now())
            """
        )
        cats = [  # (headline, rank, score, coverage, delay_s)
            (1, 1, 71.2, False, -300.0),
            (2, 2, 40.5, False, -49_000.0),
            (3, 3, 12.0, False, -28_000.0),
            (4, 4, 20.0, True, 1_620.0),
        ]
        for hid, rank, score, cov, delay in cats:
            comps = {
                "importance": 27.0,
                "relevance": 12.0,
                "sentiment": 16.0,
                "timing": 14.3,
                "novelty": 10.0,
                "latency": 2.5,
                "unscored": False,
            }
            con.execute(
                """INSERT INTO catalysts (flush_id, headline_id, attribution_version, rank, score,
                                         is_coverage, components, headline_time, delay_s, run_id)
                   VALUES (7, ?, 'attr-1', ?, ?, ?, ?,
                           TIMESTAMPTZ 'epoch' + to_seconds(CAST(? AS BIGINT)), ?, NULL)""",
                [hid, rank, score, cov, json.dumps(comps), 1760129820 + int(delay), delay],
            )
    return 7


def test_explain_returns_catalysts_components_and_coverage_apart(db: Database) -> None:
    from flushwatch.scoring.explain import explain

    fid = seed_flush(db)
    ex = explain(db, fid)
    assert ex.flush.asset == "BTC" and ex.flush.signals == ("move", "range")
    assert [c.headline_id for c in ex.catalysts] == [1, 2, 3]
    assert [c.headline_id for c in ex.coverage] == [4]
    top = ex.catalysts[0]
    assert top.title.startswith("Tariff") and top.importance == 90.0
    assert set(top.components) >= {"importance", "relevance", "sentiment", "timing", "novelty", "latency"}
    assert "importance +27.0" in top.why()
    # bars cover two hours before the start to an hour after the end
    assert ex.bars[0].open_time.isoformat().startswith("2025-10-10T20:30")
    assert all(b.liquidated_usd is None for b in ex.bars)
    # the timeline holds the catalysts in time order
    times = [h.at for h in ex.headlines]
    assert times == sorted(times)
    assert {h.headline_id for h in ex.headlines} >= {1, 2, 3, 4}


def test_explain_unknown_flush_is_input_error(db: Database) -> None:
    from flushwatch.scoring.explain import explain

    seed_flush(db)
    with pytest.raises(InputError, match="no flush with id 999"):
        explain(db, 999)


def test_explain_cli_text_and_json(db_path: Path, db: Database, cli) -> None:
    fid = seed_flush(db)
    r = cli("explain", str(fid), "--db", str(db_path))
    assert r.code == 0, r.err
    assert "Ranked catalysts" in r.out and "Tariff of 100% announced on imports" in r.out
    assert "Coverage" in r.out and "Bitcoin plunges as liquidations cascade" in r.out
    assert "importance +27.0" in r.out
    assert any(ch in r.out for ch in "▁▂▃▄▅▆▇█")  # the price sparkline
    # market data on the timeline, from the seeded candles (bar i: open 115000 - 10 i, low 114900 - 10 i)
    assert "▶ flush start, open 114,730.0" in r.out and "▼ low 114,400.0" in r.out
    r = cli("explain", str(fid), "--db", str(db_path), "--format", "json")
    data = json.loads(r.out)
    assert set(data) == {"flush", "catalysts", "coverage", "timeline", "bars", "market_event"}
    # the flush object holds its numbers; catalysts are only the top-level list (no empty twin)
    assert "catalysts" not in data["flush"] and data["flush"]["flush_id"] == fid
    assert data["catalysts"][0]["rank"] == 1 and data["catalysts"][0]["components"]["timing"] == 14.3
    assert data["coverage"][0]["is_coverage"] is True
    r = cli("explain", "999", "--db", str(db_path))
    assert r.code == 1 and "no flush with id 999" in r.err and "Traceback" not in r.err


def test_liquidations_per_bar_are_shown_when_recorded(db: Database) -> None:
    from flushwatch.scoring.explain import explain

    fid = seed_flush(db, with_liquidations=True)
    bars = {b.open_time.strftime("%H:%M"): b.liquidated_usd for b in explain(db, fid).bars}
    assert bars["21:20"] == 1_040_000 and bars["21:19"] is None


def test_chart_html_and_png(db: Database, tmp_path: Path) -> None:
    from flushwatch.scoring.charts import sparkline, write_chart
    from flushwatch.scoring.explain import explain

    ex = explain(db, seed_flush(db, with_liquidations=True))
    html = write_chart(ex, tmp_path / "c.html").read_text(encoding="utf-8")
    assert html.count("<polyline") == 1 and "<svg" in html and "Tariff of 100%" in html
    assert html.count("<rect") > len(ex.bars)  # one bar per candle plus the flush window
    pytest.importorskip("matplotlib")
    png = write_chart(ex, tmp_path / "c.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert len(sparkline(list(range(500)), width=40)) == 40


def test_chart_honours_the_umask_keeps_a_replaced_files_mode_and_names_an_unwritable_path(
    db: Database, db_path: Path, tmp_path: Path, cli
) -> None:
    import os
    import stat

    fid = seed_flush(db)
    new, kept = tmp_path / "new.html", tmp_path / "kept.html"
    kept.write_text("old\n", encoding="utf-8")
    kept.chmod(0o664)
    old_umask = os.umask(0o022)
    try:
        for chart in (new, kept):
            assert cli("explain", str(fid), "--db", str(db_path), "--chart", str(chart)).code == 0
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o644  # not mkstemp's 0600
    assert stat.S_IMODE(kept.stat().st_mode) == 0o664 and "<svg" in kept.read_text(encoding="utf-8")
    blocked = tmp_path / "new.html" / "c.html"
    r = cli("explain", str(fid), "--db", str(db_path), "--chart", str(blocked))
    assert r.code == 1
    assert r.err.strip().splitlines()[-1].startswith(f"flushwatch: error: cannot write {blocked}")
    assert "Traceback" not in r.err


def test_chart_rejects_other_suffix(db: Database, db_path: Path, tmp_path: Path, cli) -> None:
    fid = seed_flush(db)
    r = cli("explain", str(fid), "--db", str(db_path), "--chart", str(tmp_path / "c.svg"))
    assert r.code == 2 and ".png or .html" in r.err


def test_why_names_the_contagion_rule() -> None:
    import datetime as dt

    from flushwatch.scoring.explain import RankedHeadline

    at = dt.datetime(2025, 10, 10, 20, 57, tzinfo=dt.UTC)

    base = {"importance": 20.0, "relevance": 7.0, "sentiment": 1.0, "timing": 10.0}
    h = RankedHeadline(
        1,
        1,
        "t",
        "s",
        None,
        None,
        at,
        at,
        -60.0,
        38.0,
        False,
        {**base, "relevance_basis": "contagion: systemic USDT"},
        None,
        None,
        None,
    )
    assert "relevance +7.0 (contagion: systemic USDT)" in h.why()
    plain = RankedHeadline(
        1,
        1,
        "t",
        "s",
        None,
        None,
        at,
        at,
        -60.0,
        38.0,
        False,
        {**base, "relevance_basis": "market-wide headline"},
        None,
        None,
        None,
    )
    assert "relevance +7.0," in plain.why() and "(" not in plain.why()
