"""What a market-data file is, from its name, its folder and its first lines. Pure, no DuckDB.

Explicit options always win; everything else is inferred and logged so a wrong guess is
visible. The rules, in order:

* **format**: ``.feather``/``.json`` -> freqtrade (or a Binance REST / stream payload for JSON
  objects); CSV headers decide between Binance's archive klines
  (``open_time,open,...,ignore`` or no header and 12 numeric fields), freqtrade exports
  (``open_time_ms,...`` or ``date,...``), Binance funding archives
  (``calc_time,funding_interval_hours,last_funding_rate``), Binance metrics (open interest)
  and liquidation logs (``timestamp,symbol,side,avg_price,filled_qty,usd_value``).
* **symbol and interval**: ``BTCUSDT-1m-2024-01.csv`` (Binance archive),
  ``BTC_USDT_USDT-5m-futures.feather`` (freqtrade), else from the rows' own times.
* **market**: folder or name words (``spot``, ``futures``/``um``, ``mark``/``markPriceKlines``,
  ``index``), a zip member's name read under the zip's folders (:func:`path_hints`);
  freqtrade files without a futures suffix are spot; a Binance archive file without hints is
  told apart by its numbers: zero volume = mark-price klines, 8-decimal fixed prices = spot,
  else USD-M perpetual.
"""

from __future__ import annotations

import gzip
import io
import logging
import re
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from flushwatch.errors import InputError
from flushwatch.records.symbols import normalise_symbol

log = logging.getLogger(__name__)

ARCHIVE_KLINE_COLUMNS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
VENUES = ("binance", "bybit", "okx", "bitget", "deribit", "kraken", "coinbase", "bitmex", "hyperliquid")
MARKETS = ("spot", "perp", "mark", "index")

_EXTS = (".gz", ".zip", ".csv", ".json", ".jsonl", ".ndjson", ".feather", ".txt")
_NAME_RE = re.compile(r"^(?P<pair>[A-Za-z0-9]+(?:_[A-Za-z0-9]+){0,2})-(?P<rest>.+)$")
_TF_RE = re.compile(r"^(?P<tf>\d+[smhdw])(?=$|[-_])")


@dataclass(frozen=True)
class NameHints:
    """What a file name and its folders say."""

    symbol: str | None = None
    interval: str | None = None
    market: str | None = None
    venue: str | None = None
    funding: bool = False


def stem(path: Path) -> str:
    name = path.name
    changed = True
    while changed:
        changed = False
        for ext in _EXTS:
            if name.lower().endswith(ext):
                name = name[: -len(ext)]
                changed = True
    return name.strip()


def name_hints(path: Path) -> NameHints:
    """Symbol, interval, market and venue as far as the path tells them."""
    s = stem(path)
    folders = [p.lower() for p in path.parts[:-1]]
    venue = next((v for v in VENUES if v in folders), None)
    market: str | None = None
    if "spot" in folders:
        market = "spot"
    if "futures" in folders or "um" in folders:
        market = "perp"
    if "markpriceklines" in folders:
        market = "mark"
    if "indexpriceklines" in folders:
        market = "index"
    m = _NAME_RE.match(s)
    if not m:
        return NameHints(market=market, venue=venue)
    pair, rest = m.group("pair"), m.group("rest")
    symbol = normalise_symbol(pair)
    freqtrade_style = "_" in pair
    interval = None
    tf = _TF_RE.match(rest)
    if tf:
        interval = tf.group("tf")
        rest = rest[tf.end() :]
    words = rest.lower()
    funding = "funding" in words
    if "mark" in words:
        market = "mark"
    elif "index" in words and "premium" not in words:
        market = "index"
    elif "futures" in words or "perp" in words or pair.count("_") == 2:
        market = "perp"
    elif "spot" in words:
        market = "spot"
    elif freqtrade_style and market is None and not funding:
        market = "spot"  # freqtrade names spot files without a suffix
    return NameHints(symbol=symbol, interval=interval, market=market, venue=venue, funding=funding)


def path_hints(path: Path, member: str | None = None) -> NameHints:
    """Hints for a file, or for the one CSV inside the zip ``path``.

    A zip member is named as if it lay beside the zip, so the zip's folders
    (``futures/um/daily/indexPriceKlines/...``) give a zip the same market and venue as the
    same CSV unzipped; a member name that says nothing (``data.csv``) falls back to the zip's.
    """
    if member is None:
        return name_hints(path)
    inner = PurePosixPath(member)
    folder = path.parent.joinpath(*[p for p in inner.parent.parts if p not in ("/", ".", "..")])
    own = name_hints(folder / inner.name)
    return own if own.symbol is not None else name_hints(folder / path.name)


#: The most of one line :func:`head_lines` reads: a header or a data line is ~150 characters, and
#: a file of one 200 MB line must not be read whole just to name its layout.
HEAD_LINE_CHARS = 64 * 1024


def head_lines(path: Path, n: int = 3) -> tuple[list[str], str | None]:
    """The first ``n`` lines of a (gzip/zip) text file, and the zip member name if any; each
    line is cut at HEAD_LINE_CHARS characters."""
    try:
        if path.suffix.lower() == ".zip":
            with zipfile.ZipFile(path) as zf:
                members = [i for i in zf.infolist() if not i.is_dir()]
                if len(members) != 1:
                    raise InputError(f"zip holds {len(members)} files, expected one CSV", path=path)
                with zf.open(members[0]) as raw:
                    text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
                    return [text.readline(HEAD_LINE_CHARS) for _ in range(n)], members[0].filename
        opener = gzip.open if path.suffix.lower() == ".gz" else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
            return [fh.readline(HEAD_LINE_CHARS) for _ in range(n)], None
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise InputError(f"cannot read file: {exc}", path=path) from exc


def csv_kind(first: str) -> str:
    """Name the CSV layout from its first line."""
    line = first.strip().lstrip("\ufeff")
    low = line.lower()
    if low.startswith("open_time,open,high,low,close,volume,close_time"):
        return "binance-archive"
    if low.startswith("open_time_ms,"):
        return "freqtrade-csv"
    if low.startswith("date,open,high,low,close"):
        return "freqtrade-date-csv"
    if low.startswith("calc_time,funding_interval_hours,last_funding_rate"):
        return "binance-funding"
    if low.startswith("create_time,symbol,sum_open_interest"):
        return "binance-metrics"
    if low.startswith("timestamp,symbol,side,avg_price,filled_qty"):
        return "liquidation-log"
    fields = line.split(",")
    if len(fields) == 12 and all(_numeric(f) for f in fields):
        return "binance-archive-noheader"
    if len(fields) == 3 and all(_numeric(f) for f in fields):
        return "binance-funding-noheader"
    return "unknown"


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def archive_market_from_numbers(first_data_line: str) -> str:
    """Tell a Binance archive klines file's market from one row (see module doc)."""
    f = first_data_line.strip().split(",")
    if len(f) < 12:
        return "perp"
    if float(f[5]) == 0 and float(f[7]) == 0:
        return "mark"  # mark/index klines carry no volume; mark is the more common download
    decimals = f[1].split(".")[1] if "." in f[1] else ""
    return "spot" if len(decimals) == 8 else "perp"


def millis_to_interval(ms: int) -> str | None:
    from flushwatch.storage.market import interval_name

    if ms <= 0 or ms % 1000:
        return None
    return interval_name(ms // 1000)
