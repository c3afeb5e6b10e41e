"""``flushwatch run``: one pass of everything, for cron: ingest, score, market fetch, detect,
attribute. ``flushwatch watch --run`` runs it before each frame.

Each step calls one library function of its stage. A step that fails is recorded (its error
line, its elapsed time) and the next step still runs, because a dead feed must not stop
detection on the candles that did arrive. The caller (``flushwatch run``) exits 3 when any
step failed. Steps can be switched off (``--no-fetch`` ...) so the pass works offline.

Stage functions are imported inside each step: the scoring model (torch) loads only when the
score step runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flushwatch.errors import FlushwatchError
from flushwatch.storage.db import Database

log = logging.getLogger(__name__)

STEPS = ("ingest", "score", "fetch", "detect", "attribute")


@dataclass(frozen=True)
class StepResult:
    name: str
    status: str  # ok | failed | skipped
    detail: str  # counts or the error line
    elapsed_s: float


@dataclass(frozen=True)
class RunReport:
    steps: tuple[StepResult, ...]

    @property
    def failed(self) -> tuple[StepResult, ...]:
        return tuple(s for s in self.steps if s.status == "failed")


@dataclass(frozen=True)
class RunOptions:
    """Which steps run. ``run_id`` is the ``runs`` row the steps' rows are attributed to."""

    skip: frozenset[str] = field(default_factory=frozenset)
    run_id: int | None = None


def _ingest(db: Database, run_id: int | None) -> str:
    from flushwatch.ingest.news.service import run_ingest

    return run_ingest(db).line()


def _score(db: Database, run_id: int | None) -> str:
    from flushwatch.nlp.pipeline import score_unscored

    s = score_unscored(db)
    line = f"{s.scored} scored, {s.already_scored} already scored ({s.model_name}@{s.model_revision})"
    if s.stale_rules:  # a cron log is where an unattended user learns an upgrade changed the rules
        line += f"; {s.stale_rules} rows by older rules (flushwatch score --refresh-rules)"
    return line


def _fetch(db: Database, run_id: int | None) -> str:
    from flushwatch.clip import clip
    from flushwatch.errors import PartialFailure
    from flushwatch.ingest.market.fetch import fetch_market

    summary = fetch_market(db, run_id=run_id)
    if summary.failures:  # some series failed: the good ones are stored, the step reports failure
        # cut at a word with an ellipsis: "ConnectError: [Errn" reads as a garbled error
        failures = clip("; ".join(summary.failures), 300)
        raise PartialFailure(f"{len(summary.failures)} series failed: {failures}")
    return str(summary)


def _detect(db: Database, run_id: int | None) -> str:
    from flushwatch.scoring.detect import detect

    r = detect(db, run_id=run_id)
    return f"{r.series} series, {r.bars} bars, {r.flushes_found} flushes found, {r.flushes_removed} removed"


def _attribute(db: Database, run_id: int | None) -> str:
    from flushwatch.scoring.attribution import attribute

    # Re-rank every flush: headlines that arrived late (a wire story re-reported) change ranks.
    r = attribute(db, run_id=run_id)
    return f"{r.flushes} flushes, {r.catalysts} catalyst rows"


STEP_FUNCS: dict[str, Callable[[Database, int | None], str]] = {
    "ingest": _ingest,
    "score": _score,
    "fetch": _fetch,
    "detect": _detect,
    "attribute": _attribute,
}


def run_step(
    name: str, func: Callable[[Database, int | None], str], db: Database, run_id: int | None
) -> StepResult:
    """Run one step; a failure becomes a ``failed`` result with its one-line reason."""
    t0 = time.monotonic()
    try:
        detail = func(db, run_id)
        status = "ok"
    except FlushwatchError as exc:
        status, detail = "failed", exc.one_line()
    except ImportError as exc:  # a stage not installed in this build
        status, detail = "failed", f"not available: {exc}"
    except Exception as exc:  # a bug in one stage must not hide the others' results
        log.exception("step %s crashed", name)
        status, detail = "failed", f"{type(exc).__name__}: {exc}"
    elapsed = time.monotonic() - t0
    # a failure is a WARNING: seen on stderr without -v (cron mail, `watch --run`)
    log.log(
        logging.WARNING if status == "failed" else logging.INFO,
        "run: %s %s (%.1f s): %s",
        name,
        status,
        elapsed,
        detail,
    )
    return StepResult(name, status, detail, round(elapsed, 3))


def run_pass(
    db: Database,
    opts: RunOptions | None = None,
    funcs: dict[str, Callable[[Database, int | None], str]] | None = None,
) -> RunReport:
    """Run every step not in ``opts.skip``, in pipeline order, and report each."""
    opts = opts or RunOptions()
    funcs = funcs or STEP_FUNCS
    results = []
    for name in STEPS:
        if name in opts.skip:
            results.append(StepResult(name, "skipped", "", 0.0))
            continue
        results.append(run_step(name, funcs[name], db, opts.run_id))
    return RunReport(tuple(results))
