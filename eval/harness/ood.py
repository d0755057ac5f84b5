"""Out-of-domain checks: text the project did not write, scored as its README says.

The intent benchmark (``shared/benchmarks/intent-dev.jsonl``) is scored per source and
label space: ``3way`` lines against task / event / none directly, ``binary`` lines after
mapping a task or event prediction to ``actionable``. Pooling sources would mostly measure
how much of each went in, so there is no pooled figure. The date figure is the date
benchmark's own scorer (:mod:`eval.dates_bench`) on the extractor's resolver.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval import dates_bench
from eval.harness.labelled import shown
from eval.harness.metrics import accuracy, confusion_matrix, macro_f1, rounded
from pipeline.domain import Message
from pipeline.extract import Extractor
from pipeline.roster import Roster

INTENT_DATA = dates_bench.DEFAULT_DATA.with_name("intent-dev.jsonl")
DATES_DATA = dates_bench.DEFAULT_DATA
LABEL_SPACES = {"3way": ("task", "event", "none"), "binary": ("actionable", "none")}
# The benchmark lines carry no send time; any fixed one keeps runs comparable.
REFERENCE_TIME = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def intent_benchmark(systems: dict[str, Extractor], path: Path = INTENT_DATA) -> dict[str, Any]:
    """Accuracy and macro-F1 per ``source (label space)`` for each named system."""
    if not path.is_file():
        return {"skipped": f"{path} not found"}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    messages = [
        Message(
            id=row["id"], chat="benchmark", author=None, sent_at=REFERENCE_TIME, text=row["text"]
        )
        for row in rows
    ]
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[f"{row['source']} ({row['label_space']})"].append(row)
    sources: dict[str, dict[str, Any]] = {name: {} for name in sorted(groups)}
    for system, extractor in systems.items():
        extractor.use_roster(Roster())  # nobody in these texts is a team member
        predicted = {
            message.id: items[0].type.value if items else "none"
            for message, items in extractor.extract_many(messages)
        }
        for name, group in groups.items():
            space = group[0]["label_space"]
            labels = LABEL_SPACES[space]
            got = [_in_space(predicted[row["id"]], space) for row in group]
            confusion = confusion_matrix([row["label"] for row in group], got, labels)
            sources[name][system] = {
                "accuracy": rounded(accuracy(confusion)),
                "macro_f1": rounded(macro_f1(confusion)),
                "n": len(group),
            }
    return {"data": shown(path), "systems": list(systems), "sources": sources}


def _in_space(intent: str, space: str) -> str:
    return "actionable" if space == "binary" and intent != "none" else intent


def date_benchmark(extractor: Extractor, path: Path = DATES_DATA) -> dict[str, Any]:
    """The date benchmark through the extractor's own resolver, all cases and without
    holidays (the set the date report quotes). The classifiers play no part in it."""
    if not path.is_file():
        return {"skipped": f"{path} not found"}
    cases = dates_bench.load(path)
    answer = dates_bench.resolver_answerer(extractor.resolver)
    everything, _ = dates_bench.evaluate(cases, answer)
    ordinary = [c for c in cases if "holiday" not in (c.get("tags") or ())]
    no_holiday, _ = dates_bench.evaluate(ordinary, answer)
    return {
        "data": shown(path),
        "accuracy": everything["accuracy"],
        "cases": everything["cases"],
        "non_holiday_accuracy": no_holiday["accuracy"],
        "non_holiday_cases": no_holiday["cases"],
    }
