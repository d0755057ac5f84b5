"""One evaluation run: labelled messages through the real extractor, then scoring,
out-of-domain checks, floors and the written report.

Each message goes through ``extract_many`` on its own, as a live webhook would send it,
so the wall time around the call is that message's latency; one extractor serves the whole
run, switching to each conversation's participants as the roster.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval.harness import ood, report
from eval.harness.floors import broken_floors, load_floors
from eval.harness.labelled import (
    LABELLED_DIR,
    REPO_ROOT,
    GoldMessage,
    Outcome,
    load_file,
    load_split,
    shown,
)
from eval.harness.ood import DATES_DATA, INTENT_DATA, REFERENCE_TIME
from eval.harness.scoring import aggregate, check
from pipeline.config import load_settings
from pipeline.domain import Message
from pipeline.errors import InputError
from pipeline.extract import Classifier, Clause, Extractor, Prediction
from pipeline.extract.classify import get_intent_classifier
from pipeline.roster import Person, Roster

DEFAULT_OUT = REPO_ROOT / "eval" / "reports" / "harness"
DEFAULT_HISTORY = REPO_ROOT / "eval" / "reports" / "history.jsonl"
BASELINE = "rules"
# One-off set-up (spaCy's first batch, dateparser's lazy import on a digit the rules leave
# unresolved) is a process's cost, not a message's: these run before timing starts.
_WARM_UP = tuple(
    Message(id=f"warm-up-{n}", chat="warm-up", author="A", sent_at=REFERENCE_TIME, text=text)
    for n, text in enumerate(
        ("can you send the signed contract by friday 3pm?", "pls log a P2 ticket with eng")
    )
)


@dataclass(frozen=True)
class EvalOptions:
    split: str = "test"
    data: Path | None = None  # a labelled-schema JSONL file instead of a split
    out: Path = DEFAULT_OUT
    intent: str | None = None  # None: the settings' classifier
    priority: str | None = None
    config: Path | None = None
    floors: Path | None = None
    ood: bool = True
    history: Path = DEFAULT_HISTORY
    intent_bench: Path = INTENT_DATA
    dates_bench: Path = DATES_DATA
    resamples: int = 1000
    seed: int = 0


@dataclass
class EvalResult:
    metrics: dict[str, Any]
    broken: list[str] = field(default_factory=list)


class _Recording:
    """Passes clauses to the real intent classifier and keeps its answers, so the none
    confidence of messages without items can be read back for calibration."""

    def __init__(self, inner: Classifier) -> None:
        self.inner = inner
        self.labels = inner.labels
        self.seen: list[Prediction] = []

    def predict(self, clauses: Sequence[Clause]) -> list[Prediction]:
        predictions = self.inner.predict(clauses)
        self.seen.extend(predictions)
        return predictions

    def take(self) -> list[Prediction]:
        seen, self.seen = self.seen, []
        return seen


def run_eval(options: EvalOptions, log: Callable[[str], None] = print) -> EvalResult:
    began = time.perf_counter()
    settings = load_settings(
        options.config, intent_classifier=options.intent, priority_classifier=options.priority
    )
    floors = load_floors(options.floors) if options.floors is not None else {}  # fail early
    golds = load_file(options.data) if options.data else load_split(options.split)
    if not golds:
        raise InputError("no labelled messages to evaluate")
    recorder = _Recording(get_intent_classifier(settings))
    extractor = Extractor(settings, roster=Roster(), intent=recorder)
    outcomes = predict(extractor, recorder, golds)
    checks = [check(outcome) for outcome in outcomes]
    log(f"scored {len(outcomes)} messages in {time.perf_counter() - began:.1f} s")
    metrics: dict[str, Any] = {
        "run": {
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
            **_git(),
            "split": f"file:{options.data.name}" if options.data else options.split,
            "data": shown(options.data or LABELLED_DIR),
            "messages": len(outcomes),
            "conversations": len({g.conversation for g in golds}),
            "intent_classifier": settings.intent_classifier,
            "priority_classifier": settings.priority_classifier,
            "extractor": extractor.version,
            "resamples": options.resamples,
            "seed": options.seed,
        }
    }
    metrics |= aggregate(outcomes, checks, resamples=options.resamples, seed=options.seed)
    if options.ood:
        metrics["ood"] = _out_of_domain(extractor, options, log)
    else:
        metrics["ood"] = {name: {"skipped": "--no-ood"} for name in ("intent", "dates")}
    result = EvalResult(metrics)
    if options.floors is not None:
        result.broken = broken_floors(metrics["headline"], floors)
        metrics["floors"] = {"file": shown(options.floors), "broken": result.broken}
    metrics["run"]["seconds"] = round(time.perf_counter() - began, 1)
    report.write_outputs(options.out, metrics, outcomes, checks)
    report.append_history(options.history, metrics)
    return result


def predict(
    extractor: Extractor, recorder: _Recording, golds: Sequence[GoldMessage]
) -> list[Outcome]:
    for _ in extractor.extract_many(_WARM_UP):
        pass
    recorder.take()
    outcomes = []
    conversation = None
    for gold in golds:
        if gold.conversation != conversation:
            conversation = gold.conversation
            extractor.use_roster(Roster(team=tuple(Person(name=p) for p in gold.participants)))
        started = time.perf_counter()
        ((_, items),) = extractor.extract_many([gold.message])
        latency_ms = (time.perf_counter() - started) * 1000
        seen = recorder.take()
        if items:
            confidence: float | None = items[0].confidence
        else:
            confidence = min((p.confidence for p in seen), default=None)
        outcomes.append(Outcome(gold, tuple(items), confidence, latency_ms))
    return outcomes


def _out_of_domain(
    extractor: Extractor, options: EvalOptions, log: Callable[[str], None]
) -> dict[str, Any]:
    """The chosen system side by side with the rule baseline (one column if it is it)."""
    systems = {extractor.settings.intent_classifier: extractor}
    if BASELINE not in systems:
        baseline = load_settings(
            options.config, intent_classifier=BASELINE, priority_classifier=BASELINE
        )
        systems = {BASELINE: Extractor(baseline, roster=Roster(), nlp=extractor.nlp)} | systems
    found = {
        "intent": ood.intent_benchmark(systems, options.intent_bench),
        "dates": ood.date_benchmark(extractor, options.dates_bench),
    }
    for name, part in found.items():
        if "skipped" in part:
            log(f"out-of-domain {name} benchmark skipped: {part['skipped']}")
    return found


def _git() -> dict[str, Any]:
    """The commit evaluated, and whether tracked files differed from it (read-only git)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5
        )
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return {"git_commit": None, "git_dirty": None}
    if head.returncode != 0:
        return {"git_commit": None, "git_dirty": None}
    return {"git_commit": head.stdout.strip(), "git_dirty": bool(status.stdout.strip())}
