"""The typer applications every command module registers on (no commands defined here)."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


def reflow(text: str | None) -> str | None:
    """Join the hard line breaks inside each paragraph of a docstring.

    Typer keeps a command docstring's line breaks after its first paragraph, so text wrapped at
    the source's width broke mid-sentence on an 80-column terminal. Paragraphs (blank-line
    separated) stay; a paragraph with a line that is indented or starts with ``\\b``, a list
    marker (``- ``, ``* ``) or a prompt (``$ ``), and the examples paragraph (one command a
    line), are preformatted and kept as written.
    """
    if not text:
        return text
    out = []
    for para in text.strip("\n").split("\n\n"):
        lines = para.split("\n")
        preformatted = para.startswith("Example") or any(
            line[:1] in (" ", "\t", "\b") or line.startswith(("- ", "* ", "$ ")) for line in lines[1:]
        )
        if preformatted:
            out.append(para)
        else:
            out.append(" ".join(line.strip() for line in lines))
    return "\n\n".join(out)


class ReflowGroup(TyperGroup):
    """A command group whose help texts, and its commands', wrap at the terminal's width."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.help = reflow(self.help)
        for command in self.commands.values():
            if not isinstance(command, TyperGroup):  # a group reflows its own
                command.help = reflow(command.help)


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(
        cls=ReflowGroup,
        help=help_text,
        no_args_is_help=True,
        context_settings=CONTEXT,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
    )


app = typer.Typer(
    cls=ReflowGroup,
    help=(
        "Which news set off that leverage flush?\n\n"
        "flushwatch ingests crypto and macro headlines, scores them with a local transformer, "
        "stores them beside candles, liquidations, funding and open interest in one DuckDB file, "
        "detects liquidation cascades and ranks the headlines most likely to have triggered each."
    ),
    no_args_is_help=True,
    context_settings=CONTEXT,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    add_completion=False,
)

db_app = _group("Inspect and maintain the database file.")
feeds_app = _group("Manage the feeds flushwatch subscribes to.")
import_app = _group("Backfill from files: headlines, candles, liquidations, funding, open interest.")
market_app = _group("Fetch market data from exchange REST APIs (no API key).")
liquidations_app = _group("Record live liquidation streams.")
model_app = _group("Train, evaluate and inspect the scoring model.")
calendar_app = _group("Scheduled macro releases: the bundled US calendar (CPI, FOMC, jobs...) and yours.")

# Panels group commands in `flushwatch --help`.
PANEL_DATA = "Database"
PANEL_NEWS = "News"
PANEL_MARKET = "Market data"
PANEL_MODEL = "Scoring model"
PANEL_FLUSH = "Flushes and catalysts"
