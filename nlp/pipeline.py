"""``score_unscored``: score every headline the database has no score for (this model revision).

Called by ``flushwatch score`` and lazily by ``flushwatch ingest --score``. Work is done in
chunks: read a chunk of unscored headlines (short read), score it in memory, write its rows
(one short write transaction), so the database file is never held while the model runs and a
killed run keeps every chunk already written. Idempotent: the anti-join skips headlines this
model revision already scored, and the insert skips existing keys.

Stories: the fast path also returns each title's story vector (:mod:`flushwatch.nlp.embedding`);
the chunk's write stores them and re-clusters the chunk's headlines by them
(:mod:`flushwatch.nlp.stories`) against the stored vectors around them in time, in the same
transaction as the scores. Headlines not scored yet keep the stories ingest made from their
title tokens.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

# scorer.py imports torch only when a model is built, so these stay cheap.
from flushwatch.config import load_settings
from flushwatch.nlp.base import SHIPPED_MODELS, model_dir_for
from flushwatch.nlp.rules import RuleSet, rule_set
from flushwatch.nlp.scorer import DEFAULT_MODEL, Scorer, model_revision
from flushwatch.records.scores import HeadlineScore, ScoreSummary, StoryVectors, UnscoredHeadline

if TYPE_CHECKING:
    from flushwatch.storage.db import Connection, Database

log = logging.getLogger(__name__)

CHUNK = 4096
_SCORERS: dict[tuple[str, str, bool, str], Scorer] = {}


def get_scorer(model: str | None = None, mode: str = "fast", early_exit: bool | None = None) -> Scorer:
    """A Scorer for ``model``, reused within the process while its weight file is unchanged.

    ``ingest --loop`` and tests call scoring repeatedly; loading MiniLM costs seconds each
    time. The cache key includes the weights' content hash, so a retrained model is reloaded.
    ``early_exit`` None takes the config's ``[model] early_exit``.
    """
    settings = load_settings()
    name = model or settings.model_name or DEFAULT_MODEL
    if early_exit is None:
        early_exit = settings.model_early_exit
    model_dir = model_dir_for(name)
    revision = model_revision(model_dir) if (model_dir / "adapter.safetensors").is_file() else ""
    key = (name, mode, early_exit, revision)
    if key not in _SCORERS:
        _SCORERS[key] = Scorer(name, mode=mode, early_exit=early_exit)
    return _SCORERS[key]


def _model_name(model: str | None) -> str:
    return model or load_settings().model_name or DEFAULT_MODEL


def shipped_identity(model: str | None = None) -> tuple[str, str] | None:
    """(name, revision) a shipped model writes, read from its weight files without loading
    torch; None for any other model (its identity is only known once it is loaded)."""
    name = _model_name(model)
    if name not in SHIPPED_MODELS:
        return None
    model_dir = model_dir_for(name)
    if not (model_dir / "adapter.safetensors").is_file():
        return None
    return name, model_revision(model_dir)


def score_chunk(
    scorer: Scorer, items: list[UnscoredHeadline], rules: RuleSet
) -> tuple[list[HeadlineScore], StoryVectors | None]:
    """Model + rules + importance for a list of headlines and, from the same pass, each one's
    story vector (None when the scorer has none). No I/O."""
    from flushwatch.nlp.importance import importance

    texts, vectors = scorer.score_and_embed([h.title for h in items], rules=rules)
    rows = [
        HeadlineScore(
            headline_id=h.headline_id,
            model_name=scorer.name,
            model_revision=scorer.revision,
            text=t,
            importance=importance(t, h.context, rules.weights),
            label_map=scorer.label_map,
            rules_revision=rules.revision,
        )
        for h, t in zip(items, texts, strict=True)
    ]
    return rows, vectors


def restory(con: Connection, encoder: str, ids: list[int]) -> int:
    """Re-cluster the headlines ``ids`` (which have vectors of ``encoder``) into stories, against
    the vectors stored around them in time, inside the caller's write transaction; returns how
    many headlines changed story. The stories they leave are recomputed, or deleted if empty.

    A new story takes over the ingest story its first report was in when no headline placed
    by vectors is in that one, so a headline alone in its story keeps the story's id, and the
    unscored headlines ingest put beside it stay with it."""
    import numpy as np

    from flushwatch.nlp.stories import METHOD, WINDOW, cluster
    from flushwatch.storage.embeddings import vectors_near
    from flushwatch.storage.news import mark_stories, new_story_ids, set_stories

    # Twice the window: every story within the window of a chunk headline is read whole.
    near = vectors_near(con, encoder, ids, 2 * WINDOW)
    assign = np.isin(near.ids, np.asarray(ids, dtype=np.int64)) | (near.stories < 0)
    if not assign.any():
        return 0
    labels = cluster(near.times, near.vectors, near.stories, assign)
    # (headline id, story or provisional id, story before), in time order
    before = near.stories[assign].tolist()
    rows = list(zip(near.ids[assign].tolist(), labels[assign].tolist(), before, strict=True))
    kept = set(near.stories[~assign].tolist())  # stories of headlines placed before: not free
    story: dict[int, int] = {}
    fresh: list[int] = []
    for _, label, old in rows:
        if label < 0 and label not in story:
            if old >= 0 and old not in kept:
                story[label] = old
                kept.add(old)
            else:
                fresh.append(label)
                story[label] = 0
    story.update(zip(fresh, new_story_ids(con, len(fresh)), strict=True))
    placement = [(hid, story.get(label, label), old) for hid, label, old in rows]
    moved = {hid: sid for hid, sid, old in placement if sid != old}
    set_stories(con, moved, method=METHOD)
    # The stories the others stayed in are unchanged but for what placed them last.
    mark_stories(con, sorted({sid for hid, sid, old in placement if sid == old}), method=METHOD)
    return len(moved)


def score_unscored(
    db: Database,
    *,
    model: str | None = None,
    rescore: bool = False,
    limit: int | None = None,
    scorer: Scorer | None = None,
    mode: str = "fast",
    early_exit: bool | None = None,
) -> ScoreSummary:
    """Score headlines lacking a row for this model revision; returns what was done.

    ``rescore`` is accepted for clarity: rows are keyed by model revision, so scoring with a
    new revision always writes new rows beside the old ones, and re-running the same revision
    finds nothing to do. Existing rows are never overwritten either way.
    """
    from flushwatch.storage.embeddings import insert_vectors
    from flushwatch.storage.scores import count_scored, count_stale, fetch_unscored, insert_scores

    t0 = time.monotonic()
    # Loading the model costs seconds: when the shipped model's identity is known from its weight
    # file, build the scorer only once there is something to score (a cron pass usually has not).
    identity = (scorer.name, scorer.revision) if scorer else shipped_identity(model)
    if identity is None:
        scorer = get_scorer(model, mode, early_exit)
        identity = (scorer.name, scorer.revision)
    name, revision = identity
    scored = vectors_added = moved = 0

    def chunk_size() -> int:
        return CHUNK if limit is None else min(CHUNK, limit - scored)

    with db.run("score") as run:
        rules = rule_set(name)  # the model's name decides them; no model load needed
        take = chunk_size()
        # Opening the file costs tens of milliseconds, which a 10-headline cron pass feels: the
        # counts and the first chunk share one read, and a short chunk ends the loop unread.
        with db.read() as con:
            already = count_scored(con, name, revision)
            # Rows this run writes carry ``rules``, so this is also the count after the run.
            stale = count_stale(con, name, rules.revision)
            items = fetch_unscored(con, name, revision, take) if take > 0 else []
        while items:
            if scorer is None:
                scorer = get_scorer(model, mode, early_exit)
            rows, vectors = score_chunk(scorer, items, rules)
            with db.write() as con:
                added = insert_scores(con, rows, run.run_id)
                if vectors is not None:
                    ids = [h.headline_id for h in items]
                    vectors_added += insert_vectors(con, ids, vectors, run.run_id)
                    moved += restory(con, vectors.encoder, ids)
            scored += added
            run.add("scored", added)
            log.info("scored %d headlines (%d so far)", added, scored)
            # None added: another process scored them meanwhile; a short chunk was the last.
            last = added == 0 or len(items) < take
            take = chunk_size()
            if last or take <= 0:
                break
            with db.read() as con:
                items = fetch_unscored(con, name, revision, take)
        run.counts["story_vectors"] = vectors_added
        run.counts["story_moves"] = moved
        run.counts["model"] = f"{name}@{revision}"
        run.counts["event_rules"] = rules.revision
        run_id = run.run_id
    if stale:
        log.warning(
            "%d score rows of %s were written by other event/importance rules; "
            "`flushwatch score --refresh-rules` brings them up to date",
            stale,
            name,
        )
    if rescore and not scored and already:
        log.warning(
            "--rescore: all %d headlines already have rows of %s@%s, and the same revision gives "
            "the same scores; to score again, give --model a retrained revision",
            already,
            name,
            revision,
        )
    seconds = time.monotonic() - t0
    return ScoreSummary(
        model_name=name,
        model_revision=revision,
        run_id=run_id,
        scored=scored,
        already_scored=already,
        seconds=round(seconds, 3),
        headlines_per_s=round(scored / seconds, 1) if seconds > 0 else 0.0,
        stale_rules=stale,
        story_vectors=vectors_added,
        story_moves=moved,
    )
