-- Core bookkeeping. All times are TIMESTAMPTZ in UTC.

CREATE SEQUENCE IF NOT EXISTS run_id_seq START 1;

-- One row per command run: what ran, when, how it ended. Every derived row elsewhere carries
-- the run_id that wrote it (lineage: which run, and so which version, produced a number).
CREATE TABLE runs (
    run_id      BIGINT PRIMARY KEY DEFAULT nextval('run_id_seq'),
    command     VARCHAR NOT NULL,          -- 'ingest', 'score', 'import candles', ...
    args        VARCHAR,                   -- the command line as typed, for reproducing it
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,               -- NULL while running, or if the process was killed
    status      VARCHAR NOT NULL,          -- running | ok | partial | failed | interrupted | abandoned
    counts      JSON,                      -- {"items_new": 12, "feeds_failed": 1, ...}
    message     VARCHAR,                   -- the error or summary line, if any
    pid         INTEGER,
    version     VARCHAR                    -- flushwatch version that ran
);
