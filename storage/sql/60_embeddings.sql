-- Story vectors: one sentence embedding per headline and encoder, written by the scoring pass
-- beside its scores (the fine-tuned encoder's pooled exit layer, mapped towards the base
-- model's sentence space; docs/news.md "Stories"). The cosine of two headlines' vectors
-- decides whether they tell one story; only vectors of one encoder compare. A headline scored
-- again by the same model keeps its row (the key skips it).
-- Read by the story clustering through headlines (published_at range) joined on the key.
CREATE TABLE IF NOT EXISTS headline_embeddings (
    headline_id    BIGINT NOT NULL,
    encoder        VARCHAR NOT NULL,          -- what wrote it: 'model@revision/L<layer>/story-<map revision>'
    model_name     VARCHAR NOT NULL,          -- the scoring model, as in headline_scores
    model_revision VARCHAR NOT NULL,
    layer          TINYINT NOT NULL,          -- encoder layer pooled: the model's early-exit layer (3 of 6)
    embedding      TINYINT[] NOT NULL,        -- the unit vector divided by scale, rounded (128 values); list_cosine_similarity compares two
    scale          FLOAT NOT NULL,            -- embedding * scale ~ the unit vector
    run_id         BIGINT,
    PRIMARY KEY (headline_id, encoder)
);
