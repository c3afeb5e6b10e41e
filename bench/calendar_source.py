"""The source of the bundled US release calendar, ``storage/data/calendar_us.csv``.

About 900 releases are easier to review as one line of dates per kind and year than as CSV rows
in UTC, so the dates live here and this script writes the CSV: it puts each release on its
agency's clock (8:30 or 14:00 New York time), converts to UTC with zoneinfo (so daylight saving
is never done by hand), names each release after the period it reports, and writes the rows in
one stable order. Run it after editing a list and commit both files; ``--check`` only says
whether the committed CSV is what the lists give, ``--uncertain`` prints the rows docs/calendar.md
lists as uncertain.

The dates are the release dates as they happened (2017 to early 2026) or as scheduled (the
rest of 2026, some only projected), written from the agencies' published schedules: BLS (CPI,
PPI, Employment Situation), BEA (GDP, Personal Income and Outlays), Census (advance retail
sales) and the Federal Reserve (FOMC statements and minutes). Two US government shutdowns moved releases:
Dec 2018 - Jan 2019 (Commerce: BEA and Census; BLS was funded) and Oct 1 - Nov 12 2025 (all
three), after which the Oct 2025 CPI was never published and several reports were combined.
``UNCERTAIN`` names every row we are less than sure of, with the reason.

Usage: python bench/calendar_source.py [--check | --uncertain]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
TARGET = Path(__file__).resolve().parent.parent / "storage" / "data" / "calendar_us.csv"
FIRST_DAY, LAST_DAY = dt.date(2017, 1, 1), dt.date(2026, 12, 31)

#: Release clock (New York time) per kind.
CLOCK = {
    "cpi": dt.time(8, 30),
    "ppi": dt.time(8, 30),
    "jobs": dt.time(8, 30),
    "pce": dt.time(8, 30),
    "gdp": dt.time(8, 30),
    "retail_sales": dt.time(8, 30),
    "fomc_decision": dt.time(14, 0),
    "fomc_minutes": dt.time(14, 0),
}

# One line per release year: the release dates (MM-DD) in order. Monthly releases report the
# month before the release month (PCE released on the 1st-5th: two months before) unless
# PERIOD says otherwise; GDP releases in Jan/Apr/Jul/Oct are the advance estimate of the
# quarter before, the next month the second, the month after the third, unless PERIOD says so.
DATES: dict[str, str] = {
    "cpi": """
        2017: 01-18 02-15 03-15 04-14 05-12 06-14 07-14 08-11 09-14 10-13 11-15 12-13
        2018: 01-12 02-14 03-13 04-11 05-10 06-12 07-12 08-10 09-13 10-11 11-14 12-12
        2019: 01-11 02-13 03-12 04-10 05-10 06-12 07-11 08-13 09-12 10-10 11-13 12-11
        2020: 01-14 02-13 03-11 04-10 05-12 06-10 07-14 08-12 09-11 10-13 11-12 12-10
        2021: 01-13 02-10 03-10 04-13 05-12 06-10 07-13 08-11 09-14 10-13 11-10 12-10
        2022: 01-12 02-10 03-10 04-12 05-11 06-10 07-13 08-10 09-13 10-13 11-10 12-13
        2023: 01-12 02-14 03-14 04-12 05-10 06-13 07-12 08-10 09-13 10-12 11-14 12-12
        2024: 01-11 02-13 03-12 04-10 05-15 06-12 07-11 08-14 09-11 10-10 11-13 12-11
        2025: 01-15 02-12 03-12 04-10 05-13 06-11 07-15 08-12 09-11 10-24 12-18
        2026: 01-13 02-13 03-11 04-10 05-12 06-10 07-14 08-12 09-11 10-14 11-10 12-10
    """,
    "ppi": """
        2017: 01-13 02-16 03-14 04-13 05-11 06-13 07-13 08-10 09-13 10-12 11-14 12-12
        2018: 01-11 02-15 03-14 04-10 05-09 06-13 07-11 08-09 09-12 10-10 11-09 12-11
        2019: 01-15 02-14 03-13 04-11 05-09 06-11 07-12 08-09 09-11 10-08 11-14 12-12
        2020: 01-15 02-19 03-12 04-09 05-14 06-11 07-10 08-11 09-10 10-14 11-13 12-11
        2021: 01-15 02-17 03-12 04-09 05-13 06-15 07-14 08-12 09-10 10-14 11-09 12-14
        2022: 01-13 02-15 03-15 04-13 05-12 06-14 07-14 08-11 09-14 10-12 11-15 12-09
        2023: 01-18 02-16 03-15 04-13 05-11 06-14 07-13 08-11 09-14 10-11 11-15 12-13
        2024: 01-12 02-16 03-14 04-11 05-14 06-13 07-12 08-13 09-12 10-11 11-14 12-12
        2025: 01-14 02-13 03-13 04-11 05-15 06-12 07-16 08-14 09-10 11-25
        2026: 01-14 01-30 02-27 03-18 04-14 05-14 06-11 07-15 08-13 09-11 10-15 11-13 12-15
    """,
    "jobs": """
        2017: 01-06 02-03 03-10 04-07 05-05 06-02 07-07 08-04 09-01 10-06 11-03 12-08
        2018: 01-05 02-02 03-09 04-06 05-04 06-01 07-06 08-03 09-07 10-05 11-02 12-07
        2019: 01-04 02-01 03-08 04-05 05-03 06-07 07-05 08-02 09-06 10-04 11-01 12-06
        2020: 01-10 02-07 03-06 04-03 05-08 06-05 07-02 08-07 09-04 10-02 11-06 12-04
        2021: 01-08 02-05 03-05 04-02 05-07 06-04 07-02 08-06 09-03 10-08 11-05 12-03
        2022: 01-07 02-04 03-04 04-01 05-06 06-03 07-08 08-05 09-02 10-07 11-04 12-02
        2023: 01-06 02-03 03-10 04-07 05-05 06-02 07-07 08-04 09-01 10-06 11-03 12-08
        2024: 01-05 02-02 03-08 04-05 05-03 06-07 07-05 08-02 09-06 10-04 11-01 12-06
        2025: 01-10 02-07 03-07 04-04 05-02 06-06 07-03 08-01 09-05 11-20 12-16
        2026: 01-09 02-11 03-06 04-03 05-08 06-05 07-02 08-07 09-04 10-02 11-06 12-04
    """,
    "pce": """
        2017: 01-30 03-01 03-31 05-01 05-30 06-30 07-31 08-31 09-29 10-30 11-30 12-22
        2018: 01-29 03-01 03-29 04-30 05-31 06-29 07-31 08-30 09-28 10-29 11-29 12-21
        2019: 03-01 03-29 04-29 05-31 06-28 07-30 08-29 09-27 10-31 11-27 12-20
        2020: 01-31 02-28 03-27 04-30 05-29 06-26 07-31 08-28 10-01 10-30 11-25 12-23
        2021: 01-29 02-26 03-26 04-30 05-28 06-25 07-30 08-27 10-01 10-29 11-24 12-23
        2022: 01-28 02-25 03-31 04-29 05-27 06-30 07-29 08-26 09-30 10-28 12-01 12-23
        2023: 01-27 02-24 03-31 04-28 05-26 06-30 07-28 08-31 09-29 10-27 11-30 12-22
        2024: 01-26 02-29 03-29 04-26 05-31 06-28 07-26 08-30 09-27 10-31 11-27 12-20
        2025: 01-31 02-28 03-28 04-30 05-30 06-27 07-31 08-29 09-26 12-05
        2026: 01-22 02-20 03-13 04-09 04-30 05-29 06-26 07-30 08-28 09-30 10-29 11-25 12-23
    """,
    "gdp": """
        2017: 01-27 02-28 03-30 04-28 05-26 06-29 07-28 08-30 09-28 10-27 11-29 12-21
        2018: 01-26 02-28 03-28 04-27 05-30 06-28 07-27 08-29 09-27 10-26 11-28 12-21
        2019: 02-28 03-28 04-26 05-30 06-27 07-26 08-29 09-26 10-30 11-27 12-20
        2020: 01-30 02-27 03-26 04-29 05-28 06-25 07-30 08-27 09-30 10-29 11-25 12-22
        2021: 01-28 02-25 03-25 04-29 05-27 06-24 07-29 08-26 09-30 10-28 11-24 12-22
        2022: 01-27 02-24 03-30 04-28 05-26 06-29 07-28 08-25 09-29 10-27 11-30 12-22
        2023: 01-26 02-23 03-30 04-27 05-25 06-29 07-27 08-30 09-28 10-26 11-29 12-21
        2024: 01-25 02-28 03-28 04-25 05-30 06-27 07-25 08-29 09-26 10-30 11-27 12-19
        2025: 01-30 02-27 03-27 04-30 05-29 06-26 07-30 08-28 09-25 12-23
        2026: 01-22 02-20 03-13 04-09 04-30 05-28 06-25 07-30 08-26 09-30 10-29 11-25 12-22
    """,
    "retail_sales": """
        2017: 01-13 02-15 03-15 04-14 05-12 06-14 07-14 08-15 09-15 10-13 11-15 12-14
        2018: 01-12 02-14 03-14 04-16 05-15 06-14 07-16 08-15 09-14 10-15 11-15 12-14
        2019: 02-14 03-11 04-01 04-18 05-15 06-14 07-16 08-15 09-13 10-16 11-15 12-13
        2020: 01-16 02-14 03-17 04-15 05-15 06-16 07-16 08-14 09-16 10-16 11-17 12-16
        2021: 01-15 02-17 03-16 04-15 05-14 06-15 07-16 08-17 09-16 10-15 11-16 12-15
        2022: 01-14 02-16 03-16 04-14 05-17 06-15 07-15 08-17 09-15 10-14 11-16 12-15
        2023: 01-18 02-15 03-15 04-14 05-16 06-15 07-18 08-15 09-14 10-17 11-15 12-14
        2024: 01-17 02-15 03-14 04-15 05-15 06-18 07-16 08-15 09-17 10-17 11-15 12-17
        2025: 01-16 02-14 03-17 04-16 05-15 06-17 07-17 08-15 09-16 11-25 12-16
        2026: 01-15 02-10 03-06 04-01 04-21 05-14 06-16 07-16 08-14 09-15 10-15 11-17 12-15
    """,
    "fomc_decision": """
        2017: 02-01 03-15 05-03 06-14 07-26 09-20 11-01 12-13
        2018: 01-31 03-21 05-02 06-13 08-01 09-26 11-08 12-19
        2019: 01-30 03-20 05-01 06-19 07-31 09-18 10-30 12-11
        2020: 01-29 04-29 06-10 07-29 09-16 11-05 12-16
        2021: 01-27 03-17 04-28 06-16 07-28 09-22 11-03 12-15
        2022: 01-26 03-16 05-04 06-15 07-27 09-21 11-02 12-14
        2023: 02-01 03-22 05-03 06-14 07-26 09-20 11-01 12-13
        2024: 01-31 03-20 05-01 06-12 07-31 09-18 11-07 12-18
        2025: 01-29 03-19 05-07 06-18 07-30 09-17 10-29 12-10
        2026: 01-28 03-18 04-29 06-17 07-29 09-16 10-28 12-09
    """,
    "fomc_minutes": """
        2017: 01-04 02-22 04-05 05-24 07-05 08-16 10-11 11-22
        2018: 01-03 02-21 04-11 05-23 07-05 08-22 10-17 11-29
        2019: 01-09 02-20 04-10 05-22 07-10 08-21 10-09 11-20
        2020: 01-03 02-19 04-08 05-20 07-01 08-19 10-07 11-25
        2021: 01-06 02-17 04-07 05-19 07-07 08-18 10-13 11-24
        2022: 01-05 02-16 04-06 05-25 07-06 08-17 10-12 11-23
        2023: 01-04 02-22 04-12 05-24 07-05 08-16 10-11 11-21
        2024: 01-03 02-21 04-10 05-22 07-03 08-21 10-09 11-26
        2025: 01-08 02-19 04-09 05-28 07-09 08-20 10-08 11-19 12-30
        2026: 02-18 04-08 05-20 07-08 08-19 10-07 11-18 12-30
    """,
}

#: The FOMC's unscheduled decisions, with the New York time their statement came out.
UNSCHEDULED_FOMC = {
    dt.datetime(2020, 3, 3, 10, 0): "FOMC statement (unscheduled: 50 bp cut)",
    dt.datetime(2020, 3, 15, 17, 0): "FOMC statement (unscheduled, Sunday: cut to zero, QE)",
    dt.datetime(2020, 3, 23, 8, 0): "FOMC statement (unscheduled: open-ended asset purchases)",
}

#: The last meeting before the covered years, which the first minutes report on.
PRIOR_DECISIONS = (dt.date(2016, 12, 14),)

#: Releases whose period is not the default rule's (shutdown catch-ups, combined reports).
PERIOD: dict[tuple[str, str], str] = {
    ("ppi", "2025-11-25"): "Sep 2025",
    ("ppi", "2026-01-14"): "Oct-Nov 2025",
    ("jobs", "2025-11-20"): "Sep 2025",
    ("jobs", "2025-12-16"): "Nov 2025, with Oct payrolls",
    ("pce", "2019-03-01"): "Dec 2018",
    ("pce", "2019-03-29"): "Jan 2019",
    ("pce", "2019-04-29"): "Feb-Mar 2019",
    ("pce", "2025-12-05"): "Sep 2025",
    ("pce", "2026-01-22"): "Oct-Nov 2025",
    ("pce", "2026-02-20"): "Dec 2025",
    ("pce", "2026-03-13"): "Jan 2026",
    ("pce", "2026-04-09"): "Feb 2026",
    ("gdp", "2019-02-28"): "initial (Q4 2018)",
    ("gdp", "2025-12-23"): "initial (Q3 2025)",
    ("gdp", "2026-01-22"): "updated (Q3 2025)",
    ("gdp", "2026-02-20"): "advance (Q4 2025)",
    ("gdp", "2026-03-13"): "second (Q4 2025)",
    ("gdp", "2026-04-09"): "third (Q4 2025)",
    ("retail_sales", "2019-02-14"): "Dec 2018",
    ("retail_sales", "2019-03-11"): "Jan 2019",
    ("retail_sales", "2019-04-01"): "Feb 2019",
    ("retail_sales", "2025-11-25"): "Sep 2025",
    ("retail_sales", "2025-12-16"): "Oct 2025",
    ("retail_sales", "2026-01-15"): "Nov 2025",
    ("retail_sales", "2026-02-10"): "Dec 2025",
    ("retail_sales", "2026-03-06"): "Jan 2026",
    ("retail_sales", "2026-04-01"): "Feb 2026",
    ("fomc_minutes", "2020-04-08"): "Mar 2020 meetings",
}

#: Releases not at the kind's usual clock (New York time).
CLOCK_EXCEPTIONS: dict[tuple[str, str], dt.time] = {
    ("pce", "2025-12-05"): dt.time(10, 0),
}

#: Rows we are less than sure of: (kind, first date, last date) -> why. docs/calendar.md lists them.
UNCERTAIN: dict[tuple[str, str, str], str] = {
    ("pce", "2019-03-01", "2019-04-29"): "shutdown catch-up: which months each Q1 2019 report covered",
    ("cpi", "2026-02-13", "2026-02-13"): "moved from Feb 11 by the short Jan-Feb 2026 shutdown",
    ("jobs", "2026-02-11", "2026-02-11"): "moved from Feb 6 by the short Jan-Feb 2026 shutdown",
    ("ppi", "2025-11-25", "2026-03-18"): "2025 shutdown catch-up: dates and combined months",
    ("pce", "2025-12-05", "2026-04-30"): "2025 shutdown catch-up: dates, combined months, clock (10:00?)",
    ("gdp", "2025-12-23", "2026-04-09"): "2025 shutdown catch-up: dates and which estimate each was",
    ("retail_sales", "2025-11-25", "2026-02-10"): "2025 shutdown catch-up: dates as recalled",
    ("retail_sales", "2026-03-06", "2026-04-21"): "2025 shutdown catch-up: dates are guesses",
    ("cpi", "2026-03-01", "2026-12-31"): "as scheduled in early 2026, not checked against releases",
    ("ppi", "2026-04-01", "2026-12-31"): "projected from the usual cadence",
    ("jobs", "2026-03-01", "2026-12-31"): "projected from BLS's reference-week rule",
    ("pce", "2026-05-01", "2026-12-31"): "projected from the usual cadence",
    ("gdp", "2026-05-01", "2026-12-31"): "projected from the usual cadence",
    ("retail_sales", "2026-05-01", "2026-12-31"): "projected from the usual cadence",
    ("fomc_minutes", "2025-12-30", "2025-12-30"): "three weeks fell on Dec 31; released a day early",
    ("fomc_minutes", "2026-02-01", "2026-12-31"): "three weeks after each scheduled 2026 meeting",
}

_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_NAMES = {
    "cpi": "CPI",
    "ppi": "PPI",
    "jobs": "Employment Situation",
    "pce": "Personal income and outlays",
    "retail_sales": "Retail sales",
}
_GDP_STAGE = {0: "advance", 1: "second", 2: "third"}


def _month(year: int, month: int) -> str:
    while month < 1:
        year, month = year - 1, month + 12
    return f"{_MONTHS[month - 1]} {year}"


def release_dates(kind: str) -> list[dt.date]:
    """The dates of one kind's lines, in order; each line's year prefixes its MM-DD tokens."""
    out = []
    for line in DATES[kind].strip().splitlines():
        year, _, rest = line.strip().partition(":")
        out += [dt.date.fromisoformat(f"{year}-{token}") for token in rest.split()]
    return out


def _name(kind: str, day: dt.date, decisions: list[dt.date]) -> str:
    override = PERIOD.get((kind, day.isoformat()))
    if kind == "fomc_decision":
        return "FOMC statement"
    if kind == "fomc_minutes":
        if override is None:
            meeting = max(d for d in decisions if (day - d).days >= 14)
            override = f"{_month(meeting.year, meeting.month)} meeting"
        return f"FOMC minutes ({override})"
    if kind == "gdp":
        if override is None:
            stage = _GDP_STAGE[(day.month - 1) % 3]
            quarter_end = _month(day.year, day.month - 1 - (day.month - 1) % 3)  # month before the quarter
            q_year = int(quarter_end.split()[1])
            quarter = (_MONTHS.index(quarter_end.split()[0]) // 3) + 1
            override = f"{stage} (Q{quarter} {q_year})"
        return f"GDP {override}"
    if override is None:
        back = 2 if kind == "pce" and day.day <= 5 else 1
        override = _month(day.year, day.month - back)
    return f"{_NAMES[kind]} ({override})"


def rows() -> list[tuple[str, str, str, str]]:
    """(release_at UTC ISO, kind, name, country), sorted by time then kind."""
    decisions = [*PRIOR_DECISIONS, *release_dates("fomc_decision"), *(t.date() for t in UNSCHEDULED_FOMC)]
    out = []
    for kind in DATES:
        for day in release_dates(kind):
            if not FIRST_DAY <= day <= LAST_DAY:
                raise SystemExit(f"{kind} {day} is outside {FIRST_DAY}..{LAST_DAY}")
            clock = CLOCK_EXCEPTIONS.get((kind, day.isoformat()), CLOCK[kind])
            local = dt.datetime.combine(day, clock, tzinfo=NEW_YORK)
            out.append((_utc(local), kind, _name(kind, day, decisions), "US"))
    for local_naive, name in UNSCHEDULED_FOMC.items():
        out.append((_utc(local_naive.replace(tzinfo=NEW_YORK)), "fomc_decision", name, "US"))
    out.sort(key=lambda r: (r[0], r[1]))
    _validate(out, decisions)
    return out


def _utc(local: dt.datetime) -> str:
    return local.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _validate(out: list[tuple[str, str, str, str]], decisions: list[dt.date]) -> None:
    """Typos caught before they ship: repeats, weekends, minutes not ~3 weeks after a meeting."""
    keys = [(r[1], r[0]) for r in out]
    if len(set(keys)) != len(keys):
        raise SystemExit("a (kind, release_at) repeats")
    unscheduled = {_utc(t.replace(tzinfo=NEW_YORK)) for t in UNSCHEDULED_FOMC}
    for release_at, kind, name, _ in out:
        day = dt.date.fromisoformat(release_at[:10])
        if release_at not in unscheduled and dt.datetime.fromisoformat(release_at).weekday() >= 5:
            raise SystemExit(f"{kind} {name} at {release_at} falls on a weekend")
        if kind == "fomc_minutes" and "2020 meetings" not in name:
            gap = min((day - d).days for d in decisions if (day - d).days >= 14)
            if not 19 <= gap <= 23:
                raise SystemExit(f"{name} at {release_at} is {gap} days after its meeting")


def uncertain_rows(all_rows: list[tuple[str, str, str, str]]) -> list[tuple[str, str, str]]:
    """(release_at, name, why) of every row UNCERTAIN covers."""
    found = []
    for release_at, kind, name, _ in all_rows:
        day = release_at[:10]
        for (k, first, last), why in UNCERTAIN.items():
            if k == kind and first <= day <= last:
                found.append((release_at, name, why))
                break
    return found


def render(all_rows: list[tuple[str, str, str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["release_at", "kind", "name", "country"])
    writer.writerows(all_rows)
    return buf.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the committed CSV differs")
    parser.add_argument("--uncertain", action="store_true", help="print the uncertain rows")
    args = parser.parse_args()
    all_rows = rows()
    if args.uncertain:
        for release_at, name, why in uncertain_rows(all_rows):
            print(f"{release_at}  {name:45}  {why}")
        return 0
    text = render(all_rows)
    if args.check:
        same = TARGET.exists() and TARGET.read_text(encoding="utf-8") == text
        print(f"{TARGET}: {'up to date' if same else 'differs from bench/calendar_source.py'}")
        return 0 if same else 1
    TARGET.parent.mkdir(exist_ok=True)
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {len(all_rows)} releases to {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
