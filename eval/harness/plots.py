"""The report's figures as base64 PNG, so report.html is one self-contained file.

Figures are ``matplotlib.figure.Figure`` objects drawn on an Agg canvas of their own, never
through pyplot: no display, no global backend or figure state, safe in tests and on CI.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _png(figure: Figure) -> str:
    FigureCanvasAgg(figure)  # attaches itself as the figure's canvas
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def confusion_png(tables: dict[str, dict[str, Any]]) -> str:
    """One heat map per task (``{"intent": {"labels", "confusion"}, ...}``), counts inside."""
    figure = Figure(figsize=(4.5 * len(tables), 3.8), layout="constrained")
    for number, (name, table) in enumerate(tables.items(), start=1):
        axes = figure.add_subplot(1, len(tables), number)
        labels, matrix = table["labels"], table["confusion"]
        axes.imshow(matrix, cmap="Blues")
        axes.set_xticks(range(len(labels)), labels)
        axes.set_yticks(range(len(labels)), labels)
        axes.set_xlabel("predicted")
        axes.set_ylabel("gold")
        axes.set_title(name)
        peak = max(max(row) for row in matrix) or 1
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                colour = "white" if count > peak / 2 else "black"
                axes.text(j, i, str(count), ha="center", va="center", color=colour)
    return _png(figure)


def reliability_png(bins: Sequence[dict[str, Any]], ece: float) -> str:
    """Accuracy against mean confidence per bin, bar width = bin, diagonal = calibrated."""
    figure = Figure(figsize=(4.5, 4))
    axes = figure.add_subplot()
    filled = [b for b in bins if b["count"]]
    axes.bar(
        [b["low"] for b in filled],
        [b["accuracy"] for b in filled],
        width=[b["high"] - b["low"] for b in filled],
        align="edge",
        edgecolor="black",
        alpha=0.7,
        label="accuracy",
    )
    axes.plot(
        [b["confidence"] for b in filled], [b["accuracy"] for b in filled], "o", label="bin mean"
    )
    axes.plot([0, 1], [0, 1], "--", color="grey", label="calibrated")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")
    axes.set_title(f"reliability (ECE {ece:.3f})")
    axes.legend(loc="upper left")
    return _png(figure)


def f1_bars_png(per_class: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Per-class F1 for each task side by side (``{"intent": {label: {"f1", ...}}}``)."""
    figure = Figure(figsize=(7, 3.5))
    axes = figure.add_subplot()
    names, values, colours = [], [], []
    for number, (task, classes) in enumerate(per_class.items()):
        for label, row in classes.items():
            names.append(f"{task}\n{label} (n={row['support']})")
            values.append(row["f1"])
            colours.append(f"C{number}")
    axes.bar(range(len(names)), values, color=colours)
    axes.set_xticks(range(len(names)), names, fontsize=8)
    axes.set_ylim(0, 1)
    axes.set_ylabel("F1")
    axes.set_title("per-class F1")
    for x, value in enumerate(values):
        axes.text(x, value + 0.02, f"{value:.2f}", ha="center", fontsize=8)
    return _png(figure)


def latency_png(latencies_ms: Sequence[float], p50: float, p99: float) -> str:
    figure = Figure(figsize=(6, 3.2))
    axes = figure.add_subplot()
    axes.hist(latencies_ms, bins=50, color="C2")
    axes.set_yscale("log")
    axes.axvline(p50, linestyle="--", color="black", label=f"p50 {p50:.1f} ms")
    axes.axvline(p99, linestyle=":", color="red", label=f"p99 {p99:.1f} ms")
    axes.legend()
    axes.set_xlabel("ms per message")
    axes.set_ylabel("messages")
    axes.set_title("latency per message")
    return _png(figure)
