"""Attribution evaluation on real moves: which headline flushwatch ranks first, against the keys
in eval/ (written under eval/catalysts.md before any method read them).

Builds a temporary database from the shared data (candles and headlines through the real
importers, scores through the real model pipeline), runs `detect` (which attributes), then
prints one table, three methods side by side:

* the recency baseline: the latest headline up to 15 minutes after the start;
* the learned ranking validated leave one day out (both the weights and the verdict refitted
  without the held-out day): the figures to quote;
* the shipped model as stored by `detect` (fitted on these same events: not a validated figure).

On the development events (eval/catalyst_events.csv): how often the catalyst story
(eval/catalyst_headlines.csv) is rank 1, in the top 3, and the mean reciprocal rank (an event
whose flush is not detected, or whose story is not ranked, is a miss). On the judged flushes
(eval/judged_flushes.csv, first pass): precision at 1, where "no convincing catalyst" is right
when no candidate is a cause and otherwise rank 1 must be a cause; how often coverage or
commentary is the rank 1 shown; how often "no convincing catalyst" is right when said; then the
verdict's reliability table.

Usage: python bench/eval_attribution.py [--keep DIR | --reuse DIR] [--no-score] [--model NAME] [--fit]
"""

# ruff: noqa: E501  (long SQL and table lines in a script)

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from flushwatch.config import shared_data_dir
from flushwatch.records.flushes import ATTRIBUTION_VERSION, DETECTOR_VERSION
from flushwatch.scoring.attribution import HEADLINE_TIME_SQL, attribute
from flushwatch.scoring.thresholds import AttributionSettings
from flushwatch.storage.db import Database
from flushwatch.training.attribution_fit import (
    LIKELY_AT,
    POSSIBLE_AT,
    Candidates,
    candidates,
    day_models,
    fit,
    labelled_flushes,
    write_model,
)
from flushwatch.training.catalyst_bench import Keys, build, load_keys, release_kind

#: One method's answer for a flush: headline ids or "release:KIND" best first (causes before
#: coverage), the verdict, and each release's story (the headlines reporting it).
Answer = tuple[list[int | str], str, dict[str, set[int]]]


def story_of(keys: Keys, event_id: str) -> set[int | str]:
    """The catalyst story's headlines, and for a release event the release itself."""
    kind = release_kind(keys.events[event_id])
    return set(keys.story.get(event_id, set())) | ({f"release:{kind}"} if kind else set())


@dataclass
class Tally:
    ranks: list[int | None] = field(default_factory=list)  # per development event
    none_events: list[str] = field(default_factory=list)  # verdicts on the kind=none events
    correct: int = 0  # judged flushes answered right (a cause at 1, or "none" when there is none)
    judged: int = 0
    cause_at_1: int = 0  # rank 1 is a cause, whatever the verdict
    with_cause: int = 0
    noise_at_1: int = 0  # coverage or commentary shown as rank 1 (verdict likely or possible)
    none_said: int = 0
    none_right: int = 0

    def row(self, name: str) -> str:
        n = len(self.ranks)
        r1 = sum(1 for r in self.ranks if r == 1)
        r3 = sum(1 for r in self.ranks if r is not None and r <= 3)
        mrr = sum(1 / r for r in self.ranks if r is not None) / n if n else 0.0
        none_ok = sum(1 for v in self.none_events if v == "none")
        said = f"{self.none_right}/{self.none_said}" if self.none_said else "never said"
        return (
            f"| {name} | {r1}/{n} ({r1 / n:.0%}) | {r3}/{n} ({r3 / n:.0%}) | {mrr:.2f} "
            f"| {self.correct}/{self.judged} ({self.correct / max(self.judged, 1):.2f}) "
            f"| {self.cause_at_1}/{self.with_cause} | {self.noise_at_1}/{self.judged} | {said} "
            f"| {none_ok}/{len(self.none_events)} |"
        )


def score(keys: Keys, answer: Callable[[int], Answer], judged_labels: dict[int, dict[int, str]]) -> Tally:
    t = Tally()
    for ev_id, ev in keys.events.items():
        fid = keys.event_flush.get(ev_id)
        if ev["kind"] == "none":
            t.none_events.append(answer(fid)[1] if fid is not None else "none")
            continue
        rank = None
        if fid is not None:
            order = answer(fid)[0]
            story = story_of(keys, ev_id)
            rank = next((i + 1 for i, h in enumerate(order) if h in story), None)
        t.ranks.append(rank)
    for fid, labels in judged_labels.items():
        order, verdict, stories = answer(fid)
        has_cause = "cause" in labels.values()
        first = order[0] if order else None
        if isinstance(first, str):  # a release: a cause when a headline of its story was judged one
            top = "cause" if any(labels.get(h) == "cause" for h in stories.get(first, ())) else None
        else:
            top = labels.get(first) if first is not None else None
        t.judged += 1
        t.with_cause += has_cause
        t.cause_at_1 += top == "cause"
        if verdict == "none":
            t.none_said += 1
            t.none_right += not has_cause
            t.correct += not has_cause
        else:
            t.correct += top == "cause"
            t.noise_at_1 += top in ("coverage", "commentary")
    return t


def recency(db: Database, lookback_min: int) -> Callable[[int], Answer]:
    """The latest headlines up to 15 minutes after the start, newest first; always answers."""
    with db.read() as con:
        rows = con.execute(
            f"""SELECT f.flush_id, h.headline_id FROM flushes f JOIN headlines h
                  ON {HEADLINE_TIME_SQL} BETWEEN f.start_at - to_minutes(CAST(? AS BIGINT))
                                             AND f.start_at + INTERVAL 15 MINUTE
                ORDER BY f.flush_id, {HEADLINE_TIME_SQL} DESC, h.headline_id""",
            [lookback_min],
        ).fetchall()
    by: dict[int, list[int | str]] = {}
    for fid, hid in rows:
        by.setdefault(fid, []).append(hid)
    return lambda fid: (by.get(fid, []), "likely" if by.get(fid) else "none", {})


def shipped(db: Database) -> Callable[[int], Answer]:
    with db.read() as con:
        rows = con.execute(
            "SELECT flush_id, coalesce(CAST(headline_id AS VARCHAR), 'release:' || release_kind), "
            "components ->> 'story' FROM catalysts WHERE attribution_version = ? ORDER BY flush_id, rank",
            [ATTRIBUTION_VERSION],
        ).fetchall()
        verdicts = dict(con.execute("SELECT flush_id, coalesce(verdict, 'none') FROM flushes").fetchall())
    by: dict[int, list[int | str]] = {}
    story_rows: dict[tuple[int, str], list[int | str]] = {}
    for fid, key, story in rows:
        item = key if key.startswith("release:") else int(key)
        by.setdefault(fid, []).append(item)
        if story:
            story_rows.setdefault((fid, story), []).append(item)
    stories: dict[int, dict[str, set[int]]] = {}
    for (fid, _), items in story_rows.items():
        for r in (i for i in items if isinstance(i, str)):
            stories.setdefault(fid, {})[r] = {i for i in items if isinstance(i, int)}
    return lambda fid: (by.get(fid, []), verdicts.get(fid, "none"), stories.get(fid, {}))


def out_of_fold(
    db: Database, settings: AttributionSettings, c: Candidates
) -> tuple[Callable[[int], Answer], dict[int, float]]:
    """Rank each held-out day's flushes through the real attribution SQL with a model fitted
    without that day; read back the answers and the verdict probabilities."""
    for model, flush_ids in day_models(c).values():
        attribute(db, settings, flush_ids=flush_ids, model=model)
    answer = shipped(db)
    with db.read() as con:
        probability = dict(
            con.execute("SELECT flush_id, coalesce(cause_probability, 0) FROM flushes").fetchall()
        )
    return answer, probability


def _top_is_cause(answer: Answer, causes: set[int | str]) -> bool:
    order, _, stories = answer
    if not order:
        return False
    first = order[0]
    return first in causes or (isinstance(first, str) and bool(stories.get(first, set()) & causes))


def reliability(
    keys: Keys, answer: Callable[[int], Answer], probability: dict[int, float], c: Candidates
) -> None:
    """Out-of-fold probability that rank 1 is the cause, against how often it was."""
    labelled = labelled_flushes(c)
    causes: dict[int, set[int | str]] = {
        f: {h for h, lab in keys.judged.get(f, {}).items() if lab == "cause"} for f in labelled
    }
    for ev_id, fid in keys.event_flush.items():
        if fid is not None and keys.events[ev_id]["kind"] != "none":
            causes.setdefault(fid, set()).update(story_of(keys, ev_id))
    print("\nverdict reliability (labelled flushes, out of fold):\n")
    print("| verdict | probability | flushes | mean probability | rank 1 was the cause |")
    print("|---|---|---|---|---|")
    for name, lo, hi in (
        ("none", 0.0, POSSIBLE_AT),
        ("possible", POSSIBLE_AT, LIKELY_AT),
        ("likely", LIKELY_AT, 1.01),
    ):
        fids = [f for f in labelled if lo <= probability.get(f, 0.0) < hi]
        if not fids:
            print(f"| {name} | {lo:.1f}-{min(hi, 1):.1f} | 0 | - | - |")
            continue
        mean = sum(probability.get(f, 0.0) for f in fids) / len(fids)
        hit = sum(1 for f in fids if _top_is_cause(answer(f), causes.get(f, set())))
        print(
            f"| {name} | {lo:.1f}-{min(hi, 1):.1f} | {len(fids)} | {mean:.2f} | {hit}/{len(fids)} ({hit / len(fids):.0%}) |"
        )


def evaluate(db: Database, settings: AttributionSettings, *, refit: bool) -> None:
    keys = load_keys(db)
    c = candidates(db, keys, settings)
    validated, probability = out_of_fold(db, settings, c)
    if refit:
        write_model(fit(c))
        print("wrote models/attribution/ranker.json\n")
    attribute(db, settings)  # the shipped model, as `detect` ranks
    methods = {
        "recency (latest by start + 15 min)": recency(db, settings.lookback_min),
        "learned, leave one day out (validated)": validated,
        "shipped model (fitted on these events)": shipped(db),
    }
    n_none = sum(1 for e in keys.events.values() if e["kind"] == "none")
    print(
        f"development events with a documented catalyst: {len(keys.events) - n_none} (+{n_none} with none); "
        f"judged flushes: {len(keys.judged)}"
        + (
            f" ({len(keys.judged_missing)} not detected: {', '.join(keys.judged_missing)})"
            if keys.judged_missing
            else ""
        )
        + "\n"
    )
    print(
        "| method | events rank 1 | top 3 | MRR | judged: precision at 1 | rank 1 a cause, flushes with one "
        "| coverage or commentary shown at 1 | 'no convincing catalyst' right | none-events answered none |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    answers = {name: m for name, m in methods.items()}
    for name, m in answers.items():
        print(score(keys, m, keys.judged).row(name))
    reliability(keys, validated, probability, c)
    print("\nper event (rank of the catalyst story; - : not ranked):\n")
    print("| event | kind | flush judged | " + " | ".join(methods) + " |")
    print("|---|---|---|" + "---|" * len(methods))
    with db.read() as con:
        for ev_id, ev in keys.events.items():
            if ev["kind"] == "none":
                continue
            fid = keys.event_flush.get(ev_id)
            where = "no flush detected"
            cells = ["-"] * len(methods)
            if fid is not None:
                iv, start = con.execute(
                    "SELECT interval, start_at FROM flushes WHERE flush_id = ?", [fid]
                ).fetchone() or ("?", None)
                where = f"{iv} {start:%Y-%m-%d %H:%M}"
                story = story_of(keys, ev_id)
                for i, m in enumerate(answers.values()):
                    order = m(fid)[0]
                    r = next((k + 1 for k, h in enumerate(order) if h in story), None)
                    cells[i] = "-" if r is None else str(r)
            print(f"| {ev_id} | {ev['kind']} | {where} | {' | '.join(cells)} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", type=Path, help="keep the built database in this folder")
    ap.add_argument("--reuse", type=Path, help="evaluate the database a --keep run left; build nothing")
    ap.add_argument("--no-score", action="store_true")
    ap.add_argument("--model", help="score with this model instead of the configured one")
    ap.add_argument("--fit", action="store_true", help="refit models/attribution/ranker.json on these keys")
    a = ap.parse_args()
    from flushwatch.scoring.detect import detect_and_attribute

    settings = AttributionSettings()
    data = shared_data_dir()
    if data is None:
        sys.exit("shared data not found (../shared/data or FLUSHWATCH_SHARED_DATA)")
    if a.reuse:
        tmp = a.reuse
        db = Database(tmp / "eval.duckdb", snapshot=False)
    else:
        tmp = a.keep or Path(tempfile.mkdtemp(prefix="flushwatch-eval-"))
        tmp.mkdir(parents=True, exist_ok=True)
        path = tmp / "eval.duckdb"
        for p in (path, path.with_suffix(".duckdb.wal")):
            p.unlink(missing_ok=True)
        db = Database(path, snapshot=False)
        scoring = build(db, data, not a.no_score, a.model)
        rep = detect_and_attribute(db, settings=settings)
        print(
            f"scores: {scoring}; flushes: {rep.detect.flushes_found}; catalysts: {rep.catalysts}; "
            f"{ATTRIBUTION_VERSION}, {DETECTOR_VERSION}\n"
        )
    evaluate(db, settings, refit=a.fit)
    if not a.keep and not a.reuse:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
