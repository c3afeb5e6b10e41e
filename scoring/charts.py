"""Pictures of a flush: a terminal sparkline, a PNG (matplotlib) and a self-contained HTML/SVG.

The PNG needs the optional ``charts`` extra (matplotlib), imported only when a PNG is asked
for. The HTML file is written without any dependency: one inline SVG, no scripts, no network,
so it opens anywhere and can be mailed. Both draw the close price, volume or liquidation bars
underneath, the flush window shaded, and a marker per catalyst headline.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from pathlib import Path

from flushwatch.atomic import check_output_path, write_atomic
from flushwatch.errors import ConfigError, InputError
from flushwatch.scoring.explain import Explanation, RankedHeadline

SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int = 60) -> str:
    """Unicode block sparkline of ``values``, resampled (by bucket mean) to at most ``width``."""
    vals = [v for v in values if v is not None]
    if not vals:
        return ""
    if len(vals) > width:
        step = len(vals) / width
        vals = [
            sum(chunk) / len(chunk)
            for i in range(width)
            if (chunk := vals[int(i * step) : max(int((i + 1) * step), int(i * step) + 1)])
        ]
    lo, hi = min(vals), max(vals)
    span = hi - lo
    if span <= 0:
        return SPARK[3] * len(vals)
    return "".join(SPARK[min(len(SPARK) - 1, int((v - lo) / span * (len(SPARK) - 1) + 0.5))] for v in vals)


def check_chart_path(path: Path, *, protected: Mapping[Path, str] | None = None) -> None:
    """Refuse a ``--chart`` path that could never be written, or must not be, before any work
    is done: ``demo --chart notes.txt`` used to fail only after the whole demo had run.

    ``protected``: the database's files (:func:`flushwatch.atomic.database_files`), which a
    chart never replaces; nor does it replace a directory, a device or a DuckDB database.
    """
    suffix = path.suffix.lower()
    if suffix not in (".png", ".html", ".htm"):
        raise ConfigError(f"--chart {path}: use a .png or .html file name")
    if path.is_dir():
        raise ConfigError(f"--chart {path} is a directory: give a file name ending in .png or .html")
    check_output_path(path, protected=protected)
    if suffix == ".png":
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise ConfigError(
                "PNG charts need matplotlib",
                hint="pip install 'flushwatch[charts]', or use --chart FILE.html",
            )


def write_chart(ex: Explanation, path: Path, *, protected: Mapping[Path, str] | None = None) -> Path:
    """Write a PNG or HTML chart, chosen by the file suffix; returns the path.

    ``protected`` as for :func:`check_chart_path`.
    """
    suffix = path.suffix.lower()
    if not ex.bars:
        raise InputError(
            f"flush {ex.flush.flush_id} has no candles to draw", hint="import candles for its symbol first"
        )
    if suffix == ".png":
        write_atomic(path, png_bytes(ex), protected=protected)
    elif suffix in (".html", ".htm"):
        write_atomic(path, html_page(ex), protected=protected)
    else:
        raise ConfigError(f"--chart {path}: use a .png or .html file name")
    return path


def _split_catalysts(ex: Explanation) -> tuple[list[RankedHeadline], str]:
    """Top-5 catalysts inside the drawn bars, and a note naming those seen before the first bar."""
    first, last = ex.bars[0].open_time, ex.bars[-1].open_time
    top = list(ex.catalysts[:5])
    inside = [c for c in top if first <= c.headline_time <= last]
    earlier = [c for c in top if c.headline_time < first]
    note = ", ".join(f"#{c.rank} {c.headline_time:%H:%M}" for c in earlier)
    return inside, (f"earlier catalysts (off the chart, UTC): {note}" if note else "")


def _bar_series(ex: Explanation) -> tuple[str, list[float]]:
    """Liquidations per bar when any were recorded, else volume."""
    if any(b.liquidated_usd for b in ex.bars):
        return "liquidated USD", [b.liquidated_usd or 0.0 for b in ex.bars]
    return "volume (quote)", [b.volume or 0.0 for b in ex.bars]


def png_bytes(ex: Explanation) -> bytes:
    """The chart as PNG bytes (matplotlib, Agg backend, imported here only)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ConfigError(
            "PNG charts need matplotlib", hint="pip install 'flushwatch[charts]', or use --chart FILE.html"
        ) from exc
    import io

    f = ex.flush
    times = [b.open_time for b in ex.bars]
    closes = [b.close for b in ex.bars]
    label, bars = _bar_series(ex)
    fig, (ax1, ax2) = plt.subplots(
        2, 1, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}, dpi=100
    )
    ax1.plot(times, closes, color="#1f4e79", linewidth=1.2)
    ax1.fill_between(times, [b.low for b in ex.bars], [b.high for b in ex.bars], color="#9dc3e6", alpha=0.5)
    ax1.axvspan(f.start_at, f.end_at, color="#f4b183", alpha=0.3, label="flush window")
    inside, note = _split_catalysts(ex)
    for c in inside:
        ax1.axvline(c.headline_time, color="#c00000", linestyle="--", linewidth=0.8)
        ax1.annotate(
            f"#{c.rank}", (c.headline_time, max(closes)), fontsize=8, color="#c00000", ha="left", va="top"
        )
    ax1.set_title(
        f"flush {f.flush_id}: {f.asset} {f.direction} {f.extreme_move_pct or f.price_move_pct:+.1f}%"
    )
    ax1.set_ylabel(f"{f.symbol} close")
    ax1.set_xlim(times[0], times[-1])
    if note:
        ax1.text(0.01, 0.98, note, transform=ax1.transAxes, fontsize=8, color="#c00000", va="top")
    ax1.legend(loc="lower left", fontsize=8)
    width = (times[1] - times[0]) * 0.8 if len(times) > 1 else dt.timedelta(minutes=1)
    ax2.bar(times, bars, width=width, color="#7f7f7f")
    ax2.set_ylabel(label)
    fig.autofmt_xdate()
    buf = io.BytesIO()
    # Fixed metadata so the same data gives the same bytes.
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def html_page(ex: Explanation) -> str:
    """A self-contained HTML page with one inline SVG chart and the catalyst list."""
    f = ex.flush
    w, h_price, h_bars, pad = 900, 300, 100, 50
    t0 = ex.bars[0].open_time.timestamp()
    t1 = ex.bars[-1].open_time.timestamp()
    span_t = max(t1 - t0, 1.0)
    lo = min(b.low for b in ex.bars)
    hi = max(b.high for b in ex.bars)
    span_p = max(hi - lo, 1e-9)
    label, bars = _bar_series(ex)
    bmax = max(bars) or 1.0

    def x(t: dt.datetime) -> float:
        return pad + (t.timestamp() - t0) / span_t * (w - 2 * pad)

    def y(p: float) -> float:
        return pad + (hi - p) / span_p * h_price

    base = pad + h_price + 20 + h_bars
    bw = max((w - 2 * pad) / max(len(ex.bars), 1) * 0.8, 1.0)
    svg = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{base + 40}" font-family="sans-serif">'
    ]
    svg.append(
        f'<rect x="{x(f.start_at):.1f}" y="{pad}" width="{max(x(f.end_at) - x(f.start_at), 1):.1f}" '
        f'height="{h_price}" fill="#f4b183" opacity="0.3"/>'
    )
    svg.extend(
        f'<line x1="{x(b.open_time):.1f}" y1="{y(b.high):.1f}" x2="{x(b.open_time):.1f}" y2="{y(b.low):.1f}" '
        f'stroke="#9dc3e6"/>'
        for b in ex.bars
    )
    points = " ".join(f"{x(b.open_time):.1f},{y(b.close):.1f}" for b in ex.bars)
    svg.append(f'<polyline points="{points}" fill="none" stroke="#1f4e79" stroke-width="1.5"/>')
    for b, v in zip(ex.bars, bars, strict=True):
        bh = v / bmax * h_bars
        svg.append(
            f'<rect x="{x(b.open_time) - bw / 2:.1f}" y="{base - bh:.1f}" width="{bw:.1f}" height="{bh:.1f}" '
            f'fill="#7f7f7f"/>'
        )
    inside, note = _split_catalysts(ex)
    if note:
        svg.append(
            f'<text x="{pad + 5}" y="{pad + 28}" font-size="11" fill="#c00000">{html.escape(note)}</text>'
        )
    for c in inside:
        cx = x(c.headline_time)
        svg.append(
            f'<line x1="{cx:.1f}" y1="{pad}" x2="{cx:.1f}" y2="{pad + h_price}" stroke="#c00000" '
            f'stroke-dasharray="4 3"><title>{html.escape(c.title)}</title></line>'
        )
        svg.append(f'<text x="{cx + 2:.1f}" y="{pad + 12}" font-size="11" fill="#c00000">#{c.rank}</text>')
    svg.append(
        f'<text x="{pad}" y="{pad - 10}" font-size="12">{html.escape(f.symbol or f.asset)} '
        f"{hi:,.1f} high / {lo:,.1f} low</text>"
    )
    svg.append(
        f'<text x="{pad}" y="{base + 15}" font-size="11">{html.escape(label)} per bar '
        f"(max {bmax:,.0f})</text>"
    )
    svg.append(
        f'<text x="{pad}" y="{base + 32}" font-size="11">{ex.bars[0].open_time:%Y-%m-%d %H:%M} → '
        f"{ex.bars[-1].open_time:%Y-%m-%d %H:%M} UTC</text>"
    )
    svg.append("</svg>")
    items = "\n".join(
        f"<li>#{c.rank} <b>{html.escape(c.title)}</b> — {html.escape(c.source)}, "
        f"{c.headline_time:%H:%M} UTC, score {c.score:.1f} ({html.escape(c.why())})</li>"
        for c in ex.catalysts
    )
    move = f.extreme_move_pct if f.extreme_move_pct is not None else f.price_move_pct
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>flush {f.flush_id}</title></head><body>\n"
        f"<h1>Flush {f.flush_id}: {html.escape(f.asset)} {html.escape(f.direction)} {move:+.2f}%</h1>\n"
        f"<p>{f.start_at:%Y-%m-%d %H:%M} → {f.end_at:%H:%M} UTC, peak {f.peak_at:%H:%M}, "
        f"severity {f.severity:.0f}</p>\n" + "\n".join(svg) + f"\n<h2>Catalysts</h2>\n<ol>\n{items}\n</ol>\n"
        "</body></html>\n"
    )
