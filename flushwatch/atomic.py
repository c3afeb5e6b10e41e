"""Writing a user's output file (``digest --out``, ``explain --chart``) atomically.

Readers (a web server, a mail job) see the old file or the new one, never half of one: the
bytes go to a temp file beside the target, are fsynced, then renamed over it (``os.replace``).

The temp file is created the way ``open(path, "w")`` would create the target, mode 0666 less
the umask, not ``mkstemp``'s 0600: a cron job writing into a web directory must produce a file
the web server can read. Replacing an existing file keeps that file's mode, so a report a user
made group-readable stays so. A path that cannot be written is an :class:`OutputError` naming
it (one line, exit 1), not an ``OSError`` traceback.

Every file flushwatch writes for a user (``digest --out``, ``explain --chart``, ``export``, the
snapshot) first passes :func:`check_output_path`: an output name is typed by hand, often into
a cron line, and ``--out "$FLUSHWATCH_DB"`` must not turn the database into a web page.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from flushwatch.errors import OutputError

_TRIES = 100  # temp names are random; a clash means another writer, so give up eventually


def _create_temp(path: Path) -> tuple[int, Path]:
    """A new temp file beside ``path``, opened for writing with mode 0666 less the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(_TRIES):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temp file name beside {path}")


#: What an existing output path may be: a plain file that is no DuckDB database (digest, chart),
#: a directory (an export, which also checks its own marker), or a DuckDB database (the previous
#: snapshot, which a refresh replaces).
Replaces = Literal["file", "directory", "duckdb"]

_DUCKDB_MAGIC = b"DUCK"  # at offset 8 of every DuckDB database file


def snapshot_path(db_path: Path) -> Path:
    """``flushwatch.duckdb`` -> ``flushwatch.snapshot.duckdb``."""
    return db_path.with_name(f"{db_path.stem}.snapshot{db_path.suffix or '.duckdb'}")


def database_files(database: Path) -> dict[Path, str]:
    """The files that make up a flushwatch database (file, WAL, snapshot), each with the words
    an error uses for it."""
    database = Path(database).expanduser()
    return {
        database: f"the database {database}",
        database.with_name(database.name + ".wal"): f"the write-ahead log of the database {database}",
        snapshot_path(database): f"the snapshot of the database {database}",
    }


def is_duckdb_file(path: Path) -> bool:
    """Whether ``path`` is a regular file holding a DuckDB database (its magic bytes)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(12)[8:12] == _DUCKDB_MAGIC
    except OSError:
        return False


def check_output_path(
    path: Path, *, protected: Mapping[Path, str] | None = None, replaces: Replaces = "file"
) -> Path:
    """Refuse an output path whose replacement would destroy something the user did not ask
    to replace; returns the path with symlinks resolved.

    Never replaced: a ``protected`` file (the database, its WAL and its snapshot, named as
    :func:`database_files` names them), also under another name (a symlink or a hard link to
    it); a device, FIFO or socket (as root, ``--out /dev/null`` would replace /dev/null with a
    file); and anything but what ``replaces`` allows (see :data:`Replaces`), so a digest never
    replaces a DuckDB database (another flushwatch file, an analyst's own) and a snapshot
    refresh never replaces a user's file. A directory output is replaced whole, so it must not
    hold a protected file either. Raises :class:`OutputError` (one line, exit 1).
    """
    path = Path(path).expanduser()
    real = path.resolve()
    for guarded, role in (protected or {}).items():
        if _same_file(real, guarded):
            raise _refuse(path, f"it is {role}")
        if replaces == "directory" and guarded.resolve().is_relative_to(real):
            raise _refuse(path, f"it holds {role}", hint="give a directory of its own")
    try:
        mode = real.stat().st_mode
    except FileNotFoundError:
        return real
    except OSError as exc:
        raise _output_error(path, exc) from exc
    if stat.S_ISDIR(mode):
        if replaces != "directory":
            raise _refuse(path, "it is a directory", hint="give a file name")
        return real
    if not stat.S_ISREG(mode):
        raise _refuse(path, f"it is {_special_kind(mode)}", hint="give the path of a regular file")
    if replaces == "directory":
        raise _refuse(path, "it is a file", hint="give a directory")
    if replaces == "duckdb" and not is_duckdb_file(real):
        raise _refuse(
            path, "it is not a DuckDB database", hint="move it away; only an earlier copy is replaced"
        )
    if replaces == "file" and is_duckdb_file(real):
        raise _refuse(path, "it is a DuckDB database")
    return real


def _same_file(real: Path, guarded: Path) -> bool:
    """The same name once links are resolved, or the same inode (a hard link)."""
    if real == guarded.expanduser().resolve():
        return True
    try:
        return os.path.samefile(real, guarded.expanduser())
    except OSError:  # one of them does not exist
        return False


def _special_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _refuse(path: Path, why: str, *, hint: str = "write the output somewhere else") -> OutputError:
    return OutputError(f"refusing to write {path}: {why}", path=path, hint=hint)


def write_atomic(path: Path, data: str | bytes, *, protected: Mapping[Path, str] | None = None) -> Path:
    """Write ``data`` (text is UTF-8) to ``path`` atomically; returns ``path``.

    Missing parent directories are created. An existing file's permission bits are kept.
    ``path`` must pass :func:`check_output_path` (``protected``: the database's files).
    """
    path = Path(path)
    check_output_path(path, protected=protected)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            keep_mode: int | None = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            keep_mode = None
        fd, tmp = _create_temp(path)
    except OSError as exc:
        raise _output_error(path, exc) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            if keep_mode is not None:
                os.fchmod(fh.fileno(), keep_mode)
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _output_error(path, exc) from exc
        raise
    return path


def _output_error(path: Path, exc: OSError) -> OutputError:
    reason = exc.strerror or str(exc)
    return OutputError(
        f"cannot write {path}: {reason}", path=path, hint="give a path in a directory you can write to"
    )
