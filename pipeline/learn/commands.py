"""The ``chat2task train`` command; ``pipeline.cli`` adds it with :func:`register`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from pipeline.config import DEFAULT_MODELS_DIR, load_settings
from pipeline.learn.train import Summary, train

DEFAULT_DATA_DIR = DEFAULT_MODELS_DIR.parent / "data" / "labelled"


def register(app: typer.Typer) -> None:
    """Add ``train`` to ``app``."""
    app.command("train")(train_command)


def train_command(
    data: Annotated[
        Path, typer.Option("--data", help="Labelled JSONL files + splits.json.")
    ] = DEFAULT_DATA_DIR,
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write intent/ and priority/.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the CV fold shuffle.")] = 0,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Settings file (YAML); see data/config.example.yaml."),
    ] = None,
) -> None:
    """Train the intent and priority models (CV on train, report on dev and test)."""
    settings = load_settings(config)
    summary = train(data, out or settings.models_dir, settings=settings, seed=seed)
    Console().print(_table(summary))


def _table(summary: Summary) -> Table:
    table = Table(title=f"trained in {summary.seconds:.0f} s (data {summary.data_sha256[:12]})")
    for column in ("model", "CV macro-F1", "dev acc", "dev macro-F1", "test acc", "test macro-F1"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for result in summary.models:
        key = result.kind
        table.add_row(
            key,
            f"{result.cv['macro_f1']:.3f}",
            f"{result.dev[key]['accuracy']:.3f}",
            f"{result.dev[key]['macro_f1']:.3f}",
            f"{result.test[key]['accuracy']:.3f}",
            f"{result.test[key]['macro_f1']:.3f}",
        )
        baseline = result.baseline_dev[key]
        table.add_row(
            f"{key} (rules)",
            "",
            f"{baseline['accuracy']:.3f}",
            f"{baseline['macro_f1']:.3f}",
            "",
            "",
        )
    return table
