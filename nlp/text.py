"""How a title is cleaned before the tokenizer sees it, the same at training and scoring time.

Why one function for both: the network learns from cleaned text, so scoring must clean the
same way or it would see inputs it was never trained on.
"""

from __future__ import annotations

import re

_URL_RE = re.compile(r"https?://\S+")


def clean_text(text: str) -> str:
    """Drop URLs (t.co links carry no sentiment and waste tokens) and squeeze whitespace."""
    return " ".join(_URL_RE.sub(" ", text).split())
