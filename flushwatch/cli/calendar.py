"""``flushwatch calendar import|list``: the macro release calendar. Thin: parse options, call
one library function, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flushwatch.cli._app import calendar_app
from flushwatch.cli.options import DbOption, FormatOption, LimitOption, OutputFormat, WaitOption, open_db
from flushwatch.cli.output import render
from flushwatch.errors import ConfigError, PartialFailure
from flushwatch.timeparse import parse_instant, parse_since

#: Bad rows shown one line each; past this many, one line says how many more there were.
MAX_SHOWN_ERRORS = 10


@calendar_app.command("import")
def import_cmd(
    file: Annotated[
        Path,
        typer.Argument(help="CSV with release_at,kind,name[,country].", dir_okay=False, metavar="FILE"),
    ],
    db: DbOption = None,
    wait: WaitOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Add or correct releases from a CSV: release_at,kind,name[,country].

    release_at is ISO-8601 with Z or an offset (2024-03-12T12:30:00Z, 2024-03-12T08:30-04:00),
    stored in UTC; a time without a zone is refused. kind is one of the bundled kinds (cpi, ppi,
    jobs, fomc_decision, fomc_minutes, pce, gdp, retail_sales) or any other lowercase_name;
    country defaults to US. A row with the kind and time of a stored one updates its name and
    country. Importing a file again changes nothing.

    Each bad row is reported as FILE:LINE on stderr and the good rows are kept (exit 3); a file
    with no good row stores nothing (exit 1).

    Example: [bold]flushwatch calendar import ecb.csv[/]
    """
    from flushwatch.ingest.calendar import import_calendar

    database = open_db(db, wait)
    with database.run("calendar import") as run:
        result = import_calendar(database, file)
        run.add("rows", result.rows)
        run.add("rows_new", result.counts.new)
        run.add("rows_changed", result.counts.changed)
        run.add("rows_bad", len(result.errors))
        c = result.counts
        render(
            ["file", "rows", "new", "changed", "unchanged", "bad"],
            [(file.name, result.rows, c.new, c.changed, c.unchanged, len(result.errors))],
            fmt,
            title="imported releases",
        )
        if result.errors:
            for err in result.errors[:MAX_SHOWN_ERRORS]:
                typer.echo(err.one_line(), err=True)
            if len(result.errors) > MAX_SHOWN_ERRORS:
                typer.echo(f"... and {len(result.errors) - MAX_SHOWN_ERRORS} more bad rows", err=True)
            raise PartialFailure(
                f"{len(result.errors)} of {result.rows} rows of {file} not imported (bad rows above)",
                [str(e) for e in result.errors],
            )


@calendar_app.command("list")
def list_cmd(
    since: Annotated[
        str | None, typer.Option("--since", help="Releases from this long ago on: 24h, 30d, or a UTC time.")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Releases at/after (UTC date/time; may be in the future).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Releases before (UTC date/time).")] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option(
            "--kind", metavar="KIND", help="Only this kind, e.g. cpi (repeatable, or comma-separated)."
        ),
    ] = None,
    db: DbOption = None,
    wait: WaitOption = None,
    fmt: FormatOption = OutputFormat.table,
    limit: LimitOption = None,
) -> None:
    """List releases, oldest first: time (UTC), kind, name, country, source (bundled or the file
    imported last over it) and when the row was added or last changed.

    Example: [bold]flushwatch calendar list --from 2026-01-01 --kind cpi --kind fomc_decision[/]
    """
    from flushwatch.records.calendar import KIND_RE
    from flushwatch.storage.calendar import list_events

    if since and (start or end):
        raise ConfigError("use either --since or --from/--to, not both")
    kinds = [k.strip().lower() for item in kind or () for k in item.split(",") if k.strip()]
    bad = [k for k in kinds if not KIND_RE.fullmatch(k)]
    if bad:
        raise ConfigError(f"--kind {bad[0]!r}: kinds are lowercase letters and underscores, e.g. cpi")
    with open_db(db, wait, existing=True).read() as con:
        found = list_events(
            con,
            since=parse_since(since) if since else (parse_instant(start, "--from") if start else None),
            until=parse_instant(end, "--to") if end else None,
            kinds=kinds,
        )
    shown = found if limit is None else found[:limit]
    if fmt is OutputFormat.table:
        # Narrow enough for a terminal or cron mail; csv, json and markdown carry every column.
        render(
            ["release (UTC)", "kind", "name", "source"],
            [(f"{e.release_at:%Y-%m-%d %H:%M}", e.kind, e.name, e.source) for e in shown],
            fmt,
            title="releases",
        )
        return
    render(
        ["release_at", "kind", "name", "country", "source", "added_at"],
        [(e.release_at, e.kind, e.name, e.country, e.source, e.added_at) for e in shown],
        fmt,
    )
