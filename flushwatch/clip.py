"""Cutting text to a width at a word boundary: shared by the CLI tables and run-step details."""

from __future__ import annotations


def clip(text: str, width: int) -> str:
    """``text`` cut to at most ``width`` characters at a word boundary, marked with an ellipsis.

    A narrow table cell must still read as words: a title cut mid-word ("tariff threa") looks
    like a typo in the headline.
    """
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    if " " in cut and not text[width - 1].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:-—") + "…"
