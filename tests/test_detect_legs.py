"""Multi-horizon detection: the 15-minute, 30-minute and 4-hour legs on 1m to 1h candles, the
start a long leg finds, one flush per move, ids kept, and a replayed watch with no look-ahead."""

from __future__ import annotations

import datetime as dt
import math
import random
from pathlib import Path

import pytest

from flushwatch.errors import ConfigError
from flushwatch.records.flushes import DETECTOR_VERSION
from flushwatch.scoring.detect import detect
from flushwatch.scoring.thresholds import DetectThresholds, load_thresholds
from flushwatch.scoring.watch import read_frame
from flushwatch.storage.db import Database
from tests.test_detect_support import load_candles

T0 = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
DECLINE_AT = 3 * 1440  # minute of the slow decline's first bar: day 3, 00:00
Bar = tuple[dt.datetime, float, float, float, float, float]  # open time, open, high, low, close, volume


def minutes(
    n: int,
    seed: int,
    *,
    decline_pct: float = 0.0,
    crash_at: int | None = None,
    crash_pct: float = 0.0,
    crash_bars: int = 0,
    noise: float = 0.0005,
    wild: float = 0.0,
) -> list[Bar]:
    """1m bars of a random walk (``noise`` per bar; a share ``wild`` of bars four times wider,
    with volume bursts of their own): optionally a steady ``decline_pct`` over the 240 bars
    from DECLINE_AT on ordinary volume, and ``crash_bars`` bars of ``crash_pct`` each on 6x."""
    rng = random.Random(seed)
    drift = math.log(1 + decline_pct / 100) / 240
    price, rows = 100.0, []
    for i in range(n):
        wide = rng.random() < wild
        r = rng.gauss(0, noise * (4 if wide else 1))
        vol = 100 * (1 + 0.2 * rng.random()) * (rng.choice((1, 3)) if wide else 1)
        if DECLINE_AT <= i < DECLINE_AT + 240:
            r += drift
        if crash_at is not None and crash_at <= i < crash_at + crash_bars:
            r, vol = math.log(1 + crash_pct / 100), vol * 6
        open_ = price
        price = price * math.exp(r)
        rows.append(
            (
                T0 + dt.timedelta(minutes=i),
                open_,
                max(open_, price) * 1.0002,
                min(open_, price) * 0.9998,
                price,
                vol,
            )
        )
    return rows


def bars_of(rows: list[Bar], size: int) -> list[Bar]:
    """1m bars aggregated into bars of ``size`` minutes (the first bar opens at T0)."""
    return [
        (b[0][0], b[0][1], max(x[2] for x in b), min(x[3] for x in b), b[-1][4], sum(x[5] for x in b))
        for b in (rows[j : j + size] for j in range(0, len(rows) - size + 1, size))
    ]


def load(db: Database, path: Path, rows: list[Bar], interval: str = "1m") -> None:
    with path.open("w") as fh:
        fh.write("open_time_ms,open_time_utc,open,high,low,close,volume\n")
        for t, o, h, lo, c, v in rows:
            fh.write(f"{int(t.timestamp() * 1000)},{t:%Y-%m-%dT%H:%M:%SZ},{o},{h},{lo},{c},{v}\n")
    load_candles(db, path, symbol="BTCUSDT", interval=interval)


def stored(db: Database) -> list[tuple]:
    with db.read() as con:
        return con.execute(
            """SELECT flush_id, start_at, trigger_at, end_at, direction, round(extreme_move_pct, 6), signals,
                      round(severity, 6), detector_version
                 FROM flushes ORDER BY start_at"""
        ).fetchall()


@pytest.mark.parametrize(("interval", "size"), [("1m", 1), ("5m", 5), ("15m", 15), ("1h", 60)])
def test_slow_decline_is_found_by_the_long_leg(tmp_path: Path, interval: str, size: int) -> None:
    """-8 % over four hours, steady, on ordinary volume: no 15- or 30-minute window fires (each
    holds about 1 %), the 4-hour leg does, and the flush starts where the decline starts."""
    rows = bars_of(minutes(4 * 1440, seed=2, decline_pct=-8.0), size)
    short_only = Database(tmp_path / "short.duckdb", snapshot=False)
    load(short_only, tmp_path / "c.csv", rows, interval)
    detect(short_only, DetectThresholds(long_horizon_min=0))
    assert stored(short_only) == []

    db = Database(tmp_path / "legs.duckdb", snapshot=False)
    load(db, tmp_path / "c.csv", rows, interval)
    detect(db)
    ((_, start, trigger, end, direction, extreme, signals, _, _),) = stored(db)
    decline = T0 + dt.timedelta(minutes=DECLINE_AT)
    assert direction == "long_flush" and extreme <= -7.0
    assert "move_4h" in signals and not {"move_15m", "move_30m"} & set(signals)
    assert abs(start - decline) <= dt.timedelta(minutes=max(20, size))  # not 4 hours before the trigger
    assert start < trigger < decline + dt.timedelta(hours=4) <= end


def test_sharp_crash_is_one_flush_for_every_leg_that_fired(db: Database, tmp_path: Path) -> None:
    """Eight bars of -1 % fire the 15-minute, 30-minute and 4-hour legs: one flush, which
    names each of them and starts at the crash."""
    load(db, tmp_path / "c.csv", minutes(2 * 1440, seed=2, crash_at=1800, crash_pct=-1.0, crash_bars=8))
    detect(db)
    ((_, start, _, _, direction, extreme, signals, _, _),) = stored(db)
    assert start == T0 + dt.timedelta(minutes=1800) and direction == "long_flush" and extreme <= -7.0
    assert {"move", "move_15m", "move_30m", "move_4h", "volume"} <= set(signals)


@pytest.mark.parametrize("kind", ["flat", "noisy"])
def test_flat_or_noisy_series_has_no_flush(db: Database, tmp_path: Path, kind: str) -> None:
    """A price that never moves, and a fat-tailed walk (one bar in 20 four times wider, some
    of them on tripled volume), flag nothing on any leg."""
    rows = minutes(4 * 1440, seed=7, noise=0.0 if kind == "flat" else 0.0005, wild=0.05)
    load(db, tmp_path / "c.csv", rows)
    assert detect(db).bars == 4 * 1440
    assert stored(db) == []


def test_a_long_leg_flush_is_the_same_incrementally_and_keeps_its_id(tmp_path: Path) -> None:
    """Bars added an hour at a time through the decline give what one full run gives (the
    flush grows across runs); a full re-run, and an upgrade from an older detector version,
    keep its id."""
    rows = minutes(4 * 1440, seed=0, decline_pct=-8.0)
    full = Database(tmp_path / "full.duckdb", snapshot=False)
    load(full, tmp_path / "c.csv", rows)
    detect(full, full=True)

    inc = Database(tmp_path / "inc.duckdb", snapshot=False)
    load(inc, tmp_path / "c.csv", rows[:DECLINE_AT])
    detect(inc)
    for hour in range(1, 25):
        load(inc, tmp_path / "c.csv", rows[: DECLINE_AT + 60 * hour])
        assert not detect(inc).full
    assert stored(inc) == stored(full) and len(stored(full)) == 1

    ((flush_id, *_),) = stored(full)
    detect(full, full=True)
    assert stored(full)[0][0] == flush_id
    with full.write() as con:  # what an older detector left: its own version, no state for ours
        con.execute("UPDATE flushes SET detector_version = 'det-0', start_at = start_at - INTERVAL 5 MINUTE")
        con.execute("DELETE FROM detector_state")
    detect(full)
    ((got_id, *_, version),) = stored(full)
    assert got_id == flush_id and version == DETECTOR_VERSION


def test_watch_at_shows_nothing_from_bars_after_the_pinned_time(tmp_path: Path) -> None:
    """At each pinned time the frame shows the flushes (start, direction, move so far) that a
    detection over only the bars closed by then gives: no later bar reaches the frame."""
    rows = minutes(4 * 1440, seed=2, decline_pct=-8.0, crash_at=DECLINE_AT + 600, crash_pct=1.2, crash_bars=6)
    db = Database(tmp_path / "all.duckdb", snapshot=False)
    load(db, tmp_path / "all.csv", rows)
    detect(db)
    flushes = stored(db)
    assert [f[4] for f in flushes] == ["long_flush", "short_squeeze"]
    decline, squeeze = flushes
    minute = dt.timedelta(minutes=1)
    times = {  # pinned time: does the frame show a flush?
        decline[2]: False,  # the decline's trigger bar opens ...
        decline[2] + minute: True,  # ... and closes: detectable
        decline[2] + 45 * minute: True,
        decline[3] - 5 * minute: True,  # still forming
        decline[3] + 90 * minute: True,  # just over
        squeeze[2] + minute: False,  # the squeeze's first bar closed, +1.2 %: not a flush yet
        squeeze[2] + 4 * minute: True,
        squeeze[3] + 30 * minute: True,
    }

    def shown(at_db: Database, at: dt.datetime) -> list[tuple]:
        frame = read_frame(at_db, at, min_importance=0)
        return [(f.asset, f.direction, f.start_at, round(f.extreme_move_pct or 0, 9)) for f in frame.flushes]

    for i, (at, any_shown) in enumerate(times.items()):
        known = Database(tmp_path / f"at{i}.duckdb", snapshot=False)
        load(known, tmp_path / f"at{i}.csv", [r for r in rows if r[0] + minute <= at])
        detect(known)
        assert shown(db, at) == shown(known, at), at
        assert bool(shown(db, at)) == any_shown, at


def test_legs_per_interval_and_their_settings() -> None:
    """Horizons become bars; those that become the same bars are one leg (the base wins); the
    long leg's settings load from the config like every threshold, and are range-checked."""
    det = DetectThresholds()
    assert [(g.k, g.label, g.big_move_pct, g.in_progress) for g in det.legs("1m")] == [
        (15, "15m", 4.0, False),
        (30, "30m", 5.0, False),
        (240, "4h", 5.0, True),
    ]
    assert [(g.k, g.label, g.big_move_pct, g.min_big_z) for g in det.legs("1h")] == [
        (1, "1h", 5.0, 0.0),
        (4, "4h", 5.0, 3.0),
    ]
    assert [g.k for g in DetectThresholds(short_horizon_min=0, long_horizon_min=0).legs("5m")] == [6]
    assert det.bars("15m")["k_max"] == 16
    loaded, _ = load_thresholds({"detect": {"long_horizon_min": 180, "long_big_move_pct": "6"}})
    assert (loaded.long_horizon_min, loaded.long_big_move_pct) == (180, 6.0)
    assert loaded.fingerprint() != det.fingerprint()
    for bad in ({"long_horizon_min": -1}, {"short_big_move_pct": 0.0}, {"long_big_move_z": -1.0}):
        with pytest.raises(ConfigError):
            DetectThresholds(**bad)  # type: ignore[arg-type]
