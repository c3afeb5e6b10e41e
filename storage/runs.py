"""One row in ``runs`` per command run: what ran, when, how it ended, and its counts.

The row is written when the run starts (status ``running``) and updated when it ends, each in
its own short transaction, so a run killed half-way still shows up in ``flushwatch db info``.
The end is bookkeeping: it never turns a command's result into another (see :func:`track_run`).
Every derived row (headline, score, flush, ...) carries the ``run_id`` that wrote it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flushwatch import __version__
from flushwatch.errors import DatabaseBusy, FlushwatchError, PartialFailure, is_interrupt

if TYPE_CHECKING:
    from flushwatch.storage.db import Database

log = logging.getLogger(__name__)


@dataclass
class Run:
    """A command run in progress. Add to ``counts``; set ``status``/``message`` if needed."""

    run_id: int
    command: str
    counts: dict[str, int | float | str] = field(default_factory=dict)
    status: str = "ok"
    message: str | None = None

    def add(self, key: str, n: int = 1) -> None:
        current = self.counts.get(key, 0)
        self.counts[key] = (current if isinstance(current, int | float) else 0) + n


def start_run(db: Database, command: str, args: str | None = None) -> Run:
    if args is None:
        args = " ".join(sys.argv[1:]) or None
    args = _storable(args)
    with db.write() as con:
        _mark_abandoned(con)
        row = con.execute(
            """
            INSERT INTO runs (command, args, started_at, status, pid, version)
            VALUES (?, ?, now(), 'running', ?, ?)
            RETURNING run_id
            """,
            [command, args, os.getpid(), __version__],
        ).fetchone()
    assert row is not None
    return Run(run_id=int(row[0]), command=command)


def _storable(text: str | None) -> str | None:
    """``text`` as DuckDB will store it. A file name that is not UTF-8 reaches argv (and the
    messages that quote it) as lone surrogates, which DuckDB refuses: keep the readable rest,
    each byte it could not decode shown as U+FFFD."""
    if text is None:
        return None
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _mark_abandoned(con: Any) -> None:
    """Runs still 'running' whose process is gone (killed by SIGKILL, a power cut) become
    'abandoned', so ``db info`` does not show them running for ever. Only this machine's
    processes can be checked, and a DuckDB file is only ever open on one machine at a time."""
    rows = con.execute("SELECT run_id, pid FROM runs WHERE status = 'running'").fetchall()
    gone = [run_id for run_id, pid in rows if pid is None or not _alive(int(pid))]
    if gone:
        con.execute("UPDATE runs SET status = 'abandoned' WHERE run_id IN (SELECT unnest(?))", [gone])


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def finish_run(db: Database, run: Run) -> None:
    with db.write() as con:
        con.execute(
            """
            UPDATE runs
               SET finished_at = now(), status = ?, counts = ?, message = ?
             WHERE run_id = ?
            """,
            [run.status, json.dumps(run.counts, sort_keys=True), _storable(run.message), run.run_id],
        )


#: How long the end of a run whose work is committed waits for the file, at the least. Its
#: data is stored: giving up after a short ``--wait`` would turn a success into "busy, retry
#: later" (exit 75), and a retry would redo work that is already done.
FINISH_WAIT_S = 30.0


@contextmanager
def track_run(
    db: Database, command: str, args: str | None = None, *, finish_wait_s: float | None = None
) -> Iterator[Run]:
    """Start a run, yield it, and record how it ended, also when the body raises.

    Recording the end never changes the command's result. When the body succeeded (or
    finished with a partial failure) its rows are committed, so the end waits for the file
    for ``finish_wait_s`` (default: ``--wait``, but at least :data:`FINISH_WAIT_S`). If it
    still cannot write, the command ends as it would have and one warning carries the run's
    status and counts, so they survive in the cron mail or journal even though the row does
    not get them (a later run, once this process is gone, marks it ``abandoned``). Writing
    them anywhere else would need the same lock. A failed or interrupted run
    gives up sooner (``--wait``; a second after a busy error) and its own error is raised.
    """
    run = start_run(db, command, args)
    committed_wait = finish_wait_s if finish_wait_s is not None else max(db.wait_s, FINISH_WAIT_S)
    try:
        yield run
    except PartialFailure as exc:
        run.status = "partial"
        run.message = str(exc)[:1000]
        _record_end(db, run, committed_wait)
        raise
    except DatabaseBusy as exc:
        # The file is held by another process: record the end if it frees up within a second,
        # else leave the row (the next run marks it abandoned) rather than wait out --wait again.
        run.status = "failed"
        run.message = str(exc)[:1000]
        _record_end(db, run, min(1.0, db.wait_s))
        raise
    except BaseException as exc:
        run.status = "interrupted" if is_interrupt(exc) else "failed"
        run.message = (str(exc) or type(exc).__name__)[:1000]
        _record_end(db, run, db.wait_s)
        raise
    _record_end(db, run, committed_wait)


def _record_end(db: Database, run: Run, wait_s: float) -> None:
    """:func:`finish_run` on a connection that waits ``wait_s``; a failure is a warning."""
    try:
        finish_run(db.waiting(wait_s), run)
    except FlushwatchError as exc:
        counts = json.dumps(run.counts, sort_keys=True)
        log.warning(
            "run %d (%s) ended %s but its end was not recorded (counts %s): %s",
            run.run_id,
            run.command,
            run.status,
            counts,
            exc.one_line(),
        )
