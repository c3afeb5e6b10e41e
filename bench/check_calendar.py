"""Check the bundled release calendar against real candles and headlines (../shared/data).

A release that happened when the calendar says shows in the market: the bar that contains it
trades more than the bars before it (clearly on 5m and 15m bars, weakly on 1h bars, where a
release is a quarter of the bar or less), and crypto outlets mention it within the hour or so.
So for every bundled release inside the candle data, on the finest candles that cover it, and
for every one inside the headline data:

* the release bar's volume and |close/open - 1| against the median of the 12 bars before it
  (a ratio; "elevated" is a volume ratio of 2 or more, or, on price-index bars that carry no
  volume, a return ratio of 2 or more);
* whether a headline published 0-90 min after the release mentions it (keywords per kind);
* whether a headline in the 6 h before the release already reports it (a result, not a
  preview), which would say the release came earlier than the calendar has it.

A release disagrees when its bar is not elevated on 5m/15m bars and no headline mentions it,
or when a headline reports it early. The disagreeing releases are listed for a person to look
at; a quiet bar alone is weak evidence (a dull CPI print moves little). For scale, the same
clock on weekdays without any bundled release is shown as a baseline.

Usage: python bench/check_calendar.py   (needs ../shared/data or FLUSHWATCH_SHARED_DATA)
"""

# ruff: noqa: E501  (long SQL and table lines in a script)

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

from flushwatch.config import require_shared_data
from flushwatch.storage.calendar import bundled_csv_text

BARS_BEFORE = 12
ELEVATED = 2.0
AFTER_MIN = 90
EARLY_H = 6
NEARBY_DAYS = 3

# Case-insensitive regular expressions (RE2, as DuckDB runs them) a headline must match to
# mention a release of each kind.
MENTION = {
    "cpi": r"\bCPI\b|inflation|consumer price",
    "ppi": r"\bPPI\b|producer price|wholesale (price|inflation)",
    "jobs": r"\bjobs\b|payroll|unemployment|\bNFP\b|labor market|hiring",
    "fomc_decision": r"\bFOMC\b|\bFed\b|Federal Reserve|rate (hike|cut|decision)|interest rate|Powell",
    "fomc_minutes": r"\bminutes\b",
    "pce": r"\bPCE\b|personal (income|spending|consumption)",
    "gdp": r"\bGDP\b|gross domestic|economic growth|economy (grew|shrank|contracted|expanded)",
    "retail_sales": r"retail sales|consumer spending",
}
# A headline reports a result (rather than previewing one) when it has a figure or a past or
# present tense of a move, and none of the preview words.
RESULT = (
    r"\d(\.\d+)?\s?%|\d+ ?(bp|bps|basis points)|\b(rose|rises|fell|falls|jumped|jumps|climbed|"
    r"cooled|cools|eased|eases|slowed|slows|came in|hotter than|cooler than|raises|raised|hikes|"
    r"hiked|cuts|holds|held|keeps|kept|leaves|pauses|paused|added|adds|shed|sheds)\b"
)
PREVIEW = (
    r"expect|forecast|ahead of|preview|could|will|may |what to|watch|await|eyes|before|week ahead|this week"
)

# (folder, file glob, asset, market, minutes per bar, format). Finest first wins per release.
CANDLES = [
    ("prices_binance_usdm_btcusdt_1m_flush_windows", "BTCUSDT-1m_*.csv", "BTC", "perp", 1, "archive"),
    (
        "prices_binance_usdm_5m_2025_12_2026_01",
        "BTC_USDT_USDT-5m-futures_*.csv.gz",
        "BTC",
        "perp",
        5,
        "freqtrade",
    ),
    ("prices_binance_btcusdt_5m_priceindex_2025q4", "BTCUSDT-5m_*.csv.gz", "BTC", "index", 5, "archive"),
    ("prices_binance_2022q4_ftx_window", "ETH_USDT-5m-spot_*.csv.gz", "ETH", "spot", 5, "freqtrade"),
    ("prices_binance_spot_15m_2024_2025", "BTC_USDT-15m_*.csv.gz", "BTC", "spot", 15, "freqtrade"),
    (
        "prices_binance_usdm_btcusdt_1h_2019_2022",
        "BTC_USDT-1h-usdm-futures_*.csv.gz",
        "BTC",
        "perp",
        60,
        "freqtrade",
    ),
    ("prices_binance_spot_1h_2017_2022", "BTC_USDT-1h_*.csv.gz", "BTC", "spot", 60, "freqtrade"),
]
# (folder, file glob, read_csv options, SQL for the UTC time, SQL for the title).
NEWS = [
    ("news_cryptonews_2021_2022", "*.csv.gz", "delim=';'", "strptime(date, '%d-%m-%Y %H:%M')", "title"),
    (
        "news_cryptonews_ftx_window_2022_11",
        "*.csv",
        "delim=','",
        "strptime(date, '%Y-%m-%d %H:%M:%S')",
        "title",
    ),
    (
        "news_cryptocompare_feed_2025_2026",
        "*.csv.gz",
        "delim=','",
        "CAST(published_at_utc AS TIMESTAMPTZ)",
        "title",
    ),
]


@dataclass(frozen=True)
class KindFigures:
    kind: str
    releases: int
    in_candles: int
    fine: int  # on 1-15 minute bars
    fine_elevated: int
    hourly: int
    hourly_elevated: int
    median_ratio_fine: float | None
    in_news: int
    mentioned: int
    early: int
    disagree: int


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def load(con: duckdb.DuckDBPyConnection, base: Path) -> None:
    """Candles, headlines and the bundled releases as tables ``bars``, ``news``, ``releases``."""
    con.execute("SET TimeZone = 'UTC'")
    parts = []
    for folder, pattern, asset, market, minutes, fmt in CANDLES:
        files = sorted((base / folder).glob(pattern))
        if not files:
            print(f"note: no {pattern} in {folder}; skipped", file=sys.stderr)
            continue
        paths = "[" + ", ".join(_sql_str(str(f)) for f in files) + "]"
        t = "open_time" if fmt == "archive" else "open_time_ms"
        parts.append(
            f"""SELECT {_sql_str(folder)} AS dataset, {_sql_str(asset)} AS asset, {_sql_str(market)} AS market,
                       {minutes} AS minutes, make_timestamptz(CAST({t} AS BIGINT) * 1000) AS open_time,
                       CAST(open AS DOUBLE) AS open, CAST(close AS DOUBLE) AS close,
                       CAST(volume AS DOUBLE) AS volume
                  FROM read_csv({paths}, header = true, all_varchar = true)"""
        )
    con.execute("CREATE TABLE raw_bars AS " + " UNION ALL ".join(parts))
    # Per bar: the median volume and |return| of the BARS_BEFORE bars before it, and whether those
    # bars are all there (no gap), so a ratio is never taken against a hole in the data.
    con.execute(
        f"""
        CREATE TABLE bars AS
        SELECT *,
               volume / nullif(median(volume) OVER w, 0)      AS vol_ratio,
               abs(close / open - 1) / nullif(median(abs(close / open - 1)) OVER w, 0) AS ret_ratio,
               count(*) OVER w = {BARS_BEFORE}
                 AND min(open_time) OVER w = open_time - INTERVAL (minutes * {BARS_BEFORE}) MINUTE AS full_baseline,
               max(volume) OVER (PARTITION BY dataset) > 0   AS has_volume
          FROM raw_bars
        WINDOW w AS (PARTITION BY dataset ORDER BY open_time
                     ROWS BETWEEN {BARS_BEFORE} PRECEDING AND 1 PRECEDING)
        """
    )
    news_parts = []
    for folder, pattern, options, time_sql, title_sql in NEWS:
        files = sorted((base / folder).glob(pattern))
        if not files:
            print(f"note: no {pattern} in {folder}; skipped", file=sys.stderr)
            continue
        news_parts.append(
            f"""SELECT {_sql_str(folder)} AS dataset, CAST({time_sql} AS TIMESTAMPTZ) AS published_at,
                       {title_sql} AS title
                  FROM read_csv({_sql_str(str(files[0]))}, header = true, all_varchar = true, {options})"""
        )
    con.execute("CREATE TABLE news AS " + " UNION ALL ".join(news_parts))
    con.execute("DELETE FROM news WHERE published_at IS NULL OR title IS NULL")
    con.execute(
        "CREATE TABLE news_cover AS SELECT dataset, min(published_at) AS first, max(published_at) AS last "
        "FROM news GROUP BY dataset"
    )
    bundled = list(csv.DictReader(io.StringIO(bundled_csv_text(), newline="")))
    con.execute(
        "CREATE TABLE releases AS SELECT unnest($at)::TIMESTAMPTZ AS release_at, unnest($kind) AS kind, "
        "unnest($name) AS name",
        {k: [r[c] for r in bundled] for k, c in (("at", "release_at"), ("kind", "kind"), ("name", "name"))},
    )
    con.execute(
        "CREATE TABLE mention (kind VARCHAR, pattern VARCHAR)",
    )
    con.executemany("INSERT INTO mention VALUES (?, ?)", list(MENTION.items()))


def evaluate(con: duckdb.DuckDBPyConnection) -> None:
    """Table ``checked``: one row per release inside the candle data or the headlines, with its
    evidence (bar columns NULL where no candles cover it)."""
    con.execute(
        f"""
        CREATE TABLE checked AS
        WITH bar AS (
            SELECT r.release_at, r.kind, b.dataset, b.asset, b.market, b.minutes,
                   b.vol_ratio, b.ret_ratio, b.has_volume,
                   row_number() OVER (PARTITION BY r.kind, r.release_at
                                      ORDER BY b.minutes, b.has_volume DESC, b.asset = 'BTC' DESC,
                                               b.market = 'perp' DESC, b.dataset) AS pick
              FROM releases r
              JOIN bars b ON b.open_time = time_bucket(INTERVAL (b.minutes) MINUTE, r.release_at)
             WHERE b.full_baseline
        ), evidence AS (
            SELECT r.release_at, r.kind, r.name, bar.* EXCLUDE (release_at, kind, pick),
                   CASE WHEN bar.has_volume THEN bar.vol_ratio >= {ELEVATED}
                        ELSE bar.ret_ratio >= {ELEVATED} END AS elevated,
                   EXISTS (SELECT 1 FROM news_cover c
                            WHERE r.release_at >= c.first
                              AND r.release_at + INTERVAL {AFTER_MIN} MINUTE <= c.last) AS in_news,
                   (SELECT count(*) FROM news n, mention m
                     WHERE m.kind = r.kind
                       AND n.published_at >= r.release_at
                       AND n.published_at <= r.release_at + INTERVAL {AFTER_MIN} MINUTE
                       AND regexp_matches(n.title, m.pattern, 'i')) AS mentions,
                   (SELECT count(*) FROM news n, mention m
                     WHERE m.kind = r.kind
                       AND n.published_at >= r.release_at - INTERVAL {EARLY_H} HOUR
                       AND n.published_at < r.release_at
                       AND regexp_matches(n.title, m.pattern, 'i')
                       AND regexp_matches(n.title, {_sql_str(RESULT)}, 'i')
                       AND NOT regexp_matches(n.title, {_sql_str(PREVIEW)}, 'i')) AS early
              FROM releases r
              LEFT JOIN bar ON bar.release_at = r.release_at AND bar.kind = r.kind AND bar.pick = 1
        )
        SELECT * FROM evidence WHERE minutes IS NOT NULL OR in_news
        """
    )


def figures(con: duckdb.DuckDBPyConnection) -> list[KindFigures]:
    rows = con.execute(
        """
        SELECT r.kind, count(*) AS releases,
               count(c.minutes) AS in_candles,
               count(c.kind) FILTER (WHERE c.minutes <= 15) AS fine,
               count(c.kind) FILTER (WHERE c.minutes <= 15 AND c.elevated) AS fine_elevated,
               count(c.kind) FILTER (WHERE c.minutes = 60) AS hourly,
               count(c.kind) FILTER (WHERE c.minutes = 60 AND c.elevated) AS hourly_elevated,
               median(CASE WHEN c.has_volume THEN c.vol_ratio ELSE c.ret_ratio END) FILTER (WHERE c.minutes <= 15),
               count(c.kind) FILTER (WHERE c.in_news) AS in_news,
               count(c.kind) FILTER (WHERE c.in_news AND c.mentions > 0) AS mentioned,
               count(c.kind) FILTER (WHERE c.early > 0) AS early,
               count(c.kind) FILTER (WHERE (c.minutes <= 15 AND NOT c.elevated AND c.mentions = 0) OR c.early > 0)
          FROM releases r
          LEFT JOIN checked c USING (kind, release_at)
         GROUP BY r.kind
         ORDER BY r.kind
        """
    ).fetchall()
    return [KindFigures(*r) for r in rows]


def baseline(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, int, float | None]]:
    """The same clock on weekdays with no bundled release that day: how often is it elevated?

    Per dataset with volume, the bars holding 8:30 and 14:00 New York time on every weekday
    without any release (a Thursday's 8:30 still carries the weekly jobless claims)."""
    return con.execute(
        f"""
        WITH local AS (
            SELECT b.*, timezone('America/New_York', b.open_time) AS ny FROM bars b
             WHERE b.has_volume AND b.full_baseline AND b.minutes > 1
        )
        SELECT dataset || ' ' || CASE WHEN hour(ny) = 14 THEN '14:00' ELSE '08:30' END || ' ET',
               count(*), count(*) FILTER (WHERE vol_ratio >= {ELEVATED}), median(vol_ratio)
          FROM local
         WHERE isodow(ny) <= 5
           AND ((hour(ny) = 8 AND minute(ny) = CASE WHEN minutes = 60 THEN 0 ELSE 30 END)
                OR (hour(ny) = 14 AND minute(ny) = 0))
           AND NOT EXISTS (SELECT 1 FROM releases r
                            WHERE CAST(timezone('America/New_York', r.release_at) AS DATE) = CAST(ny AS DATE))
         GROUP BY ALL ORDER BY 1
        """
    ).fetchall()


def disagreements(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    """The disagreeing releases, each with the largest ratio at the same clock on the weekdays up
    to NEARBY_DAYS either side that have no bundled release then: a misdated release would show
    there as a spike larger than its own bar's."""
    return con.execute(
        f"""
        WITH d AS (
            SELECT * FROM checked
             WHERE (minutes <= 15 AND NOT elevated AND mentions = 0) OR early > 0
        ), nearby AS (
            SELECT d.kind, d.release_at,
                   arg_max(strftime(b.open_time, '%m-%d'),
                           CASE WHEN b.has_volume THEN b.vol_ratio ELSE b.ret_ratio END) AS day,
                   max(CASE WHEN b.has_volume THEN b.vol_ratio ELSE b.ret_ratio END) AS ratio
              FROM d
              JOIN range(-{NEARBY_DAYS}, {NEARBY_DAYS} + 1) AS k(k) ON k.k <> 0
              JOIN bars b ON b.dataset = d.dataset
                         AND b.open_time = time_bucket(INTERVAL (b.minutes) MINUTE, d.release_at + to_days(CAST(k.k AS INTEGER)))
                         AND b.full_baseline
             WHERE isodow(d.release_at + to_days(CAST(k.k AS INTEGER))) <= 5
               AND NOT EXISTS (SELECT 1 FROM releases r
                                WHERE r.release_at = d.release_at + to_days(CAST(k.k AS INTEGER)))
             GROUP BY ALL
        )
        SELECT strftime(d.release_at, '%Y-%m-%d %H:%M') AS release_utc, d.kind, d.name,
               coalesce(d.asset || ' ' || d.market || ' ' || d.minutes || 'm', '-') AS bars,
               round(d.vol_ratio, 2), round(d.ret_ratio, 2),
               CASE WHEN n.ratio IS NULL THEN NULL ELSE n.day || ': ' || round(n.ratio, 1) END,
               d.in_news, d.mentions, d.early
          FROM d
          LEFT JOIN nearby n USING (kind, release_at)
         ORDER BY d.release_at, d.kind
        """
    ).fetchall()


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _table(header: list[str], rows: list[list[object]]) -> str:
    cells = [header, *[[_fmt(v) for v in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def main() -> int:
    base = require_shared_data("bench/check_calendar.py")
    con = duckdb.connect()
    load(con, base)
    evaluate(con)
    figs = figures(con)
    print("Bundled calendar against candles and headlines (elevated: release bar / median of the")
    print(f"{BARS_BEFORE} bars before >= {ELEVATED:g}; mention: a headline 0-{AFTER_MIN} min after)\n")
    header = [
        "kind",
        "releases",
        "in candles",
        "5-15m elevated",
        "1h elevated",
        "median ratio 5-15m",
        "in news",
        "mentioned",
        "early",
        "disagree",
    ]
    rows: list[list[object]] = [
        [
            f.kind,
            f.releases,
            f.in_candles,
            f"{f.fine_elevated}/{f.fine}",
            f"{f.hourly_elevated}/{f.hourly}",
            f.median_ratio_fine,
            f.in_news,
            f"{f.mentioned}/{f.in_news}",
            f.early,
            f.disagree,
        ]
        for f in figs
    ]
    tot = [
        sum(getattr(f, a) for f in figs)
        for a in (
            "releases",
            "in_candles",
            "fine_elevated",
            "fine",
            "hourly_elevated",
            "hourly",
            "in_news",
            "mentioned",
            "early",
            "disagree",
        )
    ]
    rows.append(
        [
            "all",
            tot[0],
            tot[1],
            f"{tot[2]}/{tot[3]}",
            f"{tot[4]}/{tot[5]}",
            None,
            tot[6],
            f"{tot[7]}/{tot[6]}",
            tot[8],
            tot[9],
        ]
    )
    print(_table(header, rows))
    print("\nBaseline: the same clock on weekdays without a bundled release")
    print(_table(["bars", "days", "elevated", "median ratio"], [list(r) for r in baseline(con)]))
    found = disagreements(con)
    print(f"\nDisagreeing releases: {len(found)}")
    if found:
        print(
            _table(
                [
                    "release (UTC)",
                    "kind",
                    "name",
                    "bars",
                    "vol ratio",
                    "ret ratio",
                    "nearby max",
                    "in news",
                    "mentions",
                    "early",
                ],
                [list(r) for r in found],
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
