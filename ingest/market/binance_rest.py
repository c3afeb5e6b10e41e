"""A small Binance public REST client: weight-aware, backs off on 429/418, never parses rows.

Binance counts request *weight* per IP per minute (USD-M futures 2,400, spot 6,000) and says
how much was used in ``X-MBX-USED-WEIGHT-1M``. We keep under ``weight_share`` of the limit by
sleeping until the next minute, honour ``Retry-After`` on 429 (too many requests) and 418 (IP
banned for ignoring 429s), and retry timeouts/5xx with capped exponential backoff. Base URLs
come from options or ``FLUSHWATCH_BINANCE_FAPI_URL`` / ``FLUSHWATCH_BINANCE_API_URL`` so tests
point at 127.0.0.1.

A host that cannot be reached at all (connection refused, DNS failure, connect timeout: no
HTTP answer on any attempt) is remembered for the rest of the run. Retrying it for every one
of ~24 series turned a fetch without network into six minutes of backoff, so further calls to
it fail at once with :class:`HostUnreachable`, and once one host is down the others get a
single connect attempt (the network itself is the likely culprit). HTTP errors are not this:
a host that answers is still asked for every series.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from flushwatch import __version__
from flushwatch.errors import ConfigError, MarketDataError
from flushwatch.ingest.web import retry_after as parse_retry_after

log = logging.getLogger(__name__)

FAPI_URL = "https://fapi.binance.com"
SPOT_URL = "https://api.binance.com"
WEIGHT_LIMIT = {"fapi": 2400, "spot": 6000}
MAX_RETRY_AFTER_S = 120.0


#: Transport errors that mean no connection was made: the host was never reached.
CONNECT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout)


def fapi_url(option: str | None = None) -> str:
    url = (option or os.environ.get("FLUSHWATCH_BINANCE_FAPI_URL") or FAPI_URL).rstrip("/")
    return _checked_url(url, "--fapi-url / FLUSHWATCH_BINANCE_FAPI_URL")


def spot_url(option: str | None = None) -> str:
    url = (option or os.environ.get("FLUSHWATCH_BINANCE_API_URL") or SPOT_URL).rstrip("/")
    return _checked_url(url, "--spot-url / FLUSHWATCH_BINANCE_API_URL")


def _checked_url(url: str, setting: str) -> str:
    """A base URL that is not http(s)://host is a setting to fix, not a series to retry."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  -- raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"{setting} {url!r}: not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{setting} {url!r}: expected an http:// or https:// URL with a host")
    return url


class HostUnreachable(MarketDataError):
    """The host gave no HTTP answer at all (refused, DNS, connect timeout); later calls skip it."""


def klines_weight(api: str, limit: int) -> int:
    """Documented request weights of the klines endpoints for a given ``limit``."""
    if api == "spot":
        return 2
    return 1 if limit < 100 else 2 if limit < 500 else 5 if limit <= 1000 else 10


@dataclass
class BinanceClient:
    """One client per fetch run; ``sleep`` is injectable so tests need not wait for real."""

    fapi: str
    spot: str
    timeout_s: float = 15.0
    connect_timeout_s: float = 5.0  # a black-holed host must not cost 15 s an attempt
    retries: int = 4
    backoff_s: float = 1.0
    weight_share: float = 0.8
    sleep: Callable[[float], None] = time.sleep
    requests: int = 0

    def __post_init__(self) -> None:
        self._client = httpx.Client(
            timeout=httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s),
            headers={"User-Agent": f"flushwatch/{__version__}"},
            follow_redirects=False,
        )
        self._used: dict[str, tuple[float, int]] = {}  # api -> (minute, weight used)
        self._unreachable: dict[str, str] = {}  # base URL -> why it could not be reached

    def unreachable(self, api: str) -> str | None:
        """Why ``api``'s host could not be reached earlier in this run (None: it may be tried)."""
        return self._unreachable.get(self._base(api))

    def _base(self, api: str) -> str:
        return self.fapi if api == "fapi" else self.spot

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> BinanceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _throttle(self, api: str, weight: int) -> None:
        minute = time.time() // 60
        m, used = self._used.get(api, (minute, 0))
        if m != minute:
            used = 0
        if used + weight > WEIGHT_LIMIT[api] * self.weight_share:
            wait = 60 - time.time() % 60 + 0.5
            log.info("binance %s: %d weight used this minute; waiting %.1f s", api, used, wait)
            self.sleep(wait)
            minute, used = time.time() // 60, 0
        self._used[api] = (minute, used + weight)

    def get(self, api: str, path: str, params: dict[str, Any], weight: int = 1) -> Any:
        """GET ``path`` and return its decoded JSON, retrying what is transient.

        Raises :class:`HostUnreachable` at once for a host already found unreachable, and after
        the retries when no attempt reached the host (one attempt only if another host is down).
        """
        base = self._base(api)
        url = base + path
        if base in self._unreachable:
            raise HostUnreachable(url, f"not attempted, host unreachable ({self._unreachable[base]})")
        delay = self.backoff_s
        reached = False  # some attempt of this call got past connecting
        for attempt in range(self.retries + 1):
            self._throttle(api, weight)
            self.requests += 1
            try:
                resp = self._client.get(url, params=params)
            except httpx.TransportError as exc:
                err = MarketDataError(url, f"{type(exc).__name__}: {exc}", transient=True)
                reached = reached or not isinstance(exc, CONNECT_ERRORS)
                if not reached and (attempt == self.retries or self._unreachable):
                    self._unreachable[base] = f"{type(exc).__name__}: {exc}"
                    raise HostUnreachable(url, f"{type(exc).__name__}: {exc}") from exc
            else:
                reached = True
                used = resp.headers.get("x-mbx-used-weight-1m")
                if used and used.isdigit():
                    self._used[api] = (time.time() // 60, int(used))
                if resp.status_code == 200:
                    try:
                        return resp.json()
                    except ValueError as exc:
                        raise MarketDataError(url, "response is not JSON") from exc
                retry_after = parse_retry_after(resp.headers.get("retry-after"))
                transient = resp.status_code in (418, 429) or resp.status_code >= 500
                err = MarketDataError(
                    url,
                    f"HTTP {resp.status_code}: {resp.text[:200]}",
                    transient=transient,
                    status=resp.status_code,
                    retry_after=retry_after,
                )
            if not err.transient or attempt == self.retries:
                raise err
            wait = err.retry_after if err.retry_after is not None else delay
            wait = min(wait, MAX_RETRY_AFTER_S)
            log.warning("%s; retry %d/%d in %.1f s", err, attempt + 1, self.retries, wait)
            self.sleep(wait)
            delay = min(delay * 2, 60.0)
        raise AssertionError("unreachable")

