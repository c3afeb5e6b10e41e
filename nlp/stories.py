"""Stories from story vectors: one pass in time order, blocked matrix products. Pure (numpy).

A headline joins the story of its most similar neighbour when their story vectors'
(:mod:`flushwatch.nlp.embedding`) cosine reaches :data:`THRESHOLD` and the story, with it,
still spans at most :data:`WINDOW` (12 h) from its first report to its last: single link to
any member, anchored in time, so a story cannot drift from day to day through a chain of
look-alikes, and the same title a day later starts a new story. Otherwise it starts one.

Why any member and not only the first report: later reports drift from the first title as
figures and reactions are added, and each is closest to the reports just before it; the span
is what stops the chain.

Scale: rows are taken in time order in blocks of :data:`BLOCK`; each block's vectors are
multiplied at once with those of every row within the window of the block (one float32
matrix product), and Python only walks the rows, looking at the few neighbours above the
threshold. 500,000 headlines cluster in about 3 s on 2 cores (``bench/bench_stories.py``).

The token stories of ingest (:mod:`flushwatch.ingest.news.stories`) stay in place for every
headline without a vector; scoring re-clusters the headlines it embeds
(:func:`flushwatch.nlp.pipeline.score_unscored`).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

#: Cosine at which two story vectors tell one story: chosen on the tuning half of
#: ``eval/story_pairs.csv`` (``bench/eval_stories.py``), where it maximised F1.
THRESHOLD = 0.47
WINDOW = dt.timedelta(hours=12)
BLOCK = 256
#: What scoring records as a story's method (``stories.method``); ingest records 'tokens'.
METHOD = "vectors"


def cluster(
    times: np.ndarray,
    vectors: np.ndarray,
    stories: np.ndarray,
    assign: np.ndarray,
    *,
    threshold: float = THRESHOLD,
    window: dt.timedelta = WINDOW,
    block: int = BLOCK,
) -> np.ndarray:
    """The story of every row: rows not in ``assign`` keep theirs, the others join one or start
    one (provisional ids -1, -2, ... in time order, which the caller swaps for real ones).

    ``times``: seconds (n,), ``vectors``: (n, dim) int8 or float (compared by cosine),
    ``stories``: the current story id of each row (read only where ``assign`` is False: the
    known stories, whose time span is taken from their rows here), ``assign``: bool (n,).
    Rows are taken in time order, ties in input order: pass them sorted by (time, id) for a
    result that does not depend on how they were read. Each row to assign may join a story
    of a known row anywhere within the window, or of a row assigned before it.
    """
    import numpy as np

    n = len(times)
    t = np.asarray(times, dtype=np.int64)
    order = np.argsort(t, kind="stable")
    t = t[order]
    vec = np.asarray(vectors)[order]
    todo = np.asarray(assign, dtype=bool)[order]
    known_ids = np.asarray(stories, dtype=np.int64)[order]
    w = int(window.total_seconds())

    # Dense story numbers: the known stories first (0..k-1), new ones after; span per story.
    labels, dense_known = np.unique(known_ids[~todo], return_inverse=True)
    k = len(labels)
    dense_arr = np.full(n, -1, dtype=np.int64)
    dense_arr[~todo] = dense_known
    first_arr = np.full(k, np.iinfo(np.int64).max, dtype=np.int64)
    last_arr = np.full(k, np.iinfo(np.int64).min, dtype=np.int64)
    if k:
        np.minimum.at(first_arr, dense_known, t[~todo])
        np.maximum.at(last_arr, dense_known, t[~todo])
    # The walk below reads and writes single entries: Python lists are several times faster.
    dense: list[int] = dense_arr.tolist()
    first: list[int] = first_arr.tolist()
    last: list[int] = last_arr.tolist()
    times_l: list[int] = t.tolist()

    inv = np.empty(n, dtype=np.float32)  # 1 / norm, so a product of rows is a cosine
    for s in range(0, n, 65536):
        part = vec[s : s + 65536].astype(np.float32)
        inv[s : s + 65536] = 1.0 / np.maximum(np.sqrt(np.einsum("ij,ij->i", part, part)), 1e-12)
    known_before = np.concatenate(([0], np.cumsum(~todo)))  # known rows among the first i
    rows = np.flatnonzero(todo)
    for b in range(0, len(rows), block):
        pos = rows[b : b + block]
        lo = int(np.searchsorted(t, t[pos[0]] - w, side="left"))
        hi = int(np.searchsorted(t, t[pos[-1]] + w, side="right"))
        if known_before[hi] == known_before[pos[-1] + 1]:  # nothing known after the block
            hi = int(pos[-1]) + 1
        a = vec[pos].astype(np.float32) * inv[pos, None]
        sims = a @ (vec[lo:hi].astype(np.float32) * inv[lo:hi, None]).T
        # Few pairs reach the threshold: filter those, not the whole block. A neighbour counts
        # when close enough in time, and already placed: a known row, or a row to assign that
        # comes earlier in time order.
        r_of, c_of = np.nonzero(sims >= threshold)
        col = c_of + lo
        i_of = pos[r_of]
        keep = (np.abs(t[col] - t[i_of]) <= w) & (~todo[col] | (col < i_of))
        r_of, col, sim = r_of[keep], col[keep], sims[r_of[keep], c_of[keep]]
        # Per row, most similar first; nonzero() gave columns in order, which a stable sort keeps.
        order_ = np.lexsort((-sim, r_of))
        r_of, col = r_of[order_], col[order_]
        starts = np.searchsorted(r_of, np.arange(len(pos) + 1)).tolist()
        cols: list[int] = col.tolist()
        for r, i in enumerate(pos.tolist()):
            ti = times_l[i]
            joined = -1
            for j in cols[starts[r] : starts[r + 1]]:
                sid = dense[j]
                if max(last[sid], ti) - min(first[sid], ti) <= w:
                    joined = sid
                    break
            if joined < 0:
                joined = len(first)
                first.append(ti)
                last.append(ti)
            else:
                first[joined] = min(first[joined], ti)
                last[joined] = max(last[joined], ti)
            dense[i] = joined
    dense_arr = np.asarray(dense, dtype=np.int64)
    known = labels[np.clip(dense_arr, 0, k - 1)] if k else np.zeros(n, dtype=np.int64)
    out_sorted = np.where(dense_arr < k, known, -(dense_arr - k + 1))
    out = np.empty(n, dtype=np.int64)
    out[order] = out_sorted
    return out
