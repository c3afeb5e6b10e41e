"""Market-data commands: ``import candles|liquidations|funding|open-interest``, ``market fetch``,
``liquidations record``. Each parses options, calls one library function and renders."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flushwatch.cli._app import import_app, liquidations_app, market_app
from flushwatch.cli.options import DbOption, FormatOption, OutputFormat, WaitOption, open_db
from flushwatch.cli.output import render
from flushwatch.errors import ConfigError, PartialFailure
from flushwatch.timeparse import parse_duration

if TYPE_CHECKING:
    from flushwatch.ingest.market.recorder import RecorderOptions

VenueOpt = Annotated[
    str | None, typer.Option("--venue", help="Exchange. Default: from the path, else binance.")
]
SymbolOpt = Annotated[
    str | None,
    typer.Option("--symbol", help="Symbol (BTCUSDT, BTC/USDT:USDT, ...). Default: from the file name."),
]
MarketOpt = Annotated[
    str | None, typer.Option("--market", help="spot | perp | mark | index. Default: inferred.")
]
IntervalOpt = Annotated[
    str | None,
    typer.Option(
        "--interval", help="Bar length, e.g. 1m, 15m, 1h. Default: file name, else the rows' spacing."
    ),
]
MapOpt = Annotated[
    str | None,
    typer.Option(
        "--map", help="Generic CSV: FIELD=COLUMN pairs, e.g. 'time=ts,open=o,high=h,low=l,close=c,volume=v'."
    ),
]
TimeUnitOpt = Annotated[
    str | None, typer.Option("--time-unit", help="Generic CSV time column: ms | us | s | iso.")
]
FilesArg = Annotated[
    list[Path],
    typer.Argument(help="Files (CSV, CSV.gz, zip, JSON, feather).", exists=False, metavar="FILE"),
]


def _import(
    kind: str,
    files: list[Path],
    venue: str | None,
    symbol: str | None,
    market: str | None,
    interval: str | None,
    mapping: str | None,
    time_unit: str | None,
    db: Path | None,
    wait: float | None,
    fmt: OutputFormat,
) -> None:
    from flushwatch.ingest.market.importer import MarketImportOptions, import_files, parse_mapping

    options = MarketImportOptions(
        venue=venue,
        symbol=symbol,
        market=market,
        interval=interval,
        mapping=parse_mapping(mapping) if mapping else {},
        time_unit=time_unit,
    )
    database = open_db(db, wait)
    with database.run(f"import {kind.replace('_', '-')}") as run:
        summary = import_files(database, kind, files, options, run_id=run.run_id)
        run.add("rows_read", summary.rows_read)
        run.add("rows_new", summary.rows_new)
    cols = ["file", "format", "venue", "market", "symbol", "interval", "rows", "new", "first", "last"]
    rows = [
        [
            Path(r.path).name,
            r.fmt,
            r.venue,
            r.market,
            r.symbol,
            r.interval,
            r.rows_read,
            r.rows_new,
            r.first,
            r.last,
        ]
        for r in summary.files
    ]
    render(cols, rows, fmt)
    if kind == "liquidations" and any(r.venue == "binance" for r in summary.files):
        from flushwatch.records.market import liquidation_caveat

        typer.echo(f"note: {liquidation_caveat('binance')}", err=True)
    if summary.errors:
        raise PartialFailure(
            f"{len(summary.errors)} of {len(files)} files not imported", list(summary.errors)
        )


@import_app.command("candles")
def import_candles_cmd(
    files: FilesArg,
    venue: VenueOpt = None,
    symbol: SymbolOpt = None,
    market: MarketOpt = None,
    interval: IntervalOpt = None,
    map_: MapOpt = None,
    time_unit: TimeUnitOpt = None,
    db: DbOption = None,
    wait: WaitOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Import OHLCV candles: Binance archive klines (CSV/zip), freqtrade exports, or a mapped CSV.

    One transaction per file; a repeat import adds nothing; a malformed line names file:line.

    Example: [bold]flushwatch import candles BTCUSDT-1m-2025-10.zip --market perp[/]
    """
    _import("candles", files, venue, symbol, market, interval, map_, time_unit, db, wait, fmt)


@import_app.command("funding")
def import_funding_cmd(
    files: FilesArg,
    venue: VenueOpt = None,
    symbol: SymbolOpt = None,
    map_: MapOpt = None,
    time_unit: TimeUnitOpt = None,
    db: DbOption = None,
    wait: WaitOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Import funding rates: Binance fundingRate archives, freqtrade funding files, REST JSON.

    Example: [bold]flushwatch import funding BTC_USDT_USDT-8h-funding_rate.feather[/]
    """
    _import("funding", files, venue, symbol, None, None, map_, time_unit, db, wait, fmt)


@import_app.command("liquidations")
def import_liquidations_cmd(
    files: FilesArg,
    venue: VenueOpt = None,
    symbol: SymbolOpt = None,
    map_: MapOpt = None,
    time_unit: TimeUnitOpt = None,
    db: DbOption = None,
    wait: WaitOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Import liquidations: forceOrder JSON as received, Bybit allLiquidation JSON, CSV logs.

    In CSV logs a SELL is a liquidated long and a BUY a liquidated short. Binance totals are a
    floor: it publishes at most one liquidation per symbol per second.

    Example: [bold]flushwatch import liquidations binance_forceorder.jsonl[/]
    """
    _import("liquidations", files, venue, symbol, None, None, map_, time_unit, db, wait, fmt)


@import_app.command("open-interest")
def import_open_interest_cmd(
    files: FilesArg,
    venue: VenueOpt = None,
    symbol: SymbolOpt = None,
    interval: IntervalOpt = None,
    map_: MapOpt = None,
    time_unit: TimeUnitOpt = None,
    db: DbOption = None,
    wait: WaitOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Import open interest: Binance metrics archives or openInterestHist JSON.

    Example: [bold]flushwatch import open-interest BTCUSDT-metrics-2025-10-10.zip[/]
    """
    _import("open_interest", files, venue, symbol, None, interval, map_, time_unit, db, wait, fmt)


@market_app.command("fetch")
def fetch_cmd(
    symbols: Annotated[
        str | None,
        typer.Option(
            "--symbols",
            help="Comma-separated. Default: the watch-list "
            "($FLUSHWATCH_MARKET_SYMBOLS or config \\[market] symbols).",
        ),
    ] = None,
    since: Annotated[str, typer.Option("--since", help="How far back: 24h, 7d, or a UTC time.")] = "24h",
    markets: Annotated[str, typer.Option("--markets", help="perp and/or spot.")] = "perp,spot",
    datasets: Annotated[
        str, typer.Option("--datasets", help="klines, funding, open_interest.")
    ] = "klines,funding,open_interest",
    fapi_url: Annotated[
        str | None,
        typer.Option("--fapi-url", envvar="FLUSHWATCH_BINANCE_FAPI_URL", help="USD-M REST base URL."),
    ] = None,
    spot_url: Annotated[
        str | None,
        typer.Option("--spot-url", envvar="FLUSHWATCH_BINANCE_API_URL", help="Spot REST base URL."),
    ] = None,
    db: DbOption = None,
    wait: WaitOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Fetch 1m klines, funding and 5m open interest from Binance public REST; only what is missing.

    Exits 3 when a series failed (everything fetched is kept).

    Example: [bold]flushwatch market fetch --symbols BTCUSDT,ETHUSDT --since 24h[/]
    """
    from flushwatch.ingest.market.fetch import MarketFetchOptions, default_symbols, fetch
    from flushwatch.records.symbols import normalise_symbol
    from flushwatch.timeparse import parse_lookback

    syms = [normalise_symbol(s) for s in symbols.split(",") if s.strip()] if symbols else default_symbols()
    options = MarketFetchOptions(
        symbols=tuple(syms),
        since=parse_lookback(since),
        markets=tuple(m.strip() for m in markets.split(",") if m.strip()),
        datasets=tuple(d.strip() for d in datasets.split(",") if d.strip()),
        fapi=fapi_url,
        spot=spot_url,
    )
    database = open_db(db, wait)
    with database.run("market fetch") as run:
        summary = fetch(database, options, run_id=run.run_id)
        run.add("rows_new", summary.rows_new)
        render(
            ["dataset", "market", "symbol", "requests", "new", "gaps", "error"],
            [
                [s.dataset, s.market, s.symbol, s.requests, s.rows_new, s.gaps_filled, s.error or ""]
                for s in summary.series
            ],
            fmt,
        )
        if summary.failures:
            raise PartialFailure(
                f"{len(summary.failures)} of {len(summary.series)} series failed", summary.failures
            )


def recorder_options(
    venues: str,
    option: str,
    *,
    binance_url: str | None = None,
    bybit_url: str | None = None,
    bybit_symbols: str | None = None,
    flush_every: float = 0.5,
    duration_s: float | None = None,
) -> RecorderOptions:
    """Recorder settings from command-line text (``liquidations record`` and ``watch --record``):
    venues checked, URLs from the options or $FLUSHWATCH_BINANCE_WS_URL / $FLUSHWATCH_BYBIT_WS_URL,
    Bybit symbols from the option or the market watch-list."""
    from flushwatch.ingest.market.fetch import default_symbols
    from flushwatch.ingest.market.recorder import RecorderOptions, binance_ws_url, bybit_ws_url
    from flushwatch.records.symbols import normalise_symbol

    chosen = tuple(dict.fromkeys(v.strip().lower() for v in venues.split(",") if v.strip()))
    bad = [v for v in chosen if v not in ("binance", "bybit")]
    if bad or not chosen:
        raise ConfigError(f"{option} {venues!r}: expected binance and/or bybit, e.g. binance,bybit")
    syms = (
        [normalise_symbol(s) for s in bybit_symbols.split(",") if s.strip()]
        if bybit_symbols
        else default_symbols()
    )
    return RecorderOptions(
        venues=chosen,
        binance_url=binance_ws_url(binance_url),
        bybit_url=bybit_ws_url(bybit_url),
        bybit_symbols=tuple(syms),
        flush_every_s=flush_every,
        duration_s=duration_s,
    )


@liquidations_app.command("record")
def record_cmd(
    venues: Annotated[str, typer.Option("--venues", help="binance and/or bybit.")] = "binance,bybit",
    duration: Annotated[
        str | None,
        typer.Option("--for", help="Stop after this long (e.g. 10m). Default: until SIGINT/SIGTERM."),
    ] = None,
    bybit_symbols: Annotated[
        str | None,
        typer.Option(
            "--bybit-symbols",
            help="Bybit symbols to subscribe (allLiquidation is per symbol). Default: watch-list.",
        ),
    ] = None,
    binance_url: Annotated[
        str | None,
        typer.Option(
            "--binance-url", envvar="FLUSHWATCH_BINANCE_WS_URL", help="Binance forceOrder stream URL."
        ),
    ] = None,
    bybit_url: Annotated[
        str | None,
        typer.Option("--bybit-url", envvar="FLUSHWATCH_BYBIT_WS_URL", help="Bybit v5 public linear URL."),
    ] = None,
    flush_every: Annotated[
        float, typer.Option("--flush-every", min=0.05, help="Seconds between writes.")
    ] = 0.5,
    db: DbOption = None,
    wait: WaitOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Record live liquidations (Binance !forceOrder@arr, Bybit allLiquidation) into the database.

    Writes a batch about once a second in a short transaction; reconnects with backoff; writes
    its disconnected stretches to coverage_gaps; SIGINT/SIGTERM flush the buffer and exit 0.
    Binance totals are a floor (at most one liquidation per symbol per second is published).

    Example: [bold]flushwatch liquidations record --for 10m[/]
    """
    from flushwatch.ingest.market.recorder import RecorderInterrupted, record
    from flushwatch.records.market import liquidation_caveat

    options = recorder_options(
        venues,
        "--venues",
        binance_url=binance_url,
        bybit_url=bybit_url,
        bybit_symbols=bybit_symbols,
        flush_every=flush_every,
        duration_s=parse_duration(duration, "--for", bare_unit="s").total_seconds() if duration else None,
    )
    chosen = options.venues
    database = open_db(db, wait)
    database.snapshot = False  # a long-running writer; cron jobs refresh the snapshot
    with database.run("liquidations record") as run:
        try:
            stats = record(database, options, run_id=run.run_id)
        except RecorderInterrupted as stop:
            # A signal is how a service manager stops the recorder, and the buffer is written
            # by then: a clean end (exit 0), with the signal named in the run's message.
            stats = stop.stats
            run.message = str(stop)
        run.add("received", sum(stats.received.values()))
        run.add("stored", stats.stored)
        run.add("malformed", stats.malformed)
        run.add("gaps", stats.gaps)
    rows = [[v, stats.received.get(v, 0), liquidation_caveat(v) or "complete"] for v in chosen]
    render(["venue", "received", "coverage"], rows, fmt)
    typer.echo(
        f"stored {stats.stored} of {sum(stats.received.values())} received, "
        f"{stats.malformed} malformed skipped, "
        f"{stats.batches} batches, {stats.reconnects} reconnects, {stats.gaps} coverage gaps, "
        f"commit lag max {stats.max_commit_lag_s:.3f} s mean {stats.mean_commit_lag_s:.3f} s, "
        f"{stats.seconds:g} s",
        err=True,
    )
