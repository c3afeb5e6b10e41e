"""Measuring importance against what markets did after each headline.

Two sets of timestamped headlines from the shared data folder, each beside candles of the
asset it names (read directly with DuckDB):

* ``news_cryptonews_2021_2022``: 7.5k headlines from three outlets, Oct 2021 - Jul 2022, with
  Binance spot 1h candles for BTC and ETH (``prices_binance_spot_1h_2017_2022``). Context
  features do not exist here (one outlet per row, no stories).
* ``news_cryptocompare_feed_2025_2026``: headlines from seven outlets, with Binance 5m BTC
  (``prices_binance_btcusdt_5m_priceindex_2025q4``, then the USD-M perpetual from
  ``prices_binance_usdm_5m_2025_12_2026_01``) and ETH (the perpetual), Nov 2025 - Jan 2026.
  They go through flushwatch's own importer into a temporary database, so the story
  clustering and asset tagging are the ones ``flushwatch score`` reads: outlets per story,
  first report versus echo, assets; the outlet's tier comes from the feed catalogue.

Label: a headline is followed by an *abnormal move* when the absolute log return of its asset
(ETH when the title names Ethereum and not Bitcoin, else BTC) over the first full hour after
the headline is at least ``Z`` times the stdev of hourly log returns over the previous 7 days.

Measured per set, on its earlier and later span: AUC and the precision of the top decile of
the shipped importance formula (:data:`DEFAULT_WEIGHTS`, every feature the set has), each
feature's own AUC, and, for comparison, a logistic regression of the label on the same
features fitted on the earlier span, and the AUC of the move in the hour *before* each headline
(not a feature: it measures volatility clustering). The shipped weights stay documented
priors: no feature carries signal (see models/README.md), and what does predict the next hour
is the last one, which would reward coverage of moves, the opposite of what importance is for.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flushwatch.errors import InputError
from flushwatch.records.scores import ImportanceContext

Z = 2.0
#: Features fitted on the 2021-22 set (it has no context) and on the 2025-26 set.
TEXT_FEATURES = ("severity", "strength", "market_report", "salience")
ALL_FEATURES = (*TEXT_FEATURES, "outlets", "tier", "novelty")
_BTC = re.compile(r"\b(bitcoin|btc)\b", re.IGNORECASE)
_ETH = re.compile(r"\b(ethereum|ether|eth)\b", re.IGNORECASE)
_MKT = re.compile(
    r"\b(crypto (market|markets|prices|assets)|cryptocurrency market|market-wide|cryptos)\b",
    re.IGNORECASE,
)
# Which asset's candles judge a headline: ETH when it names Ethereum and not Bitcoin.
_ASSET_SQL = """CASE WHEN regexp_matches({t}, '(?i)\\b(ethereum|ether|eth)\\b')
                      AND NOT regexp_matches({t}, '(?i)\\b(bitcoin|btc)\\b') THEN 'ETH' ELSE 'BTC' END"""

# Hourly candles: r = the next full hour's log return, sigma = stdev of the previous 168.
_CRYPTONEWS_SQL = f"""
WITH news AS (
    SELECT strptime(date, '%d-%m-%Y %H:%M')::TIMESTAMP AS ts, title
      FROM read_csv(?, delim=';', header=true, quote='"', all_varchar=true)
     WHERE title IS NOT NULL AND length(trim(title)) > 0
),
candles AS (
    SELECT asset, open_time_utc::TIMESTAMP AS t, ln(close / lag(close) OVER w) AS r
      FROM (SELECT 'BTC' AS asset, * FROM read_csv(?, header=true)
            UNION ALL SELECT 'ETH' AS asset, * FROM read_csv(?, header=true))
    WINDOW w AS (PARTITION BY asset ORDER BY open_time_utc)
),
vol AS (
    SELECT asset, t, r,
           stddev_samp(r) OVER (PARTITION BY asset ORDER BY t
                                ROWS BETWEEN 168 PRECEDING AND 1 PRECEDING) AS sigma
      FROM candles
)
SELECT n.ts, n.title, abs(v.r) / v.sigma AS z, abs(p.r) / v.sigma AS z_before
  FROM news n
  JOIN vol v
    ON v.asset = {_ASSET_SQL.format(t="n.title")}
   AND v.t = date_trunc('hour', n.ts) + INTERVAL 1 HOUR
  LEFT JOIN vol p ON p.asset = v.asset AND p.t = date_trunc('hour', n.ts) - INTERVAL 1 HOUR
 WHERE v.sigma > 0
 ORDER BY n.ts, n.title
"""

# 5-minute candles, one series per file: the hour starting at the first bar opening after the
# headline (open of bar k to close of bar k+11) against the stdev of the 2,016 previous hourly
# (12-bar, overlapping) returns of the same series. Series are never spliced: each return
# and its sigma come from one file, so the index-to-perpetual switch adds no false jump.
_CANDLES_5M_SQL = """
CREATE TEMP TABLE moves AS
WITH bars AS (
    SELECT 'BTC' AS asset, 'index' AS series, make_timestamp(open_time * 1000) AS t, open, close
      FROM read_csv(?, header=true)
    UNION ALL
    SELECT 'BTC', 'perp', open_time_utc::TIMESTAMP, open, close FROM read_csv(?, header=true)
    UNION ALL
    SELECT 'ETH', 'perp', open_time_utc::TIMESTAMP, open, close FROM read_csv(?, header=true)
),
returns AS (
    SELECT asset, series, t,
           ln(lead(close, 11) OVER w / open) AS fwd,
           ln(close / lag(close, 12) OVER w) AS back
      FROM bars
    WINDOW w AS (PARTITION BY series, asset ORDER BY t)
)
SELECT asset, series, t, fwd, back,
       stddev_samp(back) OVER (PARTITION BY series, asset ORDER BY t
                               ROWS BETWEEN 2016 PRECEDING AND 1 PRECEDING) AS sigma,
       count(back) OVER (PARTITION BY series, asset ORDER BY t
                         ROWS BETWEEN 2016 PRECEDING AND 1 PRECEDING) AS n_back
  FROM returns
"""

# Imported headlines with the context flushwatch stores, joined to the first bar after each
# (index series where it has a full week of history, else the perpetual).
_CRYPTOCOMPARE_SQL = f"""
WITH h AS (
    SELECT h.headline_id, h.published_at::TIMESTAMP AS ts, h.title, h.source,
           s.outlet_count, s.first_headline_id = h.headline_id AS is_first,
           (SELECT list(a.asset ORDER BY a.asset) FROM headline_assets a
             WHERE a.headline_id = h.headline_id) AS assets,
           {_ASSET_SQL.format(t="h.title")} AS asset,
           time_bucket(INTERVAL 5 MINUTE, h.published_at::TIMESTAMP - INTERVAL 1 MICROSECOND)
               + INTERVAL 5 MINUTE AS bar
      FROM headlines h
      LEFT JOIN stories s ON s.story_id = h.story_id
)
SELECT h.ts, h.title, h.source, h.outlet_count, h.is_first, h.assets, h.headline_id,
       arg_min(abs(m.fwd) / m.sigma, m.series) AS z,
       arg_min(abs(p.back) / m.sigma, m.series) AS z_before  -- the hour that ended at the headline
  FROM h
  JOIN moves m ON m.asset = h.asset AND m.t = h.bar
  LEFT JOIN moves p ON p.asset = m.asset AND p.series = m.series AND p.t = h.bar - INTERVAL 5 MINUTE
 WHERE m.sigma > 0 AND m.fwd IS NOT NULL AND m.n_back >= 2016
 GROUP BY ALL
 ORDER BY h.ts, h.headline_id
"""


@dataclass(frozen=True)
class Event:
    """One headline with what ingest knows about it and how far its asset moved next."""

    at: dt.datetime
    title: str
    context: ImportanceContext
    z: float  # |next-hour log return| / trailing hourly stdev
    z_before: float | None = None  # the same for the hour before the headline (not a feature)


@dataclass(frozen=True)
class Dataset:
    name: str
    events: list[Event]
    split: str  # ISO date: events before it are the fit span
    features: tuple[str, ...]  # the features this data can measure


@dataclass(frozen=True)
class Calibration:
    weights: dict[str, float]  # the shipped weights that were measured
    metrics: dict[str, dict[str, Any]]  # dataset -> span -> figures
    fitted: dict[str, dict[str, float]]  # dataset -> logistic coefficients on its fit span


def title_assets(title: str) -> tuple[str, ...]:
    """Assets for salience in the 2021-22 data, which has no headline_assets table."""
    found = []
    if _BTC.search(title):
        found.append("BTC")
    if _ETH.search(title):
        found.append("ETH")
    if _MKT.search(title):
        found.append("MARKET")
    if not found and re.search(r"\b[A-Z]{2,6}\b", title):
        found.append("ALT")  # some other ticker: small-cap salience
    return tuple(found)


def _require(*paths: Path) -> None:
    for p in paths:
        if not p.is_file():
            raise InputError("calibration data missing", path=p, hint="set FLUSHWATCH_SHARED_DATA")


def load_cryptonews(shared: Path) -> Dataset:
    """The 2021-22 headlines with their next-hour moves (no ingest context in this data)."""
    import duckdb

    news = shared / "news_cryptonews_2021_2022" / "cryptonews_2021-10-12_2022-07-05.csv.gz"
    px = shared / "prices_binance_spot_1h_2017_2022"
    btc = px / "BTC_USDT-1h_2017-08-17_2022-10-11.csv.gz"
    eth = px / "ETH_USDT-1h_2017-08-17_2022-10-11.csv.gz"
    _require(news, btc, eth)
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        rows = con.execute(_CRYPTONEWS_SQL, [str(news), str(btc), str(eth)]).fetchall()
    finally:
        con.close()
    events = [
        Event(r[0], r[1], ImportanceContext(assets=title_assets(r[1])), float(r[2]), _opt(r[3])) for r in rows
    ]
    return Dataset("cryptonews 2021-22, 1h candles", events, "2022-04-01", TEXT_FEATURES)


def load_cryptocompare(shared: Path) -> Dataset:
    """The 2025-26 headlines through flushwatch's importer, with their next-hour 5m moves."""
    import duckdb

    from flushwatch.ingest.news.catalogue import default_catalogue
    from flushwatch.ingest.news.importer import HeadlineImportOptions, import_headlines
    from flushwatch.storage.db import Database

    news = shared / "news_cryptocompare_feed_2025_2026" / "headlines_2025-11-11_2026-04-26.csv.gz"
    index = shared / "prices_binance_btcusdt_5m_priceindex_2025q4"
    btc_index = index / "BTCUSDT-5m_2025-10-01_2025-12-30.csv.gz"
    perp = shared / "prices_binance_usdm_5m_2025_12_2026_01"
    btc_perp = perp / "BTC_USDT_USDT-5m-futures_2025-12-26_2026-01-29.csv.gz"
    eth_perp = perp / "ETH_USDT_USDT-5m-futures_2025-12-26_2026-01-29.csv.gz"
    _require(news, btc_index, btc_perp, eth_perp)
    tiers = {s.name.lower(): s.tier for s in default_catalogue()[1]}  # outlet -> its feed's tier
    with tempfile.TemporaryDirectory(prefix="flushwatch-calibrate-") as tmp:
        path = Path(tmp) / "calibrate.duckdb"
        opts = HeadlineImportOptions(
            title="title", time="published_at_utc", source="source_name", id="external_id"
        )
        import_headlines(Database(path, snapshot=False), [news], opts)
        con = duckdb.connect(str(path))
        try:
            con.execute("SET TimeZone = 'UTC'")
            con.execute(_CANDLES_5M_SQL, [str(btc_index), str(btc_perp), str(eth_perp)])
            rows = con.execute(_CRYPTOCOMPARE_SQL).fetchall()
        finally:
            con.close()
    events = [
        Event(
            r[0],
            r[1],
            ImportanceContext(
                assets=tuple(r[5] or ()),
                outlet_count=r[3],
                feed_tier=tiers.get(str(r[2]).lower()),
                is_first_report=r[4],
            ),
            float(r[7]),
            _opt(r[8]),
        )
        for r in rows
    ]
    return Dataset("cryptocompare 2025-26, 5m candles", events, "2026-01-01", ALL_FEATURES)


def _opt(v: Any) -> float | None:
    return None if v is None else float(v)


def _auc(y: list[int], s: list[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if 0 < sum(y) < len(y) else float("nan")


def _top_decile(y: list[int], s: list[float]) -> float:
    order = sorted(range(len(s)), key=lambda i: (-s[i], i))
    top = order[: max(1, len(order) // 10)]
    return sum(y[i] for i in top) / len(top)


def measure(data: Dataset, scorer: Any) -> tuple[dict[str, Any], dict[str, float]]:
    """Span metrics of the shipped formula, feature AUCs, and a logistic fit for comparison."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from flushwatch.nlp.importance import DEFAULT_WEIGHTS, features, importance

    ev = data.events
    texts = scorer.score_texts([e.title for e in ev])
    feats = [features(t, e.context) for t, e in zip(texts, ev, strict=True)]
    x = np.array([[f[k] for k in data.features] for f in feats])
    y = [int(e.z >= Z) for e in ev]
    fit_i = [i for i, e in enumerate(ev) if str(e.at) < data.split]
    test_i = [i for i, e in enumerate(ev) if str(e.at) >= data.split]
    lr = LogisticRegression(C=1.0, max_iter=1000)
    lr.fit(x[fit_i], [y[i] for i in fit_i])
    fitted = {"bias": round(float(lr.intercept_[0]), 4)}
    fitted.update({k: round(float(w), 4) for k, w in zip(data.features, lr.coef_[0], strict=True)})
    shipped = [importance(t, e.context, DEFAULT_WEIGHTS) for t, e in zip(texts, ev, strict=True)]
    logistic = [float(v) for v in lr.predict_proba(x)[:, 1]]
    spans: dict[str, Any] = {}
    for span, idx in (("fit", fit_i), ("test", test_i)):
        ys = [y[i] for i in idx]
        spans[span] = {
            "span": f"{ev[idx[0]].at:%Y-%m-%d}..{ev[idx[-1]].at:%Y-%m-%d}",
            "n": len(idx),
            "abnormal": sum(ys),
            "base_rate": round(sum(ys) / len(ys), 4),
            # the shipped formula (DEFAULT_WEIGHTS), as flushwatch score computes it
            "auc": round(_auc(ys, [shipped[i] for i in idx]), 4),
            "top_decile_precision": round(_top_decile(ys, [shipped[i] for i in idx]), 4),
            # a logistic regression fitted on the fit span, for comparison
            "fitted_auc": round(_auc(ys, [logistic[i] for i in idx]), 4),
            "fitted_top_decile_precision": round(_top_decile(ys, [logistic[i] for i in idx]), 4),
        }
    # Each feature alone over the whole set: which of them carries any signal at all.
    spans["feature_auc"] = {k: round(_auc(y, [f[k] for f in feats]), 4) for k in data.features}
    # Not a feature: how well the move in the hour *before* the headline predicts the next one.
    before = [(y[i], e.z_before) for i, e in enumerate(ev) if e.z_before is not None]
    spans["prior_move_auc"] = round(_auc([b[0] for b in before], [float(b[1] or 0) for b in before]), 4)
    return spans, fitted


def calibrate(shared: Path, scorer: Any) -> Calibration:
    """Measure the shipped importance on both data sets (figures for the model card)."""
    from flushwatch.nlp.importance import DEFAULT_WEIGHTS

    metrics: dict[str, dict[str, Any]] = {}
    fitted: dict[str, dict[str, float]] = {}
    for data in (load_cryptonews(shared), load_cryptocompare(shared)):
        metrics[data.name], fitted[data.name] = measure(data, scorer)
        metrics[data.name]["split"] = data.split
    return Calibration(dict(DEFAULT_WEIGHTS), metrics, fitted)


def write_calibration(cal: Calibration, path: Path) -> None:
    data = {
        "label": f"|next-hour log return| >= {Z} x trailing 7-day hourly stdev",
        "weights": cal.weights,
        "fitted_weights": cal.fitted,
        "metrics": cal.metrics,
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
