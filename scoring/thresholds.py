"""Detection and attribution thresholds: one frozen record, documented defaults, config overrides.

Every number that decides "is this a flush?" or "how much does this headline score?" lives
here, so docs/flushes.md can list them and a user can change them in the config file
(``[detect]`` and ``[attribution]`` sections) or on the command line. Windows are given in
minutes and converted to bars of whatever candle interval a series has, so the same settings
work on 1m, 5m, 15m and 1h candles.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from flushwatch.errors import ConfigError

#: Assets whose news can move every other asset: the two market leaders, and the US-dollar
#: stablecoins in the asset dictionary (a depeg or freeze hits the collateral that leveraged
#: positions everywhere rest on). A category, not a list of past events.
MARKET_LEADERS = ("BTC", "ETH")
USD_STABLECOINS = ("USDT", "USDC", "DAI", "USDE", "FDUSD", "TUSD", "USDP", "PYUSD", "USDD", "RLUSD", "USD1")
USD_STABLECOINS_DEFUNCT = ("BUSD", "UST", "USTC")  # still in the dictionary for the history they made
SYSTEMIC_ASSETS: tuple[str, ...] = MARKET_LEADERS + USD_STABLECOINS + USD_STABLECOINS_DEFUNCT

#: Candle intervals detection understands, in minutes.
INTERVAL_MINUTES: dict[str, int] = {"1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "4h": 240}


@dataclass(frozen=True)
class DetectThresholds:
    """When a run of candles counts as a flush. See docs/flushes.md for why each default."""

    horizon_min: int = 30  # the move is measured over this many minutes (>= 1 bar)
    baseline_min: int = 1440  # trailing baseline for volatility, volume, range, liquidations
    min_baseline_bars: int = 48  # the baseline holds at least this many bars, at any interval
    min_history_bars: int = 15  # a bar with fewer trailing bars than this is never flagged
    move_z: float = 5.0  # |horizon log return| / (trailing 1-bar sigma * sqrt(bars)) to fire 'move'
    big_move_pct: float = 5.0  # a horizon move this large fires 'move' whatever the baseline says
    range_multiple: float = 5.0  # bar high-low range / trailing mean range to fire 'range'
    volume_multiple: float = 2.0  # horizon volume / trailing mean to fire 'volume'
    min_move_pct: float = 2.5  # the flush's drawdown or run-up must reach this, percent
    liq_multiple: float = 5.0  # liquidated notional per bar / trailing mean to fire 'liquidations'
    liq_min_usd_per_min: float = 250_000.0  # and at least this much liquidated per minute of bar
    merge_gap_min: int = 30  # flagged bars this close together form one flush
    oi_drop_pct: float = 3.0  # open interest falling this much over the flush fires 'oi_drop'
    funding_extreme: float = 0.0005  # |funding rate| before start at least this fires 'funding_extreme'
    market_wide_assets: int = 2  # this many assets flushing the same way within the window
    market_wide_window_min: int = 60  # ... with starts this close together: market_wide

    def __post_init__(self) -> None:
        # A negative z or move threshold flags every bar, and a changed fingerprint then
        # replaces every stored flush: refuse such values where they are given.
        _check_ranges(
            self,
            at_least_one=(
                "horizon_min",
                "baseline_min",
                "min_baseline_bars",
                "min_history_bars",
                "merge_gap_min",
                "market_wide_window_min",
            ),
            positive=(
                "move_z",
                "big_move_pct",
                "range_multiple",
                "volume_multiple",
                "liq_multiple",
                "oi_drop_pct",
                "funding_extreme",
            ),
            non_negative=("min_move_pct", "liq_min_usd_per_min"),
        )
        if self.market_wide_assets < 2:
            raise ConfigError(f"market_wide_assets = {self.market_wide_assets}: must be at least 2")

    def bars(self, interval: str) -> dict[str, int]:
        """The windows in bars for one candle interval."""
        minutes = interval_minutes(interval)
        return {
            "k": max(1, round(self.horizon_min / minutes)),
            "baseline": max(self.min_baseline_bars, round(self.baseline_min / minutes)),
            "gap": max(1, round(self.merge_gap_min / minutes)),
            "minutes": minutes,
        }

    def fingerprint(self) -> str:
        """A short hash of every threshold: a change forces full re-detection."""
        raw = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(raw).hexdigest()[:12]


@dataclass(frozen=True)
class AttributionWeights:
    """How much each component can add to a catalyst's score (maximum points; total 100)."""

    lookback_min: int = 360  # headlines from this long before the flush start...
    post_start_grace_min: int = 30  # ...up to its peak, or at least this long after start
    importance: float = 30.0
    relevance: float = 20.0
    sentiment: float = 20.0  # aligned sentiment adds, opposed sentiment subtracts
    timing: float = 15.0
    novelty: float = 10.0
    latency: float = 5.0
    lead_tau_min: float = 120.0  # before start, timing decays with this time constant
    delay_tau_min: float = 15.0  # after start, timing decays faster: a late report is likely an echo
    echo_tau_min: float = 10.0  # novelty decays with delay after the story's first report
    latency_tau_s: float = 900.0  # a source's median latency discounts its latency points
    # Cross-asset contagion: share of `relevance` for a headline about other assets only, when
    # one of them flushed too, is systemic, or the flush is market-wide (docs/flushes.md).
    contagion_share: float = 0.35
    systemic_assets: tuple[str, ...] = SYSTEMIC_ASSETS
    causes_kept: int = 10  # catalysts stored per flush
    coverage_kept: int = 5  # coverage (market-report) headlines stored per flush

    def __post_init__(self) -> None:
        _check_ranges(
            self,
            at_least_one=("lookback_min", "causes_kept"),
            positive=("lead_tau_min", "delay_tau_min", "echo_tau_min", "latency_tau_s"),
            non_negative=(
                "post_start_grace_min",
                "importance",
                "relevance",
                "sentiment",
                "timing",
                "novelty",
                "latency",
                "coverage_kept",
            ),
        )
        if not 0 <= self.contagion_share <= 1:
            raise ConfigError(f"contagion_share = {self.contagion_share}: must be between 0 and 1")


def _check_ranges(
    obj: Any, *, at_least_one: tuple[str, ...], positive: tuple[str, ...], non_negative: tuple[str, ...]
) -> None:
    """One ConfigError (exit 2) naming the first setting out of its range."""
    for names, ok, rule in (
        (at_least_one, lambda v: v >= 1, "at least 1"),
        (positive, lambda v: v > 0, "greater than 0"),
        (non_negative, lambda v: v >= 0, "0 or more"),
    ):
        for name in names:
            value = getattr(obj, name)
            if not ok(value):
                raise ConfigError(f"{name} = {value}: must be {rule}", hint="see docs/flushes.md")


def bar_minutes_sql(column: str, *, otherwise: int) -> str:
    """SQL for the bar length in minutes of the interval name in ``column`` (detection only
    stores flushes of the intervals in INTERVAL_MINUTES; ``otherwise`` covers any other)."""
    whens = " ".join(f"WHEN '{name}' THEN {m}" for name, m in INTERVAL_MINUTES.items())
    return f"CASE {column} {whens} ELSE {otherwise} END"


def interval_minutes(interval: str) -> int:
    try:
        return INTERVAL_MINUTES[interval]
    except KeyError as exc:
        raise ConfigError(f"unsupported candle interval {interval!r} for detection") from exc


def _override(obj: Any, section: dict[str, Any], name: str) -> Any:
    known = {f.name: f.type for f in fields(obj)}
    changes: dict[str, Any] = {}
    for key, value in section.items():
        if key not in known:
            raise ConfigError(
                f"config [{name}]: unknown setting {key!r}", hint=f"known: {', '.join(sorted(known))}"
            )
        current = getattr(obj, key)
        if isinstance(current, tuple):  # a list of tickers: TOML list or "BTC,ETH"
            changes[key] = _tickers(value, f"config [{name}] {key}")
            continue
        try:
            changes[key] = type(current)(value)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"config [{name}] {key} = {value!r}: not a number") from exc
    return replace(obj, **changes)


def _tickers(value: Any, where: str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(v, str) for v in items):
        raise ConfigError(f'{where} = {value!r}: expected a list of tickers, e.g. ["BTC", "ETH"]')
    return tuple(v.strip().upper() for v in items if v.strip())


def load_thresholds(
    extra: dict[str, Any] | None = None, **cli: Any
) -> tuple[DetectThresholds, AttributionWeights]:
    """Defaults, then the config file's ``[detect]``/``[attribution]``, then CLI values (not None)."""
    if extra is None:
        from flushwatch.config import load_settings

        extra = load_settings().extra
    det = _override(DetectThresholds(), dict(extra.get("detect", {})), "detect")
    att = _override(AttributionWeights(), dict(extra.get("attribution", {})), "attribution")
    det_cli = {k: v for k, v in cli.items() if v is not None and hasattr(det, k)}
    att_cli = {k: v for k, v in cli.items() if v is not None and hasattr(att, k)}
    return replace(det, **det_cli), replace(att, **att_cli)
