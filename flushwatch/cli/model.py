"""``flushwatch score`` and ``flushwatch model train|calibrate|eval|compare|info``.

Model code (torch, transformers) is imported inside the command functions only, so
``flushwatch --help`` and every other command stay torch-free.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flushwatch.cli._app import PANEL_MODEL, app, model_app
from flushwatch.cli.options import DbOption, FormatOption, OutputFormat, WaitOption, open_db
from flushwatch.cli.output import render, to_json

if TYPE_CHECKING:
    from flushwatch.storage.db import Database


class Mode(StrEnum):
    fast = "fast"
    full = "full"


ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Model: 'flushwatch-minilm' (shipped, the default), 'flushwatch-minilm-crypto' (shipped, "
        "also trained on crypto headlines), a local directory, or a Hugging Face sequence-classification "
        "model id. Default: config \\[model] name, else flushwatch-minilm.",
        show_default=False,
    ),
]
ModeOption = Annotated[
    Mode,
    typer.Option(
        "--mode",
        help="Inference path: fast (int8 ONNX Runtime, one batch per core; the graph is built "
        "once into the user cache) or full (fp32, the reference the fast path is measured against).",
    ),
]


@app.command("score", rich_help_panel=PANEL_MODEL)
def score(
    db: DbOption = None,
    wait: WaitOption = None,
    model: ModelOption = None,
    rescore: Annotated[
        bool,
        typer.Option(
            "--rescore",
            help="Score every headline lacking a row of this model revision, beside the rows "
            "of other revisions (never overwritten). Rows are keyed by revision, so this is what "
            "plain `score` does too; a revision already stored has nothing to redo (the same model "
            "gives the same scores): give --model a retrained revision.",
        ),
    ] = False,
    limit: Annotated[
        int | None,
        typer.Option("--limit", "-n", help="Score at most this many headlines.", min=0, show_default=False),
    ] = None,
    mode: ModeOption = Mode.fast,
    early_exit: Annotated[
        bool | None,
        typer.Option(
            "--early-exit/--no-early-exit",
            help="Fast path only: let titles the early-exit head is sure of stop after an early "
            "layer (the shipped model's default), or run every title through all six. "
            "Default: config \\[model] early_exit, else on.",
            show_default=False,
        ),
    ] = None,
    refresh_rules: Annotated[
        bool,
        typer.Option(
            "--refresh-rules",
            help="Instead of scoring: recompute the event type, market-report flag, language, "
            "flags and importance of rows written by older rules (or importance weights) from "
            "their stored probabilities, then re-rank catalysts. No model is loaded; "
            "sentiment and probabilities never change. Idempotent.",
        ),
    ] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Score every headline that has no score from this model revision yet.

    Sentiment (bearish/neutral/bullish), importance 0-100, event type and the market-report
    flag. Idempotent: a second run with the same model finds nothing to do. After an upgrade
    that changed the rules, [bold]--refresh-rules[/] brings older rows up to date.

    Example: [bold]flushwatch score --limit 1000[/]
    """
    from flushwatch.nlp.pipeline import score_unscored

    if refresh_rules:
        if model or rescore or limit is not None:
            raise typer.BadParameter(
                "--refresh-rules refreshes every model's rows and takes no --model, --rescore or "
                "--limit; run `flushwatch score` separately to score new headlines"
            )
        _refresh(open_db(db, wait), fmt)
        return
    summary = score_unscored(
        open_db(db, wait), model=model, rescore=rescore, limit=limit, mode=mode.value, early_exit=early_exit
    )
    cols = [
        "model",
        "revision",
        "run_id",
        "scored",
        "already_scored",
        "stale_rules",
        "story_vectors",
        "story_moves",
        "seconds",
        "headlines_per_s",
    ]
    row = [
        summary.model_name,
        summary.model_revision,
        summary.run_id,
        summary.scored,
        summary.already_scored,
        summary.stale_rules,
        summary.story_vectors,
        summary.story_moves,
        summary.seconds,
        summary.headlines_per_s,
    ]
    render(cols, [row], fmt, title="score")


def _refresh(database: Database, fmt: OutputFormat) -> None:
    from flushwatch.jobs.refresh import refresh_rules

    r = refresh_rules(database)
    cols = [
        "rules",
        "run_id",
        "refreshed",
        "changed",
        "types_changed",
        "reports_changed",
        "reattributed",
        "seconds",
    ]
    row = [
        r.rules_revision,
        r.run_id,
        r.checked,
        r.changed,
        r.event_types_changed,
        r.reports_changed,
        r.flushes_reattributed,
        r.seconds,
    ]
    render(cols, [row], fmt, title="score --refresh-rules")


@model_app.command("train")
def model_train(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Output directory. Default: the shipped models/flushwatch-minilm.",
            show_default=False,
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="text,label CSV (0 bearish, 1 bullish, 2 neutral). Default: the shared sent_train.csv.gz.",
            show_default=False,
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option("--epochs", min=1, help="Epochs (default from TrainConfig).", show_default=False),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", help="Random seed (member i of the soup uses seed + i).", show_default=False),
    ] = None,
    members: Annotated[
        int | None,
        typer.Option("--members", min=1, help="Runs averaged into one (default 2).", show_default=False),
    ] = None,
    calibrate: Annotated[
        bool,
        typer.Option(
            "--calibrate/--no-calibrate", help="Also fit importance weights on shared news + candles."
        ),
    ] = True,
    events_only: Annotated[
        bool,
        typer.Option(
            "--events-only",
            help="Only refit the event-type head (seconds; the network is untouched).",
        ),
    ] = False,
    refit: Annotated[
        bool,
        typer.Option(
            "--refit",
            help="Final fit: train on every row, the dev split included, with the lexical weight "
            "the dev split chose (0.5); no dev figures are reported.",
        ),
    ] = False,
    extra_data: Annotated[
        list[Path] | None,
        typer.Option(
            "--extra-data",
            metavar="CSV",
            help="More text,label CSV rows (labels as for --data) added to the training rows, never "
            "to the dev split; repeatable.",
            show_default=False,
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    crypto_titles: Annotated[
        bool,
        typer.Option(
            "--crypto-titles",
            help="Add the 1,981 labelled crypto training titles (the train split of a checkout's "
            "eval/sentiment_real.csv, titles read from the shared data) to the training rows.",
        ),
    ] = False,
) -> None:
    """Fine-tune MiniLM and the sentiment head on sent_train (seeded, reproducible, CPU).

    Writes adapter.safetensors (the change to the base encoder, compressed), lexical.safetensors
    (a bag-of-words head blended in) and config.json, under 5 MB in all: a new model revision.
    Then fits the event-type head on the labelled headlines (event_head.safetensors,
    a rule input: rows already scored take it up with `flushwatch score --refresh-rules`) and
    measures importance against market moves.

    Example: [bold]flushwatch model train --out /tmp/my-model --crypto-titles[/]
    """
    from flushwatch.training.commands import train_command

    result = train_command(
        out=out,
        data=data,
        epochs=epochs,
        seed=seed,
        members=members,
        calibrate=calibrate,
        events_only=events_only,
        refit=refit,
        extra_data=extra_data or (),
        crypto_titles=crypto_titles,
    )
    render(["property", "value"], result, OutputFormat.table, title="model train")


@model_app.command("eval")
def model_eval(
    model: ModelOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Evaluate on held-out data: sentiment (full, fast, VADER), event types, importance calibration.

    Needs the shared data folder (sent_valid is never used for training or tuning).

    Example: [bold]flushwatch model eval[/]
    """
    from flushwatch.training.evaluate import COLUMNS, evaluate

    report = evaluate(model=model)
    render(
        COLUMNS,
        report.rows,
        fmt,
        title="flushwatch model eval",
    )


@model_app.command("compare")
def model_compare(
    model_a: Annotated[
        str,
        typer.Argument(
            help="Model A: 'flushwatch-minilm', 'flushwatch-minilm-crypto', a local directory or a "
            "Hugging Face id."
        ),
    ],
    model_b: Annotated[
        str | None,
        typer.Argument(
            help="Model B (default: config \\[model] name, else the shipped model).", show_default=False
        ),
    ] = None,
    mode: ModeOption = Mode.full,
    mode_b: Annotated[
        Mode | None,
        typer.Option(
            "--mode-b",
            help="B's own inference path (default: --mode), e.g. to compare the fast path "
            "with full precision: `model compare flushwatch-minilm --mode fast --mode-b full`.",
            show_default=False,
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Compare on this text,label CSV only (labels as for `model train`). "
            "Default: sent_valid and the labelled crypto headlines (shared data).",
            show_default=False,
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Compare two models on the same labelled titles: A - B with a paired 95% interval.

    Both models answer every title, on the same inference path unless --mode-b gives B its
    own; the interval of the difference resamples the titles for both at once, so it sees
    differences that two separate `model eval` intervals hide. "higher" names a side only
    where its interval excludes 0 ("-": no clear difference). In a terminal each set takes
    two lines (accuracy, macro-F1); csv, json and markdown give one full record per set.

    Example: [bold]flushwatch model compare /tmp/my-model flushwatch-minilm[/]
    """
    from flushwatch.training.compare import COMPARE_COLUMNS, TABLE_COLUMNS, compare, table_rows

    name_a, name_b, rows = compare(
        model_a, model_b, mode=mode.value, data=data, mode_b=mode_b.value if mode_b else None
    )
    title = f"model compare: A {name_a}, B {name_b}"
    if fmt is OutputFormat.table:
        render(TABLE_COLUMNS, table_rows(rows), fmt, title=title)
    else:
        render(COMPARE_COLUMNS, rows, fmt, title=title)


@model_app.command("calibrate")
def model_calibrate(
    out: Annotated[
        Path | None,
        typer.Option(
            "--model-dir",
            help="flushwatch model directory to measure and write importance.json into. "
            "Default: the shipped model.",
            show_default=False,
            file_okay=False,
            exists=True,
        ),
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Measure importance against next-hour market moves (shared news + candles); write importance.json.

    `model train` does this after training; this re-measures a model without retraining.

    Example: [bold]flushwatch model calibrate --model-dir /tmp/my-model[/]
    """
    from flushwatch.training.commands import calibrate_command

    render(["property", "value"], calibrate_command(out), fmt, title="model calibrate")


@model_app.command("info")
def model_info(
    model: ModelOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show the model name, revision, files, label map and training settings.

    Example: [bold]flushwatch model info --format json[/]
    """
    from flushwatch.nlp.model_info import model_info as info

    data = info(model)
    if fmt is OutputFormat.json:
        typer.echo(to_json(dict(data)))
        return
    render(["property", "value"], [(k, v) for k, v in data], fmt, title="model")
