-- Model scores. A new model revision adds rows; it never overwrites another revision's.
-- `score --refresh-rules` recomputes a row's rule fields (event_type .. flags, importance) in
-- place when its rules_revision is not the current one; the model's columns never change.

CREATE TABLE headline_scores (
    headline_id      BIGINT NOT NULL,
    model_name       VARCHAR NOT NULL,        -- encoder + head, e.g. 'flushwatch-minilm'
    model_revision   VARCHAR NOT NULL,        -- content hash of the committed weights
    run_id           BIGINT,
    scored_at        TIMESTAMPTZ NOT NULL,
    sentiment        VARCHAR NOT NULL,        -- bearish | neutral | bullish
    p_bearish        DOUBLE NOT NULL,
    p_neutral        DOUBLE NOT NULL,
    p_bullish        DOUBLE NOT NULL,
    sentiment_score  DOUBLE NOT NULL,         -- p_bullish - p_bearish, in [-1, 1]
    importance       DOUBLE NOT NULL,         -- 0..100: how much a trader needs this within the hour
    event_type       VARCHAR NOT NULL,
    event_confidence DOUBLE,
    is_market_report BOOLEAN NOT NULL,        -- merely reports a price move / liquidations
    language         VARCHAR,                 -- detected language of the title
    flags            VARCHAR[],               -- e.g. ['non_english', 'truncated', 'empty']
    label_map        JSON,                    -- model label -> bearish/neutral/bullish, as used
    rules_revision   VARCHAR,                 -- fingerprint of the rules, event-type fallback head and importance weights that wrote importance, event_type .. flags (NULL: scored before schema 2)
    PRIMARY KEY (headline_id, model_name, model_revision)
);
