"""Attribution evaluation on the real flushes in ../shared/data that have headlines.

Builds a temporary database from the shared data (candles loaded with DuckDB SQL, headlines
through the real `import headlines` library, scores through the real model pipeline when it
is available), runs `detect` (which attributes), and prints, per known event, the most severe
flush found in its window and what ranks first, with a check against the catalyst public
history documents (a keyword rule per event, printed beside it).

Titles are cut to 34 characters: the shared headlines are third-party text.

Usage: python bench/eval_attribution.py [--keep DIR] [--no-score] [--model NAME]
       python bench/eval_attribution.py --reuse DIR [--contagion-share X]

``--reuse DIR`` takes the database a ``--keep DIR`` run left (same flushes, same scores) and only
re-ranks every flush, with ``--contagion-share`` overriding the default: ``0`` is attr-1's
relevance rule, which isolates what cross-asset contagion changed. ``--model`` scores with
another model (``flushwatch-minilm-crypto``, a directory, a hub id) instead of the configured one.
"""

# ruff: noqa: E501  (long SQL and table lines in a script)

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from flushwatch.config import shared_data_dir
from flushwatch.storage.db import Database


@dataclass(frozen=True)
class Event:
    name: str
    asset: str
    start: str
    end: str
    history: str  # what public history documents as the trigger
    pattern: str  # a top headline matching this counts as the documented catalyst


EVENTS = (
    Event(
        "LUNA/UST collapse",
        "BTC",
        "2022-05-09",
        "2022-05-13",
        "UST depeg, Terra/LFG selling",
        r"terra|luna|\bust\b|lfg|do kwon",
    ),
    Event("Celsius pause", "ETH", "2022-06-12", "2022-06-15", "Celsius freezes withdrawals", r"celsius"),
    Event(
        "FTX: Binance LOI",
        "BTC",
        "2022-11-08 12:00",
        "2022-11-09 06:00",
        "FTX liquidity crunch, Binance deal",
        r"ftx|binance|ftt|sbf|bankman",
    ),
    Event(
        "FTX: deal dropped",
        "BTC",
        "2022-11-09 12:00",
        "2022-11-10 06:00",
        "Binance walks away from FTX",
        r"ftx|binance|ftt|sbf|bankman",
    ),
    Event(
        "2025-11-21 sell-off",
        "BTC",
        "2025-11-20 12:00",
        "2025-11-22",
        "risk-off, fading Dec. rate-cut odds",
        r"fed|rate|nvidia|jobs|payroll|powell",
    ),
    Event(
        "2026-02-05 deleveraging", "BTC", "2026-02-05", "2026-02-07", "(not in the model's knowledge)", r"$^"
    ),
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--no-score", action="store_true")
    ap.add_argument("--reuse", type=Path, help="re-rank the database a --keep run left; build nothing")
    ap.add_argument("--contagion-share", type=float, help="override [attribution] contagion_share")
    ap.add_argument("--model", help="score with this model instead of the configured one")
    a = ap.parse_args()
    from flushwatch.records.flushes import ATTRIBUTION_VERSION, DETECTOR_VERSION
    from flushwatch.scoring.attribution import attribute
    from flushwatch.scoring.detect import detect_and_attribute
    from flushwatch.scoring.thresholds import AttributionWeights
    from flushwatch.storage.flushes import FlushQuery, list_flushes

    weights = AttributionWeights()
    if a.contagion_share is not None:
        weights = dataclasses.replace(weights, contagion_share=a.contagion_share)
    if a.reuse:
        tmp = a.reuse
        db = Database(tmp / "eval.duckdb", snapshot=False)
        att = attribute(db, weights)
        print(
            f"re-ranked {att.flushes} flushes of {tmp / 'eval.duckdb'}: catalysts: {att.catalysts}; "
            f"{ATTRIBUTION_VERSION}, {DETECTOR_VERSION}, contagion_share {weights.contagion_share}\n"
        )
    else:
        data = shared_data_dir()
        if data is None:
            sys.exit("shared data not found (../shared/data or FLUSHWATCH_SHARED_DATA)")
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
            f"{ATTRIBUTION_VERSION}, {DETECTOR_VERSION}, contagion_share {weights.contagion_share}\n"
        )
    details: list[str] = []
    print(
        "| event | flush (asset, interval, start UTC, move) | #1 cause (title cut to 34 chars, source, score) "
        "| documented catalyst | #1 matches | best match rank |"
    )
    print("|---|---|---|---|---|---|")
    for ev in EVENTS:
        start = dt.datetime.fromisoformat(ev.start).replace(tzinfo=dt.UTC)
        end = dt.datetime.fromisoformat(ev.end).replace(tzinfo=dt.UTC)
        found = list_flushes(db, FlushQuery(asset=ev.asset, start=start, end=end, catalysts_per_flush=10))
        if not found:
            print(f"| {ev.name} | no flush detected | - | {ev.history} | - | - |")
            continue
        f = max(found, key=lambda x: x.severity)
        causes = f.causes
        pat = re.compile(ev.pattern, re.IGNORECASE)
        flush_txt = f"{f.asset} {f.interval} {f.start_at:%Y-%m-%d %H:%M} {f.extreme_move_pct:+.1f}%"
        if not causes:
            print(f"| {ev.name} | {flush_txt} | no headlines in window | {ev.history} | - | - |")
            continue
        top = causes[0]
        ranks = [c.rank for c in causes if pat.search(c.title)]
        for c in causes:
            if c is top or pat.search(c.title):
                details.append(
                    f"{ev.name}: rank {c.rank} score {c.score:.1f} relevance "
                    f"{c.components.get('relevance', 0):.1f} ({c.components.get('relevance_basis', '-')})"
                    f"{' [matches]' if pat.search(c.title) else ''}"
                )
        print(
            f"| {ev.name} | {flush_txt} | {top.title[:34]!r} ({top.source}, {top.score:.1f}) | {ev.history} "
            f"| {'yes' if pat.search(top.title) else 'no'} | {ranks[0] if ranks else '-'} |"
        )
    print("\nrank-1 and matching causes, with their relevance points and basis:")
    for line in details:
        print(f"  {line}")
    if not a.keep and not a.reuse:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
