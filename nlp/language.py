"""A tiny, deterministic language guess for headlines: Unicode script first, then stopwords.

Why not langdetect or fastText: langdetect is random unless seeded and unreliable on six-word
titles full of tickers ("BTC ETF inflows" comes back as Catalan or Somali); fastText needs a
126 MB model. Headlines need one answer: English or not. Non-Latin scripts settle it at once;
for Latin script we count function words of English and seven other common news languages.
Tickers, numbers and names carry no vote, so a title with no function words stays English.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)

_STOP: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "the",
            "a",
            "an",
            "of",
            "to",
            "in",
            "on",
            "for",
            "and",
            "is",
            "are",
            "was",
            "were",
            "with",
            "as",
            "at",
            "by",
            "from",
            "after",
            "amid",
            "over",
            "its",
            "it",
            "this",
            "that",
            "be",
            "has",
            "have",
            "will",
            "new",
            "says",
        ]
    ),
    "es": frozenset(
        [
            "el",
            "la",
            "los",
            "las",
            "de",
            "del",
            "y",
            "en",
            "que",
            "por",
            "para",
            "con",
            "una",
            "un",
            "su",
            "se",
            "es",
            "al",
            "como",
            "más",
            "sobre",
            "tras",
        ]
    ),
    "pt": frozenset(
        [
            "o",
            "os",
            "a",
            "as",
            "de",
            "do",
            "da",
            "dos",
            "das",
            "e",
            "em",
            "que",
            "por",
            "para",
            "com",
            "um",
            "uma",
            "no",
            "na",
            "é",
            "se",
            "ao",
            "mais",
            "sobre",
            "após",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "de",
            "des",
            "du",
            "et",
            "en",
            "que",
            "pour",
            "avec",
            "une",
            "un",
            "sur",
            "est",
            "dans",
            "au",
            "aux",
            "par",
            "se",
            "après",
            "plus",
        ]
    ),
    "de": frozenset(
        [
            "der",
            "die",
            "das",
            "und",
            "den",
            "dem",
            "des",
            "ein",
            "eine",
            "ist",
            "im",
            "mit",
            "für",
            "auf",
            "von",
            "zu",
            "nach",
            "bei",
            "nicht",
            "sich",
            "auch",
        ]
    ),
    "it": frozenset(
        [
            "il",
            "lo",
            "la",
            "gli",
            "le",
            "di",
            "del",
            "della",
            "e",
            "che",
            "per",
            "con",
            "una",
            "un",
            "su",
            "è",
            "nel",
            "alla",
            "dopo",
            "più",
        ]
    ),
    "nl": frozenset(
        ["de", "het", "een", "en", "van", "in", "op", "voor", "met", "is", "dat", "niet", "na", "bij"]
    ),
    "tr": frozenset(["ve", "bir", "bu", "ile", "için", "da", "de", "mi", "çok", "olarak", "sonra", "daha"]),
}

_SCRIPTS = (
    ("CJK", "zh"),
    ("HIRAGANA", "ja"),
    ("KATAKANA", "ja"),
    ("HANGUL", "ko"),
    ("CYRILLIC", "ru"),
    ("ARABIC", "ar"),
    ("HEBREW", "he"),
    ("DEVANAGARI", "hi"),
    ("THAI", "th"),
    ("GREEK", "el"),
)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code, None when there is nothing to judge (no letters); never raises."""
    if text.isascii():  # most titles: every letter is Latin, so skip the per-letter script lookup
        if not any(ch.isalpha() for ch in text):
            return None
        return _by_stopwords(text)
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return None
    counts: dict[str, int] = {}
    latin = 0
    for ch in letters:
        name = unicodedata.name(ch, "")
        if name.startswith("LATIN"):
            latin += 1
            continue
        for key, code in _SCRIPTS:
            if key in name:
                counts[code] = counts.get(code, 0) + 1
                break
    if counts:
        code, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
        if n >= latin:  # more of another script than Latin letters
            return "ja" if code == "zh" and "ja" in counts else code
    return _by_stopwords(text)


def _by_stopwords(text: str) -> str:
    """Among Latin-script languages: the one whose stop words the text uses most, else English."""
    words = [w.lower() for w in _WORD.findall(text)]
    votes = {lang: sum(1 for w in words if w in stop) for lang, stop in _STOP.items()}
    best = max(votes.items(), key=lambda kv: (kv[1], kv[0] == "en"))
    if best[0] != "en" and best[1] >= 2 and best[1] > votes["en"]:
        return best[0]
    return "en"
