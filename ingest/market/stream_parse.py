"""Pure parsers for live liquidation messages: raw text -> Liquidation records.

Binance USD-M ``!forceOrder@arr``::

    {"e":"forceOrder","E":1568014460893,"o":{"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC",
     "q":"0.014","p":"9910","ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}}

``S`` is the side of the *forced order*: SELL closes (liquidates) a long. Price = ``ap``
(average fill), quantity = ``z`` (filled), event time = ``T`` (trade time).

Bybit v5 ``allLiquidation.{symbol}``::

    {"topic":"allLiquidation.BTCUSDT","type":"snapshot","ts":1739502303204,
     "data":[{"T":1739502302929,"s":"BTCUSDT","S":"Sell","v":"20000","p":"0.04499"}]}

``S`` is the *position* side: Buy = a long position was liquidated. Control frames
(subscribe acks, pongs) parse to an empty list; anything else raises ValueError, and nothing
else: the recorder counts and skips a ValueError, so any other exception would cost it the
connection and every event still in flight on it.

Values are checked, not only converted: a stream is input from the network, and one NaN, a
negative size or a time in the year 3000 would sit in every total built on top of it. Prices
and quantities must be finite and positive, the notional under ``MAX_NOTIONAL_USD``, the
symbol a short word, and the event time between ``EARLIEST_EVENT`` and a day after receipt
(a day, not seconds: a local clock that is off must not throw away a live stream; old days are
allowed because recorded streams are replayed).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

from flushwatch.records.market import Liquidation

_BINANCE_SIDE = {"SELL": "long", "BUY": "short"}
_BYBIT_SIDE = {"Buy": "long", "Sell": "short"}

EARLIEST_EVENT = dt.datetime(2019, 1, 1, tzinfo=dt.UTC)  # before either venue streamed liquidations
MAX_CLOCK_AHEAD = dt.timedelta(days=1)  # how far past its receipt an event time may lie
MAX_PRICE = 1e9  # quote units; 10,000 times bitcoin's price
MAX_NOTIONAL_USD = 1e10  # the largest liquidations ever seen were about 1 % of this
_SYMBOL = re.compile(r"\w[\w.\-]{0,39}")  # BTCUSDT, BTCUSDT_250627, BTC-26DEC25, 币安人生USDT


def _json(raw: str | bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both are
        raise ValueError(f"not JSON: {exc}") from exc
    except RecursionError as exc:
        raise ValueError("not JSON: nested too deeply") from exc


def _float(value: Any, what: str) -> float:
    """A JSON number or numeric string as a float (a bool is neither; an integer with hundreds
    of digits overflows, which is a ValueError here too)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{what} {value!r} is not a number")
    try:
        return float(value)
    except OverflowError as exc:
        raise ValueError(f"{what} is out of range") from exc


def _positive(value: Any, what: str) -> float:
    """A finite number above zero."""
    number = _float(value, what)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{what} {value!r} is not a positive number")
    return number


def _size(price: float, qty: float) -> float:
    """The notional, after refusing sizes no market produces (a field in the wrong unit)."""
    notional = price * qty
    if price > MAX_PRICE or notional > MAX_NOTIONAL_USD:
        raise ValueError(f"price {price:g} x quantity {qty:g} is not a plausible liquidation")
    return notional


def _fill_or_order(o: dict[str, Any], fill: str, order: str) -> float:
    """The fill (``ap`` average price, ``z`` filled quantity), or the order's own value (``p``,
    ``q``) when the fill is missing, empty or zero."""
    value = o.get(fill)
    if value is None or value == "" or _float(value, fill) == 0:
        return _positive(o[order], order)
    return _positive(value, fill)


def _symbol(value: Any) -> str:
    if not isinstance(value, str) or not _SYMBOL.fullmatch(value):
        raise ValueError(f"symbol {value!r} is not a symbol")
    return value.upper()


def _ts(ms: Any, receive_time: dt.datetime) -> dt.datetime:
    """Milliseconds since the epoch, within the window the module docstring gives."""
    if isinstance(ms, bool) or not isinstance(ms, int | float | str):
        raise ValueError(f"event time {ms!r} is not a number")
    try:
        t = dt.datetime.fromtimestamp(int(ms) / 1000, tz=dt.UTC)
    except (ValueError, OverflowError, OSError) as exc:  # inf, "soon", beyond the year 9999
        raise ValueError(f"event time {ms!r} is not a time in milliseconds") from exc
    if not EARLIEST_EVENT <= t <= receive_time + MAX_CLOCK_AHEAD:
        raise ValueError(f"event time {t:%Y-%m-%d %H:%M} is implausible for a message received now")
    return t


def parse_binance(raw: str | bytes, receive_time: dt.datetime) -> list[Liquidation]:
    msg = _json(raw)
    if msg == []:
        raise ValueError("empty array")
    items = msg if isinstance(msg, list) else [msg]
    out: list[Liquidation] = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("expected a JSON object")
        if "data" in item and isinstance(item["data"], dict):  # combined-stream wrapper
            item = item["data"]
        if item.get("e") != "forceOrder":
            if "result" in item or "id" in item:
                continue  # subscribe acknowledgement
            raise ValueError(f"unexpected event {item.get('e')!r}")
        try:
            o = item["o"]
            if not isinstance(o, dict):
                raise TypeError(f"order {o!r} is not an object")
            side = _BINANCE_SIDE[str(o["S"]).upper()]
            price = _fill_or_order(o, "ap", "p")
            qty = _fill_or_order(o, "z", "q")
            out.append(
                Liquidation(
                    "binance",
                    _symbol(o["s"]),
                    side,
                    price,
                    qty,
                    _size(price, qty),
                    _ts(o.get("T") or item["E"], receive_time),
                    receive_time,
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad forceOrder payload: {exc!r}") from exc
    return out


def parse_bybit(raw: str | bytes, receive_time: dt.datetime) -> list[Liquidation]:
    msg = _json(raw)
    if not isinstance(msg, dict):
        raise ValueError("expected a JSON object")
    topic = msg.get("topic")
    if topic is None and ("op" in msg or "success" in msg):
        if msg.get("success") is False:
            raise ValueError(f"bybit refused: {msg.get('ret_msg')}")
        return []  # subscribe ack / pong
    if not isinstance(topic, str) or not topic.startswith("allLiquidation."):
        raise ValueError(f"unexpected topic {topic!r}")
    data = msg.get("data")
    rows = data if isinstance(data, list) else [data]
    out: list[Liquidation] = []
    for d in rows:
        if not isinstance(d, dict):
            raise ValueError("allLiquidation data item is not an object")
        try:
            price, qty = _positive(d["p"], "p"), _positive(d["v"], "v")
            out.append(
                Liquidation(
                    "bybit",
                    _symbol(d["s"]),
                    _BYBIT_SIDE[d["S"]],
                    price,
                    qty,
                    _size(price, qty),
                    _ts(d["T"], receive_time),
                    receive_time,
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad allLiquidation payload: {exc!r}") from exc
    return out
