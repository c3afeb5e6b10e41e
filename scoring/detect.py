"""Flush detection over the candles (and liquidations, open interest, funding) in DuckDB SQL.

A flush is a short run of bars where leveraged positions were forced out. Per candle series
(venue, market, symbol, interval) each bar is compared with its own trailing baseline:

* ``move``: the log return over each leg (15 minutes, the 30-minute base, 4 hours: see
  :meth:`DetectThresholds.legs`) against trailing 1-bar realised volatility scaled by
  sqrt(bars) — a z-score — or its size alone; the 4-hour leg only while the move is going;
* ``range``: the bar's high-low range against the trailing mean range (wicks that recover);
* ``volume``: volume over the base horizon against the trailing mean (needed with a z-score
  or range when the series has volume);
* ``liquidations``: liquidated notional in the bar against the trailing mean, with a floor.

Flagged bars close together form one flush, which starts where the move of its first flagged
bar starts (no later bar decides it, so ``watch --at`` can show it then); ``oi_drop`` and
``funding_extreme`` strengthen it afterwards. Windows are set in minutes and turned into bars per interval
(:meth:`DetectThresholds.bars`), so 1m data gives sharp flushes and 1h data coarser ones.

Incremental: ``detector_state`` keeps a watermark per series. A later run computes bars from
``watermark - overlap - baseline`` and replaces only flushes whose trigger bar is at or after
``watermark - overlap``; every bar's flags depend only on trailing data, so the result equals
a full run (tests/test_detect.py proves it). Market rows written at or before a watermark (a
backfill, liquidations imported after their candles) are listed in ``market_changes`` by the
storage layer; the run then starts from the earliest of them instead.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from flushwatch.errors import ConfigError
from flushwatch.records.flushes import ATTRIBUTION_VERSION, DETECTOR_VERSION
from flushwatch.records.symbols import base_asset, base_asset_sql
from flushwatch.scoring.market_events import group_market_events
from flushwatch.scoring.thresholds import AttributionSettings, DetectThresholds, bar_minutes_sql
from flushwatch.storage.db import Connection, Database, transaction

log = logging.getLogger(__name__)

#: Candle markets detection reads. Index and mark candles carry no volume, so only their price
#: signals can fire; they rank last when a perp or spot series of the asset flags the same flush.
DETECT_MARKETS = ("perp", "spot", "index", "mark")

#: Priority when two series of one asset both flag the same flush: perp over spot, fine over coarse.
_MARKET_RANK = "CASE market WHEN 'perp' THEN 0 WHEN 'spot' THEN 1 WHEN 'index' THEN 2 ELSE 3 END"


def asset_of(symbol: str) -> str:
    """'BTCUSDT' -> 'BTC': the market importer's rule (its SQL twin groups flushes by asset)."""
    return base_asset(symbol)


@dataclass(frozen=True)
class DetectResult:
    """What one detection run did."""

    series: int  # candle series examined
    bars: int  # bars computed (including baseline overlap)
    flushes_found: int  # flushes written in the re-examined ranges (new or updated)
    flushes_removed: int  # stale flushes removed from those ranges
    full: bool


#: A batch of series computed in one query holds at most about this many bars. One year of 1m
#: bars (525,600) fills a batch alone, which keeps a full run's memory flat; an incremental run
#: (a day of new bars plus the baseline overlap per series) puts every series of an interval in
#: one query instead of paying one query's fixed cost, and one liquidations scan, per series.
BATCH_BARS = 600_000

SeriesKey = tuple[str, str, str, str]  # venue, market, symbol, interval


@dataclass(frozen=True)
class _Range:
    """The bars one series has computed this run: from ``compute_from`` (baseline included);
    flushes are (re)written only when their trigger bar is at or after ``cutoff``."""

    key: SeriesKey
    compute_from: dt.datetime
    cutoff: dt.datetime
    newest: dt.datetime

    def est_bars(self, det: DetectThresholds) -> int:
        minutes = det.bars(self.key[3])["minutes"]
        return int((self.newest - self.compute_from).total_seconds() // (60 * minutes)) + 1


def _detectable(det: DetectThresholds, interval: str) -> bool:
    try:
        det.bars(interval)
    except ConfigError:  # an interval we do not detect on (1d): skip quietly
        return False
    return True


def _series_plan(
    con: Connection, det: DetectThresholds, full: bool, symbols: list[str] | None
) -> list[_Range]:
    """What to compute per series: everything for series never detected with these thresholds
    (or ``full``); otherwise only series with bars newer than their watermark, from the watermark
    less the overlap and the baseline.

    Why not one GROUP BY over all candles for min/max open_time: on a year of 1m bars that scan
    is the largest fixed cost of an incremental run. The series list (a DISTINCT over
    dictionary-encoded columns) and the newest bar past each watermark (a time filter the
    storage's zone maps prune to the last row groups) are both far cheaper; the full min/max
    scan only runs when some series has to be detected from its first bar.
    """
    fp = det.fingerprint()
    where_sym, params = _symbol_filter(symbols)
    catalogue = [
        (r[0], r[1], r[2], r[3])
        for r in con.execute(
            f"SELECT DISTINCT venue, market, symbol, interval FROM candles "
            f"WHERE market IN {DETECT_MARKETS} {where_sym}",
            params,
        ).fetchall()
        if _detectable(det, r[3])
    ]
    state: dict[SeriesKey, tuple[dt.datetime, str]] = {
        (r[0], r[1], r[2], r[3]): (r[4], r[5])
        for r in con.execute(
            "SELECT venue, market, symbol, interval, watermark, fingerprint FROM detector_state "
            "WHERE detector_version = ?",
            [DETECTOR_VERSION],
        ).fetchall()
    }
    redo = {k for k in catalogue if full or k not in state or state[k][1] != fp}
    resume = {k: state[k][0] for k in catalogue if k not in redo}
    plan = _full_ranges(con, redo, symbols) if redo else []
    if resume:
        plan += _resumed_ranges(con, det, resume, _changed_since(con, symbols))
    # Grouped by interval: a batch (one query) holds series of one interval.
    return sorted(plan, key=lambda r: (r.key[3], r.key))


def _symbol_filter(symbols: list[str] | None) -> tuple[str, list[object]]:
    if not symbols:
        return "", []
    return "AND symbol IN (SELECT unnest(?))", [[s.upper() for s in symbols]]


def _full_ranges(con: Connection, redo: set[SeriesKey], symbols: list[str] | None) -> list[_Range]:
    """Series detected from their first bar."""
    where_sym, params = _symbol_filter(symbols)
    rows = con.execute(
        f"SELECT venue, market, symbol, interval, min(open_time), max(open_time) FROM candles "
        f"WHERE market IN {DETECT_MARKETS} {where_sym} GROUP BY ALL",
        params,
    ).fetchall()
    return [
        _Range((v, m, s, i), first, first, newest)
        for v, m, s, i, first, newest in rows
        if (v, m, s, i) in redo
    ]


def _changed_since(con: Connection, symbols: list[str] | None) -> dict[str, dt.datetime]:
    """Per symbol, the earliest market row written at or before a watermark since the last
    detect (``market_changes``: backfilled candles, late liquidations, funding, OI)."""
    where_sym, params = _symbol_filter(symbols)
    rows = con.execute(
        f"SELECT symbol, min(from_at) FROM market_changes WHERE TRUE {where_sym} GROUP BY symbol",
        params,
    ).fetchall()
    return {str(sym): at for sym, at in rows}


def _consume_changes(con: Connection, symbols: list[str] | None) -> None:
    """The changes this run has re-examined (every series of their symbol was in the plan, or
    detected in full) are done with."""
    where_sym, params = _symbol_filter(symbols)
    con.execute(f"DELETE FROM market_changes WHERE TRUE {where_sym}", params)


def _resumed_ranges(
    con: Connection,
    det: DetectThresholds,
    watermarks: dict[SeriesKey, dt.datetime],
    changed: dict[str, dt.datetime],
) -> list[_Range]:
    """Series with bars past their watermark, or market rows written at or before it
    (``changed``, per symbol), re-examined from the earlier of the two less the overlap
    (earlier still when a flush was still running there), computed from a baseline before
    that. Every bar's flags depend only on trailing data, so from there on the result is
    what a full run gives."""
    newest = {
        (r[0], r[1], r[2], r[3]): r[4]
        for r in con.execute(
            """
            SELECT c.venue, c.market, c.symbol, c.interval, max(c.open_time)
              FROM candles c
              JOIN detector_state s
                ON s.venue = c.venue AND s.market = c.market AND s.symbol = c.symbol
               AND s.interval = c.interval AND s.detector_version = ?
             WHERE c.open_time > s.watermark AND c.open_time > ?
             GROUP BY ALL
            """,
            [DETECTOR_VERSION, min(watermarks.values())],
        ).fetchall()
    }
    cutoffs: dict[SeriesKey, tuple[dt.datetime, dt.timedelta]] = {}
    for key, watermark in watermarks.items():
        since = changed.get(key[2])
        backfilled = since is not None and since <= watermark
        if key not in newest and not backfilled:
            continue  # no new bar and nothing written under the watermark: nothing to do
        start = min(watermark, since) if since is not None and backfilled else watermark
        newest.setdefault(key, watermark)
        b = det.bars(key[3])
        step = dt.timedelta(minutes=b["minutes"])
        # A flush ending this close before the cutoff may still grow: a new island merges into
        # it when its start (up to the longest leg back from its trigger) comes within the gap.
        cutoffs[key] = (start - (b["k_max"] + b["gap"] + 2) * step, (b["gap"] + b["k_max"]) * step)
    if not cutoffs:
        return []
    # A flush still running at the old watermark is re-examined from its trigger bar.
    running: dict[SeriesKey, list[tuple[dt.datetime, dt.datetime]]] = {}
    for v, m, s, i, trigger_at, end_at in con.execute(
        """
        SELECT venue, market, symbol, interval, trigger_at, end_at FROM flushes
         WHERE detector_version = ? AND end_at >= ?
        """,
        [DETECTOR_VERSION, min(c - gap for c, gap in cutoffs.values())],
    ).fetchall():
        running.setdefault((v, m, s, i), []).append((trigger_at, end_at))
    plan = []
    for key, (cutoff, gap) in cutoffs.items():
        triggers = [t for t, end in running.get(key, ()) if end >= cutoff - gap]
        if triggers and min(triggers) < cutoff:
            cutoff = min(triggers)
        b = det.bars(key[3])
        step = dt.timedelta(minutes=b["minutes"])
        compute_from = cutoff - (b["baseline"] + b["k_max"] + b["gap"] + 2) * step
        plan.append(_Range(key, compute_from, cutoff, newest[key]))
    return plan


def _batches(det: DetectThresholds, plan: list[_Range]) -> list[list[int]]:
    """Indexes into ``plan`` grouped per interval into batches of at most ~BATCH_BARS bars."""
    batches: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i, r in enumerate(plan):
        n = r.est_bars(det)
        if current and (plan[current[0]].key[3] != r.key[3] or size + n > BATCH_BARS):
            batches.append(current)
            current, size = [], 0
        current.append(i)
        size += n
    if current:
        batches.append(current)
    return batches


def _events_sql(det: DetectThresholds, interval: str) -> str:
    """Flagged bars -> islands -> one row per candidate flush, for one batch of series of one
    interval (``_detect_series.batch = $batch``; ``$lo`` = the batch's earliest compute_from, a
    constant the scans can prune on). Every window is per series (``sid``)."""
    b = det.bars(interval)
    k, base, gap, m = b["k"], b["baseline"], b["gap"], b["minutes"]
    legs = det.legs(interval)
    # Per leg j (k_j bars): its log return, only when the k_j bars back are really about k_j
    # intervals back; for a long leg also the extreme closes of its window, for the "still
    # going" test. (Volume is judged over the base leg and the bar only: a framed sum per leg
    # costs more than it tells, on 10M bars.)
    leg_cols = ",\n".join(
        f"""               CASE WHEN c.mi - lag(c.mi, {g.k}) OVER w <= {(g.k + 2) * m}
                    THEN ln(c.close / lag(c.close, {g.k}) OVER w) END AS r_{j}"""
        + (
            f""",
               min(c.close) OVER (w ROWS BETWEEN {g.k} PRECEDING AND 1 PRECEDING) AS lo_{j},
               max(c.close) OVER (w ROWS BETWEEN {g.k} PRECEDING AND 1 PRECEDING) AS hi_{j}"""
            if g.in_progress
            else ""
        )
        for j, g in enumerate(legs)
    )
    z = {j: f"abs(r_{j}) / nullif(sigma * sqrt({g.k}), 0)" for j, g in enumerate(legs)}
    going = {
        j: f"((r_{j} < 0 AND close <= lo_{j}) OR (r_{j} > 0 AND close >= hi_{j}))"
        if g.in_progress
        else "TRUE"
        for j, g in enumerate(legs)
    }
    flag_cols = ",\n".join(
        f"""               coalesce({z[j]} >= {det.move_z} AND {going[j]}, FALSE) AS fz_{j},
               coalesce(abs(r_{j}) >= ln(1 + {g.big_move_pct / 100})
                        AND {f"{z[j]} >= {g.min_big_z}" if g.min_big_z > 0 else "TRUE"}
                        AND {going[j]}, FALSE) AS fb_{j}"""
        for j, g in enumerate(legs)
    )
    fired = {j: f"(fb_{j} OR (fz_{j} AND vol_ok))" for j in range(len(legs))}
    any_fired = " OR ".join(fired.values())
    # The longest leg that fired on a bar: its window is where the flush's start is looked for.
    k_fire = ", ".join(f"CASE WHEN {fired[j]} THEN {g.k} END" for j, g in enumerate(legs))
    leg_flags = ", ".join(f"bool_or({fired[j]}) AS s_leg_{j}" for j in range(len(legs)))
    leg_names = ", ".join(
        f"CASE WHEN bool_or(s_leg_{j}) THEN 'move_{g.label}' END" for j, g in enumerate(legs)
    )
    return f"""
    WITH s AS (
        SELECT sid, venue, market, symbol, compute_from, cutoff FROM _detect_series WHERE batch = $batch
    ),
    c AS (
        SELECT s.sid, c.venue, c.market, c.symbol, c.open_time, c.open, c.high, c.low, c.close,
               coalesce(c.quote_volume, c.volume * c.close, 0) AS vol,
               s.cutoff
          FROM candles c
          JOIN s ON c.venue = s.venue AND c.market = s.market AND c.symbol = s.symbol
         WHERE c.interval = '{interval}' AND c.open_time >= $lo
           AND c.open_time >= s.compute_from AND c.close > 0
    ),
    liq AS (  -- liquidated notional per bar
        SELECT s.sid, time_bucket(INTERVAL '{m} minutes', l.event_time) AS open_time,
               sum(l.notional_usd) AS liq_usd
          FROM liquidations l
          JOIN s ON l.venue = s.venue AND l.symbol = s.symbol
         WHERE l.event_time >= $lo AND l.event_time >= s.compute_from
         GROUP BY 1, 2
    ),
    raw AS MATERIALIZED (
        SELECT c.*, coalesce(liq.liq_usd, 0) AS liq,
               -- minutes since the epoch: gap tests on integers, not intervals
               CAST(epoch(c.open_time) // 60 AS BIGINT) AS mi
          FROM c LEFT JOIN liq USING (sid, open_time)
    ),
    bars AS (
        SELECT c.*,
               row_number() OVER w AS rn,
               (c.high - c.low) / nullif(c.open, 0) AS rng,
               -- a gap of more than 6 hours starts a new segment: no baseline across it
               CASE WHEN c.mi - lag(c.mi) OVER w <= 360 THEN 0 ELSE 1 END AS new_seg,
               -- 1-bar log return; NULL across a gap in the data
               CASE WHEN c.mi - lag(c.mi) OVER w <= {m} THEN ln(c.close / lag(c.close) OVER w) END AS r,
               sum(c.vol) OVER (w ROWS BETWEEN {k - 1} PRECEDING AND CURRENT ROW) AS vol_k,
{leg_cols}
          FROM raw c
        WINDOW w AS (PARTITION BY c.sid ORDER BY c.open_time)
    ),
    cum AS MATERIALIZED (
        -- Running sums (one cheap streaming pass); a trailing baseline is then a difference of
        -- two running sums, which is far cheaper than framed window aggregates on 10M rows.
        SELECT *,
               max(CASE WHEN new_seg = 1 THEN rn END) OVER wc AS seg_start,
               sum(coalesce(r, 0)) OVER wc AS cs_r,
               sum(coalesce(r * r, 0)) OVER wc AS cs_r2,
               count(r) OVER wc AS cn_r,
               sum(vol) OVER wc AS cs_vol,
               sum(coalesce(rng, 0)) OVER wc AS cs_rng,
               sum(liq) OVER wc AS cs_liq
          FROM bars
        WINDOW wc AS (PARTITION BY sid ORDER BY open_time ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
    ),
    base AS (
        -- baseline = the previous {base} bars of the same segment (not the bar itself)
        SELECT t.*,
               greatest(t.rn - 1 - {base}, t.seg_start - 1) AS b_from,
               (t.cs_r - coalesce(t.r, 0)) - coalesce(p.cs_r, 0) AS b_r,
               (t.cs_r2 - coalesce(t.r * t.r, 0)) - coalesce(p.cs_r2, 0) AS b_r2,
               (t.cn_r - CASE WHEN t.r IS NULL THEN 0 ELSE 1 END) - coalesce(p.cn_r, 0) AS b_nr,
               (t.cs_vol - t.vol) - coalesce(p.cs_vol, 0) AS b_vol,
               (t.cs_rng - coalesce(t.rng, 0)) - coalesce(p.cs_rng, 0) AS b_rng,
               (t.cs_liq - t.liq) - coalesce(p.cs_liq, 0) AS b_liq
          FROM cum t
          LEFT JOIN cum p ON p.sid = t.sid AND p.rn = greatest(t.rn - 1 - {base}, t.seg_start - 1)
    ),
    stats AS (
        SELECT *,
               rn - 1 - b_from AS n_base,
               CASE WHEN b_nr > 1 THEN sqrt(greatest((b_r2 - b_r * b_r / b_nr) / (b_nr - 1), 0)) END AS sigma,
               b_vol / nullif(rn - 1 - b_from, 0) AS vol_base,
               b_rng / nullif(rn - 1 - b_from, 0) AS rng_base,
               b_liq / nullif(rn - 1 - b_from, 0) AS liq_base
          FROM base
    ),
    vflags AS (
        SELECT *,
               greatest({", ".join(z.values())}) AS z,
               -- the base leg's volume or the bar's own, whichever stands out more
               coalesce(greatest(vol_k / nullif(vol_base * {k}, 0), vol / nullif(vol_base, 0))
                        >= {det.volume_multiple}, FALSE) AS f_volume,
               coalesce(rng / nullif(rng_base, 0) >= {det.range_multiple}, FALSE) AS f_range,
               liq >= {det.liq_min_usd_per_min * m} AND liq >= {det.liq_multiple} * liq_base AS f_liq,
{flag_cols}
          FROM stats
    ),
    flags AS (
        SELECT *, f_volume OR coalesce(vol_base, 0) = 0 AS vol_ok FROM vflags
    ),
    hits AS (
        SELECT *,
               coalesce(greatest({k_fire}), {k}) AS k_fire,
               CASE WHEN open_time - lag(open_time) OVER w <= INTERVAL '{gap * m} minutes'
                    THEN 0 ELSE 1 END AS new_island
          FROM flags
         WHERE n_base >= {det.min_history_bars}
           AND ({any_fired} OR (f_range AND vol_ok) OR f_liq)
        WINDOW w AS (PARTITION BY sid ORDER BY open_time)
    ),
    islands AS (
        SELECT *, sum(new_island) OVER (PARTITION BY sid ORDER BY open_time) AS island
          FROM hits
    ),
    ev AS (
        SELECT sid, venue, market, symbol, island,
               min(open_time) AS trigger_at,
               max(open_time) + INTERVAL '{m} minutes' AS end_at,
               -- the first flagged bar's close and the window of its longest leg that fired: a
               -- watcher knows both when that bar closes, so the start uses no later bar
               arg_min(close, open_time) AS trigger_close,
               arg_min(k_fire, open_time) AS k_first,
               max(z) AS max_z,
               bool_or({any_fired}) AS s_move, bool_or(f_range) AS s_range,
               bool_or(f_volume) AS s_volume, bool_or(f_liq) AS s_liq,
               {leg_flags},
               arg_min(vol_base, open_time) AS vol_base,
               max(liq_base) AS liq_base,
               any_value(cutoff) AS cutoff
          FROM islands
         GROUP BY sid, venue, market, symbol, island
    ),
    st AS (
        -- The start: the bar of the trigger's window from which the move to the trigger close
        -- is steepest (largest |log return| / sqrt(bars), i.e. the largest z-score; the latest
        -- of equals). A 4-hour leg that fires on a crash after three flat hours starts at the
        -- crash, not four hours back.
        SELECT ev.sid, ev.island,
               arg_max(b.open_time,
                       (abs(ln(ev.trigger_close / b.open))
                            / sqrt(epoch(ev.trigger_at - b.open_time) / {60 * m} + 1),
                        b.open_time)) AS start_at
          FROM ev
          JOIN raw b
            ON b.sid = ev.sid AND b.open > 0
           AND b.open_time >= ev.trigger_at - to_minutes(CAST((ev.k_first - 1) * {m} AS BIGINT))
           AND b.open_time <= ev.trigger_at
         GROUP BY ev.sid, ev.island
    ),
    chained AS (
        -- An island whose start reaches back to within the merge gap of the previous island's
        -- last flagged bar continues that flush: a long leg can fire hours into a crash that a
        -- short one flagged at its start. The flush keeps the first island's start and trigger.
        SELECT ev.*, coalesce(st.start_at, ev.trigger_at) AS start_at,
               CASE WHEN coalesce(st.start_at, ev.trigger_at) - lag(ev.end_at) OVER wi
                         <= INTERVAL '{(gap - 1) * m} minutes'
                    THEN 0 ELSE 1 END AS new_flush
          FROM ev LEFT JOIN st USING (sid, island)
        WINDOW wi AS (PARTITION BY ev.sid ORDER BY ev.trigger_at)
    ),
    grp AS (
        SELECT *, sum(new_flush) OVER (PARTITION BY sid ORDER BY trigger_at) AS flush_no FROM chained
    ),
    evs AS (
        SELECT sid, flush_no,
               any_value(venue) AS venue, any_value(market) AS market, any_value(symbol) AS symbol,
               min(trigger_at) AS trigger_at, arg_min(start_at, trigger_at) AS start_at,
               max(end_at) AS end_at, max(max_z) AS max_z,
               bool_or(s_move) AS s_move, bool_or(s_range) AS s_range,
               bool_or(s_volume) AS s_volume, bool_or(s_liq) AS s_liq,
               list_filter([{leg_names}], lambda x: x IS NOT NULL) AS legs,
               arg_min(vol_base, trigger_at) AS vol_base,
               max(liq_base) AS liq_base,
               any_value(cutoff) AS cutoff
          FROM grp
         GROUP BY sid, flush_no
        HAVING min(trigger_at) >= any_value(cutoff)
    )
    SELECT ev.venue, ev.market, ev.symbol, '{interval}' AS interval,
           ev.start_at, ev.trigger_at, ev.end_at, ev.max_z,
           ev.s_move, ev.legs, ev.s_range, ev.s_volume, ev.s_liq, ev.cutoff,
           arg_min(b.open, b.open_time) AS open_start,
           arg_max(b.close, b.open_time) AS close_end,
           min(b.low) AS min_low, max(b.high) AS max_high,
           -- the peak is the FIRST bar reaching the extreme (prices on a tick grid tie often)
           arg_min(b.open_time, (b.low, b.open_time)) AS low_at,
           arg_max(b.open_time, (b.high, -epoch(b.open_time))) AS high_at,
           sum(b.vol) / nullif(ev.vol_base * count(*), 0) AS volume_multiple,
           sum(b.liq) AS liq_sum,
           ev.liq_base > 0 OR sum(b.liq) > 0 AS liq_seen
      FROM evs ev
      JOIN raw b
        ON b.sid = ev.sid AND b.open_time >= ev.start_at AND b.open_time < ev.end_at
     GROUP BY ev.sid, ev.venue, ev.market, ev.symbol, ev.flush_no, ev.start_at, ev.trigger_at, ev.end_at,
              ev.max_z, ev.s_move, ev.legs, ev.s_range, ev.s_volume, ev.s_liq, ev.cutoff, ev.vol_base,
              ev.liq_base
    """


_FINISH_SQL = """
CREATE OR REPLACE TEMP TABLE _detect_new AS
WITH e AS (
    SELECT *,
           CASE WHEN open_start - min_low >= max_high - open_start
                THEN 'long_flush' ELSE 'short_squeeze' END AS direction
      FROM _detect_events
),
m AS (
    SELECT e.*,
           CASE direction WHEN 'long_flush' THEN low_at ELSE high_at END AS peak_at,
           100 * (close_end / open_start - 1) AS price_move_pct,
           100 * (CASE direction WHEN 'long_flush' THEN min_low ELSE max_high END / open_start - 1)
               AS extreme_move_pct,
           CASE WHEN liq_seen THEN liq_sum END AS liquidated_usd
      FROM e
),
oi AS (  -- open interest at (last sample before) start and end
    SELECT m.venue, m.symbol, m.start_at,
           100 * (o2.open_interest / nullif(o1.open_interest, 0) - 1) AS oi_change_pct
      FROM m
      ASOF JOIN open_interest o1
        ON o1.venue = m.venue AND o1.symbol = m.symbol AND o1.ts <= m.start_at
      ASOF JOIN open_interest o2
        ON o2.venue = m.venue AND o2.symbol = m.symbol AND o2.interval = o1.interval
       AND o2.ts <= m.end_at
     WHERE o1.ts >= m.start_at - INTERVAL '2 hours'
),
fu AS (  -- last funding rate published before start
    SELECT m.venue, m.symbol, m.start_at, f.rate AS funding_before
      FROM m
      ASOF JOIN funding_rates f
        ON f.venue = m.venue AND f.symbol = m.symbol AND f.funding_time <= m.start_at
     WHERE f.funding_time >= m.start_at - INTERVAL '1 day'
),
j AS (
    SELECT m.*, oi.oi_change_pct, fu.funding_before
      FROM m
      LEFT JOIN oi USING (venue, symbol, start_at)
      LEFT JOIN fu USING (venue, symbol, start_at)
)
SELECT j.*,
       {asset} AS asset,
       list_filter([CASE WHEN s_move THEN 'move' END], lambda x: x IS NOT NULL) || legs || list_filter([
           CASE WHEN s_range THEN 'range' END,
           CASE WHEN s_volume THEN 'volume' END,
           CASE WHEN s_liq THEN 'liquidations' END,
           CASE WHEN oi_change_pct <= -$oi_drop THEN 'oi_drop' END,
           CASE WHEN abs(funding_before) >= $funding_extreme THEN 'funding_extreme' END
       ], lambda x: x IS NOT NULL) AS signals,
       least(100.0,
             least(35.0, 3.5 * abs(extreme_move_pct))
           + least(20.0, 2.0 * coalesce(max_z, 0))
           + least(15.0, 7.5 * log2(greatest(coalesce(volume_multiple, 1), 1)))
           + least(20.0, greatest(0.0, 5.0 * log10(greatest(coalesce(liquidated_usd, 0), 1) / 1e5)))
           + least(5.0, greatest(0.0, -coalesce(oi_change_pct, 0)))
           + least(5.0, 2.5 * abs(coalesce(funding_before, 0)) / $funding_extreme)
       ) AS severity,
       CASE WHEN liquidated_usd IS NULL THEN 'no liquidations recorded for this symbol'
           WHEN venue = 'binance'
               THEN 'binance forceOrder: a floor (at most one liquidation per symbol per second is published)'
           ELSE venue || ': as recorded; other venues not included'
       END AS liquidation_note
  FROM j
 WHERE abs(extreme_move_pct) >= $min_move OR s_liq
"""


def detect(
    db: Database,
    det: DetectThresholds | None = None,
    *,
    full: bool = False,
    symbols: list[str] | None = None,
    run_id: int | None = None,
) -> DetectResult:
    """Detect flushes in every candle series, incrementally unless ``full``.

    Reads and computes in one read-write transaction (the candle scan is the heavy part and
    must see a consistent snapshot), then upserts flushes by their natural key so flush ids
    stay stable across runs, and moves each series' watermark.
    """
    with db.write() as con:
        return detect_in(con, det, full=full, symbols=symbols, run_id=run_id)


def detect_in(
    con: Connection,
    det: DetectThresholds | None = None,
    *,
    full: bool = False,
    symbols: list[str] | None = None,
    run_id: int | None = None,
) -> DetectResult:
    """:func:`detect` inside a caller's transaction."""
    det = det or DetectThresholds()
    plan = _series_plan(con, det, full, symbols)
    _consume_changes(con, symbols)
    if not plan:
        return DetectResult(0, 0, 0, 0, full)
    batches = _batches(det, plan)
    batch_of = {i: n for n, batch in enumerate(batches) for i in batch}
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE _detect_series (
            sid INTEGER, batch INTEGER, venue VARCHAR, market VARCHAR, symbol VARCHAR,
            interval VARCHAR, compute_from TIMESTAMPTZ, cutoff TIMESTAMPTZ, newest TIMESTAMPTZ)
        """
    )
    con.executemany(
        "INSERT INTO _detect_series VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [[i, batch_of[i], *r.key, r.compute_from, r.cutoff, r.newest] for i, r in enumerate(plan)],
    )
    # One query per batch, its time bound a constant DuckDB pushes into the scans: a full run
    # sorts one series (~0.5M rows) at a time, which keeps peak memory flat; an incremental run
    # computes all series of an interval together.
    for n, batch in enumerate(batches):
        verb = "INSERT INTO _detect_events " if n else "CREATE OR REPLACE TEMP TABLE _detect_events AS "
        con.execute(
            verb + _events_sql(det, plan[batch[0]].key[3]),
            {"batch": n, "lo": min(plan[i].compute_from for i in batch)},
        )
    bars_row = con.execute(
        """SELECT count(*) FROM candles c JOIN _detect_series s USING (venue, market, symbol, interval)
           WHERE c.open_time >= s.compute_from AND c.open_time >= ?""",
        [min(r.compute_from for r in plan)],
    ).fetchone()
    con.execute(
        _FINISH_SQL.replace("{asset}", base_asset_sql("upper(j.symbol)")),
        {
            "oi_drop": det.oi_drop_pct,
            "funding_extreme": det.funding_extreme,
            "min_move": det.min_move_pct,
        },
    )
    removed = _replace_flushes(con, det, run_id)
    found_row = con.execute("SELECT count(*) FROM _detect_new").fetchone()
    con.execute(
        """
        INSERT OR REPLACE INTO detector_state
        SELECT venue, market, symbol, interval, ?, newest, ?, now(), ? FROM _detect_series
        """,
        [DETECTOR_VERSION, det.fingerprint(), run_id],
    )
    result = DetectResult(
        series=len(plan),
        bars=int(bars_row[0]) if bars_row else 0,
        flushes_found=int(found_row[0]) if found_row else 0,
        flushes_removed=removed,
        full=full,
    )
    log.info("detect: %s", result)
    return result


def _replace_flushes(con: Connection, det: DetectThresholds, run_id: int | None) -> int:
    """Upsert the new flushes, drop stale ones in the re-examined ranges, then dedupe and flag."""
    # A stored flush that this run finds again with another start (changed thresholds move a
    # start) keeps its id: it takes the start of the new flush overlapping it on the same series,
    # one to one, nearest start first, so the upsert below updates it instead of renumbering.
    # A flush an older detector version wrote is taken over the same way (a flush of this
    # version first), so ids survive an upgrade; what is not found again is removed below.
    con.execute(
        """
        UPDATE flushes SET start_at = m.new_start, detector_version = $v
          FROM (
            SELECT f.flush_id, n.start_at AS new_start
              FROM flushes f
              JOIN _detect_series s
                ON (s.venue, s.market, s.symbol, s.interval) = (f.venue, f.market, f.symbol, f.interval)
              JOIN _detect_new n
                ON n.asset = f.asset
               AND (n.venue, n.market, n.symbol, n.interval) = (f.venue, f.market, f.symbol, f.interval)
               AND n.start_at < f.end_at AND f.start_at < n.end_at
             WHERE f.trigger_at >= s.cutoff
               AND (f.detector_version <> $v
                    OR NOT EXISTS (SELECT 1 FROM _detect_new o
                                    WHERE o.asset = f.asset AND o.start_at = f.start_at))
               AND NOT EXISTS (SELECT 1 FROM flushes g
                                WHERE g.asset = n.asset AND g.start_at = n.start_at
                                  AND g.detector_version = $v)
            QUALIFY row_number() OVER (PARTITION BY f.flush_id
                                       ORDER BY abs(epoch(n.start_at) - epoch(f.start_at)), n.start_at) = 1
                AND row_number() OVER (PARTITION BY n.asset, n.start_at
                                       ORDER BY f.detector_version <> $v,
                                                abs(epoch(n.start_at) - epoch(f.start_at)), f.flush_id) = 1
          ) m
         WHERE flushes.flush_id = m.flush_id
        """,
        {"v": DETECTOR_VERSION},
    )
    # Flushes in the re-examined ranges that this run did not find again are stale, and so is
    # what an older detector version left there.
    stale = con.execute(
        """
        SELECT f.flush_id FROM flushes f
          JOIN _detect_series s
            ON s.venue = f.venue AND s.market = f.market AND s.symbol = f.symbol AND s.interval = f.interval
         WHERE f.trigger_at >= s.cutoff
           AND (f.detector_version <> $v
                OR NOT EXISTS (SELECT 1 FROM _detect_new n
                                WHERE n.asset = f.asset AND n.start_at = f.start_at))
        """,
        {"v": DETECTOR_VERSION},
    ).fetchall()
    stale_ids = [r[0] for r in stale]
    if stale_ids:
        con.execute("DELETE FROM catalysts WHERE flush_id IN (SELECT unnest(?))", [stale_ids])
        con.execute("DELETE FROM flushes WHERE flush_id IN (SELECT unnest(?))", [stale_ids])
    cols = (
        "asset, venue, market, symbol, interval, start_at, peak_at, end_at, trigger_at, direction, "
        "price_move_pct, extreme_move_pct, liquidated_usd, liquidation_note, volume_multiple, "
        "oi_change_pct, funding_before, signals, severity"
    )
    updates = ", ".join(
        f"{c.strip()} = excluded.{c.strip()}" for c in cols.split(",") if c.strip() != "asset"
    )
    con.execute(
        f"""
        INSERT INTO flushes ({cols}, market_wide, detector_version, run_id, detected_at)
        SELECT {cols}, FALSE, $v, $run, now() FROM _detect_new
        ON CONFLICT (asset, start_at, detector_version) DO UPDATE SET {updates},
            run_id = excluded.run_id, detected_at = excluded.detected_at
        """,
        {"v": DETECTOR_VERSION, "run": run_id},
    )
    # One flush per asset and time: drop one overlapped by a flush from a preferred series
    # (perp over spot, finer interval over coarser).
    bar_a, bar_b = (bar_minutes_sql(f"{t}.interval", otherwise=240) for t in "ab")
    dup = con.execute(
        f"""
        SELECT a.flush_id FROM flushes a JOIN flushes b
          ON a.asset = b.asset AND a.detector_version = b.detector_version AND a.flush_id <> b.flush_id
         AND a.start_at < b.end_at AND b.start_at < a.end_at
         AND (a.venue, a.market, a.symbol, a.interval)
             IS DISTINCT FROM (b.venue, b.market, b.symbol, b.interval)
         AND ({_MARKET_RANK.replace("market", "b.market")}, {bar_b}, b.venue)
           < ({_MARKET_RANK.replace("market", "a.market")}, {bar_a}, a.venue)
         WHERE a.detector_version = $v
        """,
        {"v": DETECTOR_VERSION},
    ).fetchall()
    dup_ids = sorted({r[0] for r in dup})
    if dup_ids:
        con.execute("DELETE FROM catalysts WHERE flush_id IN (SELECT unnest(?))", [dup_ids])
        con.execute("DELETE FROM flushes WHERE flush_id IN (SELECT unnest(?))", [dup_ids])
    # market_wide: enough distinct assets flushing the same way with starts close together.
    con.execute(
        """
        UPDATE flushes SET market_wide = x.mw FROM (
            SELECT a.flush_id, count(DISTINCT b.asset) >= $n AS mw
              FROM flushes a JOIN flushes b
                ON b.detector_version = a.detector_version AND b.direction = a.direction
               AND abs(epoch(b.start_at) - epoch(a.start_at)) <= $w
             WHERE a.detector_version = $v
             GROUP BY a.flush_id) x
         WHERE flushes.flush_id = x.flush_id AND flushes.market_wide IS DISTINCT FROM x.mw
        """,
        {"n": det.market_wide_assets, "w": det.market_wide_window_min * 60, "v": DETECTOR_VERSION},
    )
    group_market_events(con, join_gap_min=det.merge_gap_min)
    return len(stale_ids) + len(dup_ids)


@dataclass(frozen=True)
class DetectReport:
    """One `flushwatch detect` run: detection, then attribution of what it found."""

    run_id: int
    detect: DetectResult
    flushes_attributed: int
    catalysts: int


def detect_and_attribute(
    db: Database,
    det: DetectThresholds | None = None,
    settings: AttributionSettings | None = None,
    *,
    full: bool = False,
    symbols: list[str] | None = None,
    reattribute_since: dt.datetime | None = None,
) -> DetectReport:
    """Detect flushes (incrementally unless ``full``) and rank catalysts for every flush this
    run wrote, every flush still without catalysts, and every flush starting at or after
    ``reattribute_since`` (headlines keep arriving after a flush: `run` passes the last day)."""
    from flushwatch.scoring.attribution import HEADLINE_TIME_SQL, attribute_in

    w = settings or AttributionSettings()
    # One connection, two transactions: detection commits before ranking starts, and a cron
    # run opens the (possibly large) file once for both.
    with db.run("detect") as run, db.connection() as con:
        with transaction(con):
            res = detect_in(con, det, full=full, symbols=symbols, run_id=run.run_id)
        with transaction(con):
            # Re-rank what this run wrote, what was never ranked, and flushes whose window
            # received headlines, scores for its headlines, or calendar releases after their
            # last ranking (headlines arrive late; `score` often runs after `detect`).
            rows = con.execute(
                f"""
                WITH oldest AS (SELECT min(attributed_run_id) AS run_id FROM flushes),
                late AS (  -- headlines stored or scored after the oldest ranking: few, in steady state
                    SELECT h.run_id, {HEADLINE_TIME_SQL} AS t FROM headlines h
                     WHERE h.run_id > (SELECT run_id FROM oldest)
                    UNION ALL
                    SELECT s.run_id, {HEADLINE_TIME_SQL} AS t
                      FROM headline_scores s JOIN headlines h USING (headline_id)
                     WHERE s.run_id > (SELECT run_id FROM oldest)
                )
                SELECT f.flush_id FROM flushes f
                 WHERE f.detector_version = $v
                   AND (f.run_id = $run
                        OR f.attributed_run_id IS NULL
                        -- ranked only by an older attribution version (the formula changed)
                        OR f.flush_id IN (SELECT flush_id FROM catalysts GROUP BY flush_id
                                           HAVING NOT bool_or(attribution_version = $av))
                        OR ($since IS NOT NULL AND f.start_at >= $since)
                        OR EXISTS (
                            SELECT 1 FROM late h
                             WHERE h.run_id > f.attributed_run_id
                               AND h.t
                                   BETWEEN f.start_at - to_minutes(CAST($lookback AS BIGINT))
                                       AND f.start_at + to_minutes(CAST($forward AS BIGINT)))
                        -- a scheduled release added or corrected since (`calendar import`)
                        OR EXISTS (
                            SELECT 1 FROM calendar_events ce JOIN runs r ON r.run_id = f.attributed_run_id
                             WHERE ce.added_at > r.started_at
                               AND ce.release_at
                                   BETWEEN f.start_at - to_minutes(CAST($lookback AS BIGINT))
                                       AND f.start_at + to_minutes(CAST($forward AS BIGINT))))
                """,
                {
                    "v": DETECTOR_VERSION,
                    "av": ATTRIBUTION_VERSION,
                    "run": run.run_id,
                    "since": reattribute_since,
                    "lookback": w.lookback_min,
                    "forward": w.forward_min,
                },
            ).fetchall()
            att = attribute_in(con, w, flush_ids=[r[0] for r in rows], run_id=run.run_id)
        run.add("series", res.series)
        run.add("bars", res.bars)
        run.add("flushes_found", res.flushes_found)
        run.add("flushes_removed", res.flushes_removed)
        run.add("catalysts", att.catalysts)
    return DetectReport(run.run_id, res, att.flushes, att.catalysts)
