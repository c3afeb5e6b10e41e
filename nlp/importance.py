"""Importance 0..100: how much a trader needs to know this headline within the hour.

A logistic score over a few readable features, ``100 * sigmoid(bias + sum(w_i * x_i))``:

* from the text (the model and the event rules): event-type ``severity``, sentiment strength
  ``|p_bullish - p_bearish|``, and ``is_market_report`` (coverage of a move, not a cause);
* from ingest (read from the database): asset ``salience`` (BTC, ETH, market-wide above large
  caps above small caps), ``outlets`` (log of how many outlets carry the story), feed ``tier``
  and ``novelty`` (the first report of a story above its echoes).

The weights are documented priors. :mod:`flushwatch.training.calibrate` measures them
against what markets did (timestamped headlines followed, or not, by abnormal BTC/ETH moves):
AUC and top-decile precision on an earlier and a later time span, beside a logistic
regression fitted on the earlier span (figures in models/README.md). The context weights
(outlets, tier, novelty) cannot be measured on that data (one outlet per row, no stories).
Pure, no I/O.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path

from flushwatch.errors import ModelError
from flushwatch.records.scores import ImportanceContext, TextScore

MAJOR = frozenset({"BTC", "ETH", "MARKET"})
LARGE_CAP = frozenset(
    {
        "SOL",
        "XRP",
        "BNB",
        "USDT",
        "USDC",
        "DOGE",
        "ADA",
        "TRX",
        "TON",
        "AVAX",
        "LINK",
        "DOT",
        "LTC",
        "BCH",
        "MATIC",
        "SHIB",
    }
)

#: Defaults; the fitted file models/<model>/importance.json overrides the keys it names.
DEFAULT_WEIGHTS: dict[str, float] = {
    "bias": -3.0,
    "severity": 3.0,
    "strength": 1.0,
    "market_report": -0.8,
    "salience": 1.2,
    # Priors (not fittable on the shared data): each adds at most about one logit.
    "outlets": 1.0,  # x = log1p(outlets) / log1p(10), capped at 1
    "tier": 0.6,  # x = 1 (tier 1), 0.5 (tier 2), 0 (tier 3); imports count as tier 2
    "novelty": 0.8,  # x = 1 first report of its story (or no story), 0 for an echo
}


def salience(assets: Iterable[str]) -> float:
    """1.0 for BTC/ETH/market-wide, 0.6 for large caps, 0.3 for anything else, 0.4 if unknown."""
    best = None
    for a in assets:
        v = 1.0 if a.upper() in MAJOR else 0.6 if a.upper() in LARGE_CAP else 0.3
        best = v if best is None else max(best, v)
    return 0.4 if best is None else best


def features(text: TextScore, ctx: ImportanceContext) -> dict[str, float]:
    outlets = ctx.outlet_count if ctx.outlet_count and ctx.outlet_count > 0 else 1
    tier = ctx.feed_tier if ctx.feed_tier in (1, 2, 3) else 2
    return {
        "severity": text.severity,
        "strength": abs(text.sentiment_score),
        "market_report": 1.0 if text.is_market_report else 0.0,
        "salience": salience(ctx.assets),
        "outlets": min(1.0, math.log1p(outlets) / math.log1p(10)),
        "tier": {1: 1.0, 2: 0.5, 3: 0.0}[tier],
        "novelty": 0.0 if ctx.is_first_report is False else 1.0,
    }


def importance(
    text: TextScore, ctx: ImportanceContext, weights: Mapping[str, float] = DEFAULT_WEIGHTS
) -> float:
    """0..100, rounded to 0.1. Deterministic."""
    z = weights.get("bias", 0.0) + sum(weights.get(k, 0.0) * v for k, v in features(text, ctx).items())
    return round(100.0 / (1.0 + math.exp(-z)), 1)


def load_weights(path: Path) -> dict[str, float]:
    """Default weights updated by a fitted ``importance.json`` when present."""
    weights = dict(DEFAULT_WEIGHTS)
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            weights.update({str(k): float(v) for k, v in data.get("weights", {}).items()})
        except (ValueError, TypeError, AttributeError, UnicodeDecodeError) as exc:
            raise ModelError(
                f"importance weights {path} are corrupt ({type(exc).__name__}: {str(exc)[:80]})",
                path=path,
                hint="restore the file from the release, or remeasure it: flushwatch model calibrate",
            ) from exc
    return weights
