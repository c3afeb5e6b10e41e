"""The catalyst benchmark's database: shared candles and headlines through the real importers and
the real model, and the evaluation keys (eval/catalyst_*.csv, eval/judged_flushes.csv) resolved to
headline ids in it. Read by the attribution fit and by bench/eval_attribution.py."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from flushwatch.storage.db import Connection, Database
from flushwatch.training.labelled_sets import EVAL_DIR

DATASETS = (
    "news_cryptonews_2021_2022",
    "news_cryptonews_ftx_window_2022_11",
    "news_cryptocompare_feed_2025_2026",
)


def _load_candles(db: Database, path: Path, symbol: str, interval: str, market: str) -> None:
    """Through the real market importer (Binance kline CSVs and freqtrade-style exports)."""
    from flushwatch.ingest.market.importer import import_candles

    import_candles(db, [path], symbol=symbol, interval=interval, market=market, venue="binance")


def build(db: Database, data: Path, score: bool, model: str | None = None) -> str:
    from flushwatch.ingest.news.importer import HeadlineImportOptions, import_headlines

    for f in sorted((data / "prices_binance_usdm_btcusdt_1m_flush_windows").glob("*.csv")):
        _load_candles(db, f, "BTCUSDT", "1m", "perp")
    _load_candles(
        db,
        next((data / "prices_binance_usdm_btcusdt_1h_2019_2022").glob("BTC_USDT-1h*.gz")),
        "BTCUSDT",
        "1h",
        "perp",
    )
    _load_candles(
        db, next((data / "prices_binance_spot_1h_2017_2022").glob("ETH_USDT-1h*.gz")), "ETHUSDT", "1h", "spot"
    )
    ftx = data / "prices_binance_2022q4_ftx_window"
    _load_candles(db, next(ftx.glob("ETH_USDT-1h-usdm*.gz")), "ETHUSDT", "1h", "perp")
    _load_candles(db, next(ftx.glob("SOL_USDT-1h-usdm*.gz")), "SOLUSDT", "1h", "perp")
    _load_candles(
        db,
        next((data / "prices_binance_btcusdt_5m_priceindex_2025q4").glob("*.gz")),
        "BTCUSDT",
        "5m",
        "index",
    )
    five = data / "prices_binance_usdm_5m_2025_12_2026_01"
    _load_candles(db, next(five.glob("BTC_USDT_USDT-5m*.gz")), "BTCUSDT", "5m", "perp")
    _load_candles(db, next(five.glob("ETH_USDT_USDT-5m*.gz")), "ETHUSDT", "5m", "perp")
    import_headlines(
        db,
        [next((data / "news_cryptonews_2021_2022").glob("*.gz"))],
        HeadlineImportOptions(delimiter=";", time_format="%d-%m-%Y %H:%M"),
    )
    import_headlines(
        db, [next((data / "news_cryptonews_ftx_window_2022_11").glob("*.csv"))], HeadlineImportOptions()
    )
    import_headlines(
        db, [next((data / "news_cryptocompare_feed_2025_2026").glob("*.gz"))], HeadlineImportOptions()
    )
    if not score:
        return "unscored (--no-score)"
    try:
        from flushwatch.nlp.pipeline import score_unscored

        summary = score_unscored(db, model=model)
        return f"{summary.model_name}@{summary.model_revision}: {summary.scored} scored"
    except Exception as exc:  # the model is optional for this table: say so and go on unscored
        return f"unscored (model unavailable: {type(exc).__name__}: {str(exc)[:120]})"


def keys_to_ids(db: Database) -> dict[tuple[str, str], int]:
    """(dataset, md5 of the title as in the shared file) -> headline_id in the built database.

    The importer stores titles cleaned (whitespace, mojibake), so a stored title is matched to
    its file title directly or through the same cleaning."""
    from flushwatch.ingest.news.normalise import clean_title
    from flushwatch.training.labelled_sets import headline_titles

    by_title: dict[str, tuple[str, str]] = {}
    for dataset in DATASETS:
        for md5, title in headline_titles(dataset, "the attribution evaluation").items():
            by_title.setdefault(title, (dataset, md5))
            by_title.setdefault(clean_title(title), (dataset, md5))
    with db.read() as con:
        rows = con.execute("SELECT headline_id, title FROM headlines").fetchall()
    out: dict[tuple[str, str], int] = {}
    for hid, title in rows:
        key = by_title.get(title)
        if key is not None:
            out.setdefault(key, hid)
    return out


#: catalyst_events.csv's `release` names -> calendar_events.kind
RELEASE_KINDS = {
    "CPI": "cpi",
    "PPI": "ppi",
    "jobs report": "jobs",
    "FOMC decision": "fomc_decision",
    "FOMC minutes": "fomc_minutes",
    "PCE": "pce",
    "GDP": "gdp",
    "retail sales": "retail_sales",
}


def release_kind(event: dict[str, str]) -> str | None:
    """The calendar kind of a release event's documented catalyst (None for a news event)."""
    return RELEASE_KINDS.get(event.get("release", "")) if event.get("kind") == "release" else None


def eval_rows(name: str) -> list[dict[str, str]]:
    with (EVAL_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Keys:
    """The evaluation keys as headline and flush ids of one built database."""

    #: development event id -> its row in catalyst_events.csv
    events: dict[str, dict[str, str]] = field(default_factory=dict)
    #: development event id -> headline ids of its catalyst story
    story: dict[str, set[int]] = field(default_factory=dict)
    #: development event id -> the flush judged for it (None: not detected)
    event_flush: dict[str, int | None] = field(default_factory=dict)
    #: judged flush id -> {headline id: label} (first pass)
    judged: dict[int, dict[int, str]] = field(default_factory=dict)
    #: judged flush keys with no detected flush of that name
    judged_missing: list[str] = field(default_factory=list)


def _nearest_flush(con: Connection, key: str) -> int | None:
    """The flush a judged key names when detection moved its start: same asset and interval,
    the nearest start within 4 h before to 1 h after the keyed one (a longer detection leg
    finds the start of a slide earlier)."""
    asset, interval, start = key.split("-", 2)
    at = utc(start.replace("Z", ":00Z"))
    row = con.execute(
        "SELECT flush_id FROM flushes WHERE asset = ? AND interval = ? "
        "AND start_at BETWEEN ? - INTERVAL 4 HOUR AND ? + INTERVAL 1 HOUR "
        "ORDER BY abs(epoch(start_at) - epoch(?::TIMESTAMPTZ)), flush_id LIMIT 1",
        [asset, interval, at, at, at],
    ).fetchone()
    return int(row[0]) if row else None


def load_keys(db: Database) -> Keys:
    """Resolve every key file against ``db`` (its flushes must be detected)."""
    ids = keys_to_ids(db)
    k = Keys()
    for row in eval_rows("catalyst_headlines.csv"):
        hid = ids.get((row["dataset"], row["title_md5"]))
        if hid is not None:
            k.story.setdefault(row["event_id"], set()).add(hid)
    with db.read() as con:
        by_key: dict[str, int | None] = {
            f"{a}-{iv}-{s:%Y-%m-%dT%H:%MZ}": fid
            for fid, a, iv, s in con.execute(
                "SELECT flush_id, asset, interval, start_at FROM flushes"
            ).fetchall()
        }
        for ev in eval_rows("catalyst_events.csv"):
            k.events[ev["event_id"]] = ev
            found = con.execute(
                "SELECT flush_id FROM flushes WHERE asset = ? AND start_at >= ? AND start_at < ? "
                "ORDER BY severity DESC, start_at LIMIT 1",
                [ev["asset"], utc(ev["window_start"]), utc(ev["window_end"])],
            ).fetchone()
            k.event_flush[ev["event_id"]] = int(found[0]) if found else None
        for row in eval_rows("judged_flushes.csv"):
            if row["flush"] not in by_key:  # a moved flush, found once, or None: not found
                by_key[row["flush"]] = _nearest_flush(con, row["flush"])
            fid = by_key[row["flush"]]
            if fid is None:
                if row["flush"] not in k.judged_missing:
                    k.judged_missing.append(row["flush"])
                continue
            hid = ids.get((row["dataset"], row["title_md5"]))
            if row["pass"] == "1" and hid is not None:
                k.judged.setdefault(fid, {})[hid] = row["label"]
    return k
