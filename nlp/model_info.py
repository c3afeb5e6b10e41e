"""``flushwatch model info``: what a model is, read from its files (the CLI only renders).

The summaries of what ``model train`` recorded in a model directory's config.json live here,
beside the command that shows them; ``model train`` prints the same lines.
"""

from __future__ import annotations

import json
from typing import Any


def extra_summary(meta: dict[str, Any]) -> str:
    """Rows added to the training rows (``--extra-data``, ``--crypto-titles``); none recorded
    by directories written before the option existed."""
    extra = meta["train"].get("extra") or []
    return ", ".join(f"{e['rows']:,} from {e['data']}" for e in extra) or "none"


def dev_summary(meta: dict[str, Any]) -> str:
    """The dev split's figures, or why there are none (a final fit trains on the dev rows too)."""
    dev = meta.get("dev")
    if not dev:
        return f"none: refit on all {meta['train']['n_train']} rows of {meta['train']['data']}"
    share, data = round(100 * meta["train"]["dev_frac"]), meta["train"]["data"]
    figures = f"{dev['accuracy']:.4f} / {dev['macro_f1']:.4f}"
    return f"{figures} ({share}% of {data}, compressed soup + lexical head)"


def exit_summary(config: dict[str, Any]) -> str:
    meta = config.get("early_exit") or {}
    chosen = meta.get("chosen")
    if not chosen:
        return "none"
    layer, th, rate = chosen["layer"], chosen["threshold"], chosen["exit_rate"]
    return (
        f"after layer {layer} at p >= {th}: {rate:.0%} of selection titles exit, agreement "
        f"with fp32 {chosen['agreement']} (without the exit {meta['baseline_agreement']})"
    )


def smoothing_summary(meta: dict[str, Any]) -> str:
    sm = meta.get("smoothing") or {}
    if not sm.get("alpha"):
        return "none"
    return f"FFN output projections, alpha {sm['alpha']}, ranges from {sm['rows']:,} training rows"


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
            ("dev accuracy / macro-F1", dev_summary(meta)),
            ("extra training rows", extra_summary(meta)),
            ("early exit (fast path)", exit_summary(meta)),
            ("int8 smoothing (fast path)", smoothing_summary(meta)),
            ("trained with", ", ".join(f"{k} {v}" for k, v in meta["versions"].items())),
        ]
    return rows
