"""Score the date normaliser on the shared date benchmark (``dates-dev.jsonl``).

Implements the scoring rule of ``shared/benchmarks/README-dates.md``: only the first
mention returned is scored; an instant is right when it equals the expected value at the
expected grain (an interval answered for an instant is judged by its start); an interval
must start right at the grain, end right or exactly one grain step away, and leave open
sides open. Prints accuracy overall and by source, kind, grain and tag, and writes
``dates.json`` and ``dates.md`` to ``--out``.

    python -m eval.dates_bench [--data PATH] [--skip-tag holiday] [--failures N]
                               [--baseline dateparser] [--out eval/reports]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.dates import DateResolver
from pipeline.dates.calc import add_months
from pipeline.domain import MentionKind, TimeMention

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "dates-dev.jsonl"
DEFAULT_OUT = Path(__file__).resolve().parent / "reports"
Answer = dict[str, Any] | None
Answerer = Callable[[str, datetime], Answer]

# Speed probes: typical chat lines of ~15 words, one without and one with a time.
NO_TIME_MESSAGE = (
    "ok thanks for sending the invoice, I will check with the team and get back to you"
)
WITH_TIME_MESSAGE = "can you send the signed contract to the client by fri eod and call them at 3pm"


# -------------------------------------------------------------------------- scoring
def _parse(value: Any, ref: datetime) -> datetime | None:
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=ref.tzinfo)
    return moment.astimezone(ref.tzinfo)


def grain_key(moment: datetime, grain: str) -> tuple[int, ...]:
    """The parts of a datetime that count at a grain (week: ISO year and week)."""
    if grain == "week":
        iso = moment.isocalendar()
        return (iso.year, iso.week)
    if grain == "quarter":
        return (moment.year, (moment.month - 1) // 3)
    fields = {"year": 1, "month": 2, "day": 3, "hour": 4, "minute": 5, "second": 6}[grain]
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)[
        :fields
    ]


def grain_step(moment: datetime, grain: str, count: int) -> datetime:
    """``moment`` moved by ``count`` units of ``grain``."""
    simple = {
        "second": timedelta(seconds=1),
        "minute": timedelta(minutes=1),
        "hour": timedelta(hours=1),
        "day": timedelta(days=1),
        "week": timedelta(weeks=1),
    }
    if grain in simple:
        return moment + simple[grain] * count
    months = {"month": 1, "quarter": 3, "year": 12}[grain] * count
    moved: date = add_months(moment.date(), months)
    return datetime.combine(moved, moment.timetz())


def _same(a: datetime | None, b: datetime | None, grain: str) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return grain_key(a, grain) == grain_key(b, grain)


def score(expected: dict[str, Any], answer: Answer, ref: datetime) -> bool:
    """The README's rule for one case."""
    if not answer:
        return False
    grain = expected["grain"]
    if expected["kind"] == "instant":
        point = answer.get("value") if answer.get("kind") == "instant" else answer.get("start")
        return point is not None and _same(
            _parse(point, ref), _parse(expected["value"], ref), grain
        )
    if answer.get("kind") != "interval":
        return False
    if not _same(_parse(answer.get("start"), ref), _parse(expected.get("start"), ref), grain):
        return False
    want, got = _parse(expected.get("end"), ref), _parse(answer.get("end"), ref)
    if want is None or got is None:
        return want is None and got is None
    return any(_same(got, grain_step(want, grain, k), grain) for k in (-1, 0, 1))


# ------------------------------------------------------------------------ answerers
def mention_answer(mention: TimeMention) -> dict[str, Any]:
    if mention.kind is MentionKind.INSTANT:
        return {"kind": "instant", "value": mention.value, "grain": mention.grain.value}
    return {
        "kind": "interval",
        "start": mention.start,
        "end": mention.end,
        "grain": mention.grain.value,
    }


def resolver_answerer(resolver: DateResolver) -> Answerer:
    def answer(text: str, ref: datetime) -> Answer:
        found = resolver.find(text, ref)
        return mention_answer(found[0]) if found else None

    return answer


def dateparser_answerer() -> Answerer:
    """Plain English ``search_dates`` relative to ref, preferring the future: the first hit,
    as an instant at day grain when it is midnight, else at minute grain (the README's
    0.282 without holidays is reproduced with exactly these settings)."""
    from dateparser.search import search_dates

    def answer(text: str, ref: datetime) -> Answer:
        settings = {"RELATIVE_BASE": ref.replace(tzinfo=None), "PREFER_DATES_FROM": "future"}
        try:
            found = search_dates(text, languages=["en"], settings=settings)
        except Exception:  # a baseline that crashes on a case simply has no answer
            return None
        if not found:
            return None
        value = found[0][1]
        midnight = (value.hour, value.minute, value.second) == (0, 0, 0)
        return {"kind": "instant", "value": value, "grain": "day" if midnight else "minute"}

    return answer


# ------------------------------------------------------------------------ reporting
def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def evaluate(
    cases: list[dict[str, Any]], answerer: Answerer
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Accuracy overall and per group, plus the failed cases with their answers."""
    groups: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    failures = []
    correct = 0
    for case in cases:
        ref = datetime.fromisoformat(case["ref"])
        answer = answerer(case["text"], ref)
        ok = score(case["expected"], answer, ref)
        correct += ok
        keys = {
            "source": [case["source"]],
            "kind": [case["expected"]["kind"]],
            "grain": [case["expected"]["grain"]],
            "tag": case.get("tags") or ["(none)"],
        }
        for group, values in keys.items():
            for value in values:
                groups[group][value][0] += ok
                groups[group][value][1] += 1
        if not ok:
            failures.append({**case, "answer": _jsonable(answer)})
    summary = {
        "accuracy": round(correct / len(cases), 4) if cases else 0.0,
        "correct": correct,
        "cases": len(cases),
        **{
            f"by_{group}": {
                k: {"accuracy": round(v[0] / v[1], 4), "correct": v[0], "cases": v[1]}
                for k, v in sorted(values.items())
            }
            for group, values in groups.items()
        },
    }
    return summary, failures


def _jsonable(answer: Answer) -> Answer:
    if answer is None:
        return None
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in answer.items()}


def speed(resolver: DateResolver, repeat: int = 2000) -> dict[str, float]:
    """Mean microseconds per ``find`` on a chat line without and with a time."""
    ref = datetime.fromisoformat("2024-05-06T10:00:00+02:00")
    result = {}
    for name, text in (("no_time_us", NO_TIME_MESSAGE), ("with_time_us", WITH_TIME_MESSAGE)):
        resolver.find(text, ref)
        samples = []
        for _ in range(5):
            began = time.perf_counter()
            for _ in range(repeat // 5):
                resolver.find(text, ref)
            samples.append((time.perf_counter() - began) / (repeat // 5) * 1e6)
        result[name] = round(statistics.median(samples), 1)
    return result


def _print_summary(label: str, summary: dict[str, Any]) -> None:
    print(f"{label}: {summary['accuracy']:.3f} ({summary['correct']}/{summary['cases']})")
    for group in ("source", "kind", "grain", "tag"):
        rows = summary.get(f"by_{group}", {})
        print(
            f"  by {group}: "
            + ", ".join(
                f"{k} {v['accuracy']:.3f} ({v['correct']}/{v['cases']})" for k, v in rows.items()
            )
        )


def _markdown(report: dict[str, Any]) -> str:
    main = report["resolver"]
    lines = [
        "# Date normaliser on dates-dev.jsonl",
        "",
        f"Command: `{report['command']}`",
        "",
        "| system | cases | accuracy |",
        "| --- | --- | --- |",
        f"| chat2task DateResolver (scored set) | {main['cases']} | {main['accuracy']:.3f} |",
        f"| chat2task DateResolver (all cases) | {report['all']['cases']} | "
        f"{report['all']['accuracy']:.3f} |",
        f"| chat2task DateResolver (without holidays) | {report['non_holiday']['cases']} | "
        f"{report['non_holiday']['accuracy']:.3f} |",
    ]
    for name, base in report.get("baselines", {}).items():
        lines.append(f"| baseline {name} (scored set) | {base['cases']} | {base['accuracy']:.3f} |")
    lines += ["", "## Breakdown (scored set)", ""]
    for group in ("source", "kind", "grain", "tag"):
        lines += [f"### by {group}", "", "| value | cases | accuracy |", "| --- | --- | --- |"]
        for key, row in main.get(f"by_{group}", {}).items():
            lines.append(f"| {key} | {row['cases']} | {row['accuracy']:.3f} |")
        lines.append("")
    if "speed" in report:
        lines += ["## Speed", "", "Mean microseconds per `find()` on a 15-word chat line:", ""]
        lines += [f"- {k}: {v}" for k, v in report["speed"].items()]
    return "\n".join(lines) + "\n"


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--skip-tag", action="append", default=[], metavar="TAG")
    parser.add_argument("--failures", type=int, default=0, metavar="N")
    parser.add_argument("--baseline", action="append", default=[], choices=["dateparser"])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-speed", action="store_true", help="skip the timing probe")
    args = parser.parse_args(list(argv) if argv is not None else None)

    cases = load(args.data)
    scored = [c for c in cases if not set(c.get("tags") or ()) & set(args.skip_tag)]
    resolver = DateResolver()
    answer = resolver_answerer(resolver)
    summary, failures = evaluate(scored, answer)
    everything, _ = evaluate(cases, answer)
    no_holiday, _ = evaluate([c for c in cases if "holiday" not in (c.get("tags") or ())], answer)
    _print_summary("DateResolver", summary)
    print(
        f"  all cases {everything['accuracy']:.3f}, without holidays {no_holiday['accuracy']:.3f}"
    )

    report: dict[str, Any] = {
        "command": "python -m eval.dates_bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "data": str(args.data),
        "skip_tags": args.skip_tag,
        "resolver": summary,
        "all": {k: everything[k] for k in ("accuracy", "correct", "cases")},
        "non_holiday": {k: no_holiday[k] for k in ("accuracy", "correct", "cases")},
        "baselines": {},
    }
    for name in args.baseline:
        base, _ = evaluate(scored, dateparser_answerer())
        _print_summary(f"baseline {name}", base)
        report["baselines"][name] = base
    if not args.no_speed:
        report["speed"] = speed(resolver)
        print("speed (mean us per find):", report["speed"])
    for case in failures[: args.failures]:
        print(
            f"FAIL {case['id']} {case['text']!r} ref={case['ref']}\n"
            f"     expected={case['expected']}\n     got={case['answer']}"
        )

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dates.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (args.out / "dates.md").write_text(_markdown(report), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
