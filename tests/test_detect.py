"""Flush detection on real shared candles, on a calm synthetic series, and incrementally."""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from flushwatch.scoring.detect import asset_of, detect
from flushwatch.scoring.thresholds import DetectThresholds
from flushwatch.storage.db import Database
from tests.test_detect_support import load_candles

T0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


def write_series(
    path: Path,
    *,
    minutes: int,
    seed: int,
    crash_at: int | None = None,
    crash_pct: float | Sequence[float] = -1.0,
    bars: int = 5,
) -> Path:
    """A calm 1m random walk (0.05 % per bar); optionally ``bars`` bars of ``crash_pct`` each on 6x
    volume (or one bar per value when ``crash_pct`` is a sequence)."""
    rng = random.Random(seed)
    pcts = [crash_pct] * bars if isinstance(crash_pct, float | int) else list(crash_pct)
    price = 100.0
    with path.open("w") as fh:
        fh.write("open_time_ms,open_time_utc,open,high,low,close,volume\n")
        for i in range(minutes):
            r = rng.gauss(0, 0.0005)
            vol = 100 * (1 + 0.2 * rng.random())
            if crash_at is not None and crash_at <= i < crash_at + len(pcts):
                r = math.log(1 + pcts[i - crash_at] / 100)
                vol *= 6
            open_ = price
            price = price * math.exp(r)
            high, low = max(open_, price) * 1.0002, min(open_, price) * 0.9998
            t = T0 + dt.timedelta(minutes=i)
            ms = int(t.timestamp() * 1000)
            fh.write(f"{ms},{t:%Y-%m-%dT%H:%M:%SZ},{open_},{high},{low},{price},{vol}\n")
    return path


def flushes(db: Database) -> list[tuple]:
    with db.read() as con:
        return con.execute(
            """SELECT asset, interval, start_at, peak_at, end_at, direction, round(price_move_pct, 6),
                      round(extreme_move_pct, 6), signals, round(severity, 6)
                 FROM flushes ORDER BY start_at"""
        ).fetchall()


def test_asset_of_strips_the_quote() -> None:
    assert asset_of("BTCUSDT") == "BTC"
    assert asset_of("ethusd") == "ETH"
    assert asset_of("SOLBUSD") == "SOL"


def test_calm_series_has_no_flush(db: Database, tmp_path: Path) -> None:
    load_candles(
        db, write_series(tmp_path / "calm.csv", minutes=3 * 1440, seed=1), symbol="BTCUSDT", interval="1m"
    )
    res = detect(db)
    assert res.series == 1 and res.bars == 3 * 1440
    assert flushes(db) == []


@pytest.mark.parametrize(("crash_pct", "direction"), [(-1.0, "long_flush"), (1.0, "short_squeeze")])
def test_injected_move_is_found_with_direction(
    db: Database, tmp_path: Path, crash_pct: float, direction: str
) -> None:
    csv = write_series(tmp_path / "c.csv", minutes=2 * 1440, seed=2, crash_at=1800, crash_pct=crash_pct)
    load_candles(db, csv, symbol="ETHUSDT", interval="1m")
    detect(db)
    found = flushes(db)
    assert len(found) == 1
    asset, interval, start, peak, end, got_direction, _move, extreme, signals, severity = found[0]
    assert (asset, interval, got_direction) == ("ETH", "1m", direction)
    assert start <= T0 + dt.timedelta(minutes=1800) <= peak <= end
    assert abs(extreme) >= 4.5 and "move" in signals and "volume" in signals
    assert 0 < severity <= 100


def test_incremental_equals_full(tmp_path: Path) -> None:
    csv = write_series(tmp_path / "c.csv", minutes=4 * 1440, seed=3, crash_at=3 * 1440 - 10)
    full = Database(tmp_path / "full.duckdb", snapshot=False)
    load_candles(full, csv, symbol="BTCUSDT", interval="1m")
    detect(full, full=True)

    inc = Database(tmp_path / "inc.duckdb", snapshot=False)
    load_candles(inc, csv, symbol="BTCUSDT", interval="1m")
    with inc.write() as con:  # keep the last day aside, detect, then add it back day by day
        con.execute(
            "CREATE TABLE held AS SELECT * FROM candles WHERE open_time >= ?", [T0 + dt.timedelta(days=3)]
        )
        con.execute("DELETE FROM candles WHERE open_time >= ?", [T0 + dt.timedelta(days=3)])
    detect(inc)
    for hours in (6, 12, 18, 24):
        with inc.write() as con:
            con.execute(
                "INSERT INTO candles SELECT * FROM held WHERE open_time < ? "
                "AND open_time NOT IN (SELECT open_time FROM candles)",
                [T0 + dt.timedelta(days=3, hours=hours)],
            )
        res = detect(inc)
        assert not res.full and res.bars < 2 * 1440  # only the new bars plus the baseline overlap
    assert flushes(inc) == flushes(full) and len(flushes(full)) == 1
    # Nothing new: nothing examined.
    assert detect(inc).series == 0


def _load_many(db: Database, tmp_path: Path, *, liquidations: bool = True) -> None:
    """Three series (BTC perp and spot, ETH perp) with crashes on different days, and a
    burst of BTC liquidations: what an incremental run computes in one batched query."""
    for name, sym, market, seed, crash in (
        ("btc", "BTCUSDT", "perp", 11, 3 * 1440 - 10),
        ("btcspot", "BTCUSDT", "spot", 11, 3 * 1440 - 10),
        ("eth", "ETHUSDT", "perp", 12, 2 * 1440 + 300),
    ):
        csv = write_series(tmp_path / f"{name}.csv", minutes=4 * 1440, seed=seed, crash_at=crash)
        load_candles(db, csv, symbol=sym, interval="1m", market=market)
    if liquidations:
        with db.write() as con:
            con.execute(
                """INSERT INTO liquidations (venue, symbol, side, price, quantity, notional_usd,
                                             event_time, source)
                   SELECT 'binance', 'BTCUSDT', 'long', 100, 1, 1000, ? + to_minutes(i), 'import'
                     FROM range(4 * 1440) t(i)""",
                [T0],
            )
            con.execute(
                """INSERT INTO liquidations (venue, symbol, side, price, quantity, notional_usd,
                                             event_time, source)
                   SELECT 'binance', 'BTCUSDT', 'long', 100, 500, 50000, ? + to_seconds(i), 'import'
                     FROM range(300) t(i)""",
                [T0 + dt.timedelta(days=3, hours=4)],
            )


def test_incremental_equals_full_for_many_series(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several series (and liquidations) computed together in one batched query give what one
    query per series gives."""
    import flushwatch.scoring.detect as detect_mod

    full = Database(tmp_path / "full.duckdb", snapshot=False)
    _load_many(full, tmp_path)
    with monkeypatch.context() as m:
        m.setattr(detect_mod, "BATCH_BARS", 1)  # the reference: every series in its own query
        assert detect(full, full=True).series == 3

    inc = Database(tmp_path / "inc.duckdb", snapshot=False)
    _load_many(inc, tmp_path)
    with inc.write() as con:
        con.execute(
            "CREATE TABLE held AS SELECT * FROM candles WHERE open_time >= ?", [T0 + dt.timedelta(days=2)]
        )
        con.execute("DELETE FROM candles WHERE open_time >= ?", [T0 + dt.timedelta(days=2)])
    detect(inc)
    for hours in (12, 24, 30, 36, 48):
        with inc.write() as con:
            con.execute(
                "INSERT INTO candles SELECT * FROM held h WHERE open_time < ? AND NOT EXISTS ("
                "SELECT 1 FROM candles c WHERE c.market = h.market AND c.symbol = h.symbol "
                "AND c.open_time = h.open_time)",
                [T0 + dt.timedelta(days=2, hours=hours)],
            )
        res = detect(inc)
        assert res.series == 3 and not res.full
    got = flushes(inc)
    assert got == flushes(full)
    assert {(r[0], r[1]) for r in got} == {("BTC", "1m"), ("ETH", "1m")} and len(got) >= 3
    with inc.read() as con:  # each series saw only its own symbol's liquidations
        liq = dict(con.execute("SELECT asset, max(liquidated_usd) FROM flushes GROUP BY 1").fetchall())
    assert liq["ETH"] is None and liq["BTC"] >= 300 * 50000


def test_new_series_with_only_old_bars_is_detected_in_full(tmp_path: Path) -> None:
    """A series imported after a run, all of its bars older than every watermark, is not
    missed by the incremental plan (it has no watermark of its own)."""
    db = Database(tmp_path / "late.duckdb", snapshot=False)
    calm = write_series(tmp_path / "calm.csv", minutes=4 * 1440, seed=1)
    load_candles(db, calm, symbol="SOLUSDT", interval="1m")
    assert detect(db).series == 1 and flushes(db) == []
    crash = write_series(tmp_path / "eth.csv", minutes=2 * 1440, seed=2, crash_at=1800)
    load_candles(db, crash, symbol="ETHUSDT", interval="1m")  # T0 .. T0+2d: before SOL's watermark
    res = detect(db)
    assert res.series == 1 and res.bars == 2 * 1440
    assert [r[0] for r in flushes(db)] == ["ETH"]
    assert detect(db).series == 0


def _window(db: Database, asset: str, start: str, end: str) -> list[tuple]:
    with db.read() as con:
        return con.execute(
            "SELECT direction, extreme_move_pct, interval FROM flushes "
            "WHERE asset = ? AND start_at BETWEEN ? AND ?",
            [asset, start, end],
        ).fetchall()


def test_known_flushes_in_shared_data(db: Database, shared_data: Path) -> None:
    onem = shared_data / "prices_binance_usdm_btcusdt_1m_flush_windows"
    for f in sorted(onem.glob("*.csv")):
        load_candles(db, f, symbol="BTCUSDT", interval="1m")
    load_candles(
        db,
        shared_data / "prices_binance_spot_1h_2017_2022/ETH_USDT-1h_2017-08-17_2022-10-11.csv.gz",
        symbol="ETHUSDT",
        interval="1h",
        market="spot",
    )
    load_candles(
        db,
        shared_data / "prices_binance_spot_15m_2024_2025/BTC_USDT-15m_2024-01-01_2025-08-27.csv.gz",
        symbol="BTCUSDT",
        interval="15m",
        market="spot",
    )
    load_candles(
        db,
        shared_data
        / "prices_binance_usdm_btcusdt_1h_2019_2022"
        / "BTC_USDT-1h-usdm-futures_2019-09-08_2022-07-27.csv.gz",
        symbol="BTCUSDT",
        interval="1h",
    )
    detect(db)
    # Multi-hour slides on BTC perp 1h that no 30-minute window flags: the 4-hour leg, with the
    # start where the slide starts (the documented onsets: 02:00, 14:00 main leg, 23:00)
    for start, end in (
        ("2022-02-24 01:00", "2022-02-24 03:00"),  # invasion
        ("2022-05-09 13:00", "2022-05-09 15:00"),  # UST depeg, the afternoon
        ("2022-06-12 21:00", "2022-06-13 00:00"),  # Celsius freeze
    ):
        with db.read() as con:
            found = con.execute(
                "SELECT signals, extreme_move_pct FROM flushes WHERE asset = 'BTC' AND interval = '1h' "
                "AND start_at BETWEEN ? AND ?",
                [start, end],
            ).fetchall()
        assert any("move_4h" in sig and m <= -5 for sig, m in found), (start, found)
    luna = _window(db, "ETH", "2022-05-09", "2022-05-13")  # LUNA/UST collapse, 1h candles
    assert any(d == "long_flush" and i == "1h" and m <= -5 for d, m, i in luna)
    ftx = _window(db, "BTC", "2022-11-08 17:00", "2022-11-08 20:00")  # FTX, 1m window
    assert any(d == "long_flush" and i == "1m" and m <= -5 for d, m, i in ftx)
    yen = _window(db, "BTC", "2024-08-04 12:00", "2024-08-05 12:00")  # yen-carry unwind, 15m
    assert any(d == "long_flush" and i == "15m" and m <= -5 for d, m, i in yen)
    oct10 = _window(db, "BTC", "2025-10-10 20:00", "2025-10-10 23:00")  # tariff cascade, 1m window
    assert any(d == "long_flush" and i == "1m" and m <= -8 for d, m, i in oct10)
    with db.read() as con:  # quiet: no flooding (15m BTC 2024-2025: ~20 months of data)
        row = con.execute("SELECT count(*) FROM flushes WHERE asset = 'BTC' AND interval = '15m'").fetchone()
    assert row is not None and 10 <= row[0] <= 20 * 8


def test_thresholds_change_forces_full_redetection(db: Database, tmp_path: Path) -> None:
    csv = write_series(tmp_path / "c.csv", minutes=2 * 1440, seed=4, crash_at=1800)
    load_candles(db, csv, symbol="BTCUSDT", interval="1m")
    detect(db)
    assert len(flushes(db)) == 1
    res = detect(db, DetectThresholds(min_move_pct=50.0))
    assert res.bars == 2 * 1440 and flushes(db) == []


def test_a_flush_keeps_its_id_when_thresholds_move_its_start(db: Database, tmp_path: Path) -> None:
    # A slide of 20 bars, then the plunge: the defaults flag the slide (its 15-minute z-score)
    # and start the flush where it began; with a z-score out of reach only the plunge's size
    # fires, and the flush starts there.
    slide = (-0.1,) * 20 + (-3.0, -1.0)
    csv = write_series(tmp_path / "c.csv", minutes=2 * 1440, seed=5, crash_at=1800, crash_pct=slide)
    load_candles(db, csv, symbol="BTCUSDT", interval="1m")

    def ids() -> list[tuple[int, dt.datetime]]:
        with db.read() as con:
            return con.execute("SELECT flush_id, start_at FROM flushes").fetchall()

    detect(db)
    ((first_id, first_start),) = ids()
    detect(db, DetectThresholds(move_z=50.0))
    ((moved_id, moved_start),) = ids()
    assert first_start == T0 + dt.timedelta(minutes=1800)
    assert moved_start == T0 + dt.timedelta(minutes=1820) and moved_id == first_id
    detect(db)
    assert ids() == [(first_id, first_start)]


def test_backfilled_older_candles_are_detected_without_full(tmp_path: Path) -> None:
    """Candles imported after a run but older than the series' watermark (a backfill) are
    re-examined by the next incremental run: the same flushes as a full run, no --full."""
    csv = write_series(tmp_path / "c.csv", minutes=4 * 1440, seed=3, crash_at=1440 + 300)
    lines = csv.read_text().splitlines(keepends=True)
    recent = tmp_path / "recent.csv"  # days 2-4: calm
    recent.write_text(lines[0] + "".join(lines[1 + 2 * 1440 :]))
    db = Database(tmp_path / "inc.duckdb", snapshot=False)
    load_candles(db, recent, symbol="BTCUSDT", interval="1m")
    assert detect(db).series == 1 and flushes(db) == []
    load_candles(db, csv, symbol="BTCUSDT", interval="1m")  # days 0-1 backfilled, crash in day 1
    res = detect(db)
    assert not res.full and res.series == 1

    full = Database(tmp_path / "full.duckdb", snapshot=False)
    load_candles(full, csv, symbol="BTCUSDT", interval="1m")
    detect(full, full=True)
    assert flushes(db) == flushes(full) and len(flushes(full)) == 1
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM market_changes").fetchone() == (0,)  # consumed
    assert detect(db).series == 0


def test_liquidations_imported_after_their_candles_update_the_flush(tmp_path: Path) -> None:
    """Liquidations stored after the candles were detected (a late import) reach the flush on
    the next incremental run, as a full run would have it; live rows past the watermark are
    not listed as changes."""
    import flushwatch.storage.market as store

    crash = T0 + dt.timedelta(minutes=1800)
    csv = write_series(tmp_path / "c.csv", minutes=2 * 1440, seed=5, crash_at=1800)

    def add_liquidations(db: Database, start: dt.datetime, n: int) -> int:
        with db.write() as con:
            con.execute(
                """CREATE OR REPLACE TEMP TABLE _stage AS
                   SELECT 'binance' AS venue, 'BTCUSDT' AS symbol, 'long' AS side, 100.0 AS price,
                          500.0 AS quantity, 50000.0 AS notional_usd,
                          ?::TIMESTAMPTZ + to_seconds(i) AS event_time, NULL::TIMESTAMPTZ AS receive_time,
                          'import' AS source
                     FROM range(?) t(i)""",
                [start, n],
            )
            return store.insert_new(con, "liquidations", "_stage", None)

    db = Database(tmp_path / "late.duckdb", snapshot=False)
    load_candles(db, csv, symbol="BTCUSDT", interval="1m")
    detect(db)
    with db.read() as con:
        before = con.execute("SELECT liquidated_usd, liquidation_note FROM flushes").fetchall()
    assert len(before) == 1 and before[0][0] is None
    assert add_liquidations(db, crash, 300) == 300
    res = detect(db)
    assert not res.full and res.series == 1

    full = Database(tmp_path / "full.duckdb", snapshot=False)
    load_candles(full, csv, symbol="BTCUSDT", interval="1m")
    add_liquidations(full, crash, 300)
    detect(full, full=True)
    assert flushes(db) == flushes(full)
    with db.read() as con, full.read() as fcon:
        got = con.execute("SELECT liquidated_usd FROM flushes").fetchall()
        assert got == fcon.execute("SELECT liquidated_usd FROM flushes").fetchall()
        assert got[0][0] >= 300 * 50000
    # A row past every watermark (the live recorder's case) is not a change to re-examine.
    add_liquidations(db, T0 + dt.timedelta(days=3), 1)
    with db.read() as con:
        assert con.execute("SELECT count(*) FROM market_changes").fetchone() == (0,)


def test_liquidations_oi_funding_and_market_wide(db: Database, tmp_path: Path) -> None:
    crash = T0 + dt.timedelta(minutes=1800)
    for sym, seed in (("BTCUSDT", 5), ("ETHUSDT", 6)):
        csv = write_series(tmp_path / f"{sym}.csv", minutes=2 * 1440, seed=seed, crash_at=1800)
        load_candles(db, csv, symbol=sym, interval="1m")
    with db.write() as con:
        # A steady trickle of small liquidations, then a burst during the crash (one per second).
        con.execute(
            """INSERT INTO liquidations (venue, symbol, side, price, quantity, notional_usd, event_time,
                                         source)
               SELECT 'binance', 'BTCUSDT', 'long', 100, 1, 1000, ? + to_minutes(i), 'import'
                 FROM range(2 * 1440) t(i)""",
            [T0],
        )
        con.execute(
            """INSERT INTO liquidations (venue, symbol, side, price, quantity, notional_usd, event_time,
                                         source)
               SELECT 'binance', 'BTCUSDT', 'long', 100, 500, 50000, ? + to_seconds(i), 'import'
                 FROM range(300) t(i)""",
            [crash],
        )
        con.execute(
            "INSERT INTO funding_rates VALUES ('binance', 'BTCUSDT', ?, 0.0012, NULL, NULL)",
            [crash - dt.timedelta(hours=3)],
        )
        con.execute(
            """INSERT INTO open_interest VALUES
               ('binance', 'BTCUSDT', '5m', ?, 1000, NULL, NULL),
               ('binance', 'BTCUSDT', '5m', ?, 900, NULL, NULL)""",
            [crash - dt.timedelta(minutes=35), crash + dt.timedelta(minutes=5)],
        )
    detect(db)
    with db.read() as con:
        rows = con.execute(
            """SELECT asset, signals, liquidated_usd, liquidation_note, funding_before, oi_change_pct,
                      market_wide
                 FROM flushes ORDER BY asset"""
        ).fetchall()
    assert [r[0] for r in rows] == ["BTC", "ETH"]
    btc, eth = rows
    assert {"liquidations", "funding_extreme", "oi_drop"} <= set(btc[1])
    assert btc[2] is not None and btc[2] >= 300 * 50000 and "floor" in btc[3]
    assert btc[4] == 0.0012 and round(btc[5]) == -10
    assert eth[2] is None and "no liquidations" in eth[3]
    assert btc[6] and eth[6]  # two assets flushing together: market-wide


@pytest.mark.parametrize(
    "args",
    [["--move-z", "-1"], ["--min-move-pct", "-5"], ["--horizon-min", "0"]],
)
def test_thresholds_out_of_range_are_usage_errors_that_change_nothing(cli, db_path: Path, args) -> None:
    """A negative z would flag every bar and, as a new fingerprint, replace every stored flush."""
    assert cli("db", "migrate", "--db", str(db_path)).code == 0
    result = cli("detect", *args, "--db", str(db_path))
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1, result.err
    assert "must be" in result.err
    with Database(db_path).read() as con:
        assert con.execute("SELECT count(*) FROM runs WHERE command = 'detect'").fetchone() == (0,)


def test_thresholds_and_weights_check_their_ranges() -> None:
    from flushwatch.errors import ConfigError
    from flushwatch.scoring.thresholds import AttributionSettings

    for bad in ({"move_z": 0.0}, {"market_wide_assets": 1}, {"horizon_min": 0}):
        with pytest.raises(ConfigError):
            DetectThresholds(**bad)  # type: ignore[arg-type]
    for bad_w in ({"contagion_share": 1.5}, {"causes_kept": 0}, {"lookback_min": 0}):
        with pytest.raises(ConfigError):
            AttributionSettings(**bad_w)  # type: ignore[arg-type]
    assert DetectThresholds(min_move_pct=0.0).min_move_pct == 0.0
