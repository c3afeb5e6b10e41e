"""``flushwatch explain``, ``digest``, ``run``, ``watch`` and ``demo``: what users read."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from flushwatch.cli._app import PANEL_FLUSH, app
from flushwatch.cli.options import DbOption, WaitOption, open_db
from flushwatch.errors import ConfigError, PartialFailure
from flushwatch.records.flushes import verdict_text
from flushwatch.timeparse import parse_day, parse_duration, parse_instant

if TYPE_CHECKING:
    from flushwatch.ingest.market.recorder import RecorderThread
    from flushwatch.scoring.explain import Explanation
    from flushwatch.storage.db import Database

log = logging.getLogger(__name__)


class ExplainFormat(StrEnum):
    text = "text"
    json = "json"


class DigestFormat(StrEnum):
    markdown = "markdown"
    html = "html"
    json = "json"


# -- explain ---------------------------------------------------------------------------------------


def market_marks(ex: Explanation) -> dict[dt.datetime, str]:
    """Market events for the timeline: start (open), trigger, peak (low or high), end (close)."""
    f = ex.flush
    bars = {b.open_time: b for b in ex.bars}
    step = ex.bars[1].open_time - ex.bars[0].open_time if len(ex.bars) > 1 else dt.timedelta(minutes=1)

    def price(t: dt.datetime, what: str) -> str:
        b = bars.get(t) if what != "close" else bars.get(t - step)
        return f" {getattr(b, what):,.1f}" if b is not None else ""

    low = f.direction == "long_flush"
    marks = {
        f.start_at: f"▶ flush start, open{price(f.start_at, 'open')}",
        f.trigger_at: "⚑ detector fires (first flagged bar)",
        f.peak_at: f"{'▼ low' if low else '▲ high'}{price(f.peak_at, 'low' if low else 'high')}",
        f.end_at: f"■ flush end, close{price(f.end_at, 'close')}",
    }
    for b in ex.bars:  # liquidation bursts, when recorded
        if b.liquidated_usd and f.start_at <= b.open_time < f.end_at and b.open_time not in marks:
            marks[b.open_time] = f"liquidated ${b.liquidated_usd:,.0f}"
    return marks


def print_explanation(ex: Explanation, *, out: TextIO | None = None) -> None:
    """The terminal view of a flush: numbers, sparkline, catalysts with why, coverage, timeline."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from flushwatch.scoring.charts import sparkline

    stream = out or sys.stdout
    # Off a terminal (pipes, cron mail) keep lines long rather than folding titles.
    console = Console(
        file=stream,
        soft_wrap=False,
        highlight=False,
        width=None if getattr(stream, "isatty", lambda: False)() else 140,
    )
    f = ex.flush
    move = f.extreme_move_pct if f.extreme_move_pct is not None else f.price_move_pct
    console.print(
        f"[bold]Flush {f.flush_id}[/]: {f.asset} {f.direction.replace('_', ' ')} {move:+.2f}% "
        f"({f.symbol or '?'} {f.venue or ''} {f.market or ''} {f.interval})"
    )
    console.print(
        f"  start {f.start_at:%Y-%m-%d %H:%M} · trigger {f.trigger_at:%H:%M} · peak {f.peak_at:%H:%M} · "
        f"end {f.end_at:%H:%M} UTC"
    )
    liq = (
        f"${f.liquidated_usd:,.0f} ({f.liquidation_note})" if f.liquidated_usd is not None else "not recorded"
    )
    console.print(
        f"  close-to-close {f.price_move_pct:+.2f}% · severity {f.severity:.0f}/100 · "
        f"signals {', '.join(f.signals)}{' · market-wide' if f.market_wide else ''}"
    )
    vm = "-" if f.volume_multiple is None else f"{f.volume_multiple:.1f}x"
    oi = "-" if f.oi_change_pct is None else f"{f.oi_change_pct:+.1f}%"
    fu = "-" if f.funding_before is None else f"{f.funding_before * 100:+.4f}%"
    console.print(f"  liquidated {liq} · volume {vm} · open interest {oi} · funding before {fu}")
    if ex.bars:
        closes = [b.close for b in ex.bars]
        console.print(
            f"  price {ex.bars[0].open_time:%H:%M} {sparkline(closes)} {ex.bars[-1].open_time:%H:%M}  "
            f"(low {min(b.low for b in ex.bars):,.1f}, high {max(b.high for b in ex.bars):,.1f})"
        )
    if ex.event_flushes:
        others = ", ".join(
            f"{o.asset} {o.interval} {(o.extreme_move_pct or o.price_move_pct):+.1f}% (#{o.flush_id})"
            for o in ex.event_flushes
        )
        console.print(f"  market event #{f.market_event_id}, with: {others}", markup=False)
    console.print(f"\n[bold]Verdict[/]: {verdict_text(f.verdict, f.cause_probability)}")
    console.print(
        "\n[bold]Ranked catalysts[/] (score = log-odds, the sum of the components shown under each)"
    )
    for c in ex.catalysts:
        console.print(
            f"  {c.rank:>2}. {c.score:5.2f}  {c.headline_time:%m-%d %H:%M} ({c.delay_s / 60:+.0f} min)  "
            f"{c.title} — {c.source}",
            markup=False,
        )
        console.print(f"             why: {c.why()}", markup=False)
    if not ex.catalysts:
        console.print("  none: no headlines in the lookback window (or not attributed yet)")
    if ex.coverage:
        console.print("\n[bold]Coverage[/] (reports the move; shown, never the cause)")
        for c in ex.coverage:
            console.print(
                f"      {c.headline_time:%m-%d %H:%M} ({c.delay_s / 60:+.0f} min)  {c.title} — {c.source}",
                markup=False,
            )
    console.print()
    tl = Table(title="Timeline", header_style="bold", title_justify="left")
    for col in ("time UTC", "", "headline", "imp", "sentiment"):
        tl.add_column(col, overflow="fold")
    marks = market_marks(ex)
    # Titles go in as Text: a cell string is rich markup, and a title like '[/] crash' is not.
    events: list[tuple[dt.datetime, int, tuple[str | Text, ...]]] = [
        (t0, 0, (f"{t0:%m-%d %H:%M}", "", f"[bold red]{label}[/]", "", "")) for t0, label in marks.items()
    ]
    for h in ex.headlines:
        tag = (
            f"#{h.catalyst_rank}"
            if h.catalyst_rank and not h.is_coverage
            else ("cov" if h.is_coverage else "")
        )
        events.append(
            (
                h.at,
                1,
                (
                    f"{h.at:%m-%d %H:%M}",
                    tag,
                    Text(h.title),
                    "-" if h.importance is None else f"{h.importance:.0f}",
                    Text(h.sentiment or "-"),
                ),
            )
        )
    for _, _, row in sorted(events, key=lambda e: (e[0], e[1])):
        tl.add_row(*row)
    console.print(tl)


@app.command("explain", rich_help_panel=PANEL_FLUSH)
def explain_cmd(
    flush_id: Annotated[int, typer.Argument(help="The flush id (see `flushwatch flushes`).")],
    db: DbOption = None,
    wait: WaitOption = None,
    chart: Annotated[
        Path | None,
        typer.Option(
            "--chart", help="Also draw the flush to PATH.png (needs matplotlib) or PATH.html.", dir_okay=False
        ),
    ] = None,
    fmt: Annotated[ExplainFormat, typer.Option("--format", "-f", case_sensitive=False)] = ExplainFormat.text,
) -> None:
    """Why this flush, and why these headlines: numbers, timeline, ranked catalysts, coverage.

    Example: [bold]flushwatch explain 1 --chart flush1.html[/]
    """
    from flushwatch.atomic import database_files
    from flushwatch.scoring.explain import explain

    database = open_db(db, wait, existing=True)
    if chart is not None:
        from flushwatch.scoring.charts import check_chart_path

        check_chart_path(chart, protected=database_files(database.path))
    ex = explain(database, flush_id)
    if chart is not None:
        from flushwatch.scoring.charts import write_chart

        write_chart(ex, chart, protected=database_files(database.path))
        typer.echo(f"chart written to {chart}", err=True)
    if fmt is ExplainFormat.json:
        from flushwatch.cli.output import to_json

        typer.echo(to_json(ex.to_dict()))
    else:
        print_explanation(ex)


# -- digest ----------------------------------------------------------------------------------------


@app.command("digest", rich_help_panel=PANEL_FLUSH)
def digest_cmd(
    db: DbOption = None,
    wait: WaitOption = None,
    date: Annotated[
        str | None, typer.Option("--date", help="The UTC day, YYYY-MM-DD (deterministic output).")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="A window ending now, e.g. 24h (default) or 7d.")
    ] = None,
    fmt: Annotated[
        DigestFormat, typer.Option("--format", "-f", case_sensitive=False)
    ] = DigestFormat.markdown,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write to FILE atomically instead of stdout.", dir_okay=False),
    ] = None,
) -> None:
    """The daily digest for cron: flushes with catalysts, top headlines, sentiment, coverage warnings.

    Same data, same bytes. Exits 3 (after writing) when data was missing: failed feeds, gaps in
    market data, no headlines or unscored headlines.

    Example: [bold]flushwatch digest --date 2025-10-10 --format html --out digest.html[/]
    """
    from flushwatch.atomic import check_output_path, database_files, write_atomic
    from flushwatch.scoring.digest import build_digest, day_window, render, since_window

    if date and since:
        raise ConfigError("give --date or --since, not both")
    if date:
        window = day_window(parse_day(date, "--date"))
    else:
        window = since_window(
            parse_duration(since or "24h", "--since"), dt.datetime.now(dt.UTC).replace(microsecond=0)
        )
    database = open_db(db, wait, existing=True)
    protected = database_files(database.path)
    if out is not None:  # refused before the digest is built, not after
        check_output_path(out, protected=protected)
    digest = build_digest(database, window)
    text = render(digest, fmt.value)
    if out is not None:
        write_atomic(out, text, protected=protected)
    else:
        sys.stdout.write(text)
    if digest.data_missing:
        for w in digest.warnings:  # one stderr line each, for cron mail
            log.warning("digest %s: %s %s: %s", window.label, w.kind, w.subject, w.message)
        raise PartialFailure(
            f"digest {window.label}: {len(digest.warnings)} coverage warnings",
            [f"{w.kind} {w.subject}: {w.message}" for w in digest.warnings],
        )


# -- run -----------------------------------------------------------------------------------------


@app.command("run", rich_help_panel=PANEL_FLUSH)
def run_cmd(
    ctx: typer.Context,
    db: DbOption = None,
    wait: WaitOption = None,
    no_ingest: Annotated[bool, typer.Option("--no-ingest", help="Skip fetching feeds.")] = False,
    no_score: Annotated[bool, typer.Option("--no-score", help="Skip scoring new headlines.")] = False,
    no_fetch: Annotated[bool, typer.Option("--no-fetch", help="Skip exchange REST fetches.")] = False,
    no_detect: Annotated[bool, typer.Option("--no-detect", help="Skip flush detection.")] = False,
    no_attribute: Annotated[bool, typer.Option("--no-attribute", help="Skip catalyst ranking.")] = False,
    offline: Annotated[bool, typer.Option("--offline", help="Same as --no-ingest --no-fetch.")] = False,
) -> None:
    """One pass of everything, for cron: ingest, score, market fetch, detect, attribute.

    A failing step is reported and the others still run; exits 3 when any step failed.

    Example: [bold]flushwatch run --no-fetch[/]
    """
    from flushwatch.jobs.run import RunOptions, run_pass

    skip = {
        name
        for name, flag in (
            ("ingest", no_ingest or offline),
            ("score", no_score),
            ("fetch", no_fetch or offline),
            ("detect", no_detect),
            ("attribute", no_attribute),
        )
        if flag
    }
    quiet = _quiet(ctx)
    database = open_db(db, wait)
    with database.run("run") as run:
        report = run_pass(database, RunOptions(frozenset(skip), run.run_id))
        for s in report.steps:
            run.counts[f"{s.name}_status"] = s.status
            # `--quiet run` in cron: nothing on success (no daily mail); all steps when one failed
            if not quiet or report.failed:
                typer.echo(f"{s.name:<9} {s.status:<7} {s.elapsed_s:6.1f}s  {s.detail}")
        if report.failed:
            raise PartialFailure(
                f"{len(report.failed)} of {len(report.steps)} steps failed: "
                + ", ".join(s.name for s in report.failed),
                [f"{s.name}: {s.detail}" for s in report.failed],
            )


def _quiet(ctx: typer.Context) -> bool:
    """``flushwatch --quiet``: the root command's flag (main.py only sets the log level from it)."""
    return bool(ctx.find_root().params.get("quiet"))


# -- watch -----------------------------------------------------------------------------------------


@app.command("watch", rich_help_panel=PANEL_FLUSH)
def watch_cmd(
    db: DbOption = None,
    wait: WaitOption = None,
    every: Annotated[float, typer.Option("--every", help="Seconds between frames.", min=1)] = 60.0,
    run_steps: Annotated[
        bool,
        typer.Option(
            "--run/--read-only",
            help="Run one offline-safe pass (score, detect, attribute) "
            "before each frame, or only read what other processes write.",
        ),
    ] = False,
    fetch: Annotated[
        bool, typer.Option("--fetch", help="With --run, also ingest feeds and fetch market data.")
    ] = False,
    record: Annotated[
        str | None,
        typer.Option(
            "--record",
            metavar="VENUES",
            help="Also record live liquidations (binance, bybit or binance,bybit) on a background "
            "thread while watching, in short write transactions; stopped cleanly on exit. "
            "URLs: $FLUSHWATCH_BINANCE_WS_URL, $FLUSHWATCH_BYBIT_WS_URL.",
        ),
    ] = None,
    duration: Annotated[
        str | None,
        typer.Option(
            "--for",
            help="Stop after this long (90s, 30m, 2h). Off a terminal, print a frame every --every "
            "seconds until then.",
        ),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="Draw one frame and exit.")] = False,
    at: Annotated[
        str | None, typer.Option("--at", help="Replay: show what was known at this UTC time.")
    ] = None,
    min_importance: Annotated[float, typer.Option(help="Hide headlines below this importance.")] = 40.0,
) -> None:
    """A live terminal view: latest important headlines, and a flush's candidate catalysts as they rank.

    Each frame opens the database for a moment, so writers are never kept waiting. With
    --record the liquidation recorder runs inside watch (its state is the frame's last lines);
    Ctrl-C or SIGTERM stop it after it has written what it received.

    Examples: [bold]flushwatch watch --run --fetch --every 30[/]
    [bold]flushwatch watch --record binance,bybit --every 10[/]
    """
    import time

    from rich.console import Group
    from rich.text import Text

    from flushwatch.errors import DatabaseBusy
    from flushwatch.jobs.run import RunOptions, StepResult, run_pass
    from flushwatch.scoring.thresholds import load_thresholds
    from flushwatch.scoring.watch import read_frame, render_frame

    if fetch and not run_steps:  # --fetch alone would silently do nothing
        raise typer.BadParameter(
            "--fetch needs --run (it adds ingest and fetch to each pass)", param_hint="--fetch"
        )
    pinned = parse_instant(at, "--at") if at else None
    min_move = load_thresholds()[0].min_move_pct  # detect's floor: a flush shows once it is one
    # Read-only unless it runs steps or records: a mistyped --db must not create an empty file.
    database = open_db(db, wait, existing=not (run_steps or record))
    skip = frozenset() if fetch else frozenset({"ingest", "fetch"})
    until = (
        time.monotonic() + parse_duration(duration, "--for", bare_unit="s").total_seconds()
        if duration
        else None
    )
    recorder = None
    if record:
        # The snapshot copy assumes no writer between its CHECKPOINT and the copy; a recorder
        # thread in this very process would be one. Cron jobs keep refreshing it, as with a
        # separately run `liquidations record`.
        database.snapshot = False
        recorder = _start_recorder(database, record)

    failed: list[StepResult] = []  # the last pass's failed steps
    last: list[Any] = []  # the last frame drawn, kept on screen while the file is busy

    def frame(live: bool = False) -> Any:
        """One frame. A busy file (a writer past --wait) skips it with a one-line note once a
        frame is on screen; before that (nothing shown yet, or --once) it exits 75."""
        try:
            if run_steps:
                failed[:] = run_pass(database, RunOptions(skip)).failed
            lines = recorder.status().lines() if recorder else None
            body = render_frame(
                read_frame(
                    database,
                    pinned,
                    writable=recorder is not None,
                    min_importance=min_importance,
                    min_move_pct=min_move,
                ),
                lines,
            )
        except DatabaseBusy as exc:
            if not last:
                raise
            note = Text(
                f"database busy, retrying in {every:g} s ({exc.holder or 'another process'} holds it)",
                style="yellow",
            )
            return Group(last[0], note) if live else note
        steps = [  # one line each; the full line is in the WARNING log
            Text(f"step {s.name} failed: {s.detail}", style="red", no_wrap=True, overflow="ellipsis")
            for s in failed
        ]
        last[:] = [Group(body, *steps)]
        return last[0]

    def pause() -> bool:
        """Sleep until the next frame; False when --for has run out."""
        left = every if until is None else min(every, until - time.monotonic())
        if left > 0:
            time.sleep(left)
        return until is None or time.monotonic() < until

    from rich.console import Console

    console = Console()
    try:
        with _quiet_recorder_log(recorder is not None and console.is_terminal), _sigterm_interrupts():
            if once or (not console.is_terminal and until is None and recorder is None):
                console.print(frame())
                if failed:  # one frame, as `run`: exit 3 when a step failed
                    raise PartialFailure(
                        "steps failed: " + ", ".join(s.name for s in failed),
                        [f"{s.name}: {s.detail}" for s in failed],
                    )
            elif not console.is_terminal:  # a log of frames, e.g. `watch --record binance --for 1h > log`
                console.print(frame())
                while pause():
                    console.print(frame())
            else:
                from rich.live import Live

                with Live(frame(), console=console, refresh_per_second=1, screen=False) as live:
                    while pause():
                        live.update(frame(live=True))
    finally:
        if recorder is not None:
            _stop_recorder(recorder)


def _start_recorder(database: Database, venues: str) -> RecorderThread:
    """The liquidation recorder on its own thread and Database (no snapshot: a long writer)."""
    from flushwatch.cli.market import recorder_options
    from flushwatch.ingest.market.recorder import RecorderThread
    from flushwatch.storage.db import Database

    options = recorder_options(venues, "--record")
    # Create or migrate the file here, before two threads of this process race to do it.
    with database.write():
        pass
    rec_db = Database(database.path, wait_s=database.wait_s, snapshot=False)
    recorder = RecorderThread(rec_db, options, args=f"watch --record {','.join(options.venues)}")
    recorder.start()
    return recorder


def _stop_recorder(recorder: RecorderThread) -> None:
    """Stop it, wait for its final write, and say in one stderr line what it did."""
    stats = recorder.stop()
    if stats is None:
        why = recorder.failed or "did not stop in time; what it held in memory may be lost"
        typer.echo(f"recorder: {why}", err=True)
        return
    per_venue = ", ".join(f"{v} {n}" for v, n in sorted(stats.received.items()))
    typer.echo(
        f"recorder: stored {stats.stored} of {sum(stats.received.values())} received"
        f"{f' ({per_venue})' if per_venue else ''}, {stats.malformed} malformed skipped, "
        f"{stats.reconnects} reconnects, {stats.gaps} coverage gaps, {stats.seconds:g} s",
        err=True,
    )


@contextlib.contextmanager
def _quiet_recorder_log(quiet: bool) -> Iterator[None]:
    """While a live frame is drawn, the recorder's warnings (disconnects) would tear it: the
    frame shows them as its recorder lines instead. Errors still go to the log."""
    rec_log = logging.getLogger("flushwatch.ingest.market.recorder")
    before = rec_log.level
    if quiet:
        rec_log.setLevel(logging.ERROR)
    try:
        yield
    finally:
        rec_log.setLevel(before)


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM ends watch like Ctrl-C does, so a recorder inside it writes its buffer first."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (an embedding caller): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


# -- demo ------------------------------------------------------------------------------------------


@app.command("demo", rich_help_panel=PANEL_FLUSH)
def demo_cmd(
    db: Annotated[
        Path | None,
        typer.Option(
            "--db",
            help="Demo database, recreated each run. Default: demo.duckdb in the user data dir.",
            dir_okay=False,
        ),
    ] = None,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Also draw the demo flush to PATH.png or PATH.html.")
    ] = None,
) -> None:
    """The main job on bundled data, offline: the 2025-10-10 BTC flush and the headlines before it.

    Ingests bundled feed files, scores them with the shipped model, imports bundled Binance
    candles, detects the flush, ranks its catalysts, then shows the explain view and a digest.

    Example: [bold]flushwatch demo[/]
    """
    from flushwatch.atomic import database_files
    from flushwatch.demo.demo import default_db_path, run_demo

    if chart is not None:  # a bad name fails now, not after the whole demo
        from flushwatch.scoring.charts import check_chart_path

        check_chart_path(chart, protected=database_files(db or default_db_path()))
    result = run_demo(db, say=lambda line: typer.echo(line, err=True))
    from flushwatch.scoring.digest import render

    if result.explanation is not None:
        print_explanation(result.explanation)
        if chart is not None:
            from flushwatch.scoring.charts import write_chart

            write_chart(result.explanation, chart, protected=database_files(result.db_path))
            typer.echo(f"chart written to {chart}", err=True)
    sys.stdout.write("\n" + render(result.digest, "markdown"))
    typer.echo(
        f"demo database: {result.db_path} (try: flushwatch explain {result.flush_id} --db {result.db_path})",
        err=True,
    )
