"""The language of a headline, for ingest (when a feed names none) and for scoring's
``non_english`` flag: py3langid (langid.py's naive-Bayes byte n-gram model), deterministic,
offline, with a 4.5 MB model inside the package.

Two choices, both measured by ``bench/eval_language.py`` on ``eval/language_titles.csv``:

* Only the languages the product can name are candidates (English, the seven Latin-script
  languages of crypto news in the evaluation set, and the scripts headlines come in). Among
  all 97 of langid's, a short English title with a brand in it comes back as Luxembourgish
  or Malay: 259 of the 13,121 real (English) crypto headlines of the shared data were flagged
  that way, against 15 with the candidates restricted.
* Another language must be at least ``MIN_CONFIDENCE`` likely, else the title counts as
  English: a missed flag costs less than an English headline marked foreign. 0.8 is the
  lowest threshold at which none of those real English headlines is flagged (the one title
  flagged is French).
"""

from __future__ import annotations

import functools
from typing import Any

#: Candidate languages (ISO 639-1): English, seven Latin-script languages, then other scripts.
LANGUAGES = "en de fr es pt it nl tr zh ja ko ru ar he hi th el"
MIN_CONFIDENCE = 0.8


@functools.cache
def _identifier() -> Any:
    """Loaded on first use (about 0.7 s): most commands never guess a language."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(
        MODEL_FILE, norm_probs=True, min_confidence=MIN_CONFIDENCE
    )
    identifier.set_languages(LANGUAGES.split())
    return identifier


def detect_language(text: str) -> str | None:
    """ISO 639-1 code; None when there is nothing to judge (no letters); never raises."""
    if not any(ch.isalpha() for ch in text):
        return None
    code: str = _identifier().classify(text)[0]
    return "en" if code == "und" else code  # below MIN_CONFIDENCE: English unless clearly not
