"""Content-Encoding decoded with a bound on what it may inflate to, checked while streaming.

httpx inflates each network chunk whole before the caller sees a byte, so a body cap checked
on its output comes too late: under 2 KB of brotli become a gigabyte in one call.
Here every decompressor call is limited to ``STEP`` bytes of output, the total is checked after
each call, and decoding stops with :class:`InflateLimit` as soon as it passes the cap, so
memory stays near the cap whatever the compression ratio.

* gzip / deflate: ``zlib``'s ``decompress(data, max_length)``;
* br: the ``brotli`` package's ``process(data, output_buffer_limit=...)`` (brotli >= 1.2; the
  limit is soft, one call may return up to about 96 KiB). Without it, input goes in 16-byte
  slices: measured on a 1 GiB bomb, one such call inflated at most 16 MiB;
* zstd (only when ``zstandard`` is installed): input in 64-byte slices. A zstd block inflates
  to at most 128 KiB and needs at least 3 bytes, so one slice yields under 3 MiB.

Only what can be bounded is advertised in Accept-Encoding (:func:`accept_encoding`).
"""

from __future__ import annotations

import functools
import importlib
import zlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any, Protocol

STEP = 64 * 1024
_BROTLI_SLICE = 16
_ZSTD_SLICE = 64


class InflateError(Exception):
    """The body is not valid data in its Content-Encoding, or uses one we cannot decode."""


class InflateLimit(Exception):
    """The decoded body passed the cap; decoding stopped there."""


class _Stage(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def end(self) -> Iterator[bytes]: ...


def _module(*names: str) -> ModuleType | None:
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def _brotli() -> ModuleType | None:
    return _module("brotli", "brotlicffi")


@functools.cache
def brotli_bounded() -> bool:
    """Whether the installed brotli can cap one call's output (brotli / brotlicffi >= 1.2)."""
    module = _brotli()
    if module is None:
        return False
    decompressor = module.Decompressor()
    try:
        decompressor.process(b"", output_buffer_limit=STEP)
    except (TypeError, AttributeError):
        return False
    return hasattr(decompressor, "can_accept_more_data") and hasattr(decompressor, "is_finished")


def accept_encoding() -> str:
    """The encodings we decode with a bound, for the Accept-Encoding request header."""
    names = ["gzip", "deflate"]
    if brotli_bounded():
        names.append("br")
    if _module("zstandard") is not None:
        names.append("zstd")
    return ", ".join(names)


def _zlib_header(head: bytes) -> bool:
    """Whether two bytes open a zlib stream (RFC 1950: method 8, header checksum)."""
    return head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0


class _Zlib:
    """gzip, or deflate: zlib-wrapped as the standard says, or raw as some servers send it
    (httpx accepts both too). Which one is decided from the first two bytes."""

    def __init__(self, gzip: bool) -> None:
        self._d = zlib.decompressobj(zlib.MAX_WBITS | 16) if gzip else None
        self._head = b""

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._d is None:
            self._head += data
            if len(self._head) < 2:
                return
            data, self._head = self._head, b""
            self._d = zlib.decompressobj(zlib.MAX_WBITS if _zlib_header(data) else -zlib.MAX_WBITS)
        while True:
            try:
                out = self._d.decompress(data, STEP)
            except zlib.error as exc:
                raise InflateError(str(exc)) from exc
            if out:
                yield out
            data = self._d.unconsumed_tail
            if not data and len(out) < STEP:
                return

    def end(self) -> Iterator[bytes]:
        if self._d is None:  # a body of less than two bytes
            self._d = zlib.decompressobj(-zlib.MAX_WBITS)
            yield from self.feed(self._head)
        try:
            tail = self._d.flush()
        except zlib.error as exc:
            raise InflateError(str(exc)) from exc
        if tail:
            yield tail


class _Brotli:
    def __init__(self, module: ModuleType) -> None:
        self._error: type[Exception] = getattr(module, "error", Exception)
        self._d: Any = module.Decompressor()
        self._process = getattr(self._d, "process", None) or self._d.decompress
        self._bounded = brotli_bounded()

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            if not self._bounded:
                for i in range(0, len(data), _BROTLI_SLICE):
                    out = self._process(data[i : i + _BROTLI_SLICE])
                    if out:
                        yield out
                return
            out = self._process(data, output_buffer_limit=STEP)
            if out:
                yield out
            # Output held back by the limit comes out on calls with no input.
            while not self._d.is_finished() and (out or not self._d.can_accept_more_data()):
                out = self._process(b"", output_buffer_limit=STEP)
                if out:
                    yield out
        except self._error as exc:
            raise InflateError(str(exc) or "corrupt brotli data") from exc

    def end(self) -> Iterator[bytes]:
        return iter(())


class _Zstd:
    def __init__(self, module: ModuleType) -> None:
        self._module = module
        self._d: Any = module.ZstdDecompressor().decompressobj()

    def feed(self, data: bytes) -> Iterator[bytes]:
        for i in range(0, len(data), _ZSTD_SLICE):
            piece = data[i : i + _ZSTD_SLICE]
            while piece:
                try:
                    out = self._d.decompress(piece)
                except self._module.ZstdError as exc:
                    raise InflateError(str(exc)) from exc
                if out:
                    yield out
                # A body may hold several frames; each frame needs a fresh decompressor.
                piece = self._d.unused_data if self._d.eof else b""
                if self._d.eof:
                    self._d = self._module.ZstdDecompressor().decompressobj()

    def end(self) -> Iterator[bytes]:
        return iter(())


def _stage(name: str) -> _Stage | None:
    """The decoder for one Content-Encoding token; None for identity and unknown tokens (httpx
    passes those through too: misconfigured servers send e.g. ``Content-Encoding: utf-8``)."""
    if name in ("gzip", "x-gzip"):
        return _Zlib(gzip=True)
    if name == "deflate":
        return _Zlib(gzip=False)
    if name == "br":
        module = _brotli()
        if module is None:
            raise InflateError("the body is brotli-compressed and brotli is not installed")
        return _Brotli(module)
    if name == "zstd":
        module = _module("zstandard")
        if module is None:
            raise InflateError("the body is zstd-compressed and zstandard is not installed")
        return _Zstd(module)
    return None


class Inflater:
    """Decodes one response body; ``feed`` the raw chunks, then ``finish``.

    Both return decoded pieces and raise :class:`InflateLimit` once the decoded total passes
    ``cap``, or :class:`InflateError` for corrupt data."""

    def __init__(self, content_encoding: str | None, cap: int) -> None:
        names = [n.strip().lower() for n in (content_encoding or "").split(",") if n.strip()]
        # Encodings are listed in the order they were applied: undo them last to first.
        stages = [_stage(n) for n in reversed(names)]
        self._stages = [s for s in stages if s is not None]
        self.cap = cap
        self.size = 0

    @property
    def compressed(self) -> bool:
        return bool(self._stages)

    def feed(self, data: bytes) -> list[bytes]:
        return self._collect(_run(self._stages, data))

    def finish(self) -> list[bytes]:
        return self._collect(_run(self._stages, None))

    def _collect(self, pieces: Iterator[bytes]) -> list[bytes]:
        out = []
        for piece in pieces:
            self.size += len(piece)
            if self.size > self.cap:
                raise InflateLimit(self.size)
            out.append(piece)
        return out


def _run(stages: list[_Stage], data: bytes | None) -> Iterator[bytes]:
    """``data`` through every stage in turn, one bounded piece at a time (None: end of body)."""
    if not stages:
        if data:
            yield data
        return
    head, rest = stages[0], stages[1:]
    for piece in head.feed(data) if data is not None else head.end():
        yield from _run(rest, piece)
    if data is None:
        yield from _run(rest, None)
