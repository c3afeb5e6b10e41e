"""Partitioned Parquet export for analysts, written beside the live file and swapped in atomically.

Analysts cannot open the DuckDB file while a writer holds it; Parquet files can be read by
anything at any time. The export is written to ``<dir>.tmp-<pid>`` and renamed into place (the
old export is renamed aside first and removed after), so a reader sees the old export or the
new one, never a half-written one.

Because an export replaces its directory whole, it only ever replaces a directory that holds a
marker file written by an earlier export (``MARKER``), or an empty one: ``flushwatch export .``
in a home directory must refuse, not delete it. Like every output it passes
:func:`flushwatch.atomic.check_output_path` first: never the database's folder, a file, a device.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from flushwatch.atomic import check_output_path, database_files
from flushwatch.errors import OutputError
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
    out_dir = _check_replaceable(out_dir, db.path)
    tmp = out_dir.with_name(f"{out_dir.name}.tmp-{os.getpid()}")
    old = out_dir.with_name(f"{out_dir.name}.old-{os.getpid()}")
    rows: dict[str, int] = {}
    try:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp)  # left by a killed export of this same pid
        tmp.mkdir(parents=True)
        (tmp / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
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
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(
            f"cannot write export to {out_dir}: {exc.strerror or exc}",
            path=out_dir,
            hint="give a directory in a folder you can write to",
        ) from exc
    except BaseException:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return ExportResult(out_dir, rows)


def _check_replaceable(out_dir: Path, db_file: Path) -> Path:
    """Refuse a directory the export would destroy: one holding the database's files, anything
    that is not a directory, or a directory that is neither an earlier export nor empty.
    Returns the directory with links resolved."""
    real = check_output_path(out_dir, protected=database_files(db_file), replaces="directory")
    try:
        foreign = real.is_dir() and not (real / MARKER).is_file() and any(real.iterdir())
    except OSError as exc:
        raise OutputError(
            f"cannot read export directory {out_dir}: {exc.strerror or exc}", path=out_dir
        ) from exc
    if foreign:
        raise OutputError(
            f"export directory {out_dir} is not empty and holds no earlier flushwatch export",
            path=out_dir,
            hint="an export replaces its directory whole: give a new or empty directory",
        )
    return real


def _sql_str(path: Path) -> str:
    """``path`` as a SQL string literal (a quote in a directory name must not end it)."""
    return "'" + str(path).replace("'", "''") + "'"
