"""The daily digest: one window's flushes, top headlines, sentiment per asset and coverage warnings.

Built for cron. :func:`build_digest` reads in one short read-only session and returns a
:class:`Digest`; the renderers turn it into Markdown, HTML or JSON. The same data gives the
same bytes: every list has a total order (ties broken by id), floats are rounded, and the only
timestamps shown come from the data or the requested window, never from the clock.

Coverage warnings say what is missing, so a digest that looks quiet because a feed died or
candles stopped arriving does not pass for a quiet day: failed feeds (from ``feeds``), market
data gaps (recorder disconnects from ``coverage_gaps``, and holes in candle series computed
in SQL), no headlines, unscored headlines. The CLI exits 3 when there is any.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

from flushwatch.errors import ConfigError
from flushwatch.records.flushes import verdict_text
from flushwatch.storage.db import Connection, Database
from flushwatch.storage.flushes import CATALYST_JOINS, CATALYST_SOURCE, CATALYST_TITLE

#: Assets that get their own sentiment line (others are folded into the top headlines only).
MAJOR_ASSETS = ("BTC", "ETH", "SOL", "XRP", "MARKET")
TOP_HEADLINES = 10
CATALYSTS_PER_FLUSH = 3
#: A headline at or above this importance counts as important in the digest.
IMPORTANT = 50.0
#: A hole in a candle series longer than this many bars is a gap worth a warning.
GAP_MIN_BARS = 3


@dataclass(frozen=True)
class Window:
    start: dt.datetime  # inclusive
    end: dt.datetime  # exclusive
    label: str  # '2025-10-10' or 'last 24h'


@dataclass(frozen=True)
class DigestCatalyst:
    rank: int
    headline_id: int | None  # None: a scheduled release
    title: str
    source: str
    headline_time: dt.datetime
    score: float


@dataclass(frozen=True)
class DigestFlush:
    flush_id: int
    asset: str
    direction: str
    start_at: dt.datetime
    peak_at: dt.datetime
    price_move_pct: float
    extreme_move_pct: float | None
    liquidated_usd: float | None
    severity: float
    market_wide: bool
    catalysts: tuple[DigestCatalyst, ...]
    coverage_count: int
    attributed: bool  # False: attribution never ran for it, so no catalysts is no finding yet
    verdict: str | None  # likely | possible | none (no convincing catalyst); None: not ranked
    cause_probability: float | None  # calibrated probability that catalyst #1 is the cause
    market_event_id: int | None  # flushes at the same time share it


@dataclass(frozen=True)
class DigestHeadline:
    headline_id: int
    at: dt.datetime
    title: str
    source: str
    importance: float
    sentiment: str
    event_type: str | None
    assets: tuple[str, ...]


@dataclass(frozen=True)
class AssetSentiment:
    asset: str
    headlines: int
    bearish: int
    neutral: int
    bullish: int
    mean_score: float  # mean of p_bullish - p_bearish, in [-1, 1]
    by_quarter: tuple[float | None, ...]  # mean score per quarter of the window, None = no headlines


@dataclass(frozen=True)
class CoverageWarning:
    kind: str  # feed_failed | market_gap | recorder_gap | no_headlines | no_market_data | unscored
    subject: str  # the feed, series or stream it is about
    message: str


@dataclass(frozen=True)
class Digest:
    window: Window
    data_until: dt.datetime | None  # newest headline or candle time inside the window
    headline_count: int
    flushes: tuple[DigestFlush, ...]
    top_headlines: tuple[DigestHeadline, ...]
    sentiment: tuple[AssetSentiment, ...]
    warnings: tuple[CoverageWarning, ...]

    @property
    def data_missing(self) -> bool:
        return bool(self.warnings)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- windows ------------------------------------------------------------------------------------


def day_window(day: dt.date) -> Window:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    try:
        return Window(start, start + dt.timedelta(days=1), day.isoformat())
    except OverflowError as exc:  # the CLI refuses 9999-12-31 (flushwatch.timeparse.parse_day)
        raise ConfigError(f"--date {day}: out of range") from exc


def since_window(since: dt.timedelta, now: dt.datetime) -> Window:
    hours = since.total_seconds() / 3600
    label = f"last {hours:g}h" if hours < 48 else f"last {hours / 24:g}d"
    try:
        return Window(now - since, now, label)
    except OverflowError as exc:  # the CLI caps durations; a library caller may not
        raise ConfigError(f"--since {since.days}d: reaches back before year 1") from exc


# -- queries --------------------------------------------------------------------------------------

# Headlines placed by attribution's rule: live ones when first seen, backfilled ones when published.
_HTIME = """CASE WHEN h.origin = 'feed' OR h.published_at IS NULL OR h.time_flag IS NOT NULL
                 THEN h.first_seen_at ELSE h.published_at END"""

# A CTE prefix (a read-only connection cannot create views): the window's headlines with their
# latest score. Queries using it take $start and $end.
_DG_H = f"""
WITH _h AS (  -- prefilter on the indexed published_at and on first_seen_at, then the exact rule
    SELECT * FROM (
        SELECT h.headline_id, h.title, h.source, {_HTIME} AS t FROM headlines h
         WHERE h.published_at BETWEEN $start - INTERVAL 2 DAY AND $end
            OR h.first_seen_at BETWEEN $start AND $end)
     WHERE t >= $start AND t < $end
),
_s AS (
    SELECT * FROM headline_scores WHERE headline_id IN (SELECT headline_id FROM _h)
    QUALIFY row_number() OVER (PARTITION BY headline_id ORDER BY scored_at DESC, model_revision DESC) = 1
),
_dg_h AS (
    SELECT _h.*, _s.importance, _s.sentiment, _s.sentiment_score, _s.event_type, _s.is_market_report,
           _s.headline_id IS NOT NULL AS scored
      FROM _h LEFT JOIN _s USING (headline_id)
     WHERE _h.t >= $start AND _h.t < $end
)
"""


def _flushes(con: Connection, w: Window) -> list[DigestFlush]:
    rows = con.execute(
        """
        SELECT flush_id, asset, direction, start_at, peak_at, round(price_move_pct, 2),
               round(extreme_move_pct, 2), round(liquidated_usd, 0), round(severity, 1), market_wide,
               -- attribution sets attributed_run_id (NULL when run outside a run) and writes rows
               f.attributed_run_id IS NOT NULL
                 OR EXISTS (SELECT 1 FROM catalysts c WHERE c.flush_id = f.flush_id) AS attributed,
               f.verdict, f.cause_probability, f.market_event_id
          FROM flushes f WHERE start_at >= ? AND start_at < ?
         ORDER BY start_at, asset, flush_id
        """,
        [w.start, w.end],
    ).fetchall()
    out = []
    for r in rows:
        cats = con.execute(
            f"""
            SELECT c.rank, c.headline_id, {CATALYST_TITLE}, {CATALYST_SOURCE}, c.headline_time,
                   round(c.score, 2)
              FROM catalysts c{CATALYST_JOINS}
             WHERE c.flush_id = ? AND NOT c.is_coverage
            QUALIFY c.attribution_version = max(c.attribution_version) OVER ()
             ORDER BY c.rank, c.headline_id LIMIT ?
            """,
            [r[0], CATALYSTS_PER_FLUSH],
        ).fetchall()
        cov = con.execute(
            """SELECT count(*) FROM catalysts
                WHERE flush_id = $1 AND is_coverage
                  AND attribution_version = (SELECT max(attribution_version) FROM catalysts
                                              WHERE flush_id = $1)""",
            [r[0]],
        ).fetchone()
        out.append(
            DigestFlush(  # type: ignore[call-arg]
                *r[:10],
                tuple(DigestCatalyst(*c) for c in cats),
                int(cov[0]) if cov else 0,
                bool(r[10]),
                r[11],
                r[12],
                r[13],
            )
        )
    return out


def _top_headlines(con: Connection, w: Window) -> list[DigestHeadline]:
    rows = con.execute(
        _DG_H
        + """
        SELECT d.headline_id, d.t, d.title, d.source, round(d.importance, 1), d.sentiment, d.event_type,
               coalesce((SELECT list(asset ORDER BY asset) FROM headline_assets a
                          WHERE a.headline_id = d.headline_id), []) AS assets
          FROM _dg_h d
         WHERE d.scored AND NOT d.is_market_report
         ORDER BY d.importance DESC, d.t, d.headline_id
         LIMIT $limit
        """,
        {"start": w.start, "end": w.end, "limit": TOP_HEADLINES},
    ).fetchall()
    return [DigestHeadline(*r[:7], tuple(r[7])) for r in rows]  # type: ignore[call-arg]


def _sentiment(con: Connection, w: Window) -> list[AssetSentiment]:
    quarter = (w.end - w.start) / 4
    rows = con.execute(
        _DG_H
        + """,
        x AS (
            SELECT a.asset, d.sentiment, d.sentiment_score,
                   least(3, CAST(floor(epoch(d.t - $start) / $q) AS INTEGER)) AS qtr
              FROM _dg_h d JOIN headline_assets a USING (headline_id)
             WHERE d.scored AND a.asset IN (SELECT unnest($assets))
        ),
        per AS (
            SELECT asset, count(*) AS n,
                   count(*) FILTER (WHERE sentiment = 'bearish') AS bear,
                   count(*) FILTER (WHERE sentiment = 'neutral') AS neut,
                   count(*) FILTER (WHERE sentiment = 'bullish') AS bull,
                   round(avg(sentiment_score), 3) AS mean,
                   [round(avg(sentiment_score) FILTER (WHERE qtr = 0), 3),
                    round(avg(sentiment_score) FILTER (WHERE qtr = 1), 3),
                    round(avg(sentiment_score) FILTER (WHERE qtr = 2), 3),
                    round(avg(sentiment_score) FILTER (WHERE qtr = 3), 3)] AS quarters
              FROM x GROUP BY asset
        )
        SELECT * FROM per ORDER BY asset
        """,
        {"start": w.start, "end": w.end, "q": quarter.total_seconds(), "assets": list(MAJOR_ASSETS)},
    ).fetchall()
    return [AssetSentiment(*r[:6], tuple(r[6])) for r in rows]  # type: ignore[call-arg]


_CANDLE_GAPS_SQL = """
WITH s AS (  -- series that have any candles before the window end: they are expected to continue
    SELECT venue, market, symbol, interval,
           CAST(CASE interval WHEN '1m' THEN 1 WHEN '3m' THEN 3 WHEN '5m' THEN 5 WHEN '15m' THEN 15
                WHEN '30m' THEN 30 WHEN '1h' THEN 60 WHEN '4h' THEN 240 ELSE 1440 END AS BIGINT) AS minutes
      FROM candles WHERE open_time < $end AND market IN ('perp', 'spot')
     GROUP BY ALL
),
b AS (  -- each series' bars in the window, plus virtual bars at the window edges
    SELECT c.venue, c.market, c.symbol, c.interval, c.open_time AS t, s.minutes
      FROM candles c JOIN s USING (venue, market, symbol, interval)
     WHERE c.open_time >= $start AND c.open_time < $end
    UNION ALL
    SELECT venue, market, symbol, interval, $start - to_minutes(minutes), minutes FROM s
    UNION ALL
    SELECT venue, market, symbol, interval, $end, minutes FROM s
),
g AS (
    SELECT venue, market, symbol, interval, minutes,
           lag(t) OVER (PARTITION BY venue, market, symbol, interval ORDER BY t) AS prev, t
      FROM b
)
SELECT venue, market, symbol, interval, prev + to_minutes(minutes) AS gap_from, t AS gap_to,
       CAST(epoch(t - prev) / 60 / minutes - 1 AS BIGINT) AS missing_bars
  FROM g
 WHERE prev IS NOT NULL AND epoch(t - prev) / 60 / minutes - 1 >= $min_bars
 ORDER BY venue, market, symbol, interval, gap_from
"""


def _warnings(con: Connection, w: Window, headline_count: int, unscored: int) -> list[CoverageWarning]:
    out: list[CoverageWarning] = []
    for name, url, err, n in con.execute(
        """
        SELECT name, url, coalesce(last_error, 'failed'), consecutive_failures
          FROM feeds
         WHERE enabled AND last_error_at >= $start AND last_error_at < $end
           AND (last_success_at IS NULL OR last_success_at < last_error_at)
         ORDER BY name, url
        """,
        {"start": w.start, "end": w.end},
    ).fetchall():
        # A stored feed error already starts with the URL it is about: say it once.
        reason = err.removeprefix(f"{url}: ")
        out.append(CoverageWarning("feed_failed", name, f"{url}: {reason} ({n} consecutive failures)"))
    for venue, stream, g0, g1, reason in con.execute(
        """
        SELECT venue, stream, greatest(gap_start, $start), least(coalesce(gap_end, $end), $end), reason
          FROM coverage_gaps
         WHERE gap_start < $end AND coalesce(gap_end, $end) > $start
         ORDER BY venue, stream, gap_start
        """,
        {"start": w.start, "end": w.end},
    ).fetchall():
        out.append(
            CoverageWarning(
                "recorder_gap",
                f"{venue} {stream}",
                f"recorder disconnected {g0:%Y-%m-%d %H:%M} → {g1:%H:%M} UTC"
                + (f" ({reason})" if reason else ""),
            )
        )
    gaps = con.execute(
        _CANDLE_GAPS_SQL, {"start": w.start, "end": w.end, "min_bars": GAP_MIN_BARS}
    ).fetchall()
    for venue, market, symbol, interval, g0, g1, missing in gaps:
        out.append(
            CoverageWarning(
                "market_gap",
                f"{venue} {market} {symbol} {interval}",
                f"{missing} candles missing {g0:%Y-%m-%d %H:%M} → {g1:%Y-%m-%d %H:%M} UTC",
            )
        )
    has_candles = con.execute(
        "SELECT count(*) FROM candles WHERE open_time >= ? AND open_time < ?", [w.start, w.end]
    ).fetchone()
    if not has_candles or not has_candles[0]:
        out.append(CoverageWarning("no_market_data", "candles", "no candles in the window"))
    if headline_count == 0:
        out.append(CoverageWarning("no_headlines", "headlines", "no headlines in the window"))
    elif unscored:
        out.append(
            CoverageWarning(
                "unscored", "headlines", f"{unscored} headlines not scored yet (run: flushwatch score)"
            )
        )
    return out


def build_digest_in(con: Connection, w: Window) -> Digest:
    counts = con.execute(
        _DG_H + "SELECT count(*), count(*) FILTER (WHERE NOT scored), max(t) FROM _dg_h",
        {"start": w.start, "end": w.end},
    ).fetchone()
    n, unscored, newest_h = counts or (0, 0, None)
    newest_c = con.execute(
        "SELECT max(open_time) FROM candles WHERE open_time >= ? AND open_time < ?", [w.start, w.end]
    ).fetchone()
    times = [t for t in (newest_h, newest_c[0] if newest_c else None) if t is not None]
    return Digest(
        window=w,
        data_until=max(times) if times else None,
        headline_count=int(n),
        flushes=tuple(_flushes(con, w)),
        top_headlines=tuple(_top_headlines(con, w)),
        sentiment=tuple(_sentiment(con, w)),
        warnings=tuple(_warnings(con, w, int(n), int(unscored))),
    )


def build_digest(db: Database, w: Window) -> Digest:
    """The digest for window ``w``, read in one short read-only session."""
    with db.read() as con:
        return build_digest_in(con, w)


# -- rendering ------------------------------------------------------------------------------------


def _t(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _usd(value: float | None) -> str:
    if value is None:
        return "not recorded"
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= div:
            return f"${value / div:.1f}{unit}"
    return f"${value:.0f}"


def _move(f: DigestFlush) -> str:
    m = f.extreme_move_pct if f.extreme_move_pct is not None else f.price_move_pct
    return f"{m:+.2f}%"


def _trend(q: tuple[float | None, ...]) -> str:
    return " ".join("·" if v is None else f"{v:+.2f}" for v in q)


def _no_catalysts(f: DigestFlush) -> str:
    """Why a flush lists no catalyst: not looked for yet is not the same as none found."""
    if not f.attributed:
        return "not attributed yet (run `flushwatch detect`)"
    if f.coverage_count:
        return "no candidate catalysts (only coverage headlines, which report the move)"
    return "no candidate catalysts (no headlines in the lookback window)"


#: Characters that start Markdown syntax inside a line: emphasis, code, links and images
#: (``[``), raw HTML and autolinks (``<``), table cells, strikethrough, and the backslash
#: itself. CommonMark reads a backslash before any of them as the character itself.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")


def _md(text: str | None) -> str:
    """Text from the data (a headline title, a source, a feed's error) as literal Markdown.

    A title is anyone's text: ``[click](javascript:...)``, ``<script>``, ``*bold*`` or a ``|``
    must show as typed, not become a link, HTML, emphasis or a broken table. Line breaks fold
    to spaces so a title cannot start a heading or a list of its own.
    """
    return _MD_SPECIAL.sub(r"\\\1", " ".join((text or "").split()))


def render_markdown(d: Digest) -> str:
    """The digest as Markdown; every text from the data goes through :func:`_md`."""
    w = d.window
    lines = [f"# flushwatch digest — {w.label}", ""]
    lines.append(
        f"Window: {_t(w.start)} → {_t(w.end)}. Headlines: {d.headline_count}. Data until: {_t(d.data_until)}."
    )
    lines += ["", f"## Flushes ({len(d.flushes)})", ""]
    if not d.flushes:
        lines.append("No flushes detected in this window.")
    events = Counter(f.market_event_id for f in d.flushes)
    for f in d.flushes:
        wide = ", market-wide" if f.market_wide else ""
        if events[f.market_event_id] > 1:
            wide += f", market event #{f.market_event_id}"
        lines.append(
            f"### #{f.flush_id} {_md(f.asset)} {_md(f.direction.replace('_', ' '))} {_move(f)} "
            f"at {_t(f.start_at)}{wide}"
        )
        lines.append("")
        lines.append(
            f"Peak {_t(f.peak_at)}, severity {f.severity:.0f}/100, liquidated {_usd(f.liquidated_usd)}, "
            f"{f.coverage_count} coverage headlines."
        )
        lines.append("")
        if f.catalysts:
            lines.append(f"Verdict: {verdict_text(f.verdict, f.cause_probability)}.")
            lines.append("")
        if not f.catalysts:
            lines.append(f"- {_no_catalysts(f)}")
        for c in f.catalysts:
            lines.append(
                f"{c.rank}. **{_md(c.title)}** — {_md(c.source)}, {_t(c.headline_time)} (score {c.score:.1f})"
            )
        lines.append("")
    lines += ["## Most important headlines", ""]
    if not d.top_headlines:
        lines.append("No scored headlines in this window.")
    for h in d.top_headlines:
        assets = _md(", ".join(h.assets)) or "-"
        lines.append(
            f"- {_t(h.at)} **{_md(h.title)}** — {_md(h.source)} · importance {h.importance:.0f} · "
            f"{_md(h.sentiment)} · {assets}"
        )
    lines += ["", "## Sentiment by asset", ""]
    if d.sentiment:
        lines.append("| asset | headlines | bearish | neutral | bullish | mean | by quarter of window |")
        lines.append("|---|---|---|---|---|---|---|")
        for s in d.sentiment:
            lines.append(
                f"| {_md(s.asset)} | {s.headlines} | {s.bearish} | {s.neutral} | {s.bullish} | "
                f"{s.mean_score:+.2f} | {_trend(s.by_quarter)} |"
            )
    else:
        lines.append("No scored headlines about the major assets.")
    lines += ["", "## Coverage warnings", ""]
    if not d.warnings:
        lines.append("None: every feed answered and market data has no gaps.")
    for wn in d.warnings:
        lines.append(f"- **{wn.kind}** {_md(wn.subject)}: {_md(wn.message)}")
    return "\n".join(lines).rstrip() + "\n"


def render_html(d: Digest) -> str:
    e = html.escape
    w = d.window
    parts = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f"<title>flushwatch digest {e(w.label)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}td,th{padding:2px 8px}"
        ".warn{color:#a00}</style></head><body>",
        f"<h1>flushwatch digest — {e(w.label)}</h1>",
        f"<p>Window: {_t(w.start)} → {_t(w.end)}. Headlines: {d.headline_count}. "
        f"Data until: {_t(d.data_until)}.</p>",
        f"<h2>Flushes ({len(d.flushes)})</h2>",
    ]
    if not d.flushes:
        parts.append("<p>No flushes detected in this window.</p>")
    for f in d.flushes:
        parts.append(
            f"<h3>#{f.flush_id} {e(f.asset)} {e(f.direction.replace('_', ' '))} {_move(f)} "
            f"at {_t(f.start_at)}"
            f"{', market-wide' if f.market_wide else ''}</h3>"
        )
        parts.append(
            f"<p>Peak {_t(f.peak_at)}, severity {f.severity:.0f}/100, liquidated {_usd(f.liquidated_usd)}, "
            f"{f.coverage_count} coverage headlines.</p>"
        )
        if not f.catalysts:
            parts.append(f"<p>{e(_no_catalysts(f))}</p>")
            continue
        parts.append(f"<p>Verdict: {e(verdict_text(f.verdict, f.cause_probability))}.</p>")
        parts.append("<ol>")
        parts.extend(
            f"<li><b>{e(c.title)}</b> — {e(c.source)}, {_t(c.headline_time)} (score {c.score:.1f})</li>"
            for c in f.catalysts
        )
        parts.append("</ol>")
    parts.append("<h2>Most important headlines</h2><ul>")
    parts.extend(
        f"<li>{_t(h.at)} <b>{e(h.title)}</b> — {e(h.source)} · importance {h.importance:.0f} · "
        f"{e(h.sentiment)} · {e(', '.join(h.assets) or '-')}</li>"
        for h in d.top_headlines
    )
    parts.append("</ul><h2>Sentiment by asset</h2>")
    parts.append(
        "<table><tr><th>asset</th><th>headlines</th><th>bearish</th><th>neutral</th><th>bullish</th>"
        "<th>mean</th><th>by quarter of window</th></tr>"
    )
    parts.extend(
        f"<tr><td>{e(s.asset)}</td><td>{s.headlines}</td><td>{s.bearish}</td><td>{s.neutral}</td>"
        f"<td>{s.bullish}</td><td>{s.mean_score:+.2f}</td><td>{_trend(s.by_quarter)}</td></tr>"
        for s in d.sentiment
    )
    parts.append("</table><h2>Coverage warnings</h2>")
    if not d.warnings:
        parts.append("<p>None: every feed answered and market data has no gaps.</p>")
    else:
        parts.append("<ul>")
        parts.extend(
            f'<li class="warn"><b>{e(wn.kind)}</b> {e(wn.subject)}: {e(wn.message)}</li>' for wn in d.warnings
        )
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def render_json(d: Digest) -> str:
    """Stable JSON: keys in declaration order, times as ISO-8601 UTC with 'Z'."""
    return json.dumps(d.to_dict(), default=_json_default, indent=2, ensure_ascii=False) + "\n"


RENDERERS = {"markdown": render_markdown, "html": render_html, "json": render_json}


def render(d: Digest, fmt: str) -> str:
    return RENDERERS[fmt](d)
