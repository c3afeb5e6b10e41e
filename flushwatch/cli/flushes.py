"""``flushwatch detect``, ``flushwatch flushes`` and ``flushwatch export``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flushwatch.cli._app import PANEL_DATA, PANEL_FLUSH, app
from flushwatch.cli.options import DbOption, FormatOption, LimitOption, OutputFormat, WaitOption, open_db
from flushwatch.cli.output import render, to_json
from flushwatch.clip import clip
from flushwatch.errors import ConfigError
from flushwatch.timeparse import parse_instant, parse_since

if TYPE_CHECKING:
    from flushwatch.records.flushes import Flush


@app.command("detect", rich_help_panel=PANEL_FLUSH)
def detect_cmd(
    db: DbOption = None,
    wait: WaitOption = None,
    full: Annotated[bool, typer.Option("--full", help="Re-detect every series from its first bar.")] = False,
    symbol: Annotated[
        list[str] | None,
        typer.Option("--symbol", metavar="SYMBOL", help="Only this venue symbol (repeatable), e.g. BTCUSDT."),
    ] = None,
    move_z: Annotated[float | None, typer.Option(help="Horizon-move z-score that fires 'move'.")] = None,
    min_move_pct: Annotated[
        float | None, typer.Option(help="Smallest drawdown/run-up kept, percent.")
    ] = None,
    volume_multiple: Annotated[
        float | None, typer.Option(help="Volume multiple that fires 'volume'.")
    ] = None,
    horizon_min: Annotated[int | None, typer.Option(help="Minutes the move is measured over.")] = None,
    lookback_min: Annotated[
        int | None, typer.Option(help="Attribution: minutes of headlines before the flush start.")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Detect flushes in the stored candles and rank their catalyst headlines.

    Incremental: only new bars (plus a trailing-baseline overlap) are examined. Thresholds come
    from the options, else the config file's \\[detect] and \\[attribution] sections, else the
    defaults in docs/flushes.md; changed thresholds re-detect everything.

    Example: [bold]flushwatch detect --min-move-pct 3[/]
    """
    from flushwatch.scoring.detect import detect_and_attribute
    from flushwatch.scoring.thresholds import load_thresholds

    det, settings = load_thresholds(
        move_z=move_z,
        min_move_pct=min_move_pct,
        volume_multiple=volume_multiple,
        horizon_min=horizon_min,
        lookback_min=lookback_min,
    )
    rep = detect_and_attribute(open_db(db, wait), det, settings, full=full, symbols=symbol)
    rows = [
        ("run_id", rep.run_id),
        ("series", rep.detect.series),
        ("bars examined", rep.detect.bars),
        ("flushes found", rep.detect.flushes_found),
        ("flushes removed", rep.detect.flushes_removed),
        ("flushes attributed", rep.flushes_attributed),
        ("catalysts", rep.catalysts),
    ]
    if fmt is OutputFormat.json:
        typer.echo(to_json(dict(rows)))
    else:
        render(["item", "value"], rows, fmt, title="detect")


def flush_to_dict(f: Flush) -> dict[str, Any]:
    """The JSON shape of one flush (also used by `digest`)."""
    return {
        "flush_id": f.flush_id,
        "asset": f.asset,
        "venue": f.venue,
        "market": f.market,
        "symbol": f.symbol,
        "interval": f.interval,
        "start_at": f.start_at,
        "peak_at": f.peak_at,
        "end_at": f.end_at,
        "direction": f.direction,
        "price_move_pct": f.price_move_pct,
        "extreme_move_pct": f.extreme_move_pct,
        "liquidated_usd": f.liquidated_usd,
        "liquidation_note": f.liquidation_note,
        "volume_multiple": f.volume_multiple,
        "oi_change_pct": f.oi_change_pct,
        "funding_before": f.funding_before,
        "signals": list(f.signals),
        "severity": f.severity,
        "market_wide": f.market_wide,
        "detector_version": f.detector_version,
        "verdict": f.verdict,
        "cause_probability": f.cause_probability,
        "market_event_id": f.market_event_id,
        "catalysts": [
            {
                "rank": c.rank,
                "headline_id": c.headline_id,
                "title": c.title,
                "source": c.source,
                "published_at": c.published_at,
                "first_seen_at": c.first_seen_at,
                "score": c.score,
                "is_coverage": c.is_coverage,
                "delay_s": c.delay_s,
                "components": c.components,
            }
            for c in f.catalysts
        ],
    }


@app.command("flushes", rich_help_panel=PANEL_FLUSH)
def flushes_cmd(
    db: DbOption = None,
    wait: WaitOption = None,
    asset: Annotated[str | None, typer.Option("--asset", help="Only this asset, e.g. BTC.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Flushes starting this long ago: 90m, 24h, 7d, 2w.")
    ] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Flushes starting at/after (UTC date/time).")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="Flushes starting before (UTC date/time).")] = None,
    min_severity: Annotated[
        float | None, typer.Option("--min-severity", help="Only flushes at least this severe (0-100).", min=0)
    ] = None,
    catalysts: Annotated[int, typer.Option("--catalysts", help="Top catalysts per flush.", min=0)] = 3,
    coverage: Annotated[bool, typer.Option("--coverage", help="Also list coverage headlines.")] = False,
    fmt: FormatOption = OutputFormat.table,
    limit: LimitOption = None,
) -> None:
    """List detected flushes, newest first, with their top catalyst headlines.

    Example: [bold]flushwatch flushes --asset BTC --since 30d --format json[/]
    """
    from flushwatch.storage.flushes import FlushQuery, list_flushes

    if since and (start or end):
        raise ConfigError("use either --since or --from/--to, not both")
    q = FlushQuery(
        asset=asset,
        start=parse_since(since) if since else (parse_instant(start, "--from") if start else None),
        end=parse_instant(end, "--to") if end else None,
        min_severity=min_severity,
        limit=limit,
        catalysts_per_flush=catalysts,
        include_coverage=coverage or fmt is OutputFormat.json,
    )
    found = list_flushes(open_db(db, wait, existing=True), q)
    if fmt is OutputFormat.json:
        typer.echo(to_json([flush_to_dict(f) for f in found]))
        return
    # The table stays narrow enough for a terminal or cron mail: the rank-1 cause only, cut
    # short. CSV and Markdown carry every cause shown and the signals; JSON carries everything.
    wide = fmt is not OutputFormat.table
    # Narrow: the verdict stands in for severity (both in the wide formats).
    cols = ["id", "asset", "start UTC", "dir", "peak %"]
    cols += ["sev", "verdict", "p", "move %", "signals", "causes"] if wide else ["verdict", "top cause"]
    rows: list[list[Any]] = []
    for f in found:
        causes = [c for c in f.catalysts if not c.is_coverage]
        row: list[Any] = [
            f.flush_id,
            f.asset + (" *" if f.market_wide else ""),
            f.start_at.strftime("%Y-%m-%d %H:%M"),
            "long" if f.direction == "long_flush" else "short",
            round(f.extreme_move_pct, 1) if f.extreme_move_pct is not None else None,
        ]
        if wide:
            tops = "; ".join(f"{c.rank}. {c.title} ({c.source}, {c.score:.2f})" for c in causes)
            row += [round(f.severity), f.verdict or "-", f.cause_probability]
            row += [round(f.price_move_pct, 2), ", ".join(f.signals), tops or "-"]
        else:
            row.append(f.verdict or "-")
            row.append(f"{clip(causes[0].title, 40)} ({causes[0].source})" if causes else "-")
        rows.append(row)
    render(cols, rows, fmt, title="flushes (* = market-wide)")


@app.command("export", rich_help_panel=PANEL_DATA)
def export_cmd(
    out_dir: Annotated[
        Path, typer.Argument(help="Directory to write (replaced atomically).", file_okay=False)
    ],
    db: DbOption = None,
    wait: WaitOption = None,
    fmt: Annotated[str, typer.Option("--format", help="Only 'parquet' for now.")] = "parquet",
) -> None:
    """Export tables and views as partitioned Parquet for analysts.

    Candles by symbol/interval/month, liquidations by symbol/month, headlines by month, plus
    flushes, catalysts and v_headlines. Written to a temporary directory and renamed into
    place, so readers never see a half-written export.

    Example: [bold]flushwatch export --format parquet ./export[/]
    """
    from flushwatch.storage.export import export_parquet

    if fmt.lower() != "parquet":
        raise ConfigError(f"--format {fmt!r}: only parquet is supported")
    res = export_parquet(open_db(db, wait, existing=True), out_dir)
    render(["dataset", "rows"], sorted(res.rows.items()), OutputFormat.table, title=f"exported to {res.path}")
