"""Options shared by many commands, and the helpers that turn them into library objects."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from flushwatch.config import resolve_db_path, resolve_snapshot, resolve_wait
from flushwatch.storage.db import Database


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    markdown = "markdown"


DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        metavar="PATH",
        help="DuckDB file. Default: $FLUSHWATCH_DB, else the config file, else the user data dir.",
        show_default=False,
        dir_okay=False,
    ),
]
WaitOption = Annotated[
    float | None,
    typer.Option(
        "--wait",
        help="Seconds to wait while another process holds the database, then exit 75. "
        "Default: $FLUSHWATCH_WAIT, else 30.",
        show_default=False,
        min=0,
        metavar="SECONDS",
    ),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option(
        "--format",
        "-f",
        help="Output format. table rounds floats for reading; csv, json and markdown keep full precision, "
        "with times as ISO-8601, intervals as ISO-8601 durations (PT5M), blobs as hex.",
        case_sensitive=False,
    ),
]
LimitOption = Annotated[
    int | None,
    typer.Option(
        "--limit", "-n", help="Show at most this many rows.", min=0, show_default=False, metavar="N"
    ),
]


def open_db(db: Path | None, wait: float | None, *, existing: bool = False) -> Database:
    """The Database the options point at (nothing is opened yet).

    ``existing``: the command only reads, so a missing file is a mistyped path, not a database
    to create (``sql --db /tmp/typo.duckdb`` would otherwise create an empty one and answer
    from it).
    """
    path = resolve_db_path(db)
    if existing and not path.exists():
        from flushwatch.errors import InputError

        raise InputError(
            f"no database at {path}",
            hint="check --db or FLUSHWATCH_DB: flushwatch db path shows where it is looked for, "
            "and ingest or import creates it",
        )
    return Database(path, wait_s=resolve_wait(wait), snapshot=resolve_snapshot())
