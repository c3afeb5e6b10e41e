"""Opening the one DuckDB file, and DuckDB's one-writer rule designed for.

DuckDB lets one process hold a database file read-write, and while it does no other process
can open the file at all, not even read-only. flushwatch is built around that:

* writers hold the file for one short transaction at a time (:meth:`Database.write`) and close
  it straight after, so cron jobs, the live recorder and readers take turns;
* readers open read-only (:meth:`Database.read`) and close promptly;
* a process that finds the file locked retries with capped exponential backoff for up to
  ``wait_s`` seconds, then raises :class:`DatabaseBusy` naming the process that holds it;
* analysts who want to query while writers run use the snapshot file
  (:mod:`flushwatch.storage.snapshot`) or a Parquet export, never the live file.

All sessions run with ``TimeZone = 'UTC'`` so TIMESTAMPTZ values render and truncate in UTC.

A DuckDB error that escapes a session (a failed block checksum in a damaged file, say) becomes
one :class:`StorageError` line naming the file and what to do, never a traceback.
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from flushwatch.atomic import snapshot_path
from flushwatch.errors import DatabaseBusy, StorageError, is_interrupt

if TYPE_CHECKING:
    from flushwatch.storage.runs import Run

log = logging.getLogger(__name__)

Connection = duckdb.DuckDBPyConnection

_LOCK_RE = re.compile(r"Could not set lock on file|Conflicting lock", re.IGNORECASE)
_PID_RE = re.compile(r"PID (\d+)")


def _holder_description(message: str) -> str | None:
    """Turn DuckDB's lock message into 'PID 123 (flushwatch ingest --loop)' where possible."""
    match = _PID_RE.search(message)
    if not match:
        return None
    pid = match.group(1)
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        argv = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    except OSError:
        return f"PID {pid}"
    if not argv:
        return f"PID {pid}"
    # Show 'flushwatch ingest ...' rather than '/path/to/python /path/to/flushwatch ingest ...'.
    shown = argv
    for i, arg in enumerate(argv):
        if arg.endswith("flushwatch") or arg.endswith("flushwatch/__main__.py") or arg == "flushwatch":
            shown = ["flushwatch", *argv[i + 1 :]]
            break
    text = " ".join(" ".join(shown).split())  # an argument holding a newline must not break the line
    if len(text) > 80:
        text = text[:77] + "..."
    return f"PID {pid} ({text})"


def _is_lock_error(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and bool(_LOCK_RE.search(str(exc)))


#: DuckDB's words for a file whose bytes are not what it wrote ("Corrupt database file: computed
#: checksum ... does not match"). It raises these as its base ``Error`` class, or as an
#: internal, fatal or serialization error.
_DAMAGE_RE = re.compile(r"corrupt|not a valid DuckDB database", re.I)
_DAMAGE_TYPES = (duckdb.InternalException, duckdb.FatalException, duckdb.SerializationException)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (DuckDB's often run to several)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def is_damage(exc: BaseException) -> bool:
    """Whether a DuckDB error says the file itself is damaged, rather than a query being wrong."""
    return type(exc) is duckdb.Error or isinstance(exc, _DAMAGE_TYPES) or bool(_DAMAGE_RE.search(str(exc)))


def storage_error(path: Path, exc: duckdb.Error) -> StorageError:
    """One line for a DuckDB error met on ``path``, with what to do: damage, restore a copy; an
    I/O error (a full disk), look at the disk; anything else names the error. The traceback
    goes to the debug log (``-vv``)."""
    log.debug("DuckDB error on %s", path, exc_info=exc)
    if is_damage(exc):
        return StorageError(
            f"database {path} is damaged or unreadable: {first_line(exc)}",
            path=path,
            hint=f"restore it from the snapshot {snapshot_path(path)} or a backup",
        )
    if isinstance(exc, duckdb.IOException):
        return StorageError(
            f"cannot read or write database {path}: {first_line(exc)}",
            path=path,
            hint="check the free space and permissions of its folder",
        )
    return StorageError(
        f"database {path}: {first_line(exc)}",
        path=path,
        hint="if the file is sound this is a flushwatch bug; run with -vv for the details",
    )


@contextmanager
def _storage_errors(path: Path) -> Iterator[None]:
    """Turn a DuckDB error inside the block into :func:`storage_error`; an interrupted query
    (Ctrl-C) stays what it is, so the CLI exits 130."""
    try:
        yield
    except duckdb.Error as exc:
        if is_interrupt(exc):
            raise
        raise storage_error(path, exc) from exc


def connect(path: Path, *, read_only: bool, wait_s: float) -> Connection:
    """Open ``path``, waiting out another process's lock with backoff for up to ``wait_s``.

    Raises :class:`DatabaseBusy` when the lock is still held at the deadline, and
    :class:`StorageError` for anything else (not a DuckDB file, no permission, ...).
    """
    _check_is_duckdb(path)
    start = time.monotonic()
    delay = 0.05
    attempt = 0
    while True:
        attempt += 1
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            if not _is_lock_error(exc):
                if type(exc) is duckdb.Error or _DAMAGE_RE.search(str(exc)):  # not 'no permission'
                    raise storage_error(path, exc) from exc
                raise StorageError(
                    f"cannot open database {path}: {first_line(exc)}",
                    path=path,
                    hint="check the path, or point --db / FLUSHWATCH_DB at a flushwatch database",
                ) from exc
            waited = time.monotonic() - start
            if waited >= wait_s:
                holder = _holder_description(str(exc))
                raise DatabaseBusy(path, holder=holder, waited_s=round(waited, 1)) from exc
            if attempt == 1 or attempt % 10 == 0:
                log.info("database %s is locked (%s); waiting", path, _holder_description(str(exc)) or "?")
            # Jittered backoff so two cron jobs started in the same second do not retry in step.
            sleep = min(delay, max(0.0, wait_s - waited)) * random.uniform(0.5, 1.0)
            time.sleep(sleep)
            delay = min(delay * 2, 1.0)
            continue
        try:
            with _storage_errors(path):
                con.execute("SET TimeZone = 'UTC'")
        except BaseException:
            con.close()
            raise
        return con


def _check_is_duckdb(path: Path) -> None:
    """Refuse a file that is not a DuckDB database before DuckDB opens it: DuckDB 2 opens a
    ``.csv`` or ``.parquet`` path as a read-only database of views, so ``--db prices.csv``
    would fail later with a catalog error (and touch the file)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(12)
    except FileNotFoundError:
        return
    except IsADirectoryError as exc:
        raise StorageError(f"{path} is a directory, not a database file", path=path) from exc
    except OSError as exc:
        raise StorageError(f"cannot open database {path}: {exc.strerror or exc}", path=path) from exc
    if head and head[8:12] != b"DUCK":  # empty: a new database DuckDB may initialise
        raise StorageError(
            f"{path} is not a DuckDB database",
            path=path,
            hint="point --db / FLUSHWATCH_DB at a flushwatch database; data files go to flushwatch import",
        )


@contextmanager
def transaction(con: Connection) -> Iterator[Connection]:
    """BEGIN ... COMMIT on an open connection; ROLLBACK on any error, then re-raise.

    A process killed inside the block leaves the file as it was before it: DuckDB's WAL only
    replays committed transactions.
    """
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


class Database:
    """One flushwatch DuckDB file. Cheap to create; it holds no connection between calls.

    ``snapshot`` controls whether write runs refresh the read-only analyst snapshot
    (``<name>.snapshot.duckdb`` beside the file) when they finish.
    """

    def __init__(self, path: Path | str, *, wait_s: float = 30.0, snapshot: bool | None = None) -> None:
        self.path = Path(path)
        self.wait_s = wait_s
        if snapshot is None:
            # the CLI validates the spelling (config.resolve_snapshot); here any "off" word turns it off
            off = ("0", "false", "no", "off")
            snapshot = os.environ.get("FLUSHWATCH_SNAPSHOT", "1").strip().lower() not in off
        self.snapshot = snapshot
        self._migrated = False

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r})"

    def waiting(self, wait_s: float) -> Database:
        """The same file with another lock wait and no snapshot; a schema check already done
        carries over (a run's end waits longer than its start, see ``runs.track_run``)."""
        other = Database(self.path, wait_s=wait_s, snapshot=False)
        other._migrated = self._migrated
        return other

    # -- connections -------------------------------------------------------------------------

    def _make_parent(self) -> None:
        """The file's folder, created on first write; a path through a file is one clear error."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"cannot create the folder for database {self.path}: {exc.strerror or exc}",
                path=self.path,
                hint="point --db / FLUSHWATCH_DB at a path in a folder you can write",
            ) from exc

    def _ensure_schema(self) -> None:
        """Create or migrate the file once per Database object (cheap when up to date)."""
        if self._migrated:
            return
        from flushwatch.storage.schema import migrate

        self._make_parent()
        con = connect(self.path, read_only=False, wait_s=self.wait_s)
        try:
            with _storage_errors(self.path):
                migrate(con, path=self.path)
        finally:
            con.close()
        self._migrated = True

    @contextmanager
    def connection(self, *, read_only: bool = False) -> Iterator[Connection]:
        """A raw connection, closed on exit. No transaction is opened for you.

        A writer's first connection also checks (and if needed applies) the migrations on that
        same connection: opening a large file costs tens of milliseconds, which a short
        command like an incremental ``detect`` should pay once, not twice.
        """
        if read_only:
            if not self.path.exists() or not self._migrated:
                self._ensure_schema_for_read()
        elif not self._migrated:
            self._make_parent()
        con = connect(self.path, read_only=read_only, wait_s=self.wait_s)
        try:
            with _storage_errors(self.path):
                if not read_only and not self._migrated:
                    from flushwatch.storage.schema import migrate

                    migrate(con, path=self.path)
                    self._migrated = True
                yield con
        finally:
            con.close()

    def _ensure_schema_for_read(self) -> None:
        """Readers need the current schema too; create or migrate first if the file lags."""
        from flushwatch.storage.schema import CURRENT_VERSION, read_version

        if self.path.exists():
            con = connect(self.path, read_only=True, wait_s=self.wait_s)
            try:
                with _storage_errors(self.path):
                    version = read_version(con)
            finally:
                con.close()
            if version == CURRENT_VERSION:
                self._migrated = True
                return
        self._ensure_schema()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One short write transaction (see :func:`transaction`), on a connection closed after."""
        with self.connection(read_only=False) as con, transaction(con):
            yield con

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only connection, closed on exit."""
        with self.connection(read_only=True) as con:
            yield con

    # -- runs ------------------------------------------------------------------------------------

    @contextmanager
    def run(self, command: str, args: str | None = None) -> Iterator[Run]:
        """Record one command run in ``runs``; see :class:`flushwatch.storage.runs.Run`."""
        from flushwatch.storage.runs import track_run

        started = False
        busy = False
        try:
            with track_run(self, command, args) as run:
                started = True
                yield run
        except DatabaseBusy:
            busy = True  # another process holds the file: a snapshot would only wait again
            raise
        finally:
            # Good rows stored before a failure are worth publishing too; a run that never
            # started stored nothing.
            if self.snapshot and started and not busy:
                from flushwatch.storage.snapshot import refresh_snapshot

                refresh_snapshot(self)
