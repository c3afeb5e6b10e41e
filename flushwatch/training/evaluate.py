"""``flushwatch model eval``: one table of every quality figure, on held-out data only.

* sentiment on ``sent_valid`` (never trained or tuned on): the model in full precision and on
  the fast path (with and without its early exit), the network without its lexical head, and
  VADER as the floor;
* sentiment on real crypto headlines of the shared data labelled by hand
  (``eval/sentiment_real.csv``: keys only), the domain the product scores: its ``dev`` and
  held-out ``test`` splits, each on its first labelling pass, its blind second pass and the
  titles both passes agree on;
* event types and the market-report flag, the shipped combination of rules and head and the
  rules alone, on each labelling round of the own-words titles and of the real headlines
  (``eval/event_types_*.csv``); the ``test`` round is held out from both, the honest figure;
* importance against market moves (AUC, top-decile precision on an earlier and a later time
  span of two headline sets, each feature's own AUC), as measured by ``flushwatch model
  calibrate`` and stored in ``models/<model>/importance.json``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from flushwatch.errors import InputError
from flushwatch.training import labelled_sets
from flushwatch.training.data import read_labelled, sent_valid_path
from flushwatch.training.metrics import accuracy, bootstrap_intervals, macro_f1

if TYPE_CHECKING:
    from flushwatch.nlp.rules import RuleSet


class EvalRow(NamedTuple):
    """One line of the evaluation table; ``ci95`` is the bootstrap 95% interval of accuracy and
    macro-F1 ("low-high / low-high"), empty where a row has no labels to resample."""

    what: str
    model: str
    data: str
    n: int | None
    accuracy: float | None
    macro_f1: float | None
    ci95: str
    other: str


#: The table's column names, in :class:`EvalRow`'s order (JSON keys of ``--format json``).
COLUMNS = list(EvalRow._fields)


def metric_row(
    what: str, model: str, data: str, truth: list[int], pred: list[int], n_classes: int, other: str
) -> EvalRow:
    """A row with accuracy, macro-F1 and their bootstrap interval computed from the answers."""
    ci = bootstrap_intervals(truth, pred, n_classes).text() if truth else ""
    return EvalRow(
        what,
        model,
        data,
        len(truth),
        round(accuracy(truth, pred), 4),
        round(macro_f1(truth, pred, n_classes), 4),
        ci,
        other,
    )


def skipped_row(what: str, model: str, data: str, why: str) -> EvalRow:
    """A row for data that could not be read (the reason is the error's one line)."""
    return EvalRow(what, model, data, 0, None, None, "", f"skipped: {why}")


@dataclass(frozen=True)
class EvalReport:
    rows: list[EvalRow]


def vader_predict(texts: list[str]) -> list[int]:
    """VADER compound score: >= 0.05 bullish, <= -0.05 bearish, else neutral (its documented cut-offs)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    sia = SentimentIntensityAnalyzer()
    out = []
    for t in texts:
        c = sia.polarity_scores(t)["compound"]
        out.append(2 if c >= 0.05 else 0 if c <= -0.05 else 1)
    return out


def predict_labels(scorer: Any, texts: list[str]) -> tuple[list[int], float]:
    """``scorer``'s label index for each text (ties to the lower index) and the model's seconds."""
    t0 = time.monotonic()
    probs, _ = scorer.probabilities(texts)
    secs = time.monotonic() - t0
    return [max(range(3), key=lambda j: (p[j], -j)) for p in probs], secs


def _scored_row(
    what: str, scorer: Any, texts: list[str], labels: list[int], other: str = "", data: str = "sent_valid"
) -> EvalRow:
    """One sentiment row of the table: ``scorer`` on ``data``, timed (model only)."""
    pred, secs = predict_labels(scorer, texts)
    model = f"{scorer.name}@{scorer.revision}"
    return metric_row(
        what, model, data, labels, pred, 3, other or f"{len(texts) / secs:.0f} texts/s model only"
    )


def sentiment_rows(model: str | None = None) -> list[EvalRow]:
    from flushwatch.nlp.scorer import Scorer

    texts, labels = read_labelled(sent_valid_path())
    scorers = {mode: Scorer(model, mode=mode) for mode in ("full", "fast")}
    rows = [_scored_row(f"sentiment ({mode})", sc, texts, labels) for mode, sc in scorers.items()]
    if scorers["fast"].has_early_exit:  # what the early exit costs, side by side
        no_exit = Scorer(model, mode="fast", early_exit=False)
        rows.append(
            _scored_row("sentiment (fast, no early exit)", no_exit, texts, labels, "every title, every layer")
        )
    network = Scorer(model, mode="full", lexical=False) if scorers["full"].has_lexical else None
    if network is not None:  # show what the network alone reads too
        rows.append(
            _scored_row("sentiment (full, network only)", network, texts, labels, "without the lexical head")
        )
    rows.append(_vader_row(texts, labels, "sent_valid"))
    crypto = {"full": scorers["full"], "fast": scorers["fast"], "full, network only": network}
    rows += crypto_sentiment_rows({k: v for k, v in crypto.items() if v is not None})
    return rows


def _vader_row(texts: list[str], labels: list[int], data: str) -> EvalRow:
    pred = vader_predict(texts)
    return metric_row("sentiment (floor)", "VADER", data, labels, pred, 3, "compound cut-offs +-0.05")


#: What `model eval` prints for the labelled crypto headlines: (data column, split, how labels
#: are read, note). sent_valid is finance tweets, mostly equities; these say how far that
#: carries to the crypto headlines the product scores.
REAL_SENTIMENT_SETS = (
    ("sentiment_real.csv dev", "dev", "first pass", "crypto headlines: development split"),
    ("sentiment_real.csv test", "test", "first pass", "crypto headlines, held out"),
    ("sentiment_real.csv dev, second pass", "dev", "second pass", "the same titles, labelled again blind"),
    (
        "sentiment_real.csv dev, both passes agree",
        "dev",
        "both passes agree",
        "titles whose label does not depend on the pass",
    ),
    ("sentiment_real.csv test, second pass", "test", "second pass", "held out, labelled again blind"),
    (
        "sentiment_real.csv test, both passes agree",
        "test",
        "both passes agree",
        "held out, the label does not depend on the pass",
    ),
)


def crypto_sentiment_rows(scorers: dict[str, Any]) -> list[EvalRow]:
    """Each of ``scorers`` (what -> Scorer) and VADER on the labelled crypto headlines; data that
    is not in the shared data is one row saying so."""
    rows: list[EvalRow] = []
    for data, split, reading, note in REAL_SENTIMENT_SETS:
        try:
            texts, labels = labelled_sets.sentiment_set(split, reading)
        except InputError as exc:
            rows.append(skipped_row("sentiment", "-", data, exc.one_line()))
            continue
        for what, scorer in scorers.items():
            rows.append(_scored_row(f"sentiment ({what})", scorer, texts, labels, note, data))
        rows.append(_vader_row(texts, labels, data))
    return rows


def _event_batch_rows(
    file: str, batch: str, data: list[dict[str, str]], note: str, shipped: RuleSet
) -> list[EvalRow]:
    """Table rows for one labelling round: the shipped event type and market-report flag (rules
    + head), and the rules alone, each as accuracy / macro-F1."""
    from flushwatch.nlp.events import EVENT_TYPES, classify_event

    split = data[0]["split"]
    name = f"{file} batch {batch} ({split})"
    titles = [r["title"] for r in data]
    rules = [classify_event(t) for t in titles]
    idx = {t: i for i, t in enumerate(EVENT_TYPES)}
    y = [idx[r["event_type"]] for r in data]

    def row(what: str, by: str, truth: list[int], pred: list[int], k: int, why: str) -> EvalRow:
        return metric_row(what, by, name, truth, pred, k, why)

    reports = [int(r["is_market_report"] == "true") for r in data]
    out: list[EvalRow] = []
    if shipped.head is not None:
        combined = [e for _, e in shipped.title_rules(titles)]
        why = "held out from the head" if split == "test" else "the head was fitted on it"
        out.append(
            row("event type", "rules + head", y, [idx[e.event_type] for e in combined], len(EVENT_TYPES), why)
        )
        out.append(
            row(
                "is_market_report",
                "rules + head",
                reports,
                [int(e.is_market_report) for e in combined],
                2,
                why,
            )
        )
    if split == "test":
        note = "held out from the rules and the head"
    out.append(row("event type", "rules", y, [idx[g.event_type] for g in rules], len(EVENT_TYPES), note))
    out.append(row("is_market_report", "rules", reports, [int(g.is_market_report) for g in rules], 2, note))
    return out


def event_rows() -> list[EvalRow]:
    from flushwatch.nlp.base import DEFAULT_MODEL
    from flushwatch.nlp.rules import rule_set

    shipped = rule_set(DEFAULT_MODEL)  # once: weights and head files are read once per table
    rows: list[EvalRow] = []
    own = labelled_sets.EVENT_OWN_FILE
    for batch, data in labelled_sets.batches(labelled_sets.own_event_rows()):
        rows += _event_batch_rows(own, batch, data, "titles written for this project", shipped)
    real = labelled_sets.EVENT_REAL_FILE
    try:
        titled = labelled_sets.real_event_rows()
    except InputError as exc:
        return [*rows, skipped_row("event type", "rules", real, exc.one_line())]
    for batch, data in labelled_sets.batches(titled):
        rows += _event_batch_rows(real, batch, data, "real headlines", shipped)
    return rows


def importance_rows() -> list[EvalRow]:
    from flushwatch.nlp.scorer import shipped_model_dir

    path = shipped_model_dir() / "importance.json"
    if not path.is_file():
        return [
            EvalRow("importance", "-", "-", 0, None, None, "", "not measured: run flushwatch model calibrate")
        ]
    data = json.loads(path.read_text(encoding="utf-8"))
    rows: list[EvalRow] = []
    for name, spans in data["metrics"].items():
        for span in ("fit", "test"):
            m = spans[span]
            rows.append(
                EvalRow(
                    f"importance ({span} span)",
                    "importance priors",
                    f"{name}: {m['span']}",
                    m["n"],
                    None,
                    None,
                    "",
                    f"AUC {m['auc']:.3f}; top-decile precision {m['top_decile_precision']:.3f} "
                    f"vs base rate {m['base_rate']:.3f} (fitted logistic: AUC {m['fitted_auc']:.3f}, "
                    f"top decile {m['fitted_top_decile_precision']:.3f})",
                )
            )
        aucs = ", ".join(f"{k} {v:.3f}" for k, v in spans["feature_auc"].items())
        aucs += f"; not a feature: the move in the hour before, {spans['prior_move_auc']:.3f}"
        rows.append(EvalRow("importance features", "each alone", name, None, None, None, "", f"AUC {aucs}"))
    return rows


def evaluate(model: str | None = None) -> EvalReport:
    return EvalReport(sentiment_rows(model) + event_rows() + importance_rows())
