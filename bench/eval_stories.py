"""Which vector clusters stories best, at what threshold, and what it does to a real set.

Reads the labelled pairs of ``eval/story_pairs.csv`` (conventions in eval/README.md; titles
from ../shared/data by md5 at run time) and prints, for each way of comparing two titles, the
threshold chosen on the tuning half (pairs ranked by md5_a, md5_b: the first half), precision,
recall and F1 on the other half at that threshold, and the average precision over every pair
(no threshold involved):

* title-token Jaccard, the similarity ingest clusters by (``ingest/news/stories.py``), and
  ingest's rule as shipped (Jaccard >= 0.5, or >= 0.3 with the same specific assets);
* the base all-MiniLM-L6-v2 sentence embedding: fp32, mean over tokens after all six layers;
* the fine-tuned encoder's pooled exit layer (layer 3), as the int8 fast path computes it;
* the story vector: that exit-layer vector through the model's story map, int8, as stored.

Then Cohen's kappa of the blind second labelling pass against the first, and headlines ->
stories on ``news_cryptonews_2021_2022`` imported into a temporary database: the stories
ingest makes from title tokens, then those after ``score`` re-clusters by story vectors.

``sample`` (instead of the evaluation) prints the draw the pairs came from: every pair of
distinct titles within 12 h in each shared set, ranked per set by each method compared, and
a fixed number drawn per rank band (``SEED``); it was run once, before any labelling.

Usage: python bench/eval_stories.py [sample] [--no-stories]
"""

# ruff: noqa: E501  (long table lines in a script)

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import random
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from flushwatch.config import shared_data_dir
from flushwatch.ingest.news.stories import NEAR_DUP, SAME_EVENT, title_tokens
from flushwatch.training.labelled_sets import EVAL_DIR, headline_titles

PAIRS_FILE = EVAL_DIR / "story_pairs.csv"
DATASETS = ("news_cryptonews_2021_2022", "news_cryptonews_ftx_window_2022_11", "news_cryptocompare_feed_2025_2026")
WINDOW = dt.timedelta(hours=12)
SEED = 20240607
#: Rank bands per method and set (lower, upper rank by similarity, best first) and draws per band.
BANDS = ((0, 100), (100, 400), (400, 1500), (1500, 6000), (6000, None))
BANDS_SMALL = ((0, 20), (20, 80), (80, 400), (400, None))  # the 222-headline FTX window
DRAWS, DRAWS_SMALL = 7, 3

Vectors = Callable[[Sequence[str]], np.ndarray]


def jaccard(a: str, b: str) -> float:
    x, y = title_tokens(a), title_tokens(b)
    return len(x & y) / len(x | y) if x and y else 0.0


def ingest_rule(a: str, b: str) -> float:
    """1.0 where ingest's rule as shipped calls the pair one story (assets tagged as ingest does)."""
    from flushwatch.ingest.news.assets import tag_assets

    def specific(title: str) -> frozenset[str]:
        return frozenset(t.asset for t in tag_assets(title) if not t.ambiguous) - {"MARKET", "MACRO"}

    j = jaccard(a, b)
    same = j >= NEAR_DUP or (j >= SAME_EVENT and bool(specific(a)) and specific(a) == specific(b))
    return float(same)


def vector_methods() -> dict[str, Vectors]:
    """The vector ways of comparing titles: name -> titles -> unit rows (compared by dot product)."""
    from flushwatch.nlp.scorer import Scorer
    from flushwatch.training.story_fit import base_sentence_vectors

    scorer = Scorer(mode="fast")

    def unit(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    def story(titles: Sequence[str]) -> np.ndarray:
        vectors = scorer.score_and_embed(list(titles))[1]
        assert vectors is not None, "the shipped model has no story map"
        return unit(vectors.values)

    return {
        "base all-MiniLM-L6-v2, 6 layers, fp32": lambda t: unit(base_sentence_vectors(scorer, list(t))),
        f"fine-tuned, exit layer {scorer.exit_layer}, int8 (free)": lambda t: unit(scorer.pooled(list(t))),
        "story vector: exit layer mapped, 128 int8 (shipped)": story,
    }


def similarities(pairs: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Method -> similarity of each pair of titles."""
    out = {
        "title-token Jaccard (ingest's similarity)": np.array([jaccard(a, b) for a, b in pairs]),
        "ingest's rule as shipped (fixed)": np.array([ingest_rule(a, b) for a, b in pairs]),
    }
    titles = sorted({t for pair in pairs for t in pair})
    index = {t: i for i, t in enumerate(titles)}
    ia = np.array([index[a] for a, _ in pairs])
    ib = np.array([index[b] for _, b in pairs])
    for name, method in vector_methods().items():
        v = method(titles)
        out[name] = np.einsum("ij,ij->i", v[ia], v[ib])
    return out


def prf(sim: np.ndarray, same: np.ndarray, threshold: float) -> tuple[float, float, float]:
    said = sim >= threshold
    tp = int((said & same).sum())
    p = tp / max(int(said.sum()), 1)
    r = tp / max(int(same.sum()), 1)
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def tune(sim: np.ndarray, same: np.ndarray) -> float:
    """The threshold with the best F1 (the lowest such similarity value)."""
    return float(max(np.unique(sim), key=lambda t: (prf(sim, same, t)[2], -t)))


def average_precision(sim: np.ndarray, same: np.ndarray) -> float:
    order = np.argsort(-sim, kind="stable")
    hits = same[order].astype(float)
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / max(hits.sum(), 1))


def kappa(a: Sequence[str], b: Sequence[str]) -> tuple[float, float]:
    """(agreement, Cohen's kappa) of two labellings of the same items."""
    n = len(a)
    po = sum(x == y for x, y in zip(a, b, strict=True)) / n
    labels = sorted(set(a) | set(b))
    pe = sum((list(a).count(lab) / n) * (list(b).count(lab) / n) for lab in labels)
    return po, (po - pe) / (1 - pe) if pe < 1 else 1.0


def evaluate() -> None:
    rows = list(csv.DictReader(PAIRS_FILE.open(encoding="utf-8", newline="")))
    titles: dict[tuple[str, str], str] = {}
    for dataset in sorted({r["dataset"] for r in rows}):
        titles.update({(dataset, k): v for k, v in headline_titles(dataset, "the story evaluation").items()})
    first = sorted((r for r in rows if r["pass"] == "1"), key=lambda r: (r["md5_a"], r["md5_b"]))
    pairs = [(titles[(r["dataset"], r["md5_a"])], titles[(r["dataset"], r["md5_b"])]) for r in first]
    same = np.array([r["label"] == "same" for r in first])
    half = len(first) // 2
    n_same = int(same.sum())
    print(f"{len(first)} pairs, {n_same} same story; tuning half {half} ({int(same[:half].sum())} same), held half {len(first) - half} ({int(same[half:].sum())} same)")
    print()
    print(f"{'method':58} {'threshold':>9} {'P':>6} {'R':>6} {'F1':>6} {'AP all':>7}")
    for name, sim in similarities(pairs).items():
        fixed = "fixed" in name
        threshold = 0.5 if fixed else tune(sim[:half], same[:half])
        p, r, f = prf(sim[half:], same[half:], threshold)
        ap = "" if fixed else f"{average_precision(sim, same):7.3f}"
        shown = "rule" if fixed else f"{threshold:.3f}"
        print(f"{name:58} {shown:>9} {p:6.3f} {r:6.3f} {f:6.3f} {ap:>7}")
    by_key = {(r["dataset"], r["md5_a"], r["md5_b"]): r["label"] for r in first}
    second = [r for r in rows if r["pass"] == "2"]
    agree, k = kappa([by_key[(r["dataset"], r["md5_a"], r["md5_b"])] for r in second], [r["label"] for r in second])
    print()
    print(f"blind second pass: {len(second)} pairs, agreement {agree:.3f}, Cohen's kappa {k:.3f}")


def stories_before_after() -> None:
    from flushwatch.ingest.news.importer import HeadlineImportOptions, import_headlines
    from flushwatch.nlp.pipeline import score_unscored
    from flushwatch.storage.db import Database

    data = shared_data_dir()
    assert data is not None
    sql = (
        "SELECT count(*), count(DISTINCT h.story_id), "
        "count(DISTINCT h.story_id) FILTER (WHERE s.outlet_count > 1), max(s.headline_count) "
        "FROM headlines h JOIN stories s USING (story_id)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "stories.duckdb", snapshot=False)
        import_headlines(
            db,
            [next((data / "news_cryptonews_2021_2022").glob("*.gz"))],
            HeadlineImportOptions(delimiter=";", time_format="%d-%m-%Y %H:%M"),
        )
        with db.read() as con:
            before = con.execute(sql).fetchall()[0]
        summary = score_unscored(db)
        with db.read() as con:
            after = con.execute(sql).fetchall()[0]
    print()
    print("news_cryptonews_2021_2022: headlines -> stories (stories with several outlets, largest)")
    print(f"  ingest, title tokens:       {before[0]:,} -> {before[1]:,} ({before[2]:,}, {before[3]})")
    print(f"  after score, story vectors: {after[0]:,} -> {after[1]:,} ({after[2]:,}, {after[3]}); {summary.story_moves:,} headlines moved")


def sample() -> None:
    """Print the draw (dataset, md5_a, md5_b, method, band) the labelled pairs came from."""
    data = shared_data_dir()
    assert data is not None
    import duckdb

    reads = {
        "news_cryptonews_2021_2022": ("cryptonews_2021-10-12_2022-07-05.csv.gz", "delim=';', ", "strptime(date, '%d-%m-%Y %H:%M')"),
        "news_cryptonews_ftx_window_2022_11": ("cryptonews_2022-11-07T10_2022-11-11T08.csv", "", "CAST(date AS TIMESTAMP)"),
        "news_cryptocompare_feed_2025_2026": ("headlines_2025-11-11_2026-04-26.csv.gz", "", "CAST(replace(replace(published_at_utc, 'T', ' '), 'Z', '') AS TIMESTAMP)"),
    }
    rows: list[tuple[str, str, str, dt.datetime]] = []
    con = duckdb.connect()
    for dataset, (file, opts, at) in reads.items():
        sql = f"SELECT title, {at} FROM read_csv(?, {opts}header=true, all_varchar=true) WHERE title IS NOT NULL"
        for title, when in con.execute(sql, [str(data / dataset / file)]).fetchall():
            rows.append((dataset, hashlib.md5(title.encode()).hexdigest(), title, when))
    candidates: list[tuple[str, str, str, str, str]] = []  # dataset, md5 a, md5 b, title a, title b
    for dataset in sorted(DATASETS):
        mine = sorted((r for r in rows if r[0] == dataset), key=lambda r: r[3])
        for i, a in enumerate(mine):
            for b in mine[i + 1 :]:
                if b[3] - a[3] > WINDOW:
                    break
                if a[1] != b[1]:
                    candidates.append((dataset, a[1], b[1], a[2], b[2]))
    titles = sorted({r[2] for r in rows})
    index = {t: i for i, t in enumerate(titles)}
    ia = np.array([index[c[3]] for c in candidates])
    ib = np.array([index[c[4]] for c in candidates])
    from flushwatch.nlp.scorer import Scorer
    from flushwatch.training.story_fit import base_sentence_vectors

    scorer = Scorer(mode="fast")
    base = base_sentence_vectors(scorer, titles)
    pooled = scorer.pooled(titles)
    raw = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    centred = pooled - pooled.mean(axis=0)
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)
    sims = {
        "jaccard": np.array([jaccard(c[3], c[4]) for c in candidates]),
        "base": np.einsum("ij,ij->i", base[ia], base[ib]),
        "exit": np.einsum("ij,ij->i", raw[ia], raw[ib]),
        "exit_centred": np.einsum("ij,ij->i", centred[ia], centred[ib]),
    }
    rng = random.Random(SEED)
    chosen: dict[int, tuple[str, int]] = {}
    for dataset in sorted(DATASETS):
        ids = np.array([i for i, c in enumerate(candidates) if c[0] == dataset])
        small = len(ids) < 20_000
        bands, draws = (BANDS_SMALL, DRAWS_SMALL) if small else (BANDS, DRAWS)
        for method, sim in sims.items():
            order = ids[np.lexsort((ids, -sim[ids]))]
            for lo, hi in bands:
                pool = [int(x) for x in order[lo:hi] if int(x) not in chosen]
                for x in rng.sample(pool, min(draws, len(pool))):
                    chosen[x] = (method, lo)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["dataset", "md5_a", "md5_b", "method", "band"])
    for x, (method, lo) in sorted(chosen.items(), key=lambda kv: candidates[kv[0]][:3]):
        out.writerow([*candidates[x][:3], method, lo])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=["evaluate", "sample"], default="evaluate")
    parser.add_argument("--no-stories", action="store_true", help="skip the before/after count on the 2021-22 set")
    args = parser.parse_args(argv)
    if shared_data_dir() is None:
        sys.exit("shared data not found: set FLUSHWATCH_SHARED_DATA")
    if args.command == "sample":
        sample()
        return
    evaluate()
    if not args.no_stories:
        stories_before_after()


if __name__ == "__main__":
    main()
