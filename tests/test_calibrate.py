"""Importance measurement data (flushwatch/training/calibrate.py) on the real shared files.

The labels are recomputed here in plain Python from the candle CSV for one headline, so the
SQL that computes all of them is checked against an independent implementation, and the
2025-26 set's context must come from flushwatch's own importer (stories, tiers, assets).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import math
import statistics
from pathlib import Path

import pytest

from flushwatch.training.calibrate import Z, load_cryptocompare, load_cryptonews

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def cryptocompare(shared_data: Path):
    return load_cryptocompare(shared_data)


def _index_bars(shared: Path) -> list[tuple[dt.datetime, float, float]]:
    path = shared / "prices_binance_btcusdt_5m_priceindex_2025q4" / "BTCUSDT-5m_2025-10-01_2025-12-30.csv.gz"
    with gzip.open(path, "rt", newline="") as fh:
        return [
            (
                dt.datetime.fromtimestamp(int(r["open_time"]) / 1000, dt.UTC).replace(tzinfo=None),
                float(r["open"]),
                float(r["close"]),
            )
            for r in csv.DictReader(fh)
        ]


def test_the_next_hour_move_matches_a_plain_python_recomputation(cryptocompare, shared_data: Path) -> None:
    bars = _index_bars(shared_data)
    times = [b[0] for b in bars]
    btc = [
        e
        for e in cryptocompare.events
        if e.at < dt.datetime(2025, 12, 20)
        and "ETH" not in (e.context.assets or ())
        and "ether" not in e.title.lower()
    ]
    for e in (btc[0], btc[len(btc) // 2], btc[-1]):
        k = next(i for i, t in enumerate(times) if t >= e.at)
        fwd = math.log(bars[k + 11][2] / bars[k][1])
        back = [math.log(bars[j][2] / bars[j - 12][2]) for j in range(k - 2016, k)]
        sigma = statistics.stdev(back)
        assert abs(e.z - abs(fwd) / sigma) < 1e-9, e.title
        assert e.z_before is not None and abs(e.z_before - abs(back[-1]) / sigma) < 1e-9, e.title


def test_the_2025_set_carries_the_context_flushwatch_stores(cryptocompare) -> None:
    ev = cryptocompare.events
    assert len(ev) > 3000 and cryptocompare.split == "2026-01-01"
    assert all(e.z >= 0 for e in ev)
    assert 0.03 < sum(e.z >= Z for e in ev) / len(ev) < 0.2  # abnormal moves are the exception
    stories = [e.context.outlet_count for e in ev]
    assert min(stories) >= 1 and max(stories) > 1  # some stories span outlets
    assert any(e.context.is_first_report is False for e in ev)  # echoes exist
    assert {e.context.feed_tier for e in ev} >= {1, 2}  # CoinDesk tier 1, NewsBTC tier 2
    assert any("BTC" in e.context.assets for e in ev)


def test_the_2021_set_has_no_context_but_every_headline_with_a_candle(shared_data: Path) -> None:
    data = load_cryptonews(shared_data)
    assert len(data.events) > 7000 and data.features == ("severity", "strength", "market_report", "salience")
    assert all(e.context.outlet_count is None for e in data.events)
    assert data.events == sorted(data.events, key=lambda e: (e.at, e.title))


def test_model_calibrate_writes_the_measurement_beside_the_model(cli, tmp_path: Path) -> None:
    import json
    import shutil

    from flushwatch.nlp.scorer import shipped_model_dir

    model = tmp_path / "model"
    shutil.copytree(shipped_model_dir(), model)
    (model / "importance.json").unlink()
    r = cli("model", "calibrate", "--model-dir", str(model), "--format", "json")
    assert r.code == 0, r.err
    data = json.loads((model / "importance.json").read_text())
    assert set(data["metrics"]) == {"cryptonews 2021-22, 1h candles", "cryptocompare 2025-26, 5m candles"}
    for spans in data["metrics"].values():
        assert spans["fit"]["n"] > 1000 and spans["test"]["n"] > 1000
        assert 0.0 <= spans["test"]["auc"] <= 1.0 and 0.0 <= spans["prior_move_auc"] <= 1.0
    assert set(data["fitted_weights"]["cryptocompare 2025-26, 5m candles"]) >= {"outlets", "tier", "novelty"}
    assert "importance test AUC" in r.out
