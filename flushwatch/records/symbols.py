"""Symbols: venue symbols (``BTCUSDT``) from every spelling we meet, and their base asset.

freqtrade writes ``BTC_USDT`` (spot), ``BTC_USDT_USDT`` or ``BTC/USDT:USDT`` (USD-M futures);
ccxt writes ``BTC/USDT``; Binance and Bybit write ``BTCUSDT``. We store the venue spelling.
Pure functions only.
"""

from __future__ import annotations

import re

#: Quote currencies, longest first so 'FDUSD' wins over 'USD'.
QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDE", "USD", "EUR", "TRY", "BTC", "ETH", "BNB")
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


#: What a stored venue symbol may hold: ASCII letters and digits, letters of other scripts
#: (Binance lists '币安人生USDT') and, after the first character, ``_ - .`` (coin-M
#: ``BTCUSD_PERP``); 1 to 40 of them. A control character, a space (Unicode spaces and line
#: separators included) or other punctuation (a comma from a shifted column) is a misread.
#: Written as code point ranges rather than Unicode classes: RE2 compiles ``\pL`` with a repeat
#: count in ~70 ms, on every query that checks a staged file.
SYMBOL_MAX_LEN = 40
_SYMBOL_CHARS = "0-9A-Za-z\u00a1-\u1fff\u2070-\u2fff\u3001-\ufefe\uff00-\U0010ffff"
_SYMBOL_PATTERN = f"[{_SYMBOL_CHARS}][{_SYMBOL_CHARS}_.\\-]*"
_SYMBOL_RE = re.compile(_SYMBOL_PATTERN)


def is_valid_symbol(symbol: str) -> bool:
    """True for a venue symbol as stored ('BTCUSDT', '1000PEPEUSDT', 'BTCUSD_PERP')."""
    return len(symbol) <= SYMBOL_MAX_LEN and _SYMBOL_RE.fullmatch(symbol) is not None


def valid_symbol_sql(column: str) -> str:
    """SQL twin of :func:`is_valid_symbol` (TRUE, FALSE, or NULL for a NULL symbol)."""
    pattern = _SYMBOL_PATTERN.replace("'", "''")
    return f"(length({column}) <= {SYMBOL_MAX_LEN} AND regexp_full_match({column}, '{pattern}'))"


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


#: SQL twin of :func:`base_asset`, for views: ``base_asset_sql('symbol')``.
def base_asset_sql(column: str) -> str:
    quotes = "|".join(QUOTES)
    return (
        f"regexp_replace(regexp_replace({column}, '({quotes})$', ''), '^(1000000|100000|10000|1000|1M)', '')"
    )
