"""Symbols: venue symbols (``BTCUSDT``) from every spelling we meet, and their base asset.

freqtrade writes ``BTC_USDT`` (spot), ``BTC_USDT_USDT`` or ``BTC/USDT:USDT`` (USD-M futures);
ccxt writes ``BTC/USDT``; Binance and Bybit write ``BTCUSDT``. We store the venue spelling.
Pure functions only.
"""

from __future__ import annotations

import re

#: Quote currencies, longest first so 'FDUSD' wins over 'USD'.
QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDE", "USD", "EUR", "TRY", "BTC", "ETH", "BNB")
_STABLE_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDE", "USD")
_MULTIPLIER = re.compile(r"^(1000000|100000|10000|1000|1M)(?=[A-Z])")


def normalise_symbol(raw: str) -> str:
    """'BTC/USDT:USDT', 'BTC_USDT_USDT', 'btc-usdt', 'BTC_USDT' -> 'BTCUSDT'.

    A settle currency repeated after the quote (futures naming) is dropped; anything else
    is kept as is, upper-cased, without separators.
    """
    text = raw.strip()
    if ":" in text:  # ccxt futures: BASE/QUOTE:SETTLE
        text = text.split(":", 1)[0]
    parts = [p for p in re.split(r"[/_\-\s]+", text) if p]
    if len(parts) == 3 and parts[1].upper() == parts[2].upper():  # freqtrade BTC_USDT_USDT
        parts = parts[:2]
    return "".join(parts).upper()


def base_asset(symbol: str) -> str:
    """'BTCUSDT' -> 'BTC', '1000PEPEUSDT' -> 'PEPE', 'BTCUSD_PERP' -> 'BTC', 'ETHBTC' -> 'ETH'.

    Used by the flush detector to group series and liquidations by asset.
    """
    s = normalise_symbol(symbol)
    s = re.sub(r"(PERP|\d{6})$", "", s)  # coin-M 'BTCUSD_PERP' / dated 'BTCUSD_250926'
    for quote in QUOTES:
        if s.endswith(quote) and len(s) > len(quote):
            s = s[: -len(quote)]
            break
    s = _MULTIPLIER.sub("", s)
    return s or symbol.upper()


def is_usd_quoted(symbol: str) -> bool:
    """True when notional in quote units is (close to) USD: USDT, USDC, FDUSD, ... pairs."""
    s = normalise_symbol(symbol)
    return any(s.endswith(q) for q in _STABLE_QUOTES)


#: SQL twin of :func:`base_asset`, for views: ``base_asset_sql('symbol')``.
def base_asset_sql(column: str) -> str:
    quotes = "|".join(QUOTES)
    return (
        f"regexp_replace(regexp_replace({column}, '({quotes})$', ''), '^(1000000|100000|10000|1000|1M)', '')"
    )
