"""Would trusting confident rule answers improve the event type? An out-of-fold check.

The shipped event type adds 0.2 x the rules' confidence to the event head's probabilities
(``nlp/event_head.py``). This asks whether keeping the rules' answer outright, whenever they
name a cause type (regulation, legal, hack, exchange trouble, depeg, macro, ETF/institutional)
with at least a given confidence, would do better. The head is refitted in 5 folds over its
own training titles (``event_head.training_rows``: never the held-out set), so every title is
scored by a head that did not see it. The figures that count are on the real-headline sets the
rules were never revised on; on the sets they were written on the rules look better than they
are. Usage: ``python bench/eval_event_combination.py``.
"""

from __future__ import annotations

import random
import sys

#: Real-headline sets no rule was revised on (the rules were written on the own-words sets,
#: real_dev and real_test).
UNREVISED = tuple(
    f"event_types_real_{n}.csv" for n in ("test2", "test3", "test4", "test5", "dev2", "dev3", "dev4")
)


def main() -> None:
    import numpy as np

    from flushwatch.config import shared_data_dir
    from flushwatch.nlp import event_head
    from flushwatch.nlp.evaluate import OWN_EVENT_SETS, REAL_EVENT_SETS, own_event_set, real_event_set
    from flushwatch.nlp.events import CAUSE_TYPES, classify_event

    if shared_data_dir() is None:
        sys.exit("shared data not found: set FLUSHWATCH_SHARED_DATA")
    titles: list[str] = []
    truth: list[str] = []
    sets: list[str] = []
    for name, _ in REAL_EVENT_SETS:
        if name in event_head.HELD_OUT:
            continue
        rows = real_event_set(name)
        titles += [r["title"] for r in rows]
        truth += [r["event_type"] for r in rows]
        sets += [name] * len(rows)
    own = [(r["title"], r["event_type"]) for name, _ in OWN_EVENT_SETS for r in own_event_set(name)]
    rng = random.Random(0)
    fold = [rng.randrange(5) for _ in titles]
    rules = [classify_event(t) for t in titles]
    combined: list[str] = [""] * len(titles)
    for f in range(5):
        train = own + [(titles[i], truth[i]) for i in range(len(titles)) if fold[i] != f]
        head = event_head.EventHead(event_head.fit(train), "out-of-fold")
        idx = [i for i in range(len(titles)) if fold[i] == f]
        for i, guess in zip(
            idx, head.combine([titles[i] for i in idx], [rules[i] for i in idx]), strict=True
        ):
            combined[i] = guess.event_type
    rules_ok = np.array([g.event_type == y for g, y in zip(rules, truth, strict=True)])
    comb_ok = np.array([c == y for c, y in zip(combined, truth, strict=True)])
    unrevised = np.isin(np.array(sets), UNREVISED)
    cause = np.array([g.event_type in CAUSE_TYPES for g in rules])
    conf = np.array([g.confidence for g in rules])
    print(f"{'real titles':32s} {'n':>5s} {'rules':>7s} {'shipped':>8s}")
    for what, sel in (
        ("all (incl. rule-development sets)", np.ones_like(unrevised)),
        ("never revised on", unrevised),
    ):
        print(f"{what:32s} {sel.sum():5d} {rules_ok[sel].mean():7.3f} {comb_ok[sel].mean():8.3f}")
    print("\nkeep the rules' answer where they name a cause type with confidence >= t (never-revised sets):")
    for t in (0.5, 0.7, 0.8):
        gate = unrevised & cause & (conf >= t)
        gated = np.where(gate, rules_ok, comb_ok)
        print(
            f"  t {t}: {gate.sum():4d} titles gated (rules right {rules_ok[gate].mean():.3f}, shipped "
            f"{comb_ok[gate].mean():.3f}); overall {comb_ok[unrevised].mean():.3f} "
            f"-> {gated[unrevised].mean():.3f}"
        )


if __name__ == "__main__":
    main()
