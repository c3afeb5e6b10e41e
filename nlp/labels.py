"""Mapping any sequence-classification model's labels onto bearish / neutral / bullish (pure)."""

from __future__ import annotations

from flushwatch.errors import ModelError

_BEAR = ("neg", "bear", "down", "sell", "short")
_BULL = ("pos", "bull", "up", "buy", "long")
_NEUT = ("neu", "hold", "none", "other", "mixed")


def map_label(label: str) -> str | None:
    low = label.strip().lower()
    for keys, ours in ((_BEAR, "bearish"), (_BULL, "bullish"), (_NEUT, "neutral")):
        if any(low.startswith(k) or k in low for k in keys):
            return ours
    return None


def label_map_from_config(id2label: dict[int, str], *, model: str) -> dict[str, str]:
    """``{model label: ours}`` for every class; ModelError when a label cannot be placed.

    Two-class models (positive/negative) are allowed: neutral then has probability 0.
    """
    mapping: dict[str, str] = {}
    for idx in sorted(id2label):
        label = id2label[idx]
        ours = map_label(label)
        if ours is None:
            raise ModelError(
                f"model {model}: cannot map its label {label!r} to bearish/neutral/bullish "
                f"(labels: {', '.join(id2label.values())})",
                hint="use a sentiment model whose labels name negative/neutral/positive or bearish/bullish",
            )
        mapping[label] = ours
    if not {"bearish", "bullish"} <= set(mapping.values()):
        raise ModelError(f"model {model}: labels {list(id2label.values())} lack a bearish or bullish class")
    return mapping
