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
