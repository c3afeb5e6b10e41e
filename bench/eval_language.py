"""How well does the language guess flag non-English titles, and how often does it flag English?

Reads the own-words titles of ``eval/language_titles.csv`` (split ``dev``: the titles the rules
were developed on; ``test``: written with them and read once after the rules were fixed), then,
where ../shared/data is present, the 13,125 real crypto headlines of
``news_cryptonews_2021_2022`` and ``news_cryptocompare_feed_2025_2026`` (all English but for a
handful; every one flagged is printed so a reader can judge it).
Usage: ``python bench/eval_language.py`` (seconds).
"""

from __future__ import annotations

import csv
from pathlib import Path

PATH = Path(__file__).resolve().parent.parent / "eval" / "language_titles.csv"
SPLITS = ("dev", "test")


def read_split(split: str) -> list[tuple[str, str]]:
    """(text, language) rows of one split of the labelled titles."""
    with PATH.open(newline="", encoding="utf-8") as f:
        return [(r["text"], r["language"]) for r in csv.DictReader(f) if r["split"] == split]


def flag_counts(rows: list[tuple[str, str]]) -> dict[str, int]:
    """Non-English titles flagged (and with the right language), English titles flagged."""
    from flushwatch.nlp.language import detect_language

    guesses = [(detect_language(text) or "en", lang) for text, lang in rows]
    return {
        "non_english": sum(lang != "en" for _, lang in guesses),
        "flagged": sum(g != "en" and lang != "en" for g, lang in guesses),
        "right_language": sum(g == lang and lang != "en" for g, lang in guesses),
        "english": sum(lang == "en" for _, lang in guesses),
        "english_flagged": sum(g != "en" and lang == "en" for g, lang in guesses),
    }


def real_titles() -> list[str] | None:
    """Every title of the two shared crypto headline files, or None without the shared data."""
    from flushwatch.errors import InputError
    from flushwatch.nlp.training.labelled_sets import headline_titles

    titles: list[str] = []
    for dataset in ("news_cryptonews_2021_2022", "news_cryptocompare_feed_2025_2026"):
        try:
            titles.extend(headline_titles(dataset, needed_by="eval_language").values())
        except InputError:
            return None
    return titles


def main() -> None:
    from flushwatch.nlp.language import detect_language

    print("| set | non-English flagged | right language | English flagged |")
    print("|---|---|---|---|")
    for split in SPLITS:
        c = flag_counts(read_split(split))
        print(
            f"| {split} | {c['flagged']} / {c['non_english']} | {c['right_language']} / "
            f"{c['non_english']} | {c['english_flagged']} / {c['english']} |"
        )
    titles = real_titles()
    if titles is None:
        print("real crypto headlines: skipped (no ../shared/data; set FLUSHWATCH_SHARED_DATA)")
        return
    flagged = [(detect_language(t), t) for t in titles if detect_language(t) not in ("en", None)]
    print(f"\nreal crypto headlines: {len(flagged)} of {len(titles)} flagged non-English")
    for lang, title in sorted(flagged):
        print(f"  {lang}  {title}")


if __name__ == "__main__":
    main()
