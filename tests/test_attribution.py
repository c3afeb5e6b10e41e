"""Catalyst attribution on headlines and scores written here (our own words), in a real DuckDB."""

from __future__ import annotations

import datetime as dt
import json

from flushwatch.scoring.attribution import attribute
from flushwatch.scoring.thresholds import AttributionWeights
from flushwatch.storage.db import Connection, Database
from flushwatch.storage.flushes import FlushQuery, get_flush, list_flushes

START = dt.datetime(2024, 6, 3, 14, 0, tzinfo=dt.UTC)


def add_flush(con: Connection, *, asset: str = "BTC", direction: str = "long_flush") -> int:
    row = con.execute(
        """
        INSERT INTO flushes (asset, venue, market, symbol, interval, start_at, peak_at, end_at, trigger_at,
                             direction, price_move_pct, extreme_move_pct, signals, severity,
                             detector_version, detected_at)
        VALUES (?, 'binance', 'perp', ? || 'USDT', '1m', ?, ?, ?, ?, ?, -6, -8, ['move'], 60, 'det-1', now())
        RETURNING flush_id
        """,
        [
            asset,
            asset,
            START,
            START + dt.timedelta(minutes=20),
            START + dt.timedelta(minutes=40),
            START + dt.timedelta(minutes=10),
            direction,
        ],
    ).fetchone()
    assert row is not None
    return int(row[0])


def add_headline(
    con: Connection,
    title: str,
    *,
    minutes: float,
    bearish: float = 0.8,
    bullish: float = 0.05,
    importance: float = 80,
    assets: tuple[str, ...] = ("BTC",),
    market_report: bool = False,
    origin: str = "import",
    story: int | None = None,
    seen_delay_min: float = 0,
) -> int:
    published = START + dt.timedelta(minutes=minutes)
    row = con.execute(
        """
        INSERT INTO headlines (dedup_key, source, title, published_at, first_seen_at, origin,
                               content_hash, story_id)
        VALUES ('title:' || ?, 'Test Wire', ?, ?, ?, ?, 'h', ?) RETURNING headline_id
        """,
        [title, title, published, published + dt.timedelta(minutes=seen_delay_min), origin, story],
    ).fetchone()
    assert row is not None
    hid = int(row[0])
    neutral = 1 - bearish - bullish
    label = "bearish" if bearish > max(bullish, neutral) else ("bullish" if bullish > neutral else "neutral")
    con.execute(
        """
        INSERT INTO headline_scores (headline_id, model_name, model_revision, scored_at, sentiment, p_bearish,
                                     p_neutral, p_bullish, sentiment_score, importance, event_type,
                                     is_market_report)
        VALUES (?, 'test', 'r1', now(), ?, ?, ?, ?, ?, ?, 'other', ?)
        """,
        [hid, label, bearish, neutral, bullish, bullish - bearish, importance, market_report],
    )
    for a in assets:
        con.execute("INSERT INTO headline_assets VALUES (?, ?, 'ticker', FALSE)", [hid, a])
    return hid


def ranking(db: Database, flush_id: int) -> list[tuple[int, int, bool, float]]:
    with db.read() as con:
        return con.execute(
            "SELECT headline_id, rank, is_coverage, score FROM catalysts WHERE flush_id = ? ORDER BY rank",
            [flush_id],
        ).fetchall()


def test_cause_beats_echo_misaligned_irrelevant_late_and_coverage(db: Database) -> None:
    with db.write() as con:
        fid = add_flush(con)
        con.execute(
            "INSERT INTO stories VALUES (1, 0, ?, 'exchange halts withdrawals', ['A', 'B'], 2, 2, now())",
            [START - dt.timedelta(minutes=30)],
        )
        cause = add_headline(con, "Exchange halts all customer withdrawals", minutes=-30, story=1)
        con.execute("UPDATE stories SET first_headline_id = ? WHERE story_id = 1", [cause])
        echo = add_headline(con, "Report: exchange said to pause withdrawals", minutes=25, story=1)
        bullish = add_headline(
            con, "Fund buys more bitcoin for its treasury", minutes=-20, bearish=0.05, bullish=0.85
        )
        other = add_headline(con, "Token of a small game project slides", minutes=-25, assets=("XYZ",))
        late = add_headline(con, "Regulator fines a broker over disclosures", minutes=60 * 5, importance=80)
        report = add_headline(
            con, "Bitcoin tumbles 6% as longs are wiped out", minutes=15, market_report=True, importance=95
        )
        too_early = add_headline(con, "Central bank warns about leverage", minutes=-60 * 7)
    res = attribute(db)
    assert res.flushes == 1
    rows = ranking(db, fid)
    ids = [r[0] for r in rows]
    assert ids[0] == cause
    causes = [r[0] for r in rows if not r[2]]
    assert causes.index(cause) < causes.index(echo)
    assert causes.index(cause) < causes.index(bullish)
    assert causes.index(cause) < causes.index(other)
    assert late not in ids and too_early not in ids  # outside lookback .. peak/grace
    # The market report is coverage: ranked after every cause, whatever its score.
    cov = [r for r in rows if r[2]]
    assert [r[0] for r in cov] == [report]
    assert cov[0][1] == max(r[1] for r in rows)
    # Components are stored and add up to the score.
    with db.read() as con:
        comps, score = con.execute(
            "SELECT components, score FROM catalysts WHERE headline_id = ?", [cause]
        ).fetchone()  # type: ignore[misc]
    parts = json.loads(comps)
    total = sum(v for k, v in parts.items() if k != "unscored")
    assert abs(total - score) < 0.01 and parts["novelty"] == 10.0 and parts["sentiment"] > 0


def test_short_squeeze_prefers_bullish_and_after_start_is_discounted_not_excluded(db: Database) -> None:
    with db.write() as con:
        fid = add_flush(con, asset="ETH", direction="short_squeeze")
        bull = add_headline(
            con, "ETF approval expected today", minutes=-10, bearish=0.05, bullish=0.9, assets=("ETH",)
        )
        bear = add_headline(con, "Hack drains a lending protocol", minutes=-10, assets=("ETH",))
        wire = add_headline(
            con, "Court rules for the issuer", minutes=8, bearish=0.05, bullish=0.9, assets=("MARKET",)
        )
    attribute(db)
    rows = {r[0]: r for r in ranking(db, fid)}
    assert rows[bull][1] < rows[bear][1]
    assert wire in rows  # 8 minutes after start: discounted, still a candidate
    assert rows[wire][3] < rows[bull][3]


def test_live_headlines_are_timed_by_first_seen(db: Database) -> None:
    with db.write() as con:
        fid = add_flush(con)
        # Published before the start but only seen by us 3 hours later: not a candidate when live...
        live = add_headline(
            con, "Exchange insolvency rumours", minutes=-20, origin="feed", seen_delay_min=180
        )
        # ...while the same timing from a backfill uses published_at.
        backfill = add_headline(
            con, "Lender freezes accounts", minutes=-20, origin="import", seen_delay_min=180
        )
    attribute(db)
    ids = [r[0] for r in ranking(db, fid)]
    assert backfill in ids and live not in ids


def test_reattribution_replaces_rows_and_list_flushes_returns_records(db: Database) -> None:
    with db.write() as con:
        fid = add_flush(con)
        hid = add_headline(con, "Exchange halts all customer withdrawals", minutes=-5)
        add_headline(con, "Price slides as liquidations mount", minutes=5, market_report=True)
    attribute(db)
    attribute(db, AttributionWeights(causes_kept=1))
    assert len(ranking(db, fid)) == 2
    [flush] = list_flushes(db, FlushQuery(asset="btc", include_coverage=True))
    assert flush.flush_id == fid and flush.direction == "long_flush"
    assert flush.causes[0].headline_id == hid and flush.causes[0].title.startswith("Exchange")
    assert len(flush.coverage) == 1 and flush.coverage[0].is_coverage
    assert get_flush(db, fid).catalysts[0].rank == 1
    assert list_flushes(db, FlushQuery(min_severity=90)) == []


def test_detect_reranks_only_when_headlines_arrive(db: Database) -> None:
    from flushwatch.scoring.detect import detect_and_attribute

    with db.write() as con:
        fid = add_flush(con)
    first = detect_and_attribute(db)
    assert first.flushes_attributed == 1 and first.catalysts == 0
    assert detect_and_attribute(db).flushes_attributed == 0  # nothing new: nothing re-ranked
    with db.write() as con:  # a headline stored later (by a later run) inside the flush's window
        hid = add_headline(con, "Exchange halts all customer withdrawals", minutes=-5)
        con.execute("UPDATE headlines SET run_id = 999 WHERE headline_id = ?", [hid])
    again = detect_and_attribute(db)
    assert again.flushes_attributed == 1 and [r[0] for r in ranking(db, fid)] == [hid]
