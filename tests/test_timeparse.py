"""One parser for every duration/instant option."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from flushwatch.errors import ConfigError
from flushwatch.timeparse import parse_duration, parse_instant, parse_lookback, parse_since

NOW = dt.datetime(2025, 10, 11, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", dt.timedelta(seconds=90)), ("10m", dt.timedelta(minutes=10)), ("24h", dt.timedelta(hours=24)),
     ("7d", dt.timedelta(days=7)), ("2w", dt.timedelta(weeks=2)), (" 1.5h ", dt.timedelta(minutes=90))],
)
def test_durations(text: str, expected: dt.timedelta) -> None:
    assert parse_duration(text, "--since") == expected


def test_bare_numbers_only_where_a_unit_is_implied() -> None:
    assert parse_duration("30", "--for", bare_unit="s") == dt.timedelta(seconds=30)
    with pytest.raises(ConfigError, match="--since '30'"):
        parse_duration("30", "--since")
    with pytest.raises(ConfigError, match="expected a duration"):
        parse_duration("soon", "--for", bare_unit="s")


def test_instants_are_utc() -> None:
    assert parse_instant("2025-10-10", "--from") == dt.datetime(2025, 10, 10, tzinfo=dt.UTC)
    assert parse_instant("2025-10-10T21:20Z", "--at") == dt.datetime(2025, 10, 10, 21, 20, tzinfo=dt.UTC)
    assert parse_instant("2025-10-10T23:20+02:00", "--at") == dt.datetime(2025, 10, 10, 21, 20, tzinfo=dt.UTC)
    with pytest.raises(ConfigError, match="--to 'yesterday'"):
        parse_instant("yesterday", "--to")


def test_since_takes_a_duration_or_a_past_instant() -> None:
    assert parse_since("24h", now=NOW) == NOW - dt.timedelta(hours=24)
    assert parse_since("2025-10-10", now=NOW) == dt.datetime(2025, 10, 10, tzinfo=dt.UTC)
    with pytest.raises(ConfigError, match="in the future"):
        parse_since("2025-10-12", now=NOW)
    with pytest.raises(ConfigError, match="--since 'later'"):
        parse_since("later", now=NOW)


def test_lookback_is_how_far_back_since_reaches() -> None:
    assert parse_lookback("24h") == dt.timedelta(hours=24)
    assert parse_lookback("2025-10-09T23:59:30Z", now=NOW) == dt.timedelta(days=1, seconds=30)
    with pytest.raises(ConfigError, match="in the future"):
        parse_lookback("2025-10-12", now=NOW)


def test_out_of_range_durations_and_instants_are_usage_errors() -> None:
    for text in ("1000000d", "99999999999999999999999w"):
        with pytest.raises(ConfigError, match=f"--since '{text}': out of range"):
            parse_since(text, now=NOW)
    assert parse_since("36600d", now=NOW) == NOW - dt.timedelta(days=36600)  # the cap itself is fine
    with pytest.raises(ConfigError, match="--since '0001-01-01T00:00\\+01:00': out of range"):
        parse_since("0001-01-01T00:00+01:00", now=NOW)  # before year 1 once in UTC
    with pytest.raises(ConfigError, match="--to '9999-12-31T23:00-05:00': out of range"):
        parse_instant("9999-12-31T23:00-05:00", "--to")


def test_flushes_since_out_of_range_exits_2_with_one_line(cli, tmp_path: Path) -> None:
    db = str(tmp_path / "fw.duckdb")
    assert cli("db", "migrate", "--db", db).code == 0
    r = cli("flushes", "--since", "1000000d", "--db", db)
    assert r.code == 2 and r.err.strip().splitlines() == [
        "flushwatch: error: --since '1000000d': out of range; durations go up to 36600d"
    ]
