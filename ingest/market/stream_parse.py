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
(subscribe acks, pongs) parse to an empty list; anything else unreadable raises ValueError.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flushwatch.records.market import Liquidation

_BINANCE_SIDE = {"SELL": "long", "BUY": "short"}
_BYBIT_SIDE = {"Buy": "long", "Sell": "short"}


def _ts(ms: Any) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(ms) / 1000, tz=dt.UTC)


def parse_binance(raw: str | bytes, receive_time: dt.datetime) -> list[Liquidation]:
    try:
        msg = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc
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
            side = _BINANCE_SIDE[str(o["S"]).upper()]
            price = float(o.get("ap") or 0) or float(o["p"])
            qty = float(o.get("z") or 0) or float(o["q"])
            out.append(
                Liquidation(
                    "binance",
                    str(o["s"]).upper(),
                    side,
                    price,
                    qty,
                    price * qty,
                    _ts(o.get("T") or item["E"]),
                    receive_time,
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad forceOrder payload: {exc!r}") from exc
    return out


def parse_bybit(raw: str | bytes, receive_time: dt.datetime) -> list[Liquidation]:
    try:
        msg = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc
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
            price, qty = float(d["p"]), float(d["v"])
            out.append(
                Liquidation(
                    "bybit",
                    str(d["s"]).upper(),
                    _BYBIT_SIDE[d["S"]],
                    price,
                    qty,
                    price * qty,
                    _ts(d["T"]),
                    receive_time,
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad allLiquidation payload: {exc!r}") from exc
    return out
