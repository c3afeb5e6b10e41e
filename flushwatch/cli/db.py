"""``flushwatch db path|info|migrate`` and ``flushwatch sql``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flushwatch.cli._app import PANEL_DATA, app, db_app
from flushwatch.cli.options import DbOption, FormatOption, LimitOption, OutputFormat, WaitOption, open_db
from flushwatch.cli.output import render, to_json
from flushwatch.config import resolve_db_path

if TYPE_CHECKING:
    from flushwatch.storage.info import DatabaseInfo


@db_app.command("path")
def db_path(db: DbOption = None) -> None:
    """Print where the database file lives.

    Example: [bold]flushwatch db path[/]
    """
    typer.echo(str(resolve_db_path(db)))


_RUN_FIELDS = ("command", "run_id", "started_at", "finished_at", "status", "counts")


def _info_dict(info: DatabaseInfo) -> dict[str, Any]:
    """``db info`` as one JSON object, a key per section."""
    return {
        "path": info.path,
        "size_bytes": info.size_bytes,
        "schema_version": info.schema_version,
        "tables": dict(info.tables),
        "views": info.views,
        "last_runs": [
            dict(zip(_RUN_FIELDS, (*r[:5], json.loads(r[5]) if r[5] else None), strict=True))
            for r in info.last_runs
        ],
    }


def _info_long_rows(info: DatabaseInfo) -> list[tuple[str, str, Any]]:
    """``db info`` as one long table of (section, key, value), for CSV.

    The three sections have different columns, and three CSV blocks in one stream is not a CSV
    file any reader accepts; one row per fact is. A last run's fields are keyed
    ``command.field`` (``ingest.status``).
    """
    rows: list[tuple[str, str, Any]] = [
        ("database", "path", info.path),
        ("database", "size_bytes", info.size_bytes),
        ("database", "schema_version", info.schema_version),
        ("database", "views", ", ".join(info.views)),
    ]
    rows += [("tables", name, n) for name, n in info.tables]
    for run in info.last_runs:
        rows += [
            ("last_run", f"{run[0]}.{field}", value)
            for field, value in zip(_RUN_FIELDS[1:], run[1:], strict=True)
        ]
    return rows


@db_app.command("info")
def db_info(
    db: DbOption = None,
    wait: WaitOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show file size, schema version, rows per table and the last run of each command.

    Creates and migrates the file if it does not exist yet. JSON is one object with a key per
    section; CSV is one table of section,key,value rows.

    Example: [bold]flushwatch db info --format json[/]
    """
    from flushwatch.storage.info import database_info

    info = database_info(open_db(db, wait))
    if fmt is OutputFormat.json:
        typer.echo(to_json(_info_dict(info)))
        return
    if fmt is OutputFormat.csv:
        render(["section", "key", "value"], _info_long_rows(info), fmt)
        return
    head = [
        ("path", info.path),
        ("size", f"{info.size_bytes / 1e6:.2f} MB"),
        ("schema version", info.schema_version),
        ("views", ", ".join(info.views) or "-"),
    ]
    sections: list[tuple[str, list[str], Sequence[Sequence[Any]]]] = [
        ("database", ["property", "value"], head),
        ("tables", ["table", "rows"], info.tables),
        ("last run of each command", list(_RUN_FIELDS), info.last_runs),
    ]
    for i, (title, columns, rows) in enumerate(sections):
        if fmt is OutputFormat.markdown:  # a heading and a blank line end each table
            typer.echo(("\n" if i else "") + f"## {title}\n")
        render(columns, rows, fmt, title=title)


@db_app.command("migrate")
def db_migrate(db: DbOption = None, wait: WaitOption = None) -> None:
    """Create the database or bring it to the current schema version.

    Every flushwatch command does this on first use; run it by hand after an upgrade.

    Example: [bold]flushwatch db migrate --db ~/flush.duckdb[/]
    """
    from flushwatch.storage.db import connect
    from flushwatch.storage.schema import migrate

    database = open_db(db, wait)
    database.path.parent.mkdir(parents=True, exist_ok=True)
    con = connect(database.path, read_only=False, wait_s=database.wait_s)
    try:
        applied = migrate(con, path=database.path)
        from flushwatch.storage.schema import read_version

        version = read_version(con)
    finally:
        con.close()
    if applied:
        typer.echo(f"migrated {database.path} to schema version {version} (applied {applied})")
    else:
        typer.echo(f"{database.path} is at schema version {version}; nothing to do")


@app.command("sql", rich_help_panel=PANEL_DATA)
def sql(
    query: Annotated[str, typer.Argument(help="One SQL query. The database is opened read-only.")],
    db: DbOption = None,
    wait: WaitOption = None,
    fmt: FormatOption = OutputFormat.table,
    limit: LimitOption = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=0,
            metavar="SECONDS",
            help="Stop the query after this long (0: no limit); writers wait while it runs.",
        ),
    ] = 60.0,
    allow_read: Annotated[
        list[Path] | None,
        typer.Option(
            "--allow-read",
            metavar="PATH",
            help="Let the query read this file, or the files under this directory (repeatable). "
            "Nothing else outside the database can be read or written.",
        ),
    ] = None,
) -> None:
    """Run a read-only SQL query against the database.

    One statement: a query (SELECT, SHOW, DESCRIBE, SUMMARIZE), EXPLAIN of one, or a PRAGMA that
    describes the database. The query cannot write, read files or reach the network unless a
    path is named with --allow-read. See docs/views.md.

    Examples: [bold]flushwatch sql "SELECT source, count(*) FROM headlines GROUP BY 1" -f csv[/]
    [bold]flushwatch sql "SELECT * FROM read_csv('prices.csv')" --allow-read prices.csv[/]
    """
    from flushwatch.storage.info import run_readonly_sql

    columns, rows = run_readonly_sql(
        open_db(db, wait, existing=True), query, limit, timeout_s=timeout, allow_read=allow_read or ()
    )
    render(columns, rows, fmt)
