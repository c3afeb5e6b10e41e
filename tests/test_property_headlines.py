"""Property-based: generated headline exports through ``flushwatch import headlines``.

Files are CSV, JSON lines or a JSON array of a few rows, with generated titles (any Unicode, lone
surrogates too where JSON can escape them, C0 and C1 control characters, line and paragraph
separators unescaped in JSON, markup, blank titles, now and then one of 150,000 characters) and
times in one format per file (ISO with ``Z`` or an offset, with or without a fraction; epoch
seconds, with or without a fraction; epoch ms), now and then one out of range or unparsable.
Checked:

* nothing but the documented FlushwatchError family escapes;
* a file with a bad time is refused with its FILE:LINE; otherwise every row with a title comes
  out with its time to the µs and its title as :func:`clean_title` defines it (plain titles
  unchanged), rows without one are counted as skipped (no silent misread);
* stored (the slow DB test): exactly the identities read, and a second import adds nothing.

The tests at the end pin what earlier runs of these properties found.

Parsing is pure Python (``read_headlines``), so most examples run there; the DB test imports
through ``import_headlines`` into one DuckDB file, one source per example.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flushwatch.errors import FlushwatchError, InputError
from flushwatch.ingest.news.importer import HeadlineImportOptions, import_headlines, read_headlines
from flushwatch.ingest.news.normalise import MAX_TITLE_CHARS, clean_title
from flushwatch.storage.db import Database
from tests.helpers.properties import examples, warm_database

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST_US = int((dt.datetime(2100, 1, 1, tzinfo=dt.UTC) - EPOCH).total_seconds()) * 1_000_000
_sources = itertools.count(1)

TIME_FORMATS = ("iso-z", "iso-offset", "iso-fraction", "epoch", "epoch-fraction", "epoch-ms")
#: Times that must refuse the file (placeholders, out of range, not a time).
BAD_TIMES = ["1969-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
             "abc", "2025-13-01T00:00:00Z", "2025-01-01T25:00:00Z"]  # fmt: skip

plain_words = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=12
)
any_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80)
lone_surrogate = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
BREAKERS = [
    "\x00",
    "\x01",
    "\x1b",
    "\x7f",
    "\x85",
    "\x9f",
    "\u2028",
    "\t",
    "\r",
    "\n",
    "\u200b",
    "\ufeff",
    " ",
]
controls = st.text(alphabet=st.sampled_from(BREAKERS), max_size=6)
titles = st.one_of(
    st.lists(plain_words, min_size=1, max_size=8).map(" ".join),
    any_text,
    st.tuples(any_text, controls, any_text).map("".join),
    st.sampled_from(["", "   ", "<b>Bitcoin</b> &amp; ETH", "Ã©tÃ© â€™", "\\x93quoted\\x94", "<p></p>"]),
    st.integers(min_value=1000, max_value=150_000).map(lambda n: "long " * (n // 5)),
)
# A UTF-8 file cannot hold a lone surrogate, but JSON can escape one ("\ud800").
json_titles = st.one_of(titles, st.tuples(any_text, lone_surrogate, any_text).map("".join))


def _has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


@dataclass
class Export:
    text: str
    layout: str  # csv | jsonl | json
    fmt: str
    raw_titles: list[str]
    times_us: list[int]
    bad_row: int | None  # index of the row with an unparsable or out-of-range time
    lines: list[int]  # where each row starts, as the importer numbers it
    source: str


def render_time(fmt: str, us: int, offset_min: int) -> str:
    when = EPOCH + dt.timedelta(microseconds=us)
    if fmt == "iso-z":
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt == "iso-offset":
        return when.astimezone(dt.timezone(dt.timedelta(minutes=offset_min))).isoformat()
    if fmt == "iso-fraction":
        return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if fmt == "epoch":
        return str(us // 1_000_000)
    if fmt == "epoch-fraction":
        return f"{us // 1_000_000}.{us // 1000 % 1000:03d}"
    return str(us // 1000)


def time_range(fmt: str) -> tuple[int, int, int]:
    """(lo, hi, step) in µs that the format writes exactly and the importer detects as it."""
    if fmt.startswith("epoch"):  # detected as epoch only with 9-10 (s) or 12-13 (ms) digits
        lo = 100_000_000 * 1_000_000
        step = 1000 if fmt != "epoch" else 1_000_000
        return lo, LATEST_US - 1, step
    step = 1 if fmt == "iso-fraction" else 1_000_000
    return 0, LATEST_US - 1, step


@st.composite
def exports(draw: st.DrawFn) -> Export:
    n = draw(st.integers(min_value=1, max_value=5), label="rows")
    fmt = draw(st.sampled_from(["csv", "jsonl", "json"]), label="layout")
    tfmt = draw(st.sampled_from(TIME_FORMATS), label="time format")
    lo, hi, step = time_range(tfmt)
    raw_titles = [draw(titles if fmt == "csv" else json_titles, label="title") for _ in range(n)]
    escape = any(_has_surrogate(t) for t in raw_titles)  # else the file cannot be written
    times_us = [draw(st.integers(min_value=lo // step + 1, max_value=hi // step), label="time") * step
                for _ in range(n)]  # fmt: skip
    offsets = [draw(st.integers(min_value=-12 * 60, max_value=14 * 60)) for _ in range(n)]
    rendered = [render_time(tfmt, us, off) for us, off in zip(times_us, offsets, strict=True)]
    bad_row = None
    titled = [i for i, t in enumerate(raw_titles) if t.strip()]
    if titled and tfmt.startswith("iso") and draw(st.integers(0, 3), label="bad time?") == 0:
        bad_row = draw(st.sampled_from(titled))
        rendered[bad_row] = draw(st.sampled_from(BAD_TIMES))
    source = f"src{next(_sources)}"
    rows = [
        {"title": t, "published_at": w, "source": source} for t, w in zip(raw_titles, rendered, strict=True)
    ]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)  # "\r" in a title too
        writer.writerow(["title", "published_at", "source"])
        lines = []
        for r in rows:
            lines.append(1 + len(re.findall(r"\r\n|\r|\n", out.getvalue())))
            writer.writerow([r["title"], r["published_at"], r["source"]])
        text = out.getvalue()
    elif fmt == "jsonl":
        # Unescaped, \x85, \u2028 and \u2029 stand inside a line: only "\n" ends one.
        ascii_only = draw(st.booleans()) or escape
        text = "".join(json.dumps(r, ensure_ascii=ascii_only) + "\n" for r in rows)
        lines = list(range(1, n + 1))
    else:
        text = json.dumps(rows, ensure_ascii=draw(st.booleans()) or escape)
        lines = list(range(1, n + 1))
    return Export(text, fmt, tfmt, raw_titles, times_us, bad_row, lines, source)


def write(tmp_path: Path, e: Export, n: int) -> Path:
    suffix = {"csv": ".csv", "jsonl": ".jsonl", "json": ".json"}[e.layout]
    path = tmp_path / f"export{n}{suffix}"
    path.write_text(e.text, encoding="utf-8")
    return path


def check_read(tmp_path: Path, e: Export) -> list:
    """The parse-level property; returns the headlines read (empty when refused)."""
    path = write(tmp_path, e, 0)
    try:
        items, n_rows, skipped = read_headlines(path, HeadlineImportOptions())
    except InputError as exc:
        assert "\n" not in exc.one_line() and exc.path == str(path)
        assert e.bad_row is not None, (exc.one_line(), e.text[:500])
        assert exc.line == e.lines[e.bad_row], (exc.one_line(), e.lines, e.text[:500])
        return []
    except FlushwatchError as exc:  # pragma: no cover - the property failing
        raise AssertionError(f"{type(exc).__name__}: {exc} for {e.text[:500]!r}") from exc
    assert e.bad_row is None, f"a bad time was accepted: {e.text[:500]!r}"
    assert n_rows == len(e.raw_titles)
    wanted = [
        (clean_title(t), EPOCH + dt.timedelta(microseconds=us))
        for t, us in zip(e.raw_titles, e.times_us, strict=True)
        if clean_title(t)
    ]
    assert skipped == len(e.raw_titles) - len(wanted)
    assert [(h.title, h.published_at) for h in items] == wanted
    for h, raw in zip(items, [t for t in e.raw_titles if clean_title(t)], strict=True):
        assert len(h.title) <= MAX_TITLE_CHARS
        assert not any(_breaks_a_line(c) or _has_surrogate(c) for c in h.title), repr(h.title)
        if re.fullmatch(r"[A-Za-z0-9]+( [A-Za-z0-9]+)*", raw) and len(raw) <= MAX_TITLE_CHARS:
            assert h.title == raw  # a plain title is stored exactly as given
        assert h.source == e.source
    return items


def _breaks_a_line(c: str) -> bool:
    """A control character (C0 or C1) or a line/paragraph separator."""
    return unicodedata.category(c) in ("Cc", "Zl", "Zp")


@examples(50)
@given(export=exports())
def test_headline_exports_are_read_exactly_or_refused_with_file_and_line(tmp_path, export) -> None:
    check_read(tmp_path, export)


@pytest.mark.slow
@pytest.mark.timeout(1200)
@examples(9000)
@given(export=exports())
def test_headline_exports_property(tmp_path, export) -> None:
    check_read(tmp_path, export)


@pytest.fixture
def warm_db(tmp_path: Path) -> Iterator[tuple[Database, duckdb.DuckDBPyConnection]]:
    with warm_database(tmp_path / "headlines.duckdb") as warm:
        yield warm


@pytest.mark.slow
@pytest.mark.timeout(1200)
@examples(1000)
@given(export=exports())
def test_headline_imports_store_what_was_read_once(warm_db, tmp_path, export) -> None:
    db, con = warm_db
    items = check_read(tmp_path, export)
    path = write(tmp_path, export, 1)
    try:
        (first,) = import_headlines(db, [path])
    except InputError:
        assert export.bad_row is not None
        assert con.execute("SELECT count(*) FROM headlines WHERE source = ?", [export.source]).fetchone() == (
            0,
        )
        return
    query = "SELECT dedup_key, title, published_at FROM headlines WHERE source = ? ORDER BY dedup_key"
    stored = con.execute(query, [export.source]).fetchall()
    assert {k for k, _, _ in stored} == {h.dedup_key for h in items}
    for key, title, published in stored:
        assert (title, published) in {(h.title, h.published_at) for h in items if h.dedup_key == key}
    assert first.counts.new == len(stored)
    (again,) = import_headlines(db, [path])
    assert again.counts.new == 0 and again.counts.updated == 0
    assert con.execute(query, [export.source]).fetchall() == stored


# -- found by the property tests ---------------------------------------------------------------

GOOD = '"published_at": "2025-01-01T00:00:00Z"'
DEEP = "[" * 100_000 + "]" * 100_000


def _refused(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        read_headlines(path, HeadlineImportOptions())
    assert "\n" not in info.value.one_line() and info.value.path == str(path)
    return info.value


def test_deeply_nested_json_is_one_input_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text(DEEP)
    err = _refused(path)
    assert err.line is None and "nested too deeply" in err.one_line()


@pytest.mark.parametrize(
    "second_line", [DEEP, '{"title": "b", ' + GOOD + ', "extra": ' + DEEP + "}"], ids=["line", "value"]
)
def test_deeply_nested_json_line_is_one_input_error_naming_the_line(tmp_path: Path, second_line: str) -> None:
    path = tmp_path / "deep.jsonl"
    path.write_text('{"title": "a", ' + GOOD + "}\n" + second_line + "\n")
    err = _refused(path)
    assert err.line == 2 and "nested too deeply" in err.one_line()


def test_lone_surrogate_in_json_is_replaced_and_the_row_kept(tmp_path: Path) -> None:
    path = tmp_path / "surrogate.json"
    path.write_text('[{"title": "\\ud800 Bitcoin", "published_at": "2025-01-01T00:00:00Z"}]')
    (item,), rows, skipped = read_headlines(path, HeadlineImportOptions())
    assert (item.title, rows, skipped) == ("\ufffd Bitcoin", 1, 0)


def test_lone_surrogates_in_every_field_are_stored(tmp_path: Path) -> None:
    """Through DuckDB: source, link, id and summary are keys and columns too, not only the title."""
    path = tmp_path / "surrogate.jsonl"
    row = {
        "title": "Ether \ud800 up",
        "published_at": "2025-01-01T00:00:00Z",
        "source": "Wire\udc00",
        "url": "https://w.test/a?q=\udbff",
        "id": "\ud83d",
        "summary": "a \udfff b",
    }
    paired = {"title": "Pair \ud83d\ude00 kept", "published_at": "2025-01-01T01:00:00Z", "source": "Wire"}
    path.write_text(json.dumps(row) + "\n" + json.dumps(paired) + "\n")  # written as escapes
    db = Database(tmp_path / "h.duckdb", wait_s=5, snapshot=False)
    (summary,) = import_headlines(db, [path])
    assert summary.counts.new == 2
    with db.read() as con:
        stored = con.execute(
            "SELECT title, source, url, guid, summary FROM headlines ORDER BY title"
        ).fetchall()
    assert stored == [
        ("Ether \ufffd up", "Wire\ufffd", "https://w.test/a?q=\ufffd", "\ufffd", "a \ufffd b"),
        ("Pair \U0001f600 kept", "Wire", None, None, None),
    ]


def test_c1_control_characters_do_not_survive_in_titles(tmp_path: Path) -> None:
    path = tmp_path / "c1.csv"
    path.write_text("title,published_at\nBitcoin \x80\x9b falls,2025-01-01T00:00:00Z\n")
    (item,), _, _ = read_headlines(path, HeadlineImportOptions())
    assert item.title == "Bitcoin falls"


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_json_lines_with_an_unescaped_line_separator_in_a_title_are_read(
    tmp_path: Path, separator: str
) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text(
        f'{{"title": "Bitcoin{separator}falls", "published_at": "2025-01-01T00:00:00Z"}}\n', encoding="utf-8"
    )
    (item,), _, _ = read_headlines(path, HeadlineImportOptions())
    assert item.title == "Bitcoin falls"


def test_json_lines_with_crlf_keep_their_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    lines = ['{"title": "a\u2028b", ' + GOOD + "}", "", '{"title": "c", "published_at": "soon"}']
    path.write_bytes("\r\n".join(lines).encode())
    assert _refused(path).line == 3


@pytest.mark.parametrize(
    ("name", "text", "line", "named"),
    [
        ("two.csv", "title,published_at,title\na,2025-01-01T00:00:00Z,b\n", 1,
         "column 'title' appears twice"),
        ("time.csv", "date,title,date\n2025-01-01,a,2025-01-02\n", 1, "column 'date' appears twice"),
        ("case.csv", "Title,published_at, title\na,2025-01-01T00:00:00Z,b\n", 1, "'Title' and ' title'"),
        ("url.csv", "title,published_at,url,URL\na,2025-01-01T00:00:00Z,https://a.test,https://b.test\n", 1,
         "'url' and 'URL'"),
        ("key.jsonl", '{"title": "a", ' + GOOD + '}\n{"title": "a", "title": "b", ' + GOOD + "}\n", 2,
         "key 'title' appears twice"),
        ("spelling.jsonl", '{"title": "a", ' + GOOD + '}\n\n{"Title": "b", ' + GOOD + "}\n", 3,
         "'title' and 'Title'"),
        ("key.json", '[{"link": "https://a.test/1", "link": "https://a.test/2", "title": "a", ' + GOOD + "}]",
         1, "key 'link' appears twice"),
    ],
)  # fmt: skip
def test_a_column_that_is_read_and_named_twice_refuses_the_file(
    tmp_path: Path, name: str, text: str, line: int, named: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    err = _refused(path)
    assert err.line == line and named in err.one_line() and "rename or drop one" in err.one_line()


def test_twins_that_are_not_read_or_are_named_with_an_option_are_fine(tmp_path: Path) -> None:
    unused = tmp_path / "unused.csv"  # 'title' wins over 'name'; 'extra' is no known column
    unused.write_text("title,published_at,extra,extra,name,name\na,2025-01-01T00:00:00Z,1,2,3,4\n")
    (item,), _, _ = read_headlines(unused, HeadlineImportOptions())
    assert item.title == "a"
    spelled = tmp_path / "spelled.csv"
    spelled.write_text("Title,published_at,title\nupper,2025-01-01T00:00:00Z,lower\n")
    assert "--title" in _refused(spelled).one_line()
    (item,), _, _ = read_headlines(spelled, HeadlineImportOptions(title="Title"))
    assert item.title == "upper"


def test_numbers_json_cannot_hold_as_numbers_are_read_as_written(tmp_path: Path) -> None:
    """A 5,000-digit id used to raise Python's int-conversion limit; 1e999 became "inf"."""
    path = tmp_path / "numbers.json"
    big = "7" * 5000
    path.write_text(f'[{{"title": 1e999, "id": {big}, {GOOD}}}, {{"title": NaN, "id": 1, {GOOD}}}]')
    items, _, _ = read_headlines(path, HeadlineImportOptions())
    assert [(h.title, h.guid) for h in items] == [("1e999", big), ("NaN", "1")]


def test_a_json_error_after_leading_blank_lines_names_its_own_line(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text('\n\n[{"title": "a",\n' + GOOD + ",}]")
    assert _refused(path).line == 4
