-- Stable analyst views. Re-created by every migration; changing a view needs a new migration.
-- docs/views.md documents each view with example queries.

-- The latest score row per headline (a newer model revision supersedes older rows).
CREATE OR REPLACE VIEW v_latest_scores AS
SELECT *
  FROM headline_scores
QUALIFY row_number() OVER (PARTITION BY headline_id ORDER BY scored_at DESC, model_revision DESC) = 1;

-- One row per headline with its latest score, its assets and its story.
CREATE OR REPLACE VIEW v_headlines AS
SELECT h.headline_id,
       h.title,
       h.url,
       h.source,
       h.published_at,
       h.first_seen_at,
       -- the time attribution uses: first_seen_at for live feed items, published_at for imports
       CASE WHEN h.origin = 'feed' OR h.published_at IS NULL OR h.time_flag IS NOT NULL
            THEN h.first_seen_at ELSE h.published_at END      AS attributed_at,
       h.origin,
       s.sentiment,
       s.sentiment_score,
       s.importance,
       s.event_type,
       s.is_market_report,
       s.model_name,
       s.model_revision,
       coalesce(a.assets, [])                                 AS assets,
       h.story_id,
       st.title                                               AS story_title,
       st.outlet_count                                        AS story_outlets,
       (st.first_headline_id IS NULL OR st.first_headline_id = h.headline_id) AS is_first_report
  FROM headlines h
  LEFT JOIN v_latest_scores s ON s.headline_id = h.headline_id
  LEFT JOIN (SELECT headline_id, list(asset ORDER BY asset) AS assets
               FROM headline_assets GROUP BY headline_id) a ON a.headline_id = h.headline_id
  LEFT JOIN stories st ON st.story_id = h.story_id;

-- Detected flushes with their duration and top catalyst (of the flush's newest attribution:
-- an upgrade keeps older attribution versions' rows in catalysts, one flush stays one row).
CREATE OR REPLACE VIEW v_flushes AS
SELECT f.*,
       epoch(f.end_at) - epoch(f.start_at) AS duration_s,
       top.headline_id                     AS top_headline_id,
       top.title                           AS top_title,
       top.score                           AS top_score
  FROM flushes f
  LEFT JOIN (SELECT c.flush_id, c.headline_id,
                    coalesce(h.title, ce.name || ' released', c.release_kind || ' released') AS title, c.score
               FROM catalysts c
               LEFT JOIN headlines h ON h.headline_id = c.headline_id
               LEFT JOIN calendar_events ce ON ce.kind = c.release_kind AND ce.release_at = c.release_at
              WHERE c.rank = 1 AND NOT c.is_coverage
            QUALIFY c.attribution_version = max(c.attribution_version) OVER (PARTITION BY c.flush_id)
            ) top ON top.flush_id = f.flush_id;

-- Ranked catalysts joined to their flush and headline; components expanded to columns. Only
-- each flush's newest attribution version (as explain and digest show it).
CREATE OR REPLACE VIEW v_catalysts AS
SELECT c.flush_id,
       f.asset,
       f.direction,
       f.start_at                                           AS flush_start_at,
       c.rank,
       c.score,
       c.is_coverage,
       c.headline_id,                                         -- NULL for a scheduled release
       coalesce(h.title, ce.name || ' released', c.release_kind || ' released') AS title,
       coalesce(h.source, coalesce(ce.country, 'US') || ' macro calendar') AS source,
       h.url,
       h.published_at,
       h.first_seen_at,
       c.headline_time,
       c.delay_s,
       CAST(c.components ->> 'importance' AS DOUBLE)        AS pts_importance,
       CAST(c.components ->> 'relevance' AS DOUBLE)         AS pts_relevance,
       CAST(c.components ->> 'sentiment' AS DOUBLE)         AS pts_sentiment,
       CAST(c.components ->> 'timing' AS DOUBLE)            AS pts_timing,
       CAST(c.components ->> 'novelty' AS DOUBLE)           AS pts_novelty,
       CAST(c.components ->> 'latency' AS DOUBLE)           AS pts_latency,   -- attr-1/2 only
       CAST(c.components ->> 'kind' AS DOUBLE)              AS pts_kind,      -- attr-3: report, opinion, event type
       c.components,
       c.attribution_version,
       c.release_kind,                                        -- a scheduled release: calendar_events.kind
       c.release_at
  FROM catalysts c
  JOIN flushes f USING (flush_id)
  LEFT JOIN headlines h ON h.headline_id = c.headline_id
  LEFT JOIN calendar_events ce ON ce.kind = c.release_kind AND ce.release_at = c.release_at
QUALIFY c.attribution_version = max(c.attribution_version) OVER (PARTITION BY c.flush_id);

-- 5-minute candles resampled from 1-minute candles.
CREATE OR REPLACE VIEW v_candles_5m AS
SELECT venue, market, symbol,
       time_bucket(INTERVAL '5 minutes', open_time) AS open_time,
       arg_min(open, open_time) AS open, max(high) AS high, min(low) AS low,
       arg_max(close, open_time) AS close,
       sum(volume) AS volume, sum(quote_volume) AS quote_volume, count(*) AS bars
  FROM candles WHERE interval = '1m'
 GROUP BY ALL;

-- Hourly candles resampled from 1-minute candles, in UTC hours whatever the session's time
-- zone (date_trunc would follow it: Asia/Kolkata's hours start at :30 UTC).
CREATE OR REPLACE VIEW v_candles_1h AS
SELECT venue, market, symbol,
       time_bucket(INTERVAL '1 hour', open_time) AS open_time,
       arg_min(open, open_time) AS open, max(high) AS high, min(low) AS low,
       arg_max(close, open_time) AS close,
       sum(volume) AS volume, sum(quote_volume) AS quote_volume, count(*) AS bars
  FROM candles WHERE interval = '1m'
 GROUP BY ALL;

-- Liquidations per minute, per symbol and side (USD notional; Binance totals are a floor).
CREATE OR REPLACE VIEW v_liquidations_1m AS
SELECT venue, symbol, date_trunc('minute', event_time) AS minute,
       sum(notional_usd) FILTER (WHERE side = 'long')  AS long_liquidated_usd,
       sum(notional_usd) FILTER (WHERE side = 'short') AS short_liquidated_usd,
       sum(notional_usd) AS liquidated_usd,
       count(*) AS events
  FROM liquidations
 GROUP BY ALL;

-- Scheduled macro releases (bundled and imported), with each one's time on the New York clock
-- the US agencies publish by (release_at_et: 08:30 for data, 14:00 for the FOMC).
CREATE OR REPLACE VIEW v_calendar AS
SELECT release_at,                                                -- when it came out (UTC)
       timezone('America/New_York', release_at) AS release_at_et,  -- the same instant on the New York clock
       kind,                                                      -- cpi, fomc_decision, ... (calendar_events.kind)
       name,                                                      -- e.g. 'CPI (Oct 2022)'
       country,
       source,                                                    -- 'bundled' or the file imported last over it
       added_at                                                   -- inserted or last changed
  FROM calendar_events;
