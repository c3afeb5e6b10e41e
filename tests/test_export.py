"""`flushwatch export` writes hive-partitioned Parquet that DuckDB reads back; `flushes` renders."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from flushwatch.storage.db import Database
from tests.test_attribution import add_flush, add_headline
from tests.test_detect import write_series
from tests.test_detect_support import load_candles


def test_export_parquet_partitions_and_replaces(db: Database, db_path: Path, tmp_path: Path, cli) -> None:
    load_candles(db, write_series(tmp_path / "c.csv", minutes=90, seed=1), symbol="BTCUSDT", interval="1m")
    with db.write() as con:
        add_headline(con, "Exchange halts all customer withdrawals", minutes=-5)
    out = tmp_path / "it's an export"  # a quote in the path must not end the SQL string
    assert cli("export", "--format", "parquet", "--db", str(db_path), str(out)).code == 0
    (out / "stale").mkdir()  # an older export is replaced whole
    res = cli("export", "--format", "parquet", "--db", str(db_path), str(out))
    assert res.code == 0, res.err
    assert not (out / "stale").exists() and (out / ".flushwatch-export").is_file()
    assert list((out / "candles").glob("symbol=BTCUSDT/interval=1m/month=2024-03/*.parquet"))
    con = duckdb.connect()
    quoted = str(out).replace("'", "''")
    n = con.execute(
        f"SELECT count(*) FROM read_parquet('{quoted}/candles/**/*.parquet', hive_partitioning=true)"
    )
    assert n.fetchone() == (90,)
    titles = con.execute(
        f"SELECT title, sentiment FROM read_parquet('{quoted}/headlines/**/*.parquet')"
    ).fetchall()
    assert titles == [("Exchange halts all customer withdrawals", "bearish")]
    assert not list(tmp_path.glob("it's an export.tmp-*"))


def test_export_never_replaces_a_directory_that_is_not_an_export(
    db: Database, db_path: Path, tmp_path: Path, cli
) -> None:
    """`export .` in a home directory, or into the database's own folder, must refuse and keep
    every file; an empty directory is fine."""
    with db.write():
        pass  # the file exists, with its schema
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    res = cli("export", "--db", str(db_path), str(mine))
    assert res.code == 1 and "not empty" in res.err and "Traceback" not in res.err
    assert (mine / "notes.txt").read_text() == "keep me" and len(list(mine.iterdir())) == 1
    res = cli("export", "--db", str(db_path), str(db_path.parent))
    assert res.code == 1 and "holds the database" in res.err and db_path.is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("export", "--db", str(db_path), str(empty)).code == 0
    assert (empty / "candles").is_dir()


def test_flushes_command_json_and_table(db: Database, db_path: Path, cli) -> None:
    with db.write() as con:
        fid = add_flush(con)
        hid = add_headline(con, "Exchange halts all customer withdrawals", minutes=-5)
        add_headline(con, "Price slides as liquidations mount", minutes=5, market_report=True)
    from flushwatch.scoring.attribution import attribute

    attribute(db)
    res = cli("flushes", "--db", str(db_path), "--from", "2024-06-01", "--asset", "BTC", "--format", "json")
    assert res.code == 0, res.err
    [flush] = json.loads(res.out)
    assert flush["flush_id"] == fid and flush["direction"] == "long_flush"
    first = flush["catalysts"][0]
    assert first["headline_id"] == hid and first["rank"] == 1 and not first["is_coverage"]
    assert {"title", "source", "published_at", "first_seen_at", "score"} <= set(first)
    assert any(c["is_coverage"] for c in flush["catalysts"])
    table = cli("flushes", "--db", str(db_path), "--since", "36500d", "--format", "markdown")
    assert table.code == 0 and "Exchange halts" in table.out
    assert cli("flushes", "--db", str(db_path), "--since", "soon").code == 2
    assert cli("flushes", "--db", str(db_path), "--since", "7d", "--from", "2024-01-01").code == 2


def test_clip_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    from flushwatch.clip import clip

    title = "Bitcoin slips below $119,000 as tariff threat hits risk assets"
    assert clip(title, 44) == "Bitcoin slips below $119,000 as tariff…"
    assert clip(title, len(title)) == title
    assert clip("one two, three", 9) == "one two…"  # trailing punctuation dropped
    assert clip("abcdefghijklmnop", 8) == "abcdefg…"  # one long word: cut inside it
    assert all(len(clip(title, w)) <= w for w in range(2, 70))


def test_flushes_table_cuts_the_top_cause_at_a_word(db: Database, db_path: Path, cli) -> None:
    with db.write() as con:
        add_flush(con)
        title = "Exchange halts all customer withdrawals after a suspicious outflow overnight"
        add_headline(con, title, minutes=-5)
    from flushwatch.scoring.attribution import attribute

    attribute(db)
    res = cli("flushes", "--db", str(db_path), "--since", "36500d")
    assert res.code == 0, res.err
    flat = " ".join(res.out.replace("│", " ").split())
    assert "Exchange halts all customer withdrawals…" in flat and "withdrawals aft" not in flat
