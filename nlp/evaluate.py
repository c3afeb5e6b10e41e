"""``flushwatch model eval``: one table of every quality figure, on held-out data only.

* sentiment on ``sent_valid`` (never trained or tuned on): our model in full precision and on
  the fast path, and VADER as the floor;
* event types and the market-report flag on the headline sets written for this project
  (``models/eval/event_types.csv``, developed alongside the rules; ``event_types_holdout.csv``,
  held out until the rules were revised on it; ``event_types_holdout2.csv``, the same a second
  time; ``event_types_holdout3.csv``, written and committed before that second revision and
  never used to change a rule: the honest figure);
* importance against market moves (AUC, top-decile precision on an earlier and a later time
  span of two headline sets, each feature's own AUC), as measured by ``flushwatch model
  train`` and stored in ``models/<model>/importance.json``.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flushwatch.errors import InputError
from flushwatch.nlp.train import accuracy, macro_f1, read_labelled

EVAL_DIR = Path(__file__).resolve().parent.parent / "models" / "eval"
LABELS = ("bearish", "neutral", "bullish")


@dataclass(frozen=True)
class EvalReport:
    rows: list[tuple[Any, ...]]


def sent_valid_path() -> Path:
    from flushwatch.config import shared_data_dir

    base = shared_data_dir()
    path = (base / "labels_twitter_financial_news_sentiment" / "sent_valid.csv.gz") if base else None
    if path is None or not path.is_file():
        raise InputError(
            "sent_valid.csv.gz not found in the shared data folder",
            path=path,
            hint="set FLUSHWATCH_SHARED_DATA to the folder holding it",
        )
    return path


def vader_predict(texts: list[str]) -> list[int]:
    """VADER compound score: >= 0.05 bullish, <= -0.05 bearish, else neutral (its documented cut-offs)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()
    out = []
    for t in texts:
        c = sia.polarity_scores(t)["compound"]
        out.append(2 if c >= 0.05 else 0 if c <= -0.05 else 1)
    return out


def _scored_row(
    what: str, scorer: Any, texts: list[str], labels: list[int], other: str = ""
) -> tuple[Any, ...]:
    """One sentiment row of the table: ``scorer`` on sent_valid, timed (model only)."""
    t0 = time.monotonic()
    probs, _ = scorer.probabilities(texts)
    secs = time.monotonic() - t0
    pred = [max(range(3), key=lambda j: (p[j], -j)) for p in probs]
    return (
        what,
        f"{scorer.name}@{scorer.revision}",
        "sent_valid",
        len(texts),
        round(accuracy(labels, pred), 4),
        round(macro_f1(labels, pred), 4),
        other or f"{len(texts) / secs:.0f} texts/s model only",
    )


def sentiment_rows(model: str | None = None) -> list[tuple[Any, ...]]:
    from flushwatch.nlp.scorer import Scorer

    texts, labels = read_labelled(sent_valid_path())
    scorers = {mode: Scorer(model, mode=mode) for mode in ("full", "fast", "torch-int8", "bf16")}
    rows = [_scored_row(f"sentiment ({mode})", sc, texts, labels) for mode, sc in scorers.items()]
    if scorers["fast"].has_early_exit:  # what the early exit costs, side by side
        no_exit = Scorer(model, mode="fast", early_exit=False)
        rows.append(
            _scored_row("sentiment (fast, no early exit)", no_exit, texts, labels, "every title, every layer")
        )
    if scorers["full"].has_lexical:  # show what the network alone reads too
        network = Scorer(model, mode="full", lexical=False)
        rows.append(
            _scored_row("sentiment (full, network only)", network, texts, labels, "without the lexical head")
        )
    pred = vader_predict(texts)
    rows.append(
        (
            "sentiment (floor)",
            "VADER",
            "sent_valid",
            len(texts),
            round(accuracy(labels, pred), 4),
            round(macro_f1(labels, pred), 4),
            "compound cut-offs +-0.05",
        )
    )
    return rows


def event_rows() -> list[tuple[Any, ...]]:
    from flushwatch.nlp.events import EVENT_TYPES, classify_event

    rows: list[tuple[Any, ...]] = []
    sets = (
        ("event_types.csv", "rules developed on it"),
        ("event_types_holdout.csv", "held out until 2026-12-01, rules since revised on it"),
        ("event_types_holdout2.csv", "held out until 2026-12-01 14:26, rules since revised on it"),
        ("event_types_holdout3.csv", "held out: written before the last rule change"),
    )
    for name, note in sets:
        path = EVAL_DIR / name
        with path.open(encoding="utf-8", newline="") as fh:
            data = list(csv.DictReader(fh))
        guesses = [classify_event(r["title"]) for r in data]
        idx = {t: i for i, t in enumerate(EVENT_TYPES)}
        y = [idx[r["event_type"]] for r in data]
        p = [idx[g.event_type] for g in guesses]
        rep_true = [r["is_market_report"] == "true" for r in data]
        rep_pred = [g.is_market_report for g in guesses]
        rows.append(
            (
                "event type",
                "rules",
                name,
                len(data),
                round(accuracy(y, p), 4),
                round(macro_f1(y, p, len(EVENT_TYPES)), 4),
                note,
            )
        )
        yr, pr = [int(v) for v in rep_true], [int(v) for v in rep_pred]
        rows.append(
            (
                "is_market_report",
                "rules",
                name,
                len(data),
                round(accuracy(yr, pr), 4),
                round(macro_f1(yr, pr, 2), 4),
                note,
            )
        )
    return rows


def importance_rows() -> list[tuple[Any, ...]]:
    from flushwatch.nlp.scorer import shipped_model_dir

    path = shipped_model_dir() / "importance.json"
    if not path.is_file():
        return [("importance", "-", "-", 0, None, None, "not measured: run flushwatch model train")]
    data = json.loads(path.read_text(encoding="utf-8"))
    rows: list[tuple[Any, ...]] = []
    for name, spans in data["metrics"].items():
        for span in ("fit", "test"):
            m = spans[span]
            rows.append(
                (
                    f"importance ({span} span)",
                    "importance priors",
                    f"{name}: {m['span']}",
                    m["n"],
                    None,
                    None,
                    f"AUC {m['auc']:.3f}; top-decile precision {m['top_decile_precision']:.3f} "
                    f"vs base rate {m['base_rate']:.3f} (fitted logistic: AUC {m['fitted_auc']:.3f}, "
                    f"top decile {m['fitted_top_decile_precision']:.3f})",
                )
            )
        aucs = ", ".join(f"{k} {v:.3f}" for k, v in spans["feature_auc"].items())
        aucs += f"; not a feature: the move in the hour before, {spans['prior_move_auc']:.3f}"
        rows.append(("importance features", "each alone", name, None, None, None, f"AUC {aucs}"))
    return rows


def evaluate(model: str | None = None) -> EvalReport:
    return EvalReport(sentiment_rows(model) + event_rows() + importance_rows())
