"""Market-data records passed between the market stages (parse -> decide -> store).

Small frozen dataclasses, no I/O. Times are timezone-aware UTC ``datetime`` objects; prices
are quote currency per base unit, quantities base units, notionals USD(T).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

#: How complete each venue's public liquidation stream is. Binance's ``!forceOrder@arr``
#: pushes at most ONE liquidation per symbol per second (the latest in that second), so any
#: total built from it is a floor, never the true figure. Bybit's ``allLiquidation`` pushes
#: every liquidation. Mirrored in the ``liquidation_venues`` table (storage/sql/30_market.sql).
LIQUIDATION_COMPLETENESS: dict[str, tuple[str, str]] = {
    "binance": ("floor", "at most one liquidation per symbol per second is published: totals are a floor"),
    "bybit": ("complete", "every liquidation is published"),
}


def liquidation_caveat(venue: str) -> str | None:
    """The one-line caveat to show beside a liquidation total for ``venue`` (None = complete)."""
    completeness, note = LIQUIDATION_COMPLETENESS.get(venue, ("unknown", "coverage unknown"))
    return None if completeness == "complete" else f"{venue}: {completeness} ({note})"


@dataclass(frozen=True)
class Liquidation:
    """One forced liquidation. ``side`` is the position that was liquidated: long | short."""

    venue: str
    symbol: str
    side: str
    price: float
    quantity: float
    notional_usd: float
    event_time: dt.datetime
    receive_time: dt.datetime | None = None


@dataclass(frozen=True)
class ImportResult:
    """One imported file: what it was taken to be, and how many rows it added."""

    path: str
    kind: str  # candles | funding | liquidations | open_interest
    fmt: str  # binance-archive | freqtrade-csv | freqtrade-json | feather | forceorder-json | ...
    venue: str
    symbol: str | None  # None when the file holds many symbols (liquidation logs)
    market: str | None
    interval: str | None
    rows_read: int
    rows_new: int
    first: dt.datetime | None
    last: dt.datetime | None

    @property
    def rows(self) -> int:
        return self.rows_new


@dataclass(frozen=True)
class Gap:
    """A missing stretch [start, end] (inclusive bar open times) of one series."""

    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True)
class SeriesFetch:
    """What one fetch did for one series (e.g. binance perp BTCUSDT 1m klines)."""

    dataset: str  # klines | funding | open_interest
    market: str
    symbol: str
    requests: int
    rows_new: int
    gaps_filled: int
    error: str | None = None


@dataclass(frozen=True)
class FetchSummary:
    series: tuple[SeriesFetch, ...] = field(default_factory=tuple)

    @property
    def rows_new(self) -> int:
        return sum(s.rows_new for s in self.series)

    @property
    def failures(self) -> list[str]:
        return [f"{s.dataset} {s.market} {s.symbol}: {s.error}" for s in self.series if s.error]

    def __str__(self) -> str:
        failed = len(self.failures)
        return (
            f"{len(self.series)} series, {self.rows_new} new rows, "
            f"{sum(s.requests for s in self.series)} requests, {failed} failed"
        )


@dataclass(frozen=True)
class RecorderStats:
    """What a recorder run did; printed on exit."""

    received: dict[str, int]
    stored: int
    malformed: int
    batches: int
    reconnects: int
    gaps: int
    max_commit_lag_s: float  # receipt -> commit, worst event
    mean_commit_lag_s: float
    seconds: float
