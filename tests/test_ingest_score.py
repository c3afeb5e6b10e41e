"""`flushwatch ingest --score`: new headlines are scored by the shipped model in the same run."""

from __future__ import annotations

from pathlib import Path

import duckdb

from .conftest import REPO


def test_ingest_with_score_scores_every_new_headline(cli, db_path: Path) -> None:
    feed = (REPO / "tests" / "data" / "feeds" / "atom.xml").as_uri()
    first = cli("ingest", "--feed", feed, "--score", "--db", str(db_path))
    assert first.code == 0, first.err
    con = duckdb.connect(str(db_path), read_only=True)
    headlines = con.execute("SELECT count(*) FROM headlines").fetchone()
    scored = con.execute(
        "SELECT count(DISTINCT headline_id), count(*), min(sentiment_score), max(sentiment_score) "
        "FROM headline_scores"
    ).fetchone()
    con.close()
    assert headlines is not None and headlines[0] > 0
    assert scored is not None and scored[0] == headlines[0] == scored[1]
    assert -1.0 <= scored[2] <= scored[3] <= 1.0
    # A second run finds nothing new: no duplicate headlines, no second score rows.
    again = cli("ingest", "--feed", feed, "--score", "--db", str(db_path))
    assert again.code == 0, again.err
    con = duckdb.connect(str(db_path), read_only=True)
    assert con.execute("SELECT count(*) FROM headline_scores").fetchone() == (scored[1],)
    assert con.execute("SELECT count(*) FROM headlines").fetchone() == (headlines[0],)
    con.close()
