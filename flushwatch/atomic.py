"""Writing a user's output file (``digest --out``, ``explain --chart``) atomically.

Readers (a web server, a mail job) see the old file or the new one, never half of one: the
bytes go to a temp file beside the target, are fsynced, then renamed over it (``os.replace``).

The temp file is created the way ``open(path, "w")`` would create the target, mode 0666 less
the umask, not ``mkstemp``'s 0600: a cron job writing into a web directory must produce a file
the web server can read. Replacing an existing file keeps that file's mode, so a report a user
made group-readable stays so. A path that cannot be written is an :class:`OutputError` naming
it (one line, exit 1), not an ``OSError`` traceback.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path

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


def write_atomic(path: Path, data: str | bytes) -> Path:
    """Write ``data`` (text is UTF-8) to ``path`` atomically; returns ``path``.

    Missing parent directories are created. An existing file's permission bits are kept.
    """
    path = Path(path)
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
