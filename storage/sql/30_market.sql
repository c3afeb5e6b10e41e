-- Market data. These tables get large (10M+ candles), so they carry no index constraints:
-- DuckDB's ART indexes would cost ~100 bytes a row of memory. Each table's natural key is
-- written below and enforced by the storage layer (storage/market.py): every insert is an
-- anti-join on the natural key inside the writing transaction, and DuckDB allows one writer
-- at a time, so two imports cannot race each other into duplicates. Row-group zone maps on
-- the time columns keep the anti-join to the touched time range.

-- Natural key: (venue, market, symbol, interval, open_time). Each series keeps its own
-- interval; coarser bars are computed in SQL (storage/market.py resample_sql), never stored.
CREATE TABLE candles (
    venue                  VARCHAR NOT NULL,  -- 'binance', 'bybit', ...
    market                 VARCHAR NOT NULL,  -- spot | perp | mark | index
    symbol                 VARCHAR NOT NULL,  -- venue symbol, e.g. 'BTCUSDT'
    interval               VARCHAR NOT NULL,  -- '1m', '5m', '15m', '1h', '1d'
    open_time              TIMESTAMPTZ NOT NULL,
    open                   DOUBLE NOT NULL,   -- quote currency per base unit
    high                   DOUBLE NOT NULL,
    low                    DOUBLE NOT NULL,
    close                  DOUBLE NOT NULL,
    volume                 DOUBLE,            -- base units (BTC for BTCUSDT); 0 for mark/index
    quote_volume           DOUBLE,            -- quote units (USDT); NULL when the source lacks it
    trades                 BIGINT,
    taker_buy_volume       DOUBLE,            -- base units
    taker_buy_quote_volume DOUBLE,            -- quote units
    run_id                 BIGINT
);

-- Forced liquidations. side = the position that was liquidated: a forced SELL closes a long.
-- Natural key: (venue, symbol, event_time, side, price, quantity).
CREATE TABLE liquidations (
    venue        VARCHAR NOT NULL,
    symbol       VARCHAR NOT NULL,
    side         VARCHAR NOT NULL,            -- long | short (the liquidated position)
    price        DOUBLE NOT NULL,             -- average fill price, quote units
    quantity     DOUBLE NOT NULL,             -- base units
    notional_usd DOUBLE NOT NULL,             -- price * quantity for USD(T)-quoted contracts
    event_time   TIMESTAMPTZ NOT NULL,        -- exchange event time (trade time when given)
    receive_time TIMESTAMPTZ,                 -- when flushwatch received it (streams only)
    source       VARCHAR NOT NULL,            -- stream | import
    run_id       BIGINT
);

-- How complete each venue's liquidation feed is. Binance publishes at most one liquidation
-- per symbol per second, so its totals are a floor; show `note` wherever totals are shown.
CREATE TABLE liquidation_venues (
    venue        VARCHAR PRIMARY KEY,
    completeness VARCHAR NOT NULL,            -- floor | complete
    note         VARCHAR NOT NULL
);
INSERT INTO liquidation_venues VALUES
    ('binance', 'floor', 'at most one liquidation per symbol per second is published: totals are a floor'),
    ('bybit', 'complete', 'every liquidation is published');

-- Natural key: (venue, symbol, funding_time). funding_time is truncated to the second:
-- exchanges stamp prints a few ms late (…00:00:00.006) and that jitter differs by source.
CREATE TABLE funding_rates (
    venue        VARCHAR NOT NULL,
    symbol       VARCHAR NOT NULL,
    funding_time TIMESTAMPTZ NOT NULL,
    rate         DOUBLE NOT NULL,             -- fraction per funding interval (0.0001 = 0.01%)
    mark_price   DOUBLE,
    run_id       BIGINT
);

-- Natural key: (venue, symbol, interval, ts).
CREATE TABLE open_interest (
    venue             VARCHAR NOT NULL,
    symbol            VARCHAR NOT NULL,
    interval          VARCHAR NOT NULL,       -- '5m', '1h', ...
    ts                TIMESTAMPTZ NOT NULL,
    open_interest     DOUBLE NOT NULL,        -- contracts, in base units
    open_interest_usd DOUBLE,                 -- notional, quote units
    run_id            BIGINT
);

-- Periods a live recorder was NOT connected, so analysis knows what it missed.
-- Time when no recorder ran at all is not listed here: see runs (command 'liquidations record').
CREATE TABLE coverage_gaps (
    venue      VARCHAR NOT NULL,
    stream     VARCHAR NOT NULL,              -- e.g. 'forceOrder', 'allLiquidation'
    gap_start  TIMESTAMPTZ NOT NULL,
    gap_end    TIMESTAMPTZ,                   -- NULL while still disconnected
    reason     VARCHAR,
    run_id     BIGINT
);
