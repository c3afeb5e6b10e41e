"""Benchmark: the CPU side of one ingest pass over a catalogue-sized input, on one core.

60 synthetic RSS 2.0 feeds x 50 items (the catalogue has 40 feeds; real feeds carry 10-50
items) go through what a pass does after the bytes arrive: feedparser, normalisation, then
dedup + asset tags + stories + the store into a fresh DuckDB file (one thread). Target: a full
pass of the catalogue <= 3 s CPU at 60 feeds. Printed: CPU seconds (best and median of three),
items/s, and the parse + normalise share. A second line runs the same feeds without a
``<language>``, so every title also goes through the language detector (its model loads once
per process, before the timing).

Run: python bench/bench_ingest.py  (no network; the feeds are generated here)
"""

from __future__ import annotations

import datetime as dt
import email.utils
import os
import statistics
import tempfile
import time
from pathlib import Path

from flushwatch.ingest.news.assets import tag_assets
from flushwatch.ingest.news.batch import store_headlines
from flushwatch.ingest.news.parse import parse_feed
from flushwatch.ingest.news.service import _Feed, headlines_from
from flushwatch.nlp.language import detect_language
from flushwatch.storage.db import Database, transaction

FEEDS, ITEMS, REPEATS, TARGET_S = 60, 50, 3, 3.0
COINS = ["Bitcoin", "Ether", "Solana", "XRP", "Dogecoin", "Cardano", "Chainlink", "Avalanche", "Polkadot"]
VERBS = ["rises", "falls", "steadies", "jumps", "slides", "stalls", "rebounds", "dips"]
BASE = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)


def make_feed(n: int, language: str = "<language>en</language>") -> bytes:
    items = []
    for i in range(ITEMS):
        coin, verb = COINS[(n + i) % len(COINS)], VERBS[(n * 7 + i) % len(VERBS)]
        when = email.utils.format_datetime(BASE + dt.timedelta(minutes=n * ITEMS + i))
        items.append(
            f"<item><title>{coin} {verb} {i % 9 + 1}% in session {n}-{i} as desk {n} reports flows</title>"
            f"<link>https://bench{n}.example.test/news/{i}?utm_source=rss</link>"
            f"<guid isPermaLink='false'>bench-{n}-{i}</guid><pubDate>{when}</pubDate>"
            f"<description>&lt;p&gt;Synthetic item {i} of feed {n}.&lt;/p&gt;</description></item>"
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Bench {n}</title>'
        f"<link>https://bench{n}.example.test/</link><description>bench</description>{language}"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def cpu_pass(folder: Path, bodies: list[bytes]) -> tuple[float, float, int]:
    """(CPU seconds for the pass, of which parse + normalise, rows stored)."""
    db = Database(folder / f"cpu-{time.monotonic_ns()}.duckdb", wait_s=5, snapshot=False)
    with db.write():
        pass  # create + migrate outside the timing
    now = dt.datetime.now(dt.UTC)
    with db.connection() as con:
        con.execute("SET threads = 1")
        t0 = time.process_time()
        items = []
        for n, body in enumerate(bodies):
            feed = _Feed(n + 1, f"Bench {n}", f"bench-{n}", "crypto", None, None)
            items += headlines_from(feed, parse_feed(feed.url, body, "application/rss+xml"), now)
        parsed = time.process_time() - t0
        with transaction(con):
            store_headlines(con, items, run_id=None, tagger=lambda h: tag_assets(h.title))
        seconds = time.process_time() - t0
    with db.read() as con:
        stored = con.execute("SELECT count(*) FROM headlines").fetchone()[0]  # type: ignore[index]
    return seconds, parsed, int(stored)


def report(label: str, folder: Path, bodies: list[bytes]) -> None:
    cpu_pass(folder, bodies)  # warm: imports, regex and date-parser caches
    runs = [cpu_pass(folder, bodies) for _ in range(REPEATS)]
    best = min(runs)
    median = statistics.median(r[0] for r in runs)
    verdict = "met" if best[0] <= TARGET_S else "MISSED"
    print(
        f"{label}: {best[0]:.2f} s CPU best, {median:.2f} s median ({verdict}); "
        f"{best[2] / best[0]:,.0f} items/s; parse+normalise {best[1]:.2f} s, "
        f"dedup+tag+store {best[0] - best[1]:.2f} s; {best[2]} rows"
    )


def main() -> None:
    load = "/".join(f"{x:.2f}" for x in os.getloadavg())
    items = FEEDS * ITEMS
    print(f"target: a full pass of the catalogue <= {TARGET_S:g} s CPU at {FEEDS} feeds ({items} items)")
    detect_language("Bitcoin rises")  # the detector's model loads once per process
    with tempfile.TemporaryDirectory() as tmp:
        report("feeds declare <language>", Path(tmp), [make_feed(n) for n in range(FEEDS)])
        report("no <language>, every title detected", Path(tmp), [make_feed(n, "") for n in range(FEEDS)])
    print(f"load average (1/5/15 min) at start: {load}, on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
