"""The macro release calendar: the bundled CSV, its seed, `calendar import` and `calendar list`."""

from __future__ import annotations

import collections
import csv
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from flushwatch.records.calendar import KNOWN_KINDS
from flushwatch.storage.calendar import bundled_csv_text, list_events
from flushwatch.storage.db import Database
from flushwatch.storage.schema import MIGRATIONS, migrate

from .conftest import REPO

NEW_YORK = ZoneInfo("America/New_York")
UTC = dt.UTC

# Documented in docs/calendar.md: the only releases off their kind's clock.
OFF_CLOCK = {
    ("fomc_decision", "2020-03-03T15:00:00Z"),  # 10:00 ET, unscheduled
    ("fomc_decision", "2020-03-15T21:00:00Z"),  # Sunday 17:00 ET, unscheduled
    ("fomc_decision", "2020-03-23T12:00:00Z"),  # 08:00 ET, unscheduled
    ("pce", "2025-12-05T15:00:00Z"),  # 10:00 ET, after the 2025 shutdown
}
# Documented gaps: the Oct 2025 CPI was never published (2025 shutdown).
CPI_PER_YEAR = {year: 12 for year in range(2017, 2027)} | {2025: 11}


@pytest.fixture
def created(db: Database) -> Database:
    """A database file that exists (list commands only read; they never create one)."""
    with db.write():
        pass
    return db


def _bundled() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(bundled_csv_text(), newline="")))


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(UTC)


def _row(db: Database, kind: str, release_at: str) -> tuple[str, str, str, dt.datetime] | None:
    with db.read() as con:
        return con.execute(
            "SELECT name, country, source, added_at FROM calendar_events WHERE kind = ? AND release_at = ?",
            [kind, _at(release_at)],
        ).fetchone()


def _count(db: Database) -> int:
    with db.read() as con:
        return int(con.execute("SELECT count(*) FROM calendar_events").fetchone()[0])


def _write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- the bundled file ---------------------------------------------------------------------------


def test_bundled_csv_has_one_row_per_kind_and_time_in_utc() -> None:
    rows = _bundled()
    assert rows and list(rows[0]) == ["release_at", "kind", "name", "country"]
    keys = [(r["kind"], r["release_at"]) for r in rows]
    assert len(keys) == len(set(keys)), [k for k, n in collections.Counter(keys).items() if n > 1]
    assert {r["kind"] for r in rows} == set(KNOWN_KINDS)
    assert {r["country"] for r in rows} == {"US"}
    for r in rows:
        assert dt.datetime.strptime(r["release_at"], "%Y-%m-%dT%H:%M:%SZ"), r
        assert "2017-01-01" <= r["release_at"][:10] <= "2026-12-31", r


def test_bundled_releases_are_on_their_agency_clock() -> None:
    """8:30 New York time for data, 14:00 for the FOMC, in winter and summer alike; only the
    documented unscheduled statements and shutdown catch-ups are off it."""
    clock = {k: dt.time(8, 30) for k in KNOWN_KINDS} | {
        "fomc_decision": dt.time(14, 0),
        "fomc_minutes": dt.time(14, 0),
    }
    off = set()
    for r in _bundled():
        local = _at(r["release_at"]).astimezone(NEW_YORK)
        if local.time() != clock[r["kind"]] or local.weekday() >= 5:
            off.add((r["kind"], r["release_at"]))
    assert off == OFF_CLOCK


def test_bundled_counts_per_year() -> None:
    per = collections.Counter((r["kind"], int(r["release_at"][:4])) for r in _bundled())
    for year in range(2017, 2027):
        assert per["fomc_decision", year] >= 8, year
        assert per["fomc_minutes", year] >= 8, year
        assert per["cpi", year] == CPI_PER_YEAR[year], year
    assert per["fomc_decision", 2020] == 10  # 7 scheduled (March's folded into the 15th) + 3 unscheduled


def test_bundled_csv_is_what_the_source_lists_give() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "calendar_source.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- the seed -----------------------------------------------------------------------------------


def test_a_new_database_holds_the_bundled_releases(db: Database) -> None:
    assert _count(db) == len(_bundled())
    cpi = _row(db, "cpi", "2022-11-10T13:30:00Z")
    assert cpi is not None and cpi[:3] == ("CPI (Oct 2022)", "US", "bundled")
    fomc = _row(db, "fomc_decision", "2022-11-02T18:00:00Z")
    assert fomc is not None and fomc[:3] == ("FOMC statement", "US", "bundled")
    with db.read() as con:  # the analyst view shows the New York clock
        assert con.execute(
            "SELECT strftime(release_at_et, '%H:%M') FROM v_calendar WHERE kind = 'cpi' "
            "AND release_at = TIMESTAMPTZ '2022-11-10 13:30:00Z'"
        ).fetchone() == ("08:30",)


@pytest.mark.parametrize(
    ("kind", "release_at", "name"),
    [
        ("jobs", "2023-03-10T13:30:00Z", "Employment Situation (Feb 2023)"),  # March, before DST (EST)
        ("cpi", "2023-03-14T12:30:00Z", "CPI (Feb 2023)"),  # March, after DST began on the 12th (EDT)
        ("jobs", "2024-11-01T12:30:00Z", "Employment Situation (Oct 2024)"),  # November, still EDT
        ("fomc_decision", "2024-11-07T19:00:00Z", "FOMC statement"),  # November, EST from the 3rd
        ("fomc_decision", "2020-03-15T21:00:00Z", "FOMC statement (unscheduled, Sunday: cut to zero, QE)"),
    ],
)
def test_daylight_saving_is_converted(db: Database, kind: str, release_at: str, name: str) -> None:
    row = _row(db, kind, release_at)
    assert row is not None and row[0] == name


def test_an_older_file_gets_the_calendar_on_upgrade(db_path: Path) -> None:
    con = duckdb.connect(str(db_path))
    migrate(con, path=db_path, migrations=MIGRATIONS[:3])  # a file from before the calendar
    con.execute("DROP TABLE calendar_events")
    migrate(con, path=db_path)
    assert con.execute("SELECT count(*) FROM calendar_events").fetchone() == (len(_bundled()),)
    assert con.execute("SELECT count(*) FROM schema_version WHERE version = 4").fetchone() == (1,)
    con.close()


# -- calendar import ----------------------------------------------------------------------------


def test_import_adds_corrects_and_is_idempotent(cli, db: Database, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "extra.csv",
        "release_at,kind,name,country",
        "2026-03-05T14:15:00+01:00,ecb_decision,ECB monetary policy decision,eu",  # new kind, offset
        "2022-11-10T13:30:00Z,cpi,CPI (Oct 2022),US",  # as bundled
        "2022-11-02T14:00:00-04:00,fomc_decision,FOMC statement (75 bp hike),US",  # corrects a name
    )
    before = _row(db, "fomc_decision", "2022-11-02T18:00:00Z")
    first = cli("calendar", "import", str(path), "--db", str(db.path), "-f", "json")
    assert first.code == 0, first.err
    assert json.loads(first.out) == [
        {"file": "extra.csv", "rows": 3, "new": 1, "changed": 1, "unchanged": 1, "bad": 0}
    ]
    ecb = _row(db, "ecb_decision", "2026-03-05T13:15:00Z")
    assert ecb is not None and ecb[:3] == ("ECB monetary policy decision", "EU", "extra.csv")
    fomc = _row(db, "fomc_decision", "2022-11-02T18:00:00Z")
    assert before is not None and fomc is not None
    assert fomc[0] == "FOMC statement (75 bp hike)" and fomc[2] == "extra.csv" and fomc[3] > before[3]
    cpi = _row(db, "cpi", "2022-11-10T13:30:00Z")
    assert cpi is not None and cpi[2] == "bundled"  # identical: left alone
    with db.read() as con:
        snapshot = con.execute("SELECT * FROM calendar_events ORDER BY kind, release_at").fetchall()

    second = cli("calendar", "import", str(path), "--db", str(db.path), "-f", "json")
    assert second.code == 0, second.err
    assert json.loads(second.out) == [
        {"file": "extra.csv", "rows": 3, "new": 0, "changed": 0, "unchanged": 3, "bad": 0}
    ]
    with db.read() as con:  # same rows, and no added_at moved
        assert con.execute("SELECT * FROM calendar_events ORDER BY kind, release_at").fetchall() == snapshot


def test_bad_rows_are_reported_and_good_rows_kept(cli, db: Database, tmp_path: Path) -> None:
    path = _write(
        tmp_path / "mine.csv",
        "release_at,kind,name",
        "2026-06-04T12:15:00Z,ecb_decision,ECB decision",
        "2026-06-05 08:30,jobs,Employment Situation (May 2026)",  # line 3: naive time
        "2026-06-06T12:00:00Z,ECB,ECB again",  # line 4: kind not lowercase
        "2026-07-23T12:15:00Z,ecb_decision,ECB decision",
    )
    result = cli("calendar", "import", str(path), "--db", str(db.path))
    assert result.code == 3, result.err
    lines = result.err.strip().splitlines()
    assert lines[0] == (
        f"{path}:3: release_at '2026-06-05 08:30' has no time zone: add Z for UTC or an offset such as -05:00"
    )
    assert lines[1].startswith(f"{path}:4: kind 'ECB'")
    assert lines[2] == f"flushwatch: warning: 2 of 4 rows of {path} not imported (bad rows above)"
    assert _row(db, "ecb_decision", "2026-06-04T12:15:00Z") is not None
    assert _row(db, "ecb_decision", "2026-07-23T12:15:00Z") is not None
    assert _count(db) == len(_bundled()) + 2


def test_a_file_with_no_good_row_is_one_error(cli, db: Database, tmp_path: Path) -> None:
    path = _write(tmp_path / "naive.csv", "release_at,kind,name", "2026-06-05 08:30,jobs,Jobs")
    result = cli("calendar", "import", str(path), "--db", str(db.path))
    assert result.code == 1
    assert result.err.strip().splitlines() == [
        f"flushwatch: error: {path}:2: release_at '2026-06-05 08:30' has no time zone: "
        "add Z for UTC or an offset such as -05:00"
    ]
    assert _count(db) == len(_bundled())


def test_a_wrong_header_refuses_the_file(cli, db: Database, tmp_path: Path) -> None:
    path = _write(tmp_path / "typo.csv", "release_at,kind,name,contry", "2026-06-04T12:15:00Z,x,X,US")
    result = cli("calendar", "import", str(path), "--db", str(db.path))
    assert result.code == 1
    assert "typo.csv:1: header: unknown contry" in result.err


def test_many_bad_rows_are_capped(cli, db: Database, tmp_path: Path) -> None:
    bad = [f"2026-01-{d:02d} 08:30,cpi,CPI" for d in range(1, 26)]
    path = _write(tmp_path / "many.csv", "release_at,kind,name", "2026-06-04T12:15:00Z,boj,BoJ", *bad)
    result = cli("calendar", "import", str(path), "--db", str(db.path))
    assert result.code == 3
    lines = result.err.strip().splitlines()
    assert len(lines) == 12 and lines[10] == "... and 15 more bad rows"


def test_import_waits_out_a_busy_file_then_exits_75(cli, created: Database, tmp_path: Path) -> None:
    db = created
    path = _write(tmp_path / "x.csv", "release_at,kind,name", "2026-06-04T12:15:00Z,boj,BoJ")
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.hold_db", str(db.path), "30"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = cli("calendar", "import", str(path), "--db", str(db.path), "--wait", "0.5")
    finally:
        holder.kill()
        holder.wait()
    assert result.code == 75
    assert "database busy" in result.err


def test_parsing_is_pure_and_keeps_every_good_row() -> None:
    """No database: a BOM, CRLF line ends, quoted commas, blank lines, offsets and repeats."""
    from flushwatch.ingest.calendar import parse_calendar

    text = (
        "Release_At,KIND,name\r\n"
        '2026-06-04T14:15:00+02:00,ecb_decision,"ECB decision, with press conference"\r\n'
        "\r\n"
        "2026-06-04T12:15:00Z,ecb_decision,Same instant again\r\n"
        "2026-06-04T12:15:00,ecb_decision,No zone\r\n"
    )
    parsed = parse_calendar(text, "x.csv")
    assert parsed.rows == 3
    assert [(e.release_at, e.name) for e in parsed.events] == [
        (dt.datetime(2026, 6, 4, 12, 15, tzinfo=UTC), "ECB decision, with press conference")
    ]
    assert [str(e) for e in parsed.errors] == [
        "x.csv:4: repeats the ecb_decision release at that time on line 2",
        "x.csv:5: release_at '2026-06-04T12:15:00' has no time zone: "
        "add Z for UTC or an offset such as -05:00",
    ]


# -- calendar list ------------------------------------------------------------------------------


def test_list_filters_and_csv_reads_back(cli, created: Database) -> None:
    db = created
    result = cli(
        "calendar",
        "list",
        "--db",
        str(db.path),
        "--from",
        "2022-11-01",
        "--to",
        "2022-12-01",
        "--kind",
        "cpi,fomc_decision",
        "-f",
        "csv",
    )
    assert result.code == 0, result.err
    rows = list(csv.DictReader(io.StringIO(result.out)))
    assert [(r["release_at"], r["kind"], r["name"]) for r in rows] == [
        ("2022-11-02T18:00:00Z", "fomc_decision", "FOMC statement"),
        ("2022-11-10T13:30:00Z", "cpi", "CPI (Oct 2022)"),
    ]
    assert list(rows[0]) == ["release_at", "kind", "name", "country", "source", "added_at"]


def test_list_json_table_and_since(cli, created: Database) -> None:
    db = created
    out = cli(
        "calendar",
        "list",
        "--db",
        str(db.path),
        "--kind",
        "gdp",
        "--kind",
        "pce",
        "--from",
        "2019-02-01",
        "--to",
        "2019-03-02",
        "-f",
        "json",
    )
    assert out.code == 0, out.err
    assert [(r["kind"], r["name"]) for r in json.loads(out.out)] == [
        ("gdp", "GDP initial (Q4 2018)"),
        ("pce", "Personal income and outlays (Dec 2018)"),
    ]
    table = cli(
        "calendar",
        "list",
        "--db",
        str(db.path),
        "--from",
        "2020-03-01",
        "--to",
        "2020-03-04",
        "--kind",
        "fomc_decision",
    )
    assert table.code == 0 and "unscheduled" in table.out
    with db.read() as con:
        recent = list_events(con, since=dt.datetime.now(UTC) - dt.timedelta(days=3650))
    since = cli("calendar", "list", "--db", str(db.path), "--since", "3650d", "-f", "json")
    assert since.code == 0 and len(json.loads(since.out)) == len(recent) > 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "7d", "--from", "2024-01-01"], "either --since or --from/--to"),
        (["--kind", "C-P-I"], "--kind 'c-p-i'"),
        (["--from", "yesterday"], "--from 'yesterday'"),
    ],
)
def test_list_usage_errors_exit_2(cli, created: Database, args: list[str], message: str) -> None:
    result = cli("calendar", "list", "--db", str(created.path), *args)
    assert result.code == 2 and message in result.err
