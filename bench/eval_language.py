"""How well does the language guess (py3langid, ``nlp/language.py``) name a title's language,
and how often does it flag English? Beside it, the trivial baseline "every title is English".

Reads the own-words titles of ``eval/language_titles.csv`` (split ``dev``: the titles the
detector's settings were chosen on; ``test``: held out), then, where ../shared/data is present,
the 13,121 real crypto headlines of ``news_cryptonews_2021_2022`` and
``news_cryptocompare_feed_2025_2026`` (all English but for a handful; every one flagged is
printed so a reader can judge it). Speed is CPU time per title, best of three, on the real
headlines (or the labelled titles without them), after the model is loaded.
Usage: ``python bench/eval_language.py`` (seconds).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable
from pathlib import Path

PATH = Path(__file__).resolve().parent.parent / "eval" / "language_titles.csv"
SPLITS = ("dev", "test")
Detector = Callable[[str], str | None]


def read_split(split: str) -> list[tuple[str, str]]:
    """(text, language) rows of one split of the labelled titles."""
    with PATH.open(newline="", encoding="utf-8") as f:
        return [(r["text"], r["language"]) for r in csv.DictReader(f) if r["split"] == split]


def all_english(text: str) -> str | None:
    """The baseline: every title with a letter is English."""
    return "en" if any(ch.isalpha() for ch in text) else None


def flag_counts(rows: list[tuple[str, str]], detect: Detector | None = None) -> dict[str, int]:
    """Right language, non-English titles flagged (and with the right language), English titles
    flagged; ``detect`` defaults to the product's detector. No answer counts as English."""
    if detect is None:
        from flushwatch.nlp.language import detect_language

        detect = detect_language
    guesses = [(detect(text) or "en", lang) for text, lang in rows]
    return {
        "titles": len(guesses),
        "right": sum(g == lang for g, lang in guesses),
        "non_english": sum(lang != "en" for _, lang in guesses),
        "flagged": sum(g != "en" and lang != "en" for g, lang in guesses),
        "right_language": sum(g == lang and lang != "en" for g, lang in guesses),
        "english": sum(lang == "en" for _, lang in guesses),
        "english_flagged": sum(g != "en" and lang == "en" for g, lang in guesses),
    }


def titles_per_s(detect: Detector, titles: list[str]) -> float:
    detect(titles[0])  # load the model outside the timing
    best = min(_cpu(detect, titles) for _ in range(3))
    return len(titles) / best


def _cpu(detect: Detector, titles: list[str]) -> float:
    t0 = time.process_time()
    for title in titles:
        detect(title)
    return time.process_time() - t0


def real_titles() -> list[str] | None:
    """Every title of the two shared crypto headline files, or None without the shared data."""
    from flushwatch.errors import InputError
    from flushwatch.training.labelled_sets import headline_titles

    titles: list[str] = []
    for dataset in ("news_cryptonews_2021_2022", "news_cryptocompare_feed_2025_2026"):
        try:
            titles.extend(headline_titles(dataset, needed_by="eval_language").values())
        except InputError:
            return None
    return titles


def main() -> None:
    from flushwatch.nlp.language import detect_language

    detectors: dict[str, Detector] = {"py3langid": detect_language, "all English": all_english}
    real = real_titles()
    timed = real or [text for split in SPLITS for text, _ in read_split(split)]
    speed = {name: titles_per_s(detect, timed) for name, detect in detectors.items()}
    print("| set | detector | accuracy | non-English flagged | right language | English flagged |")
    print("|---|---|---|---|---|---|")
    for split in SPLITS:
        rows = read_split(split)
        for name, detect in detectors.items():
            c = flag_counts(rows, detect)
            print(
                f"| {split} | {name} | {c['right'] / c['titles']:.2f} ({c['right']} / {c['titles']}) | "
                f"{c['flagged']} / {c['non_english']} | {c['right_language']} / {c['non_english']} | "
                f"{c['english_flagged']} / {c['english']} |"
            )
    where = "real headlines" if real else "labelled titles"
    print("\nspeed (" + where + ", CPU): " + ", ".join(f"{n} {s:,.0f} titles/s" for n, s in speed.items()))
    if real is None:
        print("real crypto headlines: skipped (no ../shared/data; set FLUSHWATCH_SHARED_DATA)")
        return
    flagged = [(lang, t) for t in real if (lang := detect_language(t)) not in ("en", None)]
    print(f"\nreal crypto headlines: {len(flagged)} of {len(real)} flagged non-English")
    for lang, title in sorted(flagged):
        print(f"  {lang}  {title}")


if __name__ == "__main__":
    main()
