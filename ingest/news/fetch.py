"""The retriever: bytes for each feed URL, concurrently, politely, never parsed here.

* one ``httpx.AsyncClient`` for the pass: connection reuse, a per-feed timeout;
* redirects (at most ``MAX_REDIRECTS``) are followed here, not by httpx, so each target is
  checked first: http(s) only, and a feed on a public address may not send us to a loopback,
  private, link-local or otherwise internal one (:func:`redirect_problem`);
* conditional GET: the stored ETag / Last-Modified go out as If-None-Match / If-Modified-Since
  and a 304 returns no body;
* retries with exponential backoff only for transient failures (timeouts, connection errors,
  429 honouring Retry-After, 5xx); 4xx and bad bodies fail at once;
* the body is capped (``MAX_BODY_BYTES``) on the wire and again while it is decompressed
  (``inflate``), so a decompression bomb fails before it can fill memory;
* ``file://`` URLs and plain paths read bytes from disk and take the same parse path, so
  bundled demo feeds and tests need no server. Only a user's own command line adds them
  (``feeds add``, ``ingest --feed``); see ``catalogue.url_problem``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flushwatch import __version__
from flushwatch.errors import FeedError
from flushwatch.ingest.news.inflate import InflateError, InflateLimit, Inflater, accept_encoding
from flushwatch.ingest.web import retry_after, url_problem
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


def resolve_host(host: str) -> list[str]:
    """The addresses ``host`` stands for (an IP literal is its own); [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in infos})


@dataclass(frozen=True)
class FeedFetchOptions:
    timeout_s: float = 15.0
    retries: int = 2
    backoff_s: float = 0.5
    concurrency: int = 16
    max_body_bytes: int = MAX_BODY_BYTES
    # How redirect targets (and the feed they came from) are resolved; tests pass their own.
    resolve: Callable[[str], list[str]] = resolve_host


PUBLIC = "public"


def address_class(ip: str) -> str:
    """``'public'`` or what kind of internal address ``ip`` is: loopback, link-local (the cloud
    metadata service lives at 169.254.169.254), unspecified, multicast, private or reserved."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") is not part of it
    if isinstance(addr, ipaddress.IPv6Address):  # an IPv4 address inside IPv6 is judged as IPv4
        addr = addr.ipv4_mapped or addr.sixtofour or addr
    for kind, flag in (
        ("loopback", addr.is_loopback),
        ("link-local", addr.is_link_local),
        ("unspecified", addr.is_unspecified),
        ("multicast", addr.is_multicast),
        ("private", addr.is_private),
        ("reserved", addr.is_reserved or not addr.is_global),
    ):
        if flag:
            return kind
    return PUBLIC


def _host_classes(url: str, resolve: Callable[[str], list[str]]) -> set[str]:
    host = urlsplit(url).hostname or ""
    return {address_class(ip) for ip in resolve(host)}


def redirect_problem(
    feed_url: str, target: str, resolve: Callable[[str], list[str]] = resolve_host
) -> str | None:
    """Why the feed at ``feed_url`` must not be followed to ``target``, or None.

    A feed on the public internet could otherwise make us fetch, and store as headlines, pages
    only this machine can reach: a database port on localhost, the cloud metadata service, the
    office network. So a redirect may lead to an internal address only of a kind the feed
    itself is on (a feed the user added on 127.0.0.1 may redirect within loopback). A name that
    resolves to several addresses must pass with each of them."""
    problem = url_problem(target)
    if problem:
        return f"redirect to {problem} refused; feeds are fetched over http(s) only"
    internal = _host_classes(target, resolve) - {PUBLIC}
    if not internal:
        return None
    allowed = _host_classes(feed_url, resolve) - {PUBLIC}
    refused = sorted(internal - allowed)
    if not refused:
        return None
    host, kinds = urlsplit(target).hostname, "/".join(refused)
    return f"redirect to {host} ({kinds} address) refused: only a feed on such an address may"


def is_local(url: str) -> bool:
    return url.startswith("file://") or "://" not in url


def local_path(url: str) -> Path:
    if url.startswith("file://"):
        return Path(unquote(urlsplit(url).path))
    return Path(url).expanduser()


def _read_local(req: FetchRequest, opts: FeedFetchOptions) -> FetchResult:
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


async def _fetch_once(client: object, req: FetchRequest, opts: FeedFetchOptions) -> FetchResult:
    import httpx

    assert isinstance(client, httpx.AsyncClient)
    headers = {}
    if req.etag:
        headers["If-None-Match"] = req.etag
    if req.last_modified:
        headers["If-Modified-Since"] = req.last_modified
    start = time.perf_counter()
    url = req.url
    try:
        async with asyncio.timeout(opts.timeout_s):
            for hop in range(MAX_REDIRECTS + 1):
                resp = await client.send(client.build_request("GET", url, headers=headers), stream=True)
                try:
                    if not resp.has_redirect_location:
                        return await _result(req, resp, opts, start)
                    if hop == MAX_REDIRECTS:
                        break
                    target = str(resp.url.join(resp.headers["location"]))
                finally:
                    await resp.aclose()
                problem = await asyncio.to_thread(redirect_problem, req.url, target, opts.resolve)
                if problem:
                    raise FeedError(req.url, problem, hint="check the feed URL")
                url = target
            raise FeedError(req.url, f"more than {MAX_REDIRECTS} redirects (redirect loop?)")
    except TimeoutError as exc:
        raise FeedError(req.url, f"timed out after {opts.timeout_s:g} s", transient=True) from exc
    except httpx.TimeoutException as exc:
        raise FeedError(req.url, f"timed out ({type(exc).__name__})", transient=True) from exc
    except httpx.TransportError as exc:
        transient = not isinstance(exc, httpx.UnsupportedProtocol)
        raise FeedError(req.url, f"{type(exc).__name__}: {exc}", transient=transient) from exc
    except httpx.InvalidURL as exc:
        raise FeedError(req.url, f"invalid URL: {exc}") from exc


async def _result(req: FetchRequest, resp: object, opts: FeedFetchOptions, start: float) -> FetchResult:
    """The FetchResult of a final (non-redirect) response, its body read under the caps."""
    import httpx

    assert isinstance(resp, httpx.Response)
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
            retry_after=retry_after(resp.headers.get("retry-after")),
        )
    if status >= 400:
        raise FeedError(req.url, f"HTTP {status}", status=status, hint="check the feed URL")
    cap = opts.max_body_bytes
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > cap:
        raise FeedError(req.url, f"body of {declared} bytes is over the {cap} byte cap; refused")
    encoding = resp.headers.get("content-encoding")
    try:
        inflater = Inflater(encoding, cap)
        chunks: list[bytes] = []
        size = 0
        async for raw in resp.aiter_raw():
            size += len(raw)
            if size > cap:
                raise FeedError(req.url, f"body over the {cap} byte cap; refused")
            chunks += inflater.feed(raw)
        chunks += inflater.finish()
    except InflateLimit as exc:
        raise FeedError(req.url, f"body inflates past the {cap} byte cap; refused") from exc
    except InflateError as exc:
        raise FeedError(req.url, f"cannot decode the {encoding} body: {exc}") from exc
    return FetchResult(
        req.url,
        status,
        b"".join(chunks),
        resp.headers.get("etag"),
        resp.headers.get("last-modified"),
        resp.headers.get("content-type"),
        time.perf_counter() - start,
    )


async def fetch_one(client: object, req: FetchRequest, opts: FeedFetchOptions) -> FetchResult:
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


async def fetch_feeds_async(
    requests: Sequence[FetchRequest],
    opts: FeedFetchOptions,
    on_done: Callable[[], None] | None = None,
) -> list[FetchResult | FeedError]:
    """One result per request, in order: a FetchResult or the FeedError that ended it."""
    import httpx

    sem = asyncio.Semaphore(opts.concurrency)
    limits = httpx.Limits(max_connections=opts.concurrency, max_keepalive_connections=opts.concurrency)
    async with httpx.AsyncClient(
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": accept_encoding()},
        follow_redirects=False,  # followed in _fetch_once, each target checked first
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


def fetch_feeds(
    requests: Sequence[FetchRequest],
    opts: FeedFetchOptions | None = None,
    on_done: Callable[[], None] | None = None,
) -> list[FetchResult | FeedError]:
    return asyncio.run(fetch_feeds_async(requests, opts or FeedFetchOptions(), on_done))
