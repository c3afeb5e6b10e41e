"""The typer applications every command module registers on (no commands defined here)."""

from __future__ import annotations

import typer

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(
        help=help_text,
        no_args_is_help=True,
        context_settings=CONTEXT,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
    )


app = typer.Typer(
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

# Panels group commands in `flushwatch --help`.
PANEL_DATA = "Database"
PANEL_NEWS = "News"
PANEL_MARKET = "Market data"
PANEL_MODEL = "Scoring model"
PANEL_FLUSH = "Flushes and catalysts"
