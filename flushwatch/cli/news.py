"""News commands: ``ingest``, ``feeds list|add|remove|enable|disable|import-opml|export-opml``
and ``import headlines``. Thin: parse options, call one library function, render."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from flushwatch.cli._app import PANEL_NEWS, app, feeds_app, import_app
from flushwatch.cli.options import DbOption, FormatOption, LimitOption, OutputFormat, WaitOption, open_db
from flushwatch.cli.output import render


@app.command("ingest", rich_help_panel=PANEL_NEWS)
def ingest(
    feed: Annotated[
        list[str] | None,
        typer.Option(
            "--feed",
            metavar="URL",
            help="Fetch this feed URL (or file path / file:// URL) instead of the "
            "subscribed feeds. Repeatable.",
        ),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="FEED",
            help="Fetch only the subscribed feed with this name, URL or id. Repeatable.",
        ),
    ] = None,
    loop: Annotated[
        float | None,
        typer.Option("--loop", help="Keep ingesting every SECONDS until Ctrl-C.", min=1, show_default=False),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Per-feed timeout, seconds.", min=0.1)] = 15.0,
    retries: Annotated[int, typer.Option("--retries", help="Retries for timeouts, 429 and 5xx.", min=0)] = 2,
    concurrency: Annotated[int, typer.Option("--concurrency", help="Feeds fetched at once.", min=1)] = 16,
    story_hours: Annotated[
        float, typer.Option("--story-window", help="Hours within which reports join one story.", min=0)
    ] = 12.0,
    score: Annotated[bool, typer.Option("--score", help="Score new headlines with the local model.")] = False,
    db: DbOption = None,
    wait: WaitOption = None,
) -> None:
    """Fetch the subscribed feeds once (or every --loop seconds) and store new headlines.

    Prints one summary line per pass on stdout, also when some feeds failed: then the exit code
    is 3 (everything good is stored; `flushwatch feeds list` shows each feed's last error). With
    --loop, a pass that finds the database busy prints one line and the loop goes on.

    Example: [bold]flushwatch ingest --loop 60[/]
    """
    import datetime as dt

    from flushwatch.errors import DatabaseBusy, PartialFailure
    from flushwatch.ingest.news.fetch import FeedFetchOptions
    from flushwatch.ingest.news.service import IngestPartialFailure
    from flushwatch.jobs.ingest import ingest_loop, ingest_pass
    from flushwatch.records.news import IngestSummary

    database = open_db(db, wait)
    kwargs = dict(
        only=only or (),
        urls=feed or (),
        options=FeedFetchOptions(timeout_s=timeout, retries=retries, concurrency=concurrency),
        story_window=dt.timedelta(hours=story_hours),
        score=score,
        progress=_progress if sys.stderr.isatty() and loop is None else None,
    )
    if loop is None:
        try:
            summary = ingest_pass(database, **kwargs)  # type: ignore[arg-type]
        except IngestPartialFailure as exc:
            # Scripts read the summary from stdout; it matters most when some feeds failed.
            typer.echo(exc.summary.line())
            raise
        typer.echo(summary.line())
        return

    def on_pass(result: IngestSummary | PartialFailure | DatabaseBusy) -> None:
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        if isinstance(result, IngestSummary):
            line = result.line()
        elif isinstance(result, PartialFailure):
            line = str(result)
        else:  # the database stayed busy: this pass is skipped, the next one runs on time
            line = f"pass skipped: {result.one_line()}"
        typer.echo(f"{now} {line}")

    ingest_loop(database, loop, on_pass, **kwargs)


def _progress(total: int):  # type: ignore[no-untyped-def]
    """A rich progress bar on stderr (only on a terminal); returns the per-feed tick."""
    from rich.progress import Progress

    bar = Progress(transient=True, console=None)
    bar.start()
    task = bar.add_task("fetching feeds", total=total)
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        bar.update(task, advance=1)
        if done >= total:
            bar.stop()

    if total == 0:
        bar.stop()
    return tick


@feeds_app.command("list")
def feeds_list(
    db: DbOption = None,
    wait: WaitOption = None,
    fmt: FormatOption = OutputFormat.table,
    limit: LimitOption = None,
) -> None:
    """List subscribed feeds with their health: last success, last error, consecutive failures,
    items seen and the median delay between publication and first sight.

    Example: [bold]flushwatch feeds list --format csv[/]
    """
    from flushwatch.ingest.news.feeds import list_feeds

    rows = list_feeds(open_db(db, wait))
    render(
        [
            "id",
            "name",
            "kind",
            "tier",
            "enabled",
            "last_success",
            "last_error_at",
            "last_error",
            "failures",
            "items_seen",
            "median_latency_s",
            "url",
        ],
        [
            (
                f.feed_id,
                f.name,
                f.kind,
                f.tier,
                f.enabled,
                f.last_success_at,
                f.last_error_at,
                f.last_error,
                f.consecutive_failures,
                f.items_seen,
                f.median_latency_s,
                f.url,
            )
            for f in (rows if limit is None else rows[:limit])
        ],
        fmt,
        title="feeds",
    )


@feeds_app.command("add")
def feeds_add(
    url: Annotated[str | None, typer.Argument(help="Feed URL (or file path).", show_default=False)] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name (default: the host).")] = None,
    kind: Annotated[str, typer.Option("--kind", help="crypto | macro | regulator | exchange")] = "crypto",
    language: Annotated[str, typer.Option("--language", help="BCP-47 language code.")] = "en",
    tier: Annotated[int, typer.Option("--tier", help="1 (most market-moving) .. 3.", min=1, max=3)] = 2,
    catalogue: Annotated[
        bool, typer.Option("--catalogue", help="Add every feed of the default catalogue not yet present.")
    ] = False,
    db: DbOption = None,
    wait: WaitOption = None,
) -> None:
    """Subscribe to a feed, or (with --catalogue) to the default catalogue's feeds.

    Example: [bold]flushwatch feeds add https://example.com/rss --name Example --kind crypto --tier 2[/]
    """
    from flushwatch.ingest.news.feeds import add_catalogue, add_one

    database = open_db(db, wait)
    if catalogue:
        typer.echo(f"added {add_catalogue(database)} catalogue feeds")
        return
    if not url:
        raise typer.BadParameter("give a feed URL, or --catalogue")
    outcome = add_one(database, url, name=name, kind=kind, language=language, tier=tier)
    messages = {
        "added": f"added {url}",
        "subscribed": f"subscribed to {url} (until now only fetched with `ingest --feed`)",
        "exists": f"already subscribed: {url}",
    }
    typer.echo(messages[outcome])


@feeds_app.command("remove")
def feeds_remove(
    ref: Annotated[str, typer.Argument(help="Feed name, URL or id.")],
    db: DbOption = None,
    wait: WaitOption = None,
) -> None:
    """Unsubscribe from a feed (its stored headlines stay).

    Example: [bold]flushwatch feeds remove "Bitcoinist"[/]
    """
    from flushwatch.ingest.news.feeds import remove

    typer.echo(f"removed {remove(open_db(db, wait), ref)}")


@feeds_app.command("enable")
def feeds_enable(
    ref: Annotated[str, typer.Argument(help="Feed name, URL or id.")],
    db: DbOption = None,
    wait: WaitOption = None,
) -> None:
    """Fetch this feed again on every ingest.

    Example: [bold]flushwatch feeds enable "SEC press releases"[/]
    """
    from flushwatch.ingest.news.feeds import set_enabled

    typer.echo(f"enabled {set_enabled(open_db(db, wait), ref, True)}")


@feeds_app.command("disable")
def feeds_disable(
    ref: Annotated[str, typer.Argument(help="Feed name, URL or id.")],
    db: DbOption = None,
    wait: WaitOption = None,
) -> None:
    """Stop fetching this feed (it stays listed, with its history).

    Example: [bold]flushwatch feeds disable "The Daily Hodl"[/]
    """
    from flushwatch.ingest.news.feeds import set_enabled

    typer.echo(f"disabled {set_enabled(open_db(db, wait), ref, False)}")


@feeds_app.command("import-opml")
def feeds_import_opml(
    path: Annotated[Path, typer.Argument(help="OPML file exported from a feed reader.", dir_okay=False)],
    db: DbOption = None,
    wait: WaitOption = None,
) -> None:
    """Subscribe to every feed in an OPML file (existing subscriptions are left as they are;
    flushwatch's own tier and enabled attributes are read back). Only http(s) feed URLs are
    accepted: a local file path in the OPML refuses the whole file.

    Example: [bold]flushwatch feeds import-opml subscriptions.opml[/]
    """
    from flushwatch.ingest.news.feeds import import_opml

    added, total = import_opml(open_db(db, wait), path)
    typer.echo(f"added {added} of {total} feeds from {path}")


@feeds_app.command("export-opml")
def feeds_export_opml(
    path: Annotated[Path | None, typer.Argument(help="Write here (default: stdout).", dir_okay=False)] = None,
    db: DbOption = None,
    wait: WaitOption = None,
) -> None:
    """Write the subscribed feeds as OPML 2.0, grouped by kind, with each feed's tier and
    enabled setting (URLs only fetched with `ingest --feed` are not subscriptions, and local
    files only exist on this machine: both are left out).

    Example: [bold]flushwatch feeds export-opml feeds.opml[/]
    """
    from flushwatch.atomic import database_files, write_atomic
    from flushwatch.ingest.news.feeds import export_opml

    database = open_db(db, wait)
    text = export_opml(database)
    if path is None:
        typer.echo(text, nl=False)
    else:
        write_atomic(path, text, protected=database_files(database.path))
        typer.echo(f"wrote {path}", err=True)


@import_app.command("headlines")
def import_headlines_cmd(
    files: Annotated[
        list[Path],
        typer.Argument(help="CSV or JSONL files (.gz allowed).", dir_okay=False, metavar="FILE"),
    ],
    title: Annotated[str | None, typer.Option("--title", help="Column holding the headline.")] = None,
    time: Annotated[str | None, typer.Option("--time", help="Column holding the published time.")] = None,
    time_format: Annotated[
        str | None,
        typer.Option(
            "--time-format",
            help="strptime format (e.g. '%d-%m-%Y %H:%M'), or iso | epoch | epoch_ms. "
            "Default: detected from the file.",
        ),
    ] = None,
    timezone: Annotated[str, typer.Option("--timezone", help="Zone of times without an offset.")] = "UTC",
    source: Annotated[
        str | None, typer.Option("--source", help="Column naming the outlet, or a literal outlet name.")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="Column holding the article URL.")] = None,
    id_column: Annotated[str | None, typer.Option("--id", help="Column holding a stable article id.")] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="CSV delimiter (default: detected).")
    ] = None,
    db: DbOption = None,
    wait: WaitOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Backfill headlines from CSV / JSONL exports (Kaggle dumps, CryptoPanic exports, ...).

    Each file is stored in one transaction: a bad row stops with FILE:LINE and nothing of that
    file is stored. Rows without a title are skipped with a warning; duplicates are counted.

    Example: [bold]flushwatch import headlines news.csv.gz --delimiter ';' --time-format '%d-%m-%Y %H:%M'[/]
    """
    from flushwatch.ingest.news.importer import HeadlineImportOptions, import_headlines

    if delimiter == "\\t":
        delimiter = "\t"
    opts = HeadlineImportOptions(
        title=title,
        time=time,
        time_format=time_format,
        timezone=timezone,
        source=source,
        url=url,
        id=id_column,
        delimiter=delimiter,
    )
    results = import_headlines(open_db(db, wait), files, opts)
    render(
        ["file", "rows", "new", "updated", "duplicate", "skipped"],
        [(r.path, r.rows, r.counts.new, r.counts.updated, r.counts.duplicate, r.skipped) for r in results],
        fmt,
        title="imported headlines",
    )
