"""Two small web rules every fetching path shares: which URLs may be fetched or stored, and how
long a server asks us to wait.

One copy of each, so the news fetcher, the feed catalogue, headline links and the exchange REST
client cannot drift apart on what counts as an http(s) URL or a ``Retry-After``.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import math
from urllib.parse import urlsplit


def url_problem(url: str) -> str | None:
    """What ``url`` is when it is not an absolute http(s) URL with a host ("a ftp: URL", "a
    relative URL", ...), or None when it is one.

    Anything else is refused wherever a URL is fetched, followed or stored: ``file:`` and other
    schemes reach what only this machine should read, ``javascript:``/``data:`` links run in a
    reader's browser, and a relative link or one without a host leads nowhere."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        return f"an invalid URL ({exc})"
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        return f"a {scheme}: URL" if scheme else "a relative URL"
    return None if host else "an http(s) URL without a host"


def retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for: a number of seconds or an HTTP date (a time
    already past, or a negative number, is 0); None when absent or unreadable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC with no zone stated
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
