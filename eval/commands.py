"""``chat2task eval``: the evaluation harness on the command line.

The CLI module registers it with ``register(app)`` so that the evaluation code (and its
numpy/matplotlib imports) loads only when the command runs.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Split(StrEnum):
    TRAIN = "train"
    DEV = "dev"
    TEST = "test"


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)


def evaluate(
    split: Annotated[Split, typer.Option(help="Labelled split to score.")] = Split.TEST,
    data: Annotated[
        Path | None,
        typer.Option(help="Score this JSONL file (labelled schema) instead of a split."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output directory [default: eval/reports/harness].")
    ] = None,
    intent: Annotated[
        str | None, typer.Option(help="Intent classifier name (default: settings).")
    ] = None,
    priority: Annotated[
        str | None, typer.Option(help="Priority classifier name (default: settings).")
    ] = None,
    floors: Annotated[
        Path | None,
        typer.Option(help="Floors file; default eval/floors.yaml on the test split only."),
    ] = None,
    no_ood: Annotated[
        bool, typer.Option("--no-ood", help="Skip the out-of-domain benchmarks.")
    ] = False,
    history: Annotated[
        Path | None,
        typer.Option(help="History file to append to [default: eval/reports/history.jsonl]."),
    ] = None,
    intent_bench: Annotated[
        Path | None, typer.Option(help="Intent benchmark JSONL (default: shared dev file).")
    ] = None,
    dates_bench: Annotated[
        Path | None, typer.Option(help="Date benchmark JSONL (default: shared dev file).")
    ] = None,
    resamples: Annotated[int, typer.Option(min=100, help="Bootstrap resamples.")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    config: Annotated[Path | None, typer.Option(help="Settings file (YAML).")] = None,
) -> None:
    """Score the pipeline on labelled chat: metrics with 95% CIs, report, floors.

    Exits 1 when a floor is broken. Floors were set on the test split, so they apply by
    default only there; pass --floors to check them on other data.
    """
    from eval.harness.floors import DEFAULT_FLOORS
    from eval.harness.run import EvalOptions, run_eval

    if floors is None and data is None and split is Split.TEST:
        floors = DEFAULT_FLOORS
    defaults = EvalOptions()
    options = EvalOptions(
        split=split.value,
        data=data,
        out=out or defaults.out,
        intent=intent,
        priority=priority,
        config=config,
        floors=floors,
        ood=not no_ood,
        history=history or defaults.history,
        intent_bench=intent_bench or defaults.intent_bench,
        dates_bench=dates_bench or defaults.dates_bench,
        resamples=resamples,
        seed=seed,
    )
    result = run_eval(options, log=typer.echo)
    typer.echo((options.out / "summary.md").read_text(encoding="utf-8"))
    typer.echo(f"wrote {options.out} and appended to {options.history}")
    if result.broken:
        for line in result.broken:
            typer.echo(f"floor broken: {line}", err=True)
        raise typer.Exit(1)
