"""Options shared by many commands, and the helpers that turn them into library objects."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from flushwatch.config import resolve_db_path, resolve_wait
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
    ),
]
FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", "-f", help="Output format.", case_sensitive=False),
]
LimitOption = Annotated[
    int | None,
    typer.Option("--limit", "-n", help="Show at most this many rows.", min=0, show_default=False),
]


def open_db(db: Path | None, wait: float | None) -> Database:
    """The Database the options point at (nothing is opened yet)."""
    return Database(resolve_db_path(db), wait_s=resolve_wait(wait))
