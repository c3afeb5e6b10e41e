"""``flushwatch ingest [--score] [--loop]``: an ingest pass, then the new headlines scored.

Ingest and scoring are separate runs (two ``runs`` rows): the ingest pass commits and records
its outcome first, then scoring reads what is unscored. When some feeds failed, what the good
ones stored is still scored before the partial failure is raised (exit code 3).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flushwatch.errors import DatabaseBusy, ModelError, PartialFailure
from flushwatch.ingest.news.service import IngestPartialFailure, run_ingest
from flushwatch.records.news import IngestSummary
from flushwatch.storage.db import Database


def ingest_pass(db: Database, *, score: bool = False, **options: Any) -> IngestSummary:
    """One :func:`~flushwatch.ingest.news.service.run_ingest` pass (``options`` are its
    keywords); with ``score``, headlines it stored new or updated are then scored."""
    try:
        summary = run_ingest(db, **options)
    except IngestPartialFailure as exc:
        if score:
            _score_stored(db, exc.summary)
        raise
    if score:
        _score_stored(db, summary)
    return summary


def _score_stored(db: Database, summary: IngestSummary) -> None:
    c = summary.counts
    if not (c.new or c.updated):
        return
    try:
        from flushwatch.nlp.pipeline import score_unscored  # lazy: imports the model stack
    except ImportError as exc:
        raise ModelError(
            f"scoring is not available: {exc}", hint="run `flushwatch ingest` without --score"
        ) from exc
    score_unscored(db)


def ingest_loop(
    db: Database,
    every_s: float,
    on_pass: Callable[[IngestSummary | PartialFailure | DatabaseBusy], None],
    **options: Any,
) -> None:
    """:func:`ingest_pass` every ``every_s`` seconds until interrupted.

    A pass with failed feeds, or one that finds the database busy (another process held it
    past ``--wait``), is reported to ``on_pass`` and the loop goes on at the next interval: what
    the pass committed stays, and what it could not store is fetched again by the next pass
    (validators commit only with their items). Other errors (a corrupt file, a missing model)
    end the loop."""
    while True:
        started = time.monotonic()
        try:
            on_pass(ingest_pass(db, **options))
        except (PartialFailure, DatabaseBusy) as exc:
            on_pass(exc)
        time.sleep(max(0.0, every_s - (time.monotonic() - started)))
