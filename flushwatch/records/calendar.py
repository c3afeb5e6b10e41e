"""Scheduled macro releases (CPI, FOMC decisions, jobs, ...) as typed records.

A release is known by its ``kind`` and its time: two releases of one kind never share a
minute, and a corrected row (a new name, a moved time) is a new fact about the same key.
Times are timezone-aware UTC ``datetime`` objects.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

#: The kinds flushwatch bundles (docs/calendar.md). An import may add others spelled like them.
KNOWN_KINDS = ("cpi", "ppi", "jobs", "fomc_decision", "fomc_minutes", "pce", "gdp", "retail_sales")
#: How any kind is spelled: lowercase words joined by underscores, so filters and SQL stay simple.
KIND_RE = re.compile(r"[a-z_]+")
#: ``source`` of the rows that ship with flushwatch.
BUNDLED = "bundled"


@dataclass(frozen=True)
class CalendarEvent:
    """One release: what came out (``name``, e.g. 'CPI (Oct 2022)') and when, in UTC."""

    release_at: dt.datetime
    kind: str
    name: str
    country: str = "US"


@dataclass(frozen=True)
class StoredCalendarEvent:
    """A ``calendar_events`` row: the release, who set it last and when."""

    release_at: dt.datetime
    kind: str
    name: str
    country: str
    source: str  # 'bundled' or the imported file's name
    added_at: dt.datetime  # inserted or last changed


@dataclass(frozen=True)
class UpsertCounts:
    """What one write did: rows added, rows whose name or country changed, rows already so."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
