"""Story clustering speed: 500,000 headlines clustered by story vectors (target: <= 60 s on 2 cores).

Prints, from one run on this machine:

1. ``cluster`` (:mod:`flushwatch.nlp.stories`) on N headlines at once, all to place: the one
   pass in time order with blocked matrix products, as re-clustering a whole history would run;
2. reading those N vectors back from DuckDB (:func:`flushwatch.storage.embeddings.vectors_near`
   over the whole span), the read such a pass starts with;
3. what one scoring chunk costs inside that database: 4,096 new headlines at the end of the
   history, read with their neighbours, clustered and written (:func:`flushwatch.nlp.pipeline.restory`).

The vectors are realistic, not random: the story vectors of the shared crypto titles (the real
model computes them), each headline one of them plus noise, so near-duplicates, paraphrase-like
neighbours and unrelated titles mix as in a feed. Times: N headlines over a year (about 57 an
hour, the rate of some 40 feeds), so a 12-hour window holds about 700 headlines. Usage:
``python bench/bench_stories.py [N]``.
"""

# ruff: noqa: E501  (long SQL and table lines in a script)

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from flushwatch.storage.db import Database

YEAR_S = 365 * 86400
CHUNK = 4096


def real_vectors() -> np.ndarray:
    """Story vectors (int8) of the distinct titles of the 2021-22 shared set."""
    import duckdb

    from flushwatch.config import shared_data_dir
    from flushwatch.nlp.scorer import Scorer

    base = shared_data_dir()
    if base is None:
        sys.exit("shared data not found: set FLUSHWATCH_SHARED_DATA")
    path = base / "news_cryptonews_2021_2022" / "cryptonews_2021-10-12_2022-07-05.csv.gz"
    sql = "SELECT DISTINCT title FROM read_csv(?, delim=';', header=true, all_varchar=true) WHERE title IS NOT NULL"
    titles = sorted(r[0] for r in duckdb.connect().execute(sql, [str(path)]).fetchall())
    vectors = Scorer(mode="fast").score_and_embed(titles)[1]
    assert vectors is not None, "the shipped model has no story map"
    return np.asarray(vectors.values)


def synthetic(n: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """(times, int8 vectors) of ``n`` headlines over a year, sorted by time."""
    rng = np.random.default_rng(seed)
    real = real_vectors().astype(np.float32)
    real /= np.linalg.norm(real, axis=1, keepdims=True)
    out = np.empty((n, real.shape[1]), np.int8)
    for s in range(0, n, 65536):
        pick = real[rng.integers(0, len(real), min(65536, n - s))]
        v = pick + rng.normal(scale=0.06, size=pick.shape).astype(np.float32)  # cosine to its title ~0.6-0.8
        out[s : s + len(v)] = np.rint(v / np.abs(v).max(axis=1, keepdims=True) * 127).astype(np.int8)
    times = np.sort(rng.integers(0, YEAR_S, n)).astype(np.int64) + 1_700_000_000
    return times, out


def fill_db(path: Path, times: np.ndarray, vectors: np.ndarray) -> tuple[Database, str]:
    """A database holding the headlines, one story each, and their vectors."""
    import pyarrow as pa

    from flushwatch.records.scores import StoryVectors
    from flushwatch.storage.embeddings import insert_vectors

    db = Database(path, snapshot=False)
    n = len(times)
    ids = np.arange(1, n + 1, dtype=np.int64)
    encoder = "bench@0/L3/story-0"
    with db.write() as con:
        con.register("fw_bench", pa.table({"id": ids, "t": times}))
        con.execute(
            "INSERT INTO headlines (headline_id, dedup_key, source, title, published_at, first_seen_at, "
            "origin, content_hash, story_id) SELECT id, 'b' || id, 'bench', 'title', to_timestamp(t), "
            "to_timestamp(t), 'import', 'h', id FROM fw_bench"
        )
        con.execute(
            "INSERT INTO stories (story_id, first_headline_id, first_reported_at, title, outlets, outlet_count, "
            "headline_count) SELECT id, id, to_timestamp(t), 'title', ['bench'], 1, 1 FROM fw_bench"
        )
        con.unregister("fw_bench")
        insert_vectors(
            con,
            ids.tolist(),
            StoryVectors(encoder, "bench", "0", 3, vectors, np.full(n, 1 / 127, np.float32)),
            None,
        )
    return db, encoder


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
    from flushwatch.nlp.pipeline import restory
    from flushwatch.nlp.stories import WINDOW, cluster
    from flushwatch.storage.embeddings import vectors_near

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    times, vectors = synthetic(n)
    per_window = n / YEAR_S * 2 * WINDOW.total_seconds()
    print(f"inputs: {n:,} headlines over a year, {vectors.shape[1]} int8 values each; {per_window:.0f} in a 24 h span")

    t0 = time.monotonic()
    labels = cluster(times, vectors, np.full(n, -1, np.int64), np.ones(n, dtype=bool))
    cluster_s = time.monotonic() - t0
    stories = len(np.unique(labels))

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        db, encoder = fill_db(Path(tmp) / "stories.duckdb", times[:-CHUNK], vectors[:-CHUNK])
        fill_s = time.monotonic() - t0
        with db.read() as con:
            t0 = time.monotonic()
            found = vectors_near(con, encoder, [1, n - CHUNK], dt.timedelta(days=400))  # the whole span
            read_s = time.monotonic() - t0
        assert len(found.ids) == n - CHUNK, len(found.ids)
        # One scoring chunk: the newest 4,096 headlines arrive, are stored with their vectors,
        # then clustered against the history around them and written, in one transaction.
        import pyarrow as pa

        from flushwatch.records.scores import StoryVectors
        from flushwatch.storage.embeddings import insert_vectors

        new_ids = np.arange(n - CHUNK + 1, n + 1, dtype=np.int64)
        with db.write() as con:
            con.register("fw_new", pa.table({"id": new_ids, "t": times[-CHUNK:]}))
            con.execute(
                "INSERT INTO headlines (headline_id, dedup_key, source, title, published_at, first_seen_at, "
                "origin, content_hash) SELECT id, 'b' || id, 'bench', 'title', to_timestamp(t), to_timestamp(t), "
                "'import', 'h' FROM fw_new"
            )
            con.unregister("fw_new")
            t0 = time.monotonic()
            scales = np.full(CHUNK, 1 / 127, np.float32)
            chunk = StoryVectors(encoder, "bench", "0", 3, vectors[-CHUNK:], scales)
            insert_vectors(con, new_ids.tolist(), chunk, None)
            moved = restory(con, encoder, new_ids.tolist())
            chunk_s = time.monotonic() - t0

    print()
    print(f"{'measure':58} {'value':>12} {'target':>12}")
    print(f"{'cluster ' + f'{n:,}' + ' headlines, one pass in time order s':58} {cluster_s:12.2f} {'<= 60':>12}")
    print(f"{'  headlines/s':58} {n / cluster_s:12,.0f} {'':>12}")
    print(f"{'  stories formed':58} {stories:12,} {'':>12}")
    print(f"{'read ' + f'{n - CHUNK:,}' + ' vectors back from DuckDB s':58} {read_s:12.2f} {'':>12}")
    print(f"{'  (writing them, with their headlines: s)':58} {fill_s:12.2f} {'':>12}")
    print(f"{'one scoring chunk (4,096 new) in that database s':58} {chunk_s:12.3f} {'':>12}")
    print(f"{'  ms per headline; headlines placed in another story':58} {1000 * chunk_s / CHUNK:12.3f} {moved:>12,}")


if __name__ == "__main__":
    main()
