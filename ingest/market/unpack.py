"""A market file as DuckDB may read it: a .zip member or a .gz file unpacked, line lengths checked.

Unpacking is streamed and capped (:func:`_unpack_cap`), so a bomb stops at the cap instead of
filling the disk; CSV lines are checked for length on the way (:class:`_LineCheck`), and a plain
CSV is scanned for the same. A damaged archive (bad CRC, scrambled deflate data, truncated) is
an InputError naming the file, so a multi-file import reports it and goes on. DuckDB itself is
told never to decompress (``compression = 'none'``): everything it reads went through here.
"""

from __future__ import annotations

import gzip
import lzma
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, NamedTuple, Protocol

from flushwatch.errors import InputError
from flushwatch.ingest.market.bounds import MAX_LINE_BYTES, UNPACK_FLOOR, UNPACK_RATIO
from flushwatch.ingest.market.staging import NOTHING, File, MarketImportOptions, bad_line, clip

#: Per archive suffix: its name in messages, and what its reader raises for a damaged file (bad
#: CRC, bad deflate data, truncation, and for zip an unsupported or encrypted member).
_ARCHIVES: dict[str, tuple[str, tuple[type[Exception], ...]]] = {
    ".gz": ("gzip", (gzip.BadGzipFile, zlib.error, EOFError)),
    ".zip": (
        "zip",
        (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, NotImplementedError, RuntimeError),
    ),
}
#: Suffixes of files whose lines may be long by design (a JSON array on one line) or that are
#: not text: the line-length check skips them.
_NOT_LINES = (".json", ".jsonl", ".ndjson", ".feather")
#: Compressions DuckDB would unpack by itself, unbounded: refused, as flushwatch does not unpack them.
_OTHER_COMPRESSION = (".zst", ".zstd", ".bz2", ".xz", ".lz4", ".7z", ".tar", ".tgz")


class _Cap(NamedTuple):
    """How many bytes an archive may unpack to, and the options that said so (for the hint)."""

    limit: int
    options: MarketImportOptions


@contextmanager
def readable(path: Path, options: MarketImportOptions) -> Iterator[File]:
    """A plain file DuckDB can read: a .zip member or a .gz file is unpacked to a temp dir."""
    suffix = path.suffix.lower()
    if suffix in _OTHER_COMPRESSION:
        raise InputError(
            f"{suffix} files are not read", path=path, hint="unpack it, or recompress it as .gz or .zip"
        )
    if suffix not in _ARCHIVES:
        if _checks_lines(path, options):
            with open(path, "rb") as src:
                _stream(src, None, None, str(path), lines=True)
        yield File(path, path)
        return
    name, errors = _ARCHIVES[suffix]
    with tempfile.TemporaryDirectory(prefix="flushwatch-unpack-", ignore_cleanup_errors=True) as tmp:
        target = Path(tmp) / "unpacked"
        cap = _Cap(options.max_unpacked_bytes or _unpack_cap(path.stat().st_size), options)
        member = None
        try:
            if suffix == ".zip":
                member = _unzip(path, target, cap)
            else:
                with gzip.open(path, "rb") as src, open(target, "wb") as dst:
                    _stream(src, dst, cap, str(path), lines=_checks_lines(path, options))
        except errors as exc:
            raise InputError(
                f"corrupt or unreadable {name} file: {clip(str(exc))}",
                path=path,
                hint=f"download it again; {NOTHING}",
            ) from exc
        yield File(path, target, member)


def _unzip(path: Path, target: Path, cap: _Cap) -> str:
    """Unpack the zip's one file; returns its name."""
    with zipfile.ZipFile(path) as zf:
        members = [i for i in zf.infolist() if not i.is_dir()]
        if len(members) != 1:
            raise InputError(f"zip holds {len(members)} files, expected one CSV", path=path)
        info = members[0]
        where = f"{path}!{info.filename}"
        if info.file_size > cap.limit:
            raise _too_big(where, cap, info.file_size)
        with zf.open(info) as src, open(target, "wb") as dst:
            _stream(src, dst, cap, where, lines=_checks_lines(Path(info.filename), cap.options))
    return info.filename


def _checks_lines(path: Path, options: MarketImportOptions) -> bool:
    names = "".join(path.suffixes).lower()
    return bool(options.mapping) or not any(ext in names for ext in _NOT_LINES)


def _unpack_cap(packed: int) -> int:
    return max(UNPACK_FLOOR, UNPACK_RATIO * packed)


def _too_big(where: str, cap: _Cap, declared: int | None = None) -> InputError:
    what = (
        f"declares {declared:,} bytes unpacked, over the cap of {cap.limit:,}"
        if declared is not None
        else f"unpacks past the cap of {cap.limit:,} bytes"
    )
    rule = (
        "the cap was set by max_unpacked_bytes"
        if cap.options.max_unpacked_bytes
        else f"the cap is max({UNPACK_FLOOR:,}, {UNPACK_RATIO} x the packed size)"
    )
    return InputError(
        f"{what} (a zip or gzip bomb?)",
        path=where,
        hint=f"{rule}; unpack it yourself if it is genuine; {NOTHING}",
    )


class _LineCheck:
    """Refuses a line longer than MAX_LINE_BYTES, fed the file in chunks of at most that size.

    A line inside one chunk is shorter than a chunk, so only lines that span chunks need
    counting: ``run`` is the length of the line still open at the end of the last chunk. Two
    memchr-speed scans per MiB, so millions of lines cost no Python loop.
    """

    def __init__(self, where: str) -> None:
        self.where = where
        self.run = 0
        self.line = 1

    def feed(self, chunk: bytes) -> None:
        first = chunk.find(b"\n")
        if first < 0:
            self.run += len(chunk)
            self._check()
            return
        self.run += first
        self._check()
        self.line += chunk.count(b"\n")
        self.run = len(chunk) - chunk.rfind(b"\n") - 1
        self._check()

    def _check(self) -> None:
        if self.run > MAX_LINE_BYTES:
            raise bad_line(f"longer than {MAX_LINE_BYTES:,} bytes (not market data)", self.where, self.line)


class _Source(Protocol):
    """What :func:`_stream` reads: a file, a zip member or a gzip stream."""

    def read(self, size: int = -1, /) -> bytes: ...


def _stream(src: _Source, dst: IO[bytes] | None, cap: _Cap | None, where: str, *, lines: bool) -> None:
    """Copy ``src`` to ``dst`` (or just read it), stopping past ``cap`` bytes, checking lines."""
    check = _LineCheck(where) if lines else None
    total = 0
    while chunk := src.read(MAX_LINE_BYTES):
        total += len(chunk)
        if cap is not None and total > cap.limit:
            raise _too_big(where, cap)
        if check is not None:
            check.feed(chunk)
        if dst is not None:
            dst.write(chunk)
