"""The retriever: bytes for each feed URL, concurrently, politely, never parsed here.

* one ``httpx.AsyncClient`` for the pass: connection reuse, gzip/deflate/brotli, at most
  ``MAX_REDIRECTS`` redirects, a per-feed timeout;
* conditional GET: the stored ETag / Last-Modified go out as If-None-Match / If-Modified-Since
  and a 304 returns no body;
* retries with exponential backoff only for transient failures (timeouts, connection errors,
  429 honouring Retry-After, 5xx); 4xx and bad bodies fail at once;
* the decoded body is capped (``MAX_BODY_BYTES``): a huge or decompression-bomb feed fails
  instead of filling memory;
* ``file://`` URLs and plain paths read bytes from disk and take the same parse path, so
  bundled demo feeds and tests need no server.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flushwatch import __version__
from flushwatch.errors import FeedError
from flushwatch.records.news import FetchResult

log = logging.getLogger(__name__)

USER_AGENT = f"flushwatch/{__version__} (+https://github.com/flushwatch/flushwatch)"
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
MAX_RETRY_AFTER_S = 30.0
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


@dataclass(frozen=True)
class FetchRequest:
    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchOptions:
    timeout_s: float = 15.0
    retries: int = 2
    backoff_s: float = 0.5
    concurrency: int = 16
    max_body_bytes: int = MAX_BODY_BYTES


def is_local(url: str) -> bool:
    return url.startswith("file://") or "://" not in url


def local_path(url: str) -> Path:
    if url.startswith("file://"):
        return Path(unquote(urlsplit(url).path))
    return Path(url).expanduser()


def _read_local(req: FetchRequest, opts: FetchOptions) -> FetchResult:
    start = time.perf_counter()
    path = local_path(req.url)
    try:
        size = path.stat().st_size
        if size > opts.max_body_bytes:
            raise FeedError(req.url, f"file is {size} bytes, over the {opts.max_body_bytes} byte cap")
        body = path.read_bytes()
    except OSError as exc:
        raise FeedError(req.url, f"cannot read {path}: {exc.strerror or exc}") from exc
    return FetchResult(req.url, 200, body, None, None, None, time.perf_counter() - start)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


async def _fetch_once(client: object, req: FetchRequest, opts: FetchOptions) -> FetchResult:
    import httpx

    assert isinstance(client, httpx.AsyncClient)
    headers = {}
    if req.etag:
        headers["If-None-Match"] = req.etag
    if req.last_modified:
        headers["If-Modified-Since"] = req.last_modified
    start = time.perf_counter()
    try:
        async with asyncio.timeout(opts.timeout_s):
            async with client.stream("GET", req.url, headers=headers) as resp:
                status = resp.status_code
                if status == 304:
                    return FetchResult(
                        req.url,
                        304,
                        None,
                        resp.headers.get("etag") or req.etag,
                        resp.headers.get("last-modified") or req.last_modified,
                        resp.headers.get("content-type"),
                        time.perf_counter() - start,
                    )
                if status == 429 or status >= 500:
                    raise FeedError(
                        req.url,
                        f"HTTP {status}",
                        transient=True,
                        status=status,
                        retry_after=_retry_after(resp.headers.get("retry-after")),
                    )
                if status >= 400:
                    raise FeedError(req.url, f"HTTP {status}", status=status, hint="check the feed URL")
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > opts.max_body_bytes * 4:
                    raise FeedError(req.url, f"body of {declared} bytes is over the cap")
                chunks: list[bytes] = []
                size = 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > opts.max_body_bytes:
                        raise FeedError(req.url, f"body over the {opts.max_body_bytes} byte cap; refused")
                    chunks.append(chunk)
                return FetchResult(
                    req.url,
                    status,
                    b"".join(chunks),
                    resp.headers.get("etag"),
                    resp.headers.get("last-modified"),
                    resp.headers.get("content-type"),
                    time.perf_counter() - start,
                )
    except TimeoutError as exc:
        raise FeedError(req.url, f"timed out after {opts.timeout_s:g} s", transient=True) from exc
    except httpx.TooManyRedirects as exc:
        raise FeedError(req.url, f"more than {MAX_REDIRECTS} redirects (redirect loop?)") from exc
    except httpx.TimeoutException as exc:
        raise FeedError(req.url, f"timed out ({type(exc).__name__})", transient=True) from exc
    except (httpx.TransportError, httpx.DecodingError) as exc:
        transient = not isinstance(exc, httpx.UnsupportedProtocol | httpx.DecodingError)
        raise FeedError(req.url, f"{type(exc).__name__}: {exc}", transient=transient) from exc
    except httpx.InvalidURL as exc:
        raise FeedError(req.url, f"invalid URL: {exc}") from exc


async def fetch_one(client: object, req: FetchRequest, opts: FetchOptions) -> FetchResult:
    """Fetch with retries for transient failures only; each retry is logged."""
    if is_local(req.url):
        result = await asyncio.to_thread(_read_local, req, opts)
        return replace(result, fetched_at=dt.datetime.now(dt.UTC))
    attempt = 0
    while True:
        attempt += 1
        try:
            result = await _fetch_once(client, req, opts)
        except FeedError as exc:
            if not exc.transient or attempt > opts.retries:
                raise
            delay = opts.backoff_s * 2 ** (attempt - 1)
            if exc.retry_after is not None:
                if exc.retry_after > MAX_RETRY_AFTER_S:
                    raise
                delay = max(delay, exc.retry_after)
            log.info("%s; retry %d/%d in %.1f s", exc, attempt, opts.retries, delay)
            await asyncio.sleep(delay)
            continue
        return replace(result, attempts=attempt, fetched_at=dt.datetime.now(dt.UTC))


async def fetch_all_async(
    requests: Sequence[FetchRequest],
    opts: FetchOptions,
    on_done: Callable[[], None] | None = None,
) -> list[FetchResult | FeedError]:
    """One result per request, in order: a FetchResult or the FeedError that ended it."""
    import httpx

    sem = asyncio.Semaphore(opts.concurrency)
    limits = httpx.Limits(max_connections=opts.concurrency, max_keepalive_connections=opts.concurrency)
    async with httpx.AsyncClient(
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        timeout=httpx.Timeout(opts.timeout_s),
        limits=limits,
        trust_env=False,
    ) as client:

        async def one(req: FetchRequest) -> FetchResult | FeedError:
            async with sem:
                try:
                    return await fetch_one(client, req, opts)
                except FeedError as exc:
                    return exc
                except Exception as exc:  # never let one feed end the pass
                    return FeedError(req.url, f"unexpected {type(exc).__name__}: {exc}")
                finally:
                    if on_done:
                        on_done()

        return list(await asyncio.gather(*(one(r) for r in requests)))


def fetch_all(
    requests: Sequence[FetchRequest],
    opts: FetchOptions | None = None,
    on_done: Callable[[], None] | None = None,
) -> list[FetchResult | FeedError]:
    return asyncio.run(fetch_all_async(requests, opts or FetchOptions(), on_done))
