"""The CLI's own contract: help everywhere, db commands, sql, exit codes and error lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
import typer

from flushwatch import __version__
from flushwatch.storage.schema import CURRENT_VERSION


def _all_commands() -> list[tuple[list[str], Any]]:
    """Every command and group, by path. (typer vendors its own click, so walk by duck typing.)"""
    from flushwatch.cli.main import app

    root = typer.main.get_command(app)
    found: list[tuple[list[str], Any]] = []

    def walk(cmd: Any, path: list[str]) -> None:
        found.append((path, cmd))
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])

    walk(root, [])
    return found


def test_every_command_has_help_with_an_example(cli) -> None:
    commands = _all_commands()
    assert len(commands) >= 8
    for path, cmd in commands:
        result = cli(*path, "--help")
        assert result.code == 0, (path, result.err)
        assert "Usage" in result.out
        if hasattr(cmd, "commands"):
            assert (cmd.help or "").strip(), f"group {path} has no help"
        else:
            assert "Example" in (cmd.help or ""), f"`flushwatch {' '.join(path)}` has no example in its help"
    short = cli("-h")
    assert short.code == 0 and "Usage" in short.out


def test_reflow_joins_hard_breaks_and_keeps_preformatted_paragraphs() -> None:
    from flushwatch.cli._app import reflow

    text = "First line\nof the summary.\n\nBody wrapped\n  at the source.\n\nA body\nwrapped at 90.\n\n"
    text += "- a list\n- kept\n\nExamples: flushwatch a\nflushwatch b"
    assert reflow(text) == (
        "First line of the summary.\n\nBody wrapped\n  at the source.\n\nA body wrapped at 90.\n\n"
        "- a list\n- kept\n\nExamples: flushwatch a\nflushwatch b"
    )
    assert reflow(None) is None and reflow("") == ""


def test_help_text_fills_an_80_column_terminal(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every help description wraps at the terminal's width, not at the docstring's: inside a
    paragraph, each line but the last is filled (no break mid-sentence after a few words)."""
    monkeypatch.setenv("COLUMNS", "80")
    for path, _ in _all_commands():
        out = cli(*path, "--help").out
        body = out.split("Usage:", 1)[1].split("\n", 1)[1].split("╭", 1)[0]  # up to the options box
        paragraphs: list[list[str]] = [[]]
        for line in body.split("\n"):
            if line.strip():
                paragraphs[-1].append(line.rstrip())
            elif paragraphs[-1]:
                paragraphs.append([])
        for lines in paragraphs:
            if not lines or lines[0].lstrip().startswith("Example"):
                continue
            short = [line for line in lines[:-1] if len(line) < 55]
            assert not short, f"`flushwatch {' '.join(path)} --help` breaks early: {short}"


def test_config_section_names_survive_rich_markup(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Help renders rich markup, where ``[model]`` would be read as a style and vanish: a config
    section named in any help text must be escaped and must show in the rendered help."""
    import re

    monkeypatch.setenv("COLUMNS", "200")
    styles = {"bold", "dim", "italic", "red", "green", "yellow", "cyan"}
    seen = 0
    for path, cmd in _all_commands():
        texts = [cmd.help or "", *(getattr(p, "help", None) or "" for p in cmd.params)]
        out = cli(*path, "--help").out
        for text in texts:
            for m in re.finditer(r"(\\?)\[([a-z_]+)\]", text):
                if m.group(2) in styles:
                    continue
                assert m.group(1), f"`flushwatch {' '.join(path)}`: unescaped [{m.group(2)}] in {text!r}"
                assert f"[{m.group(2)}]" in out
                seen += 1
    assert seen >= 4  # [model] twice, [market], [detect], [attribution]


def test_version(cli) -> None:
    result = cli("--version")
    assert result.code == 0 and result.out.strip() == f"flushwatch {__version__}"


def test_db_path_follows_option_and_env(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("db", "path", "--db", str(tmp_path / "a.duckdb")).out.strip() == str(tmp_path / "a.duckdb")
    monkeypatch.setenv("FLUSHWATCH_DB", str(tmp_path / "b.duckdb"))
    assert cli("db", "path").out.strip() == str(tmp_path / "b.duckdb")


def test_db_info_on_a_new_file_shows_version_and_empty_tables(cli, db_path: Path) -> None:
    result = cli("db", "info", "--db", str(db_path), "--format", "json")
    assert result.code == 0, result.err
    info = json.loads(result.out)
    assert info["schema_version"] == CURRENT_VERSION
    assert info["tables"]["headlines"] == 0 and info["tables"]["candles"] == 0
    assert info["size_bytes"] > 0
    table = cli("db", "info", "--db", str(db_path))
    assert "schema version" in table.out and "headline_scores" in table.out


def test_db_migrate_is_idempotent(cli, db_path: Path) -> None:
    first = cli("db", "migrate", "--db", str(db_path))
    assert first.code == 0 and f"schema version {CURRENT_VERSION}" in first.out
    second = cli("db", "migrate", "--db", str(db_path))
    assert second.code == 0 and "nothing to do" in second.out


@pytest.fixture
def made_db(cli, db_path: Path) -> Path:
    """A migrated database file at ``db_path``: read-only commands refuse a missing one."""
    assert cli("db", "migrate", "--db", str(db_path)).code == 0
    return db_path


def test_read_only_commands_refuse_a_missing_file_and_create_nothing(cli, tmp_path: Path) -> None:
    typo = tmp_path / "typo" / "fw.duckdb"
    for args in (["sql", "SELECT 1"], ["flushes"], ["explain", "1"], ["digest", "--date", "2025-10-10"],
                 ["export", str(tmp_path / "out")]):
        result = cli(*args, "--db", str(typo))
        assert result.code == 1, (args, result.err)
        assert result.err.startswith(f"flushwatch: error: no database at {typo}"), result.err
    assert not typo.parent.exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("fmt", ["table", "csv", "json", "markdown"])
def test_sql_formats(cli, made_db: Path, fmt: str) -> None:
    db_path = made_db
    result = cli("sql", "SELECT 1 AS one, 'x|y' AS two, TIMESTAMPTZ '2024-08-05 06:15:00+00' AS t",
                 "--db", str(db_path), "--format", fmt)
    assert result.code == 0, result.err
    if fmt == "json":
        assert json.loads(result.out) == [{"one": 1, "two": "x|y", "t": "2024-08-05T06:15:00Z"}]
    elif fmt == "csv":
        assert result.out.splitlines() == ["one,two,t", "1,x|y,2024-08-05T06:15:00Z"]
    elif fmt == "markdown":
        assert result.out.splitlines()[0] == "| one | two | t |"
        assert "x\\|y" in result.out
    else:
        assert "one" in result.out and "2024-08-05T06:15:00Z" in result.out


def test_csv_and_markdown_keep_full_float_precision_only_the_table_rounds(cli, made_db: Path) -> None:
    query = "SELECT 114319.2::DOUBLE x, 842565123.5::DOUBLE y, 123456789012345678.123::DECIMAL(38, 3) d"
    args = ("sql", query, "--db", str(made_db))
    assert cli(*args, "-f", "csv").out.splitlines() == [
        "x,y,d",
        "114319.2,842565123.5,123456789012345678.123",
    ]
    assert "| 114319.2 | 842565123.5 | 123456789012345678.123 |" in cli(*args, "-f", "markdown").out
    assert json.loads(cli(*args, "-f", "json").out)[0]["x"] == 114319.2
    table = cli(*args).out
    assert "114319 " in table and "8.42565e+08" in table


def test_sql_json_gives_every_type_a_stable_form_and_keeps_repeated_columns(cli, made_db: Path) -> None:
    query = (
        "SELECT INTERVAL 5 MINUTE i, INTERVAL '-90 seconds' neg, TIME '10:00' t, TIMETZ '10:00:00+02' tz, "
        "'a'::BLOB b, '6ba7b810-9dad-11d1-80b4-00c04fd430c8'::UUID u, 1 a, 2 a, 3 a_2"
    )
    result = cli("sql", query, "--db", str(made_db), "-f", "json")
    assert result.code == 0 and "Traceback" not in result.err, result.err
    assert json.loads(result.out) == [
        {
            "i": "PT5M",
            "neg": "-PT1M30S",
            "t": "10:00:00",
            "tz": "10:00:00+02:00",
            "b": "61",
            "u": "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
            "a": 1,
            "a_3": 2,  # a_2 is taken by a later column
            "a_2": 3,
        }
    ]
    csv_out = cli("sql", query, "--db", str(made_db), "-f", "csv").out.splitlines()
    assert csv_out[0] == "i,neg,t,tz,b,u,a,a,a_2"  # CSV headers may repeat
    assert csv_out[1].startswith("PT5M,-PT1M30S,10:00:00,10:00:00+02:00,61,6ba7b810-")


@pytest.mark.parametrize(
    ("delta", "iso"),
    [
        ({"seconds": 0}, "PT0S"),
        ({"days": 60}, "P60D"),
        ({"days": 1, "microseconds": 1}, "P1DT0.000001S"),
        ({"hours": 2, "seconds": 10}, "PT2H10S"),
        ({"seconds": 1.5}, "PT1.5S"),
        ({"minutes": -5}, "-PT5M"),
    ],
)
def test_intervals_are_iso_8601_durations(delta: dict[str, float], iso: str) -> None:
    import datetime as dt

    from flushwatch.cli.output import iso_duration

    assert iso_duration(dt.timedelta(**delta)) == iso


def test_db_info_csv_is_one_table_and_markdown_has_a_heading_per_section(cli, db_path: Path) -> None:
    import csv

    from flushwatch.storage.db import Database
    from flushwatch.storage.runs import track_run

    with track_run(Database(db_path, wait_s=5, snapshot=False), "ingest", "") as run:
        run.add("new", 3)
    result = cli("db", "info", "--db", str(db_path), "-f", "csv")
    assert result.code == 0, result.err
    rows = list(csv.reader(result.out.splitlines()))
    assert rows[0] == ["section", "key", "value"] and all(len(r) == 3 for r in rows)
    assert ["database", "schema_version", str(CURRENT_VERSION)] in rows
    assert ["tables", "headlines", "0"] in rows
    assert ["last_run", "ingest.status", "ok"] in rows
    assert ["last_run", "ingest.counts", '{"new": 3}'] in rows
    assert {r[0] for r in rows[1:]} == {"database", "tables", "last_run"}
    md = cli("db", "info", "--db", str(db_path), "-f", "markdown").out
    assert md.startswith("## database\n\n| property | value |")
    assert "\n\n## tables\n\n| table | rows |" in md and "\n\n## last run of each command\n\n" in md


def test_sql_limit(cli, made_db: Path) -> None:
    db_path = made_db
    result = cli("sql", "SELECT * FROM range(10)", "--db", str(db_path), "-f", "csv", "--limit", "3")
    assert result.out.splitlines()[1:] == ["0", "1", "2"]


def test_sql_is_read_only_and_errors_are_one_line(cli, made_db: Path) -> None:
    db_path = made_db
    result = cli("sql", "DELETE FROM runs", "--db", str(db_path))
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flushwatch: error: flushwatch sql only reads")
    assert "Traceback" not in result.err
    assert "DELETE statements are refused" in result.err
    # Nothing gets past it: a second statement, ATTACH of the live file read-write, COPY TO.
    for query in (
        "SELECT 1; DELETE FROM runs",
        f"ATTACH '{db_path}' AS rw (READ_WRITE)",
        f"COPY runs TO '{db_path.parent / 'runs.csv'}'",
        "   ",
    ):
        refused = cli("sql", query, "--db", str(db_path))
        assert refused.code == 1 and len(refused.err.strip().splitlines()) == 1, (query, refused.err)
        assert "Traceback" not in refused.err
    assert not (db_path.parent / "runs.csv").exists()
    versions = cli("sql", "SELECT count(*) FROM schema_version", "--db", str(db_path), "-f", "csv")
    assert versions.out.split()[1] != "0"
    bad = cli("sql", "SELEC nonsense", "--db", str(db_path))
    assert bad.code == 1 and "query failed" in bad.err
    # A wrong query is not blamed on read-only mode; the hint says where the names are.
    assert "read-only" not in bad.err and "SHOW TABLES" in bad.err


def test_newer_database_exits_1_with_a_hint(cli, db_path: Path) -> None:
    assert cli("db", "migrate", "--db", str(db_path)).code == 0
    con = duckdb.connect(str(db_path))
    con.execute("INSERT INTO schema_version VALUES (999, now(), 'future')")
    con.close()
    result = cli("db", "info", "--db", str(db_path))
    assert result.code == 1
    assert "schema version 999" in result.err and "upgrade flushwatch" in result.err


def test_usage_error_exits_2(cli) -> None:
    assert cli("db", "info", "--format", "yaml").code == 2
    assert cli("no-such-command").code == 2
