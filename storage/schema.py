"""The schema and its numbered migrations.

The tables live as readable, commented SQL in ``storage/sql/``: one file per domain
(``00_core.sql`` … ``50_calendar.sql``) and the analyst views in ``90_views.sql``. Migration 1
creates them all. Each later change is one small numbered :class:`Migration` with a comment
saying why. ``migrate`` applies every pending migration and re-creates the views in a single
transaction, and records each step in ``schema_version``. A file whose version is newer than
this code knows is refused (:class:`SchemaTooNew`): writing to it could corrupt it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb

from flushwatch.errors import SchemaTooNew, StorageError
from flushwatch.storage.calendar import seed_bundled

Connection = duckdb.DuckDBPyConnection

TABLE_FILES = (
    "00_core.sql",
    "10_news.sql",
    "20_scores.sql",
    "30_market.sql",
    "40_flushes.sql",
    "50_calendar.sql",
    "60_embeddings.sql",
)
VIEWS_FILE = "90_views.sql"


def sql_text(name: str) -> str:
    return resources.files("flushwatch.storage").joinpath("sql", name).read_text(encoding="utf-8")


def _execute_script(con: Connection, script: str) -> None:
    """Run a multi-statement SQL script (DuckDB's execute takes several statements)."""
    if script.strip():
        con.execute(script)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def _v1_initial(con: Connection) -> None:
    # Why: the first schema, every table later stages fill (see docs/schema.md).
    for name in TABLE_FILES:
        _execute_script(con, sql_text(name))


def _v2_rules_revision(con: Connection) -> None:
    # Why: rule changes keep the model revision, so each score row records which rules and
    # importance weights wrote its rule fields; `score --refresh-rules` recomputes rows whose
    # fingerprint is not the current one. Rows from before are NULL (unknown: refreshed once).
    # 20_scores.sql declares the column too, so a new file already has it.
    con.execute("ALTER TABLE headline_scores ADD COLUMN IF NOT EXISTS rules_revision VARCHAR")


def _v3_market_changes(con: Connection) -> None:
    # Why: an incremental detect only looked past each series' watermark, so a backfill of
    # older candles, or liquidations imported after their candles were detected, were never
    # detected without --full. market_changes lists such writes for the next detect. The
    # views change too (re-created after the steps): v_flushes and v_catalysts repeated a
    # flush once per attribution version kept after an upgrade; v_candles_1h bucketed hours in
    # the session's time zone. 40_flushes.sql declares the table too, for new files.
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS market_changes (
            tbl VARCHAR NOT NULL, venue VARCHAR NOT NULL, symbol VARCHAR NOT NULL,
            from_at TIMESTAMPTZ NOT NULL, to_at TIMESTAMPTZ NOT NULL, run_id BIGINT,
            changed_at TIMESTAMPTZ NOT NULL)
        """
    )


def _v4_calendar(con: Connection) -> None:
    # Why: scheduled US releases (CPI at 8:30 ET, FOMC at 14:00 ET, ...) move crypto, so a
    # flush minutes after one has a cause that no headline may carry yet. calendar_events holds
    # them, seeded here with the bundled releases (2017-2026, docs/calendar.md); added_at lets
    # attribution re-rank flushes near rows added after they were attributed. The v_calendar
    # view is new too. 50_calendar.sql declares the table too, for new files.
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS calendar_events (
            release_at TIMESTAMPTZ NOT NULL, kind VARCHAR NOT NULL, name VARCHAR NOT NULL,
            country VARCHAR NOT NULL DEFAULT 'US', source VARCHAR NOT NULL,
            added_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (kind, release_at))
        """
    )
    seed_bundled(con)


def _v5_story_vectors(con: Connection) -> None:
    # Why: ingest's title-token stories barely merge paraphrases from different outlets (7,768
    # headlines made 7,627 stories in the 2021-22 set), so every echo got a first report's
    # novelty. Scoring now stores a story vector per headline (headline_embeddings) and
    # re-clusters the headlines it scores by them; stories record which method made them and
    # what an event needs: last report, echoes, echoes in the first hour. Existing stories
    # are filled in from their headlines. 60_embeddings.sql and 10_news.sql declare the table
    # and columns too, for new files.
    con.execute(
        """
        CREATE TABLE IF NOT EXISTS headline_embeddings (
            headline_id BIGINT NOT NULL, encoder VARCHAR NOT NULL, model_name VARCHAR NOT NULL,
            model_revision VARCHAR NOT NULL, layer TINYINT NOT NULL, embedding TINYINT[] NOT NULL,
            scale FLOAT NOT NULL, run_id BIGINT, PRIMARY KEY (headline_id, encoder))
        """
    )
    for column, kind in (
        ("method", "VARCHAR"),
        ("last_reported_at", "TIMESTAMPTZ"),
        ("echo_count", "INTEGER"),
        ("burst_rate", "DOUBLE"),
    ):
        con.execute(f"ALTER TABLE stories ADD COLUMN IF NOT EXISTS {column} {kind}")
    con.execute(
        """
        UPDATE stories AS st
           SET method = 'tokens', last_reported_at = agg.last_at, echo_count = agg.n - 1,
               burst_rate = agg.first_hour - 1
          FROM (SELECT story_id, max(t) AS last_at, count(*) AS n,
                       count(*) FILTER (WHERE t <= t0 + INTERVAL 1 HOUR) AS first_hour
                  FROM (SELECT story_id, coalesce(published_at, first_seen_at) AS t,
                               min(coalesce(published_at, first_seen_at)) OVER (PARTITION BY story_id) AS t0
                          FROM headlines WHERE story_id IS NOT NULL)
                 GROUP BY story_id) AS agg
         WHERE st.story_id = agg.story_id
        """
    )


def _v6_verdict(con: Connection) -> None:
    # Why: attribution (attr-3) says how sure it is. Each flush stores a verdict (likely,
    # possible, none: no convincing catalyst) and the calibrated probability that its rank-1
    # catalyst is the cause; NULL until the next detect re-ranks it under attr-3.
    # 40_flushes.sql declares the columns too, for new files.
    # A scheduled release is a candidate too, before any headline reports it: catalysts rows
    # name a headline or a release, so headline_id becomes optional and the key is the rank.
    # DuckDB cannot alter a primary key: the table is rebuilt with its rows, in this transaction.
    con.execute("ALTER TABLE flushes ADD COLUMN IF NOT EXISTS verdict VARCHAR")
    con.execute("ALTER TABLE flushes ADD COLUMN IF NOT EXISTS cause_probability DOUBLE")
    # Flushes of several assets and intervals at the same time form one market event.
    con.execute("ALTER TABLE flushes ADD COLUMN IF NOT EXISTS market_event_id BIGINT")
    con.execute("ALTER TABLE catalysts RENAME TO catalysts_v5")
    ddl = sql_text("40_flushes.sql")
    start = ddl.index("CREATE TABLE catalysts (")
    con.execute(ddl[start : ddl.index(");", start) + 2])
    con.execute(
        """
        INSERT INTO catalysts (flush_id, headline_id, attribution_version, rank, score, is_coverage,
                               components, headline_time, delay_s, run_id)
        SELECT flush_id, headline_id, attribution_version, rank, score, is_coverage,
               components, headline_time, delay_s, run_id
          FROM catalysts_v5
        """
    )
    con.execute("DROP TABLE catalysts_v5")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", _v1_initial),
    Migration(2, "headline_scores.rules_revision", _v2_rules_revision),
    Migration(3, "market_changes for detect; views: newest attribution, UTC hours", _v3_market_changes),
    Migration(4, "calendar_events, seeded with the bundled US releases; v_calendar", _v4_calendar),
    Migration(5, "headline_embeddings; stories: method, last report, echoes, burst rate", _v5_story_vectors),
    Migration(
        6, "flushes: verdict, cause_probability, market_event_id; catalysts name releases", _v6_verdict
    ),
)
CURRENT_VERSION = MIGRATIONS[-1].version


def apply_views(con: Connection) -> None:
    _execute_script(con, sql_text(VIEWS_FILE))


def read_version(con: Connection) -> int:
    """The file's schema version; 0 for a new, empty file."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def migrate(
    con: Connection,
    *,
    path: Path | str = "database",
    migrations: Sequence[Migration] = MIGRATIONS,
    views: Callable[[Connection], None] = apply_views,
) -> list[int]:
    """Bring the file up to the newest migration; return the versions applied.

    All pending steps, the views and their ``schema_version`` rows commit together or not at
    all, so a crash mid-migration leaves the file at its old version.
    """
    latest = migrations[-1].version if migrations else 0
    current = read_version(con)
    if current > latest:
        raise SchemaTooNew(path, current, latest)
    pending = [m for m in migrations if m.version > current]
    if not pending:
        return []
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_version (
                version     INTEGER PRIMARY KEY,
                applied_at  TIMESTAMPTZ NOT NULL,
                description VARCHAR NOT NULL
            )
            """
        )
        for step in pending:
            step.apply(con)
            con.execute("INSERT INTO schema_version VALUES (?, now(), ?)", [step.version, step.description])
        views(con)
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise StorageError(f"migrating {path} failed: {exc}", path=path) from exc
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    return [m.version for m in pending]
