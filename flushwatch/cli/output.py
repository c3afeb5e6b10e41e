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
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from flushwatch.cli.options import OutputFormat


def iso_duration(value: dt.timedelta) -> str:
    """``value`` as an ISO-8601 duration ('PT5M', 'P1DT0.000001S', '-PT5M').

    The JSON form of a DuckDB INTERVAL: self-describing (a bare number of seconds reads as any
    number) and parsed by most libraries. ``str(timedelta)`` is not: '-1 day, 23:55:00' means
    minus five minutes. DuckDB hands months over as 30 days, so '2 months' comes out as P60D.
    """
    us = value // dt.timedelta(microseconds=1)
    sign = "-" if us < 0 else ""
    days, us = divmod(abs(us), 86_400_000_000)
    hours, us = divmod(us, 3_600_000_000)
    minutes, us = divmod(us, 60_000_000)
    seconds, us = divmod(us, 1_000_000)
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    if seconds or us:
        clock += (f"{seconds}.{us:06d}".rstrip("0") if us else str(seconds)) + "S"
    if not days and not clock:
        return "PT0S"
    return f"{sign}P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")


def _plain(value: Any) -> Any:
    """A JSON-safe, stable form of a DuckDB value.

    Every type DuckDB hands to Python has one: times as ISO strings (UTC with 'Z' when aware),
    intervals as ISO-8601 durations, blobs as lowercase hex, UUIDs as their string. An unknown
    type falls back to ``str`` rather than a TypeError halfway through a JSON document.
    """
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
            return value.isoformat().replace("+00:00", "Z")
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return iso_duration(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)


def _cell(value: Any, *, rounded: bool = False) -> str:
    """One CSV, Markdown or table cell.

    Only the table (for reading) rounds floats to 6 significant digits; CSV and Markdown feed
    other programs, so they carry the float's shortest exact form (``repr``: 114319.2, not
    114319) and a DECIMAL's exact digits.
    """
    if isinstance(value, Decimal) and value.is_finite() and not rounded:
        return str(value)
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}" if rounded else repr(value)
    if isinstance(value, list):
        return ", ".join(_cell(v, rounded=rounded) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def unique_names(columns: Sequence[str]) -> list[str]:
    """``columns`` with repeats renamed ``a``, ``a_2``, ``a_3``: JSON objects cannot hold a key twice.

    ``SELECT 1 a, 2 a`` would otherwise come out as ``{"a": 2}``, silently dropping a column. A
    new name never takes one that a later column already has.
    """
    taken = set(columns)
    used: set[str] = set()
    out = []
    for name in columns:
        if name in used:
            n = 2
            while f"{name}_{n}" in taken or f"{name}_{n}" in used:
                n += 1
            name = f"{name}_{n}"
        used.add(name)
        out.append(name)
    return out


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
        names = unique_names(columns)
        out.write(to_json([dict(zip(names, r, strict=True)) for r in rows]) + "\n")
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
        from rich.text import Text

        console = Console(file=out, soft_wrap=False)
        table = Table(title=title, show_lines=False, header_style="bold")
        for c in columns:
            table.add_column(c, overflow="fold")
        for r in rows:
            # Text, not markup: a title holding "[/]" or "[bold]" is data, shown as typed.
            table.add_row(*[Text(_cell(v, rounded=True)) for v in r])
        console.print(table)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(esc(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(esc(_cell(v)) for v in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"
