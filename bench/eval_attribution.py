"""Attribution evaluation on real moves: which headline flushwatch ranks first, against the keys
in eval/ (written under eval/catalysts.md before any method read them).

Builds a temporary database from the shared data (candles and headlines through the real
importers, scores through the real model pipeline), runs `detect` (which attributes), then
prints, beside the recency baseline (the latest headline up to 15 minutes after the start):

* on the development events (eval/catalyst_events.csv): how often the first headline of the
  documented catalyst story (eval/catalyst_headlines.csv) is rank 1, in the top 3, and the mean
  reciprocal rank; an event whose flush is not detected, or whose story is not ranked, counts
  as a miss;
* on the judged flushes (eval/judged_flushes.csv, first pass): precision at 1 (the rank-1
  headline is labelled a cause) and how often coverage or commentary is rank 1.

Usage: python bench/eval_attribution.py [--keep DIR | --reuse DIR] [--no-score] [--model NAME]
"""

# ruff: noqa: E501  (long SQL and table lines in a script)

from __future__ import annotations

import argparse
import csv
import datetime as dt
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flushwatch.config import shared_data_dir
from flushwatch.records.flushes import ATTRIBUTION_VERSION, DETECTOR_VERSION
from flushwatch.scoring.attribution import HEADLINE_TIME_SQL
from flushwatch.storage.db import Database
from flushwatch.training.labelled_sets import EVAL_DIR

DATASETS = ("news_cryptonews_2021_2022", "news_cryptonews_ftx_window_2022_11", "news_cryptocompare_feed_2025_2026")


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


def _keys_to_ids(db: Database) -> dict[tuple[str, str], int]:
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


def _eval_rows(name: str) -> list[dict[str, str]]:
    with (EVAL_DIR / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Tally:
    """Ranks of the documented cause per event (None: not ranked), and rank-1 labels per judged flush."""

    ranks: list[int | None] = field(default_factory=list)
    top_labels: list[str | None] = field(default_factory=list)
    has_cause: list[bool] = field(default_factory=list)

    def events(self) -> tuple[str, str, str]:
        n = len(self.ranks)
        r1 = sum(1 for r in self.ranks if r == 1)
        r3 = sum(1 for r in self.ranks if r is not None and r <= 3)
        mrr = sum(1 / r for r in self.ranks if r is not None) / n if n else 0.0
        return f"{r1}/{n} ({r1 / n:.0%})", f"{r3}/{n} ({r3 / n:.0%})", f"{mrr:.2f}"

    def judged(self) -> tuple[str, str, str]:
        """Precision at 1 over every judged flush (a flush without a cause can only be answered by
        saying so), over the flushes that have one, and how often a report or opinion is rank 1."""
        n = len(self.top_labels)
        if not n:
            return "-", "-", "-"
        cause = sum(1 for lab in self.top_labels if lab == "cause")
        with_cause = sum(self.has_cause)
        noise = sum(1 for lab in self.top_labels if lab in ("coverage", "commentary"))
        return f"{cause}/{n} ({cause / n:.2f})", f"{cause}/{with_cause}", f"{noise}/{n}"


def evaluate(db: Database, lookback_min: int) -> None:
    """Print rank 1 / top 3 / MRR on the development events and precision at 1 on the judged
    flushes, for the shipped attribution and the recency baseline, in one table."""
    ids = _keys_to_ids(db)
    story: dict[str, set[int]] = {}
    for row in _eval_rows("catalyst_headlines.csv"):
        hid = ids.get((row["dataset"], row["title_md5"]))
        if hid is not None:
            story.setdefault(row["event_id"], set()).add(hid)
    judged: dict[str, dict[int, str]] = {}
    for row in _eval_rows("judged_flushes.csv") if (EVAL_DIR / "judged_flushes.csv").exists() else []:
        hid = ids.get((row["dataset"], row["title_md5"]))
        if row["pass"] == "1" and hid is not None:
            judged.setdefault(row["flush"], {})[hid] = row["label"]

    def ranking(con: Any, flush_id: int, method: str) -> list[int]:
        if method == "attribution":
            rows = con.execute(
                "SELECT headline_id FROM catalysts WHERE flush_id = ? AND attribution_version = ? ORDER BY rank",
                [flush_id, ATTRIBUTION_VERSION],
            ).fetchall()
        else:  # recency: the latest headlines up to 15 minutes after the start, newest first
            rows = con.execute(
                f"""SELECT h.headline_id FROM headlines h, flushes f
                     WHERE f.flush_id = ? AND {HEADLINE_TIME_SQL}
                           BETWEEN f.start_at - to_minutes(CAST(? AS BIGINT)) AND f.start_at + INTERVAL 15 MINUTE
                     ORDER BY {HEADLINE_TIME_SQL} DESC, h.headline_id""",
                [flush_id, lookback_min],
            ).fetchall()
        return [r[0] for r in rows]

    methods = ("recency (latest by start + 15 min)", "attribution (shipped)")
    tallies = {m: Tally() for m in methods}
    lines: list[str] = []
    with db.read() as con:
        flush_keys = {
            f"{a}-{iv}-{s:%Y-%m-%dT%H:%MZ}": fid
            for fid, a, iv, s in con.execute("SELECT flush_id, asset, interval, start_at FROM flushes").fetchall()
        }
        for ev in _eval_rows("catalyst_events.csv"):
            if ev["kind"] == "none":
                continue
            found = con.execute(
                "SELECT flush_id, interval, start_at FROM flushes WHERE asset = ? AND start_at >= ? AND start_at < ? "
                "ORDER BY severity DESC LIMIT 1",
                [ev["asset"], _utc(ev["window_start"]), _utc(ev["window_end"])],
            ).fetchone()
            cells = []
            for m in methods:
                rank = None
                if found is not None:
                    order = ranking(con, found[0], m.split()[0])
                    rank = next((i + 1 for i, h in enumerate(order) if h in story.get(ev["event_id"], set())), None)
                tallies[m].ranks.append(rank)
                cells.append("-" if rank is None else str(rank))
            flush_txt = "no flush detected" if found is None else f"{found[1]} {found[2]:%Y-%m-%d %H:%M}"
            lines.append(f"| {ev['event_id']} | {ev['kind']} | {flush_txt} | {' | '.join(cells)} |")
        for key, labels in judged.items():
            fid = flush_keys.get(key)
            for m in methods:
                order = ranking(con, fid, m.split()[0]) if fid is not None else []
                tallies[m].top_labels.append(labels.get(order[0]) if order else None)
                tallies[m].has_cause.append("cause" in labels.values())
    n_events = len(tallies[methods[0]].ranks)
    print(f"development events with a documented catalyst: {n_events}; judged flushes: {len(judged)}\n")
    print(
        "| method | events rank 1 | top 3 | MRR | judged: precision at 1 | rank 1 a cause, "
        "flushes with one | coverage or commentary at 1 |"
    )
    print("|---|---|---|---|---|---|---|")
    for m in methods:
        r1, r3, mrr = tallies[m].events()
        p1, p1_cause, noise = tallies[m].judged()
        print(f"| {m} | {r1} | {r3} | {mrr} | {p1} | {p1_cause} | {noise} |")
    print("\nper event (rank of the first headline of the catalyst story; - : not ranked):\n")
    print("| event | kind | flush judged | " + " | ".join(methods) + " |")
    print("|---|---|---|" + "---|" * len(methods))
    for line in lines:
        print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", type=Path, help="keep the built database in this folder")
    ap.add_argument("--reuse", type=Path, help="evaluate the database a --keep run left; build nothing")
    ap.add_argument("--no-score", action="store_true")
    ap.add_argument("--model", help="score with this model instead of the configured one")
    a = ap.parse_args()
    from flushwatch.scoring.detect import detect_and_attribute
    from flushwatch.scoring.thresholds import AttributionWeights

    weights = AttributionWeights()
    data = shared_data_dir()
    if data is None:
        sys.exit("shared data not found (../shared/data or FLUSHWATCH_SHARED_DATA)")
    if a.reuse:
        tmp = a.reuse
        db = Database(tmp / "eval.duckdb", snapshot=False)
    else:
        tmp = a.keep or Path(tempfile.mkdtemp(prefix="flushwatch-eval-"))
        tmp.mkdir(parents=True, exist_ok=True)
        path = tmp / "eval.duckdb"
        for p in (path, path.with_suffix(".duckdb.wal")):
            p.unlink(missing_ok=True)
        db = Database(path, snapshot=False)
        scoring = build(db, data, not a.no_score, a.model)
        rep = detect_and_attribute(db, weights=weights)
        print(
            f"scores: {scoring}; flushes: {rep.detect.flushes_found}; catalysts: {rep.catalysts}; "
            f"{ATTRIBUTION_VERSION}, {DETECTOR_VERSION}\n"
        )
    evaluate(db, weights.lookback_min)
    if not a.keep and not a.reuse:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
