"""Reading a test's DuckDB file the way an analyst would: a read-only connection, closed after."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb


def fetch(path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """All rows of ``sql`` on the database file at ``path``, opened read-only."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()
