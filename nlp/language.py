"""A tiny, deterministic language guess for headlines: Unicode script first, then word votes.

Why not langdetect or fastText: langdetect is random unless seeded and unreliable on six-word
titles full of tickers ("BTC ETF inflows" comes back as Catalan or Somali); fastText needs a
126 MB model. Headlines need one answer: English or not. Non-Latin scripts settle it at once.
For Latin script each word votes: English function words and common headline words for
English; function words and the accented letters of seven other news languages (German
"fällt", Turkish "düştü") for those. Words that are English as well ("do", "no", "as" in
Portuguese) vote for nobody, and so does any word with a capital inside a title: in the
sentence-case titles of those languages such words are names ("Société Générale", "Paco De
La India" in Title Case) or tickers ("CE"). Another language needs two votes and more than
English has, so a title with nothing to go on stays English: a missed flag costs less than
an English headline marked foreign. Measured in docs/model.md (Language).
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_URL = re.compile(r"https?://\S+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# English: function words and the verbs and nouns that fill market headlines. No loanwords
# other languages' crypto news uses as is ("exchange", "rally", "crash", "record", "token").
_ENGLISH = _words(
    """the an of to on for and are was were with at by from after amid over its it this that be
    has have will new says said than into out up down about against under above below between
    through while during despite ahead back off again still only also all any some before not
    but or if what why how who when where which just now here there you your we our they their
    he his she her first last next week day year more most could would should may might can
    hits falls rises drops jumps surges plunges slips gains loses sees launches buys sells holds
    billion million investors price prices market markets high low cut cuts today using explains
    set sets big biggest rate rates report reports"""
)

# Words that are English too: they vote for no language ("Do Kwon", "No deal", "as" in pt).
_NEUTRAL = _words("a as do no e o i in is")

_STOP: dict[str, frozenset[str]] = {
    "es": _words(
        """el la los las de del y en que por para con una un su sus se es al como más sobre tras
        este esta año según entre hasta ante sube cae"""
    ),
    "pt": _words(
        """os da das de dos em na um uma com para por que se é ao após mais sobre seu sua hoje
        pelo pela entre sobe cai"""
    ),
    "fr": _words(
        """le la les de des du un une et est en sur pour dans au aux par avec après plus que se
        ce cette ses son sa pourquoi face"""
    ),
    "de": _words(
        """der die das und den dem des ein eine einen ist im mit für auf von zu nach bei nicht
        sich auch um aus über vor wie wird werden sind als neue neuen gegen heute wieder warum
        noch zum zur bis unter seit nur"""
    ),
    "it": _words(
        """il lo la gli le di del della dei delle e è un una per con su sul sulla dopo più che
        non nel nella alla al da perché"""
    ),
    "nl": _words(
        """de het een en van op voor met na niet bij naar uit om te aan door nog ook maar hoe
        waarom vandaag tegen dan dat wordt zijn nieuwe grote opnieuw weer"""
    ),
    "tr": _words("""ve bir bu ile için da de mi çok olarak sonra daha yeni yüzde kadar gibi neden"""),
}

# Accented letters and the languages that write them; a word's accents vote for the languages
# all of its accents share ("düştü": ü is German or Turkish, ş only Turkish, so Turkish).
_ACCENTS: dict[str, frozenset[str]] = {
    ch: frozenset(langs.split())
    for chars, langs in (
        ("äß", "de"),
        ("öü", "de tr"),
        ("ñ¿¡", "es"),
        ("ãõ", "pt"),
        ("ç", "fr pt tr"),
        ("ğşı", "tr"),
        ("èù", "fr it"),
        ("à", "fr it pt"),
        ("âêô", "fr pt"),
        ("îûœ", "fr"),
        ("ëï", "fr nl"),
        ("é", "fr es pt it"),
        ("áíú", "es pt"),
        ("ó", "es pt it"),
        ("ìò", "it"),
    )
    for ch in chars
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
    """Among Latin-script languages: the one the words vote for most, else English.

    Another language needs two votes and more than English's; ties go to English.
    """
    votes = dict.fromkeys(_STOP, 0)
    english = 0
    shouting = text.isupper()  # an all-caps title: its capitals say nothing about names
    for i, raw in enumerate(_WORD.findall(_URL.sub(" ", text))):
        word = raw.lower()
        if word in _ENGLISH:
            english += 1
            continue
        if word in _NEUTRAL or (i > 0 and not shouting and not raw.islower()):
            continue  # English too, or a name, ticker or acronym inside the title
        for lang, stop in _STOP.items():
            if word in stop:
                votes[lang] += 1
        accented: frozenset[str] | None = None
        for ch in word:
            langs = _ACCENTS.get(ch)
            if langs is not None:
                accented = langs if accented is None else (accented & langs or accented | langs)
        for lang in accented or ():
            votes[lang] += 1
    best, n = max(votes.items(), key=lambda kv: kv[1])
    return best if n >= 2 and n > english else "en"
