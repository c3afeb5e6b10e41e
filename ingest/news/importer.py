"""``flushwatch import headlines``: CSV and JSONL exports (gzip allowed) into ``headlines``.

Rows go through the same normalise -> decide -> store path as feed items, so an imported
headline and the same article fetched live meet on one identity. Each file is read fully and
validated before anything is written, then stored in ONE transaction: a bad row raises
InputError naming file:line and nothing from that file is stored. Rows without a title are
skipped with a warning (dumps carry a few); duplicates by identity are counted, not stored.

Auto-detection (each can be overridden): the delimiter from the header line; columns by common
names (title/headline, date/published_at/..., source/..., url/link, external_id/id/guid); the
time format from all values of the file (ISO 8601, epoch seconds/ms, D-M-Y vs M-D-Y decided by
a value that is only valid one way). Naive times are taken in ``--timezone`` (default UTC).
A column that is read but named twice ("title,title", or "Title" and "title") refuses the file:
reading one of them would drop the other without a word.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flushwatch.errors import ConfigError, InputError
from flushwatch.ingest.news.assets import tag_assets
from flushwatch.ingest.news.batch import store_headlines
from flushwatch.ingest.news.normalise import normalise_item
from flushwatch.records.news import Headline, ImportSummary, RawItem, StoreCounts
from flushwatch.storage.db import Database

log = logging.getLogger(__name__)

TITLE_COLUMNS = ("title", "headline", "head_line", "name")
TIME_COLUMNS = (
    "published_at_utc",
    "published_at",
    "published",
    "publishedat",
    "pubdate",
    "date",
    "datetime",
    "time",
    "timestamp",
    "created_at",
    "createdat",
    "published_on",
)
SOURCE_COLUMNS = ("source_name", "source", "outlet", "publisher", "domain", "site")
URL_COLUMNS = ("url", "link", "article_url", "href")
ID_COLUMNS = ("external_id", "guid", "id", "news_id", "article_id")
SUMMARY_COLUMNS = ("summary", "description", "text", "body")
# Published times outside these are placeholders ("0001-01-01", "9999-12-31") in exports, not
# news; they are refused with FILE:LINE rather than stored where no window query finds them.
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class HeadlineImportOptions:
    title: str | None = None
    time: str | None = None
    time_format: str | None = None  # strftime format, or 'epoch' / 'epoch_ms' / 'iso'
    timezone: str = "UTC"
    source: str | None = None  # a column name, or a literal outlet name when no such column
    url: str | None = None
    id: str | None = None
    delimiter: str | None = None


def _open_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"broken gzip: {exc}", path=path) from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 (byte {exc.start})", path=path, hint="re-save the file as UTF-8"
        ) from exc


def _is_jsonl(path: Path, text: str) -> bool:
    name = path.name.lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return True
    return text.lstrip()[:1] in ("{", "[")


# A nested object's display text, e.g. CryptoPanic's ``source: {"title": "CoinDesk", ...}``.
_NESTED_TEXT_FIELDS = ("title", "name", "domain")


def _json_text(value: object) -> str:
    """One JSON value as the text of a column. A nested object stands for its title (or name,
    or domain) -- never its Python repr, which would become an outlet called "{'title': ...}"."""
    if value is None:
        return ""
    if isinstance(value, dict):
        for key in _NESTED_TEXT_FIELDS:
            nested = value.get(key)
            if nested is not None and not isinstance(nested, dict | list) and str(nested).strip():
                return str(nested)
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def check_delimiter(delimiter: str | None) -> None:
    """``--delimiter`` must be one character that can separate CSV fields (ConfigError, exit 2)."""
    if delimiter is None:
        return
    if len(delimiter) != 1 or delimiter in ('"', "\r", "\n"):
        raise ConfigError(
            f"--delimiter must be one character other than a quote or line break, not {delimiter!r}",
            hint="e.g. --delimiter ';' or --delimiter '\\t'",
        )


class _JSONObject(dict[str, Any]):
    """A decoded JSON object that remembers the keys it held more than once: ``json`` keeps
    the last value of a repeated key without a word, which for "title" would be a silent pick."""

    repeated: tuple[str, ...] = ()


def _json_object(pairs: list[tuple[str, Any]]) -> _JSONObject:
    obj = _JSONObject(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = []
        for key, _ in pairs:
            if key in seen:
                twice.append(key)
            seen.add(key)
        obj.repeated = tuple(twice)
    return obj


def _json_int(digits: str) -> int | str:
    """An integer; its digits as written when Python refuses to convert that many (over
    ``sys.get_int_max_str_digits()``): such a number can only be an id, which is text to us, and
    the refusal would name a Python setting instead of the file."""
    try:
        return int(digits)
    except ValueError:
        return digits


def _json_float(text: str) -> float | str:
    """A float; the number as written when it overflows to infinity (``1e999``), which would
    otherwise be stored as the word "inf"."""
    value = float(text)
    return value if math.isfinite(value) else text


# ``parse_constant``: NaN / Infinity (JSON extensions) are kept as the words written.
_JSON = json.JSONDecoder(
    object_pairs_hook=_json_object, parse_int=_json_int, parse_float=_json_float, parse_constant=str
)


def _too_deep(path: Path, line: int | None) -> InputError:
    return InputError(
        "JSON nested too deeply to read",
        path=path,
        line=line,
        hint="a headline export holds flat objects, one per headline",
    )


def _decode_json(text: str, path: Path, line: int | None, first_line: int = 1) -> Any:
    """One JSON document. ``line`` is where a JSON-lines record starts (None for a whole file,
    whose errors are placed by the decoder, counting from ``first_line``)."""
    try:
        return _JSON.decode(text)
    except json.JSONDecodeError as exc:
        where = line if line is not None else exc.lineno + first_line - 1
        raise InputError(f"bad JSON: {exc.msg}", path=path, line=where) from exc
    except RecursionError as exc:  # json recurses per level: "[" * 100_000 exhausts the stack
        raise _too_deep(path, line) from exc


@dataclass
class _Table:
    """A file's columns and rows, with what is needed to refuse a column given twice."""

    layout: str  # "csv" or "json"
    columns: list[str]  # each name once, in the order first met
    rows: list[tuple[int, dict[str, str]]]  # (line number, row)
    first_line: dict[str, int]  # where each name first appears
    repeated: dict[str, int] = field(default_factory=dict)  # name given twice in one header/object


def _rows(path: Path, text: str, delimiter: str | None) -> _Table:
    """The rows of a CSV or JSON(L) file, each with its line number."""
    if _is_jsonl(path, text):
        return _json_rows(path, text)
    return _csv_rows(path, text, delimiter)


def _json_rows(path: Path, text: str) -> _Table:
    """A JSON array (rows numbered by position) or JSON lines. JSON lines are separated by
    ``\\n`` (``\\r\\n`` works too): never ``str.splitlines``, which also breaks at U+0085,
    U+2028 and U+2029, all of which JSON allows unescaped inside a string."""
    stripped = text.lstrip()
    records: list[tuple[int, object]]
    if stripped.startswith("["):
        lead = text[: len(text) - len(stripped)].count("\n")
        data = _decode_json(stripped, path, None, first_line=lead + 1)
        records = [(i + 1, r) for i, r in enumerate(data)]
    else:
        records = []
        for n, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            records.append((n, _decode_json(line, path, n)))
    table = _Table("json", [], [], {})
    for n, r in records:
        if not isinstance(r, dict):
            raise InputError("each JSON line must be an object", path=path, line=n)
        for k in r:
            if k not in table.first_line:
                table.first_line[k] = n
                table.columns.append(k)
        for k in getattr(r, "repeated", ()):
            table.repeated.setdefault(k, n)
        try:
            table.rows.append((n, {k: _json_text(v) for k, v in r.items()}))
        except RecursionError as exc:  # a value nested just under the decoder's limit
            raise _too_deep(path, n) from exc
    return table


def _csv_rows(path: Path, text: str, delimiter: str | None) -> _Table:
    header = text.split("\n", 1)[0]
    if delimiter is None:
        counts = {d: header.count(d) for d in (",", ";", "\t", "|")}
        delimiter = max(counts, key=lambda d: counts[d])
        if counts[delimiter] == 0:
            delimiter = ","
    check_delimiter(delimiter)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    except (TypeError, csv.Error) as exc:  # backstop: check_delimiter should catch them all
        raise ConfigError(f"--delimiter {delimiter!r} cannot be used: {exc}") from exc
    # csv refuses fields over 128 KiB by default. The whole file is in memory already, so no
    # field can be longer than it; long titles are cut later (normalise.MAX_TITLE_CHARS).
    limit = csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    lineno = 1
    try:
        try:
            columns = next(reader)
        except StopIteration as exc:
            raise InputError("empty file", path=path) from exc
        rows: list[tuple[int, dict[str, str]]] = []
        lineno = reader.line_num + 1
        for values in reader:
            if values and len(values) != len(columns):
                raise InputError(
                    f"{len(values)} fields, header has {len(columns)} (delimiter {delimiter!r})",
                    path=path,
                    line=lineno,
                    hint="check --delimiter and quoting",
                )
            if values:
                rows.append((lineno, dict(zip(columns, values, strict=True))))
            lineno = reader.line_num + 1
    except csv.Error as exc:
        raise InputError(f"unreadable CSV: {exc}", path=path, line=lineno) from exc
    finally:
        csv.field_size_limit(limit)
    times = Counter(columns)
    repeated = {c: 1 for c, k in times.items() if k > 1}  # all on the header line
    return _Table("csv", list(times), rows, dict.fromkeys(times, 1), repeated)


def _pick(
    columns: Sequence[str],
    explicit: str | None,
    candidates: Sequence[str],
    what: str,
    path: Path,
    required: bool,
) -> str | None:
    if explicit:
        if explicit in columns:
            return explicit
        raise InputError(f"no column {explicit!r} for {what}; columns: {', '.join(columns)}", path=path)
    lower = {c.lower().strip(): c for c in columns}
    for c in candidates:
        if c in lower:
            return lower[c]
    if required:
        raise InputError(
            f"cannot tell which column holds the {what}; columns: {', '.join(columns)}",
            path=path,
            hint=f"name it with --{what}",
        )
    return None


def _norm(column: str) -> str:
    """How :func:`_pick` compares a column name with the names it knows."""
    return column.lower().strip()


# The option that names each column, for the hint; the summary has none.
_OPTION = {"title": "--title", "time": "--time", "source": "--source", "url": "--url", "id": "--id"}


def _refuse_twins(table: _Table, column: str | None, explicit: bool, what: str, path: Path) -> None:
    """Refuse the file when the column picked for ``what`` is not the only one of its name:
    reading either would drop the other without a word. A name given twice ("title,title") is
    refused always; two spellings of one name ("Title", "title") only when the name was
    matched, not given with the option."""
    if column is None:
        return
    hint = "rename or drop one of them"
    if column in table.repeated:
        where = "in the header" if table.layout == "csv" else "in one object"
        thing = "column" if table.layout == "csv" else "key"
        raise InputError(
            f"{thing} {column!r} appears twice {where}; cannot tell which holds the {what}",
            path=path,
            line=table.repeated[column],
            hint=hint,
        )
    if explicit:
        return
    spellings = [c for c in table.columns if _norm(c) == _norm(column)]
    if len(spellings) > 1:
        shown = " and ".join(repr(c) for c in spellings)
        option = _OPTION.get(what)
        raise InputError(
            f"columns {shown} differ only in case or spaces; cannot tell which holds the {what}",
            path=path,
            line=max(table.first_line[c] for c in spellings),
            hint=f"{hint}, or name the one to read with {option}" if option else hint,
        )


_DMY_RE = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


def detect_time_format(values: Sequence[str], path: Path | str | None = None) -> str:
    """'iso', 'epoch', 'epoch_ms', 'dmy' or 'mdy' from a file's time values. ``path`` names
    the file in the error when the day-month order cannot be told (several files may be given)."""
    sample = [v.strip() for v in values if v and v.strip()]
    if not sample:
        return "iso"
    if all(re.fullmatch(r"\d{9,10}(\.\d+)?", v) for v in sample[:200]):
        return "epoch"
    if all(re.fullmatch(r"\d{12,13}", v) for v in sample[:200]):
        return "epoch_ms"
    matches = [_DMY_RE.match(v) for v in sample]
    if all(matches):
        firsts = [int(m.group(1)) for m in matches if m]
        seconds = [int(m.group(2)) for m in matches if m]
        if max(firsts) > 12 >= max(seconds):
            return "dmy"
        if max(seconds) > 12 >= max(firsts):
            return "mdy"
        where = f"{path}: " if path is not None else ""
        raise ConfigError(
            f"{where}day-month order of the times is ambiguous (no value has a part over 12)",
            hint="pass --time-format, e.g. '%d-%m-%Y %H:%M'",
        )
    return "iso"


def parse_time(value: str, fmt: str, tz: dt.tzinfo) -> dt.datetime:
    """One time value -> aware UTC datetime; ValueError when it does not parse."""
    v = value.strip()
    if fmt == "epoch":
        return dt.datetime.fromtimestamp(float(v), tz=dt.UTC)
    if fmt == "epoch_ms":
        return dt.datetime.fromtimestamp(int(v) / 1000, tz=dt.UTC)
    if fmt in ("dmy", "mdy"):
        m = _DMY_RE.match(v)
        if not m:
            raise ValueError(f"not a {fmt} time")
        a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        day, month = (a, b) if fmt == "dmy" else (b, a)
        t = dt.datetime(year, month, day, int(m.group(4) or 0), int(m.group(5) or 0), int(m.group(6) or 0))
    elif fmt == "iso":
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00") if v.endswith("Z") else v)
    else:
        t = dt.datetime.strptime(v, fmt)
    if t.tzinfo is None:
        t = t.replace(tzinfo=tz)
    return t.astimezone(dt.UTC)


def read_headlines(path: Path, opts: HeadlineImportOptions) -> tuple[list[Headline], int, int]:
    """Parse and validate one file: (headlines, rows read, rows skipped without title)."""
    text = _open_text(path)
    table = _rows(path, text, opts.delimiter)
    columns, rows = table.columns, table.rows
    title_col = _pick(columns, opts.title, TITLE_COLUMNS, "title", path, True)
    time_col = _pick(columns, opts.time, TIME_COLUMNS, "time", path, True)
    source_col = (
        _pick(columns, None, SOURCE_COLUMNS, "source", path, False)
        if opts.source is None
        else (opts.source if opts.source in columns else None)
    )
    literal_source = opts.source if opts.source and opts.source not in columns else None
    url_col = _pick(columns, opts.url, URL_COLUMNS, "url", path, False)
    id_col = _pick(columns, opts.id, ID_COLUMNS, "id", path, False)
    summary_col = _pick(columns, None, SUMMARY_COLUMNS, "summary", path, False)
    assert title_col and time_col
    for column, explicit, what in (
        (title_col, bool(opts.title), "title"),
        (time_col, bool(opts.time), "time"),
        (source_col, opts.source is not None, "source"),
        (url_col, bool(opts.url), "url"),
        (id_col, bool(opts.id), "id"),
        (summary_col, False, "summary"),
    ):
        _refuse_twins(table, column, explicit, what, path)
    try:
        tz: dt.tzinfo = ZoneInfo(opts.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"unknown --timezone {opts.timezone!r}", hint="use an IANA name like Europe/Berlin"
        ) from exc
    fmt = opts.time_format or detect_time_format([r[time_col] for _, r in rows], path)
    default_source = literal_source or path.name.split(".")[0]
    out: list[Headline] = []
    skipped_lines: list[int] = []
    for line, r in rows:
        title = r.get(title_col, "")
        if not title.strip():
            skipped_lines.append(line)
            continue
        raw_time = r.get(time_col, "")
        try:
            published = parse_time(raw_time, fmt, tz)
        except (ValueError, OverflowError, OSError) as exc:
            raise InputError(
                f"time {raw_time!r} in column {time_col!r} does not parse as {fmt}: {exc}",
                path=path,
                line=line,
                hint="fix the row, or pass --time-format",
            ) from exc
        if not EARLIEST <= published < LATEST:
            raise InputError(
                f"time {raw_time!r} in column {time_col!r} is outside "
                f"{EARLIEST:%Y-%m-%d}..{LATEST:%Y-%m-%d} UTC (a placeholder date?)",
                path=path,
                line=line,
                hint="fix or drop the row",
            )
        source = (r.get(source_col) or "").strip() if source_col else ""
        source = source or default_source
        ext_id = (r.get(id_col) or "").strip() if id_col else ""
        item = RawItem(
            guid=ext_id or None,
            url=(r.get(url_col) or None) if url_col else None,
            title=title,
            summary=(r.get(summary_col) or None) if summary_col else None,
            published_at=published,
        )
        h = normalise_item(item, source=source, first_seen=published, origin="import")
        if h is None:
            skipped_lines.append(line)
            continue
        out.append(h)
    if skipped_lines:
        shown = ", ".join(str(n) for n in skipped_lines[:5]) + (", ..." if len(skipped_lines) > 5 else "")
        log.warning("%s: %d rows without a title skipped (lines %s)", path, len(skipped_lines), shown)
    return out, len(rows), len(skipped_lines)


def import_headlines(
    db: Database, paths: Sequence[Path], opts: HeadlineImportOptions | None = None
) -> list[ImportSummary]:
    """Import each file in its own transaction; the first bad file stops the command, files
    before it stay imported."""
    opts = opts or HeadlineImportOptions()
    check_delimiter(opts.delimiter)  # a usage error, before any file is read
    results = []
    with db.run("import headlines") as run:
        for path in paths:
            items, n_rows, skipped = read_headlines(path, opts)
            with db.write() as con:
                plan = store_headlines(con, items, run_id=run.run_id, tagger=lambda h: tag_assets(h.title))
            counts = StoreCounts(len(plan.new), len(plan.updated), plan.duplicate)
            log.info(
                "%s: %d rows, %d new, %d duplicate, %d skipped",
                path,
                n_rows,
                counts.new,
                counts.duplicate,
                skipped,
            )
            run.add("rows", n_rows)
            run.add("items_new", counts.new)
            run.add("items_updated", counts.updated)
            run.add("items_duplicate", counts.duplicate)
            run.add("rows_skipped", skipped)
            results.append(ImportSummary(str(path), n_rows, counts, skipped))
    return results
