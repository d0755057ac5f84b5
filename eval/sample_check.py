"""How the extractor does on the bundled sample chat against its hand-written expectations.

    python -m eval.sample_check [--out eval/reports] [--show-errors]

The sample (``data/samples/``) was written by the project and the rules were developed
while reading it, so this is a development figure, not an independent measurement; the
labelled test split (``data/labelled/``) is where accuracy claims come from.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from eval.harness.metrics import token_f1
from pipeline.config import load_settings
from pipeline.domain import Item
from pipeline.extract import Extractor
from pipeline.sources.whatsapp import parse_export

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
SAMPLE = SAMPLES / "WhatsApp Chat with Northwind Sales.txt"
EXPECTED = SAMPLES / "expected_items.jsonl"
CONFIG = ROOT / "data" / "config.example.yaml"


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 0.0


def compare(
    found: dict[int, list[Item]], expected: dict[int, list[dict[str, Any]]]
) -> tuple[dict[str, Any], list[str]]:
    """Message-level detection, then field agreement on messages both sides hold work in."""
    counts: Counter[str] = Counter()
    errors: list[str] = []
    title_f1 = 0.0
    for line in sorted(set(found) | set(expected)):
        got, want = found.get(line, []), expected.get(line, [])
        if got and want:
            counts["both"] += 1
            first_got, first_want = got[0], want[0]
            checks = {
                "type": first_got.type.value == first_want["type"],
                "priority": first_got.priority.value == first_want["priority"],
                "assignee": first_got.assignee == first_want["assignee"],
                "item_count": len(got) == len(want),
            }
            counts.update(k for k, ok in checks.items() if ok)
            title_f1 += token_f1(first_got.title, first_want["title"])
            wrong = [k for k, ok in checks.items() if not ok]
            if wrong:
                errors.append(
                    f"line {line}: {', '.join(wrong)}: got "
                    f"{[(i.type.value, i.title, i.priority.value, i.assignee) for i in got]} "
                    f"want {[(w['type'], w['title'], w['priority'], w['assignee']) for w in want]}"
                )
        elif got:
            counts["false_positive"] += 1
            errors.append(f"line {line}: unexpected {[(i.type.value, i.title) for i in got]}")
        else:
            counts["missed"] += 1
            errors.append(f"line {line}: missed {[(w['type'], w['title']) for w in want]}")
    both = counts["both"]
    metrics = {
        "work_messages_expected": len(expected),
        "detection_precision": _ratio(both, both + counts["false_positive"]),
        "detection_recall": _ratio(both, len(expected)),
        "on_detected": {k: _ratio(counts[k], both) for k in ("type", "priority", "assignee")},
        "title_token_f1": round(title_f1 / both, 3) if both else 0.0,
        "item_count_agreement": _ratio(counts["item_count"], both),
    }
    return metrics, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "reports")
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()

    settings = load_settings(CONFIG)
    extractor = Extractor(settings)
    messages = parse_export(SAMPLE, tz=settings.timezone).messages
    found = {m.line: items for m, items in extractor.extract_many(messages) if items and m.line}
    expected = {
        row["line"]: row["items"]
        for row in map(json.loads, EXPECTED.read_text(encoding="utf-8").splitlines())
    }
    metrics, errors = compare(found, expected)
    metrics["extractor"] = extractor.version
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sample.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(metrics, indent=2))
    if args.show_errors:
        print("\n".join(errors))


if __name__ == "__main__":
    main()
