"""``flushwatch calendar import``: a CSV of releases merged into ``calendar_events``.

The file is ``release_at,kind,name[,country]`` with a header row. Unlike a headline dump, a
calendar is typed by hand, so one bad row must not cost the others: parsing is pure and
returns every good release plus one :class:`InputError` (file:line) per bad row, and the good
rows are stored in one transaction. Only a file with no good row at all fails outright.

A time must say its zone (``Z`` or an offset such as ``-05:00``): a naive '2024-03-12 08:30'
could be New York or UTC, four or five hours apart, which is the whole difference between
"the CPI caused it" and "it came after". Times are stored in UTC. A kind outside the bundled
ones is fine if it is spelled like them (lowercase letters and underscores).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from flushwatch.errors import InputError
from flushwatch.records.calendar import KIND_RE, CalendarEvent, UpsertCounts
from flushwatch.storage.calendar import upsert_events
from flushwatch.storage.db import Database

log = logging.getLogger(__name__)

REQUIRED = ("release_at", "kind", "name")
OPTIONAL = ("country",)
#: Longer names are surely a shifted column, not a release's name.
MAX_NAME_CHARS = 200
_COUNTRY_RE = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class CalendarFile:
    """A parsed calendar file: the good releases, and one error per bad row (file:line)."""

    path: str
    rows: int  # data rows read (blank lines not counted)
    events: tuple[CalendarEvent, ...]
    errors: tuple[InputError, ...]


@dataclass(frozen=True)
class CalendarImport:
    """What one ``calendar import`` did."""

    path: str
    rows: int
    counts: UpsertCounts
    errors: tuple[InputError, ...]  # the bad rows, none of them stored


def parse_release_at(text: str) -> dt.datetime:
    """An ISO-8601 time with a zone -> aware UTC. ValueError says what is wrong with it."""
    value = text.strip()
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"release_at {value!r} is not an ISO-8601 time (e.g. 2024-03-12T12:30:00Z)"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(f"release_at {value!r} has no time zone: add Z for UTC or an offset such as -05:00")
    try:
        return parsed.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(f"release_at {value!r} is out of range") from None


def _event(values: dict[str, str]) -> CalendarEvent:
    release_at = parse_release_at(values["release_at"])
    kind = values["kind"].strip()
    if not KIND_RE.fullmatch(kind):
        raise ValueError(f"kind {kind!r}: use lowercase letters and underscores, e.g. cpi or fomc_decision")
    name = " ".join(values["name"].split())
    if not name:
        raise ValueError("name is empty")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(f"name is {len(name)} characters long; at most {MAX_NAME_CHARS}")
    country = (values.get("country") or "").strip().upper() or "US"
    if not _COUNTRY_RE.fullmatch(country):
        raise ValueError(f"country {country!r}: use a two-letter code such as US")
    return CalendarEvent(release_at=release_at, kind=kind, name=name, country=country)


def parse_calendar(text: str, path: str) -> CalendarFile:
    """Parse a calendar CSV's text. A bad header fails the file; a bad row is one error."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [c.strip().lower() for c in next(reader)]
    except StopIteration:
        raise InputError(
            "empty file", path=path, hint="the first line names the columns: release_at,kind,name[,country]"
        ) from None
    except csv.Error as exc:
        raise InputError(f"unreadable CSV: {exc}", path=path, line=1) from exc
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if missing or unknown or repeated:
        what = "; ".join(
            part
            for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"unknown {', '.join(unknown)}" if unknown else "",
                f"repeated {', '.join(repeated)}" if repeated else "",
            )
            if part
        )
        raise InputError(
            f"header: {what}", path=path, line=1, hint="columns are release_at,kind,name[,country]"
        )
    events: list[CalendarEvent] = []
    errors: list[InputError] = []
    first_line: dict[tuple[str, dt.datetime], int] = {}
    rows = 0
    lineno = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a broken quote: the rest of the file cannot be read reliably
            rows += 1
            errors.append(InputError(f"unreadable CSV from here on: {exc}", path=path, line=lineno))
            break
        line, lineno = lineno, reader.line_num + 1
        if not any(v.strip() for v in values):
            continue
        rows += 1
        if len(values) != len(header):
            errors.append(InputError(f"{len(values)} fields, header has {len(header)}", path=path, line=line))
            continue
        try:
            event = _event(dict(zip(header, values, strict=True)))
        except ValueError as exc:
            errors.append(InputError(str(exc), path=path, line=line))
            continue
        key = (event.kind, event.release_at)
        if key in first_line:
            errors.append(
                InputError(
                    f"repeats the {event.kind} release at that time on line {first_line[key]}",
                    path=path,
                    line=line,
                )
            )
            continue
        first_line[key] = line
        events.append(event)
    return CalendarFile(path=path, rows=rows, events=tuple(events), errors=tuple(errors))


def read_calendar(path: Path) -> CalendarFile:
    """Read and parse ``path`` (UTF-8, a BOM allowed)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 (byte {exc.start})", path=path, hint="re-save the file as UTF-8"
        ) from exc
    return parse_calendar(text, str(path))


def import_calendar(db: Database, path: Path) -> CalendarImport:
    """Merge ``path``'s good rows into ``calendar_events`` (source: the file's name).

    Idempotent: importing the same file again changes nothing. Raises the first row's
    :class:`InputError` when no row is good; otherwise the bad rows come back in ``errors``.
    """
    parsed = read_calendar(path)
    if parsed.errors and not parsed.events:
        first = parsed.errors[0]
        if len(parsed.errors) == 1:
            raise first
        more = len(parsed.errors) - 1
        raise InputError(f"{first} (and {more} more bad rows; nothing imported)", hint=first.hint)
    counts = UpsertCounts()
    if parsed.events:
        with db.write() as con:
            counts = upsert_events(con, parsed.events, source=path.name)
    log.info(
        "%s: %d rows, %d new, %d changed, %d unchanged, %d bad",
        path,
        parsed.rows,
        counts.new,
        counts.changed,
        counts.unchanged,
        len(parsed.errors),
    )
    return CalendarImport(path=str(path), rows=parsed.rows, counts=counts, errors=parsed.errors)
