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


def parse_duration(text: str, option: str, *, bare_unit: str | None = None) -> dt.timedelta:
    """'90s', '10m', '24h', '7d', '2w' -> timedelta. A bare number is allowed only with ``bare_unit``."""
    match = _DURATION.match(text)
    unit = match.group(2) if match else ""
    if not match or (not unit and bare_unit is None):
        raise ConfigError(f"{option} {text!r}: expected a duration like 90s, 10m, 24h, 7d or 2w")
    return dt.timedelta(seconds=float(match.group(1)) * _UNIT_S[unit or str(bare_unit)])


def parse_instant(text: str, option: str) -> dt.datetime:
    """'2025-10-10', '2025-10-10T21:30Z' or any ISO time -> an aware UTC datetime."""
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{option} {text!r}: expected a date (YYYY-MM-DD) or an ISO time") from exc
    return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)


def parse_since(text: str, option: str = "--since", *, now: dt.datetime | None = None) -> dt.datetime:
    """A duration back from ``now`` ('24h') or an instant ('2025-10-10'); never in the future."""
    now = now or dt.datetime.now(dt.UTC)
    match = _DURATION.match(text)
    if match and match.group(2):
        return now - parse_duration(text, option)
    try:
        start = parse_instant(text, option)
    except ConfigError:
        raise ConfigError(
            f"{option} {text!r}: expected a duration like 24h or 7d, or a date/ISO time"
        ) from None
    if start > now:
        raise ConfigError(f"{option} {text!r} is in the future")
    return start
