"""Catalyst attribution on headlines and scores written here (our own words), in a real DuckDB,
ranked by the shipped model (behaviour that follows from its documented signs) or by a model
written here when a test checks one feature's arithmetic."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from flushwatch.errors import ConfigError
from flushwatch.records.flushes import ATTRIBUTION_VERSION, DETECTOR_VERSION
from flushwatch.scoring.attribution import FEATURES, RankingModel, attribute
from flushwatch.scoring.explain import COMPONENTS
from flushwatch.scoring.thresholds import AttributionSettings, load_thresholds
from flushwatch.storage.db import Connection, Database
from flushwatch.storage.flushes import FlushQuery, get_flush, list_flushes

START = dt.datetime(2024, 6, 3, 14, 0, tzinfo=dt.UTC)


def add_flush(con: Connection, *, asset: str = "BTC", direction: str = "long_flush") -> int:
    row = con.execute(
        """
        INSERT INTO flushes (asset, venue, market, symbol, interval, start_at, peak_at, end_at, trigger_at,
                             direction, price_move_pct, extreme_move_pct, signals, severity,
                             detector_version, detected_at)
        VALUES (?, 'binance', 'perp', ? || 'USDT', '1m', ?, ?, ?, ?, ?, -6, -8, ['move'], 60, ?, now())
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
            DETECTOR_VERSION,
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
            "INSERT INTO stories (story_id, first_headline_id, first_reported_at, title, outlets,"
            " outlet_count, headline_count, updated_at)"
            " VALUES (1, 0, ?, 'exchange halts withdrawals', ['A', 'B'], 2, 2, now())",
            [START - dt.timedelta(minutes=30)],
        )
        cause = add_headline(con, "Exchange halts all customer withdrawals", minutes=-30, story=1)
        con.execute("UPDATE stories SET first_headline_id = ? WHERE story_id = 1", [cause])
        echo = add_headline(con, "Report: exchange said to pause withdrawals", minutes=25, story=1)
        bullish = add_headline(
            con, "Fund buys more bitcoin for its treasury", minutes=-20, bearish=0.05, bullish=0.85
        )
        other = add_headline(con, "Token of a small game project slides", minutes=-25, assets=("XYZ",))
        late = add_headline(con, "Regulator fines a broker over disclosures", minutes=60 * 7, importance=80)
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
    assert late not in ids and too_early not in ids  # outside 6 h before .. 6 h after the start
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
    total = sum(parts[k] for k in COMPONENTS)
    assert abs(total - score) < 0.01 and parts["sentiment"] > 0
    assert parts["relevance_basis"] == "flushed asset"
    with db.read() as con:
        verdict, p = con.execute(
            "SELECT verdict, cause_probability FROM flushes WHERE flush_id = ?", [fid]
        ).fetchone()  # type: ignore[misc]
    assert verdict in ("likely", "possible", "none") and 0 < p < 1


def test_short_squeeze_prefers_bullish_and_after_start_is_discounted_not_excluded(db: Database) -> None:
    with db.write() as con:
        fid = add_flush(con, asset="ETH", direction="short_squeeze")
        bull = add_headline(
            con, "ETF approval expected today", minutes=-10, bearish=0.05, bullish=0.9, assets=("ETH",)
        )
        bear = add_headline(con, "Hack drains a lending protocol", minutes=-10, assets=("ETH",))
        wire = add_headline(
            con, "Court rules for the issuer", minutes=90, bearish=0.05, bullish=0.9, assets=("ETH",)
        )
    attribute(db)
    rows = {r[0]: r for r in ranking(db, fid)}
    assert rows[bull][1] < rows[bear][1]
    assert wire in rows  # after the start: discounted, still a candidate


def test_live_headlines_are_timed_by_first_seen(db: Database) -> None:
    with db.write() as con:
        fid = add_flush(con)
        # Published before the start but only seen by us 3 hours later: timed then when live...
        live = add_headline(
            con, "Exchange insolvency rumours", minutes=-20, origin="feed", seen_delay_min=180
        )
        # ...while the same timing from a backfill uses published_at.
        backfill = add_headline(
            con, "Lender freezes accounts", minutes=-20, origin="import", seen_delay_min=180
        )
    attribute(db)
    with db.read() as con:
        times = dict(
            con.execute("SELECT headline_id, delay_s FROM catalysts WHERE flush_id = ?", [fid]).fetchall()
        )
    assert times[backfill] == -20 * 60 and times[live] == 160 * 60


def test_reattribution_replaces_rows_and_list_flushes_returns_records(db: Database) -> None:
    with db.write() as con:
        fid = add_flush(con)
        hid = add_headline(con, "Exchange halts all customer withdrawals", minutes=-5)
        add_headline(con, "Price slides as liquidations mount", minutes=5, market_report=True)
    attribute(db)
    attribute(db, AttributionSettings(causes_kept=1))
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


def test_detect_reranks_when_scores_arrive_after_the_ranking(db: Database) -> None:
    from flushwatch.scoring.detect import detect_and_attribute

    with db.write() as con:
        fid = add_flush(con)
        hid = add_headline(con, "Exchange halts all customer withdrawals", minutes=-5, importance=90)
        # Stored before the flush was ranked, but not scored yet: ranked with importance 0.
        con.execute("UPDATE headlines SET run_id = 0 WHERE headline_id = ?", [hid])
        con.execute("DELETE FROM headline_scores WHERE headline_id = ?", [hid])
    assert detect_and_attribute(db).flushes_attributed == 1
    with db.read() as con:
        (before,) = con.execute("SELECT components FROM catalysts WHERE flush_id = ?", [fid]).fetchone()
    assert json.loads(before)["unscored"] is True
    with db.run("score") as run, db.write() as con:  # `score` runs later, as its own run
        con.execute(
            """
            INSERT INTO headline_scores (headline_id, model_name, model_revision, scored_at, sentiment,
                                         p_bearish, p_neutral, p_bullish, sentiment_score, importance,
                                         event_type, is_market_report, run_id)
            VALUES (?, 'test', 'r1', now(), 'bearish', 0.9, 0.05, 0.05, -0.85, 90, 'other', FALSE, ?)
            """,
            [hid, run.run_id],
        )
    again = detect_and_attribute(db)
    assert again.flushes_attributed == 1
    with db.read() as con:
        (after,) = con.execute("SELECT components FROM catalysts WHERE flush_id = ?", [fid]).fetchone()
    assert not json.loads(after).get("unscored") and json.loads(after)["importance"] > 0
    assert detect_and_attribute(db).flushes_attributed == 0  # nothing new since: nothing re-ranked


# -- relevance, cross-asset contagion (attr-2) -----------------------------------------------------


#: A model that scores relevance alone, 20 points for the flushed asset: its arithmetic shows.
RELEVANCE_ONLY = RankingModel(
    weights={f: (20.0 if f == "relevance" else 0.0) for f in FEATURES},
    verdict_score=1.0,
    verdict_margin=0.0,
    verdict_bias=0.0,
    likely_at=0.5,
    possible_at=0.2,
    revision="test",
)


def components(db: Database, flush_id: int) -> dict[int, dict[str, Any]]:
    """headline_id -> the stored components of one flush's catalysts."""
    with db.read() as con:
        rows = con.execute(
            "SELECT headline_id, components FROM catalysts WHERE flush_id = ? AND headline_id IS NOT NULL",
            [flush_id],
        ).fetchall()
    return {hid: json.loads(c) for hid, c in rows}


def relevance(db: Database, flush_id: int) -> dict[int, tuple[float, str]]:
    """headline_id -> (relevance points, basis) of one flush's stored catalysts."""
    with db.read() as con:
        rows = con.execute(
            "SELECT headline_id, components FROM catalysts WHERE flush_id = ?", [flush_id]
        ).fetchall()
    return {hid: (json.loads(c)["relevance"], json.loads(c)["relevance_basis"]) for hid, c in rows}


def test_relevance_rule_own_market_untagged_other_and_contagion(db: Database) -> None:
    with db.write() as con:
        fid = add_flush(con)  # BTC, not market-wide
        own = add_headline(con, "Bitcoin miner sells reserves", minutes=-30)
        market = add_headline(con, "Rate decision surprises traders", minutes=-30, assets=("MARKET",))
        untagged = add_headline(con, "Large exchange pauses withdrawals", minutes=-30, assets=())
        small = add_headline(con, "Token of a small game project slides", minutes=-30, assets=("XYZ",))
        stable = add_headline(con, "Stablecoin issuer halts redemptions", minutes=-30, assets=("USDT",))
        leader = add_headline(con, "Ether staking queue jams", minutes=-30, assets=("ETH",))
        flushed = add_headline(con, "Algorithmic token loses its peg", minutes=-30, assets=("LUNA",))
        add_flush(con, asset="LUNA")  # LUNA flushed too, inside BTC's candidate window
    attribute(db, model=RELEVANCE_ONLY)
    rel = relevance(db, fid)
    assert rel[own] == (20.0, "flushed asset")
    assert rel[market] == (12.0, "market-wide headline")
    assert rel[untagged] == (4.0, "untagged")
    assert rel[small] == (0.0, "other asset")
    assert rel[stable] == (7.0, "contagion: systemic USDT")
    assert rel[leader] == (7.0, "contagion: systemic ETH")
    assert rel[flushed] == (7.0, "contagion: LUNA flushed too")


def test_contagion_needs_a_reason_and_follows_the_settings(db: Database) -> None:
    with db.write() as con:
        fid = add_flush(con, asset="SOL")
        small = add_headline(con, "Token of a small game project slides", minutes=-30, assets=("XYZ",))
        luna = add_headline(con, "Algorithmic token loses its peg", minutes=-30, assets=("LUNA",))
        lid = add_flush(con, asset="LUNA")
        # LUNA's own flush started 8 hours earlier: outside SOL's 6-hour window, no link shown.
        con.execute("UPDATE flushes SET start_at = start_at - INTERVAL 8 HOUR WHERE flush_id = ?", [lid])
        stable = add_headline(con, "Stablecoin issuer halts redemptions", minutes=-30, assets=("USDC",))
    attribute(db, model=RELEVANCE_ONLY)
    rel = relevance(db, fid)
    assert rel[small][0] == 0.0 and rel[luna][0] == 0.0 and rel[stable][0] == 7.0
    # A market-wide flush: any other asset's headline may be the cause.
    with db.write() as con:
        con.execute("UPDATE flushes SET market_wide = TRUE WHERE flush_id = ?", [fid])
    attribute(db, model=RELEVANCE_ONLY)
    rel = relevance(db, fid)
    assert rel[small] == (7.0, "contagion: market-wide flush") and rel[luna][0] == 7.0
    # Configurable: the share, and which assets are systemic (an empty list is allowed).
    attribute(db, AttributionSettings(contagion_share=0.5, systemic_assets=()), model=RELEVANCE_ONLY)
    rel = relevance(db, fid)
    assert rel[small] == (10.0, "contagion: market-wide flush") and rel[stable][0] == 10.0
    with db.write() as con:
        con.execute("UPDATE flushes SET market_wide = FALSE WHERE flush_id = ?", [fid])
    attribute(db, AttributionSettings(contagion_share=0.5, systemic_assets=()), model=RELEVANCE_ONLY)
    assert relevance(db, fid)[stable] == (0.0, "other asset")
    attribute(
        db, AttributionSettings(contagion_share=0.0), model=RELEVANCE_ONLY
    )  # attr-1's rule: no contagion at all
    assert relevance(db, fid)[stable] == (0.0, "other asset")


def test_contagion_settings_from_the_config_file() -> None:
    _, w = load_thresholds({"attribution": {"contagion_share": 0.3, "systemic_assets": ["btc", "USDT"]}})
    assert w.contagion_share == 0.3 and w.systemic_assets == ("BTC", "USDT")
    _, w = load_thresholds({"attribution": {"systemic_assets": "BTC, eth"}})
    assert w.systemic_assets == ("BTC", "ETH")
    with pytest.raises(ConfigError, match="list of tickers"):
        load_thresholds({"attribution": {"systemic_assets": 3}})


def test_flushes_ranked_by_an_older_attribution_version_are_reranked_once(db: Database) -> None:
    from flushwatch.scoring.detect import detect_and_attribute

    with db.write() as con:
        fid = add_flush(con)
        hid = add_headline(con, "Stablecoin issuer halts redemptions", minutes=-5, assets=("USDT",))
        # What attr-1 left behind: a ranking, under the old version, by an earlier run.
        con.execute("UPDATE flushes SET attributed_run_id = 1 WHERE flush_id = ?", [fid])
        con.execute(
            """INSERT INTO catalysts (flush_id, headline_id, attribution_version, rank, score,
                                      is_coverage, components, headline_time, delay_s, run_id)
               VALUES (?, ?, 'attr-1', 1, 50, FALSE, '{}', ?, -300, 1)""",
            [fid, hid, START],
        )
    assert detect_and_attribute(db).flushes_attributed == 1
    with db.read() as con:
        versions = con.execute(
            "SELECT attribution_version FROM catalysts WHERE flush_id = ? ORDER BY 1", [fid]
        ).fetchall()
    assert versions == [("attr-1",), (ATTRIBUTION_VERSION,)]  # old rows kept, distinguishable
    assert get_flush(db, fid).catalysts[0].components["relevance_basis"] == "contagion: systemic USDT"
    assert detect_and_attribute(db).flushes_attributed == 0


# -- attr-3: timing on coarse bars, the verdict, the shipped model ----------------------------------


def test_inside_a_coarse_start_bar_timing_is_blind(db: Database) -> None:
    with db.write() as con:
        fid = add_flush(con)
        con.execute("UPDATE flushes SET interval = '1h' WHERE flush_id = ?", [fid])
        early = add_headline(con, "Exchange halts all customer withdrawals", minutes=2)
        later = add_headline(con, "Lender freezes all customer accounts", minutes=50)
        after = add_headline(con, "Broker suspends customer trading", minutes=100)
    attribute(db)
    timing = {h: c["timing"] for h, c in components(db, fid).items()}
    # 2 and 50 minutes into the hour bar are the same moment for all we know; 100 is after it.
    assert timing[early] == timing[later] != timing[after]


def test_verdict_none_without_candidates_and_stronger_with_a_clear_cause(db: Database) -> None:
    with db.write() as con:
        empty = add_flush(con, asset="SOL")  # two days earlier: no headline in its window
        con.execute("UPDATE flushes SET start_at = start_at - INTERVAL 2 DAY WHERE flush_id = ?", [empty])
        clear = add_flush(con)
        add_headline(con, "Exchange halts all customer withdrawals", minutes=-5, importance=95)
    attribute(db)
    with db.read() as con:
        got = dict(con.execute("SELECT flush_id, (verdict, cause_probability) FROM flushes").fetchall())
    assert got[empty] == ("none", 0.0)
    assert got[clear][1] > 0
    [flush] = list_flushes(db, FlushQuery(asset="SOL"))
    assert flush.verdict == "none" and flush.cause_probability == 0.0


def test_the_shipped_model_loads_and_a_broken_one_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = RankingModel.load()
    assert set(model.weights) == set(FEATURES) and 0 < model.possible_at < model.likely_at < 1
    # The documented signs: importance and relevance raise a headline; an opinion lowers it.
    assert model.weights["importance"] > 0 and model.weights["relevance"] > 0 and model.weights["opinion"] < 0
    bad = tmp_path / "ranker.json"
    bad.write_text('{"weights": {}}', encoding="utf-8")
    with pytest.raises(ConfigError, match="not a ranking model"):
        RankingModel.load(bad)


def test_a_scheduled_release_is_a_candidate_and_its_reports_never_outrank_it(db: Database) -> None:
    with db.write() as con:
        fid = add_flush(con)
        con.execute(
            "INSERT INTO calendar_events VALUES (?, 'cpi', 'CPI (May 2024)', 'US', 'test', now())",
            [START - dt.timedelta(minutes=10)],
        )
        report = add_headline(
            con, "US inflation runs hotter than expected in May", minutes=5, importance=99, assets=("MACRO",)
        )
        other = add_headline(con, "Token of a small game project slides", minutes=-30, assets=("XYZ",))
    attribute(db)
    [flush] = list_flushes(db, FlushQuery(asset="BTC", catalysts_per_flush=10))
    by_kind = {c.release_kind: c for c in flush.causes}
    release = by_kind["cpi"]
    assert release.headline_id is None and release.title == "CPI (May 2024) released"
    assert release.source == "US macro calendar" and release.delay_s == -600
    ranks = {c.headline_id: c.rank for c in flush.causes}
    assert release.rank < ranks[report] < ranks[other]  # the report credits the release's story
    with db.read() as con:
        row = con.execute(
            "SELECT title, release_kind FROM v_catalysts WHERE flush_id = ? AND rank = ?", [fid, release.rank]
        ).fetchone()
    assert row == ("CPI (May 2024) released", "cpi")


def test_detect_reranks_when_a_release_is_added_to_the_calendar(db: Database) -> None:
    from flushwatch.scoring.detect import detect_and_attribute

    with db.write() as con:
        fid = add_flush(con)
        add_headline(con, "Exchange halts all customer withdrawals", minutes=-5)
    with db.run("detect") as run:  # ranked once, by a run that started before the release is added
        attribute(db, run_id=run.run_id)
    assert detect_and_attribute(db).flushes_attributed == 0
    with db.write() as con:
        con.execute(
            "INSERT INTO calendar_events VALUES (?, 'jobs', 'Jobs (May 2024)', 'US', 'test', now())",
            [START - dt.timedelta(minutes=20)],
        )
    assert detect_and_attribute(db).flushes_attributed == 1
    assert any(c.release_kind == "jobs" for c in get_flush(db, fid).catalysts)
    assert detect_and_attribute(db).flushes_attributed == 0


def test_flushes_at_the_same_time_form_one_market_event(db: Database) -> None:
    from flushwatch.scoring.market_events import group_market_events

    with db.write() as con:
        btc = add_flush(con)
        eth = add_flush(con, asset="ETH")  # same span
        sol = add_flush(con, asset="SOL")
        con.execute(
            "UPDATE flushes SET start_at = start_at + INTERVAL 35 MINUTE, interval = '1h' WHERE flush_id = ?",
            [sol],
        )
        later = add_flush(con, asset="XRP")  # three hours later: its own event
        con.execute(
            "UPDATE flushes SET start_at = start_at + INTERVAL 3 HOUR, end_at = end_at + INTERVAL 3 HOUR"
            " WHERE flush_id = ?",
            [later],
        )
        up = add_flush(con, asset="DOGE", direction="short_squeeze")  # the other way: its own event
        group_market_events(con, join_gap_min=0)
        got = dict(con.execute("SELECT flush_id, market_event_id FROM flushes").fetchall())
    assert got[btc] == got[eth] == got[sol] == btc  # SOL starts before BTC's flush has ended
    assert got[later] == later and got[up] == up
    from flushwatch.scoring.explain import explain

    assert [f.asset for f in explain(db, btc).event_flushes] == ["ETH", "SOL"]


def test_onset_on_finer_candles_sharpens_the_timing_of_an_hourly_flush(db: Database) -> None:
    with db.write() as con:
        fid = add_flush(con)
        con.execute("UPDATE flushes SET interval = '1h' WHERE flush_id = ?", [fid])
        # 1m candles of the same symbol: flat, then the drop at START + 30 min.
        for m in range(60):
            drop = 2.0 if m == 30 else 0.0
            con.execute(
                "INSERT INTO candles (venue, market, symbol, interval, open_time, open, high, low, close,"
                " volume) "
                "VALUES ('binance', 'spot', 'BTCUSDT', '1m', ?, 100, 100, ?, ?, 1)",
                [START + dt.timedelta(minutes=m), 100 - drop, 100 - drop],
            )
        before = add_headline(con, "Exchange halts all customer withdrawals", minutes=28)
        after = add_headline(con, "Lender freezes all customer accounts", minutes=45)
    attribute(db)
    timing = {h: c["timing"] for h, c in components(db, fid).items()}
    # On hourly bars alone both sit inside the start bar; the 1m onset (START + 30) tells them apart.
    assert timing[before] > timing[after]
