"""Fitting importance against what markets did after each headline.

Data (shared folder, read directly with DuckDB): ``news_cryptonews_2021_2022`` (7.5k
timestamped headlines, Oct 2021 - Jul 2022) and Binance spot 1h candles for BTC and ETH
(``prices_binance_spot_1h_2017_2022``).

Label: a headline is followed by an *abnormal move* when the absolute log return of its asset
(ETH when the title names Ethereum and not Bitcoin, else BTC) over the first full hour after
the headline is at least ``Z`` times the stdev of hourly log returns over the previous 7 days.

Measured: the shipped importance formula (:data:`DEFAULT_WEIGHTS`) ranks the headlines; AUC
and the precision of its top decile are reported on the headlines before ``SPLIT`` and on those
after it, against the base rate. For comparison, a logistic regression of the label on the same
text features (severity, sentiment strength, market report, salience) is fitted on the early
span and measured on the late one. The shipped weights stay hand-set priors: the fitted model
finds little signal (see models/README.md) and would turn "is a market report" into a plus,
because volatility clusters, which is the opposite of what importance is for. Context
features (outlets, tier, novelty) do not exist in this data and cannot be measured here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flushwatch.errors import InputError

Z = 2.0
SPLIT = "2022-04-01"
FITTED = ("severity", "strength", "market_report", "salience")
_BTC = re.compile(r"\b(bitcoin|btc)\b", re.IGNORECASE)
_ETH = re.compile(r"\b(ethereum|ether|eth)\b", re.IGNORECASE)
_MKT = re.compile(
    r"\b(crypto (market|markets|prices|assets)|cryptocurrency market|market-wide|cryptos)\b",
    re.IGNORECASE,
)

_SQL = """
WITH news AS (
    SELECT strptime(date, '%d-%m-%Y %H:%M')::TIMESTAMP AS ts, title
      FROM read_csv(?, delim=';', header=true, quote='"', all_varchar=true)
     WHERE title IS NOT NULL AND length(trim(title)) > 0
),
candles AS (
    SELECT asset, open_time::TIMESTAMP AS t, ln(close / lag(close) OVER w) AS r
      FROM (SELECT 'BTC' AS asset, * FROM read_csv(?, header=true)
            UNION ALL SELECT 'ETH' AS asset, * FROM read_csv(?, header=true))
    WINDOW w AS (PARTITION BY asset ORDER BY open_time)
),
vol AS (
    SELECT asset, t, r,
           stddev_samp(r) OVER (PARTITION BY asset ORDER BY t
                                ROWS BETWEEN 168 PRECEDING AND 1 PRECEDING) AS sigma
      FROM candles
)
SELECT n.ts, n.title,
       CASE WHEN regexp_matches(n.title, '(?i)\\b(ethereum|ether|eth)\\b')
             AND NOT regexp_matches(n.title, '(?i)\\b(bitcoin|btc)\\b') THEN 'ETH' ELSE 'BTC' END AS asset,
       v.r, v.sigma
  FROM news n
  JOIN vol v
    ON v.asset = CASE WHEN regexp_matches(n.title, '(?i)\\b(ethereum|ether|eth)\\b')
                       AND NOT regexp_matches(n.title, '(?i)\\b(bitcoin|btc)\\b') THEN 'ETH' ELSE 'BTC' END
   AND v.t = date_trunc('hour', n.ts) + INTERVAL 1 HOUR
 WHERE v.sigma > 0
 ORDER BY n.ts
"""


@dataclass(frozen=True)
class Calibration:
    weights: dict[str, float]  # the shipped weights that were measured
    metrics: dict[str, dict[str, Any]]
    fitted: dict[str, float]  # logistic coefficients on the fit span (text features only)


def title_assets(title: str) -> tuple[str, ...]:
    """Assets for salience in the calibration data (which has no headline_assets table)."""
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


def load_events(shared: Path) -> list[tuple[Any, str, float]]:
    """(time, title, |r|/sigma) per headline that has a candle after it."""
    import duckdb

    news = shared / "news_cryptonews_2021_2022" / "cryptonews_2021-10-12_2022-07-05.csv.gz"
    px = shared / "prices_binance_spot_1h_2017_2022"
    btc, eth = (
        px / "BTC_USDT-1h_2017-08-17_2022-10-11.csv.gz",
        px / "ETH_USDT-1h_2017-08-17_2022-10-11.csv.gz",
    )
    for p in (news, btc, eth):
        if not p.is_file():
            raise InputError("calibration data missing", path=p, hint="set FLUSHWATCH_SHARED_DATA")
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        rows = con.execute(
            _SQL.replace("open_time", "open_time_utc"), [str(news), str(btc), str(eth)]
        ).fetchall()
    finally:
        con.close()
    return [(r[0], r[1], abs(r[3]) / r[4]) for r in rows]


def _auc(y: list[int], s: list[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def _top_decile(y: list[int], s: list[float]) -> float:
    order = sorted(range(len(s)), key=lambda i: (-s[i], i))
    top = order[: max(1, len(order) // 10)]
    return sum(y[i] for i in top) / len(top)


def calibrate(shared: Path, scorer: Any) -> Calibration:
    """Fit the text weights of importance on the early span; measure on the late span."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from flushwatch.nlp.importance import DEFAULT_WEIGHTS, features, importance
    from flushwatch.records.scores import ImportanceContext

    events = load_events(shared)
    texts = scorer.score_texts([e[1] for e in events])
    ctxs = [ImportanceContext(assets=title_assets(e[1])) for e in events]
    x = np.array([[features(t, c)[k] for k in FITTED] for t, c in zip(texts, ctxs, strict=True)])
    y = [int(e[2] >= Z) for e in events]
    split = [str(e[0]) < SPLIT for e in events]
    fit_i = [i for i, f in enumerate(split) if f]
    test_i = [i for i, f in enumerate(split) if not f]
    lr = LogisticRegression(C=1.0, max_iter=1000)
    lr.fit(x[fit_i], [y[i] for i in fit_i])
    fitted = {"bias": round(float(lr.intercept_[0]), 4)}
    for k, w in zip(FITTED, lr.coef_[0], strict=True):
        fitted[k] = round(float(w), 4)
    shipped = [importance(t, c, DEFAULT_WEIGHTS) for t, c in zip(texts, ctxs, strict=True)]
    logistic = [float(v) for v in lr.predict_proba(x)[:, 1]]
    metrics: dict[str, dict[str, Any]] = {}
    for span, idx in (("fit", fit_i), ("test", test_i)):
        ys = [y[i] for i in idx]
        metrics[span] = {
            "span": f"{events[idx[0]][0]:%Y-%m-%d}..{events[idx[-1]][0]:%Y-%m-%d}",
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
    return Calibration(dict(DEFAULT_WEIGHTS), metrics, fitted)


def write_calibration(cal: Calibration, path: Path) -> None:
    data = {
        "label": f"|next-hour log return| >= {Z} x trailing 7-day hourly stdev",
        "split": SPLIT,
        "weights": cal.weights,
        "fitted_text_weights": cal.fitted,
        "metrics": cal.metrics,
    }
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
