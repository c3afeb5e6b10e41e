-- Scheduled macro releases (CPI, FOMC decisions, jobs, ...). Migration 4 seeds the US releases
-- that ship with flushwatch (docs/calendar.md); `flushwatch calendar import` adds or corrects rows.
-- Natural key: one release of a kind per instant.
CREATE TABLE IF NOT EXISTS calendar_events (
    release_at TIMESTAMPTZ NOT NULL,      -- when the figures or the statement came out
    kind       VARCHAR NOT NULL,          -- cpi, ppi, jobs, fomc_decision, fomc_minutes, pce, gdp, retail_sales, or an imported kind
    name       VARCHAR NOT NULL,          -- what came out, e.g. 'CPI (Oct 2022)', 'FOMC statement'
    country    VARCHAR NOT NULL DEFAULT 'US',  -- where the release comes from (ISO code; bundled rows are US)
    source     VARCHAR NOT NULL,          -- 'bundled', or the name of the file imported last over this row
    added_at   TIMESTAMPTZ NOT NULL,      -- when this row was inserted or its name/country last changed
    PRIMARY KEY (kind, release_at)
);
