"""Story vectors SQL: write a chunk's vectors, read the vectors around a chunk in time.

Vectors travel as Arrow arrays both ways (a list of int8 per row), never row by row: reading
the 500,000 vectors of a long history back takes well under a second. Idempotent like the
scores: the key (headline_id, encoder) skips a row that exists.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from flushwatch.records.scores import StoryVectors
from flushwatch.storage.db import Connection

# A headline's time: published_at, or first_seen_at where the source gave none (as stories use).
_TIME = "coalesce(h.published_at, h.first_seen_at)"


@dataclass(frozen=True)
class StoredVectors:
    """Vectors of one encoder read back, sorted by (time, headline_id)."""

    ids: np.ndarray  # (n,) int64 headline ids
    times: np.ndarray  # (n,) int64 epoch seconds
    stories: np.ndarray  # (n,) int64 story ids; -1 for none
    vectors: np.ndarray  # (n, dim) int8


def insert_vectors(con: Connection, ids: Sequence[int], vectors: StoryVectors, run_id: int | None) -> int:
    """Insert one vector per headline of ``ids`` (in the order of ``vectors``); existing keys are
    skipped. Returns rows added."""
    import pyarrow as pa

    if not len(ids):
        return 0
    values = np.ascontiguousarray(vectors.values, dtype=np.int8)
    n, dim = values.shape
    offsets = pa.array(np.arange(0, (n + 1) * dim, dim, dtype=np.int32))
    table = pa.table(
        {
            "headline_id": pa.array(np.asarray(ids, dtype=np.int64)),
            "embedding": pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1))),
            "scale": pa.array(np.asarray(vectors.scales, dtype=np.float32)),
        }
    )
    # fetchall, not fetchone: an unfinished result blocks register() on this connection.
    before = con.execute("SELECT count(*) FROM headline_embeddings").fetchall()[0][0]
    con.register("fw_vectors", table)
    con.execute(
        """
        INSERT INTO headline_embeddings (headline_id, encoder, model_name, model_revision, layer,
                                         embedding, scale, run_id)
        SELECT headline_id, ?, ?, ?, ?, embedding, scale, ? FROM fw_vectors
        ON CONFLICT DO NOTHING
        """,
        [vectors.encoder, vectors.model_name, vectors.model_revision, vectors.layer, run_id],
    )
    con.unregister("fw_vectors")
    after = con.execute("SELECT count(*) FROM headline_embeddings").fetchall()[0][0]
    return int(after) - int(before)


def vectors_near(con: Connection, encoder: str, ids: Sequence[int], reach: dt.timedelta) -> StoredVectors:
    """Every headline with a vector of ``encoder`` whose time lies within ``reach`` of the time
    of one of ``ids`` (those included when they have one), with its story.

    The SQL filters on the raw time columns between the outermost bounds (a cheap scan, which
    DuckDB prunes by row group when rows arrive in time order); the chunk's times, merged into
    a few spans, then drop in numpy what lies between spans, however the chunk is spread in time.
    """
    import pyarrow as pa

    con.register("fw_ids", pa.table({"id": pa.array(np.asarray(ids, dtype=np.int64))}))
    times = con.execute(
        f"SELECT DISTINCT epoch({_TIME})::BIGINT FROM headlines h "
        "WHERE h.headline_id IN (SELECT id FROM fw_ids) ORDER BY 1"
    ).fetchall()
    con.unregister("fw_ids")
    spans = _spans([int(r[0]) for r in times], int(reach.total_seconds()))
    if not spans:
        none = np.zeros(0, np.int64)
        return StoredVectors(ids=none, times=none, stories=none, vectors=np.zeros((0, 0), np.int8))
    lo = dt.datetime.fromtimestamp(spans[0][0], dt.UTC)
    hi = dt.datetime.fromtimestamp(spans[-1][1], dt.UTC)
    rel = con.sql(
        f"""
        SELECT h.headline_id, epoch({_TIME})::BIGINT AS t, coalesce(h.story_id, -1) AS story_id, e.embedding
          FROM headlines h
          JOIN headline_embeddings e ON e.headline_id = h.headline_id AND e.encoder = $encoder
         WHERE (h.published_at BETWEEN $lo AND $hi
                OR (h.published_at IS NULL AND h.first_seen_at BETWEEN $lo AND $hi))
         ORDER BY t, h.headline_id
        """,
        params={"encoder": encoder, "lo": lo, "hi": hi},
    )
    # A relation, not execute(): its Arrow output is not copied again. DuckDB 1.x calls it arrow().
    found = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()
    t = found["t"].to_numpy()
    starts = np.array([a for a, _ in spans], dtype=np.int64)
    ends = np.array([b for _, b in spans], dtype=np.int64)
    inside = t <= ends[np.clip(np.searchsorted(starts, t, side="right") - 1, 0, None)]
    return StoredVectors(
        ids=found["headline_id"].to_numpy()[inside],
        times=t[inside],
        stories=found["story_id"].to_numpy()[inside],
        vectors=_rows(found["embedding"])[inside],
    )


def _spans(times: Sequence[int], reach: int) -> list[tuple[int, int]]:
    """Sorted ``times`` widened by ``reach`` each way, overlapping ranges merged."""
    spans: list[tuple[int, int]] = []
    for t in times:
        if spans and t - reach <= spans[-1][1]:
            spans[-1] = (spans[-1][0], t + reach)
        else:
            spans.append((t - reach, t + reach))
    return spans


def _rows(column: Any) -> np.ndarray:
    """A list<int8> Arrow column of equal-length lists as an (n, dim) int8 array.

    Read through the offsets and values buffers: ``flatten()`` would import pyarrow.compute,
    a tenth of a second on the first chunk a process scores."""
    parts = []
    for chunk in column.chunks:
        if len(chunk):
            offsets = chunk.offsets.to_numpy()
            values = chunk.values.to_numpy(zero_copy_only=False)
            parts.append(values[offsets[0] : offsets[-1]].reshape(len(chunk), -1))
    if not parts:
        return np.zeros((0, 0), np.int8)
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.int8)
