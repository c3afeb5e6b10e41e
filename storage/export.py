"""Partitioned Parquet export for analysts, written beside the live file and swapped in atomically.

Analysts cannot open the DuckDB file while a writer holds it; Parquet files can be read by
anything at any time. The export is written to ``<dir>.tmp-<pid>`` and renamed into place (the
old export is renamed aside first and removed after), so a reader sees the old export or the
new one, never a half-written one.

Because an export replaces its directory whole, it only ever replaces a directory that holds a
marker file written by an earlier export (``MARKER``), or an empty one: ``flushwatch export .``
in a home directory must refuse, not delete it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from flushwatch.errors import InputError, StorageError
from flushwatch.storage.db import Database

#: dataset -> (SELECT, partition columns). Partition columns are added by the SELECT.
DATASETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "candles": (
        "SELECT *, strftime(open_time, '%Y-%m') AS month FROM candles",
        ("symbol", "interval", "month"),
    ),
    "liquidations": (
        "SELECT *, strftime(event_time, '%Y-%m') AS month FROM liquidations",
        ("symbol", "month"),
    ),
    "headlines": (
        "SELECT *, strftime(coalesce(published_at, first_seen_at), '%Y-%m') AS month FROM v_headlines",
        ("month",),
    ),
    "funding_rates": ("SELECT * FROM funding_rates", ()),
    "open_interest": ("SELECT * FROM open_interest", ()),
    "flushes": ("SELECT * FROM v_flushes", ()),
    "catalysts": ("SELECT * FROM v_catalysts", ()),
}


#: Written into every export; only a directory holding it (or an empty one) is replaced.
MARKER = ".flushwatch-export"
_MARKER_TEXT = "flushwatch parquet export: this directory is replaced whole by the next export\n"


@dataclass(frozen=True)
class ExportResult:
    path: Path
    rows: dict[str, int]


def export_parquet(db: Database, out_dir: Path) -> ExportResult:
    """Write every dataset under ``out_dir/<dataset>/`` (hive partitions) and swap it in."""
    out_dir = out_dir.expanduser().resolve()
    _check_replaceable(out_dir, db.path.expanduser().resolve())
    tmp = out_dir.with_name(f"{out_dir.name}.tmp-{os.getpid()}")
    old = out_dir.with_name(f"{out_dir.name}.old-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    (tmp / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
    rows: dict[str, int] = {}
    try:
        with db.read() as con:
            for name, (select, parts) in DATASETS.items():
                row = con.execute(f"SELECT count(*) FROM ({select})").fetchone()
                rows[name] = int(row[0]) if row else 0
                target = tmp / name
                if rows[name] == 0:
                    target.mkdir()
                    continue
                if parts:
                    by = ", ".join(parts)
                    options = f"FORMAT parquet, PARTITION_BY ({by})"
                    con.execute(f"COPY ({select}) TO {_sql_str(target)} ({options})")
                else:
                    target.mkdir()
                    con.execute(f"COPY ({select}) TO {_sql_str(target / 'data.parquet')} (FORMAT parquet)")
        if out_dir.exists():
            out_dir.rename(old)
        tmp.rename(out_dir)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StorageError(f"cannot write export to {out_dir}: {exc}", path=out_dir) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return ExportResult(out_dir, rows)


def _check_replaceable(out_dir: Path, db_file: Path) -> None:
    """Refuse a directory the export would destroy: one holding the database, or anything but
    an earlier export or nothing."""
    if db_file == out_dir or out_dir in db_file.parents:
        raise InputError(
            f"export directory {out_dir} holds the database {db_file}",
            hint="export to a directory of its own, e.g. ./flushwatch-export",
        )
    if out_dir.is_file():
        raise InputError(f"export directory {out_dir} is a file", hint="give a directory")
    if out_dir.is_dir() and not (out_dir / MARKER).is_file() and any(out_dir.iterdir()):
        raise InputError(
            f"export directory {out_dir} is not empty and holds no earlier flushwatch export",
            hint="an export replaces its directory whole: give a new or empty directory",
        )


def _sql_str(path: Path) -> str:
    """``path`` as a SQL string literal (a quote in a directory name must not end it)."""
    return "'" + str(path).replace("'", "''") + "'"
