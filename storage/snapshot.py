"""A read-only copy of the database that analysts can open while writers run.

DuckDB blocks every other process, readers included, while one process holds the file
read-write. So after each write run flushwatch checkpoints the live file (all committed data
moves from the WAL into the main file) and, still holding the lock so no writer can interleave,
copies it to ``<name>.snapshot.duckdb.tmp`` and renames that over ``<name>.snapshot.duckdb``.
The rename is atomic: an analyst's ``duckdb -readonly flushwatch.snapshot.duckdb`` sees either
the previous snapshot or the new one, never a torn file. A reader that has the old snapshot
open keeps reading the old inode until it reconnects.

Set ``FLUSHWATCH_SNAPSHOT=0`` to turn this off (e.g. for very large files where a Parquet
export, ``flushwatch export``, suits better).
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from flushwatch.errors import FlushwatchError

if TYPE_CHECKING:
    from flushwatch.storage.db import Database

log = logging.getLogger(__name__)


def snapshot_path(db_path: Path) -> Path:
    """``flushwatch.duckdb`` -> ``flushwatch.snapshot.duckdb``."""
    return db_path.with_name(f"{db_path.stem}.snapshot{db_path.suffix or '.duckdb'}")


def refresh_snapshot(db: Database) -> Path | None:
    """Publish a consistent copy of ``db``; never fails the command that called it."""
    from flushwatch.storage.db import connect

    target = snapshot_path(db.path)
    tmp = target.with_name(target.name + ".tmp")
    try:
        con = connect(db.path, read_only=False, wait_s=db.wait_s)
    except FlushwatchError as exc:
        log.warning("snapshot not refreshed: %s", exc.one_line())
        return None
    try:
        con.execute("CHECKPOINT")
        shutil.copyfile(db.path, tmp)
        os.replace(tmp, target)
    except (OSError, Exception) as exc:  # a failed snapshot must not fail the write run
        log.warning("snapshot %s not refreshed: %s", target, exc)
        tmp.unlink(missing_ok=True)
        return None
    finally:
        con.close()
    return target
