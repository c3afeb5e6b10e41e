"""The ``flushwatch`` entry point: assembles the command groups and maps errors to exit codes."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer

from flushwatch import __version__

# Importing a command module registers its commands on the apps in flushwatch.cli._app.
from flushwatch.cli import calendar as _calendar  # noqa: F401
from flushwatch.cli import db as _db  # noqa: F401
from flushwatch.cli import flushes as _flushes  # noqa: F401
from flushwatch.cli import market as _market  # noqa: F401
from flushwatch.cli import model as _model  # noqa: F401
from flushwatch.cli import news as _news  # noqa: F401
from flushwatch.cli import report as _report  # noqa: F401
from flushwatch.cli._app import (
    PANEL_DATA,
    PANEL_MARKET,
    PANEL_MODEL,
    PANEL_NEWS,
    app,
    calendar_app,
    db_app,
    feeds_app,
    import_app,
    liquidations_app,
    market_app,
    model_app,
)
from flushwatch.errors import EXIT_INTERRUPTED, EXIT_PARTIAL, FlushwatchError, is_interrupt

app.add_typer(db_app, name="db", rich_help_panel=PANEL_DATA)
app.add_typer(feeds_app, name="feeds", rich_help_panel=PANEL_NEWS)
app.add_typer(import_app, name="import", rich_help_panel=PANEL_DATA)
app.add_typer(market_app, name="market", rich_help_panel=PANEL_MARKET)
app.add_typer(liquidations_app, name="liquidations", rich_help_panel=PANEL_MARKET)
app.add_typer(model_app, name="model", rich_help_panel=PANEL_MODEL)
app.add_typer(calendar_app, name="calendar", rich_help_panel=PANEL_NEWS)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"flushwatch {__version__}")
        raise typer.Exit()


def _configure_logging(verbosity: int) -> None:
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    env = os.environ.get("FLUSHWATCH_LOG")
    if env:
        level = getattr(logging, env.upper(), level)
    handler: logging.Handler
    if sys.stderr.isatty():
        from rich.logging import RichHandler

        handler = RichHandler(show_path=False, markup=False, rich_tracebacks=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More log output.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
) -> None:
    """Which news set off that leverage flush?"""
    _configure_logging(-1 if quiet else verbose)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (systemd stop, a cron timeout, ``kill``) ends a command as Ctrl-C does: the open
    transaction rolls back, the run is recorded as interrupted, exit 130."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; user errors become one stderr line and a documented exit code."""
    import signal

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)
    try:
        app(args=argv, prog_name="flushwatch")
    except FlushwatchError as exc:
        # A partial failure ran to the end and stored everything good: a warning, not an error.
        kind = "warning" if exc.exit_code == EXIT_PARTIAL else "error"
        typer.echo(f"flushwatch: {kind}: {exc.one_line()}", err=True)
        sys.exit(exc.exit_code)
    except BaseException as exc:
        if not is_interrupt(exc):
            raise
        typer.echo("flushwatch: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
