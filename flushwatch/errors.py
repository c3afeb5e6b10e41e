"""One exception tree for flushwatch.

Every error a user can cause or meet derives from :class:`FlushwatchError`. The CLI turns
each into one line on stderr and the exit code the class names, so no user error ever shows
a traceback. Errors carry the thing they are about (a path, a URL, a file and line) and chain
their cause with ``raise ... from exc``.

Bad input also subclasses :class:`ValueError`, so library callers can catch it the usual way.
Transient errors (a busy database, a timeout, HTTP 429/5xx) are marked ``transient = True``:
callers may retry them with backoff; everything else is terminal and fails at once.
"""

from __future__ import annotations

from pathlib import Path

# Exit codes, documented in README.md ("Exit codes"). Keep them in sync.
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3  # the command ran, but some sources failed or data was missing
EXIT_BUSY = 75  # EX_TEMPFAIL from sysexits.h: try again later
EXIT_INTERRUPTED = 130


class FlushwatchError(Exception):
    """Base of every flushwatch error. ``str(err)`` is the one line a user sees."""

    exit_code: int = EXIT_ERROR
    transient: bool = False
    hint: str | None = None

    def __init__(self, message: str, *, path: str | Path | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.path = str(path) if path is not None else None  # the file or folder it is about
        if hint is not None:
            self.hint = hint

    def one_line(self) -> str:
        """The message plus what to do about it, on one line."""
        text = str(self)
        return f"{text} ({self.hint})" if self.hint else text


class ConfigError(FlushwatchError, ValueError):
    """A setting, option or config file is wrong."""

    exit_code = EXIT_USAGE


class InputError(FlushwatchError, ValueError):
    """A user-supplied file or value cannot be read. Names the file and line when known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}", path=path, hint=hint)


class StorageError(FlushwatchError):
    """The database cannot be opened, read or written."""


class DatabaseBusy(StorageError):
    """Another process holds the DuckDB file and did not let go within ``--wait`` seconds."""

    exit_code = EXIT_BUSY
    transient = True

    def __init__(self, path: str | Path, *, holder: str | None, waited_s: float) -> None:
        self.holder = holder
        self.waited_s = waited_s
        held = f" held by {holder}" if holder else ""
        super().__init__(
            f"database busy: {path} is{held}; gave up after waiting {waited_s:g} s",
            path=path,
            hint="retry later, or raise --wait / FLUSHWATCH_WAIT",
        )


class SchemaTooNew(StorageError):
    """The file was written by a newer flushwatch; opening it could corrupt it."""

    def __init__(self, path: str | Path, found: int, supported: int) -> None:
        super().__init__(
            f"{path} has schema version {found}, this flushwatch understands up to {supported}",
            path=path,
            hint="upgrade flushwatch, or point --db at another file",
        )


class OutputError(FlushwatchError):
    """A file the user asked flushwatch to write (``--out``, ``--chart``) cannot be written."""


class SourceError(FlushwatchError):
    """A remote source (feed, exchange API, stream) failed. ``source`` names it."""

    def __init__(
        self,
        source: str,
        message: str,
        *,
        transient: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
        hint: str | None = None,
    ) -> None:
        self.source = source
        self.transient = transient
        self.status = status
        self.retry_after = retry_after
        super().__init__(f"{source}: {message}", hint=hint)


class FeedError(SourceError):
    """One feed could not be fetched or parsed; other feeds go on."""


class MarketDataError(SourceError):
    """An exchange endpoint or stream failed."""


class ModelError(FlushwatchError):
    """The scoring model is missing, corrupt, or cannot be loaded."""


class PartialFailure(FlushwatchError):
    """The command finished, but some sources failed or data was missing.

    Raised *after* everything good was stored, so the CLI exits non-zero (3) without losing
    anything. ``failures`` lists one line per failed source.
    """

    exit_code = EXIT_PARTIAL

    def __init__(self, message: str, failures: list[str] | None = None) -> None:
        self.failures = list(failures or [])
        super().__init__(message)


def is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C (or SIGTERM, which the CLI turns into the same), also when DuckDB caught it first:
    a query running when the signal arrives ends in ``RuntimeError: Query interrupted``, not
    ``KeyboardInterrupt``."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    return type(exc).__name__ == "InterruptException" or (
        isinstance(exc, RuntimeError) and str(exc).strip().startswith("Query interrupted")
    )
