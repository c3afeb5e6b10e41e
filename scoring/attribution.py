"""Catalyst attribution: rank the headlines most likely to have set off each flush, in SQL.

For each flush, candidates are headlines timed from ``lookback_min`` before its start to
``forward_min`` after it. A headline's time is ``first_seen_at`` for live headlines
(``origin = 'feed'``: what a trader could know) and ``published_at`` for backfilled ones
(``origin = 'import'``), falling back to ``first_seen_at`` when ``published_at`` is missing or
flagged unusable (``time_flag``).

Each candidate gets a few features (:data:`FEATURES`: importance, relevance to the flushed
asset, aligned sentiment, timing before and after the move, what kind of headline it is, whether
it is its story's first report and how many outlets carried the story). The weights are
*learned* (:class:`RankingModel`, ``models/attribution/ranker.json``: a logistic model fitted
on judged real flushes and validated leave one event out; see its README), so the score is a
log-odds: each feature's share is stored in ``catalysts.components`` under the component it
belongs to, and the components add up to the score.

Headlines scored ``is_market_report`` only report the move: kept as coverage
(``is_coverage``), ranked after every cause, never the cause.

**Timing on coarse bars.** A flush found on 1h candles starts at a bar's open, but the move
can begin anywhere in that hour: a headline inside the start bar is timed at 0, not "+34 min"
or "-2 min", so no false precision decides the rank.

**Verdict.** Each flush gets the probability that its rank-1 cause is the real one, from the
top score and its margin over the second (the model's verdict part, calibrated on the same
validated fits), and a verdict: ``likely``, ``possible`` or ``none`` (no convincing catalyst).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from flushwatch.errors import ConfigError
from flushwatch.records.flushes import ATTRIBUTION_VERSION, DETECTOR_VERSION
from flushwatch.scoring.thresholds import AttributionSettings, bar_minutes_sql
from flushwatch.storage.db import Connection, Database

#: The time a headline is placed at (see the module docstring for the rule).
HEADLINE_TIME_SQL = """CASE WHEN h.origin = 'feed' OR h.published_at IS NULL OR h.time_flag IS NOT NULL
                           THEN h.first_seen_at ELSE h.published_at END"""

#: Relevance of a candidate to the flushed asset, as a share (1 = about the flushed asset).
#:
#: Cross-asset contagion: a headline tagged only with OTHER assets can still be the cause when
#: the shock travels: Terra's collapse sold Bitcoin, a lender's freeze sold Ether. Such a
#: headline gets ``$contagion`` (default 35 %: below a MARKET headline's 60 %, since the link
#: is inferred, above an untagged one's 20 %, since it names something) when one of three facts
#: makes the link plausible, checked in this order:
#:
#: 1. one of its assets had its own flush starting inside this flush's candidate window
#:    (the other asset visibly moved first or with it);
#: 2. one of its assets is systemic (``$systemic``: by default Bitcoin and Ether, which lead
#:    the whole market, and the US-dollar stablecoins, whose depeg or freeze hits the
#:    collateral every leveraged position rests on);
#: 3. the flush itself is market-wide: several assets fell together, so the cause may be
#:    about any of them.
#:
#: ``basis`` says which rule applied (stored in the components JSON as ``relevance_basis``).
RELEVANCE_SQL = """
CASE WHEN list_contains(a.assets, c.asset) THEN 1.0
     WHEN list_contains(a.assets, 'MARKET') OR list_contains(a.assets, 'MACRO') THEN 0.6
     WHEN a.assets IS NULL THEN 0.2
     WHEN len(list_intersect(a.assets, coalesce(c.flushed_assets, []))) > 0
       OR len(list_intersect(a.assets, $systemic)) > 0
       OR c.market_wide THEN $contagion
     ELSE 0.0 END
"""

RELEVANCE_BASIS_SQL = """
CASE WHEN list_contains(a.assets, c.asset) THEN 'flushed asset'
     WHEN list_contains(a.assets, 'MARKET') OR list_contains(a.assets, 'MACRO') THEN 'market-wide headline'
     WHEN a.assets IS NULL THEN 'untagged'
     WHEN $contagion <= 0 THEN 'other asset'
     WHEN len(list_intersect(a.assets, coalesce(c.flushed_assets, []))) > 0
       THEN 'contagion: ' || array_to_string(list_sort(list_intersect(a.assets, c.flushed_assets)), ',')
            || ' flushed too'
     WHEN len(list_intersect(a.assets, $systemic)) > 0
       THEN 'contagion: systemic ' || array_to_string(list_sort(list_intersect(a.assets, $systemic)), ',')
     WHEN c.market_wide THEN 'contagion: market-wide flush'
     ELSE 'other asset' END
"""

#: Feature -> the component it is shown under. Timing uses the delay outside the start bar
#: (``d``, minutes; negative = before): two decays before the move (near and far) and two
#: after it, so the fit decides how fast a late report stops being a plausible first report.
FEATURES: dict[str, str] = {
    "importance": "importance",
    "relevance": "relevance",
    "asset": "relevance",
    "untagged": "relevance",
    "macro": "relevance",
    "sentiment": "sentiment",
    "lead_near": "timing",
    "lead_far": "timing",
    "lag_near": "timing",
    "lag_far": "timing",
    "report": "kind",
    "opinion": "kind",
    "causal": "kind",
    "first_report": "novelty",
    "outlets": "novelty",
}

#: Event types that carry news able to move a market by themselves (not a price report, an
#: opinion or a promotion).
CAUSAL_TYPES = (
    "macro",
    "regulation",
    "legal",
    "hack_exploit",
    "exchange_trouble",
    "stablecoin_depeg",
    "etf_institutional",
    "whale_onchain",
    "protocol",
    "listing",
    "partnership_adoption",
)

_FEATURE_SQL: dict[str, str] = {
    "importance": "coalesce(s.importance, 0) / 100",
    "relevance": "{relevance}",
    "asset": "CASE WHEN list_contains(a.assets, c.asset) THEN 1.0 ELSE 0.0 END",
    "untagged": "CASE WHEN a.assets IS NULL THEN 1.0 ELSE 0.0 END",
    "macro": "CASE WHEN list_contains(a.assets, 'MACRO') THEN 1.0 ELSE 0.0 END",
    "sentiment": """CASE c.direction WHEN 'long_flush' THEN coalesce(s.p_bearish - s.p_bullish, 0)
                                         ELSE coalesce(s.p_bullish - s.p_bearish, 0) END""",
    "lead_near": "CASE WHEN {x}.d <= 0 THEN exp({x}.d / 60) ELSE 0 END",
    "lead_far": "CASE WHEN {x}.d <= 0 THEN exp({x}.d / 360) ELSE 0 END",
    "lag_near": "CASE WHEN {x}.d > 0 THEN exp(-{x}.d / 30) ELSE 0 END",
    "lag_far": "CASE WHEN {x}.d > 0 THEN exp(-{x}.d / 120) ELSE 0 END",
    "report": "CASE WHEN coalesce(s.is_market_report, FALSE) THEN 1.0 ELSE 0.0 END",
    "opinion": "CASE WHEN s.event_type IN ('analysis_opinion', 'promotion_other') THEN 1.0 ELSE 0.0 END",
    "causal": f"CASE WHEN s.event_type IN ({', '.join(repr(t) for t in CAUSAL_TYPES)}) THEN 1.0 ELSE 0.0 END",
    "first_report": """CASE WHEN rep.story_key IS NULL
                             AND (st.first_headline_id IS NULL OR st.first_headline_id = c.headline_id)
                            THEN 1.0 ELSE 0.0 END""",
    "outlets": "ln(1 + coalesce(st.outlet_count, 1))",
}

#: The features of a scheduled release, which has no title or score: a top-tier scheduled
#: macro figure (importance 1, tagged MACRO, a market-moving kind), direction unknown until
#: the print (sentiment 0), timed exactly, the first report of its story, its echoes being
#: the headlines that report it. Timing features are the same as a headline's.
_RELEASE_FEATURE_SQL: dict[str, str] = {
    "importance": "1.0",
    "relevance": "0.6",
    "asset": "0.0",
    "untagged": "0.0",
    "macro": "1.0",
    "sentiment": "0.0",
    "report": "0.0",
    "opinion": "0.0",
    "causal": "1.0",
    "first_report": "1.0",
    "outlets": "ln(1 + 1 + coalesce(nr.n, 0))",
}

#: Words by which a headline reports a release of each bundled kind (lower-case regexes).
RELEASE_WORDS: dict[str, str] = {
    "cpi": r"\bcpi\b|inflation|consumer price",
    "ppi": r"\bppi\b|producer price|wholesale (price|inflation)",
    "jobs": r"\bjobs\b|payroll|nonfarm|non-farm|unemployment",
    "fomc_decision": (
        r"\bfomc\b|\bfed\b|federal reserve|powell|rate (hike|cut|decision)|basis points?|\bbps\b"
    ),
    "fomc_minutes": r"minutes",
    "pce": r"\bpce\b|personal (income|spending|consumption)",
    "gdp": r"\bgdp\b|economy (grew|shrank|contract)",
    "retail_sales": r"retail sales",
}

#: One row per flush and candidate (a headline or a scheduled release), with every feature as
#: ``f_<name>``.
_CANDIDATES_SQL = """
CREATE OR REPLACE TEMP TABLE _attr_feat AS
WITH f0 AS (
    SELECT flush_id, asset, symbol, direction, interval, start_at, market_wide,
           {bar_min_f} AS bar_min,
           start_at - to_minutes(CAST($lookback AS BIGINT)) AS win_from,
           start_at + to_minutes(CAST($forward AS BIGINT)) AS win_to
      FROM flushes
     WHERE flush_id IN (SELECT flush_id FROM _attr_targets)
),
fine AS (  -- finer candles of the same symbol inside the start bar (any venue or market)
    SELECT f0.flush_id, k.open_time, {bar_min_k} AS m,
           min({bar_min_k}) OVER (PARTITION BY f0.flush_id) AS finest,
           CASE f0.direction WHEN 'long_flush' THEN k.open - k.close ELSE k.close - k.open END
             / nullif(k.open, 0) AS push
      FROM f0 JOIN candles k
        ON k.symbol = f0.symbol
       AND k.open_time >= f0.start_at AND k.open_time < f0.start_at + to_minutes(CAST(f0.bar_min AS BIGINT))
     WHERE {bar_min_k} < f0.bar_min
),
onset AS (  -- the onset: on the finest of them, the bar that moved most the flush's way
    SELECT flush_id, arg_max(open_time, push) AS onset_at, min(m) AS onset_min
      FROM fine WHERE m = finest
     GROUP BY flush_id
),
f AS (  -- + the onset, and the other assets with a flush of their own inside the window
    SELECT f0.*,
           coalesce(onset.onset_at, f0.start_at) AS onset_at,
           coalesce(onset.onset_min, f0.bar_min) AS onset_min,
           (SELECT list(DISTINCT o.asset) FROM flushes o
             WHERE o.detector_version = $dv AND o.asset <> f0.asset
               AND o.start_at BETWEEN f0.win_from AND f0.win_to) AS flushed_assets
      FROM f0 LEFT JOIN onset USING (flush_id)
),
h AS (
    SELECT h.headline_id, h.story_id, h.title, {htime} AS t
      FROM headlines h
     WHERE {htime} BETWEEN (SELECT min(win_from) FROM f) AND (SELECT max(win_to) FROM f)
),
c AS (
    SELECT f.*, h.headline_id, h.story_id, h.title, h.t,
           epoch(h.t) - epoch(f.start_at) AS delay_s, {d_of_h} AS d
      FROM f JOIN h ON h.t BETWEEN f.win_from AND f.win_to
),
rel AS (  -- scheduled releases in the window: candidates at their release minute
    SELECT f.flush_id, f.direction, ce.kind, ce.name, ce.release_at AS t,
           epoch(ce.release_at) - epoch(f.start_at) AS delay_s, {d_of_rel} AS d,
           ce.kind || '@' || strftime(ce.release_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%MZ') AS story_key
      FROM f JOIN calendar_events ce ON ce.release_at BETWEEN f.win_from AND f.win_to
),
rep AS (  -- headlines reporting a release (its words, within two hours after it): its story
    SELECT DISTINCT ON (c.flush_id, c.headline_id) c.flush_id, c.headline_id, rel.story_key
      FROM rel
      JOIN c ON c.flush_id = rel.flush_id AND c.t BETWEEN rel.t AND rel.t + INTERVAL 2 HOUR
      JOIN (VALUES {release_words}) w(kind, pattern)
        ON w.kind = rel.kind AND regexp_matches(lower(c.title), w.pattern)
     ORDER BY c.flush_id, c.headline_id, rel.t DESC
),
s AS (  -- latest score row per candidate headline
    SELECT hs.* FROM headline_scores hs
     WHERE hs.headline_id IN (SELECT DISTINCT headline_id FROM c)
    QUALIFY row_number() OVER (PARTITION BY hs.headline_id ORDER BY hs.scored_at DESC,
                                                                   hs.model_revision DESC) = 1
),
a AS (  -- what each candidate is about
    SELECT headline_id, list(asset) AS assets
      FROM headline_assets WHERE headline_id IN (SELECT DISTINCT headline_id FROM c)
     GROUP BY headline_id
)
SELECT c.flush_id, c.headline_id, NULL::VARCHAR AS release_kind, NULL::TIMESTAMPTZ AS release_at,
       coalesce(rep.story_key, CASE WHEN st.headline_count > 1 THEN 'story:' || c.story_id END) AS story_key,
       c.t, c.delay_s,
       coalesce(s.is_market_report, FALSE) AS is_coverage,
       {relevance_basis} AS relevance_basis,
       s.headline_id IS NULL AS unscored,
       {features}
  FROM c
  LEFT JOIN s ON s.headline_id = c.headline_id
  LEFT JOIN a ON a.headline_id = c.headline_id
  LEFT JOIN stories st ON st.story_id = c.story_id
  LEFT JOIN rep ON rep.flush_id = c.flush_id AND rep.headline_id = c.headline_id
UNION ALL
SELECT rel.flush_id, NULL, rel.kind, rel.t, rel.story_key, rel.t, rel.delay_s, FALSE,
       'scheduled release', FALSE,
       {release_features}
  FROM rel
  LEFT JOIN (SELECT flush_id, story_key, count(*) AS n FROM rep GROUP BY ALL) nr
    ON nr.flush_id = rel.flush_id AND nr.story_key = rel.story_key
"""

_RANK_SQL = """
CREATE OR REPLACE TEMP TABLE _attr_new AS
WITH parts AS (
    SELECT flush_id, headline_id, release_kind, release_at, story_key, t, delay_s, is_coverage,
           relevance_basis, unscored,
           {components}
      FROM _attr_feat
),
raw AS (
    -- A headline an hour or more after its story's first report here is a new development
    -- (a threat, then the measure itself), not an echo: it stands on its own.
    SELECT * REPLACE (
               CASE WHEN story_key LIKE 'story:%'
                         AND epoch(t) - epoch(min(t) OVER (PARTITION BY flush_id, story_key)) >= 3600
                    THEN NULL ELSE story_key END AS story_key),
           {component_sum} AS raw
      FROM parts
),
story AS (
    -- A story's first report in the window: a release, else its earliest headline here.
    SELECT *,
           CASE WHEN story_key IS NULL OR release_kind IS NOT NULL THEN TRUE
                WHEN count(release_kind) OVER (PARTITION BY flush_id, story_key) > 0 THEN FALSE
                ELSE row_number() OVER (PARTITION BY flush_id, story_key ORDER BY t, headline_id) = 1
           END AS is_first
      FROM raw
),
evidence AS (
    SELECT *,
           max(raw) FILTER (WHERE NOT is_first AND NOT is_coverage)
             OVER (PARTITION BY flush_id, story_key) AS best_echo,
           max(raw) FILTER (WHERE is_first) OVER (PARTITION BY flush_id, story_key) AS first_report
      FROM story
),
credited AS (
    -- Catalysts are ranked as stories: the first report takes the score of the story's best
    -- evidence (the difference shown as novelty), and an echo never outranks it.
    SELECT * REPLACE (
               CASE WHEN story_key IS NULL THEN novelty
                    WHEN is_first THEN novelty + greatest(coalesce(best_echo, raw) - raw, 0)
                    ELSE novelty
                         - greatest(raw - (greatest(first_report, coalesce(best_echo, raw)) - 0.001), 0)
               END AS novelty)
      FROM evidence
),
scored AS (
    SELECT * EXCLUDE (raw, is_first, best_echo, first_report), round({component_sum}, 3) AS score
      FROM credited
),
ranked AS (
    SELECT *,
           row_number() OVER (PARTITION BY flush_id, is_coverage
                              ORDER BY score DESC, t, release_kind NULLS LAST, headline_id) AS r_in_group
      FROM scored
)
SELECT flush_id, headline_id, release_kind, release_at, t AS headline_time, delay_s, is_coverage, score,
       r_in_group,
       json_object({component_json}, 'unscored', unscored, 'relevance_basis', relevance_basis,
                   'story', story_key) AS components,
       -- causes first (1..n), then coverage after them
       CASE WHEN is_coverage
            THEN r_in_group + count(*) FILTER (WHERE NOT is_coverage) OVER (PARTITION BY flush_id)
            ELSE r_in_group END AS rank
  FROM ranked
 WHERE (NOT is_coverage AND r_in_group <= $causes) OR (is_coverage AND r_in_group <= $coverage)
"""

#: Verdict per flush from its top cause's score and margin over the second (capped: a lone
#: candidate has no second). No cause candidate at all: probability 0, verdict none.
_VERDICT_SQL = """
WITH top AS (
    SELECT flush_id,
           max(score) FILTER (WHERE r_in_group = 1) AS s1,
           max(score) FILTER (WHERE r_in_group = 2) AS s2
      FROM _attr_new WHERE NOT is_coverage GROUP BY flush_id
),
p0 AS (
    SELECT t.flush_id,
           CASE WHEN top.s1 IS NULL THEN 0.0
                ELSE 1 / (1 + exp(-($v_score * top.s1
                                    + $v_margin * least(coalesce(top.s1 - top.s2, $margin_cap), $margin_cap)
                                    + $v_bias)))
           END AS p0
      FROM _attr_targets t LEFT JOIN top USING (flush_id)
),
p AS (SELECT flush_id, round(p0, 2) AS p FROM p0)  -- as shown: the verdict agrees with the figure
UPDATE flushes SET cause_probability = p.p,
                   verdict = CASE WHEN p.p >= $likely THEN 'likely'
                                  WHEN p.p >= $possible THEN 'possible'
                                  ELSE 'none' END
  FROM p WHERE flushes.flush_id = p.flush_id
"""

MARGIN_CAP = 3.0  # log-odds; a margin beyond this adds no confidence


@dataclass(frozen=True)
class RankingModel:
    """The learned weights (log-odds per unit of each feature) and the verdict's calibration.

    Fitted by ``flushwatch.training.attribution_fit`` (never on the scoring path) and shipped as
    ``models/attribution/ranker.json``; ``revision`` is its content hash."""

    weights: dict[str, float]
    verdict_score: float
    verdict_margin: float
    verdict_bias: float
    likely_at: float
    possible_at: float
    revision: str

    @classmethod
    def from_json(cls, text: str, *, source: str = "models/attribution/ranker.json") -> RankingModel:
        try:
            raw = json.loads(text)
            weights = {k: float(raw["weights"].get(k, 0.0)) for k in FEATURES}
            v = raw["verdict"]
            return cls(
                weights=weights,
                verdict_score=float(v["score"]),
                verdict_margin=float(v["margin"]),
                verdict_bias=float(v["bias"]),
                likely_at=float(v["likely_at"]),
                possible_at=float(v["possible_at"]),
                revision=hashlib.sha256(text.encode()).hexdigest()[:12],
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{source}: not a ranking model ({exc})", hint="reinstall flushwatch") from exc

    @classmethod
    def load(cls, path: Path | None = None) -> RankingModel:
        if path is not None:
            return cls.from_json(path.read_text(encoding="utf-8"), source=str(path))
        text = resources.files("flushwatch.models").joinpath("attribution", "ranker.json").read_text("utf-8")
        return cls.from_json(text)


@dataclass(frozen=True)
class AttributionResult:
    flushes: int  # flushes (re)attributed
    catalysts: int  # catalyst rows written


def attribute(
    db: Database,
    settings: AttributionSettings | None = None,
    *,
    flush_ids: list[int] | None = None,
    since: dt.datetime | None = None,
    only_missing: bool = False,
    run_id: int | None = None,
    model: RankingModel | None = None,
) -> AttributionResult:
    """(Re)rank catalysts for the chosen flushes: ``flush_ids``, those starting at or after
    ``since``, or all; ``only_missing`` keeps flushes that already have catalysts as they are.
    Replaces each chosen flush's rows for this attribution version in one transaction."""
    s = settings or AttributionSettings()
    with db.write() as con:
        return attribute_in(
            con, s, flush_ids=flush_ids, since=since, only_missing=only_missing, run_id=run_id, model=model
        )


def select_targets(
    con: Connection,
    *,
    flush_ids: list[int] | None = None,
    since: dt.datetime | None = None,
    only_missing: bool = False,
) -> int:
    """Fill the temp table ``_attr_targets`` with the flushes to rank; returns how many."""
    cond = ["detector_version = $dv"]
    params: dict[str, object] = {"dv": DETECTOR_VERSION}
    if flush_ids is not None:
        cond.append("flush_id IN (SELECT unnest($ids))")
        params["ids"] = list(flush_ids)
    if since is not None:
        cond.append("start_at >= $since")
        params["since"] = since
    if only_missing:
        cond.append("flush_id NOT IN (SELECT flush_id FROM catalysts WHERE attribution_version = $av)")
        params["av"] = ATTRIBUTION_VERSION
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _attr_targets AS "
        f"SELECT flush_id FROM flushes WHERE {' AND '.join(cond)}",
        params,
    )
    row = con.execute("SELECT count(*) FROM _attr_targets").fetchone()
    return int(row[0]) if row else 0


def candidate_features(con: Connection, s: AttributionSettings) -> None:
    """Build ``_attr_feat``: every candidate of the flushes in ``_attr_targets`` with its
    features (also read by the training code, so fitting and ranking see the same numbers)."""
    features = ",\n       ".join(
        f"{sql.replace('{x}', 'c')} AS f_{name}" for name, sql in _FEATURE_SQL.items()
    )
    release = ",\n       ".join(
        f"{_RELEASE_FEATURE_SQL.get(name, sql).replace('{x}', 'rel')} AS f_{name}"
        for name, sql in _FEATURE_SQL.items()
    )
    words = ", ".join(f"('{kind}', '{pattern}')" for kind, pattern in RELEASE_WORDS.items())
    con.execute(
        _CANDIDATES_SQL.replace("{features}", features)
        .replace("{release_features}", release)
        .replace("{release_words}", words)
        .replace("{d_of_h}", _minutes_outside_start_bar("h.t"))
        .replace("{d_of_rel}", _minutes_outside_start_bar("ce.release_at"))
        .replace("{bar_min_f}", bar_minutes_sql("interval", otherwise=1))
        .replace("{bar_min_k}", bar_minutes_sql("k.interval", otherwise=1440))
        .replace("{htime}", HEADLINE_TIME_SQL)
        .replace("{relevance}", RELEVANCE_SQL)
        .replace("{relevance_basis}", RELEVANCE_BASIS_SQL),
        {
            "dv": DETECTOR_VERSION,
            "contagion": s.contagion_share,
            "systemic": [a.upper() for a in s.systemic_assets],
            "lookback": s.lookback_min,
            "forward": s.forward_min,
        },
    )


def _minutes_outside_start_bar(t: str) -> str:
    """Minutes from the move's onset to ``t`` (negative = before), counting the onset bar as 0:
    the move may begin anywhere inside it. The onset is measured on the finest candles stored
    for the symbol (the bar inside the flush's start bar that moved most its way); with only
    the flush's own candles it is the start bar, and a coarse bar leaves the timing blurred."""
    delay = f"(epoch({t}) - epoch(f.onset_at)) / 60"
    return f"{delay} - least(greatest({delay}, 0), f.onset_min)"


def _rank_sql(model: RankingModel) -> str:
    groups: dict[str, list[str]] = {}
    for name, comp in FEATURES.items():
        groups.setdefault(comp, []).append(f"{model.weights[name]!r} * f_{name}")
    components = ",\n           ".join(f"{' + '.join(terms)} AS {comp}" for comp, terms in groups.items())
    component_sum = " + ".join(groups)
    component_json = ", ".join(f"'{comp}', round({comp}, 3)" for comp in groups)
    return (
        _RANK_SQL.replace("{components}", components)
        .replace("{component_sum}", component_sum)
        .replace("{component_json}", component_json)
    )


def attribute_in(
    con: Connection,
    s: AttributionSettings,
    *,
    flush_ids: list[int] | None = None,
    since: dt.datetime | None = None,
    only_missing: bool = False,
    run_id: int | None = None,
    model: RankingModel | None = None,
) -> AttributionResult:
    """:func:`attribute` inside a caller's transaction."""
    n_flushes = select_targets(con, flush_ids=flush_ids, since=since, only_missing=only_missing)
    if n_flushes == 0:
        return AttributionResult(0, 0)
    m = model or RankingModel.load()
    candidate_features(con, s)
    con.execute(_rank_sql(m), {"causes": s.causes_kept, "coverage": s.coverage_kept})
    con.execute(
        "DELETE FROM catalysts WHERE attribution_version = ? "
        "AND flush_id IN (SELECT flush_id FROM _attr_targets)",
        [ATTRIBUTION_VERSION],
    )
    con.execute(
        "UPDATE flushes SET attributed_run_id = ? WHERE flush_id IN (SELECT flush_id FROM _attr_targets)",
        [run_id],
    )
    con.execute(
        _VERDICT_SQL,
        {
            "v_score": m.verdict_score,
            "v_margin": m.verdict_margin,
            "v_bias": m.verdict_bias,
            "margin_cap": MARGIN_CAP,
            "likely": m.likely_at,
            "possible": m.possible_at,
        },
    )
    con.execute(
        """
        INSERT INTO catalysts (flush_id, headline_id, release_kind, release_at, attribution_version, rank,
                               score, is_coverage, components, headline_time, delay_s, run_id)
        SELECT flush_id, headline_id, release_kind, release_at, ?, rank, score, is_coverage, components,
               headline_time, delay_s, ?
          FROM _attr_new
        """,
        [ATTRIBUTION_VERSION, run_id],
    )
    row = con.execute("SELECT count(*) FROM _attr_new").fetchone()
    return AttributionResult(n_flushes, int(row[0]) if row else 0)
