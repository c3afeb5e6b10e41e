"""Fit attribution's ranking weights and verdict on the catalyst benchmark, validated leave one
event out. Training code: scoring only reads the JSON this writes (models/attribution/ranker.json).

**Labels.** A candidate is a positive when the judged flushes call it a ``cause`` or it belongs
to a development event's catalyst story; every other judged candidate, and every other
candidate of an event's flush, is a negative. Candidates nobody judged are left out of the fit.

**Ranking.** A logistic regression on the features of :data:`flushwatch.scoring.attribution.
FEATURES` (balanced classes, L2), read through the same SQL that ranks. Its coefficients are the
weights; ranking within a flush needs no intercept.

**Verdict.** For every labelled flush, the top cause's score and its margin over the second,
against whether that top candidate is the cause: a second logistic regression, so its output is
a probability. ``likely`` at 0.5 or more, ``possible`` at 0.2 or more, else ``none``.

**Validation.** Events are whole UTC days: every flush starting that day, with its candidates,
is held out together, both fits are refitted on the other days (:func:`day_models`), and the
held-out day is ranked by the real attribution SQL with that model, then judged. Only these
out-of-fold figures are quoted.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from flushwatch.scoring.attribution import (
    FEATURES,
    MARGIN_CAP,
    RankingModel,
    candidate_features,
    select_targets,
)
from flushwatch.scoring.thresholds import AttributionSettings
from flushwatch.storage.db import Database
from flushwatch.training.catalyst_bench import Keys, release_kind

LIKELY_AT = 0.5
POSSIBLE_AT = 0.2
MODEL_PATH = Path(__file__).resolve().parents[2] / "models" / "attribution" / "ranker.json"


@dataclass
class Candidates:
    """Every candidate of every flush in the database, with its features and label."""

    flush: np.ndarray  # flush id per row
    headline: np.ndarray  # headline id, -1 for a scheduled release
    release: np.ndarray  # a release's kind, '' for a headline
    coverage: np.ndarray  # ranked apart (market reports)
    x: np.ndarray  # features, in FEATURES order
    y: np.ndarray  # 1 = the cause
    known: np.ndarray  # labelled (judged, or a candidate of an event's flush)
    day: dict[int, str] = field(default_factory=dict)  # flush id -> UTC day (the held-out unit)
    time: np.ndarray = field(default_factory=lambda: np.zeros(0))  # epoch seconds, for recency


def candidates(db: Database, keys: Keys, settings: AttributionSettings) -> Candidates:
    names = list(FEATURES)
    with db.write() as con:
        select_targets(con)
        candidate_features(con, settings)
        rows = con.execute(
            "SELECT flush_id, coalesce(headline_id, -1), is_coverage, epoch(t), coalesce(release_kind, ''), "
            + ", ".join(f"f_{n}" for n in names)
            + " FROM _attr_feat ORDER BY flush_id, headline_id, release_kind"
        ).fetchall()
        days = {
            int(fid): f"{s:%Y-%m-%d}"
            for fid, s in con.execute("SELECT flush_id, start_at FROM flushes").fetchall()
        }
    positives: dict[int, set[int]] = {}
    for fid, labels in keys.judged.items():
        positives.setdefault(fid, set()).update(h for h, lab in labels.items() if lab == "cause")
    event_flushes: set[int] = set()
    released: dict[int, set[str]] = {}  # event flush -> the release kind documented as its cause
    for ev, event_fid in keys.event_flush.items():
        if event_fid is not None and keys.events[ev]["kind"] != "none":
            event_flushes.add(event_fid)
            positives.setdefault(event_fid, set()).update(keys.story.get(ev, set()))
            if kind := release_kind(keys.events[ev]):
                released.setdefault(event_fid, set()).add(kind)
    flush = np.array([r[0] for r in rows], dtype=np.int64)
    head = np.array([r[1] for r in rows], dtype=np.int64)
    y = np.array([int(r[1] in positives.get(r[0], ()) or r[4] in released.get(r[0], ())) for r in rows])
    known = np.array([(r[1] in keys.judged.get(r[0], {})) or (r[0] in event_flushes) for r in rows])
    return Candidates(
        flush=flush,
        headline=head,
        release=np.array([r[4] for r in rows], dtype=object),
        coverage=np.array([bool(r[2]) for r in rows]),
        x=np.array([[float(v or 0.0) for v in r[5:]] for r in rows], dtype=float).reshape(
            len(rows), len(names)
        ),
        y=y,
        known=known,
        day=days,
        time=np.array([float(r[3]) for r in rows]),
    )


def _fit_weights(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=0.1, max_iter=5000, class_weight="balanced").fit(x, y)
    return np.asarray(m.coef_[0], dtype=float)


def _tops(c: Candidates, score: np.ndarray, rows: np.ndarray) -> dict[int, tuple[int, float, float | None]]:
    """Per flush among ``rows``: (top cause's row, its score, the second's score)."""
    out: dict[int, tuple[int, float, float | None]] = {}
    for fid in np.unique(c.flush[rows]):
        idx = rows[(c.flush[rows] == fid) & ~c.coverage[rows]]
        if len(idx) == 0:
            continue
        order = idx[np.lexsort((c.time[idx], -score[idx]))]
        second = float(score[order[1]]) if len(order) > 1 else None
        out[int(fid)] = (int(order[0]), float(score[order[0]]), second)
    return out


def _verdict_inputs(tops: dict[int, tuple[int, float, float | None]]) -> np.ndarray:
    return np.array(
        [[s1, min(s1 - s2 if s2 is not None else MARGIN_CAP, MARGIN_CAP)] for _, s1, s2 in tops.values()]
    ).reshape(len(tops), 2)


def _fit_verdict(c: Candidates, score: np.ndarray, flushes: set[int]) -> tuple[float, float, float]:
    from sklearn.linear_model import LogisticRegression

    rows = np.flatnonzero(np.isin(c.flush, list(flushes)))
    tops = _tops(c, score, rows)
    y = np.array([c.y[r] for r, _, _ in tops.values()])
    if len(set(y.tolist())) < 2:
        return 0.0, 0.0, -3.0
    m = LogisticRegression(C=1.0, max_iter=5000).fit(_verdict_inputs(tops), y)
    return float(m.coef_[0][0]), float(m.coef_[0][1]), float(m.intercept_[0])


def labelled_flushes(c: Candidates) -> set[int]:
    return {int(f) for f in np.unique(c.flush[c.known])}


def _model(w: np.ndarray, v: tuple[float, float, float]) -> RankingModel:
    return RankingModel(
        weights={name: float(val) for name, val in zip(FEATURES, w, strict=True)},
        verdict_score=v[0],
        verdict_margin=v[1],
        verdict_bias=v[2],
        likely_at=LIKELY_AT,
        possible_at=POSSIBLE_AT,
        revision="out-of-fold",
    )


def day_models(c: Candidates) -> dict[str, tuple[RankingModel, list[int]]]:
    """Per held-out UTC day: a model fitted without it, and that day's labelled flushes.

    The ranking weights are fitted on the other days' candidates. The verdict is fitted on the
    other days' top scores, each of those scored out of fold too, so no probability it gives a
    held-out flush comes from a fit that saw it."""
    labelled = labelled_flushes(c)
    days = sorted({c.day[f] for f in labelled})
    held_rows = {day: np.array([c.day[int(f)] == day for f in c.flush]) for day in days}
    weights: dict[str, np.ndarray] = {}
    oof = np.zeros(len(c.y))
    for day in days:
        train = c.known & ~held_rows[day]
        weights[day] = _fit_weights(c.x[train], c.y[train])
        oof[held_rows[day]] = c.x[held_rows[day]] @ weights[day]
    out: dict[str, tuple[RankingModel, list[int]]] = {}
    for day in days:
        held = sorted(f for f in labelled if c.day[f] == day)
        out[day] = (_model(weights[day], _fit_verdict(c, oof, labelled - set(held))), held)
    return out


def fit(c: Candidates) -> dict[str, object]:
    """The shipped model: both fits on every labelled flush."""
    train = c.known
    w = _fit_weights(c.x[train], c.y[train])
    v = _fit_verdict(c, c.x @ w, labelled_flushes(c))
    return {
        "weights": {name: round(float(val), 4) for name, val in zip(FEATURES, w, strict=True)},
        "verdict": {
            "score": round(v[0], 4),
            "margin": round(v[1], 4),
            "bias": round(v[2], 4),
            "likely_at": LIKELY_AT,
            "possible_at": POSSIBLE_AT,
        },
        "trained_on": {
            "flushes": len(labelled_flushes(c)),
            "candidates": int(train.sum()),
            "causes": int(c.y[train].sum()),
            "days": len({c.day[f] for f in labelled_flushes(c)}),
            "fitted": dt.date.today().isoformat(),
        },
    }


def write_model(model: dict[str, object], path: Path = MODEL_PATH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
