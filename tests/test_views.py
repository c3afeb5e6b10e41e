"""The analyst views exist with their documented columns and compute what they say."""

from __future__ import annotations

import datetime as dt

from flushwatch.storage.db import Database

T = dt.datetime(2024, 6, 3, 14, 0, tzinfo=dt.UTC)


def columns(db: Database, view: str) -> list[str]:
    with db.read() as con:
        return [d[0] for d in con.execute(f"SELECT * FROM {view} LIMIT 0").description]


def test_views_have_expected_columns(db: Database) -> None:
    assert {
        "headline_id",
        "title",
        "url",
        "source",
        "published_at",
        "first_seen_at",
        "sentiment",
        "sentiment_score",
        "importance",
        "event_type",
        "assets",
        "story_id",
    } <= set(columns(db, "v_headlines"))
    assert {"flush_id", "asset", "start_at", "direction", "severity", "top_title"} <= set(
        columns(db, "v_flushes")
    )
    assert {
        "flush_id",
        "rank",
        "score",
        "is_coverage",
        "title",
        "source",
        "published_at",
        "first_seen_at",
        "pts_importance",
        "pts_timing",
    } <= set(columns(db, "v_catalysts"))
    for v in ("v_candles_5m", "v_candles_1h"):
        assert {"symbol", "open_time", "open", "high", "low", "close", "volume"} <= set(columns(db, v))
    assert {"symbol", "minute", "liquidated_usd", "long_liquidated_usd"} <= set(
        columns(db, "v_liquidations_1m")
    )


def test_v_headlines_uses_latest_score_and_resampling_is_right(db: Database) -> None:
    with db.write() as con:
        con.execute(
            """INSERT INTO headlines (headline_id, dedup_key, source, title, published_at, first_seen_at,
                                      origin, content_hash)
               VALUES (1, 'k', 'Wire', 'Something happened', ?, ?, 'feed', 'h')""",
            [T, T],
        )
        for rev, when, label in (("a", T, "bullish"), ("b", T + dt.timedelta(hours=1), "bearish")):
            con.execute(
                """INSERT INTO headline_scores (headline_id, model_name, model_revision, scored_at, sentiment,
                       p_bearish, p_neutral, p_bullish, sentiment_score, importance, event_type,
                       is_market_report)
                   VALUES (1, 'm', ?, ?, ?, 0.5, 0.3, 0.2, -0.3, 40, 'other', FALSE)""",
                [rev, when, label],
            )
        con.execute(
            "INSERT INTO headline_assets VALUES (1, 'ETH', 'ticker', FALSE), (1, 'BTC', 'ticker', FALSE)"
        )
        con.execute(
            """INSERT INTO candles (venue, market, symbol, interval, open_time, open, high, low, close,
                                    volume)
               SELECT 'binance', 'perp', 'BTCUSDT', '1m', ? + to_minutes(i),
                      100 + i, 101 + i, 99 + i, 100.5 + i, 1
                 FROM range(10) t(i)""",
            [T],
        )
        con.execute(
            """INSERT INTO liquidations (venue, symbol, side, price, quantity, notional_usd, event_time,
                                         source)
               VALUES ('binance', 'BTCUSDT', 'long', 100, 1, 100, ?, 'import'),
                      ('binance', 'BTCUSDT', 'short', 100, 2, 200, ?, 'import')""",
            [T, T + dt.timedelta(seconds=30)],
        )
    with db.read() as con:
        assert con.execute("SELECT sentiment, assets FROM v_headlines").fetchall() == [
            ("bearish", ["BTC", "ETH"])
        ]
        bars = con.execute(
            "SELECT open, high, low, close, volume, bars FROM v_candles_5m ORDER BY open_time"
        ).fetchall()
        assert bars == [(100, 105, 99, 104.5, 5, 5), (105, 110, 104, 109.5, 5, 5)]
        assert con.execute("SELECT bars FROM v_candles_1h").fetchall() == [(10,)]
        assert con.execute(
            "SELECT long_liquidated_usd, short_liquidated_usd, events FROM v_liquidations_1m"
        ).fetchall() == [(100, 200, 2)]


def test_hourly_candles_are_utc_hours_in_any_session_time_zone(db: Database) -> None:
    with db.write() as con:
        con.execute(
            """INSERT INTO candles (venue, market, symbol, interval, open_time, open, high, low, close,
                                    volume)
               SELECT 'binance', 'perp', 'BTCUSDT', '1m', ? + to_minutes(i), 100, 101, 99, 100, 1
                 FROM range(120) t(i)""",
            [T],
        )
    with db.read() as con:
        con.execute("SET TimeZone = 'Asia/Kolkata'")  # UTC+5:30: date_trunc('hour') cuts at :30 UTC
        rows = con.execute(
            "SELECT epoch(open_time)::BIGINT % 3600, bars FROM v_candles_1h ORDER BY open_time"
        ).fetchall()
    assert rows == [(0, 60), (0, 60)]


def test_an_older_attribution_version_does_not_repeat_a_flush(db: Database) -> None:
    """After an upgrade the old version's catalyst rows stay; the views show the newest only."""
    from tests.test_attribution import add_flush, add_headline

    with db.write() as con:
        fid = add_flush(con)
        first = add_headline(con, "Exchange halts all customer withdrawals", minutes=-5)
        second = add_headline(con, "Regulator sues the largest exchange", minutes=-3)
        for version, top, other in (("attr-1", second, first), ("attr-2", first, second)):
            for rank, hid in ((1, top), (2, other)):
                con.execute(
                    """INSERT INTO catalysts (flush_id, headline_id, attribution_version, rank, score,
                                              is_coverage, components, headline_time, delay_s)
                       VALUES (?, ?, ?, ?, 50 - ?, FALSE, '{}', now(), -60)""",
                    [fid, hid, version, rank, rank],
                )
    with db.read() as con:
        assert con.execute("SELECT flush_id, top_headline_id FROM v_flushes").fetchall() == [(fid, first)]
        assert con.execute(
            "SELECT rank, headline_id, attribution_version FROM v_catalysts ORDER BY rank"
        ).fetchall() == [(1, first, "attr-2"), (2, second, "attr-2")]
        assert con.execute("SELECT count(*) FROM catalysts").fetchone() == (4,)


def test_every_sql_example_in_the_views_doc_runs(db: Database, tmp_path) -> None:
    """docs/views.md's queries are what analysts copy: each must bind and run on a real file
    (Parquet examples against a real export of it)."""
    import re

    from flushwatch.storage.export import export_parquet

    from .conftest import REPO

    text = (REPO / "docs" / "views.md").read_text(encoding="utf-8")
    queries = re.findall(r"```sql\n(.*?)```", text, flags=re.S)
    assert len(queries) >= 5
    from tests.test_attribution import add_flush, add_headline

    with db.write() as con:  # a row in each exported table the examples read
        add_flush(con)
        add_headline(con, "Exchange halts all customer withdrawals", minutes=-5)
        con.execute(
            """INSERT INTO candles (venue, market, symbol, interval, open_time, open, high, low, close,
                                    volume)
               VALUES ('binance', 'perp', 'BTCUSDT', '1m', TIMESTAMPTZ '2025-10-10 21:00Z', 1, 1, 1, 1, 1)"""
        )
    export = tmp_path / "export"
    export_parquet(db, export)
    with db.read() as con:
        for query in queries:
            sql = query.replace("./export", str(export)).replace("'export/", f"'{export}/")
            con.execute(sql).fetchall()
