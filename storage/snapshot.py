"""A read-only copy of the database that analysts can open while writers run.

DuckDB blocks every other process, readers included, while one process holds the file
read-write. So after each write run flushwatch checkpoints the live file (all committed data
moves from the WAL into the main file) and, still holding the lock so no writer can interleave,
copies it to ``<name>.snapshot.duckdb.tmp`` and renames that over ``<name>.snapshot.duckdb``.
The rename is atomic: an analyst's ``duckdb -readonly flushwatch.snapshot.duckdb`` sees either
the previous snapshot or the new one, never a torn file. A reader that has the old snapshot
open keeps reading the old inode until it reconnects.

The snapshot only ever replaces an earlier snapshot: a directory, FIFO or any other file a user
put at that name is kept and the refresh is skipped with a warning (see
:func:`flushwatch.atomic.check_output_path`). The temp file is created afresh, never opened
through whatever already has its name, so a link planted there cannot redirect the copy.

Set ``FLUSHWATCH_SNAPSHOT=0`` to turn this off (e.g. for very large files where a Parquet
export, ``flushwatch export``, suits better).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from flushwatch.atomic import check_output_path, database_files, snapshot_path
from flushwatch.errors import FlushwatchError

if TYPE_CHECKING:
    from flushwatch.storage.db import Database

log = logging.getLogger(__name__)


def refresh_snapshot(db: Database) -> Path | None:
    """Publish a consistent copy of ``db``; never fails the command that called it."""
    from flushwatch.storage.db import connect

    target = snapshot_path(db.path)
    tmp = target.with_name(target.name + ".tmp")
    # The live file and its WAL are never the snapshot's to replace, nor is anything but an
    # earlier snapshot.
    live = {p: role for p, role in database_files(db.path).items() if p != target}
    try:
        check_output_path(target, protected=live, replaces="duckdb")
        con = connect(db.path, read_only=False, wait_s=db.wait_s)
    except FlushwatchError as exc:
        log.warning("snapshot not refreshed: %s", exc.one_line())
        return None
    try:
        con.execute("CHECKPOINT")
        _copy_fresh(db.path, tmp)
        os.replace(tmp, target)
    except (OSError, Exception) as exc:  # a failed snapshot must not fail the write run
        log.warning("snapshot %s not refreshed: %s", target, exc)
        if tmp.is_symlink() or tmp.is_file():
            tmp.unlink(missing_ok=True)
        return None
    finally:
        con.close()
    return target


def _copy_fresh(src: Path, tmp: Path) -> None:
    """Copy ``src`` to a newly created ``tmp``. A stale temp file, or a link, left at that name by
    a killed refresh is removed first; anything else there (a directory, a FIFO) stays and the
    copy fails. O_EXCL makes sure the bytes land in a file made here."""
    if tmp.is_symlink() or tmp.is_file():
        tmp.unlink()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, 0o666)
    with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
        shutil.copyfileobj(inp, out, 1 << 20)
