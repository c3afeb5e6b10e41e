"""Library functions behind ``flushwatch model train`` and ``model info`` (the CLI only renders)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def default_train_data() -> Path:
    from flushwatch.config import require_shared_file

    # without --data, training reads the shared data's training split
    return require_shared_file(
        "labels_twitter_financial_news_sentiment/sent_train.csv.gz", "model train (without --data)"
    )


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
    ``crypto_titles`` (the committed crypto training titles, read from the shared data) add
    training rows, never dev rows.
    """
    from dataclasses import replace

    from flushwatch.config import shared_data_dir
    from flushwatch.nlp.scorer import model_revision, shipped_model_dir
    from flushwatch.nlp.train import ExtraRows, TrainConfig, clean_text, read_labelled, train

    cfg = TrainConfig()
    if epochs is not None:
        cfg = replace(cfg, epochs=epochs)
    if seed is not None:
        cfg = replace(cfg, seed=seed)
    if members is not None:
        cfg = replace(cfg, members=members)
    if refit:
        cfg = replace(cfg, refit=True)
    out = out or shipped_model_dir()
    if events_only:
        return train_events(out)
    extra = [ExtraRows(path.name, *read_labelled(path)) for path in extra_data]
    if crypto_titles:
        from flushwatch.nlp.evaluate import CRYPTO_TRAIN_SENTIMENT_SETS, real_sentiment_sets

        titles, labels = real_sentiment_sets(CRYPTO_TRAIN_SENTIMENT_SETS)  # raw titles: clean them
        extra.append(ExtraRows("crypto training titles", [clean_text(t) for t in titles], labels))
    result = train(data or default_train_data(), out, cfg, extra)
    meta = json.loads((out / "config.json").read_text(encoding="utf-8"))  # what train recorded
    rows: list[tuple[str, Any]] = [
        ("output", str(out)),
        ("revision", model_revision(out)),
        ("dev accuracy / macro-F1", _dev_summary(meta)),
        (
            "extra training rows",
            _extra_summary(meta),
        ),
        ("training seconds", round(result.seconds, 1)),
        ("early exit (fast path)", _exit_summary(meta)),
    ]
    shared = shared_data_dir() is not None
    if shared:
        rows += train_events(out)
    else:  # the labelled real headlines are read from the shared data; keep what is there
        rows.append(("event head", "not refitted: it needs the shared data (FLUSHWATCH_SHARED_DATA)"))
    if calibrate and shared:
        rows += calibrate_command(out)
    return rows


def _extra_summary(meta: dict[str, Any]) -> str:
    """Rows added to the training rows (``--extra-data``, ``--crypto-titles``); none recorded
    by directories written before the option existed."""
    extra = meta["train"].get("extra") or []
    return ", ".join(f"{e['rows']:,} from {e['data']}" for e in extra) or "none"


def _dev_summary(meta: dict[str, Any]) -> str:
    """The dev split's figures, or why there are none (a final fit trains on the dev rows too)."""
    dev = meta.get("dev")
    if not dev:
        return f"none: refit on all {meta['train']['n_train']} rows of {meta['train']['data']}"
    share, data = round(100 * meta["train"]["dev_frac"]), meta["train"]["data"]
    figures = f"{dev['accuracy']:.4f} / {dev['macro_f1']:.4f}"
    return f"{figures} ({share}% of {data}, compressed soup + lexical head)"


def train_events(out: Path) -> list[tuple[str, Any]]:
    """Fit the event-type head into ``out``; summary rows."""
    from flushwatch.nlp import event_head

    fitted = event_head.train(out)
    return [
        ("event head", fitted["file"]),
        (
            "event head data",
            f"{fitted['titles']} labelled titles ({fitted['vocabulary']} words), held out: "
            + ", ".join(fitted["held_out"]),
        ),
    ]


def _exit_summary(config: dict[str, Any]) -> str:
    meta = config.get("early_exit") or {}
    chosen = meta.get("chosen")
    if not chosen:
        return "none"
    layer, th, rate = chosen["layer"], chosen["threshold"], chosen["exit_rate"]
    return (
        f"after layer {layer} at p >= {th}: {rate:.0%} of selection titles exit, agreement "
        f"with fp32 {chosen['agreement']} (without the exit {meta['baseline_agreement']})"
    )


def _smoothing_summary(meta: dict[str, Any]) -> str:
    sm = meta.get("smoothing") or {}
    if not sm.get("alpha"):
        return "none"
    return f"FFN output projections, alpha {sm['alpha']}, ranges from {sm['rows']:,} training rows"


def calibrate_command(model_dir: Path | None = None) -> list[tuple[str, Any]]:
    """Measure importance for a model directory and write its importance.json; summary rows."""
    from flushwatch.config import require_shared_data
    from flushwatch.nlp.calibrate import calibrate, write_calibration
    from flushwatch.nlp.scorer import Scorer, shipped_model_dir

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


def model_info(model: str | None = None) -> list[tuple[str, Any]]:
    """What a model is, without scoring anything (loads it to check it)."""
    from flushwatch.config import load_settings
    from flushwatch.nlp.base import SHIPPED_MODELS, model_dir_for
    from flushwatch.nlp.refresh import current_rules
    from flushwatch.nlp.scorer import DEFAULT_MODEL, Scorer, is_flushwatch_dir

    name = model or load_settings().model_name or DEFAULT_MODEL
    scorer = Scorer(name, mode="full")
    rows: list[tuple[str, Any]] = [
        ("name", scorer.name),
        ("revision", scorer.revision),
        ("label map", json.dumps(scorer.label_map)),
        ("max tokens", scorer.max_length),
        ("threads", scorer.threads),
        ("rules revision", f"{current_rules(name)} (event type, report flag, importance)"),
    ]
    d = model_dir_for(name)
    if name in SHIPPED_MODELS or is_flushwatch_dir(d):  # ours: what config.json records
        meta = json.loads((d / "config.json").read_text(encoding="utf-8"))
        rows += [
            ("directory", str(d)),
            (
                "files",
                ", ".join(
                    f"{p.name} ({p.stat().st_size / 1e6:.2f} MB)" for p in sorted(d.iterdir()) if p.is_file()
                ),
            ),
            ("base model", f"{meta['base_model']} (sha256 {meta['base_sha256'][:16]}...)"),
            ("dev accuracy / macro-F1", _dev_summary(meta)),
            (
                "extra training rows",
                _extra_summary(meta),
            ),
            ("early exit (fast path)", _exit_summary(meta)),
            ("int8 smoothing (fast path)", _smoothing_summary(meta)),
            ("trained with", ", ".join(f"{k} {v}" for k, v in meta["versions"].items())),
        ]
    return rows
