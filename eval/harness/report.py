"""The harness outputs: ``metrics.json`` (everything), ``predictions.jsonl`` (gold and
predicted per message, for the error-analysis notebook), ``summary.md`` (the short table a
pull request quotes), ``report.html`` (one file with inline plots) and one line appended to
the history file, so that runs can be compared over time.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from eval.harness import plots
from eval.harness.labelled import GoldItem, Outcome
from eval.harness.scoring import MessageCheck, explicit_time
from pipeline.domain import Item
from pipeline.jsonl import atomic_output, dump_line

LABELS = {
    "intent_accuracy": "Intent accuracy",
    "intent_macro_f1": "Intent macro-F1",
    "priority_accuracy": "Priority accuracy",
    "priority_macro_f1": "Priority macro-F1",
    "time_found": "Time found (gold timed)",
    "due_exact": "Due/start exact at grain",
    "assignee_accuracy": "Assignee accuracy",
    "title_token_f1": "Title token-F1",
    "entirely_right": "Entirely right (all)",
    "entirely_right_work": "Entirely right (gold work)",
    "ece": "Calibration error (ECE, lower is better)",
}
HISTORY_KEYS = (
    "intent_accuracy",
    "intent_macro_f1",
    "priority_accuracy",
    "due_exact",
    "assignee_accuracy",
    "title_token_f1",
    "entirely_right",
    "ece",
)


def write_outputs(
    out: Path, metrics: dict[str, Any], outcomes: Sequence[Outcome], checks: Sequence[MessageCheck]
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with atomic_output(out / "metrics.json") as handle:
        handle.write(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n")
    with atomic_output(out / "predictions.jsonl") as handle:
        for outcome, result in zip(outcomes, checks, strict=True):
            dump_line(handle, prediction_record(outcome, result))
    with atomic_output(out / "summary.md") as handle:
        handle.write(summary_markdown(metrics))
    with atomic_output(out / "report.html") as handle:
        handle.write(report_html(metrics, [o.latency_ms for o in outcomes]))


def append_history(path: Path, metrics: dict[str, Any]) -> dict[str, Any]:
    """One JSON line per run: who ran what on which data, and the key numbers."""
    run, headline = metrics["run"], metrics["headline"]
    line: dict[str, Any] = {
        key: run[key]
        for key in (
            "timestamp",
            "git_commit",
            "git_dirty",
            "intent_classifier",
            "priority_classifier",
            "extractor",
            "split",
            "messages",
        )
    }
    line |= {key: headline[key]["value"] for key in HISTORY_KEYS}
    line["intent_accuracy_ci"] = [
        headline["intent_accuracy"]["ci_low"],
        headline["intent_accuracy"]["ci_high"],
    ]
    line["target"] = metrics["target"]["status"]
    line["latency_p50_ms"] = metrics["latency_ms"].get("p50")
    line["latency_p99_ms"] = metrics["latency_ms"].get("p99")
    intent_ood = metrics.get("ood", {}).get("intent", {})
    if "sources" in intent_ood:
        chosen = run["intent_classifier"]
        line["ood_intent_accuracy"] = {
            source: systems[chosen]["accuracy"] for source, systems in intent_ood["sources"].items()
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        dump_line(handle, line)
    return line


def prediction_record(outcome: Outcome, result: MessageCheck) -> dict[str, Any]:
    gold, message = outcome.gold, outcome.gold.message
    return {
        "id": message.id,
        "conversation": gold.conversation,
        "domain": gold.domain,
        "author": message.author,
        "at": message.sent_at.isoformat(),
        "text": message.text,
        "note": gold.note,
        "gold": {
            "intent": gold.intent,
            "priority": gold.priority,
            "items": [_gold_item(i) for i in gold.items],
        },
        "pred": {
            "intent": result.intent,
            "priority": result.priority,
            "confidence": outcome.confidence,
            "items": [_pred_item(i) for i in outcome.items],
        },
        "checks": {
            "intent_ok": result.intent_ok,
            "priority_ok": result.priority_ok,
            "count_ok": result.count_ok,
            "due_ok": result.due_ok,
            "entirely_right": result.entirely_right,
            "pairs": [asdict(p) for p in result.pairs],
        },
        "latency_ms": round(outcome.latency_ms, 3),
    }


def _gold_item(item: GoldItem) -> dict[str, Any]:
    return asdict(item) | {"when": item.when.isoformat() if item.when else None}


def _pred_item(item: Item) -> dict[str, Any]:
    when = explicit_time(item)
    return {
        "type": item.type.value,
        "title": item.title,
        "priority": item.priority.value,
        "assignee": item.assignee,
        "time_text": item.time_text,
        "when": when.isoformat() if when else None,
        "grain": item.grain.value if item.grain else None,
        "confidence": round(item.confidence, 4),
    }


# ---------------------------------------------------------------------------- text
def _cell(row: dict[str, Any]) -> str:
    if "ci_low" not in row:
        return f"{row['value']:.3f}"
    return f"{row['value']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def _headline_rows(metrics: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = [(LABELS[k], _cell(v), str(v["n"])) for k, v in metrics["headline"].items()]
    latency = metrics["latency_ms"]
    if latency.get("n"):
        rows.append(("Latency p50 / p99 (ms)", f"{latency['p50']:.1f} / {latency['p99']:.1f}", ""))
    return rows


def _target_line(metrics: dict[str, Any]) -> str:
    target = metrics["target"]
    return (
        f"**95% target ({target['metric']}, lower bound of the 95% CI ≥ {target['threshold']}):"
        f" {target['status']}** (lower bound {target['ci_low']:.3f})"
    )


def _ood_rows(metrics: dict[str, Any]) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, rows and notes of the side-by-side out-of-domain table."""
    ood = metrics.get("ood", {})
    notes = [
        f"{name}: skipped ({part['skipped']})" for name, part in ood.items() if "skipped" in part
    ]
    intent = ood.get("intent", {})
    systems = intent.get("systems", [metrics["run"]["intent_classifier"]])
    rows = [
        [source]
        + [f"{by[s]['accuracy']:.3f} / {by[s]['macro_f1']:.3f} (n={by[s]['n']})" for s in systems]
        for source, by in intent.get("sources", {}).items()
    ]
    dates = ood.get("dates", {})
    if "accuracy" in dates:
        figure = (
            f"{dates['accuracy']:.3f} all {dates['cases']}, "
            f"{dates['non_holiday_accuracy']:.3f} without holidays"
        )
        rows.append(
            ["dates-dev (accuracy; same resolver for every classifier)"] + [figure] * len(systems)
        )
    header = ["benchmark"] + [f"{s} (acc / macro-F1)" for s in systems]
    return header, rows, notes


def summary_markdown(metrics: dict[str, Any]) -> str:
    run = metrics["run"]
    lines = [
        f"# Evaluation: {run['split']} ({run['messages']} messages, "
        f"{run['conversations']} conversations)",
        "",
        f"Intent `{run['intent_classifier']}`, priority `{run['priority_classifier']}`, "
        f"extractor `{run['extractor']}`, commit `{run['git_commit']}`"
        f"{' with uncommitted changes' if run['git_dirty'] else ''}, {run['timestamp']}, "
        f"{run['seconds']} s.",
        "",
        _target_line(metrics),
        "",
        "| metric | value [95% CI] | n |",
        "| --- | --- | --- |",
        *(f"| {name} | {value} | {n} |" for name, value, n in _headline_rows(metrics)),
    ]
    header, rows, notes = _ood_rows(metrics)
    if rows:
        lines += ["", "## Out of domain", "", "| " + " | ".join(header) + " |"]
        lines += ["| " + " | ".join("---" for _ in header) + " |"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += [""] + [f"- {note}" for note in notes]
    broken = metrics.get("floors", {}).get("broken", [])
    if broken:
        lines += ["", "**Broken floors:** " + "; ".join(broken)]
    lines += [
        "",
        f"CI: {run['resamples']} bootstrap resamples of conversations, seed {run['seed']}. "
        "Definitions: `definitions` in metrics.json and report.html.",
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- html
def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img(png: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{png}">'


def _per_class_rows(table: dict[str, Any]) -> list[list[Any]]:
    return [
        [label, row["precision"], row["recall"], row["f1"], row["support"]]
        for label, row in table["per_class"].items()
    ]


def report_html(metrics: dict[str, Any], latencies_ms: Sequence[float]) -> str:
    run, calibration, latency = metrics["run"], metrics["calibration"], metrics["latency_ms"]
    ood_header, ood_rows, ood_notes = _ood_rows(metrics)
    figures = [
        _img(plots.confusion_png({k: metrics[k] for k in ("intent", "priority")}), "confusion"),
        _img(plots.f1_bars_png({k: metrics[k]["per_class"] for k in ("intent", "priority")}), "F1"),
        _img(plots.reliability_png(calibration["bins"], calibration["ece"]), "reliability"),
    ]
    if latency.get("n"):
        figures.append(
            _img(plots.latency_png(latencies_ms, latency["p50"], latency["p99"]), "latency")
        )
    sections = [
        f"<h1>chat2task evaluation: {html.escape(str(run['split']))}</h1>",
        _table(("run", ""), list(run.items())),
        "<p>" + html.escape(_target_line(metrics).replace("**", "")) + "</p>",
        _table(("metric", "value [95% CI]", "n"), _headline_rows(metrics)),
        "<h2>Plots</h2>",
        *figures,
        "<h2>Per class</h2>",
        "<h3>Intent</h3>",
        _table(
            ("class", "precision", "recall", "F1", "support"), _per_class_rows(metrics["intent"])
        ),
        "<p>work detection (task or event vs none): "
        + html.escape(json.dumps(metrics["intent"]["work_detection"]))
        + "</p>",
        "<h3>Priority</h3>",
        _table(
            ("class", "precision", "recall", "F1", "support"), _per_class_rows(metrics["priority"])
        ),
        "<h2>By domain</h2>",
        _table(
            ("domain", "messages", "intent acc", "priority acc", "entirely right"),
            [[d, *r.values()] for d, r in metrics["by_domain"].items()],
        ),
        "<h2>Calibration bins</h2>",
        _table(
            ("low", "high", "count", "confidence", "accuracy"),
            [
                [b["low"], b["high"], b["count"], b.get("confidence", ""), b.get("accuracy", "")]
                for b in calibration["bins"]
            ],
        ),
        "<h2>Out of domain</h2>",
        _table(ood_header, ood_rows) if ood_rows else "",
        *(f"<p>{html.escape(note)}</p>" for note in ood_notes),
        "<h2>Definitions</h2>",
        _table(("metric", "definition"), list(metrics["definitions"].items())),
    ]
    style = (
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto}"
        "table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}"
        "img{display:block;margin:1em 0;max-width:100%}"
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8">'
        f"<title>chat2task evaluation</title><style>{style}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>\n"
    )
