"""Stories as events: story vectors written by `score`, headlines re-clustered by them.

Real model (the shipped one, its story map), real importer, a tmp DuckDB; the titles are our
own words. The clustering itself is also checked against a brute-force reading of its rule.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pytest

from flushwatch.ingest.news.importer import HeadlineImportOptions, import_headlines
from flushwatch.nlp.pipeline import score_unscored
from flushwatch.storage.db import Database

# (published, source, title): a paraphrase pair from two outlets 45 minutes apart whose title
# tokens barely overlap (Jaccard 0.17, so ingest keeps them apart), an unrelated headline between
# them, and the first title again from another outlet a day later.
ROWS = [
    ("2024-03-05 10:00:00", "Wire One", "Kraken wins a license to offer crypto trading in Ireland"),
    ("2024-03-05 10:20:00", "Wire Three", "Ethereum developers set a March date for the next upgrade"),
    ("2024-03-05 10:45:00", "Wire Two", "Irish regulator grants Kraken approval for crypto services"),
    ("2024-03-06 11:00:00", "Wire Three", "Kraken wins a license to offer crypto trading in Ireland"),
]


def _import(tmp_path: Path, db: Database, rows: list[tuple[str, str, str]]) -> None:
    path = tmp_path / "news.csv"
    lines = ["date,source,title", *(f'{d},{s},"{t}"' for d, s, t in rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_headlines(db, [path], HeadlineImportOptions())


def _stories(db_path: Path) -> dict[str, int]:
    """source + title -> story id."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        rows = con.execute("SELECT source, title, story_id FROM headlines").fetchall()
        return {f"{s}: {t}": int(sid) for s, t, sid in rows}
    finally:
        con.close()


@pytest.fixture
def scored(tmp_path: Path, db: Database, db_path: Path) -> Database:
    _import(tmp_path, db, ROWS)
    ingest = _stories(db_path)
    assert len(set(ingest.values())) == 4  # title tokens: four stories
    summary = score_unscored(db)
    assert summary.scored == summary.story_vectors == 4
    return db


def test_a_story_vector_is_stored_per_headline_compact_with_its_encoder(
    scored: Database, db_path: Path
) -> None:
    con = duckdb.connect(str(db_path), read_only=True)
    rows = con.execute(
        "SELECT encoder, model_name, model_revision, layer, len(embedding), list_min(embedding), "
        "list_max(embedding), scale FROM headline_embeddings"
    ).fetchall()
    revision = con.execute("SELECT DISTINCT model_revision FROM headline_scores").fetchall()
    con.close()
    assert len(rows) == 4
    for encoder, model, rev, layer, dim, lo, hi, scale in rows:
        assert (model, rev) == ("flushwatch-minilm", revision[0][0]) and layer == 3
        assert encoder.startswith(f"flushwatch-minilm@{rev}/L3/story-")
        assert dim == 128 and lo >= -127 and hi <= 127 and max(-lo, hi) == 127  # int8, scaled to the range
        assert 0 < scale < 1
        assert dim + 4 <= 1024  # int8 values and one float scale


def test_paraphrases_from_two_outlets_within_the_window_tell_one_story(
    scored: Database, db_path: Path
) -> None:
    story = _stories(db_path)
    first, other, echo, later = (story[f"{s}: {t}"] for _, s, t in ROWS)
    assert first == echo  # joined by their vectors although their tokens differ
    assert other not in (first, later)  # an unrelated title between them stays apart
    assert later != first  # the same title a day later is a new story
    con = duckdb.connect(str(db_path), read_only=True)
    row = con.execute(
        "SELECT s.first_reported_at, s.last_reported_at, s.outlets, s.outlet_count, s.headline_count, "
        "s.echo_count, s.burst_rate, s.method, h.title FROM stories s "
        "JOIN headlines h ON h.headline_id = s.first_headline_id WHERE s.story_id = ?",
        [first],
    ).fetchall()
    n_stories = con.execute("SELECT count(*), count(DISTINCT story_id) FROM stories").fetchall()
    orphans = con.execute(
        "SELECT count(*) FROM stories s "
        "WHERE NOT EXISTS (SELECT 1 FROM headlines h WHERE h.story_id = s.story_id)"
    ).fetchall()
    con.close()
    first_at, last_at, outlets, n_outlets, n_headlines, echoes, burst, method, title = row[0]
    assert (last_at - first_at) == dt.timedelta(minutes=45) and title == ROWS[0][2]
    assert (outlets, n_outlets, n_headlines, echoes, burst, method) == (
        ["Wire One", "Wire Two"], 2, 2, 1, 1.0, "vectors"
    )
    assert n_stories == [(3, 3)] and orphans == [(0,)]  # the story the echo left is gone


def test_scoring_again_changes_nothing(scored: Database, db_path: Path) -> None:
    def state() -> tuple[list[tuple], list[tuple]]:
        con = duckdb.connect(str(db_path), read_only=True)
        try:
            vectors = con.execute("SELECT * FROM headline_embeddings ORDER BY headline_id").fetchall()
            stories = con.execute(
                "SELECT * EXCLUDE (updated_at) FROM stories ORDER BY story_id"
            ).fetchall()
            return vectors, stories
        finally:
            con.close()

    before, by_headline = state(), _stories(db_path)
    again = score_unscored(scored, rescore=True)
    assert (again.scored, again.story_vectors, again.story_moves) == (0, 0, 0)
    assert state() == before and _stories(db_path) == by_headline


def test_a_later_paraphrase_joins_the_stored_story(scored: Database, tmp_path: Path, db_path: Path) -> None:
    """A chunk scored later is clustered against the vectors already stored around it."""
    title = "Kraken gets the green light from Irish regulators"
    _import(tmp_path, scored, [("2024-03-05 12:10:00", "Wire Four", title)])
    summary = score_unscored(scored)
    assert (summary.scored, summary.story_vectors) == (1, 1)
    story = _stories(db_path)
    assert story[f"Wire Four: {title}"] == story[f"{ROWS[0][1]}: {ROWS[0][2]}"]


def test_the_clustering_follows_its_rule() -> None:
    """Blocked matrix products give what the rule says row by row: the most similar placed
    neighbour within the window whose story still spans at most the window, else a new story."""
    from flushwatch.nlp.stories import cluster

    rng = np.random.default_rng(5)
    window = dt.timedelta(hours=12)
    w = int(window.total_seconds())
    for _ in range(20):
        n = int(rng.integers(5, 200))
        centres = rng.normal(size=(int(rng.integers(1, 12)), 16))
        v = centres[rng.integers(0, len(centres), n)] + rng.normal(scale=0.6, size=(n, 16))
        q = np.rint(v / np.abs(v).max(axis=1, keepdims=True) * 127).astype(np.int8)
        t = np.sort(rng.integers(0, 3 * 86400, n))
        t[rng.random(n) < 0.1] = t[0]  # ties in time
        assign = rng.random(n) < 0.7
        known = rng.integers(1, 30, n)
        got = cluster(t, q, known, assign, threshold=0.6, window=window, block=int(rng.integers(1, 40)))
        unit = q / np.linalg.norm(q.astype(float), axis=1, keepdims=True)
        story: dict[int, int] = {}
        span: dict[int, tuple[int, int]] = {}
        for i in range(n):
            if not assign[i]:
                story[i] = int(known[i])
                lo, hi = span.get(story[i], (t[i], t[i]))
                span[story[i]] = (min(lo, t[i]), max(hi, t[i]))
        new = 0
        for i in np.argsort(t, kind="stable"):
            if not assign[i]:
                continue
            near = [j for j in story if j != i and abs(t[j] - t[i]) <= w and unit[i] @ unit[j] >= 0.6]
            near.sort(key=lambda j: -(unit[i] @ unit[j]))
            fits = [s for s in (story[j] for j in near) if max(span[s][1], t[i]) - min(span[s][0], t[i]) <= w]
            joined = fits[0] if fits else None
            if joined is None:
                new -= 1
                joined = new
            story[i] = joined
            lo, hi = span.get(joined, (t[i], t[i]))
            span[joined] = (min(lo, t[i]), max(hi, t[i]))
        assert got.tolist() == [story[i] for i in range(n)]


def test_a_story_never_spans_more_than_the_window() -> None:
    """Look-alikes every 5 hours chain by similarity, but a story stops at 12 hours."""
    from flushwatch.nlp.stories import cluster

    n = 10
    times = np.arange(n) * 5 * 3600
    same = np.tile(np.array([[100, 20, -3]], dtype=np.int8), (n, 1))
    got = cluster(times, same, np.full(n, -1), np.ones(n, dtype=bool))
    assert got.tolist() == [-1, -1, -1, -2, -2, -2, -3, -3, -3, -4]


def test_int8_story_vectors_keep_their_cosines() -> None:
    from flushwatch.nlp.embedding import quantize

    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 128))
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    q, scale = quantize(unit)
    back = q * scale[:, None]
    assert q.dtype == np.int8 and np.abs(back - unit).max() <= scale.max() / 2 + 1e-7
    qu = q / np.linalg.norm(q.astype(float), axis=1, keepdims=True)
    assert np.abs(qu @ qu.T - unit @ unit.T).max() < 5e-3


def test_the_story_map_is_a_reduced_rank_ridge_fit() -> None:
    """Pure: the map recovers a linear relation, and keeping fewer directions keeps the
    predictions' dot products within them."""
    from flushwatch.training.story_fit import fit

    rng = np.random.default_rng(2)
    x = rng.normal(size=(2000, 24))
    true = rng.normal(size=(24, 24))
    y = x @ true
    mean, w = fit(x, y, ridge=1e-6, dim=24)
    got, want = (x - mean) @ w, (x - x.mean(0)) @ true
    assert np.allclose(got @ got.T, want @ want.T, atol=1e-3)
    mean, w8 = fit(x, y, ridge=1e-6, dim=8)
    assert w8.shape == (24, 8)


def test_migration_5_fills_the_new_story_columns_of_an_older_file(db_path: Path) -> None:
    from flushwatch.storage.schema import MIGRATIONS, migrate, read_version

    con = duckdb.connect(str(db_path))
    # the views of today may read columns of later steps: none until the full migration
    migrate(con, path=db_path, migrations=[m for m in MIGRATIONS if m.version < 5], views=lambda _: None)
    con.execute(
        "INSERT INTO headlines (headline_id, dedup_key, source, title, published_at, first_seen_at, origin, "
        "content_hash, story_id) VALUES "
        "(1, 'a', 'A', 'x', TIMESTAMPTZ '2024-01-01 10:00:00+00', now(), 'import', 'h1', 7), "
        "(2, 'b', 'B', 'y', TIMESTAMPTZ '2024-01-01 10:30:00+00', now(), 'import', 'h2', 7), "
        "(3, 'c', 'C', 'z', TIMESTAMPTZ '2024-01-01 13:00:00+00', now(), 'import', 'h3', 7)"
    )
    con.execute(
        "INSERT INTO stories (story_id, first_headline_id, first_reported_at, title, outlets, outlet_count, "
        "headline_count) VALUES (7, 1, TIMESTAMPTZ '2024-01-01 10:00:00+00', 'x', ['A', 'B', 'C'], 3, 3)"
    )
    assert 5 in migrate(con, path=db_path)
    assert read_version(con) >= 5
    sql = "SELECT method, echo_count, burst_rate, epoch(last_reported_at) FROM stories"
    row = con.execute(sql).fetchall()
    con.close()
    assert row == [("tokens", 2, 1.0, dt.datetime(2024, 1, 1, 13, tzinfo=dt.UTC).timestamp())]
