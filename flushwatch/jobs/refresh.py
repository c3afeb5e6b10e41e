"""``refresh_rules``: bring stored scores up to the current rules, then re-rank catalysts.

Catalyst ranks read importance and the market-report flag, so rows whose rule fields changed
can change which headline tops a flush. Re-ranking follows the refresh in the same command:
every flush is re-attributed when any row changed (attribution is one SQL statement over the
flushes; which flushes a changed headline could reach depends on the attribution windows, so
re-ranking all of them is the simple, certain choice), none when nothing changed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from flushwatch.nlp.refresh import current_rules, refresh_stale_rows
from flushwatch.nlp.scorer import DEFAULT_MODEL
from flushwatch.records.scores import RefreshSummary
from flushwatch.scoring.attribution import attribute

if TYPE_CHECKING:
    from flushwatch.storage.db import Database


def refresh_rules(db: Database) -> RefreshSummary:
    """Recompute every stale row's rule fields from its stored probabilities (no model, no
    torch), re-attribute flushes if anything changed, and record it all as one run."""
    t0 = time.monotonic()
    rules = current_rules(DEFAULT_MODEL)
    with db.run("refresh-rules") as run:
        counts = refresh_stale_rows(db, run)
        flushes = attribute(db, run_id=run.run_id).flushes if counts.changed else 0
        run.counts["flushes_reattributed"] = flushes
        run.counts["event_rules"] = rules
        run_id = run.run_id
    return RefreshSummary(
        rules_revision=rules,
        run_id=run_id,
        checked=counts.checked,
        changed=counts.changed,
        event_types_changed=counts.event_types_changed,
        reports_changed=counts.reports_changed,
        flushes_reattributed=flushes,
        seconds=round(time.monotonic() - t0, 3),
    )
