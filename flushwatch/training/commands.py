"""Library functions behind ``flushwatch model train`` and ``model calibrate`` (the CLI only renders)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flushwatch.nlp.model_info import dev_summary, exit_summary, extra_summary


def train_command(
    *,
    out: Path | None,
    data: Path | None,
    epochs: int | None,
    seed: int | None,
    members: int | None = None,
    calibrate: bool = True,
    events_only: bool = False,
    refit: bool = False,
    extra_data: Sequence[Path] = (),
    crypto_titles: bool = False,
) -> list[tuple[str, Any]]:
    """Train, write the artefacts, optionally fit importance; rows of (property, value).

    ``events_only`` fits just the event-type head (seconds; it reads titles, not the
    network, so it needs no network training). ``extra_data`` (text,label CSVs) and
    ``crypto_titles`` (the ``train`` split of the labelled crypto headlines, read from the
    shared data) add training rows, never dev rows.
    """
    from dataclasses import replace

    from flushwatch.config import shared_data_dir
    from flushwatch.nlp.scorer import model_revision, shipped_model_dir
    from flushwatch.nlp.text import clean_text
    from flushwatch.training.data import ExtraRows, read_labelled, sent_train_path
    from flushwatch.training.train import TrainConfig, train

    given: dict[str, Any] = {"epochs": epochs, "seed": seed, "members": members}
    cfg = replace(TrainConfig(), refit=refit, **{k: v for k, v in given.items() if v is not None})
    out = out or shipped_model_dir()
    if events_only:
        return train_events(out)
    extra = [ExtraRows(path.name, *read_labelled(path)) for path in extra_data]
    if crypto_titles:
        from flushwatch.training.labelled_sets import sentiment_set

        titles, labels = sentiment_set("train")  # raw titles: clean them
        extra.append(ExtraRows("crypto training titles", [clean_text(t) for t in titles], labels))
    meta = train(data or sent_train_path(), out, cfg, extra)
    rows: list[tuple[str, Any]] = [
        ("output", str(out)),
        ("revision", model_revision(out)),
        ("dev accuracy / macro-F1", dev_summary(meta)),
        ("extra training rows", extra_summary(meta)),
        ("training seconds", meta["seconds"]),
        ("early exit (fast path)", exit_summary(meta)),
    ]
    shared = shared_data_dir() is not None
    if shared:
        rows += train_events(out)
    else:  # the labelled real headlines are read from the shared data; keep what is there
        rows.append(("event head", "not refitted: it needs the shared data (FLUSHWATCH_SHARED_DATA)"))
    if calibrate and shared:
        rows += calibrate_command(out)
    return rows


def train_events(out: Path) -> list[tuple[str, Any]]:
    """Fit the event-type head into ``out``; summary rows."""
    from flushwatch.training import event_head_fit

    fitted = event_head_fit.train(out)
    return [
        ("event head", fitted["file"]),
        (
            "event head data",
            f"{fitted['titles']} labelled titles ({fitted['vocabulary']} words), held out: "
            + fitted["held_out"],
        ),
    ]


def calibrate_command(model_dir: Path | None = None) -> list[tuple[str, Any]]:
    """Measure importance for a model directory and write its importance.json; summary rows."""
    from flushwatch.config import require_shared_data
    from flushwatch.nlp.scorer import Scorer, shipped_model_dir
    from flushwatch.training.calibrate import calibrate, write_calibration

    shared = require_shared_data("measuring importance")
    model_dir = model_dir or shipped_model_dir()
    cal = calibrate(shared, Scorer(str(model_dir), mode="fast"))
    write_calibration(cal, model_dir / "importance.json")
    rows: list[tuple[str, Any]] = [("written", str(model_dir / "importance.json"))]
    for name, spans in cal.metrics.items():
        t = spans["test"]
        rows.append(
            (
                f"importance test AUC ({name})",
                f"{t['auc']} (top decile {t['top_decile_precision']}, base rate {t['base_rate']})",
            )
        )
    return rows
