"""Stories: one event reported by several outlets within a window is one story. Pure.

Every headline belongs to exactly one story (a story of one until another outlet reports the
same event). Two headlines are the same event when, within ``window`` of each other, their
titles are near-duplicates (token Jaccard >= ``NEAR_DUP``), or they share enough title words
(Jaccard >= ``SAME_EVENT``) and name the same specific assets.

Scale: no pair-wise pass over history. Each title's rarest few tokens (prefix filtering) are
its blocking keys in an inverted index, so each new headline is compared only with the few
recent headlines sharing a rare word, and the caller loads only headlines inside the window
of the batch.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_WINDOW = dt.timedelta(hours=12)
NEAR_DUP = 0.5
SAME_EVENT = 0.3
BLOCK_KEYS = 4
CANDIDATES_PER_KEY = 10  # newest headlines per blocking key compared; bounds work per headline

_WORD_RE = re.compile(r"[a-z0-9$][a-z0-9$.]*[a-z0-9]|[a-z0-9]")
_STOP_TEXT = (
    "a an the of to in on for and or but is are was were be been as at by with from into over "
    "after before amid says said say new its it this that these those than then up down out off "
    "about will would could can may might has have had not no more most just what why how who "
    "when where which report reports here heres today week news update live vs via per you your "
    "we our us"
)
_STOP = frozenset(_STOP_TEXT.split())
# Market-wide and macro tags say what a headline moves, not which story it tells.
_MARKET = frozenset({"MARKET", "MACRO"})


def title_tokens(title: str) -> frozenset[str]:
    words = _WORD_RE.findall(title.lower().replace("’", "'").replace("'s", ""))
    return frozenset(w for w in words if w not in _STOP and (len(w) > 2 or w.isdigit()))


@dataclass(frozen=True)
class StoryInput:
    headline_id: int
    source: str
    title: str
    at: dt.datetime
    assets: frozenset[str]
    story_id: int | None = None  # known for stored headlines, None for the new batch


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def assign_stories(
    new: Sequence[StoryInput],
    recent: Sequence[StoryInput],
    window: dt.timedelta = DEFAULT_WINDOW,
) -> dict[int, int]:
    """headline_id -> story id for each new headline. Known stories keep their id; new stories
    get provisional ids -1, -2, ... which the caller swaps for real ones.

    Hot loop (every new headline against up to BLOCK_KEYS x CANDIDATES_PER_KEY candidates):
    each headline's blocking keys, tokens and specific assets are computed once, and the index
    holds plain tuples, so a comparison is a few tuple reads and one set intersection."""
    tokens: dict[int, frozenset[str]] = {}
    df: Counter[str] = Counter()
    for h in (*recent, *new):
        t = title_tokens(h.title)
        tokens[h.headline_id] = t
        df.update(t)
    blocks: dict[int, list[str]] = {}

    def keys(hid: int) -> list[str]:
        found = blocks.get(hid)
        if found is None:
            found = blocks[hid] = sorted(tokens[hid], key=lambda w: (df[w], w))[:BLOCK_KEYS]
        return found

    # (headline_id, at, tokens, specific assets) per indexed headline.
    index: dict[str, list[tuple[int, dt.datetime, frozenset[str], frozenset[str]]]] = defaultdict(list)
    story_of: dict[int, int] = {}
    for h in recent:
        if h.story_id is not None:
            story_of[h.headline_id] = h.story_id
            entry = (h.headline_id, h.at, tokens[h.headline_id], h.assets - _MARKET)
            for w in keys(h.headline_id):
                index[w].append(entry)
    result: dict[int, int] = {}
    next_new = -1
    for h in sorted(new, key=lambda x: (x.at, x.headline_id)):
        hid, at = h.headline_id, h.at
        mine = tokens[hid]
        n_mine = len(mine)
        specific = h.assets - _MARKET
        best: tuple[float, int] | None = None
        seen: set[int] = set()
        block = keys(hid)
        for w in block:
            bucket = index.get(w)
            if not bucket:
                continue
            for cid, c_at, theirs, c_specific in reversed(bucket[-CANDIDATES_PER_KEY:]):
                if cid in seen:
                    continue
                seen.add(cid)
                if abs(c_at - at) > window:
                    continue
                inter = len(mine & theirs)
                score = inter / (n_mine + len(theirs) - inter) if inter else 0.0
                same = score >= NEAR_DUP or (
                    score >= SAME_EVENT and bool(specific) and specific == c_specific
                )
                if same and (best is None or score > best[0]):
                    best = (score, story_of[cid])
        if best is not None:
            sid = best[1]
        else:
            sid = next_new
            next_new -= 1
        story_of[hid] = sid
        result[hid] = sid
        entry = (hid, at, mine, specific)
        for w in block:
            index[w].append(entry)
    return result
