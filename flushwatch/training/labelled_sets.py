"""The hand-labelled crypto headlines under a checkout's ``eval/`` folder, each row with its split.

Why keys only: the real headlines are third-party text, so the files hold the shared dataset's
name, the md5 of the title and our labels, and the titles are read from ../shared/data at run
time (:func:`headline_titles`). Why beside the code and not in the package: they are training
and evaluation data, read by ``model train`` and ``model eval`` from a checkout, never by
scoring, so the wheel does not carry them.

Every file has a ``split`` column, the one thing a reader needs to know about a row:

* ``sentiment_real.csv``: ``train`` (the crypto training titles, ``model train
  --crypto-titles``), ``dev`` (development titles, never trained on by anything shipped) and
  ``test`` (held out); ``sentiment`` is the first labelling pass, ``second_pass`` a blind
  second one (dev and test rows);
* ``event_types_real.csv`` and ``event_types_own.csv`` (titles written for this project, so
  they are stored whole): ``train`` (the event head is fitted on them) and ``test`` (held out
  from the rules and the head); ``batch`` numbers the labelling rounds, which ``model eval``
  reports one by one, as it always has.

eval/README.md has the labelling conventions.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Sequence
from pathlib import Path

from flushwatch.errors import InputError

#: A checkout's ``eval/`` folder (``flushwatch/training`` -> the repository root).
EVAL_DIR = Path(__file__).resolve().parents[2] / "eval"
SENTIMENT_FILE = "sentiment_real.csv"
EVENT_REAL_FILE = "event_types_real.csv"
EVENT_OWN_FILE = "event_types_own.csv"
SPLITS = ("train", "dev", "test")
LABELS = ("bearish", "neutral", "bullish")
#: How a sentiment row's label is read: the first pass, the blind second pass, or only the rows
#: both passes give the same label (the labels that do not depend on where the neutral /
#: directional line is drawn).
LABEL_READINGS = ("first pass", "second pass", "both passes agree")

#: How DuckDB reads a comma-separated headline file: md5 of the title -> title.
_COMMA_CSV_SQL = (
    "SELECT md5(title), title FROM read_csv(?, header=true, all_varchar=true) WHERE title IS NOT NULL"
)
#: Where the labelled real headlines come from, and how DuckDB reads each file.
_REAL_SOURCES = {
    "news_cryptonews_2021_2022": (
        "cryptonews_2021-10-12_2022-07-05.csv.gz",
        "SELECT md5(title), title FROM read_csv(?, delim=';', header=true, all_varchar=true) "
        "WHERE title IS NOT NULL",
    ),
    "news_cryptocompare_feed_2025_2026": (
        "headlines_2025-11-11_2026-04-26.csv.gz",
        _COMMA_CSV_SQL,
    ),
    "news_cryptonews_ftx_window_2022_11": (
        "cryptonews_2022-11-07T10_2022-11-11T08.csv",
        _COMMA_CSV_SQL,
    ),
}


def read_rows(name: str) -> list[dict[str, str]]:
    """The rows of one file under :data:`EVAL_DIR`, as written (keys, labels, split)."""
    path = EVAL_DIR / name
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            return list(csv.DictReader(fh))
    except OSError as exc:
        raise InputError(
            f"cannot read labelled set: {exc.strerror or exc}",
            path=path,
            hint="the labelled sets are in a checkout's eval/ folder, not in the installed package",
        ) from exc


def in_split(rows: Sequence[dict[str, str]], split: str) -> list[dict[str, str]]:
    """``rows`` of one split, in file order."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}")
    return [r for r in rows if r["split"] == split]


def batches(rows: Sequence[dict[str, str]]) -> list[tuple[str, list[dict[str, str]]]]:
    """``rows`` grouped by labelling round, in the order the rounds first appear."""
    out: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        out.setdefault(r["batch"], []).append(r)
    return list(out.items())


@functools.cache
def _shared_titles(path: str, sql: str) -> dict[str, str]:
    """md5 of the title -> title for one shared headline file, read once per process."""
    import duckdb

    con = duckdb.connect()
    try:
        return dict(con.execute(sql, [path]).fetchall())
    finally:
        con.close()


def headline_titles(dataset: str, needed_by: str) -> dict[str, str]:
    """md5 of the title -> title of every headline in one shared file (a key of ``_REAL_SOURCES``).

    Raises InputError naming the file, and ``needed_by``, when the shared data lacks it.
    """
    from flushwatch.config import require_shared_file

    file, sql = _REAL_SOURCES[dataset]
    path = require_shared_file(f"{dataset}/{file}", needed_by)
    return _shared_titles(str(path), sql)


def with_titles(name: str, rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """``rows`` of file ``name`` with each ``title`` read from the shared data by md5.

    Raises InputError naming the folder when the shared data (or a labelled headline) is missing.
    """
    titles: dict[str, str] = {}
    for dataset in sorted({r["dataset"] for r in rows}):
        titles.update(headline_titles(dataset, needed_by=name))
    missing = [r["title_md5"] for r in rows if r["title_md5"] not in titles]
    if missing:
        raise InputError(
            f"{name}: {len(missing)} labelled headlines not found in the shared data (first {missing[0]})",
            path=EVAL_DIR / name,
            hint="the shared data files differ from the ones the labels were made on",
        )
    return [{**r, "title": titles[r["title_md5"]]} for r in rows]


def _label_index(row: dict[str, str], column: str, line: int) -> int:
    label = row[column]
    if label not in LABELS:
        raise InputError(
            f"{SENTIMENT_FILE}: bad {column} {label!r}",
            path=EVAL_DIR / SENTIMENT_FILE,
            line=line,
            hint="use bearish, neutral or bullish",
        )
    return LABELS.index(label)


def sentiment_set(split: str, reading: str = "first pass") -> tuple[list[str], list[int]]:
    """Titles (from the shared data) and label indices of one split of ``sentiment_real.csv``,
    labels read as ``reading`` (one of :data:`LABEL_READINGS`).

    Raises InputError naming the folder when the shared data is missing, and naming the file
    and line for a label that is not bearish / neutral / bullish.
    """
    if reading not in LABEL_READINGS:
        raise ValueError(f"unknown label reading {reading!r}")
    all_rows = read_rows(SENTIMENT_FILE)
    lines = {id(r): i for i, r in enumerate(all_rows, start=2)}
    rows = in_split(all_rows, split)
    columns = {"first pass": ("sentiment",), "second pass": ("second_pass",)}.get(
        reading, ("sentiment", "second_pass")
    )
    labelled = [(r, [_label_index(r, c, lines[id(r)]) for c in columns]) for r in rows]
    kept = [(r, ys[0]) for r, ys in labelled if len(set(ys)) == 1]
    titled = with_titles(SENTIMENT_FILE, [r for r, _ in kept])
    return [r["title"] for r in titled], [y for _, y in kept]


def own_event_rows() -> list[dict[str, str]]:
    """The event-type titles written for this project (title, event_type, is_market_report)."""
    return read_rows(EVENT_OWN_FILE)


def real_event_rows() -> list[dict[str, str]]:
    """The labelled real headlines with each row's ``title`` filled in from the shared data."""
    return with_titles(EVENT_REAL_FILE, read_rows(EVENT_REAL_FILE))
