"""Durations and instants as users type them: ``90s``, ``10m``, ``24h``, ``7d``, ``2w``, ISO times.

One parser for every option that takes them (``--since``, ``--from``/``--to``, ``--at``,
``--for``), so they all accept the same spellings. Naive times mean UTC. Errors are
:class:`ConfigError` naming the option, so the CLI exits 2 with one line.
"""

from __future__ import annotations

import datetime as dt
import re

from flushwatch.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
#: The longest duration any option takes. Far past any data (and any sane timeout), yet short
#: enough that ``now - duration`` is always a real date: '1000000d' is a typo, not a window.
MAX_DURATION = dt.timedelta(days=100 * 366)


def parse_duration(text: str, option: str, *, bare_unit: str | None = None) -> dt.timedelta:
    """'90s', '10m', '24h', '7d', '2w' -> timedelta. A bare number is allowed only with ``bare_unit``."""
    match = _DURATION.match(text)
    unit = match.group(2) if match else ""
    if not match or (not unit and bare_unit is None):
        raise ConfigError(f"{option} {text!r}: expected a duration like 90s, 10m, 24h, 7d or 2w")
    seconds = float(match.group(1)) * _UNIT_S[unit or str(bare_unit)]
    if seconds > MAX_DURATION.total_seconds():
        raise ConfigError(f"{option} {text!r}: out of range; durations go up to {MAX_DURATION.days}d")
    return dt.timedelta(seconds=seconds)


def parse_instant(text: str, option: str) -> dt.datetime:
    """'2025-10-10', '2025-10-10T21:30Z' or any ISO time -> an aware UTC datetime."""
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r}: expected a date (YYYY-MM-DD) or an ISO time") from exc
    except OverflowError as exc:  # '0001-01-01T00:00+01:00' is before year 1 in UTC
        raise ConfigError(f"{option} {text!r}: out of range") from exc


def parse_day(text: str, option: str) -> dt.date:
    """'2025-10-10' -> a date whose whole UTC day can be a window: the day after it must exist
    too, so 9999-12-31 (whose window would end in year 10000) is refused, not an overflow."""
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r}: expected YYYY-MM-DD") from exc
    if day >= dt.date.max:
        raise ConfigError(f"{option} {text!r}: out of range; the last day with a whole window is 9999-12-30")
    return day


def parse_since(text: str, option: str = "--since", *, now: dt.datetime | None = None) -> dt.datetime:
    """A duration back from ``now`` ('24h') or an instant ('2025-10-10'); never in the future."""
    now = now or dt.datetime.now(dt.UTC)
    match = _DURATION.match(text)
    if match and match.group(2):
        return now - parse_duration(text, option)
    try:
        start = parse_instant(text, option)
    except ConfigError as exc:
        if isinstance(exc.__cause__, OverflowError):
            raise
        raise ConfigError(
            f"{option} {text!r}: expected a duration like 24h or 7d, or a date/ISO time"
        ) from None
    if start > now:
        raise ConfigError(f"{option} {text!r} is in the future")
    return start


def parse_lookback(text: str, option: str = "--since", *, now: dt.datetime | None = None) -> dt.timedelta:
    """:func:`parse_since` as the length of the window it opens: how far back from ``now``."""
    now = now or dt.datetime.now(dt.UTC)
    return now - parse_since(text, option, now=now)
