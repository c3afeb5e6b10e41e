"""Rendering rows as a table, CSV, JSON or Markdown.

Results go to stdout, diagnostics to stderr. Off a terminal there is no colour and no
progress bar, so cron mail and pipes get plain text.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from flushwatch.cli.options import OutputFormat


def _plain(value: Any) -> Any:
    """A JSON-safe, stable form of a DuckDB value."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
            return value.isoformat().replace("+00:00", "Z")
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def clip(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` characters at a word boundary, marked with an ellipsis.

    A narrow table cell must still read as words: a title cut mid-word ("tariff threa") looks
    like a typo in the headline.
    """
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    if " " in cut and not text[width - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-—") + "…"


def to_json(data: Any) -> str:
    return json.dumps(_plain(data), indent=2, ensure_ascii=False, sort_keys=False)


def render(
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: OutputFormat = OutputFormat.table,
    *,
    title: str | None = None,
    out: Any = None,
) -> None:
    """Write ``rows`` to ``out`` (stdout) in ``fmt``."""
    out = out or sys.stdout
    if fmt is OutputFormat.json:
        out.write(to_json([dict(zip(columns, r, strict=True)) for r in rows]) + "\n")
    elif fmt is OutputFormat.csv:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for r in rows:
            writer.writerow([_cell(v) for v in r])
    elif fmt is OutputFormat.markdown:
        out.write(markdown_table(columns, rows))
    else:
        from rich.console import Console
        from rich.table import Table

        console = Console(file=out, soft_wrap=False)
        table = Table(title=title, show_lines=False, header_style="bold")
        for c in columns:
            table.add_column(c, overflow="fold")
        for r in rows:
            table.add_row(*[_cell(v) for v in r])
        console.print(table)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(esc(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(esc(_cell(v)) for v in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
