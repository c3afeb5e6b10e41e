"""`flushwatch score --refresh-rules`: rows written by other rules brought up to date, on real
DuckDB files, with the real shipped model for the rows' probabilities (titles our own words)."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import duckdb

from flushwatch.nlp.importance import DEFAULT_WEIGHTS
from flushwatch.nlp.refresh import current_rules, recompute
from flushwatch.nlp.rules import rule_set, rules_revision, text_score
from flushwatch.records.flushes import DETECTOR_VERSION
from flushwatch.records.scores import ImportanceContext, RuleFields, StoredScore
from flushwatch.storage.db import Database
from flushwatch.storage.schema import MIGRATIONS, migrate

MODEL = "flushwatch-minilm"
TITLES = [
    "Exchange halts withdrawals after a hot wallet hack",
    "Bitcoin drops 5% in an hour",
    "Fund files for a spot ether ETF",
    "Small token gets listed on a minor venue",
]
RULE_COLUMNS = "event_type, event_confidence, is_market_report, language, flags, importance"
ALL_COLUMNS = (
    "headline_id, model_name, model_revision, run_id, scored_at, sentiment, p_bearish, p_neutral, "
    f"p_bullish, sentiment_score, label_map, rules_revision, {RULE_COLUMNS}"
)


def _fill(db: Database, titles: list[str] = TITLES) -> None:
    with db.write() as con:
        for i, title in enumerate(titles, start=1):
            con.execute(
                "INSERT INTO headlines (headline_id, dedup_key, source, title, first_seen_at, origin, "
                "content_hash) VALUES (?, ?, 'test', ?, now(), 'feed', md5(?))",
                [i, f"k{i}", title, title],
            )
            con.execute("INSERT INTO headline_assets VALUES (?, 'BTC', 'ticker', false)", [i])


def _rows(path: Path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"SELECT {ALL_COLUMNS} FROM headline_scores ORDER BY headline_id").fetchall()
    finally:
        con.close()


def _age(path: Path, ids: list[int], *, answers: bool) -> None:
    """Make rows look written by older rules: an unknown fingerprint, and (``answers``) the
    older rules' different answers."""
    con = duckdb.connect(str(path))
    try:
        sets = "rules_revision = 'older0rules0'"
        if answers:
            sets += (
                ", event_type = 'promotion_other', event_confidence = 0.5, is_market_report = false, "
                "importance = 1.0"
            )
        con.execute(f"UPDATE headline_scores SET {sets} WHERE headline_id IN (SELECT unnest(?))", [ids])
    finally:
        con.close()


def test_rules_revision_follows_the_weights() -> None:
    first = rules_revision(DEFAULT_WEIGHTS)
    assert first == rules_revision(dict(reversed(list(DEFAULT_WEIGHTS.items()))))  # order-free
    assert len(first) == 12 and int(first, 16) >= 0
    assert rules_revision({**DEFAULT_WEIGHTS, "tier": 0.7}) != first
    assert current_rules(MODEL) == current_rules("no/such/local/model")  # both use shipped weights


def test_recompute_is_scoring_without_the_model() -> None:
    """What refresh writes equals what scoring writes for the same title and probabilities."""
    from flushwatch.nlp.importance import importance

    probs = (0.71234, 0.2, 0.08766)
    ctx = ImportanceContext(assets=("BTC",), outlet_count=3, feed_tier=1, is_first_report=True)
    rules = rule_set(MODEL)
    cases = [
        ("Exchange halts withdrawals after hack", False),
        ("Bitcoin drops 5%", True),
        ("A brand brings its loyalty points onchain", False),  # no rule fires: the event head's
    ]
    for title, truncated in cases:
        now = text_score(title, probs, truncated, rules=rules.title_rules([title])[0])
        stored = StoredScore(
            headline_id=1,
            model_name=MODEL,
            model_revision="r",
            title=title,
            context=ctx,
            probs=(now.p_bearish, now.p_neutral, now.p_bullish),
            sentiment=now.sentiment,
            sentiment_score=now.sentiment_score,
            rules=RuleFields("promotion_other", 0.5, False, None, ("truncated",) if truncated else (), 1.0),
        )
        (fields,) = recompute([stored], rules)
        assert fields == RuleFields(
            now.event_type,
            now.event_confidence,
            now.is_market_report,
            now.language,
            now.flags,
            importance(now, ctx, rules.weights),
        )
        assert ("truncated" in fields.flags) is truncated  # the tokenizer's flag is carried over


def test_refresh_rewrites_only_the_rule_fields_and_is_idempotent(cli, db: Database, db_path: Path) -> None:
    _fill(db)
    assert cli("score", "--db", str(db_path)).code == 0
    scored = _rows(db_path)
    assert {r[11] for r in scored} == {current_rules(MODEL)}
    _age(db_path, [1, 2], answers=True)
    _age(db_path, [3], answers=False)

    again = cli("score", "--db", str(db_path), "--format", "json")
    assert again.code == 0 and json.loads(again.out)[0]["stale_rules"] == 3
    assert "--refresh-rules" in again.err  # the hint, on stderr

    res = cli("score", "--refresh-rules", "--db", str(db_path), "--format", "json")
    assert res.code == 0, res.err
    summary = json.loads(res.out)[0]
    assert summary["refreshed"] == 3 and summary["changed"] == 2
    assert summary["types_changed"] == 2 and summary["reports_changed"] == 1  # "drops 5%"
    assert summary["rules"] == current_rules(MODEL)
    # Every column as the current rules and the model wrote it: the model's columns, scored_at
    # and run_id were never touched, the rule fields are back to what scoring gives.
    assert _rows(db_path) == scored

    second = cli("score", "--refresh-rules", "--db", str(db_path), "--format", "json")
    assert json.loads(second.out)[0]["refreshed"] == 0
    assert _rows(db_path) == scored
    con = duckdb.connect(str(db_path), read_only=True)
    runs = con.execute(
        "SELECT status, counts->>'checked' FROM runs WHERE command = 'refresh-rules' ORDER BY run_id"
    ).fetchall()
    con.close()
    assert runs == [("ok", "3"), ("ok", "0")]


def test_refresh_options_that_do_not_apply_are_refused(cli, db_path: Path) -> None:
    res = cli("score", "--refresh-rules", "--limit", "5", "--db", str(db_path))
    assert res.code == 2 and "--refresh-rules" in res.err and "Traceback" not in res.err


START = dt.datetime(2024, 6, 3, 14, 0, tzinfo=dt.UTC)


def test_refresh_re_ranks_catalysts_without_loading_the_model(db: Database, db_path: Path) -> None:
    """Rows an older version scored wrongly (the move report as a cause, the cause as noise):
    after the refresh the cause leads the flush, and torch was never imported."""
    with db.write() as con:
        fid = con.execute(
            """
            INSERT INTO flushes (asset, venue, market, symbol, interval, start_at, peak_at, end_at,
                                 trigger_at, direction, price_move_pct, extreme_move_pct, signals,
                                 severity, detector_version, detected_at)
            VALUES ('BTC', 'binance', 'perp', 'BTCUSDT', '1m', ?, ?, ?, ?, 'long_flush', -6, -8,
                    ['move'], 60, ?, now())
            RETURNING flush_id
            """,
            [
                START,
                START + dt.timedelta(minutes=20),
                START + dt.timedelta(minutes=40),
                START,
                DETECTOR_VERSION,
            ],
        ).fetchone()[0]
        for hid, title, minutes in [
            (1, "Exchange halts all customer withdrawals", -30),
            (2, "Bitcoin tumbles 6% as longs are wiped out", 5),
        ]:
            at = START + dt.timedelta(minutes=minutes)
            con.execute(
                "INSERT INTO headlines (headline_id, dedup_key, source, title, published_at, first_seen_at, "
                "origin, content_hash) VALUES (?, ?, 'Test Wire', ?, ?, ?, 'import', 'h')",
                [hid, f"k{hid}", title, at, at],
            )
            con.execute("INSERT INTO headline_assets VALUES (?, 'BTC', 'ticker', false)", [hid])
            # an older version's answers: both bearish, the cause unimportant, the report not flagged
            con.execute(
                "INSERT INTO headline_scores (headline_id, model_name, model_revision, scored_at, sentiment, "
                "p_bearish, p_neutral, p_bullish, sentiment_score, importance, event_type, is_market_report, "
                "flags) VALUES (?, ?, 'old', now(), 'bearish', 0.8, 0.15, 0.05, -0.75, ?, 'promotion_other', "
                "false, [])",
                [hid, MODEL, 2.0 if hid == 1 else 95.0],
            )
    from flushwatch.scoring.attribution import attribute

    attribute(db)
    with db.read() as con:
        top = con.execute(
            "SELECT headline_id FROM catalysts WHERE flush_id = ? AND rank = 1", [fid]
        ).fetchone()
    assert top == (2,)  # the old answers put the move report first

    probe = (
        "import sys\nfrom flushwatch.cli.main import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
        "print('torch' in sys.modules, code, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, "score", "--refresh-rules", "--db", str(db_path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stderr.strip().splitlines()[-1].split() == ["False", "0"], proc.stderr
    assert json.loads(proc.stdout)[0]["reattributed"] == 1
    with db.read() as con:
        ranks = con.execute(
            "SELECT headline_id, rank, is_coverage FROM catalysts WHERE flush_id = ? ORDER BY rank", [fid]
        ).fetchall()
        scores = con.execute(
            "SELECT headline_id, event_type, is_market_report, importance FROM headline_scores ORDER BY 1"
        ).fetchall()
        run = con.execute(
            "SELECT f.attributed_run_id = r.run_id FROM flushes f, runs r WHERE r.command = 'refresh-rules'"
        ).fetchone()
    assert ranks[0][:2] == (1, 1) and (2, True) in [
        (r[0], r[2]) for r in ranks
    ]  # cause first, report coverage
    assert scores[0][1] == "exchange_trouble" and scores[0][3] > 2.0
    assert scores[1][1:3] == ("market_move", True)
    assert run == (True,)


def test_a_schema_1_file_gains_the_column_and_is_refreshed(cli, db_path: Path) -> None:
    """A database from before the fingerprint: migration 2 adds the column (NULL: unknown
    rules), the rows survive, and the refresh fills it."""
    con = duckdb.connect(str(db_path))
    migrate(con, path=db_path, migrations=MIGRATIONS[:1])
    con.execute("ALTER TABLE headline_scores DROP COLUMN rules_revision")  # the schema-1 layout
    con.execute(
        "INSERT INTO headlines (headline_id, dedup_key, source, title, first_seen_at, origin, content_hash) "
        "VALUES (1, 'k1', 'test', 'Bitcoin drops 5% in an hour', now(), 'feed', 'h')"
    )
    con.execute(
        "INSERT INTO headline_scores VALUES (1, ?, 'old', NULL, now(), 'bearish', 0.8, 0.15, 0.05, -0.75, "
        "50.0, 'promotion_other', 0.5, false, 'en', [], NULL)",
        [MODEL],
    )
    con.close()

    res = cli("score", "--refresh-rules", "--db", str(db_path), "--format", "json")
    assert res.code == 0, res.err
    assert json.loads(res.out)[0]["refreshed"] == 1
    con = duckdb.connect(str(db_path), read_only=True)
    version = con.execute("SELECT max(version) FROM schema_version").fetchone()
    row = con.execute(
        "SELECT sentiment, p_bearish, event_type, is_market_report, rules_revision FROM headline_scores"
    ).fetchone()
    con.close()
    assert version == (MIGRATIONS[-1].version,)
    assert row == ("bearish", 0.8, "market_move", True, current_rules(MODEL))


def test_refresh_keeps_other_models_rows_to_their_own_weights(
    cli, db: Database, db_path: Path, tmp_path: Path
) -> None:
    """A local model directory with its own importance.json: its rows get its weights."""
    model_dir = tmp_path / "my-model"
    model_dir.mkdir()
    (model_dir / "importance.json").write_text(json.dumps({"weights": {"bias": 2.0}}), encoding="utf-8")
    _fill(db, TITLES[:1])
    with db.write() as con:
        for name in (MODEL, str(model_dir)):
            con.execute(
                "INSERT INTO headline_scores (headline_id, model_name, model_revision, scored_at, sentiment, "
                "p_bearish, p_neutral, p_bullish, sentiment_score, importance, event_type, is_market_report) "
                "VALUES (1, ?, 'r', now(), 'bearish', 0.8, 0.15, 0.05, -0.75, ?, 'exchange_trouble', false)",
                [name, 1.0],
            )
    res = cli("score", "--refresh-rules", "--db", str(db_path), "--format", "json")
    assert json.loads(res.out)[0]["refreshed"] == 2
    con = duckdb.connect(str(db_path), read_only=True)
    got = dict(con.execute("SELECT model_name, rules_revision FROM headline_scores").fetchall())
    imp = dict(con.execute("SELECT model_name, importance FROM headline_scores").fetchall())
    con.close()
    assert got == {MODEL: current_rules(MODEL), str(model_dir): current_rules(str(model_dir))}
    assert got[MODEL] != got[str(model_dir)]
    assert imp[str(model_dir)] > imp[MODEL]  # its bias of +2 against the shipped -3


def test_a_corrupt_weights_file_is_one_clear_error_and_changes_nothing(
    cli, db: Database, db_path: Path, tmp_path: Path
) -> None:
    model_dir = tmp_path / "broken-model"
    model_dir.mkdir()
    (model_dir / "importance.json").write_text("{not json", encoding="utf-8")
    _fill(db, TITLES[:1])
    with db.write() as con:
        con.execute(
            "INSERT INTO headline_scores (headline_id, model_name, model_revision, scored_at, sentiment, "
            "p_bearish, p_neutral, p_bullish, sentiment_score, importance, event_type, is_market_report) "
            "VALUES (1, ?, 'r', now(), 'bearish', 0.8, 0.15, 0.05, -0.75, 1.0, 'promotion_other', false)",
            [str(model_dir)],
        )
    before = _rows(db_path)
    res = cli("score", "--refresh-rules", "--db", str(db_path))
    assert res.code != 0
    assert str(model_dir / "importance.json") in res.err and "model calibrate" in res.err
    assert "Traceback" not in res.err
    assert _rows(db_path) == before
    with db.read() as con:
        assert con.execute("SELECT status FROM runs WHERE command = 'refresh-rules'").fetchall() == [
            ("failed",)
        ]


def test_the_cron_pass_says_when_rows_need_a_refresh(db: Database) -> None:
    """`flushwatch run` logs each step's line: the score step names stale rows and the fix."""
    from flushwatch.jobs.run import STEP_FUNCS, run_step

    _fill(db, TITLES[:1])
    with db.write() as con:
        con.execute(
            "INSERT INTO headline_scores (headline_id, model_name, model_revision, scored_at, sentiment, "
            "p_bearish, p_neutral, p_bullish, sentiment_score, importance, event_type, is_market_report) "
            "SELECT 1, ?, revision, now(), 'bearish', 0.8, 0.15, 0.05, -0.75, 1.0, 'promotion_other', false "
            "FROM (SELECT ? AS revision)",
            [MODEL, _shipped_revision()],
        )
    step = run_step("score", STEP_FUNCS["score"], db, None)
    assert step.status == "ok", step.detail
    assert step.detail.startswith("0 scored, 1 already scored")
    assert "1 rows by older rules (flushwatch score --refresh-rules)" in step.detail


def _shipped_revision() -> str:
    from flushwatch.nlp.scorer import model_revision, shipped_model_dir

    return model_revision(shipped_model_dir())


def test_model_info_names_the_rules_revision_rows_get(cli) -> None:
    res = cli("model", "info", "--format", "json")
    assert res.code == 0, res.err
    assert json.loads(res.out)["rules revision"].startswith(current_rules(MODEL) + " ")
