"""The ``calendar_events`` table: bundled US releases, and rows users import beside them.

Every write goes through one merge keyed on (kind, release_at): a row already there keeps its
``added_at`` unless its name or country really changed, so re-importing a file, or seeding the
bundled rows again in a later migration, is a no-op. ``added_at`` only moves for a new or
changed row, which is what attribution looks at to re-rank flushes near it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from importlib import resources

from flushwatch.records.calendar import BUNDLED, CalendarEvent, StoredCalendarEvent, UpsertCounts
from flushwatch.storage.db import Connection

#: The bundled file, as package data of flushwatch.storage (written by bench/calendar_source.py).
BUNDLED_FILE = "calendar_us.csv"

# Rows to merge are staged in this temp table (one per connection), then merged in two statements.
_STAGE = "_calendar_in"

_MERGE = f"""
INSERT INTO calendar_events (release_at, kind, name, country, source, added_at)
SELECT release_at, kind, name, country, $source, now() FROM {_STAGE}
    ON CONFLICT (kind, release_at) DO UPDATE
   SET name = excluded.name, country = excluded.country, source = excluded.source,
       added_at = excluded.added_at
 WHERE calendar_events.name <> excluded.name OR calendar_events.country <> excluded.country
"""

# Counted before the merge: which staged rows are new, which change a row, which are as stored.
_COUNT = f"""
SELECT count(*) FILTER (WHERE c.kind IS NULL),
       count(*) FILTER (WHERE c.kind IS NOT NULL AND (c.name <> s.name OR c.country <> s.country)),
       count(*) FILTER (WHERE c.kind IS NOT NULL AND c.name = s.name AND c.country = s.country)
  FROM {_STAGE} s
  LEFT JOIN calendar_events c USING (kind, release_at)
"""


def bundled_csv_text() -> str:
    """The bundled calendar as shipped (``release_at,kind,name,country``, times in UTC)."""
    ref = resources.files("flushwatch.storage").joinpath("data", BUNDLED_FILE)
    return ref.read_text(encoding="utf-8")


def seed_bundled(con: Connection) -> UpsertCounts:
    """Merge the bundled releases into ``calendar_events`` (source 'bundled').

    DuckDB reads the package file itself; ``as_file`` gives it a real path even when the
    package is zipped. Safe to call again: unchanged rows stay untouched.
    """
    ref = resources.files("flushwatch.storage").joinpath("data", BUNDLED_FILE)
    with resources.as_file(ref) as path:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {_STAGE} AS
            SELECT CAST(release_at AS TIMESTAMPTZ) AS release_at, kind, name, country
              FROM read_csv($path, header = true, auto_detect = false,
                            columns = {{'release_at': 'VARCHAR', 'kind': 'VARCHAR',
                                        'name': 'VARCHAR', 'country': 'VARCHAR'}})
            """,
            {"path": str(path)},
        )
    return _merge(con, BUNDLED)


def upsert_events(con: Connection, events: Sequence[CalendarEvent], *, source: str) -> UpsertCounts:
    """Merge ``events`` (one per kind and release_at: the caller drops repeats) under ``source``.

    New rows are inserted; a row whose name or country differs is updated and gets a new
    ``added_at`` and ``source``; identical rows are left alone.
    """
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {_STAGE} AS
        SELECT unnest($at::TIMESTAMPTZ[]) AS release_at, unnest($kind::VARCHAR[]) AS kind,
               unnest($name::VARCHAR[]) AS name, unnest($country::VARCHAR[]) AS country
        """,
        {
            "at": [e.release_at for e in events],
            "kind": [e.kind for e in events],
            "name": [e.name for e in events],
            "country": [e.country for e in events],
        },
    )
    return _merge(con, source)


def _merge(con: Connection, source: str) -> UpsertCounts:
    row = con.execute(_COUNT).fetchone()
    new, changed, unchanged = (int(v) for v in row) if row else (0, 0, 0)
    con.execute(_MERGE, {"source": source})
    con.execute(f"DROP TABLE {_STAGE}")
    return UpsertCounts(new=new, changed=changed, unchanged=unchanged)


def list_events(
    con: Connection,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    kinds: Iterable[str] = (),
) -> list[StoredCalendarEvent]:
    """Releases at/after ``since`` and before ``until`` (UTC), of ``kinds`` (all when empty),
    oldest first."""
    rows = con.execute(
        """
        SELECT release_at, kind, name, country, source, added_at
          FROM calendar_events
         WHERE ($since IS NULL OR release_at >= $since)
           AND ($until IS NULL OR release_at < $until)
           AND (len($kinds) = 0 OR list_contains($kinds, kind))
         ORDER BY release_at, kind
        """,
        {"since": since, "until": until, "kinds": list(kinds)},
    ).fetchall()
    return [StoredCalendarEvent(*r) for r in rows]
