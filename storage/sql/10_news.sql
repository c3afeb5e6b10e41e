-- News: feeds, headlines, stories and the assets headlines are about.

CREATE SEQUENCE IF NOT EXISTS feed_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS headline_id_seq START 1;
CREATE SEQUENCE IF NOT EXISTS story_id_seq START 1;

-- Subscribed feeds, with HTTP caching state and health. Validators (etag, last_modified) are
-- written in the same transaction as the feed's items, so a crash cannot skip items.
CREATE TABLE feeds (
    feed_id              INTEGER PRIMARY KEY DEFAULT nextval('feed_id_seq'),
    url                  VARCHAR NOT NULL UNIQUE,
    name                 VARCHAR NOT NULL,
    kind                 VARCHAR NOT NULL,     -- crypto | macro | regulator | exchange
    language             VARCHAR,              -- BCP-47 code, e.g. 'en'
    tier                 TINYINT NOT NULL DEFAULT 2,  -- 1 = most market-moving .. 3 = least
    enabled              BOOLEAN NOT NULL DEFAULT TRUE,
    origin               VARCHAR NOT NULL DEFAULT 'user',  -- catalogue | user | opml | adhoc (ingest --feed, kept disabled)
    added_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    etag                 VARCHAR,
    last_modified        VARCHAR,              -- the server's Last-Modified, verbatim
    last_fetched_at      TIMESTAMPTZ,
    last_success_at      TIMESTAMPTZ,
    last_status          INTEGER,              -- last HTTP status (304 = not modified)
    last_error_at        TIMESTAMPTZ,
    last_error           VARCHAR,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    items_seen           BIGINT NOT NULL DEFAULT 0,
    median_latency_s     DOUBLE                -- median(first_seen_at - published_at) in seconds, after the feed's first batch
);

-- Small key/value state of the news side, e.g. 'catalogue_loaded' = the catalogue version
-- loaded into feeds, so removing every feed does not bring the catalogue back.
CREATE TABLE news_state (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

-- One row per headline, from a feed or an imported file.
CREATE TABLE headlines (
    headline_id    BIGINT PRIMARY KEY DEFAULT nextval('headline_id_seq'),
    dedup_key      VARCHAR NOT NULL UNIQUE,   -- 'guid:...' or 'url:<canonical url>' or 'title:<source>:<hash>'
    feed_id        INTEGER,                   -- NULL for imported headlines
    source         VARCHAR NOT NULL,          -- outlet as shown to users, e.g. 'CoinDesk'
    title          VARCHAR NOT NULL,          -- latest title (earlier ones in headline_titles)
    summary        VARCHAR,
    url            VARCHAR,
    canonical_url  VARCHAR,
    guid           VARCHAR,
    language       VARCHAR,
    published_at   TIMESTAMPTZ,               -- as the source states it, in UTC; = first_seen_at when time_flag is set
    first_seen_at  TIMESTAMPTZ NOT NULL,      -- when flushwatch first saw it (what a trader could know); imports: = published_at
    time_flag      VARCHAR,                   -- NULL | 'missing' | 'future' (source time unusable)
    origin         VARCHAR NOT NULL,          -- feed | import
    content_hash   VARCHAR NOT NULL,          -- hash of title+summary; a change updates the row
    story_id       BIGINT,                    -- every headline is in one story (a story of one at first)
    updated_at     TIMESTAMPTZ,               -- last title/summary change
    run_id         BIGINT
);
-- Serves time-window lookups for attribution, digests and story clustering.
CREATE INDEX headlines_published_idx ON headlines (published_at);

-- Earlier titles of a headline whose title changed after first publication.
CREATE TABLE headline_titles (
    headline_id   BIGINT NOT NULL,
    title         VARCHAR NOT NULL,
    seen_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (headline_id, title)
);

-- One event reported by several outlets within a window: made at ingest from title tokens,
-- then, once its headlines are scored, from their story vectors (headline_embeddings).
CREATE TABLE stories (
    story_id          BIGINT PRIMARY KEY DEFAULT nextval('story_id_seq'),
    first_headline_id BIGINT NOT NULL,
    first_reported_at TIMESTAMPTZ NOT NULL,
    title             VARCHAR NOT NULL,       -- the first report's title
    outlets           VARCHAR[] NOT NULL,
    outlet_count      INTEGER NOT NULL,
    headline_count    INTEGER NOT NULL,
    updated_at        TIMESTAMPTZ,
    method            VARCHAR,                -- what placed its latest headlines: 'tokens' (ingest, title-token Jaccard) or 'vectors' (scoring, story-vector cosine)
    last_reported_at  TIMESTAMPTZ,            -- the latest report's time
    echo_count        INTEGER,                -- reports after the first (headline_count - 1)
    burst_rate        DOUBLE                  -- echoes published within an hour of the first report, per hour
);

-- Assets a headline is about ('MARKET' = market-wide news).
CREATE TABLE headline_assets (
    headline_id BIGINT NOT NULL,
    asset       VARCHAR NOT NULL,             -- ticker, e.g. 'BTC', or 'MARKET', or 'MACRO' (a macro driver)
    method      VARCHAR NOT NULL,             -- ticker | name | alias | context | market | entity:ID (an id in ingest/news/data/entities.toml)
    ambiguous   BOOLEAN NOT NULL DEFAULT FALSE,  -- TRUE: a word-like ticker not resolved by context
    PRIMARY KEY (headline_id, asset)
);
