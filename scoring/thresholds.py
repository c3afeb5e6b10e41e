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
class Leg:
    """One move horizon in bars of one interval (see :meth:`DetectThresholds.legs`)."""

    k: int  # bars the log return is measured over
    label: str  # '15m', '4h': the flush's signal is 'move_' + label
    big_move_pct: float  # a move this large fires the leg ...
    min_big_z: float  # ... when its z-score is at least this (0: whatever the baseline says)
    # A leg longer than the base fires only on a bar that closes beyond every close of its
    # window (the move is still going): a 4-hour return stays large for hours after a crash
    # has stopped, and would otherwise stretch the flush over them and swallow the next one.
    in_progress: bool


@dataclass(frozen=True)
class DetectThresholds:
    """When a run of candles counts as a flush. See docs/flushes.md for why each default."""

    horizon_min: int = 30  # the base leg: the move is measured over this many minutes (>= 1 bar)
    short_horizon_min: int = 15  # a shorter leg, for sharp moves that retrace (0: off)
    short_big_move_pct: float = 4.0  # a move this large over the short leg fires it
    long_horizon_min: int = 240  # a longer leg, for cascades that take hours (0: off)
    long_big_move_pct: float = 5.0  # a move this large over the long leg fires it ...
    long_big_move_z: float = 3.0  # ... when its z-score is at least this
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
                "short_big_move_pct",
                "long_big_move_pct",
                "range_multiple",
                "volume_multiple",
                "liq_multiple",
                "oi_drop_pct",
                "funding_extreme",
            ),
            non_negative=(
                "min_move_pct",
                "liq_min_usd_per_min",
                "short_horizon_min",
                "long_horizon_min",
                "long_big_move_z",
            ),
        )
        if self.market_wide_assets < 2:
            raise ConfigError(f"market_wide_assets = {self.market_wide_assets}: must be at least 2")

    def bars(self, interval: str) -> dict[str, int]:
        """The windows in bars for one candle interval (``k``: the base leg, ``k_max``: the
        longest leg, which sets how far back a run must re-read)."""
        minutes = interval_minutes(interval)
        return {
            "k": max(1, round(self.horizon_min / minutes)),
            "k_max": max(leg.k for leg in self.legs(interval)),
            "baseline": max(self.min_baseline_bars, round(self.baseline_min / minutes)),
            "gap": max(1, round(self.merge_gap_min / minutes)),
            "minutes": minutes,
        }

    def legs(self, interval: str) -> list[Leg]:
        """The move legs for one candle interval, shortest first, one per distinct bar count.

        Each horizon becomes a whole number of bars (at least 1). Horizons that become the same
        number of bars measure the same return: they are one leg, judged by the thresholds of
        the horizon nearest its real length (on 1h candles the 15- and 30-minute legs are one
        1-bar leg, with the 30-minute thresholds). A leg of more bars than the base leg is a long
        one: its big move needs ``long_big_move_z`` too, and it fires only while the move is
        still going (:class:`Leg`)."""
        minutes = interval_minutes(interval)
        k_base = max(1, round(self.horizon_min / minutes))
        by_k: dict[int, tuple[int, float]] = {}
        for horizon, pct in (  # the base first: it wins a tie
            (self.horizon_min, self.big_move_pct),
            (self.short_horizon_min, self.short_big_move_pct),
            (self.long_horizon_min, self.long_big_move_pct),
        ):
            if horizon <= 0:
                continue  # turned off
            k = max(1, round(horizon / minutes))
            held = by_k.get(k)
            if held is None or abs(horizon - k * minutes) < abs(held[0] - k * minutes):
                by_k[k] = (horizon, pct)
        return [
            Leg(
                k=k,
                label=_duration_label(k * minutes),
                big_move_pct=pct,
                min_big_z=self.long_big_move_z if k > k_base else 0.0,
                in_progress=k > k_base,
            )
            for k, (horizon, pct) in sorted(by_k.items())
        ]

    def fingerprint(self) -> str:
        """A short hash of every threshold: a change forces full re-detection."""
        raw = json.dumps(asdict(self), sort_keys=True).encode()
        return hashlib.sha256(raw).hexdigest()[:12]


@dataclass(frozen=True)
class AttributionSettings:
    """Which headlines are a flush's candidates and how many are kept. How candidates are
    weighed is learned, not set here: see models/attribution/README.md."""

    lookback_min: int = 360  # headlines from this long before the flush start...
    # ...to this long after it: a catalyst's first report often trails the move (a CPI print
    # reported minutes later, a rescue deal's collapse confirmed an hour into the sell-off).
    # Late headlines are discounted by the learned timing terms, never excluded.
    forward_min: int = 360
    # Cross-asset contagion: share of the relevance feature for a headline about other assets
    # only, when one of them flushed too, is systemic, or the flush is market-wide.
    contagion_share: float = 0.35
    systemic_assets: tuple[str, ...] = SYSTEMIC_ASSETS
    causes_kept: int = 10  # catalysts stored per flush
    coverage_kept: int = 5  # coverage (market-report) headlines stored per flush

    def __post_init__(self) -> None:
        _check_ranges(
            self,
            at_least_one=("lookback_min", "causes_kept"),
            positive=(),
            non_negative=("forward_min", "coverage_kept"),
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


def _duration_label(minutes: int) -> str:
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


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
) -> tuple[DetectThresholds, AttributionSettings]:
    """Defaults, then the config file's ``[detect]``/``[attribution]``, then CLI values (not None)."""
    if extra is None:
        from flushwatch.config import load_settings

        extra = load_settings().extra
    det = _override(DetectThresholds(), dict(extra.get("detect", {})), "detect")
    att = _override(AttributionSettings(), dict(extra.get("attribution", {})), "attribution")
    det_cli = {k: v for k, v in cli.items() if v is not None and hasattr(det, k)}
    att_cli = {k: v for k, v in cli.items() if v is not None and hasattr(att, k)}
    return replace(det, **det_cli), replace(att, **att_cli)
