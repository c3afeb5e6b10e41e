"""flushwatch run: one pass, each step's failure recorded without stopping the others, exit 3."""

from __future__ import annotations

import json
from pathlib import Path

from flushwatch.errors import FeedError
from flushwatch.scoring.pipeline import STEPS, RunOptions, run_pass
from flushwatch.storage.db import Database
from tests.test_explain import seed_flush


def test_failed_step_is_reported_and_later_steps_still_run(db: Database) -> None:
    ran: list[str] = []

    def ok(name: str):
        def step(db: Database, run_id: int | None) -> str:
            ran.append(name)
            return f"{name} done"

        return step

    def broken(db: Database, run_id: int | None) -> str:
        ran.append("ingest")
        raise FeedError("https://feed.example/rss", "HTTP 503", transient=True, status=503)

    funcs = {name: ok(name) for name in STEPS} | {"ingest": broken}
    report = run_pass(db, RunOptions(skip=frozenset({"fetch"})), funcs)
    assert ran == ["ingest", "score", "detect", "attribute"]
    assert [(s.name, s.status) for s in report.steps] == [
        ("ingest", "failed"),
        ("score", "ok"),
        ("fetch", "skipped"),
        ("detect", "ok"),
        ("attribute", "ok"),
    ]
    assert report.failed[0].detail == "https://feed.example/rss: HTTP 503"


def test_run_offline_detects_and_attributes_real_rows(db: Database, db_path: Path, cli) -> None:
    seed_flush(db)
    with db.write() as con:  # leave only the candles and headlines: run must rebuild flushes
        con.execute("DELETE FROM catalysts")
        con.execute("DELETE FROM flushes")
    r = cli("run", "--offline", "--no-score", "--db", str(db_path))
    assert r.code == 0, r.out + r.err
    lines = {line.split()[0]: line.split()[1] for line in r.out.splitlines()}
    assert lines == {
        "ingest": "skipped",
        "score": "skipped",
        "fetch": "skipped",
        "detect": "ok",
        "attribute": "ok",
    }
    with db.read() as con:
        (status, counts) = con.execute(
            "SELECT status, counts FROM runs WHERE command = 'run' ORDER BY run_id DESC LIMIT 1"
        ).fetchone()
    assert status == "ok" and json.loads(counts)["detect_status"] == "ok"


def test_run_exits_3_when_a_step_fails(db: Database, db_path: Path, cli) -> None:
    seed_flush(db)
    # One feed that fails for certain, offline: a file:// URL that does not exist. The default
    # catalogue is loaded first and disabled, so nothing leaves this machine.
    from flushwatch.ingest.news.service import ensure_catalogue

    with db.write() as con:
        ensure_catalogue(con)
        con.execute("UPDATE feeds SET enabled = FALSE")
        con.execute(
            "INSERT INTO feeds (url, name, kind) "
            "VALUES ('file:///nonexistent/flushwatch-test.rss', 'Missing', 'crypto')"
        )
    r = cli("run", "--no-fetch", "--no-score", "--db", str(db_path))
    assert r.code == 3, r.out + r.err
    assert r.out.splitlines()[0].startswith("ingest    failed")
    assert "detect    ok" in r.out and "attribute ok" in r.out
    assert "1 of 5 steps failed: ingest" in r.err
