"""flushwatch run: one pass, each step's failure recorded without stopping the others, exit 3."""

from __future__ import annotations

import json
from pathlib import Path

from flushwatch.errors import FeedError
from flushwatch.jobs.run import STEPS, RunOptions, run_pass
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


def test_quiet_run_prints_nothing_on_success(db: Database, db_path: Path, cli) -> None:
    seed_flush(db)
    r = cli("--quiet", "run", "--offline", "--no-score", "--db", str(db_path))
    assert r.code == 0, r.err
    assert r.out == "" and r.err == ""


def test_quiet_run_still_shows_the_steps_when_one_failed(
    db: Database, db_path: Path, cli, monkeypatch
) -> None:
    from flushwatch.jobs import run as run_job

    def broken(db: Database, run_id: int | None) -> str:
        raise FeedError("https://feed.example/rss", "HTTP 503")

    monkeypatch.setitem(run_job.STEP_FUNCS, "detect", broken)
    seed_flush(db)
    r = cli("--quiet", "run", "--offline", "--no-score", "--db", str(db_path))
    assert r.code == 3
    assert "detect    failed" in r.out and "1 of 5 steps failed: detect" in r.err


def test_failed_step_is_logged_at_warning(db: Database, caplog) -> None:
    def broken(db: Database, run_id: int | None) -> str:
        raise FeedError("https://feed.example/rss", "HTTP 503")

    funcs = dict.fromkeys(STEPS, lambda db, run_id: "done") | {"score": broken}
    with caplog.at_level("INFO", logger="flushwatch.jobs.run"):
        run_pass(db, RunOptions(), funcs)
    levels = {r.getMessage().split()[1]: r.levelname for r in caplog.records}
    assert levels["score"] == "WARNING" and levels["detect"] == "INFO"


def test_fetch_failures_are_cut_at_a_word(db: Database, monkeypatch) -> None:
    from types import SimpleNamespace

    import pytest

    from flushwatch.errors import PartialFailure
    from flushwatch.ingest.market import fetch
    from flushwatch.jobs.run import _fetch

    failures = [f"binance BTCUSDT 1m: ConnectError: [Errno 111] Connection refused {i}" for i in range(10)]
    monkeypatch.setattr(fetch, "fetch_market", lambda db, run_id=None: SimpleNamespace(failures=failures))
    with pytest.raises(PartialFailure) as err:
        _fetch(db, None)
    detail = str(err.value).removeprefix("10 series failed: ")
    assert detail.endswith("…") and len(detail) <= 300
    assert "; ".join(failures).startswith(detail[:-1])
    assert not "; ".join(failures)[len(detail) - 1].isalnum()  # the cut falls between words
