-- Detected flushes and the headlines ranked as their catalysts.

CREATE SEQUENCE IF NOT EXISTS flush_id_seq START 1;

-- Natural key: (asset, start_at, detector_version); re-detection updates in place.
CREATE TABLE flushes (
    flush_id           BIGINT PRIMARY KEY DEFAULT nextval('flush_id_seq'),
    asset              VARCHAR NOT NULL,      -- 'BTC', 'ETH', ...
    venue              VARCHAR,
    market             VARCHAR,
    symbol             VARCHAR,
    interval           VARCHAR NOT NULL,      -- candle interval it was detected on
    start_at           TIMESTAMPTZ NOT NULL,
    peak_at            TIMESTAMPTZ NOT NULL,  -- the extreme price of the move
    end_at             TIMESTAMPTZ NOT NULL,  -- close time of the last bar whose signals fired
    trigger_at         TIMESTAMPTZ NOT NULL,  -- open time of the first bar whose signals fired
    direction          VARCHAR NOT NULL,      -- long_flush (down) | short_squeeze (up)
    price_move_pct     DOUBLE NOT NULL,       -- close-to-close over the window, percent
    extreme_move_pct   DOUBLE,                -- drawdown (long flush) or run-up, percent from start
    liquidated_usd     DOUBLE,                -- NULL when no liquidations were recorded
    liquidation_note   VARCHAR,               -- venue coverage caveat, e.g. 'binance: floor (1/s/symbol)'
    volume_multiple    DOUBLE,                -- window volume / trailing baseline
    oi_change_pct      DOUBLE,
    funding_before     DOUBLE,                -- last funding rate before start, fraction
    signals            VARCHAR[] NOT NULL,    -- which detectors fired
    severity           DOUBLE NOT NULL,       -- 0..100
    market_wide        BOOLEAN NOT NULL DEFAULT FALSE,
    detector_version   VARCHAR NOT NULL,
    run_id             BIGINT,
    detected_at        TIMESTAMPTZ NOT NULL,
    attributed_run_id  BIGINT,                -- run that last ranked its catalysts (NULL: not yet)
    verdict            VARCHAR,               -- likely | possible | none (no convincing catalyst)
    cause_probability  DOUBLE,                -- calibrated probability that catalyst rank 1 is the cause
    market_event_id    BIGINT,                -- flushes at the same time (any asset, interval) share it: the earliest one's id
    UNIQUE (asset, start_at, detector_version)
);

-- One ranked candidate per row: a headline, or a scheduled release (calendar_events) that is a
-- candidate at its release minute even before any headline reports it.
CREATE TABLE catalysts (
    flush_id            BIGINT NOT NULL,
    headline_id         BIGINT,                -- NULL for a scheduled release
    release_kind        VARCHAR,               -- a scheduled release: calendar_events.kind ...
    release_at          TIMESTAMPTZ,           -- ... and release_at
    attribution_version VARCHAR NOT NULL,
    rank                INTEGER NOT NULL,      -- 1 = most likely cause; coverage rows rank after causes
    score               DOUBLE NOT NULL,       -- log-odds of being the cause (sum of components)
    is_coverage         BOOLEAN NOT NULL,      -- merely reports the move: shown, never the cause
    components          JSON NOT NULL,         -- each component's contribution to score
    headline_time       TIMESTAMPTZ NOT NULL,  -- the time used (first_seen_at live, published_at backfill, release minute)
    delay_s             DOUBLE NOT NULL,       -- headline_time - flush start (negative = before)
    run_id              BIGINT,
    UNIQUE (flush_id, attribution_version, rank)
);

-- Incremental detection: per candle series, the last bar already examined and the thresholds
-- used. A later run re-examines only a trailing-baseline overlap before the watermark; changed
-- thresholds (a different fingerprint) force a full re-detection of that series.
CREATE TABLE detector_state (
    venue            VARCHAR NOT NULL,
    market           VARCHAR NOT NULL,
    symbol           VARCHAR NOT NULL,
    interval         VARCHAR NOT NULL,
    detector_version VARCHAR NOT NULL,
    watermark        TIMESTAMPTZ NOT NULL,   -- open_time of the newest bar examined
    fingerprint      VARCHAR NOT NULL,       -- hash of the thresholds used
    updated_at       TIMESTAMPTZ NOT NULL,
    run_id           BIGINT,
    PRIMARY KEY (venue, market, symbol, interval, detector_version)
);

-- Market rows added at or before a series' watermark (a backfill, or liquidations / funding /
-- open interest imported after the candles were detected): the next incremental detect
-- re-examines every series of that symbol from from_at, then deletes the rows it consumed.
-- Rows past every watermark are not listed: the incremental run reaches them anyway.
CREATE TABLE IF NOT EXISTS market_changes (
    tbl        VARCHAR NOT NULL,              -- candles | liquidations | funding_rates | open_interest
    venue      VARCHAR NOT NULL,
    symbol     VARCHAR NOT NULL,
    from_at    TIMESTAMPTZ NOT NULL,          -- earliest time of the rows written
    to_at      TIMESTAMPTZ NOT NULL,
    run_id     BIGINT,
    changed_at TIMESTAMPTZ NOT NULL
);
