"""Mapping any sequence-classification model's labels onto bearish / neutral / bullish (pure)."""

from __future__ import annotations

from flushwatch.errors import ModelError

#: Ours, and the words whose presence in a model's label means it, tried in this order.
_WORDS = (
    ("bearish", ("neg", "bear", "down", "sell", "short")),
    ("bullish", ("pos", "bull", "up", "buy", "long")),
    ("neutral", ("neu", "hold", "none", "other", "mixed")),
)


def label_map_from_config(id2label: dict[int, str], *, model: str) -> dict[str, str]:
    """``{model label: ours}`` for every class; ModelError when a label cannot be placed.

    Two-class models (positive/negative) are allowed: neutral then has probability 0.
    """
    mapping: dict[str, str] = {}
    for idx in sorted(id2label):
        label = id2label[idx]
        low = label.strip().lower()
        ours = next((ours for ours, words in _WORDS if any(w in low for w in words)), None)
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
